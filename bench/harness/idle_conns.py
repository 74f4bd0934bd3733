"""Scenario 4 client: opens N keep-alive connections, one request each, then holds them.

Run as its own process (pinned to the load-generator CPU):

    python3 idle_conns.py PORT HOST PATH COUNT HOLD_SECONDS

Prints `ready OK FAILED` once every connection has had its response, then
holds all of them open (idle) until a line arrives on stdin or HOLD_SECONDS
pass, whichever is first; then closes them and exits. The harness samples
the server's RSS while the connections are held.
"""

from __future__ import annotations

import resource
import select
import socket
import sys
import time


def read_response(sock: socket.socket) -> bool:
    """Reads one response with a Content-Length body; True if it was a 200."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return False
        buf += chunk
        if len(buf) > 1 << 20:
            return False
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    ok = lines[0].split(b" ")[1:2] == [b"200"]
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                length = int(value.strip())
            except ValueError:
                return False
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return False
        body += chunk
    return ok


def main() -> int:
    if len(sys.argv) != 6:
        print(__doc__, file=sys.stderr)
        return 2
    port, host, path, count, hold = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = count + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard) if hard != resource.RLIM_INFINITY else want, hard))
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: keep-alive\r\n\r\n".encode()
    socks, failed = [], 0
    # Bounded in time whatever the server does: give up opening more after 60 s.
    deadline = time.monotonic() + 60
    for i in range(count):
        if time.monotonic() > deadline:
            failed += count - i
            break
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(request)
            if read_response(s):
                socks.append(s)
            else:
                failed += 1
                s.close()
        except OSError:
            failed += 1
    print(f"ready {len(socks)} {failed}", flush=True)
    select.select([sys.stdin], [], [], hold)
    for s in socks:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
