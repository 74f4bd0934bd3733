"""fazt itself: the only module that knows fazt's command line and API.

The contract used (and nothing else):
- `fazt serve --db DB --listen 127.0.0.1:PORT` serves sites by Host header
  (`NAME.localhost`);
- `fazt token create --name bench --scope admin|deploy --db DB` prints a token;
- `curl -T site.zip -H 'Authorization: Bearer T' -H 'Host: localhost'
  http://127.0.0.1:PORT/api/sites/NAME` deploys a site (curl is used as-is,
  `Expect: 100-continue` included, because that is what users run);
- a site with `main.js` runs it (the Counter);
- `fazt serve … --max-upload-mb N` raises the deploy cap (the backup scenario's filler sites);
- `fazt backup --db DB --to DIR` prints `backup: PATH — SIZE, schema version N, S s (X MB/s)`;
- `GET /api/system/backup` (admin token, `Host: localhost`) answers with the same snapshot.
If fazt's interface changes, this file is the one to edit.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from . import probe, procs
from .load import Target
from .server import Env, Running, launch, static_targets

SITE = "bench"
COUNTER = "counter"
PURE = "pure"
DEPLOY = "deploysite"
BACKUP_API = "/api/system/backup"
_BACKUP_LINE = re.compile(r"^backup: (?P<path>.+) — (?P<size>.+), schema version (?P<schema>\d+), (?P<secs>[\d.]+) s")


class FaztError(RuntimeError):
    pass


def _version(binary: Path) -> str:
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=10, check=False)
    except OSError as e:
        return f"unknown ({e})"
    line = (out.stdout.strip() or out.stderr.strip()).splitlines()
    return line[0] if out.returncode == 0 and line else "unknown (no --version)"


def create_token(binary: Path, db: Path, scope: str = "admin", name: str = "bench") -> str:
    out = subprocess.run(
        [str(binary), "token", "create", "--name", name, "--scope", scope, "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    lines = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    if out.returncode != 0 or not lines:
        raise FaztError(f"fazt token create failed (exit {out.returncode}): {out.stderr.strip()}")
    return lines[-1]


def deploy(port: int, token: str, name: str, zip_path: Path) -> float:
    """Uploads `zip_path` as site `name`; returns curl's total seconds."""
    out = subprocess.run(
        [
            "curl",
            "-sS",
            "-f",
            "-o",
            "/dev/null",
            "-w",
            "%{time_total}",
            "--max-time",
            "120",
            "-T",
            str(zip_path),
            "-H",
            f"Authorization: Bearer {token}",
            "-H",
            "Host: localhost",
            f"http://127.0.0.1:{port}/api/sites/{name}",
        ],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    if out.returncode != 0:
        raise FaztError(
            f"deploying site {name} ({zip_path.name}) failed: curl exit {out.returncode}: {out.stderr.strip()}"
        )
    try:
        return float(out.stdout.strip())
    except ValueError:
        raise FaztError(f"deploying site {name}: curl printed no time: {out.stdout!r}") from None


def serve_cmd(binary: Path, db: Path, port: int, max_upload_mb: int | None = None) -> list[str]:
    # Every load generator connects from 127.0.0.1: lift the per-address connection cap (64
    # by default, a defence against one client holding every slot), or the idle-connection
    # scenario measures the cap instead of the memory per connection.
    cmd = [str(binary), "serve", "--db", str(db), "--listen", f"127.0.0.1:{port}", "--max-conns-per-ip", "0"]
    return cmd + (["--max-upload-mb", str(max_upload_mb)] if max_upload_mb else [])


def backup_cmd(binary: Path, db: Path, to: Path) -> list[str]:
    return [str(binary), "backup", "--db", str(db), "--to", str(to)]


def parse_backup(stdout: str) -> dict | None:
    """`fazt backup`'s line: the snapshot's path, its schema version and the seconds it took."""
    lines = stdout.strip().splitlines()
    m = _BACKUP_LINE.match(lines[-1]) if lines else None
    if not m:
        return None
    return {"path": m.group("path"), "schema": int(m.group("schema")), "secs": float(m.group("secs"))}


def admin_headers(token: str) -> list[str]:
    """curl headers for an admin API call."""
    return [f"Authorization: Bearer {token}", "Host: localhost"]


def _serve(env: Env, binary: Path, tag: str):
    run = env.run_dir / tag
    run.mkdir(parents=True, exist_ok=True)
    db = run / "fazt.db"
    port = procs.free_port()
    proc, idle = launch(env, tag, serve_cmd(binary, db, port), port, cwd=run)
    return proc, idle, port, db


def start(env: Env, binary: Path, name: str = "fazt") -> Running:
    """Starts fazt, records idle RSS, then deploys the benchmark sites (`name` is the
    server's name in the results: `fazt`, or `fazt-baseline` for an older build).

    If a deploy fails, fazt keeps running without those targets, so that
    idle RSS and binary size are still reported (and the failure with them).
    """
    proc, idle, port, db = _serve(env, binary, name)
    targets: dict[str, Target] = {}
    problem = None
    try:
        token = create_token(binary, db)
        deploy(port, token, SITE, env.content.site_zip)
        targets.update(static_targets(f"{SITE}.localhost"))
        deploy(port, token, COUNTER, env.content.counter_zip)
        targets["counter"] = Target("/", f"{COUNTER}.localhost")
        targets["websocket"] = Target("/ws", f"{COUNTER}.localhost")
        deploy(port, token, PURE, env.content.pure_zip)
        targets["pure"] = Target("/", f"{PURE}.localhost")
    except (FaztError, subprocess.TimeoutExpired) as e:
        problem = str(e)
    return Running(
        name,
        proc,
        port,
        targets,
        binary,
        _version(binary),
        idle,
        notes=["default features, files and KV in fazt.db"],
        problem=problem,
    )


def deploy_benchmark(env: Env, binary: Path) -> dict:
    """Scenario 6: deploy the 1,000-file, 20 MiB site into a fresh fazt.

    A fresh process, so VmHWM (peak RSS since start) covers the deploy and
    nothing else but start-up.
    """
    proc, idle, port, db = _serve(env, binary, "fazt-deploy")
    try:
        token = create_token(binary, db)
        hwm_before = procs.status_kb(proc.pid, "VmHWM") or 0
        t0 = time.monotonic()
        curl_secs = deploy(port, token, DEPLOY, env.content.deploy_zip)
        wall = time.monotonic() - t0
        time.sleep(0.5)
        hwm, rss = procs.status_kb(proc.pid, "VmHWM") or 0, procs.status_kb(proc.pid, "VmRSS") or 0
        # The deployed site must serve: check one page byte for byte.
        page = "pages/0/page0000.html"
        probe.check_file(port, Target("/" + page, f"{DEPLOY}.localhost"), env.content.deploy_page(page))
        return {
            "seconds": curl_secs,
            "wall_seconds": wall,
            "files": env.content.deploy_files,
            "bytes": env.content.deploy_bytes,
            "zip_bytes": env.content.deploy_zip.stat().st_size,
            "hwm_before_kb": hwm_before,
            "hwm_kb": hwm,
            "rss_after_kb": rss,
            "idle_kb": idle,
            "db_bytes": sum(p.stat().st_size for p in db.parent.glob("fazt.db*")),
        }
    finally:
        env.reg.stop(proc)
