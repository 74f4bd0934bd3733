"""The measured scenarios (issue 8, numbered as there), one function each.

Each takes a started server and returns a plain dict for results JSON; a
scenario whose target the server does not have is skipped by the caller.
Every scenario first checks the server answers it correctly (`probe`).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from . import probe, procs
from .content import BIG, PURE_BODY, SMALL, TEXT, Content
from .load import Loader
from .server import Running

SMALL_CONNS = 64
GZIP_CONNS = 64
BIG_CONNS = 16
COUNTER_CONNS = 64
PURE_CONNS = 64
IDLE_CONNS = 1000
IDLE_HOLD_SECONDS = 30  # upper bound; the harness releases them after sampling


def small(loader: Loader, srv: Running, content: Content) -> dict:
    """1: 1 KiB HTML, keep-alive, 64 connections."""
    t = srv.targets["small"]
    probe.check_file(srv.port, t, content.expected(SMALL))
    return loader.run(srv.pid, srv.port, t, SMALL_CONNS).to_dict()


def gzip(loader: Loader, srv: Running, content: Content) -> dict:
    """2: 50 KiB text with `Accept-Encoding: gzip`, 64 connections."""
    t = srv.targets["gzip"]
    gzipped = probe.check_file(srv.port, t, content.expected(TEXT), gzip_wanted=True)
    out = loader.run(srv.pid, srv.port, t, GZIP_CONNS, ["Accept-Encoding: gzip"]).to_dict()
    out["gzipped"] = gzipped
    return out


def big(loader: Loader, srv: Running, content: Content) -> dict:
    """3: 10 MiB file, 16 concurrent downloads: throughput and RSS rise."""
    t = srv.targets["big"]
    probe.check_file(srv.port, t, content.expected(BIG))
    out = loader.run(srv.pid, srv.port, t, BIG_CONNS).to_dict()
    out["rise_per_conn_kb"] = max(out["rss_peak_kb"] - out["rss_before_kb"], 0) / BIG_CONNS
    return out


def counter(loader: Loader, srv: Running, content: Content) -> dict:
    """5: the Counter (KV read + write per request), 64 connections."""
    t = srv.targets["counter"]
    probe.check_counter(srv.port, t)
    return loader.run(srv.pid, srv.port, t, COUNTER_CONNS).to_dict()


def pure(loader: Loader, srv: Running, content: Content) -> dict:
    """5c: a pure-compute script (no KV), 64 connections: the per-request cost of a run."""
    t = srv.targets["pure"]
    probe.check_body(srv.port, t, PURE_BODY)
    return loader.run(srv.pid, srv.port, t, PURE_CONNS).to_dict()


# How long a server is left quiet before its RSS is sampled, with or without the idle
# connections: "idle" is a state a server is in for hours, and fazt gives freed memory back
# within 2 s of its last request (its housekeeping ticks each second). Same for every server.
SETTLE_SECONDS = 2.5


def idle_conns(pin: procs.Pinning, srv: Running, content: Content) -> dict:
    """4: 1,000 keep-alive connections, one request each, then held idle."""
    t = srv.targets["small"]
    probe.check_file(srv.port, t, content.expected(SMALL))
    pin.repin_server(srv.pid)
    time.sleep(SETTLE_SECONDS)
    before = procs.tree_rss_kb(srv.pid)
    client = Path(__file__).with_name("idle_conns.py")
    cmd = [
        sys.executable,
        str(client),
        str(srv.port),
        t.host or "127.0.0.1",
        t.path,
        str(IDLE_CONNS),
        str(IDLE_HOLD_SECONDS),
    ]
    proc = subprocess.Popen(
        pin.client_cmd(cmd), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=pin.own_session
    )
    pin.prioritize(proc.pid)
    try:
        assert proc.stdout is not None and proc.stdin is not None
        line = proc.stdout.readline().split()  # "ready OK FAILED"; the client's own timeouts bound this
        if len(line) != 3 or line[0] != "ready":
            raise RuntimeError(f"idle-connection client did not get ready: {line}")
        held, failed = int(line[1]), int(line[2])
        time.sleep(SETTLE_SECONDS)  # let the server settle with the connections idle
        with_conns = procs.tree_rss_kb(srv.pid)
        sockets = procs.tree_socket_count(srv.pid)
        proc.stdin.write("close\n")
        proc.stdin.flush()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return {
        "connections": IDLE_CONNS,
        "held": held,
        "failed": failed,
        "server_sockets": sockets,
        "rss_before_kb": before,
        "rss_kb": with_conns,
        "rise_per_conn_kb": max(with_conns - before, 0) / max(held, 1),
    }


WS_IDLE = 1000
WS_FANOUT = 100
WS_ROUNDS = 200
WS_BURST = 2000


def websocket(pin: procs.Pinning, srv: Running, content: Content) -> dict:
    """6 (fazt only): 1,000 idle WebSocket clients on one site (server RSS), then fan-out
    latency of one message to 100 clients and messages/s to them (`ws_clients.py`)."""
    import json

    t = srv.targets["websocket"]
    pin.repin_server(srv.pid)
    time.sleep(SETTLE_SECONDS)
    before = procs.tree_rss_kb(srv.pid)
    client = Path(__file__).with_name("ws_clients.py")
    cmd = [sys.executable, str(client), str(srv.port), t.host or "127.0.0.1"]
    cmd += [str(WS_IDLE), str(WS_FANOUT), str(WS_ROUNDS), str(WS_BURST)]
    proc = subprocess.Popen(
        pin.client_cmd(cmd), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=pin.own_session
    )
    pin.prioritize(proc.pid)
    try:
        assert proc.stdout is not None and proc.stdin is not None
        line = proc.stdout.readline().split()  # "idle OK FAILED"
        if len(line) != 3 or line[0] != "idle":
            raise RuntimeError(f"WebSocket client did not get ready: {line}")
        time.sleep(SETTLE_SECONDS)
        with_idle = procs.tree_rss_kb(srv.pid)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        out = json.loads(proc.stdout.readline())
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out.update(rss_before_kb=before, rss_idle_kb=with_idle, rise_per_client_kb=max(with_idle - before, 0) / max(int(line[1]), 1))
    return out
