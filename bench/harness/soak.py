"""Soak: one fazt process under mixed traffic for a long time (default 30 minutes).

Run through `bench/soak.sh` (which builds or takes the release binary and runs
`python -m harness.soak` from `bench/`); `--help` lists the options. On demand,
not part of the test suite or of `run.sh`.

Traffic, all to 127.0.0.1 and every loop bounded by the run's deadline and
by socket timeouts:

- a well-behaved client (its own process): one keep-alive connection, a GET
  of a 1 KiB page every `--probe-ms`, body checked byte for byte; its latency
  gives the p50/p99 of static serving throughout the run;
- static load (its own process, `--static-conns` threads): keep-alive GETs of
  a 1 KiB page, 50 KiB text (gzip) and a 1 MiB file as fast as they come back;
- the Counter `main.js` (its own process): each count must be higher than the
  one before;
- a deploy of site `churn` every `--deploy-every` seconds (two versions with
  different file sets, alternately), each checked after its 200;
- hostile clients (their own process): slow-drip headers, CRLF floods,
  pipelined floods (read and unread), oversized headers, bad chunked bodies,
  random bytes, requests and uploads abandoned midway, downloads dropped after
  the first bytes.

Every `--sample-s` seconds the server's VmRSS, VmHWM, threads and open file
descriptors are read from /proc. The report (`--out`, default
`results/soak.md`) compares RSS after the warm-up with RSS at the end.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import http.client
import json
import multiprocessing
import os
import random
import re
import socket
import sqlite3
import statistics
import struct
import tempfile
import threading
import time
import traceback
import zipfile
from collections import Counter
from pathlib import Path

from . import content as content_mod
from . import fazt, machine, procs

STATIC = "bench"
COUNTER = "counter"
CHURN = "churn"
SMALL, TEXT, MIB = "small.html", "text50k.txt", "file1m.bin"
COUNT_RE = re.compile(rb"<h1>Count: (\d+)</h1>")
MAX_EXAMPLES = 5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fazt-bin", type=Path, required=True, help="the fazt binary to soak (release build)")
    p.add_argument("--minutes", type=float, default=30, help="length of the run (default 30)")
    p.add_argument(
        "--warmup-s",
        type=float,
        help="RSS 'after warm-up' is read at this many seconds (default: 10%% of the run, at most 120 s)",
    )
    p.add_argument("--sample-s", type=float, default=5, help="RSS sampling interval (default 5 s)")
    p.add_argument("--probe-ms", type=float, default=20, help="well-behaved client: one GET every N ms (default 20)")
    p.add_argument("--static-conns", type=int, default=4, help="static load: keep-alive connections (default 4)")
    p.add_argument("--deploy-every", type=float, default=15, help="seconds between deploys of site churn (default 15)")
    p.add_argument("--slow-drip", type=int, default=16, help="slow-drip connections held at once (default 16)")
    p.add_argument("--seed", type=int, default=12, help="seed for content and hostile choices (default 12)")
    p.add_argument("--out", type=Path, default=Path("results/soak.md"), help="markdown report (default results/soak.md)")
    p.add_argument("--keep", action="store_true", help="keep the run directory (server log, fazt.db)")
    return p.parse_args(argv)


# --------------------------------------------------------------------------- content


def make_content(dirpath: Path, seed: int) -> dict:
    rng = random.Random(seed)
    files = {
        SMALL: content_mod._small_html(rng),
        TEXT: content_mod._text(rng, 50 * 1024),
        MIB: rng.randbytes(1024 * 1024),
    }
    site_zip = dirpath / "static.zip"
    content_mod._zip(site_zip, files)
    counter_zip = dirpath / "counter.zip"
    content_mod._zip(counter_zip, {"main.js": content_mod.COUNTER_JS.encode()})
    churn = []
    for v in range(2):
        vf: dict[str, bytes] = {"index.html": f"<h1>churn version {v}</h1>\n".encode()}
        for i in range(20):
            vf[f"v{v}/page{i:02}.html"] = content_mod._text(rng, 2000 + 100 * i)
        vf["blob.bin"] = rng.randbytes(1024 * 1024 + v * 4096)
        z = dirpath / f"churn{v}.zip"
        content_mod._zip(z, vf)
        churn.append((z, vf))
    return {"files": files, "site_zip": site_zip, "counter_zip": counter_zip, "churn": churn}


# --------------------------------------------------------------------------- shared helpers


class Tally:
    """Counts of outcomes plus a few example messages per kind of error."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}
        self.lock = threading.Lock()

    def ok(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.counts[key] += n

    def error(self, kind: str, msg: str) -> None:
        with self.lock:
            self.errors[kind] += 1
            ex = self.examples.setdefault(kind, [])
            if len(ex) < MAX_EXAMPLES:
                ex.append(f"{time.strftime('%H:%M:%S')} {msg}"[:300])

    def to_dict(self) -> dict:
        return {"counts": dict(self.counts), "errors": dict(self.errors), "examples": self.examples}


def _conn(port: int, timeout: float = 10) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)


def _get(conn: http.client.HTTPConnection, path: str, host: str, headers: dict | None = None):
    hdrs = {"Host": host, **(headers or {})}
    conn.request("GET", path, headers=hdrs)
    r = conn.getresponse()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()


def _write_result(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def _worker(name: str, fn, out: Path, *args) -> None:
    """Process entry point: runs `fn(*args)` and writes its result (or its crash) as JSON."""
    try:
        res = fn(*args)
    except Exception:  # noqa: BLE001 - reported, not hidden
        res = {"crashed": traceback.format_exc()}
    _write_result(out / f"worker-{name}.json", res)


# --------------------------------------------------------------------------- well-behaved client


def probe_worker(port: int, deadline: float, every_ms: float, expected: bytes) -> dict:
    """One keep-alive client, one GET at a time, paced; returns latencies by elapsed second."""
    t = Tally()
    samples: list[tuple[float, float]] = []  # (monotonic time, latency ms)
    conn = _conn(port)
    host = f"{STATIC}.localhost"
    nxt = time.monotonic()
    while time.monotonic() < deadline:
        for attempt in range(2):
            t0 = time.perf_counter()
            try:
                status, _, body = _get(conn, "/" + SMALL, host)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                conn.close()
                conn = _conn(port)
                if attempt == 0:
                    t.ok("reconnects (server closed an idle keep-alive connection)")
                    continue
                t.error("probe: connection", repr(e))
                break
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                conn = _conn(port)
                t.error("probe: connection", repr(e))
                break
            ms = (time.perf_counter() - t0) * 1000
            if status != 200 or body != expected:
                t.error("probe: wrong answer", f"status {status}, {len(body)} bytes")
            else:
                samples.append((time.monotonic(), ms))
                t.ok("probe GETs ok")
            break
        nxt += every_ms / 1000
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            nxt = time.monotonic()
    conn.close()
    return {**t.to_dict(), "samples": samples}


# --------------------------------------------------------------------------- static load and the Counter


def static_worker(port: int, deadline: float, conns: int, files: dict[str, bytes], seed: int) -> dict:
    t = Tally()
    gz_text = None

    def one(i: int) -> None:
        nonlocal gz_text
        rng = random.Random(seed * 100 + i)
        conn = _conn(port)
        host = f"{STATIC}.localhost"
        while time.monotonic() < deadline:
            name = rng.choices([SMALL, TEXT, MIB], weights=[80, 15, 5])[0]
            hdrs = {"Accept-Encoding": "gzip"} if name == TEXT else {}
            try:
                status, h, body = _get(conn, "/" + name, host, hdrs)
                if h.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                if status != 200 or body != files[name]:
                    t.error("static: wrong answer", f"{name}: status {status}, {len(body)} bytes")
                else:
                    t.ok(f"static GET {name}")
            except (OSError, http.client.HTTPException, EOFError) as e:
                if isinstance(e, http.client.RemoteDisconnected):
                    t.ok("static reconnects")
                else:
                    t.error("static: connection", f"{name}: {e!r}")
                conn.close()
                conn = _conn(port)
        conn.close()

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(conns)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=max(0, deadline - time.monotonic()) + 30)
    return t.to_dict()


def counter_worker(port: int, deadline: float) -> dict:
    t = Tally()
    conn = _conn(port)
    last = None
    while time.monotonic() < deadline:
        try:
            status, _, body = _get(conn, "/", f"{COUNTER}.localhost")
        except (OSError, http.client.HTTPException) as e:
            if not isinstance(e, http.client.RemoteDisconnected):
                t.error("counter: connection", repr(e))
            conn.close()
            conn = _conn(port)
            continue
        m = COUNT_RE.search(body)
        if status != 200 or not m:
            t.error("counter: wrong answer", f"status {status}: {body[:120]!r}")
            if status == 503:
                time.sleep(0.05)  # the JS queue is full: back off a little
            continue
        n = int(m.group(1))
        if last is not None and n <= last:
            t.error("counter: did not increase", f"{last} then {n}")
        last = n
        t.ok("counter requests ok")
    conn.close()
    return {**t.to_dict(), "last_count": last}


# --------------------------------------------------------------------------- hostile clients


def _sock(port: int, timeout: float = 5) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.settimeout(timeout)
    return s


def _read_status(s: socket.socket, limit_s: float = 5) -> str:
    """What the server did: 'status NNN', 'closed', 'reset' or 'no answer'."""
    s.settimeout(limit_s)
    try:
        data = s.recv(4096)
    except socket.timeout:
        return "no answer"
    except ConnectionResetError:
        return "reset"
    except OSError as e:
        return f"error {e.errno}"
    if not data:
        return "closed"
    m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return f"status {m.group(1).decode()}" if m else "other bytes"


def _send_all_bounded(s: socket.socket, data: bytes, until: float) -> str | None:
    """Sends until done, the server refuses more, or `until`; returns why it stopped early."""
    view = memoryview(data)
    while view and time.monotonic() < until:
        try:
            n = s.send(view[:65536])
        except socket.timeout:
            return "send blocked"
        except (BrokenPipeError, ConnectionResetError):
            return "cut off while sending"
        view = view[n:]
    return None if not view else "time cap"


def _amount(n: int) -> str:
    """A coarse size, so that outcomes count into a few rows."""
    for cap, label in ((64 << 10, "< 64 KiB"), (1 << 20, "< 1 MiB"), (16 << 20, "< 16 MiB")):
        if n < cap:
            return label
    return ">= 16 MiB"


def h_crlf_flood(port: int, rng: random.Random) -> str:
    """Empty lines, ~6 MiB/s for up to 12 s: on a fresh connection, or after one request on a
    keep-alive one. A server must cut it (size cap or header timeout) rather than buffer it."""
    with _sock(port) as s:
        if rng.random() < 0.5:
            s.sendall(f"GET /{SMALL} HTTP/1.1\r\nHost: {STATIC}.localhost\r\n\r\n".encode())
            if _read_status(s, 3) != "status 200":
                return "first request not answered"
        t0, sent, block = time.monotonic(), 0, b"\r\n" * 32768
        while time.monotonic() - t0 < 12:
            stop = _send_all_bounded(s, block, time.monotonic() + 2)
            if stop:
                return f"{stop} after {_amount(sent)}, then {_read_status(s, 2)}"
            sent += len(block)
            s.settimeout(0.01)
            try:
                data = s.recv(4096)
                m = re.match(rb"HTTP/1\.[01] (\d{3})", data or b"")
                r = f"status {m.group(1).decode()}" if m else "closed"
                return f"{r} after {_amount(sent)}"
            except socket.timeout:
                pass
            except OSError:
                return f"reset after {_amount(sent)}"
        return f"still open after 12 s and {_amount(sent)} (client gave up)"


def h_pipelined_read(port: int, rng: random.Random) -> str:
    n = rng.randint(100, 1000)
    req = f"GET /{SMALL} HTTP/1.1\r\nHost: {STATIC}.localhost\r\n\r\n".encode()
    with _sock(port) as s:
        stop = _send_all_bounded(s, req * n, time.monotonic() + 5)
        got, buf, until = 0, b"", time.monotonic() + 10
        s.settimeout(2)
        while got < n and time.monotonic() < until:
            try:
                chunk = s.recv(1 << 16)
            except (socket.timeout, OSError):
                break
            if not chunk:
                break
            buf += chunk
            got += buf.count(b"HTTP/1.1 200")
            buf = buf[buf.rfind(b"HTTP/1.1 200") + 1 :] if b"HTTP/1.1 200" in buf else buf[-16:]
        return f"{'all' if got >= n else 'some'} answered" + (f" ({stop})" if stop else "")


def h_pipelined_unread(port: int, rng: random.Random) -> str:
    req = f"GET /{MIB} HTTP/1.1\r\nHost: {STATIC}.localhost\r\n\r\n".encode()
    with _sock(port) as s:
        stop = _send_all_bounded(s, req * rng.randint(50, 400), time.monotonic() + 3)
        time.sleep(rng.uniform(0.1, 1.0))
        return "dropped unread" + (f" ({stop})" if stop else "")


def h_oversized_header(port: int, rng: random.Random) -> str:
    if rng.random() < 0.5:
        head = f"GET / HTTP/1.1\r\nHost: {STATIC}.localhost\r\nX-Big: ".encode() + b"a" * rng.randint(40_000, 1_000_000)
        head += b"\r\n\r\n"
    else:
        head = f"GET / HTTP/1.1\r\nHost: {STATIC}.localhost\r\n".encode()
        head += b"".join(f"X-H{i}: v\r\n".encode() for i in range(rng.randint(100, 5000))) + b"\r\n"
    with _sock(port) as s:
        stop = _send_all_bounded(s, head, time.monotonic() + 3)
        r = _read_status(s, 3)
        return r if r.startswith("status") else (stop or r)


def h_bad_chunked(port: int, rng: random.Random) -> str:
    bodies = [
        b"zz\r\nhello\r\n0\r\n\r\n",  # not hex
        b"ffffffffffffffffffff\r\n",  # overflows
        b"5\r\nhelloXX0\r\n\r\n",  # no CRLF after the data
        b"5;" + b"e" * 20000 + b"\r\nhello\r\n0\r\n\r\n",  # huge extension
        b"4\r\nabc",  # truncated, then the client stops sending
        b"-1\r\n\r\n",
    ]
    body = rng.choice(bodies)
    target = rng.choice(
        [
            (f"{STATIC}.localhost", "/upload", ""),
            (f"{COUNTER}.localhost", "/", ""),
            ("localhost", f"/api/sites/{CHURN}", "Authorization: Bearer fazt_wrong\r\n"),
        ]
    )
    te = rng.choice(["Transfer-Encoding: chunked\r\n", "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"])
    head = f"POST {target[1]} HTTP/1.1\r\nHost: {target[0]}\r\n{target[2]}{te}\r\n".encode()
    with _sock(port) as s:
        stop = _send_all_bounded(s, head + body, time.monotonic() + 3)
        r = _read_status(s, 3 if body != b"4\r\nabc" else 1)
        return r if r.startswith("status") else (stop or r)


def h_random_bytes(port: int, rng: random.Random) -> str:
    with _sock(port) as s:
        stop = _send_all_bounded(s, rng.randbytes(rng.randint(1, 16384)), time.monotonic() + 3)
        return stop or _read_status(s, 2)


def h_close_mid_request(port: int, rng: random.Random) -> str:
    req = f"GET /{TEXT} HTTP/1.1\r\nHost: {STATIC}.localhost\r\nAccept-Encoding: gzip\r\nUser-Agent: soak\r\n\r\n".encode()
    s = _sock(port)
    try:
        s.sendall(req[: rng.randint(1, len(req) - 1)])
        if rng.random() < 0.5:  # abortive close: RST instead of FIN
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return "reset by client"
        return "closed by client"
    finally:
        s.close()


def h_abandoned_upload(port: int, rng: random.Random, token: str) -> str:
    total = rng.randint(2, 8) * 1024 * 1024
    head = (
        f"PUT /api/sites/{CHURN}-abandoned HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Length: {total}\r\n\r\n"
    ).encode()
    with _sock(port) as s:
        stop = _send_all_bounded(s, head + rng.randbytes(rng.randint(0, total - 1)), time.monotonic() + 5)
        return "upload abandoned" + (f" ({stop})" if stop else "")


def h_dropped_download(port: int, rng: random.Random) -> str:
    with _sock(port) as s:
        s.sendall(f"GET /{MIB} HTTP/1.1\r\nHost: {STATIC}.localhost\r\n\r\n".encode())
        got = 0
        want = rng.randint(1, 300_000)
        while got < want:
            try:
                chunk = s.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            got += len(chunk)
        return "download dropped"


def _slow_drip(port: int, deadline: float, t: Tally, rng: random.Random) -> None:
    """Sends a request head one byte every 0.5 s until the server hangs up (or 30 s)."""
    try:
        s = _sock(port, timeout=2)
    except OSError as e:
        t.error("hostile: could not connect", repr(e))
        return
    head = f"GET /{SMALL} HTTP/1.1\r\nHost: {STATIC}.localhost\r\nX-Drip: ".encode() + b"d" * 200
    t0 = time.monotonic()
    outcome = "still open after 30 s (client gave up)"
    try:
        for b in head:
            if time.monotonic() > deadline:
                outcome = "run ended"
                break
            if time.monotonic() - t0 > 30:
                break
            try:
                s.send(bytes([b]))
            except OSError:
                outcome = "cut off"
                break
            s.settimeout(0.5)
            try:
                data = s.recv(4096)
                m = re.match(rb"HTTP/1\.[01] (\d{3})", data or b"")
                outcome = f"status {m.group(1).decode()}" if m else "closed"
                break
            except socket.timeout:
                continue
            except OSError:
                outcome = "reset"
                break
    finally:
        s.close()
    secs = time.monotonic() - t0
    t.ok(f"slow-drip: {outcome}")
    with t.lock:
        t.counts["slow-drip: seconds held (sum)"] += round(secs)


HOSTILE = {
    "crlf-flood": h_crlf_flood,
    "pipelined-flood-read": h_pipelined_read,
    "pipelined-flood-unread": h_pipelined_unread,
    "oversized-headers": h_oversized_header,
    "bad-chunked": h_bad_chunked,
    "random-bytes": h_random_bytes,
    "close-mid-request": h_close_mid_request,
    "download-dropped": h_dropped_download,
}


def hostile_worker(port: int, deadline: float, seed: int, drips: int, token: str) -> dict:
    t = Tally()

    def dripper(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        time.sleep(rng.uniform(0, 5))
        while time.monotonic() < deadline - 1:
            _slow_drip(port, deadline, t, rng)

    def attacker(i: int) -> None:
        rng = random.Random(seed * 7 + i)
        kinds = list(HOSTILE) + ["abandoned-upload"]
        while time.monotonic() < deadline - 1:
            kind = rng.choice(kinds)
            try:
                if kind == "abandoned-upload":
                    out = h_abandoned_upload(port, rng, token)
                else:
                    out = HOSTILE[kind](port, rng)
                t.ok(f"{kind}: {out}")
            except OSError as e:
                # Refused or reset while connecting: the server may shed load, but it must
                # keep accepting; counted as an error so that it is visible in the report.
                t.error(f"hostile {kind}: {type(e).__name__}", repr(e))
            time.sleep(rng.uniform(0.01, 0.1))

    threads = [threading.Thread(target=dripper, args=(i,), daemon=True) for i in range(drips)]
    threads += [threading.Thread(target=attacker, args=(i,), daemon=True) for i in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=max(0, deadline - time.monotonic()) + 40)
    return t.to_dict()


# --------------------------------------------------------------------------- deploys and sampling


def deployer(port: int, token: str, deadline: float, every: float, churn: list, t: Tally, stop: threading.Event) -> None:
    v = 0
    while not stop.wait(every) and time.monotonic() < deadline - every / 2:
        zip_path, files = churn[v % 2]
        try:
            fazt.deploy(port, token, CHURN, zip_path)
        except Exception as e:  # noqa: BLE001 - FaztError, timeouts: all are errors of the run
            t.error("deploy: failed", str(e))
            v += 1
            continue
        conn = _conn(port)
        try:
            for name in ["index.html", "blob.bin", rng_pick(files, v)]:
                status, _, body = _get(conn, "/" + name, f"{CHURN}.localhost")
                if status != 200 or body != files[name]:
                    t.error("deploy: wrong content after 200", f"version {v % 2}, {name}: status {status}")
                    break
            else:
                t.ok("deploys ok (content checked)")
        except (OSError, http.client.HTTPException) as e:
            t.error("deploy: check failed", repr(e))
        finally:
            conn.close()
        v += 1


def rng_pick(files: dict, v: int) -> str:
    names = sorted(n for n in files if n.endswith(".html") and n != "index.html")
    return names[v % len(names)]


def sample(pid: int, t0: float) -> dict:
    fds = 0
    try:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        pass
    return {
        "t": time.monotonic() - t0,
        "rss_kb": procs.status_kb(pid, "VmRSS") or 0,
        "hwm_kb": procs.status_kb(pid, "VmHWM") or 0,
        "threads": procs.status_kb(pid, "Threads") or 0,
        "fds": fds,
        "cpu_s": procs.tree_cpu_seconds(pid),
    }


# --------------------------------------------------------------------------- the run


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def run(args: argparse.Namespace) -> dict:
    duration = args.minutes * 60
    warmup = args.warmup_s if args.warmup_s is not None else min(120.0, duration * 0.1)
    run_dir = Path(tempfile.mkdtemp(prefix="fazt-soak-"))
    (run_dir / "logs").mkdir()
    pidfile = Path(os.environ.get("FAZT_BENCH_PIDFILE", run_dir / "pids"))
    reg = procs.Registry(log_dir=run_dir / "logs", pidfile=pidfile)
    content = make_content(run_dir, args.seed)
    db = run_dir / "fazt.db"
    port = procs.free_port()
    proc = reg.start("fazt", [str(args.fazt_bin), "serve", "--db", str(db), "--listen", f"127.0.0.1:{port}"], cwd=run_dir)
    result: dict = {"run_dir": str(run_dir), "minutes": args.minutes, "warmup_s": warmup, "load_before": machine.loadavg()}
    try:
        procs.wait_port(port, proc, timeout=60)
        token = fazt.create_token(args.fazt_bin, db)
        fazt.deploy(port, token, STATIC, content["site_zip"])
        fazt.deploy(port, token, COUNTER, content["counter_zip"])
        zip0, files0 = content["churn"][0]
        fazt.deploy(port, token, CHURN, zip0)
        for name, data in content["files"].items():
            c = _conn(port)
            status, _, body = _get(c, "/" + name, f"{STATIC}.localhost")
            c.close()
            if status != 200 or body != data:
                raise RuntimeError(f"{name} is not served correctly before the run (status {status})")

        t0 = time.monotonic()
        deadline = t0 + duration
        ctx = multiprocessing.get_context("fork")
        workers = {
            "probe": (probe_worker, port, deadline, args.probe_ms, content["files"][SMALL]),
            "static": (static_worker, port, deadline, args.static_conns, content["files"], args.seed),
            "counter": (counter_worker, port, deadline),
            "hostile": (hostile_worker, port, deadline, args.seed, args.slow_drip, token),
        }
        ps = {}
        for name, (fn, *wargs) in workers.items():
            p = ctx.Process(target=_worker, args=(name, fn, run_dir, *wargs), daemon=True)
            p.start()
            ps[name] = p

        deploys = Tally()
        stop = threading.Event()
        dep = threading.Thread(
            target=deployer, args=(port, token, deadline, args.deploy_every, content["churn"], deploys, stop), daemon=True
        )
        dep.start()

        samples = [sample(proc.pid, t0)]
        last_print = 0.0
        died = None
        while time.monotonic() < deadline:
            time.sleep(min(args.sample_s, max(0.0, deadline - time.monotonic())))
            if proc.poll() is not None:
                died = f"fazt exited with code {proc.returncode} at {time.monotonic() - t0:.0f} s"
                break
            s = sample(proc.pid, t0)
            samples.append(s)
            if s["t"] - last_print >= 60 or s["t"] >= duration - 0.5:
                last_print = s["t"]
                print(
                    f"[soak] {s['t'] / 60:5.1f} min: RSS {s['rss_kb'] / 1024:.1f} MiB, "
                    f"threads {s['threads']}, fds {s['fds']}",
                    flush=True,
                )
        stop.set()
        dep.join(timeout=150)
        for name, p in ps.items():
            p.join(timeout=90)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
        res = {}
        for name in workers:
            f = run_dir / f"worker-{name}.json"
            res[name] = json.loads(f.read_text()) if f.exists() else {"crashed": "no result (killed or hung)"}

        # The server after the traffic: still healthy, stops cleanly on SIGTERM, intact db.
        after = {"health": None}
        if proc.poll() is None:
            try:
                c = _conn(port)
                status, _, body = _get(c, "/health", "localhost")
                c.close()
                after["health"] = f"{status} {body.decode(errors='replace')[:40]}"
            except (OSError, http.client.HTTPException) as e:
                after["health"] = repr(e)
            after["rss_after_traffic_kb"] = procs.status_kb(proc.pid, "VmRSS")
            proc.send_signal(15)
            try:
                after["exit_code"] = proc.wait(timeout=30)
            except Exception:  # noqa: BLE001
                after["exit_code"] = "did not stop within 30 s of SIGTERM"
        reg.stop(proc)
        try:
            with sqlite3.connect(db) as c:
                after["integrity_check"] = c.execute("PRAGMA integrity_check").fetchone()[0]
        except sqlite3.Error as e:
            after["integrity_check"] = repr(e)
        after["db_bytes"] = sum(p.stat().st_size for p in run_dir.glob("fazt.db*"))
        log = (run_dir / "logs" / "fazt.log").read_text(errors="replace")
        after["log_lines"] = log.count("\n")
        after["log_panics"] = [ln for ln in log.splitlines() if "panic" in ln.lower()][:MAX_EXAMPLES]
        after["log_errors"] = sum(1 for ln in log.splitlines() if " ERROR " in ln)
        after["log_error_examples"] = [ln[:300] for ln in log.splitlines() if " ERROR " in ln][:MAX_EXAMPLES]

        result.update(
            samples=samples,
            workers=res,
            deploys=deploys.to_dict(),
            after=after,
            died=died,
            duration_s=time.monotonic() - t0,
            t0=t0,
        )
    finally:
        reg.stop_all()
    return result


# --------------------------------------------------------------------------- report


def summarize(r: dict) -> dict:
    samples = r["samples"]
    warm = next((s for s in samples if s["t"] >= r["warmup_s"]), samples[-1])
    # The end: the last sample taken while the traffic was still running.
    end = samples[-1]
    growth = (end["rss_kb"] - warm["rss_kb"]) / warm["rss_kb"] if warm["rss_kb"] else None
    probe = r["workers"].get("probe", {})
    lat = [ms for _, ms in probe.get("samples", [])]
    t0 = r["t0"]
    by_min: dict[int, list[float]] = {}
    last_min = max(0, int((r["minutes"] * 60 - 1e-3) // 60))
    for t, ms in probe.get("samples", []):
        by_min.setdefault(min(last_min, int((t - t0) // 60)), []).append(ms)
    errors: Counter[str] = Counter()
    for w in [*r["workers"].values(), r["deploys"]]:
        errors.update(w.get("errors", {}))
        if "crashed" in w:
            errors["worker crashed"] += 1
    return {
        "warm": warm,
        "end": end,
        "growth": growth,
        "within_20": growth is not None and abs(growth) <= 0.20,
        "p50": pct(lat, 50),
        "p99": pct(lat, 99),
        "max": max(lat) if lat else None,
        "probe_n": len(lat),
        "by_min": {m: (pct(v, 50), pct(v, 99), len(v)) for m, v in sorted(by_min.items())},
        "errors": errors,
    }


def _mib(kb: int) -> str:
    return f"{kb / 1024:.1f} MiB"


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f} ms"


def report(r: dict, args: argparse.Namespace, binary_desc: str) -> str:
    s = summarize(r)
    w, e = s["warm"], s["end"]
    after = r["after"]
    mins = r["duration_s"] / 60
    growth = "—" if s["growth"] is None else f"{100 * s['growth']:+.1f} %"
    lines = [
        "# fazt soak",
        "",
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}: **{mins:.1f} minutes** of mixed traffic "
        f"against one fazt process (`bench/soak.sh --minutes {args.minutes:g}`).",
        "",
        f"- binary: {binary_desc}",
        f"- machine: {machine_line(r['load_before'])}",
        f"- traffic: well-behaved client every {args.probe_ms:g} ms; static load on {args.static_conns} keep-alive "
        f"connections; the Counter; a deploy every {args.deploy_every:g} s; {args.slow_drip} slow-drip connections "
        "and 2 hostile clients (CRLF floods, pipelined floods, oversized headers, bad chunked bodies, random bytes, "
        "requests, uploads and downloads abandoned midway). All on 127.0.0.1.",
        "",
        "## Result",
        "",
        "| figure | value |",
        "|---|---|",
        f"| RSS after warm-up ({w['t']:.0f} s) | {_mib(w['rss_kb'])} |",
        f"| RSS at the end ({e['t']:.0f} s) | {_mib(e['rss_kb'])} |",
        f"| end vs warm-up | {growth} — "
        f"**{'within' if s['within_20'] else 'NOT within'} 20 %** |",
        f"| peak RSS (VmHWM) | {_mib(e['hwm_kb'])} |",
        f"| threads, open fds (warm-up → end) | {w['threads']} → {e['threads']}, {w['fds']} → {e['fds']} |",
        f"| server CPU | {e['cpu_s']:.0f} s over {e['t']:.0f} s ({100 * e['cpu_s'] / max(e['t'], 1):.0f} % of one core) |",
        f"| static serving, well-behaved client: p50 / p99 / max | {_ms(s['p50'])} / {_ms(s['p99'])} / {_ms(s['max'])} "
        f"({s['probe_n']:,} requests) |",
        f"| errors seen by well-behaved clients, the Counter and deploys | {sum(s['errors'].values())} |",
        f"| server died during the run | {r['died'] or 'no'} |",
        f"| after the run: `/health`, exit on SIGTERM, `integrity_check` | {after.get('health')}, "
        f"{after.get('exit_code')}, {after.get('integrity_check')} |",
        f"| server log: lines, ERROR lines, panics | {after.get('log_lines')}, {after.get('log_errors')}, "
        f"{len(after.get('log_panics', []))} |",
        f"| fazt.db size at the end | {after.get('db_bytes', 0) / 1e6:.1f} MB |",
        "",
    ]
    if s["errors"]:
        lines += ["### Errors", "", "| kind | count | examples |", "|---|---|---|"]
        examples: dict[str, list[str]] = {}
        for wk in [*r["workers"].values(), r["deploys"]]:
            for k, v in wk.get("examples", {}).items():
                examples.setdefault(k, []).extend(v)
        for k, n in s["errors"].most_common():
            ex = "; ".join(examples.get(k, [])[:2]).replace("|", "\\|")
            lines.append(f"| {k} | {n} | {ex} |")
        lines.append("")
        for name, wk in r["workers"].items():
            if "crashed" in wk:
                lines += [f"Worker `{name}` crashed:", "", "```", wk["crashed"].strip(), "```", ""]
    if after.get("log_error_examples") or after.get("log_panics"):
        lines += ["Server log lines:", "", "```", *after.get("log_panics", []), *after["log_error_examples"], "```", ""]

    lines += ["## Traffic served", "", "| what | count |", "|---|---|"]
    counts: Counter[str] = Counter()
    for wk in [*r["workers"].values(), r["deploys"]]:
        counts.update(wk.get("counts", {}))
    for k in sorted(counts):
        lines.append(f"| {k} | {counts[k]:,} |")
    last = r["workers"].get("counter", {}).get("last_count")
    lines += [f"| Counter's last count | {last if last is not None else '—'} |", ""]

    lines += [
        "## Over time",
        "",
        "| minute | RSS | threads | fds | probe p50 | probe p99 | probe requests |",
        "|---|---|---|---|---|---|---|",
    ]
    by_sample: dict[int, dict] = {}
    last_min = max(0, int((r["minutes"] * 60 - 1e-3) // 60))
    for smp in r["samples"]:
        by_sample[min(last_min, int(smp["t"] // 60))] = smp  # last sample of each minute
    for m in sorted(set(by_sample) | set(s["by_min"])):
        smp = by_sample.get(m)
        p50, p99, n = s["by_min"].get(m, (None, None, 0))
        lines.append(
            f"| {m + 1} | {_mib(smp['rss_kb']) if smp else '—'} | {smp['threads'] if smp else '—'} | "
            f"{smp['fds'] if smp else '—'} | {_ms(p50)} | {_ms(p99)} | {n:,} |"
        )
    lines += [
        "",
        "RSS is the server's `VmRSS` (/proc/PID/status), sampled every "
        f"{args.sample_s:g} s; \"after warm-up\" is the first sample at or after {r['warmup_s']:.0f} s "
        "(10 % of the run, at most 120 s, unless `--warmup-s`); \"the end\" is the last sample taken while the "
        "traffic still ran. Latency is measured by the Python client itself (it shares the 2 cores with the "
        "load generators and the server), so it is an upper bound of what fazt adds. Nothing here is a "
        "pass/fail test; `bench/soak.sh` exits non-zero only if the server died or the run could not start.",
        "",
    ]
    return "\n".join(lines)


def machine_line(load_before: str) -> str:
    m = machine.info()
    return (
        f"{m['cpu']}, {m['cores']} cores, {m['arch']}, {m['os']}, kernel {m['kernel']}, {m['mem_mib']} MiB; "
        f"load average before the run {load_before}, after {machine.loadavg()}"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.fazt_bin.is_file():
        print(f"[soak] no fazt binary at {args.fazt_bin}")
        return 2
    print(f"[soak] {args.minutes:g} minutes against {args.fazt_bin}", flush=True)
    r = run(args)
    if "samples" not in r:
        print("[soak] the run did not start")
        return 1
    size = args.fazt_bin.stat().st_size
    desc = f"`{args.fazt_bin}` ({size / 1024 / 1024:.2f} MiB)"
    md = report(r, args, desc)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(md)
    (args.out.with_suffix(".json")).write_text(json.dumps({k: v for k, v in r.items() if k != "workers"} | {
        "workers": {k: {kk: vv for kk, vv in v.items() if kk != "samples"} for k, v in r["workers"].items()}
    }, indent=1))
    s = summarize(r)
    print(
        f"[soak] RSS warm-up {_mib(s['warm']['rss_kb'])} -> end {_mib(s['end']['rss_kb'])} "
        f"({'within' if s['within_20'] else 'NOT within'} 20 %); probe p50 {_ms(s['p50'])}, p99 {_ms(s['p99'])}; "
        f"errors {sum(s['errors'].values())}; report {args.out}",
        flush=True,
    )
    if not args.keep:
        import shutil

        shutil.rmtree(r["run_dir"], ignore_errors=True)
    else:
        print(f"[soak] run directory kept: {r['run_dir']}")
    return 1 if r.get("died") else 0


if __name__ == "__main__":
    raise SystemExit(main())
