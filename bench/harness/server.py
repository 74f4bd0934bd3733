"""What every benchmarked server looks like to the scenarios.

A server is started by its own module (`peers.py` for the alternatives,
`fazt.py` for fazt) and handed to the scenarios as a `Running`: a process,
a port, and for each scenario the URL path + Host header to load, or no
entry when the server does not take part in that scenario.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import procs
from .content import Content
from .load import Target


@dataclass
class Env:
    """What a server's start function may use."""

    reg: procs.Registry
    pin: procs.Pinning
    content: Content
    run_dir: Path


@dataclass
class Running:
    name: str
    proc: subprocess.Popen
    port: int
    targets: dict[str, Target]  # scenario key ('small', 'gzip', 'big', 'counter') -> what to request
    binary: Path
    version: str
    idle_rss_kb: int
    notes: list[str] = field(default_factory=list)
    # Set when the server runs but could not be prepared for some scenarios
    # (those are then missing from `targets` and reported as not measured).
    problem: str | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid


def launch(env: Env, name: str, cmd: list[str], port: int, *, env_vars: dict | None = None, cwd: Path | None = None):
    """Starts `cmd` pinned to the server CPU; returns (process, idle RSS KiB).

    Idle RSS is read one second after the port first accepts a connection
    (that probe is the only traffic the server has seen).
    """
    proc = env.reg.start(name, env.pin.server_cmd(cmd), env=env_vars, cwd=cwd)
    env.pin.prioritize(proc.pid)
    try:
        procs.wait_port(port, proc)
    except RuntimeError as e:
        env.reg.stop(proc)
        log = (env.reg.log_dir / f"{name}.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{name}: {e}\n--- last lines of {name}.log ---\n{log}") from None
    env.pin.repin_server(proc.pid)
    time.sleep(1.0)
    return proc, procs.tree_rss_kb(proc.pid)


def static_targets(host: str | None = None) -> dict[str, Target]:
    from .content import BIG, SMALL, TEXT

    return {
        "small": Target("/" + SMALL, host),
        "gzip": Target("/" + TEXT, host),
        "big": Target("/" + BIG, host),
    }
