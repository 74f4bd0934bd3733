"""The alternatives fazt is compared with, each started the way its docs say.

Every peer serves the same `docroot` (see `content.py`), on 127.0.0.1 only,
pinned like fazt (see `procs.Pinning`). Configuration choices are the
peer's defaults except where noted in `notes`; each deviation either is
needed to run the scenario at all or can only make the peer faster.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import procs
from .load import Target
from .server import Env, Running, launch, static_targets


@dataclass
class Bins:
    """Where the peers' binaries are (installed by run.sh)."""

    nginx: Path
    sws: Path
    caddy: Path
    pocketbase: Path
    minihttp: Path
    minihttp_lock: Path  # minihttp-hello's Cargo.lock, for the may_minihttp version


def _first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
    except OSError as e:
        return f"unknown ({e})"
    text = (out.stdout.strip() or out.stderr.strip()).splitlines()
    return text[0] if text else "unknown"


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---------------------------------------------------------------- nginx

NGINX_CONF = """# Debian's stock nginx.conf, reduced to what serves files, plus the changes
# listed in bench/README.md (one worker: pinned to one core like every server;
# 4096 connections: scenario 4 opens 1,000; access_log off and unlimited
# keep-alive requests: both only make nginx faster).
{user}worker_processes 1;
pid {run}/nginx.pid;
error_log {run}/nginx-error.log warn;
daemon off;
events {{
    worker_connections 4096;
}}
http {{
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    keepalive_requests 1000000;
    gzip on;
    gzip_types text/plain text/css application/javascript application/json;
    client_body_temp_path {run}/client_body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    server {{
        listen 127.0.0.1:{port} default_server;
        root {docroot};
        location / {{ }}
    }}
}}
"""


def start_nginx(env: Env, bins: Bins) -> Running:
    run = _mkdir(env.run_dir / "nginx")
    port = procs.free_port()
    # Workers drop to www-data (as in the stock config) only when started as root.
    user = "user www-data;\n" if os.geteuid() == 0 else ""
    conf = run / "nginx.conf"
    conf.write_text(NGINX_CONF.format(user=user, run=run, port=port, docroot=env.content.docroot))
    cmd = [str(bins.nginx), "-p", str(run), "-c", str(conf), "-e", str(run / "nginx-error.log")]
    proc, idle = launch(env, "nginx", cmd, port)
    version = _first_line([str(bins.nginx), "-v"]).replace("nginx version: ", "")
    return Running(
        "nginx",
        proc,
        port,
        static_targets(),
        bins.nginx,
        version,
        idle,
        notes=["1 worker, sendfile on, gzip on (level 1, text/plain added to gzip_types), access_log off"],
    )


# ---------------------------------------------------------------- static-web-server


def start_sws(env: Env, bins: Bins) -> Running:
    port = procs.free_port()
    cmd = [
        str(bins.sws),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--root",
        str(env.content.docroot),
        "--log-level",
        "error",
        "--compression",
        "true",
    ]
    proc, idle = launch(env, "static-web-server", cmd, port)
    m = re.search(r"\d+\.\d+\.\d+\S*", _first_line([str(bins.sws), "--version"]))
    version = m.group(0) if m else "unknown"
    return Running(
        "static-web-server",
        proc,
        port,
        static_targets(),
        bins.sws,
        version,
        idle,
        notes=["defaults (on-the-fly compression on)"],
    )


# ---------------------------------------------------------------- Caddy

CADDYFILE = """{{
	admin off
	auto_https off
	persist_config off
	servers {{
		protocols h1
	}}
}}
:{port} {{
	bind 127.0.0.1
	root * {docroot}
	encode gzip
	file_server
}}
"""


def start_caddy(env: Env, bins: Bins) -> Running:
    run = _mkdir(env.run_dir / "caddy")
    port = procs.free_port()
    conf = run / "Caddyfile"
    conf.write_text(CADDYFILE.format(port=port, docroot=env.content.docroot))
    # Caddy keeps state under XDG dirs: keep it inside the run directory.
    env_vars = {**os.environ, "XDG_DATA_HOME": str(run / "data"), "XDG_CONFIG_HOME": str(run / "config")}
    cmd = [str(bins.caddy), "run", "--config", str(conf), "--adapter", "caddyfile"]
    proc, idle = launch(env, "caddy", cmd, port, env_vars=env_vars)
    version = _first_line([str(bins.caddy), "version"]).split(" ")[0]
    return Running(
        "caddy",
        proc,
        port,
        static_targets(),
        bins.caddy,
        version,
        idle,
        notes=["file_server + encode gzip, HTTP/1.1 only, admin API off"],
    )


# ---------------------------------------------------------------- PocketBase


def start_pocketbase(env: Env, bins: Bins) -> Running:
    run = _mkdir(env.run_dir / "pocketbase")
    port = procs.free_port()
    cmd = [
        str(bins.pocketbase),
        "serve",
        f"--http=127.0.0.1:{port}",
        f"--dir={run / 'pb_data'}",
        f"--hooksDir={env.content.pb_hooks}",
        f"--migrationsDir={env.content.pb_migrations}",
        f"--publicDir={env.content.docroot}",
    ]
    proc, idle = launch(env, "pocketbase", cmd, port, cwd=run)
    version = _first_line([str(bins.pocketbase), "--version"]).replace("pocketbase version ", "")
    targets = static_targets()
    targets["counter"] = Target("/counter")
    return Running(
        "pocketbase",
        proc,
        port,
        targets,
        bins.pocketbase,
        version,
        idle,
        notes=["pb_public static serving; JS hook GET /counter updates one record; request logs off (logs.maxDays=0)"],
    )


# ---------------------------------------------------------------- may_minihttp hello-world


def _minihttp_version(lock: Path) -> str:
    try:
        text = lock.read_text()
    except OSError:
        return "may_minihttp (version unknown)"
    m = re.search(r'name = "may_minihttp"\nversion = "([^"]+)"', text)
    return f"may_minihttp {m.group(1)}" if m else "may_minihttp (version unknown)"


def start_minihttp(env: Env, bins: Bins) -> Running:
    port = procs.free_port()
    body = env.content.docroot / "small.html"
    cmd = [str(bins.minihttp), f"127.0.0.1:{port}", str(body)]
    proc, idle = launch(env, "minihttp-hello", cmd, port)
    # It answers every path with the 1 KiB page: only the small-file scenario applies.
    targets = {"small": static_targets()["small"]}
    return Running(
        "minihttp-hello",
        proc,
        port,
        targets,
        bins.minihttp,
        _minihttp_version(bins.minihttp_lock),
        idle,
        notes=["answers every request with the same 1 KiB page held in memory"],
    )
