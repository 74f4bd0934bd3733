"""WebSocket scenario client (fazt only): raw sockets, no library, run as its own process.

    python3 ws_clients.py PORT HOST IDLE FANOUT ROUNDS BURST

1. Opens IDLE WebSocket clients on HOST's /ws, prints `idle OK FAILED`, waits for a line on
   stdin (the harness samples the server's RSS meanwhile), closes them.
2. Opens 1 sender + FANOUT receivers. ROUNDS times: the sender sends a 32-byte text and the
   time until every receiver has it is one fan-out latency.
3. The sender sends BURST 32-byte texts without waiting; messages/s = BURST / time until
   every receiver has all of them (each delivery is FANOUT frames).
Prints one JSON line with the results.
"""

from __future__ import annotations

import json
import os
import resource
import select
import socket
import sys
import time

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
PAYLOAD = b"m" * 32
FRAME_OUT = len(PAYLOAD) + 2  # a server frame: 2-byte header, unmasked


def masked(payload: bytes) -> bytes:
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + body


def connect(port: int, host: str) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(
        (
            f"GET /ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            raise OSError("closed during the handshake")
        buf += chunk
    if not buf.startswith(b"HTTP/1.1 101"):
        raise OSError(buf.split(b"\r\n", 1)[0].decode(errors="replace"))
    if buf.index(b"\r\n\r\n") + 4 != len(buf):
        raise OSError("bytes after the 101")
    return s


def wait_all(receivers: list[socket.socket], want: int, got: dict) -> None:
    """Reads until every receiver has `want` bytes in total (frames are FRAME_OUT each)."""
    pending = [r for r in receivers if got[r] < want]
    deadline = time.monotonic() + 60
    while pending:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} receivers short of {want} bytes")
        ready, _, _ = select.select(pending, [], [], 1.0)
        for r in ready:
            data = r.recv(1 << 20)
            if not data:
                raise OSError("a receiver was closed")
            got[r] += len(data)
        pending = [r for r in pending if got[r] < want]


def main() -> int:
    if len(sys.argv) != 7:
        print(__doc__, file=sys.stderr)
        return 2
    port, host = int(sys.argv[1]), sys.argv[2]
    idle, fanout, rounds, burst = (int(x) for x in sys.argv[3:7])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = idle + fanout + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want if hard == resource.RLIM_INFINITY else min(want, hard), hard))

    socks, failed = [], 0
    for _ in range(idle):
        try:
            socks.append(connect(port, host))
        except OSError:
            failed += 1
    print(f"idle {len(socks)} {failed}", flush=True)
    sys.stdin.readline()
    for s in socks:
        s.close()
    time.sleep(1.0)  # the server notices the closes

    sender = connect(port, host)
    receivers = [connect(port, host) for _ in range(fanout)]
    got = {r: 0 for r in receivers}
    time.sleep(0.5)
    latencies = []
    for i in range(rounds):
        t0 = time.perf_counter()
        sender.sendall(masked(PAYLOAD))
        wait_all(receivers, (i + 1) * FRAME_OUT, got)
        latencies.append((time.perf_counter() - t0) * 1000)
    base = rounds * FRAME_OUT
    frames = b"".join(masked(PAYLOAD) for _ in range(burst))
    t0 = time.perf_counter()
    sender.sendall(frames)
    wait_all(receivers, base + burst * FRAME_OUT, got)
    elapsed = time.perf_counter() - t0
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 3)

    print(
        json.dumps(
            {
                "idle_clients": len(socks),
                "idle_failed": failed,
                "fanout": fanout,
                "fanout_ms_p50": pct(0.5),
                "fanout_ms_p99": pct(0.99),
                "burst": burst,
                "messages_per_s": round(burst / elapsed),
                "deliveries_per_s": round(burst * fanout / elapsed),
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
