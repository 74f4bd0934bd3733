"""Server processes: start, pin to CPUs, measure (RSS, CPU, sockets), stop.

Everything the harness knows about a running process comes from /proc, so a
server is measured the same way whatever it is written in. Multi-process
servers (nginx: master + worker) are measured as the whole process tree.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Pinning:
    """Which CPUs the servers and the load generators run on.

    On a machine with at least two CPUs the server gets CPU 0 and every load
    generator (wrk, the idle-connection client) gets CPU 1, so the two never
    fight for a core and every server gets exactly one core. On one CPU
    nothing is pinned (and the results say so).
    """

    server_cpus: str | None
    client_cpus: str | None
    # Niceness for servers and load generators (None: inherit). A negative
    # value lets a benchmark on a shared machine take its cores from other
    # work; it is the same for every server, so comparisons stay fair.
    nice: int | None = None

    @staticmethod
    def detect(nice: int | None = None) -> Pinning:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) >= 2:
            return Pinning(str(cpus[0]), str(cpus[1]), nice)
        return Pinning(None, None, nice)

    def describe(self) -> str:
        prio = f"; servers and load generators at nice {self.nice}" if self.nice is not None else ""
        if self.server_cpus is None:
            return "not pinned (fewer than 2 CPUs available)" + prio
        return (
            f"each server (all its threads and processes) on CPU {self.server_cpus}, "
            f"load generators (wrk, idle-connection client) on CPU {self.client_cpus}" + prio
        )

    @property
    def own_session(self) -> bool:
        """Whether load generators need their own session (see `prioritize`)."""
        return self.nice is not None

    def prioritize(self, pid: int) -> None:
        """Gives `pid`'s session the configured niceness across sessions too.

        With the kernel's autogroup scheduling on (the default on many
        distributions), CPU time is shared between sessions first and nice
        only orders processes inside a session; so a session leader started
        by the harness also gets its autogroup's nice value. Best effort.
        """
        if self.nice is None:
            return
        try:
            Path(f"/proc/{pid}/autogroup").write_text(str(self.nice))
        except OSError:
            pass

    def _wrap(self, cpus: str | None, cmd: list[str]) -> list[str]:
        if self.nice is not None:
            cmd = ["nice", "-n", str(self.nice), *cmd]
        return ["taskset", "-c", cpus, *cmd] if cpus else cmd

    def client_cmd(self, cmd: list[str]) -> list[str]:
        return self._wrap(self.client_cpus, cmd)

    def server_cmd(self, cmd: list[str]) -> list[str]:
        return self._wrap(self.server_cpus, cmd)

    def repin_server(self, pid: int) -> None:
        """Re-apply the server pinning to every thread of the process tree.

        Some runtimes (may) pin their worker threads to cores themselves,
        which would undo `taskset` at launch; re-pinning after start-up and
        before each load run keeps every server on the same single core.
        """
        if self.server_cpus is None:
            return
        for p in tree_pids(pid):
            subprocess.run(
                ["taskset", "-a", "-p", "-c", self.server_cpus, str(p)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after
    # the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        return int(fields[1])
    except (IndexError, ValueError):
        return None


def tree_pids(root: int) -> list[int]:
    """`root` and all its live descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            parent = _ppid(int(entry))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        if Path(f"/proc/{p}").exists():
            out.append(p)
        todo.extend(children.get(p, []))
    return out


def status_kb(pid: int, key: str) -> int | None:
    """A `kB` field of /proc/PID/status (VmRSS, VmHWM, …), or None."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def tree_rss_kb(root: int) -> int:
    """Resident set of the whole process tree, in KiB."""
    return sum(status_kb(p, "VmRSS") or 0 for p in tree_pids(root))


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU time consumed so far by the live process tree."""
    total = 0
    for p in tree_pids(root):
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
            fields = stat[stat.rfind(")") + 2 :].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, ValueError, IndexError):
            continue
    return total / CLK_TCK


def cpu_busy_seconds() -> dict[str, float]:
    """Non-idle time of each CPU since boot, from /proc/stat (key: CPU number)."""
    out: dict[str, float] = {}
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        name, *vals = line.split()
        if not name.startswith("cpu") or name == "cpu":
            continue
        try:
            # user nice system idle iowait irq softirq steal: count user, nice, system
            # and steal. Interrupt time is left out: on loopback most of it is the
            # network stack working for the benchmarked server itself.
            user, nice, system, _idle, _iowait, _irq, _softirq, steal = (int(v) for v in vals[:8])
        except ValueError:
            continue
        out[name[3:]] = (user + nice + system + steal) / CLK_TCK
    return out


def tree_socket_count(root: int) -> int:
    """Open sockets held by the process tree (listening ones included)."""
    n = 0
    for p in tree_pids(root):
        try:
            for fd in os.listdir(f"/proc/{p}/fd"):
                try:
                    if os.readlink(f"/proc/{p}/fd/{fd}").startswith("socket:"):
                        n += 1
                except OSError:
                    continue
        except OSError:
            continue
    return n


class RssSampler(threading.Thread):
    """Samples a process tree's RSS every `interval` seconds until stopped."""

    def __init__(self, root: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.peak_kb = 0
        self._stop_evt = threading.Event()

    def run(self) -> None:
        while not self._stop_evt.is_set():
            self.peak_kb = max(self.peak_kb, tree_rss_kb(self.root))
            self._stop_evt.wait(self.interval)

    def stop(self) -> int:
        self._stop_evt.set()
        self.join(timeout=5)
        return self.peak_kb


@dataclass
class Registry:
    """Every process the harness starts, so that all of them get stopped.

    Each server runs in its own session (process group); its group id is
    also appended to `pidfile` so that `run.sh`'s EXIT trap can stop it even
    if this Python process dies abruptly.
    """

    log_dir: Path
    pidfile: Path
    procs: list[subprocess.Popen] = field(default_factory=list)

    def start(self, name: str, cmd: list[str], env: dict | None = None, cwd: Path | None = None):
        log = open(self.log_dir / f"{name}.log", "ab")
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        log.close()
        self.procs.append(proc)
        with open(self.pidfile, "a") as f:
            f.write(f"{proc.pid}\n")
        return proc

    def stop(self, proc: subprocess.Popen, grace: float = 5.0) -> None:
        if proc.poll() is None:
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        # The leader may be gone while workers linger: always sweep the group.
        _signal_group(proc.pid, signal.SIGKILL)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in list(self.procs):
            self.stop(proc)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """Block until 127.0.0.1:`port` accepts connections.

    Raises RuntimeError naming the port if the process exits first or the
    timeout passes.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with code {proc.returncode} before listening on port {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listened on 127.0.0.1:{port} within {timeout:.0f}s")
