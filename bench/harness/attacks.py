"""Attacks: the four denial-of-service attacks of issue 12, each against a fresh fazt,
while a well-behaved client measures what is left of the service.

Run through `bench/attacks.sh` (which builds or takes the release binaries and runs
`python -m harness.attacks` from `bench/`); `--help` lists the options. On demand, not
part of the test suite or of `run.sh`.

For every binary given (`--fazt-bin`, labelled "after", and optionally `--before-bin`,
labelled "before") and every attack, a new fazt process is started on a new database
with `--max-upload-mb 100` and otherwise its defaults (no other flag is passed, so an
older binary without the issue-12 limits runs the same command line). A 1 KiB static
site is deployed and checked, then for `--duration` seconds:

- the attacker (its own processes, from 127.0.0.2; Linux routes all of 127/8 to
  loopback) runs one of
  - `crlf-flood`: a keep-alive connection sends one GET, then `\\r\\n` as fast as the
    server takes it; when the server cuts it off, the attacker reconnects and starts
    again;
  - `pipelined`: `--pipeliners` connections (default 2, one per worker thread) each send
    pipelined `GET /health` in batches of 256 as fast as loopback allows, and read the
    answers;
  - `slow-bodies`: up to `--slow-conns` (10,000) connections, opened at up to
    `--slow-open-rate` per second (and reopened at that rate when the server closes
    them), each with a `POST /track` head (Content-Length 1000) and one body byte, then
    one more byte in turn, ~500 B/s over all of them;
  - `uploads`: `--uploads` (4) concurrent `curl -T` deploys of a `--upload-mb` (90) MB
    ZIP of random bytes (STORED), each repeated as soon as it ends (0.5 s after a 503);
- the well-behaved client (its own process, from 127.0.0.1) sends `--rate` requests a
  second on a fixed schedule (open loop: a slow answer does not delay the next request),
  alternately `GET /health` and `GET /small.html` of the site (body checked byte for
  byte), either on at most 8 keep-alive connections (like a browser) or each on a new
  connection (for the attacks that starve new connections). A request that is not
  answered correctly within `--timeout-s` is a failure, and every failure (a timeout,
  or a connection closed without an answer) counts as the timeout in the percentiles.

The server's VmRSS and CPU time are sampled from /proc every 100 ms; VmHWM (peak RSS
since start) is read when the attack ends. Then the attackers stop, and 1 s later
`/health` is asked once more (5 s limit) and the server is stopped with SIGTERM.
Rows "baseline" run the same client with no attacker. Results: `--out` (markdown,
default `results/attacks.md`) and the same name with `.json`.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import multiprocessing
import os
import random
import resource
import select
import selectors
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import zipfile
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path

from . import content as content_mod
from . import fazt, machine, procs
from .soak import Tally, _worker, pct

SITE = "bench"
SMALL = "small.html"
ATTACKER_IP = "127.0.0.2"
CLIENT_IP = "127.0.0.1"
KEEPALIVE_POOL = 8
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


@dataclass(frozen=True)
class Attack:
    name: str
    probe: str  # "keep-alive" or "new": how the well-behaved client connects
    what: str  # one line for the report


ATTACKS = {
    a.name: a
    for a in [
        Attack("baseline", "keep-alive", "no attacker"),
        Attack("baseline-new", "new", "no attacker (client on new connections)"),
        Attack("crlf-flood", "keep-alive", "`\\r\\n` streamed after a GET on a keep-alive connection; reconnects when cut"),
        Attack("pipelined", "new", "pipelined `GET /health` as fast as loopback allows"),
        Attack("slow-bodies", "new", "slow `POST /track` bodies from one address, ~500 B/s in total"),
        Attack("uploads", "keep-alive", "concurrent 90 MB deploys, each repeated when it ends"),
    ]
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fazt-bin", type=Path, required=True, help='the fazt binary to measure (label "after")')
    p.add_argument("--before-bin", type=Path, help='an older binary to compare with (label "before")')
    p.add_argument("--only", help="comma-separated attacks (default all): " + ", ".join(ATTACKS))
    p.add_argument("--duration", type=float, default=20, help="seconds of attack per run (default 20)")
    p.add_argument("--rate", type=float, default=50, help="well-behaved client: requests per second (default 50)")
    p.add_argument("--timeout-s", type=float, default=2, help="well-behaved client: limit per request (default 2)")
    p.add_argument("--pipeliners", type=int, default=2, help="pipelined: connections (default 2)")
    p.add_argument("--slow-conns", type=int, default=10000, help="slow-bodies: connections held (default 10000)")
    p.add_argument("--slow-open-rate", type=float, default=2000, help="slow-bodies: connects per second (default 2000)")
    p.add_argument("--slow-bytes-per-s", type=float, default=500, help="slow-bodies: body bytes/s over all (default 500)")
    p.add_argument("--uploads", type=int, default=4, help="uploads: concurrent deploys (default 4)")
    p.add_argument("--upload-mb", type=float, default=90, help="uploads: ZIP size in MB (default 90)")
    p.add_argument("--seed", type=int, default=12, help="seed for the content (default 12)")
    p.add_argument("--out", type=Path, default=Path("results/attacks.md"), help="markdown report (default results/attacks.md)")
    p.add_argument("--keep", action="store_true", help="keep the run directory (server logs, databases)")
    args = p.parse_args(argv)
    names = [n.strip() for n in (args.only or ",".join(ATTACKS)).split(",") if n.strip()]
    unknown = [n for n in names if n not in ATTACKS]
    if unknown:
        p.error(f"unknown attack(s): {', '.join(unknown)}")
    args.attacks = names
    return args


# --------------------------------------------------------------------------- sockets


def _sock_from(src: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection to 127.0.0.1:`port` from the loopback address `src`."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # Leave the port choice to connect(), which may reuse a port towards another peer.
        s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        s.bind((src, 0))
        s.settimeout(timeout)
        s.connect(("127.0.0.1", port))
    except BaseException:
        s.close()
        raise
    return s


def _read_answer(s: socket.socket, timeout: float) -> bytes:
    """The first bytes the server sends (b'' when it closed), up to `timeout`."""
    s.settimeout(timeout)
    return s.recv(65536)


def raise_fd_limit(want: int = 65536) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for lim in ((want, max(hard, want)), (hard, hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, lim)
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --------------------------------------------------------------------------- the well-behaved client


class _Pool:
    """At most `size` keep-alive connections; a request waits for a free one."""

    def __init__(self, port: int, size: int):
        self.port = port
        self.sem = threading.Semaphore(size)
        self.idle: list[http.client.HTTPConnection] = []
        self.lock = threading.Lock()

    def take(self) -> http.client.HTTPConnection | None:
        with self.lock:
            return self.idle.pop() if self.idle else None

    def give(self, c: http.client.HTTPConnection) -> None:
        with self.lock:
            self.idle.append(c)

    def close(self) -> None:
        with self.lock:
            for c in self.idle:
                c.close()
            self.idle.clear()


def _new_conn(port: int, timeout: float) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(CLIENT_IP, 0))


def _classify(e: BaseException) -> str:
    if isinstance(e, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.IncompleteRead)):
        return "closed or reset without an answer"
    return type(e).__name__


def probe_worker(port: int, start: float, deadline: float, rate: float, timeout: float, mode: str, small: bytes) -> dict:
    """Open-loop client: request i starts at start + i / rate, each in its own thread."""
    # (seconds since start, latency ms as counted, failure kind or None, measured ms)
    results: list[tuple[float, float, str | None, float]] = []
    lock = threading.Lock()
    pool = _Pool(port, KEEPALIVE_POOL)
    reconnects = [0]
    lags: list[float] = []

    def one(i: int, slot: float) -> None:
        t0 = time.perf_counter()
        lag = time.monotonic() - slot
        path, host, want = ("/health", "localhost", b"ok") if i % 2 == 0 else ("/" + SMALL, f"{SITE}.localhost", small)
        kind = _request(port, path, host, want, t0, timeout, mode, pool, reconnects)
        measured = (time.perf_counter() - t0) * 1000
        if kind is None and measured > timeout * 1000:
            kind = "timeout"
        # A failed request (a timeout, or a connection closed without an answer) is as bad
        # for its user as one that never ends: it counts as the timeout in the percentiles.
        ms = timeout * 1000 if kind else measured
        with lock:
            results.append((slot - start, ms, kind, measured))
            lags.append(lag)

    threads: list[threading.Thread] = []
    i = 0
    while True:
        slot = start + i / rate
        if slot >= deadline:
            break
        delay = slot - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        th = threading.Thread(target=one, args=(i, slot), daemon=True)
        th.start()
        threads.append(th)
        if len(threads) > 64:
            threads = [t for t in threads if t.is_alive()]
        i += 1
    for th in threads:
        th.join(timeout + 5)
    pool.close()
    return {"results": results, "reconnects": reconnects[0], "max_lag_ms": 1000 * max(lags, default=0), "sent": i}


def _request(port, path, host, want, t0, timeout, mode, pool: _Pool, reconnects) -> str | None:
    """One GET; None when answered correctly, else what went wrong."""

    def left() -> float:
        return max(0.001, timeout - (time.perf_counter() - t0))

    if mode == "new":
        c = _new_conn(port, timeout)
        try:
            c.request("GET", path, headers={"Host": host, "Connection": "close"})
            r = c.getresponse()
            body = r.read()
            return None if r.status == 200 and body == want else f"status {r.status}" if r.status != 200 else "wrong body"
        except (OSError, http.client.HTTPException) as e:
            return _classify(e)
        finally:
            c.close()

    if not pool.sem.acquire(timeout=timeout):
        return "timeout"
    try:
        for attempt in range(2):
            c = pool.take()
            reused = c is not None
            if c is None:
                c = _new_conn(port, left())
            c.timeout = left()
            if c.sock is not None:
                c.sock.settimeout(c.timeout)
            try:
                c.request("GET", path, headers={"Host": host})
                r = c.getresponse()
                body = r.read()
            except (OSError, http.client.HTTPException) as e:
                c.close()
                stale = isinstance(e, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError))
                if reused and stale and attempt == 0:
                    reconnects[0] += 1  # the server closed an idle keep-alive connection: once more
                    continue
                return _classify(e)
            if r.will_close:
                c.close()
            else:
                pool.give(c)
            if r.status != 200:
                return f"status {r.status}"
            return None if body == want else "wrong body"
        return "closed or reset without an answer"
    finally:
        pool.sem.release()


# --------------------------------------------------------------------------- attackers


def crlf_flood(port: int, deadline: float) -> dict:
    """One connection at a time: a GET, then empty lines until the server cuts it off."""
    t = Tally()
    block = b"\r\n" * 2048  # 4 KiB a send: the server needs 17 bytes to notice
    sent_total, longest_bytes, longest_s = 0, 0, 0.0
    while time.monotonic() < deadline:
        try:
            s = _sock_from(ATTACKER_IP, port, 2)
        except OSError as e:
            t.error("connect", repr(e))
            time.sleep(0.05)
            continue
        t0, sent, outcome = time.monotonic(), 0, None
        try:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            first = _read_answer(s, 2)
            if not first.startswith(b"HTTP/1.1 200"):
                t.error("first request not answered", repr(first[:60]))
                continue
            s.setblocking(False)
            while time.monotonic() < deadline:
                readable, writable, _ = select.select([s], [s], [], 0.2)
                if readable:
                    try:
                        data = s.recv(4096)
                    except ConnectionResetError:
                        outcome = "reset"
                        break
                    outcome = f"status {data[9:12].decode()}" if data.startswith(b"HTTP/1.") else "closed"
                    break
                if writable:
                    try:
                        sent += s.send(block)
                    except BlockingIOError:
                        pass
                    except (BrokenPipeError, ConnectionResetError):
                        outcome = "cut off while sending"
                        break
        except OSError as e:
            outcome = f"error {type(e).__name__}"
        finally:
            s.close()
            sent_total += sent
            if sent > longest_bytes:
                longest_bytes, longest_s = sent, time.monotonic() - t0
        t.ok(f"connection ended: {outcome or 'still flooding at the end of the run'}")
    return {**t.to_dict(), "bytes_sent": sent_total, "longest_bytes": longest_bytes, "longest_s": longest_s}


def _pipeliner(port: int, deadline: float) -> dict:
    t = Tally()
    req = b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n"
    batch = req * 256
    got = [0]
    resp_len = 0
    while time.monotonic() < deadline:
        try:
            s = _sock_from(ATTACKER_IP, port, 2)
            s.sendall(req)
            first = _read_answer(s, 2)
        except OSError as e:
            t.error("connect or first answer", repr(e))
            time.sleep(0.05)
            continue
        resp_len = resp_len or len(first)
        got[0] += len(first)
        stop = threading.Event()

        def reader() -> None:
            buf = bytearray(1 << 16)
            s.settimeout(0.5)
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    n = s.recv_into(buf)
                except socket.timeout:
                    continue
                except OSError:
                    break
                if n == 0:
                    break
                got[0] += n
            stop.set()

        rd = threading.Thread(target=reader, daemon=True)
        rd.start()
        sent = 0
        try:
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    sent += s.send(batch)
                except socket.timeout:
                    continue
        except OSError:
            pass
        stop.set()
        rd.join(2)
        s.close()
        t.ok("connection ended by the server" if time.monotonic() < deadline else "connection held to the end")
        t.ok("requests sent", sent // len(req))
    answered = got[0] // resp_len if resp_len else 0
    return {**t.to_dict(), "answered": answered}


def pipelined(port: int, deadline: float, conns: int) -> dict:
    """`conns` pipelining connections, each with its own writer and reader thread."""
    out: list[dict] = []
    lock = threading.Lock()

    def run() -> None:
        r = _pipeliner(port, deadline)
        with lock:
            out.append(r)

    ths = [threading.Thread(target=run, daemon=True) for _ in range(conns)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(max(0, deadline - time.monotonic()) + 10)
    t = Tally()
    for r in out:
        t.counts.update(r["counts"])
        t.errors.update(r["errors"])
    return {**t.to_dict(), "answered": sum(r["answered"] for r in out)}


def slow_bodies(port: int, deadline: float, target: int, open_rate: float, bytes_per_s: float) -> dict:
    """Up to `target` connections from one address, each a POST /track whose body trickles."""
    t = Tally()
    head = b"POST /track HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
    sel = selectors.DefaultSelector()
    open_socks: dict[int, tuple[socket.socket, float]] = {}
    turn: deque[int] = deque()
    budget, last, trickled, max_open, opened = 0.0, time.monotonic(), 0, 0, 0
    held_s: list[float] = []
    tick = 0.1
    next_tick = time.monotonic()

    def drop(fd: int, outcome: str) -> None:
        s, t0 = open_socks.pop(fd)
        held_s.append(time.monotonic() - t0)
        try:
            sel.unregister(s)
        except (KeyError, ValueError):
            pass
        s.close()
        t.ok(f"closed by the server: {outcome}")

    while time.monotonic() < deadline:
        now = time.monotonic()
        budget = min(budget + (now - last) * open_rate, open_rate * 0.05)
        last = now
        while budget >= 1 and len(open_socks) < target and time.monotonic() < deadline:
            budget -= 1
            try:
                s = _sock_from(ATTACKER_IP, port, 0.5)
                s.setblocking(False)
                s.send(head)
            except OSError as e:
                t.error(f"connect: {type(e).__name__}", repr(e))
                budget = 0
                break
            opened += 1
            open_socks[s.fileno()] = (s, time.monotonic())
            sel.register(s, selectors.EVENT_READ)
            turn.append(s.fileno())
        max_open = max(max_open, len(open_socks))
        for key, _ in sel.select(timeout=0.01):
            fd = key.fd
            if fd not in open_socks:
                continue
            try:
                data = open_socks[fd][0].recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                drop(fd, "reset")
                continue
            drop(fd, f"status {data[9:12].decode()}" if data.startswith(b"HTTP/1.") else "closed without an answer")
        if time.monotonic() >= next_tick:
            next_tick += tick
            for _ in range(min(len(turn), max(1, round(bytes_per_s * tick)))):
                fd = turn.popleft()
                if fd not in open_socks:
                    continue
                try:
                    trickled += open_socks[fd][0].send(b"a")
                except BlockingIOError:
                    pass
                except OSError:
                    drop(fd, "reset")
                    continue
                turn.append(fd)
    held_to_end = len(open_socks)
    for fd in list(open_socks):
        s, _ = open_socks.pop(fd)
        s.close()
    sel.close()
    return {
        **t.to_dict(),
        "opened": opened,
        "max_open": max_open,
        "open_at_end": held_to_end,
        "body_bytes": trickled,
        "median_held_s": pct(held_s, 50),
    }


def uploads(port: int, deadline: float, n: int, token: str, zip_path: str) -> dict:
    """`n` loops of `curl -T` deploys from 127.0.0.2 (curl sends Expect: 100-continue)."""
    t = Tally()
    secs: list[float] = []
    lock = threading.Lock()

    def loop(i: int) -> None:
        while True:
            left = deadline - time.monotonic()
            if left < 1:
                return
            try:
                out = subprocess.run(
                    [
                        "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
                        "--interface", ATTACKER_IP, "--max-time", f"{left:.1f}",
                        "-T", zip_path, "-H", f"Authorization: Bearer {token}", "-H", "Host: localhost",
                        f"http://127.0.0.1:{port}/api/sites/upload{i}",
                    ],
                    capture_output=True, text=True, timeout=left + 10, check=False,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                t.ok("deploys cut at the end of the run")
                return
            code, _, took = out.stdout.strip().partition(" ")
            if out.returncode == 28:
                t.ok("deploys cut at the end of the run")
                return
            if out.returncode != 0:
                t.error(f"curl exit {out.returncode}", out.stderr.strip()[:200])
                time.sleep(0.5)
                continue
            t.ok(f"deploy answered {code}")
            if code == "200":
                with lock:
                    secs.append(float(took))
            else:
                time.sleep(0.5)

    ths = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(n)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(max(0, deadline - time.monotonic()) + 20)
    return {**t.to_dict(), "deploy_seconds": secs}


# --------------------------------------------------------------------------- content and the server


def make_content(dirpath: Path, seed: int, upload_mb: float | None) -> dict:
    rng = random.Random(seed)
    small = content_mod._small_html(rng)
    site_zip = dirpath / "site.zip"
    content_mod._zip(site_zip, {SMALL: small})
    out = {"small": small, "site_zip": site_zip}
    if upload_mb:
        # Random bytes (incompressible), STORED: quick to build, and the server gets
        # as many bytes to unpack as it received.
        total = int(upload_mb * 1_000_000)
        part = 2_000_000
        big = dirpath / "upload.zip"
        with zipfile.ZipFile(big, "w", zipfile.ZIP_STORED) as z:
            i = 0
            while total > 0:
                n = min(part, total)
                z.writestr(zipfile.ZipInfo(f"blob{i:03}.bin", date_time=(2026, 1, 1, 0, 0, 0)), rng.randbytes(n))
                total -= n
                i += 1
        out["upload_zip"] = big
    return out


def limits_help(binary: Path) -> list[str]:
    """The binary's help lines for the issue-12 limits (none for an older binary)."""
    try:
        out = subprocess.run([str(binary), "serve", "--help"], capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return []
    raw = out.stdout.splitlines()
    keep = []
    for i, ln in enumerate(raw):
        if ln.strip().startswith(("--max-conns-per-ip", "--min-body-rate", "--max-uploads")):
            text = ln
            # Continuation lines are indented to the description column.
            for nxt in raw[i + 1 :]:
                if not nxt.startswith(" " * 12):
                    break
                text += " " + nxt
            keep.append(" ".join(text.split()))
    return keep


def _sample(pid: int, t0: float) -> dict:
    return {
        "t": time.monotonic() - t0,
        "rss_kb": procs.status_kb(pid, "VmRSS") or 0,
        "cpu_s": procs.tree_cpu_seconds(pid),
    }


def _health(port: int, timeout: float = 5) -> tuple[str, float]:
    t0 = time.perf_counter()
    c = _new_conn(port, timeout)
    try:
        c.request("GET", "/health", headers={"Host": "localhost", "Connection": "close"})
        r = c.getresponse()
        body = r.read()
        return f"{r.status} {body.decode(errors='replace')[:20]}", (time.perf_counter() - t0) * 1000
    except (OSError, http.client.HTTPException) as e:
        return _classify(e), (time.perf_counter() - t0) * 1000
    finally:
        c.close()


def run_one(label: str, binary: Path, attack: Attack, args: argparse.Namespace, content: dict, base: Path, reg) -> dict:
    run_dir = base / f"{label}-{attack.name}"
    run_dir.mkdir()
    db = run_dir / "fazt.db"
    port = procs.free_port()
    cmd = [str(binary), "serve", "--db", str(db), "--listen", f"127.0.0.1:{port}", "--max-upload-mb", "100"]
    proc = reg.start(f"{label}-{attack.name}", cmd, cwd=run_dir)
    res: dict = {"binary": label, "attack": attack.name, "client_mode": attack.probe, "load_before": machine.loadavg()}
    try:
        procs.wait_port(port, proc, timeout=30)
        token = fazt.create_token(binary, db, scope="deploy", name="attacks")
        fazt.deploy(port, token, SITE, content["site_zip"])
        c = _new_conn(port, 5)
        c.request("GET", "/" + SMALL, headers={"Host": f"{SITE}.localhost"})
        r = c.getresponse()
        if r.status != 200 or r.read() != content["small"]:
            raise RuntimeError(f"{SMALL} is not served correctly before the attack (status {r.status})")
        c.close()
        time.sleep(0.5)
        res["rss_before_kb"] = procs.status_kb(proc.pid, "VmRSS")

        ctx = multiprocessing.get_context("fork")
        t0 = time.monotonic() + 0.2
        deadline = t0 + args.duration
        workers = {
            "probe": (probe_worker, port, t0, deadline, args.rate, args.timeout_s, attack.probe, content["small"]),
        }
        if attack.name == "crlf-flood":
            workers["attacker"] = (crlf_flood, port, deadline)
        elif attack.name == "pipelined":
            workers["attacker"] = (pipelined, port, deadline, args.pipeliners)
        elif attack.name == "slow-bodies":
            workers["attacker"] = (slow_bodies, port, deadline, args.slow_conns, args.slow_open_rate, args.slow_bytes_per_s)
        elif attack.name == "uploads":
            workers["attacker"] = (uploads, port, deadline, args.uploads, token, str(content["upload_zip"]))
        ps = {}
        for name, (fn, *wargs) in workers.items():
            p = ctx.Process(target=_worker, args=(name, fn, run_dir, *wargs), daemon=True)
            p.start()
            ps[name] = p

        samples = [_sample(proc.pid, t0)]
        died = None
        while time.monotonic() < deadline:
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
            if proc.poll() is not None:
                died = f"exited with code {proc.returncode} at {time.monotonic() - t0:.1f} s"
                break
            samples.append(_sample(proc.pid, t0))
        end = samples[-1]
        hwm = procs.status_kb(proc.pid, "VmHWM") if proc.poll() is None else None
        for name, p in ps.items():
            p.join(timeout=args.timeout_s + 30)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
        out = {}
        for name in workers:
            f = run_dir / f"worker-{name}.json"
            out[name] = json.loads(f.read_text()) if f.exists() else {"crashed": "no result (killed or hung)"}
        time.sleep(1)
        after: dict = {}
        if proc.poll() is None:
            after["health"], after["health_ms"] = _health(port)
            after["rss_kb"] = procs.status_kb(proc.pid, "VmRSS")
            proc.send_signal(15)
            try:
                after["exit_code"] = proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                after["exit_code"] = "did not stop within 20 s of SIGTERM"
        elif died is None:
            died = f"exited with code {proc.returncode} after the attack"
        res.update(
            samples=samples,
            peak_rss_kb=max(hwm or 0, max(s["rss_kb"] for s in samples)),
            hwm_kb=hwm,
            end_rss_kb=end["rss_kb"],
            cpu_pct=100 * (end["cpu_s"] - samples[0]["cpu_s"]) / max(end["t"] - samples[0]["t"], 0.1),
            died=died,
            after=after,
            probe=out["probe"],
            attacker=out.get("attacker"),
            load_after=machine.loadavg(),
        )
    except Exception as e:  # noqa: BLE001 - a run that cannot start is reported, the others still run
        res["problem"] = f"{type(e).__name__}: {e}"
    finally:
        reg.stop(proc)
    log = run_dir / ".." / "logs" / f"{label}-{attack.name}.log"
    try:
        text = log.read_text(errors="replace")
        res["log_panics"] = [ln[:300] for ln in text.splitlines() if "panic" in ln.lower()][:5]
    except OSError:
        pass
    return res


# --------------------------------------------------------------------------- summary and report


def summarize(r: dict) -> dict:
    p = r.get("probe") or {}
    rows = p.get("results", [])
    lat = [row[1] for row in rows]
    kinds = Counter(row[2] for row in rows if row[2])
    return {
        "p50": pct(lat, 50),
        "p99": pct(lat, 99),
        "max": max(lat) if lat else None,
        "n": len(rows),
        "failed": sum(kinds.values()),
        "kinds": dict(kinds),
    }


def attacker_line(r: dict) -> str:
    a = r.get("attacker")
    if not a:
        return "—"
    if "crashed" in a:
        return "attacker crashed (see json)"
    counts, errs = a.get("counts", {}), a.get("errors", {})
    name = r["attack"]
    if name == "crlf-flood":
        ends = sum(v for k, v in counts.items() if k.startswith("connection ended"))
        cut = {k.split(": ", 1)[1]: v for k, v in counts.items() if k.startswith("connection ended")}
        top = ", ".join(f"{k} ×{v:,}" for k, v in sorted(cut.items(), key=lambda kv: -kv[1])[:2])
        return (
            f"{ends:,} connection{'s' if ends != 1 else ''} ({top}); {a['bytes_sent'] / 2**20:,.0f} MiB of CRLF "
            f"taken by the sockets, at most {a['longest_bytes'] / 2**20:,.1f} MiB on one"
        )
    if name == "pipelined":
        return f"{counts.get('requests sent', 0):,} requests sent, ~{a.get('answered', 0):,} answered"
    if name == "slow-bodies":
        closed = {k.split(": ", 1)[1]: v for k, v in counts.items() if k.startswith("closed by the server")}
        top = ", ".join(f"{k} ×{v:,}" for k, v in sorted(closed.items(), key=lambda kv: -kv[1])[:3])
        cf = sum(v for k, v in errs.items() if k.startswith("connect"))
        return (
            f"{a['opened']:,} opened, at most {a['max_open']:,} open, {a['open_at_end']:,} still open at the end; "
            f"server closed: {top or 'none'}" + (f"; {cf:,} connects failed" if cf else "")
        )
    if name == "uploads":
        parts = [f"{k.replace('deploy answered ', '')} ×{v}" for k, v in sorted(counts.items()) if k.startswith("deploy answered")]
        cut = counts.get("deploys cut at the end of the run", 0)
        secs = a.get("deploy_seconds", [])
        med = f", median {pct(secs, 50):.1f} s per deploy" if secs else ""
        errs_s = "; " + ", ".join(f"{k} ×{v}" for k, v in errs.items()) if errs else ""
        return f"answers: {', '.join(parts) or 'none'}; {cut} cut at the end{med}{errs_s}"
    return "—"


def _ms(v: float | None) -> str:
    return "—" if v is None else (f"{v:.1f}" if v < 100 else f"{v:,.0f}")


def _mib(kb: int | None) -> str:
    return "—" if not kb else f"{kb / 1024:.1f}"


def up_line(r: dict) -> str:
    if "problem" in r:
        return "run failed: " + r["problem"]
    if r.get("died"):
        return "**no**: " + r["died"]
    a = r.get("after", {})
    h = a.get("health", "?")
    ok = h.startswith("200")
    return f"yes; /health after: {h.split(' ')[0] if ok else h} in {a.get('health_ms', 0):.0f} ms"


def report(results: list[dict], args: argparse.Namespace, bins: dict[str, dict]) -> str:
    lines = [
        "# fazt under the denial-of-service attacks of issue 12",
        "",
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}, `bench/attacks.sh` "
        f"(`--duration {args.duration:g} --rate {args.rate:g} --timeout-s {args.timeout_s:g}`).",
        "",
    ]
    for label, b in bins.items():
        lim = "; ".join(f"`{x}`" for x in b["limits"]) or "none of the issue-12 limit flags (older binary)"
        lines.append(f"- **{label}**: `{b['path']}` ({b['size'] / 2**20:.2f} MiB, {b['version']}); limits: {lim}")
    m = machine.info()
    lines += [
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['os']}, kernel {m['kernel']}, {m['mem_mib']} MiB; "
        f"load average at the start {results[0].get('load_before', '?') if results else '?'}, at the end {machine.loadavg()}",
        "",
        f"Each row is a fresh fazt (new database) under {args.duration:g} s of one attack from 127.0.0.2, while a "
        f"well-behaved client on 127.0.0.1 sends {args.rate:g} requests/s on a fixed schedule, alternately "
        f"`GET /health` and a 1 KiB static file (body checked). Client \"keep-alive\": at most {KEEPALIVE_POOL} "
        "keep-alive connections; \"new\": a new connection per request. A request not answered correctly within "
        f"{args.timeout_s:g} s is a failure, and every failure (timeout, or connection closed without an "
        f"answer) counts as {args.timeout_s * 1000:,.0f} ms in the percentiles. Peak RSS is VmHWM (it includes start-up and the deploy of the 1 KiB site); RSS at the "
        "end is VmRSS when the attack stops; server CPU is % of one core over the attack (2 cores in all, "
        "shared with the attacker and the client).",
        "",
        "| attack | client | binary | p50 ms | p99 ms | max ms | failed / sent | peak RSS MiB | RSS at end MiB | "
        "server CPU | server stayed up | attacker |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in args.attacks:
        for r in [x for x in results if x["attack"] == name]:
            s = summarize(r)
            if "problem" in r:
                lines.append(f"| {name} | {r['client_mode']} | {r['binary']} | — | — | — | — | — | — | — | {up_line(r)} | — |")
                continue
            lines.append(
                f"| {name} | {r['client_mode']} | {r['binary']} | {_ms(s['p50'])} | {_ms(s['p99'])} | {_ms(s['max'])} | "
                f"{s['failed']:,} / {s['n']:,} | {_mib(r['peak_rss_kb'])} | {_mib(r['end_rss_kb'])} | "
                f"{r['cpu_pct']:.0f} % | {up_line(r)} | {attacker_line(r).replace('|', '/')} |"
            )
    lines += ["", "## Attacks", ""]
    for name in args.attacks:
        lines.append(f"- `{name}`: {ATTACKS[name].what}")
    lines += ["", "## Failures of the well-behaved client, by kind", ""]
    any_fail = False
    for r in results:
        s = summarize(r)
        if s["kinds"]:
            any_fail = True
            kinds = ", ".join(f"{k} ×{v:,}" for k, v in sorted(s["kinds"].items(), key=lambda kv: -kv[1]))
            lines.append(f"- {r['attack']}, {r['binary']}: {kinds}")
    if not any_fail:
        lines.append("- none")
    lines += [
        "",
        "The latencies are measured by a Python client sharing the 2 cores with the server and the attacker, so "
        "they are upper bounds of what fazt adds; the rows are one run each, not medians. Nothing here is a "
        "pass/fail test. Raw figures: the `.json` file next to this one (per-second client results, RSS samples, "
        "attacker counts).",
        "",
    ]
    return "\n".join(lines)


def to_json(results: list[dict], args: argparse.Namespace, bins: dict) -> dict:
    out = []
    for r in results:
        r = dict(r)
        p = r.pop("probe", None) or {}
        rows = p.get("results", [])
        per_s: dict[int, dict] = {}
        for t, ms, kind, _ in rows:
            d = per_s.setdefault(int(t), {"sent": 0, "failed": 0, "max_ms": 0.0, "lat": []})
            d["sent"] += 1
            d["failed"] += kind is not None
            d["max_ms"] = max(d["max_ms"], round(ms, 2))
            d["lat"].append(ms)
        for d in per_s.values():
            d["p50_ms"] = round(pct(d.pop("lat"), 50), 2)
        r["client"] = {**summarize({"probe": p}), "reconnects": p.get("reconnects"), "max_lag_ms": p.get("max_lag_ms"),
                       "per_second": [{"s": k, **v} for k, v in sorted(per_s.items())]}  # fmt: skip
        r["samples"] = [s for i, s in enumerate(r.get("samples", [])) if i % 10 == 0]
        out.append(r)
    return {
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "binaries": bins,
        "machine": machine.info(),
        "runs": out,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bins: dict[str, Path] = {}
    if args.before_bin:
        bins["before"] = args.before_bin
    bins["after"] = args.fazt_bin
    for label, b in bins.items():
        if not b.is_file():
            print(f"[attacks] no fazt binary at {b} ({label})")
            return 2
    fds = raise_fd_limit()
    if "slow-bodies" in args.attacks and fds < args.slow_conns + 1000:
        print(f"[attacks] warning: open-file limit {fds} is below --slow-conns {args.slow_conns} + 1000", flush=True)
    base = Path(tempfile.mkdtemp(prefix="fazt-attacks-"))
    (base / "logs").mkdir()
    pidfile = Path(os.environ.get("FAZT_BENCH_PIDFILE", base / "pids"))
    reg = procs.Registry(log_dir=base / "logs", pidfile=pidfile)
    t_start = time.monotonic()
    content = make_content(base, args.seed, args.upload_mb if "uploads" in args.attacks else None)
    info = {
        label: {"path": str(b), "size": b.stat().st_size, "version": fazt._version(b), "limits": limits_help(b)}
        for label, b in bins.items()
    }
    results = []
    try:
        for name in args.attacks:
            for label, b in bins.items():
                print(f"[attacks] {name} against {label} ({args.duration:g} s) ...", flush=True)
                r = run_one(label, b, ATTACKS[name], args, content, base, reg)
                s = summarize(r)
                print(
                    f"[attacks]   client p50 {_ms(s['p50'])} ms, p99 {_ms(s['p99'])} ms, failed {s['failed']}/{s['n']}; "
                    f"peak RSS {_mib(r.get('peak_rss_kb'))} MiB; {up_line(r)}",
                    flush=True,
                )
                results.append(r)
    finally:
        reg.stop_all()
    md = report(results, args, info)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(md)
    args.out.with_suffix(".json").write_text(json.dumps(to_json(results, args, info), indent=1))
    print(f"[attacks] {len(results)} runs in {time.monotonic() - t_start:.0f} s; report {args.out}", flush=True)
    if args.keep:
        print(f"[attacks] run directory kept: {base}")
    else:
        shutil.rmtree(base, ignore_errors=True)
    return 1 if any("problem" in r for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
