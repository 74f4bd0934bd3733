"""Backup (issue 14): what a snapshot of a ~200 MB fazt.db costs the service that keeps
running meanwhile, and whether a slow download pins the WAL.

Run through `bench/backup.sh` (which builds or takes the release binary and runs
`python -m harness.backup` from `bench/`); `--help` lists the options. On demand, not part
of the test suite or of `run.sh`.

One fazt process (`--max-upload-mb` raised to fit the filler sites) gets the soak's static
site (`bench`: 1 KiB page, 50 KiB text, 1 MiB file) and Counter (`counter`: a `main.js`
that reads and writes a KV key per request), then filler sites of incompressible files
deployed through the real API until the database holds `--db-mb` MB (page_count ×
page_size); the first filler site also holds a 10 MiB file for the slow reader. Then, in
phases of `--window-s` seconds each, all on 127.0.0.1, with fresh client processes per
phase:

- clients: the soak's well-behaved client (one keep-alive connection, a GET of the 1 KiB
  page every `--probe-ms`, body checked), paced static load (`--load-conns` connections,
  each a GET every `--load-ms`: 1 KiB / 50 KiB gzip / 1 MiB, 80/15/5), and the Counter
  (one connection, a request every `--counter-ms`, each count higher than the one before);
  their latencies give p50/p99 per phase;
- phases: `baseline`; `backup-cli` (`fazt backup --db DB --to DIR` back to back, each
  started as soon as the one before ended, from the window's start until its end, so every
  request of the window is served while a snapshot is being made; each in a session of its
  own, as from cron); `baseline-after` (the same as the first, for drift; ratios are against
  both together); the variants `backup-cli-nice19` (at nice 19, process and autogroup),
  `backup-cli-spaced` (one every `--gap-s`), `backup-cli-tmpfs` (into /dev/shm: no disk
  writeback) and the control `cpu-hog` (no backup, one process spinning on a core);
  `backup-api` (`GET /api/system/backup` downloads back to back, the snapshot made inside
  the server and streamed to curl) and its control `download-10mib` (the 10 MiB static
  file, back to back); requests are also split by whether they were sent during a
  snapshot (or, for downloads, before the first byte or while streaming);
- `slow-reader` (`--slow-s`): a client reads the 10 MiB file at `--slow-rate` B/s (a
  16 KiB receive buffer) while the Counter writes; `fazt.db-wal`'s size is sampled every
  second. The whole file would take 17 minutes at 10 KB/s; only the window is measured.
- `pinned-reader` (`--pin-s`, the control): the same Counter writes while a plain SQLite
  read transaction is held open on fazt.db, which is what a download holding its read
  transaction would do to the WAL.

The WAL is also sampled every 0.5 s in every phase. Results: `--out` (markdown, default
`results/backup.md`) and the same name with `.json`; `--methods-json` adds the in-process
comparison of `kernel/examples/snapshot_methods.rs` to the report.
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
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

from . import fazt, machine, procs
from .soak import COUNT_RE, COUNTER, MIB, SMALL, STATIC, TEXT, Tally, _conn, _get, _worker, pct
from .soak import make_content as soak_content
from .soak import probe_worker

FILLER = "filler"
BIG = "big10m.bin"
FILE_MB = 1  # filler files are 1 MiB each
GOAL_RATIO = 2.0  # issue 14: serving and Counter p99 during a backup within 2x of baseline
# Runs "$@" at niceness $0, its session's autogroup first set to the same value (allowed
# without privileges when it lowers the priority).
LOW_PRIORITY = 'echo "$0" > /proc/self/autogroup 2>/dev/null; exec nice -n "$0" "$@"'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fazt-bin", type=Path, help="the fazt binary (release build)")
    p.add_argument("--report-from", type=Path, help="only redraw the markdown report from this JSON of a run")
    p.add_argument("--db-mb", type=float, default=200, help="database size to build, MB (default 200)")
    p.add_argument("--site-mb", type=int, default=50, help="MiB of files per filler site (default 50)")
    p.add_argument("--window-s", type=float, default=20, help="length of each measured phase (default 20 s)")
    p.add_argument("--warmup-s", type=float, default=1, help="client warm-up before each window (default 1 s)")
    p.add_argument("--probe-ms", type=float, default=5, help="well-behaved client: one GET every N ms (default 5)")
    p.add_argument("--load-conns", type=int, default=2, help="paced static load connections (default 2)")
    p.add_argument("--load-ms", type=float, default=5, help="each load connection: one GET every N ms (default 5)")
    p.add_argument("--counter-ms", type=float, default=10, help="the Counter: one request every N ms (default 10)")
    p.add_argument("--slow-s", type=float, default=60, help="slow-reader window (default 60 s)")
    p.add_argument("--slow-rate", type=int, default=10_240, help="slow reader's bytes per second (default 10240)")
    p.add_argument("--pin-s", type=float, default=30, help="pinned-reader control window (default 30 s; 0 = skip)")
    p.add_argument("--no-api", action="store_true", help="skip the GET /api/system/backup phase")
    p.add_argument(
        "--no-variants",
        action="store_true",
        help="skip the variant and control phases (nice19, spaced, tmpfs, cpu-hog, download-10mib)",
    )
    p.add_argument("--gap-s", type=float, default=2, help="backup-cli-spaced: seconds between snapshots (default 2)")
    p.add_argument("--methods-json", type=Path, help="snapshot_methods example output to include in the report")
    p.add_argument("--seed", type=int, default=14, help="seed for the generated content (default 14)")
    p.add_argument("--out", type=Path, default=Path("results/backup.md"), help="markdown report")
    p.add_argument("--keep", action="store_true", help="keep the run directory (server log, fazt.db, snapshots)")
    return p.parse_args(argv)


# --------------------------------------------------------------------------- content


def filler_zip(path: Path, rng: random.Random, mib: int, big: bool) -> int:
    """A site of `mib` 1 MiB files of random bytes (STORED, as zip tools do with what does not
    shrink), plus the slow reader's 10 MiB file when `big`; returns the bytes of content."""
    total = 0
    with zipfile.ZipFile(path, "w") as z:
        for i in range(mib // FILE_MB):
            data = rng.randbytes(FILE_MB << 20)
            z.writestr(zipfile.ZipInfo(f"data/{i:04}.bin", date_time=(2026, 1, 1, 0, 0, 0)), data)
            total += len(data)
        if big:
            data = rng.randbytes(10 << 20)
            z.writestr(zipfile.ZipInfo(BIG, date_time=(2026, 1, 1, 0, 0, 0)), data)
            total += len(data)
    return total


def db_bytes(db: Path) -> int:
    """The database's size as SQLite sees it (pages in the file and the WAL), without WAL
    frames that only repeat a page."""
    if not db.exists():
        return 0
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return c.execute("PRAGMA page_count").fetchone()[0] * c.execute("PRAGMA page_size").fetchone()[0]
    finally:
        c.close()


def truncate_wal(db: Path) -> str:
    """`PRAGMA wal_checkpoint(TRUNCATE)` from a connection of our own, so that the WAL file's
    size during the next phase is that phase's own high-water mark (SQLite never shrinks a
    WAL below fazt's journal_size_limit of 8 MiB otherwise)."""
    c = sqlite3.connect(db, timeout=10, isolation_level=None)
    try:
        for _ in range(20):
            busy, log, done = c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                return f"ok ({log} frames)"
            time.sleep(0.2)
        return f"busy ({log} frames, {done} copied)"
    finally:
        c.close()


def wal_path(db: Path) -> Path:
    return db.with_name(db.name + "-wal")


def wal_size(db: Path) -> int:
    try:
        return wal_path(db).stat().st_size
    except OSError:
        return 0


# --------------------------------------------------------------------------- clients


def paced_gets(port: int, deadline: float, every_ms: float, pick, check) -> dict:
    """One keep-alive connection, one request every `every_ms` (no catching up after a slow
    answer); `pick()` gives (path, host, headers), `check(status, headers, body)` an error or
    None. Returns the Tally and (monotonic time, latency ms) of every correct answer."""
    t = Tally()
    samples: list[tuple[float, float]] = []
    conn = _conn(port)
    nxt = time.monotonic()
    while time.monotonic() < deadline:
        path, host, hdrs = pick()
        t0 = time.perf_counter()
        try:
            status, h, body = _get(conn, path, host, hdrs)
            problem = check(status, h, body)
        except (OSError, http.client.HTTPException, EOFError) as e:
            conn.close()
            conn = _conn(port)
            if not isinstance(e, http.client.RemoteDisconnected):
                t.error("connection", f"{path}: {e!r}")
            continue
        if problem:
            t.error("wrong answer", f"{path}: {problem}")
        else:
            samples.append((time.monotonic(), (time.perf_counter() - t0) * 1000))
            t.ok(f"GET {host}{path}")
        nxt += every_ms / 1000
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            nxt = time.monotonic()
    conn.close()
    return {**t.to_dict(), "samples": samples}


def counter_worker(port: int, deadline: float, every_ms: float) -> dict:
    """The Counter at a fixed pace: every count must be higher than the one before."""
    last = [None]

    def check(status: int, _h: dict, body: bytes) -> str | None:
        m = COUNT_RE.search(body)
        if status != 200 or not m:
            return f"status {status}: {body[:80]!r}"
        n = int(m.group(1))
        if last[0] is not None and n <= last[0]:
            return f"count did not increase: {last[0]} then {n}"
        last[0] = n
        return None

    out = paced_gets(port, deadline, every_ms, lambda: ("/", f"{COUNTER}.localhost", {}), check)
    return {**out, "last_count": last[0]}


def load_worker(port: int, deadline: float, conns: int, every_ms: float, files: dict[str, bytes], seed: int) -> dict:
    """Paced static load: `conns` connections, each a GET every `every_ms` of the 1 KiB page,
    the 50 KiB text (gzip) or the 1 MiB file (80/15/5), bodies checked."""
    results: list[dict] = [{} for _ in range(conns)]

    def one(i: int) -> None:
        rng = random.Random(seed * 100 + i)
        chosen = [SMALL]

        def pick():
            chosen[0] = rng.choices([SMALL, TEXT, MIB], weights=[80, 15, 5])[0]
            hdrs = {"Accept-Encoding": "gzip"} if chosen[0] == TEXT else {}
            return "/" + chosen[0], f"{STATIC}.localhost", hdrs

        def check(status: int, h: dict, body: bytes) -> str | None:
            if h.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            return None if status == 200 and body == files[chosen[0]] else f"status {status}, {len(body)} bytes"

        results[i] = paced_gets(port, deadline, every_ms, pick, check)

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(conns)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=max(0, deadline - time.monotonic()) + 30)
    merged = Tally()
    samples: list[tuple[float, float]] = []
    for r in results:
        for k, v in r.get("counts", {}).items():
            merged.ok(k, v)
        for k, v in r.get("errors", {}).items():
            merged.errors[k] += v
        for k, v in r.get("examples", {}).items():
            merged.examples.setdefault(k, []).extend(v)
        samples += r.get("samples", [])
    return {**merged.to_dict(), "samples": samples}


def slow_reader(port: int, host: str, path: str, rate: int, seconds: float) -> dict:
    """GET `path` and read the answer at `rate` bytes/s for `seconds` (then hang up)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)  # a small window, as a slow link
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    t0, got, head = time.monotonic(), 0, b""
    while (el := time.monotonic() - t0) < seconds:
        allowed = int(rate * el) - got
        if allowed < 1024:
            time.sleep(0.05)
            continue
        try:
            data = s.recv(min(allowed, 4096))
        except OSError as e:
            return {"bytes": got, "seconds": el, "status": head[:40].decode(errors="replace"), "error": repr(e)}
        if not data:
            break
        if len(head) < 64:
            head += data[: 64 - len(head)]
        got += len(data)
    el = time.monotonic() - t0
    s.close()
    status = head.split(b"\r\n", 1)[0].decode(errors="replace")
    return {"bytes": got, "seconds": el, "status": status, "rate": got / el if el else 0}


# --------------------------------------------------------------------------- phases


class WalSampler(threading.Thread):
    """`fazt.db-wal`'s size every `interval` seconds, with the time it was read."""

    def __init__(self, db: Path, interval: float):
        super().__init__(daemon=True)
        self.db, self.interval = db, interval
        self.samples: list[tuple[float, int]] = []
        self._stop_evt = threading.Event()

    def run(self) -> None:
        while not self._stop_evt.is_set():
            self.samples.append((time.monotonic(), wal_size(self.db)))
            self._stop_evt.wait(self.interval)

    def between(self, a: float, b: float) -> list[int]:
        return [n for t, n in self.samples if a <= t <= b]

    def stop(self) -> None:
        self._stop_evt.set()
        self.join(timeout=5)


def run_backups(
    binary: Path, db: Path, out_dir: Path, until: float, nice: int | None = None, gap: float = 0
) -> list[dict]:
    """`fazt backup` until `until`, each `gap` seconds after the one before ended (0: back to
    back); the previous snapshot is deleted once the next one is complete (the last one is
    kept, for checking). Each runs in a session of its own, as one from cron or a timer
    would (with autogroup scheduling, CPU is shared between sessions first, so a backup in
    the clients' session would slow the clients rather than the server); with `nice`, at that
    niceness and with its session's autogroup at the same value."""
    runs: list[dict] = []
    prefix = [] if nice is None else ["sh", "-c", LOW_PRIORITY, str(nice)]
    while time.monotonic() < until:
        if runs and gap:
            time.sleep(min(gap, max(0.0, until - time.monotonic())))
            if time.monotonic() >= until:
                break
        t0 = time.monotonic()
        r = subprocess.run(
            [*prefix, *fazt.backup_cmd(binary, db, out_dir)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            start_new_session=True,
        )
        wall = time.monotonic() - t0
        line = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
        made = fazt.parse_backup(r.stdout)
        run = {"t0": t0, "t1": t0 + wall, "wall_s": wall, "exit": r.returncode, "line": line, "stderr": r.stderr[-300:]}
        if made:
            snap = Path(made["path"])
            run.update(made)
            run["bytes"] = snap.stat().st_size if snap.exists() else None
            for prev in runs:
                if prev.get("path") not in (None, str(snap)) and Path(prev["path"]).exists():
                    Path(prev["path"]).unlink()
        runs.append(run)
        if r.returncode != 0:
            break
    return runs


def cpu_hog(until: float) -> dict:
    """One process spinning on a core until `until`, in a session of its own: what any
    CPU-bound neighbour costs the service on this machine (the control for the copy)."""
    t0 = time.monotonic()
    code = f"import time\nend = time.monotonic() + {until - t0:.3f}\nwhile time.monotonic() < end:\n    pass\n"
    subprocess.run([sys.executable, "-c", code], timeout=until - t0 + 60, check=False, start_new_session=True)
    return {"seconds": time.monotonic() - t0}


def downloads(port: int, path: str, headers: list[str], out: Path, until: float) -> list[dict]:
    """GETs of `path` with curl (to `out`), back to back until `until`."""
    runs: list[dict] = []
    hdrs = [a for h in headers for a in ("-H", h)]
    while time.monotonic() < until:
        t0 = time.monotonic()
        r = subprocess.run(
            [
                "curl", "-sS", "-o", str(out), "--max-time", "600",
                "-w", "%{http_code} %{time_starttransfer} %{time_total} %{size_download}",
                *hdrs, f"http://127.0.0.1:{port}{path}",
            ],
            capture_output=True, text=True, timeout=700, check=False,
        )  # fmt: skip
        run = {"t0": t0, "t1": time.monotonic(), "exit": r.returncode, "stderr": r.stderr[-300:]}
        try:
            code, ttfb, total, size = r.stdout.split()
            run.update(status=int(code), ttfb_s=float(ttfb), total_s=float(total), bytes=int(size))
            if out.is_file():
                with open(out, "rb") as f:
                    run["sqlite_header"] = f.read(16) == b"SQLite format 3\0"
        except (ValueError, OSError):
            run["stdout"] = r.stdout[-200:]
        runs.append(run)
        if run.get("status") != 200:
            break
    if out.is_file():
        out.unlink()
    return runs


def lat_stats(samples: list[tuple[float, float]], a: float, b: float, spans=None, inside: bool = True) -> dict:
    """p50/p99/max of the samples taken between `a` and `b`; with `spans`, only those inside
    one of them (or, `inside=False`, outside all of them)."""
    v = [
        ms
        for t, ms in samples
        if a <= t <= b and (spans is None or any(x <= t <= y for x, y in spans) == inside)
    ]
    return {"n": len(v), "p50": pct(v, 50), "p99": pct(v, 99), "max": max(v) if v else None}


def spans_of(result) -> dict[str, list[tuple[float, float]]]:
    """When a phase's action was at work: each snapshot's run (CLI); for downloads, while the
    server made the snapshot (until the first byte) and while it streamed it."""
    if not isinstance(result, list) or not result:
        return {}
    if "ttfb_s" in result[0]:
        ok = [d for d in result if "ttfb_s" in d]
        return {
            "until the first byte": [(d["t0"], d["t0"] + d["ttfb_s"]) for d in ok],
            "streaming": [(d["t0"] + d["ttfb_s"], d["t1"]) for d in ok],
        }
    return {"in a snapshot": [(b["t0"], b["t1"]) for b in result]}


def phase(ctx, ph: str, window: float, args, port: int, db: Path, proc, content: dict, run_dir: Path, wal, action):
    """Starts fresh clients, lets them warm up, runs `action(window_end)` over the window
    (its result is kept), then collects the clients' latencies inside the window."""
    start = time.monotonic() + args.warmup_s
    end = start + window
    out = run_dir / ph
    out.mkdir()
    workers = {
        "probe": (probe_worker, port, end, args.probe_ms, content["files"][SMALL]),
        "counter": (counter_worker, port, end, args.counter_ms),
    }
    if ph not in ("slow-reader", "pinned-reader"):
        workers["load"] = (load_worker, port, end, args.load_conns, args.load_ms, content["files"], args.seed)
    wal_reset = truncate_wal(db)
    ps = {}
    for name, (fn, *wargs) in workers.items():
        p = ctx.Process(target=_worker, args=(name, fn, out, *wargs), daemon=True)
        p.start()
        ps[name] = p
    time.sleep(max(0.0, start - time.monotonic()))
    cpu0, busy0 = procs.tree_cpu_seconds(proc.pid), sum(procs.cpu_busy_seconds().values())
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = action(end) if action else None
    now = time.monotonic()
    time.sleep(max(0.0, end - now))
    cpu1, busy1 = procs.tree_cpu_seconds(proc.pid), sum(procs.cpu_busy_seconds().values())
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    act_end = max(now, end)
    for p in ps.values():
        p.join(timeout=60)
        if p.is_alive():
            p.terminate()
    res = {}
    for name in workers:
        f = out / f"worker-{name}.json"
        res[name] = json.loads(f.read_text()) if f.exists() else {"crashed": "no result (killed or hung)"}
    walv = wal.between(start, act_end)
    sub = {}
    for label, spans in spans_of(result).items():
        sub[label] = {k: lat_stats(r.get("samples", []), start, end, spans) for k, r in res.items()}
        if label == "in a snapshot":
            sub["between snapshots"] = {
                k: lat_stats(r.get("samples", []), start, end, spans, inside=False) for k, r in res.items()
            }
    return {
        "phase": ph,
        "window_s": window,
        "lat": {k: lat_stats(r.get("samples", []), start, end) for k, r in res.items()},
        "sub": sub,
        # Kept in memory for the pooled baseline, left out of the JSON.
        "_samples": {k: [x for x in r.get("samples", []) if start <= x[0] <= end] for k, r in res.items()}
        if ph.startswith("baseline")
        else None,
        "errors": {k: r.get("errors", {}) for k, r in res.items()},
        "examples": {k: r.get("examples", {}) for k, r in res.items()},
        "crashed": {k: r["crashed"] for k, r in res.items() if "crashed" in r},
        "last_count": res["counter"].get("last_count"),
        "counter_ok": res["counter"].get("counts", {}).get(f"GET {COUNTER}.localhost/", 0),
        "fazt_cpu_s": cpu1 - cpu0,
        "machine_busy_s": busy1 - busy0,
        "children_cpu_s": (kids1.ru_utime + kids1.ru_stime) - (kids0.ru_utime + kids0.ru_stime),
        "wall_s": act_end - start,
        "wal_reset": wal_reset,
        "wal_max": max(walv, default=0),
        "wal_final": walv[-1] if walv else wal_size(db),
        "wal_series": [(round(t - start, 1), n) for t, n in wal.samples if start <= t <= act_end],
        "action": result,
    }


def pin_read(db: Path, seconds: float) -> dict:
    """Holds one read transaction on `db` for `seconds` (what a download that kept its BLOB
    handle open would do)."""
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None, timeout=10)
    c.execute("BEGIN")
    c.execute("SELECT COUNT(*) FROM kv_store").fetchone()
    t0 = time.monotonic()
    time.sleep(seconds)
    c.execute("COMMIT")
    c.close()
    return {"held_s": time.monotonic() - t0}


# --------------------------------------------------------------------------- the run


def build_db(args, port: int, token: str, db: Path, run_dir: Path, rng: random.Random) -> dict:
    """Filler sites deployed through the API until fazt.db (+ WAL) holds `--db-mb` MB."""
    deploys = []
    i = 0
    while db_bytes(db) < args.db_mb * 1e6:
        z = run_dir / f"{FILLER}{i}.zip"
        left_mib = max(1, int((args.db_mb * 1e6 - db_bytes(db)) / (1 << 20)) + 1)
        mib = min(args.site_mb, left_mib)
        content_bytes = filler_zip(z, rng, mib, big=(i == 0))
        secs = fazt.deploy(port, token, f"{FILLER}{i}", z)
        deploys.append({"site": f"{FILLER}{i}", "zip_bytes": z.stat().st_size, "bytes": content_bytes, "seconds": secs})
        z.unlink()
        i += 1
    return {"deploys": deploys, "db_bytes": db_bytes(db), "file_bytes": db.stat().st_size, "wal_bytes": wal_size(db)}


def check_snapshot(path: Path) -> dict:
    """What the last CLI snapshot holds: sites, files, bytes, the Counter's value."""
    c = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        sites, files, size = c.execute("SELECT COUNT(DISTINCT site_id), COUNT(*), SUM(size_bytes) FROM files").fetchone()
        count = c.execute("SELECT value FROM kv_store WHERE site_id = ? AND key = 'count'", (COUNTER,)).fetchone()
        return {"sites": sites, "files": files, "bytes": size, "count": count[0] if count else None}
    finally:
        c.close()


def run(args: argparse.Namespace) -> dict:
    run_dir = Path(tempfile.mkdtemp(prefix="fazt-backup-"))
    (run_dir / "logs").mkdir()
    snaps = run_dir / "snapshots"
    snaps.mkdir()
    pidfile = Path(os.environ.get("FAZT_BENCH_PIDFILE", run_dir / "pids"))
    reg = procs.Registry(log_dir=run_dir / "logs", pidfile=pidfile)
    content = soak_content(run_dir, args.seed)
    db = run_dir / "fazt.db"
    port = procs.free_port()
    # Room for one filler site's ZIP (its files are stored, not compressed).
    proc = reg.start("fazt", fazt.serve_cmd(args.fazt_bin, db, port, max(100, args.site_mb + 16)), cwd=run_dir)
    result: dict = {"run_dir": str(run_dir), "load_before": machine.loadavg()}
    wal = WalSampler(db, 0.5)
    # Snapshots into memory (no disk writeback), to tell the copy's CPU from its I/O.
    shm = Path(tempfile.mkdtemp(prefix="fazt-backup-", dir="/dev/shm")) if os.access("/dev/shm", os.W_OK) else None
    try:
        procs.wait_port(port, proc, timeout=60)
        token = fazt.create_token(args.fazt_bin, db)
        fazt.deploy(port, token, STATIC, content["site_zip"])
        fazt.deploy(port, token, COUNTER, content["counter_zip"])
        t0 = time.monotonic()
        built = build_db(args, port, token, db, run_dir, random.Random(args.seed))
        built["seconds"] = time.monotonic() - t0
        print(f"[backup] database built: {built['db_bytes'] / 1e6:.0f} MB in {built['seconds']:.0f} s", flush=True)
        wal.start()
        ctx = multiprocessing.get_context("fork")
        w = args.window_s
        phases = [
            ("baseline", w, None),
            ("backup-cli", w, lambda end: run_backups(args.fazt_bin, db, snaps, end)),
            ("baseline-after", w, None),
        ]
        big_host = f"{FILLER}0.localhost"
        if not args.no_variants:
            phases += [
                ("backup-cli-nice19", w, lambda end: run_backups(args.fazt_bin, db, snaps, end, nice=19)),
                ("backup-cli-spaced", w, lambda end: run_backups(args.fazt_bin, db, snaps, end, gap=args.gap_s)),
            ]
            if shm:
                phases.append(("backup-cli-tmpfs", w, lambda end: run_backups(args.fazt_bin, db, shm, end)))
            phases.append(("cpu-hog", w, cpu_hog))
        if not args.no_api:
            auth, api = fazt.admin_headers(token), run_dir / "api.db"
            phases.append(("backup-api", w, lambda end: downloads(port, fazt.BACKUP_API, auth, api, end)))
        if not args.no_variants:
            big = ["Host: " + big_host]
            phases.append(("download-10mib", w, lambda end: downloads(port, "/" + BIG, big, Path(os.devnull), end)))
        def slow(end: float) -> dict:
            return slow_reader(port, big_host, "/" + BIG, args.slow_rate, end - time.monotonic())

        phases.append(("slow-reader", args.slow_s, slow))
        if args.pin_s > 0:
            phases.append(("pinned-reader", args.pin_s, lambda end: pin_read(db, end - time.monotonic())))
        out = []
        for name, window, action in phases:
            if proc.poll() is not None:
                raise RuntimeError(f"fazt exited with code {proc.returncode} before phase {name}")
            print(f"[backup] phase {name}", flush=True)
            r = phase(ctx, name, window, args, port, db, proc, content, run_dir, wal, action)
            out.append(r)
            lat = r["lat"]
            print(
                f"[backup]   probe p50/p99 {fmt_ms(lat['probe']['p50'])}/{fmt_ms(lat['probe']['p99'])}, "
                f"counter p50/p99 {fmt_ms(lat['counter']['p50'])}/{fmt_ms(lat['counter']['p99'])}, "
                f"WAL max {r['wal_max'] / 1e6:.1f} MB",
                flush=True,
            )
            time.sleep(1)
        wal.stop()
        cli = next(p for p in out if p["phase"] == "backup-cli")["action"]
        last = next((b["path"] for b in reversed(cli) if b.get("path") and Path(b["path"]).exists()), None)
        after: dict = {"snapshot": check_snapshot(Path(last)) if last else None}
        proc.send_signal(15)
        try:
            after["exit_code"] = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            after["exit_code"] = "did not stop within 30 s of SIGTERM"
        reg.stop(proc)
        after["live"] = check_snapshot(db)
        with sqlite3.connect(db) as c:
            after["integrity_check"] = c.execute("PRAGMA integrity_check").fetchone()[0]
        result.update(
            built=built,
            phases=out,
            after=after,
            load_after=machine.loadavg(),
            machine=machine.info(),
            autogroup=autogroup_on(),
            finished_utc=f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
        )
    except BaseException:
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    finally:
        if wal.is_alive():
            wal.stop()
        reg.stop_all()
        if shm:
            shutil.rmtree(shm, ignore_errors=True)
    return result


# --------------------------------------------------------------------------- report


def fmt_ms(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}"


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def fmt_ratio(r: float | None, goal: bool = False) -> str:
    if r is None:
        return "—"
    return f"{r:.2f}×" + ((" ✓" if r <= GOAL_RATIO else " ✗") if goal else "")


def fmt_range(v: list[float] | None) -> str:
    return "—" if not v else f"{min(v):.2f}–{max(v):.2f} s"


def median(v: list[float]) -> float | None:
    return sorted(v)[len(v) // 2] if v else None


def pooled_baseline(r: dict) -> dict:
    """Latency over both windows without a backup (`baseline` and `baseline-after`), so one
    noisy window moves the ratios less."""
    pooled: dict[str, list] = {}
    for p in r["phases"]:
        for k, v in (p.get("_samples") or {}).items():
            pooled.setdefault(k, []).extend(v)
    return {k: lat_stats(v, float("-inf"), float("inf")) for k, v in pooled.items()}


def summarize(r: dict) -> dict:
    base = r.get("baseline") or pooled_baseline(r)
    s: dict = {"baseline": base, "ratios": {}, "sub_ratios": {}, "backups": {}}
    for p in r["phases"]:
        if p["phase"].startswith("baseline"):
            continue
        s["ratios"][p["phase"]] = {
            k: {q: ratio(v[q], base[k][q]) for q in ("p50", "p99")} for k, v in p["lat"].items() if k in base
        }
        s["sub_ratios"][p["phase"]] = {
            label: {k: ratio(v["p99"], base[k]["p99"]) for k, v in lat.items() if k in base}
            for label, lat in p["sub"].items()
        }
        runs = p["action"] if isinstance(p["action"], list) else []
        done = [b for b in runs if b.get("secs") or b.get("status") == 200]
        if done and p["phase"].startswith("backup"):
            secs = [b["secs"] if "secs" in b else b["total_s"] for b in done]
            size = done[-1]["bytes"]
            s["backups"][p["phase"]] = {
                "runs": len(runs),
                "failed": len(runs) - len(done),
                "secs": secs,
                "median_s": median(secs),
                "bytes": size,
                "mb_per_s": size / 1e6 / median(secs) if size and median(secs) else None,
                "ttfb_median_s": median([b["ttfb_s"] for b in done if "ttfb_s" in b]),
            }
    return s


def report(r: dict, args: argparse.Namespace, binary_desc: str, methods: dict | None) -> str:
    s = summarize(r)
    m = r.get("machine") or machine.info()
    ph = {p["phase"]: p for p in r["phases"]}
    b = r["built"]
    cli = s["backups"].get("backup-cli", {})
    api = s["backups"].get("backup-api")
    med, mbps = cli.get("median_s"), cli.get("mb_per_s")
    cli_r = s["ratios"].get("backup-cli", {})
    lines = [
        "# fazt backup benchmark",
        "",
        f"{r.get('finished_utc', '?')} (`bench/backup.sh`, issue 14).",
        "",
        f"- binary: {binary_desc}",
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['arch']}, {m['os']}, kernel {m['kernel']}, "
        f"{m['mem_mib']} MiB; load average before the run {r['load_before']}, after {r.get('load_after', '?')}",
        f"- database: {b['db_bytes'] / 1e6:.0f} MB (page_count × page_size) — the static site, the Counter and "
        f"{len(b['deploys'])} filler sites of {sum(d['bytes'] for d in b['deploys']) / 1e6:.0f} MB of random "
        f"1 MiB files, deployed through the API in {b['seconds']:.0f} s",
        f"- clients (fresh per phase, {args.warmup_s:g} s warm-up discarded): well-behaved client GET of the 1 KiB "
        f"page every {args.probe_ms:g} ms; static load {args.load_conns} × a GET every {args.load_ms:g} ms "
        f"(1 KiB / 50 KiB gzip / 1 MiB); the Counter every {args.counter_ms:g} ms (a KV read + write per request). "
        "All on 127.0.0.1, nothing pinned: server, clients and the backup share the 2 cores.",
        "",
        "## Result",
        "",
        "| figure | value |",
        "|---|---|",
        f"| snapshot (`fazt backup --to DIR`) of the {b['db_bytes'] / 1e6:.0f} MB database | "
        f"{'—' if med is None else f'{med:.2f} s'} (median of {len(cli.get('secs', []))} back to back; "
        f"{fmt_range(cli.get('secs'))}) |",
        f"| snapshot speed | {'—' if mbps is None else f'{mbps:.0f} MB/s'} (snapshot bytes / the duration "
        "`fazt backup` prints: VACUUM INTO + integrity_check + fsync) |",
        f"| snapshot size | {(cli.get('bytes') or 0) / 1e6:.1f} MB |",
        f"| static p99 during / without backup (`backup-cli`) | {fmt_ratio(cli_r.get('probe', {}).get('p99'), True)} "
        f"({fmt_ms(ph['backup-cli']['lat']['probe']['p99'])} vs {fmt_ms(s['baseline']['probe']['p99'])} ms; "
        f"goal ≤ {GOAL_RATIO:g}×) |",
        f"| Counter p99 during / without backup (`backup-cli`) | "
        f"{fmt_ratio(cli_r.get('counter', {}).get('p99'), True)} ({fmt_ms(ph['backup-cli']['lat']['counter']['p99'])} "
        f"vs {fmt_ms(s['baseline']['counter']['p99'])} ms; goal ≤ {GOAL_RATIO:g}×) |",
    ]
    if api:
        a = next(d for d in ph["backup-api"]["action"] if d.get("status") == 200)
        lines.append(
            f"| `GET /api/system/backup` | first download {a['total_s']:.2f} s for {a['bytes'] / 1e6:.1f} MB, the "
            f"first byte after {a['ttfb_s']:.2f} s (the snapshot is made and checked before it is sent); median of "
            f"{len(api['secs'])}: {api['median_s']:.2f} s, first byte {api['ttfb_median_s']:.2f} s |"
        )
    sr = ph.get("slow-reader")
    if sr:
        act = sr["action"] or {}
        lines.append(
            f"| WAL while a 10 MiB file is read at {args.slow_rate / 1024:g} KiB/s ({sr['window_s']:.0f} s window) | "
            f"max {sr['wal_max'] / 1e6:.2f} MB, final {sr['wal_final'] / 1e6:.2f} MB; {sr['counter_ok']:,} Counter "
            f"writes meanwhile; {act.get('bytes', 0) / 1e3:.0f} kB read ({act.get('status', '?')}) |"
        )
    pr = ph.get("pinned-reader")
    if pr:
        lines.append(
            f"| control: WAL with a read transaction held {pr['window_s']:.0f} s | max {pr['wal_max'] / 1e6:.2f} MB, "
            f"final {pr['wal_final'] / 1e6:.2f} MB; {pr['counter_ok']:,} Counter writes meanwhile |"
        )
    after = r["after"]
    snap, live = after.get("snapshot") or {}, after.get("live") or {}
    lines += [
        f"| last snapshot vs the live database after the run | {snap.get('sites')} / {live.get('sites')} sites, "
        f"{snap.get('files')} / {live.get('files')} files, {(snap.get('bytes') or 0) / 1e6:.1f} / "
        f"{(live.get('bytes') or 0) / 1e6:.1f} MB; Counter {snap.get('count')} / {live.get('count')} |",
        f"| after the run: exit on SIGTERM, `integrity_check` | {after.get('exit_code')}, "
        f"{after.get('integrity_check')} |",
        "",
        "## Latency by phase",
        "",
        "Milliseconds, measured by the Python clients (requests answered correctly inside the window); "
        "ratios are p99 against both windows without a backup together (`baseline` and `baseline-after`, the "
        "first row). Phases: `backup-cli` `fazt backup --to DIR` back to back (DIR on the "
        "disk, beside fazt.db), `backup-cli-nice19` the same at nice 19 (process and session autogroup), "
        f"`backup-cli-spaced` one every {args.gap_s:g} s, `backup-cli-tmpfs` back to back into /dev/shm (no disk "
        "writeback: the copy's CPU cost alone), `cpu-hog` no backup but one process spinning on a core for the "
        "window (the control: any CPU-bound neighbour), `backup-api` `GET /api/system/backup` downloads back to "
        "back (curl, to a file), "
        "`download-10mib` the control for it: GETs of the 10 MiB static file back to back (curl, to /dev/null).",
        "",
        "| phase | window | static p50 | static p99 | Counter p50 | Counter p99 | load p50 | load p99 | "
        "static ratio | Counter ratio | requests (static / Counter / load) | errors | WAL max | "
        "fazt CPU | backup CPU | machine busy |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    bl = s["baseline"]
    lines.append(
        f"| **no backup** (both baselines) | — | {fmt_ms(bl['probe']['p50'])} | {fmt_ms(bl['probe']['p99'])} | "
        f"{fmt_ms(bl['counter']['p50'])} | {fmt_ms(bl['counter']['p99'])} | {fmt_ms(bl['load']['p50'])} | "
        f"{fmt_ms(bl['load']['p99'])} | 1× | 1× | {bl['probe']['n']:,} / {bl['counter']['n']:,} / {bl['load']['n']:,} "
        "| | | | | |"
    )
    for p in r["phases"]:
        lat = p["lat"]
        rr = s["ratios"].get(p["phase"], {})
        load = lat.get("load", {})
        errs = sum(sum(e.values()) for e in p["errors"].values()) + len(p["crashed"])
        wall = max(p["wall_s"], 1e-3)
        kids = f"{100 * p['children_cpu_s'] / wall:.0f} %" if p["phase"].startswith(("backup-cli", "cpu")) else "—"
        lines.append(
            f"| {p['phase']} | {p['wall_s']:.0f} s | {fmt_ms(lat['probe']['p50'])} | {fmt_ms(lat['probe']['p99'])} | "
            f"{fmt_ms(lat['counter']['p50'])} | {fmt_ms(lat['counter']['p99'])} | {fmt_ms(load.get('p50'))} | "
            f"{fmt_ms(load.get('p99'))} | {fmt_ratio(rr.get('probe', {}).get('p99'))} | "
            f"{fmt_ratio(rr.get('counter', {}).get('p99'))} | {lat['probe']['n']:,} / {lat['counter']['n']:,} / "
            f"{load.get('n', 0):,} | {errs} | {p['wal_max'] / 1e6:.1f} MB | {100 * p['fazt_cpu_s'] / wall:.0f} % | "
            f"{kids} | {100 * p['machine_busy_s'] / wall:.0f} % of 200 % |"
        )
    lines += [
        "",
        "CPU columns are % of one core over the phase: fazt's process; the `fazt backup` processes (their "
        "rusage); all non-idle time of both CPUs (`/proc/stat`, so anything else running shows up there). "
        "`backup-api` snapshots run inside the server process, so they count as fazt CPU.",
        "",
        "### Inside and outside the snapshots",
        "",
        "The same requests split by when they were sent: while a `fazt backup` ran or between two; for the "
        "downloads, until the first byte (for the API: while the server made and checked the snapshot) or while "
        "the body streamed.",
        "",
        "| phase | requests sent | static p50 | static p99 | Counter p50 | Counter p99 | static ratio | "
        "Counter ratio | requests (static / Counter) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for p in r["phases"]:
        for label, lat in p["sub"].items():
            rr = s["sub_ratios"][p["phase"]][label]
            lines.append(
                f"| {p['phase']} | {label} | {fmt_ms(lat['probe']['p50'])} | {fmt_ms(lat['probe']['p99'])} | "
                f"{fmt_ms(lat['counter']['p50'])} | {fmt_ms(lat['counter']['p99'])} | {fmt_ratio(rr.get('probe'))} | "
                f"{fmt_ratio(rr.get('counter'))} | {lat['probe']['n']:,} / {lat['counter']['n']:,} |"
            )
    lines.append("")
    examples = [
        f"- {p['phase']} / {w}: {k}: {'; '.join(v[:2])}"
        for p in r["phases"]
        for w, ex in p["examples"].items()
        for k, v in ex.items()
    ] + [
        f"- {p['phase']} / {w} crashed: {c.strip().splitlines()[-1]}"
        for p in r["phases"]
        for w, c in p["crashed"].items()
    ]
    if examples:
        lines += ["### Errors", "", *examples, ""]
    lines += [
        "## Snapshots made",
        "",
        "| phase | runs | failed | duration: median (min–max) | first byte (median) | size | MB/s (median) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, bk in s["backups"].items():
        ttfb = "—" if bk["ttfb_median_s"] is None else f"{bk['ttfb_median_s']:.2f} s"
        lines.append(
            f"| {name} | {bk['runs']} | {bk['failed']} | {bk['median_s']:.2f} s ({fmt_range(bk['secs'])}) | {ttfb} | "
            f"{(bk['bytes'] or 0) / 1e6:.1f} MB | {bk['mb_per_s'] or 0:.0f} |"
        )
    lines += [
        "",
        "Durations: what `fazt backup` prints (CLI), curl's total time (API: the snapshot made, checked and "
        "streamed over loopback into a file).",
        "",
    ]
    for name in ("backup-cli", "slow-reader", "pinned-reader"):
        p = ph.get(name)
        if p:
            series = ", ".join(f"{n / 1e6:.1f}" for t, n in p["wal_series"][::4])
            lines += [f"WAL size during `{name}`, MB, every 2 s: {series}", ""]
    if methods:
        lines += methods_section(methods)
    lines += ["## Notes", "", *findings(r, s)]
    lines += [
        "- The snapshot is `VACUUM INTO` from a read-only connection in the `fazt backup` process (one read "
        "transaction for the copy; writers go on in the WAL, which cannot be reset until the copy ends, hence the "
        "WAL column), then `integrity_check` of the copy and fsync; the duration is the one `fazt backup` prints. "
        "The database is in the page cache (the machine has plenty of RAM), so this is CPU and copy speed, not "
        "the disk's read speed; the fsync of the copy does go to the disk.",
        "- Latency is measured by Python clients that share the 2 cores with the server and the backup, so it is "
        "an upper bound of what fazt adds; p99 of ~4,000 requests per window moves by tens of percent between "
        "runs. Compare rows of the same run (`baseline-after` shows the drift).",
        f"- Slow reader: at {args.slow_rate:,} B/s the whole 10 MiB would take "
        f"{(10 << 20) / args.slow_rate / 60:.0f} minutes; only the {args.slow_s:g} s window is measured "
        "(fazt's VFS copies a BLOB in read transactions of at most 1 s, so a slow client never pins a snapshot "
        "for long); the loopback socket buffers hold part of the file, so fewer bytes are read than the server "
        "has sent.",
        "- WAL: before each phase the harness truncates the WAL (`PRAGMA wal_checkpoint(TRUNCATE)` on a "
        "connection of its own), so a phase's WAL max is that phase's own high-water mark (SQLite reuses a WAL "
        "file from its start without shrinking it, and fazt trims it only to 8 MiB). SQLite's automatic checkpoint "
        "lets the WAL start over after ~1,000 pages (~4 MB) unless a reader still needs older pages.",
        "",
    ]
    return "\n".join(lines)


def autogroup_on() -> bool:
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return False


def findings(r: dict, s: dict) -> list[str]:
    """Notes that depend on what this run saw."""
    out = []
    if r.get("autogroup", autogroup_on()):
        out.append(
            "- Autogroup scheduling is on here (`kernel.sched_autogroup_enabled=1`, no CPU cgroup): CPU is shared "
            "between sessions first, and a nice value only orders threads inside one session. A `fazt backup` "
            "from cron or a shell is a session of its own, so lowering its own thread's priority does not lower "
            "its share against the server; `backup-cli-nice19` also sets its session's autogroup nice to 19."
        )
    locked = sum(
        n
        for p in r["phases"]
        for ex in p["examples"].get("counter", {}).values()
        for n in [sum("database is locked" in e for e in ex)]
    )
    if locked:
        out.append(
            "- **Counter writes failed with `database is locked`** (HTTP 500; see Errors) while `fazt backup` "
            "processes ran. The likely cause (also seen with a plain SQLite writer in another process): each "
            "`fazt backup` records its run in fazt.db from its own process; the Counter's `db.set` is a deferred "
            "transaction on the server's writer (a read, then the write), and SQLite "
            "answers SQLITE_BUSY at once, without busy_timeout, when another process wrote after that read began. "
            "Any other process writing (Litestream's bookkeeping included) does the same; `BEGIN IMMEDIATE` for "
            "read-then-write jobs would make them wait instead."
        )
    ph = {p["phase"]: p for p in r["phases"]}
    if "cpu-hog" in ph and "backup-cli" in ph:
        hog, cli = ph["cpu-hog"]["lat"], ph["backup-cli"]["lat"]
        out.append(
            f"- Control: with no backup and one process spinning on a core (`cpu-hog`), static p99 was "
            f"{fmt_ms(hog['probe']['p99'])} ms and Counter p99 {fmt_ms(hog['counter']['p99'])} ms, against "
            f"{fmt_ms(cli['probe']['p99'])} and {fmt_ms(cli['counter']['p99'])} ms during back-to-back backups "
            f"(`backup-cli`) and {fmt_ms(s['baseline']['probe']['p99'])} and {fmt_ms(s['baseline']['counter']['p99'])} "
            "ms with neither: the part of the rise that any CPU-bound neighbour causes on 2 cores shared with the "
            "clients."
        )
    api = ph.get("backup-api")
    if api and api["sub"].get("streaming") and api["sub"].get("until the first byte"):
        st, mk = api["sub"]["streaming"], api["sub"]["until the first byte"]
        worst = max(st[k]["p99"] or 0 for k in ("probe", "counter"))
        if worst > 10 * max(mk[k]["p99"] or 0 for k in ("probe", "counter")):
            out.append(
                f"- **While the API download streamed, other requests waited up to ~{worst:.0f} ms** (p99 of "
                f"requests sent meanwhile: static {fmt_ms(st['probe']['p99'])}, Counter "
                f"{fmt_ms(st['counter']['p99'])} ms; while the server made the snapshot: "
                f"{fmt_ms(mk['probe']['p99'])} and {fmt_ms(mk['counter']['p99'])} ms). The body is written by one "
                "coroutine that never yields while the socket takes data (a fast loopback reader never fills it), "
                "so the connections that share its may worker wait for the whole ~200 MB; which client suffers "
                "depends on which worker its connection landed on. `download-10mib` shows the same on 10 MiB."
            )
    return out


def methods_section(m: dict) -> list[str]:
    base = m["baseline"]
    out = [
        "## In-process: VACUUM INTO vs the online backup API (`kernel/examples/snapshot_methods.rs`)",
        "",
        f"A {m['db_bytes'] / 1e6:.0f} MB database (256 KiB rows of random bytes) made with the kernel's `Db`; a "
        f"thread makes one small write (`UPDATE` of one row) through `db.write` every {m['write_every_ms']} ms and "
        f"records how long it takes. Without a copy: p50 {fmt_ms(base['p50_ms'])} ms, p99 {fmt_ms(base['p99_ms'])} "
        f"ms, max {fmt_ms(base['max_ms'])} ms ({base['n']} writes). Each method ran {m['repeat']} times (the last "
        f"once, for {m['own_cap_s']} s); times are medians, write figures cover all its runs. The backup API writes "
        f"{m['pages_per_step']} pages (4 KiB) per step into a copy opened with `journal_mode=OFF`, "
        "`synchronous=OFF` (it is checked and fsynced once complete, like the VACUUM INTO copy); `check + fsync` "
        "is `integrity_check` and fsync of the finished copy, outside the write window.",
        "",
        "| method | done | copy | MB/s | check + fsync | total | writes | write p50 | write p99 | write max | "
        "restarts | WAL max |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in m["methods"]:
        w = r["writes"]
        check = "included" if r["checked"] else "—" if r["check_secs"] is None else f"{r['check_secs']:.2f} s"
        out.append(
            f"| {r['name']} | {'yes' if r['done'] else 'no: ' + r['note']} | {r['secs']:.2f} s | "
            f"{r['mb_per_s']:.0f} | {check} | {r['total_secs']:.2f} s | {w['n']} | {fmt_ms(w['p50_ms'])} ms | "
            f"{fmt_ms(w['p99_ms'])} ms | {fmt_ms(w['max_ms'])} ms | "
            f"{'—' if r['restarts'] is None else r['restarts']} | {r['wal_max_bytes'] / 1e6:.1f} MB |"
        )
    return [*out, ""]


def slim(p: dict, keep: int = 150) -> dict:
    """A phase as written to the JSON: no raw samples, no empty fields in the runs of its
    action, and at most `keep` runs (thousands of short downloads otherwise); the figures
    were computed from all of them."""
    p = {k: v for k, v in p.items() if k != "_samples"}
    a = p.get("action")
    if isinstance(a, list):
        runs = [{k: v for k, v in x.items() if v not in ("", None)} for x in a]
        if len(runs) > keep:
            p["action_runs"] = len(runs)
        p["action"] = runs[:keep]
    return p


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report_from:
        data = json.loads(args.report_from.read_text())
        args = argparse.Namespace(**{**vars(args), **data.get("args", {})})
        args.out = Path(args.out)
        binary = data.get("binary") or (
            f"`{args.fazt_bin}` ({args.fazt_bin.stat().st_size / 1024 / 1024:.2f} MiB)" if args.fazt_bin else "?"
        )
        args.out.write_text(report(data, args, binary, data.get("methods")))
        print(f"[backup] report {args.out}")
        return 0
    if not args.fazt_bin or not args.fazt_bin.is_file():
        print(f"[backup] no fazt binary at {args.fazt_bin}")
        return 2
    for tool in ("curl",):
        if not shutil.which(tool):
            print(f"[backup] {tool} not found")
            return 2
    r = run(args)
    if "phases" not in r:
        print("[backup] the run did not complete")
        return 1
    methods = json.loads(args.methods_json.read_text()) if args.methods_json and args.methods_json.exists() else None
    # The figures first, so that a report that fails to render loses nothing.
    args.out.parent.mkdir(parents=True, exist_ok=True)
    summary = summarize(r)
    r["baseline"] = summary["baseline"]
    phases = [slim(p) for p in r["phases"]]
    size = args.fazt_bin.stat().st_size
    binary = f"`{args.fazt_bin}` ({size / 1024 / 1024:.2f} MiB)"
    kept = {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool))}
    data = {**r, "phases": phases, "summary": summary, "methods": methods, "binary": binary, "args": kept}
    args.out.with_suffix(".json").write_text(json.dumps(data, indent=1, default=str))
    args.out.write_text(report(r, args, binary, methods))
    s = data["summary"]
    cli, ratios = s["backups"].get("backup-cli", {}), s["ratios"].get("backup-cli", {})
    print(
        f"[backup] {len(cli.get('secs', []))} snapshots, median {fmt_ms(cli.get('median_s'))} s; static p99 ratio "
        f"{fmt_ratio(ratios.get('probe', {}).get('p99'))}, Counter p99 ratio "
        f"{fmt_ratio(ratios.get('counter', {}).get('p99'))}; report {args.out}",
        flush=True,
    )
    if args.keep:
        print(f"[backup] run directory kept: {r['run_dir']}")
    else:
        shutil.rmtree(r["run_dir"], ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
