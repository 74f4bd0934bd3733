"""Load runs: wrk against one server, measured from the server's side too.

wrk prints its summary through a Lua `done` hook as one JSON line (no
per-request Lua, so the hook costs nothing during the run). While wrk runs,
the server's process tree is sampled for RSS, and its CPU time is read
before and after, so every figure says whether the server was the
bottleneck (CPU near 100 % of its one core) or the client was.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from . import procs

WRK_LUA = """-- Prints wrk's summary as one JSON line (bench/harness/load.py parses it).
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%.1f,"p99_us":%.1f,' ..
    '"max_us":%.1f,"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


@dataclass
class LoadResult:
    rps: float
    p50_ms: float
    p99_ms: float
    mib_s: float
    requests: int
    errors: int
    server_cpu_pct: float
    # wrk's own CPU, and the CPU time other processes took on the server's and
    # on the load generator's core: a busy machine shows up here.
    client_cpu_pct: float
    other_on_server_core_pct: float | None
    other_on_client_core_pct: float | None
    rss_before_kb: int
    rss_peak_kb: int
    connections: int
    runs: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Target:
    """What to request: URL path, and the Host header (None: wrk's default)."""

    path: str
    host: str | None = None


def _children_cpu_seconds() -> float:
    """CPU time of this process's finished children (wrk is the only one during a run)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


class Loader:
    def __init__(self, pin: procs.Pinning, run_dir: Path, duration: int, runs: int, warmup: int):
        self.pin, self.duration, self.runs, self.warmup = pin, duration, runs, warmup
        self.lua = run_dir / "wrk-json.lua"
        self.lua.write_text(WRK_LUA)

    def _wrk(self, port: int, target: Target, conns: int, secs: int, headers: list[str]) -> dict:
        cmd = ["wrk", "-t1", f"-c{conns}", f"-d{secs}s", "--timeout", "5s", "-s", str(self.lua)]
        if target.host:
            cmd += ["-H", f"Host: {target.host}"]
        for h in headers:
            cmd += ["-H", h]
        cmd.append(f"http://127.0.0.1:{port}{target.path}")
        proc = subprocess.Popen(
            self.pin.client_cmd(cmd),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=self.pin.own_session,
        )
        self.pin.prioritize(proc.pid)
        try:
            stdout, stderr = proc.communicate(timeout=secs + 30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise RuntimeError(f"wrk did not finish within {secs + 30}s") from None
        for line in stdout.splitlines():
            if line.startswith("WRKJSON "):
                return json.loads(line[len("WRKJSON ") :])
        raise RuntimeError(f"wrk gave no summary (exit {proc.returncode}): {stderr.strip() or stdout[-500:]}")

    def run(self, pid: int, port: int, target: Target, conns: int, headers: list[str] | None = None) -> LoadResult:
        """Warm-up, then `runs` measured runs; the median run (by req/s) is kept.

        RSS is sampled from before the warm-up to the end of the last run, so
        `rss_before_kb` is the server before this load and `rss_peak_kb` the
        most it held at any moment under it.
        """
        headers = headers or []
        self.pin.repin_server(pid)
        rss_before = procs.tree_rss_kb(pid)
        sampler = procs.RssSampler(pid)
        sampler.start()
        try:
            if self.warmup > 0:
                self._wrk(port, target, conns, self.warmup, headers)
            results = []
            for _ in range(self.runs):
                self.pin.repin_server(pid)
                cpu0 = procs.tree_cpu_seconds(pid)
                cores0 = procs.cpu_busy_seconds()
                wrk0 = _children_cpu_seconds()
                raw = self._wrk(port, target, conns, self.duration, headers)
                wrk_cpu = _children_cpu_seconds() - wrk0
                cpu = procs.tree_cpu_seconds(pid) - cpu0
                cores = {c: busy - cores0.get(c, 0.0) for c, busy in procs.cpu_busy_seconds().items()}
                secs = max(raw["duration_us"], 1) / 1e6
                errors = sum(raw[k] for k in ("err_connect", "err_read", "err_write", "err_status", "err_timeout"))
                server_core = cores.get(self.pin.server_cpus or "", None)
                client_core = cores.get(self.pin.client_cpus or "", None)
                results.append(
                    LoadResult(
                        rps=raw["requests"] / secs,
                        p50_ms=raw["p50_us"] / 1000,
                        p99_ms=raw["p99_us"] / 1000,
                        mib_s=raw["bytes"] / secs / (1024 * 1024),
                        requests=raw["requests"],
                        errors=errors,
                        server_cpu_pct=100 * cpu / secs,
                        other_on_server_core_pct=None
                        if server_core is None
                        else max(0.0, 100 * (server_core - cpu) / secs),
                        client_cpu_pct=100 * wrk_cpu / secs,
                        other_on_client_core_pct=None
                        if client_core is None
                        else max(0.0, 100 * (client_core - wrk_cpu) / secs),
                        rss_before_kb=rss_before,
                        rss_peak_kb=0,
                        connections=conns,
                        runs=self.runs,
                    )
                )
        finally:
            peak = sampler.stop()
        median = statistics.median_low([r.rps for r in results])
        kept = next(r for r in results if r.rps == median)
        kept.rss_peak_kb = max(peak, rss_before)
        return kept
