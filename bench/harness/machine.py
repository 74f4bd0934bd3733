"""Facts about the machine and the binaries, for the results header."""

from __future__ import annotations

import os
import platform
import struct
import subprocess
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return "unknown"


def _mem_total_mib() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def wrk_version() -> str:
    try:
        out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "unknown"
    text = (out.stdout + out.stderr).strip().splitlines()
    return " ".join(text[0].split()[:2]) if text else "unknown"


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def info() -> dict:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count() or 0,
        "arch": platform.machine(),
        "kernel": platform.release(),
        "os": _os_name(),
        "mem_mib": _mem_total_mib(),
        "wrk": wrk_version(),
        "python": platform.python_version(),
    }


def linkage(path: Path) -> str:
    """'static' or 'dynamic' (has a PT_INTERP program header), from the ELF itself."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2:  # 64-bit only
                return "?"
            endian = "<" if head[5] == 1 else ">"
            phoff = struct.unpack_from(endian + "Q", head, 0x20)[0]
            phentsize, phnum = struct.unpack_from(endian + "HH", head, 0x36)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
        for i in range(phnum):
            if struct.unpack_from(endian + "I", table, i * phentsize)[0] == 3:  # PT_INTERP
                return "dynamic"
        return "static"
    except (OSError, struct.error, IndexError):
        return "?"
