"""Benchmark driver: starts each server in turn, runs its scenarios, writes the results.

Run through `bench/run.sh` (which installs the peers and runs
`python -m harness.main` from `bench/`); `--help` lists the options. Servers run one at a time, each pinned to the same CPU, and each
is stopped before the next starts.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import signal
import sys
import tempfile
import traceback
from pathlib import Path

from . import content as content_mod
from . import fazt, machine, peers, procs, report, scenarios
from .load import Loader
from .server import Env, Running

ALL_SERVERS = ["fazt", "fazt-baseline", "minihttp-hello", "nginx", "static-web-server", "caddy", "pocketbase"]
QUICK_SERVERS = ["fazt", "minihttp-hello", "nginx"]


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--cache", type=Path, required=True, help="where run.sh installed the peers")
    p.add_argument("--fazt-bin", type=Path, help="fazt binary (omit: fazt is reported as not run)")
    p.add_argument(
        "--fazt-baseline-bin",
        type=Path,
        help="an older fazt build to compare the pure-compute script with (omit: not run)",
    )
    p.add_argument("--fazt-missing", default="", help="why there is no fazt binary (shown in the results)")
    p.add_argument("--out", type=Path, required=True, help="results directory (latest.* or, with --quick, quick.*)")
    p.add_argument("--quick", action="store_true", help="small-file GET only: fazt vs may_minihttp vs nginx")
    p.add_argument("--only", help="comma-separated servers to run (default: all)")
    p.add_argument("--duration", type=int, default=10, help="seconds per measured wrk run (default 10)")
    p.add_argument("--runs", type=int, default=1, help="measured runs per figure; the median is kept (default 1)")
    p.add_argument("--warmup", type=int, default=2, help="seconds of discarded wrk warm-up per figure (default 2)")
    p.add_argument(
        "--nice",
        type=int,
        help="run servers and load generators at this niceness (e.g. -10 on a shared machine; needs root)",
    )
    p.add_argument("--keep", action="store_true", help="keep the run directory (logs, configs, DBs)")
    return p.parse_args(argv)


def peer_bins(cache: Path) -> peers.Bins:
    here = Path(__file__).resolve().parent.parent
    return peers.Bins(
        nginx=Path(shutil.which("nginx") or "/usr/sbin/nginx"),
        sws=cache / "sws" / "bin" / "static-web-server",
        caddy=cache / "venv" / "bin" / "caddy",
        pocketbase=cache / "venv" / "bin" / "pocketbase",
        minihttp=cache / "target-minihttp" / "release" / "minihttp-hello",
        minihttp_lock=here / "minihttp-hello" / "Cargo.lock",
    )


def starter(name: str, env: Env, bins: peers.Bins, fazt_bin: Path | None, baseline: Path | None):
    if name in ("fazt", "fazt-baseline"):
        binary = fazt_bin if name == "fazt" else baseline
        if binary is None:
            return None
        return lambda: fazt.start(env, binary, name)
    return {
        "minihttp-hello": lambda: peers.start_minihttp(env, bins),
        "nginx": lambda: peers.start_nginx(env, bins),
        "static-web-server": lambda: peers.start_sws(env, bins),
        "caddy": lambda: peers.start_caddy(env, bins),
        "pocketbase": lambda: peers.start_pocketbase(env, bins),
    }[name]


def binary_of(name: str, bins: peers.Bins, fazt_bin: Path | None, baseline: Path | None) -> Path | None:
    return {
        "fazt": fazt_bin,
        "fazt-baseline": baseline,
        "minihttp-hello": bins.minihttp,
        "nginx": bins.nginx,
        "static-web-server": bins.sws,
        "caddy": bins.caddy,
        "pocketbase": bins.pocketbase,
    }[name]


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def run_server(name: str, start, env: Env, loader: Loader, quick: bool, results: dict) -> None:
    entry = results["servers"][name]
    log(f"starting {name}")
    try:
        srv: Running = start()
    except Exception as e:  # noqa: BLE001 - one server failing must not stop the others
        entry["error"] = f"did not start: {e}"
        log(f"{name}: {entry['error']}")
        return
    entry.update(version=srv.version, idle_rss_kb=srv.idle_rss_kb, notes=srv.notes)
    if srv.problem:
        entry["error"] = srv.problem
        log(f"{name}: {srv.problem}")
    plan = [("small", lambda: scenarios.small(loader, srv, env.content))]
    if name == "fazt-baseline":
        # Only what it is the baseline of.
        plan = [("pure", lambda: scenarios.pure(loader, srv, env.content))]
    elif not quick:
        plan += [
            ("gzip", lambda: scenarios.gzip(loader, srv, env.content)),
            ("big", lambda: scenarios.big(loader, srv, env.content)),
            ("idle_conns", lambda: scenarios.idle_conns(env.pin, srv, env.content)),
            ("counter", lambda: scenarios.counter(loader, srv, env.content)),
            ("pure", lambda: scenarios.pure(loader, srv, env.content)),
            ("websocket", lambda: scenarios.websocket(env.pin, srv, env.content)),
        ]
    try:
        for key, fn in plan:
            needs = "small" if key == "idle_conns" else key
            if needs not in srv.targets:
                continue
            log(f"{name}: scenario {key}")
            try:
                results["scenarios"].setdefault(key, {})[name] = fn()
            except Exception as e:  # noqa: BLE001 - record and go on with the next scenario
                results["scenarios"].setdefault(key, {})[name] = {"error": str(e)}
                log(f"{name}: {key} failed: {e}")
            if srv.proc.poll() is not None:
                entry["error"] = f"exited with code {srv.proc.returncode} during scenario {key}"
                log(f"{name}: {entry['error']}")
                break
    finally:
        env.reg.stop(srv.proc)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))
    run_dir = Path(tempfile.mkdtemp(prefix="fazt-bench-"))
    run_dir.chmod(0o755)  # nginx workers (www-data) read the docroot inside it
    (run_dir / "logs").mkdir()
    pidfile = Path(os.environ.get("FAZT_BENCH_PIDFILE", run_dir / "pids"))
    reg = procs.Registry(log_dir=run_dir / "logs", pidfile=pidfile)
    pin = procs.Pinning.detect(args.nice)
    names = QUICK_SERVERS if args.quick else ALL_SERVERS
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in ALL_SERVERS]
        if unknown:
            print(f"unknown server(s) {unknown}; known: {', '.join(ALL_SERVERS)}", file=sys.stderr)
            return 2
        names = [n for n in names if n in wanted]
    bins = peer_bins(args.cache)
    results: dict = {
        "mode": "quick" if args.quick else "full",
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine.info(),
        "loadavg_start": machine.loadavg(),
        "pinning": pin.describe(),
        "wrk": {"threads": 1, "duration_s": args.duration, "runs": args.runs, "warmup_s": args.warmup},
        "servers": {},
        "scenarios": {},
        "deploy": None,
    }
    try:
        log(f"generating content in {run_dir}")
        content = content_mod.generate(run_dir / "content")
        env = Env(reg=reg, pin=pin, content=content, run_dir=run_dir)
        loader = Loader(pin, run_dir, args.duration, args.runs, args.warmup)
        for name in names:
            binary = binary_of(name, bins, args.fazt_bin, args.fazt_baseline_bin)
            entry = results["servers"].setdefault(name, {})
            if binary is not None and binary.exists():
                entry.update(binary=str(binary), binary_bytes=binary.stat().st_size, linkage=machine.linkage(binary))
            start = starter(name, env, bins, args.fazt_bin, args.fazt_baseline_bin)
            if name == "fazt-baseline" and binary is None:
                continue  # not asked for
            if start is None or binary is None or not binary.exists():
                entry["error"] = args.fazt_missing or f"binary not found: {binary}"
                log(f"{name}: skipped: {entry['error']}")
                continue
            run_server(name, start, env, loader, args.quick, results)
        if not args.quick and "fazt" in names and args.fazt_bin and args.fazt_bin.exists():
            log("fazt: scenario deploy")
            try:
                results["deploy"] = fazt.deploy_benchmark(env, args.fazt_bin)
            except Exception as e:  # noqa: BLE001
                results["deploy"] = {"error": str(e)}
                log(f"fazt: deploy failed: {e}")
    except Exception:
        traceback.print_exc()
        raise
    finally:
        reg.stop_all()
        results["loadavg_end"] = machine.loadavg()
        args.out.mkdir(parents=True, exist_ok=True)
        stem = args.out / ("quick" if args.quick else "latest")
        stem.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
        stem.with_suffix(".md").write_text(report.markdown(results, chart_name=stem.with_suffix(".svg").name))
        chart_note = report.chart(results, stem.with_suffix(".svg"))
        if chart_note:
            log(chart_note)
        if args.keep:
            log(f"run directory kept: {run_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
    log(f"results: {stem.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
