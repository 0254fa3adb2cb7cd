"""Facts about the machine a worker runs on: the cores it may use, the memory it has left.

A PaaS dyno or a container may have less than the machine shows (a cgroup CPU quota, a memory
limit): both are read where they are set, the machine's own figures otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

MEMORY_MARGIN = 256 * 2**20  # bytes left free at least (and 10% of the limit) by what grows on its own


def usable_cores(cgroup: Path = Path("/sys/fs/cgroup")) -> float:
    """The cores this process may run on: its affinity, capped by a cgroup CPU quota when there is one."""
    try:
        cores = float(len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cores = float(os.cpu_count() or 1)
    quota = _cgroup_quota(cgroup)
    return max(0.1, min(cores, quota)) if quota else cores


def memory_room(cgroup: Path = Path("/sys/fs/cgroup"), meminfo: Path = Path("/proc/meminfo")) -> bool:
    """Whether the machine (or the container's memory limit) has room for another recogniser (35-70 MB)."""
    free, limit = _memory(cgroup, meminfo)
    if free is None or limit is None:
        return True  # nothing to read (not Linux): the pool's own cap still bounds the reserve
    return free > max(MEMORY_MARGIN, 0.1 * limit)


def _memory(cgroup: Path, meminfo: Path) -> tuple[float | None, float | None]:
    """Bytes available and the limit they come from: the cgroup's when it sets one, else the machine's."""
    try:
        raw = (cgroup / "memory.max").read_text().strip()
        if raw != "max":
            limit = float(raw)
            return limit - float((cgroup / "memory.current").read_text()), limit
    except (OSError, ValueError):
        pass
    try:
        fields = dict(line.split(":", 1) for line in meminfo.read_text().splitlines() if ":" in line)
        return float(fields["MemAvailable"].split()[0]) * 1024, float(fields["MemTotal"].split()[0]) * 1024
    except (OSError, KeyError, ValueError, IndexError):
        return None, None


def _cgroup_quota(root: Path) -> float | None:
    try:  # cgroup v2: "max 100000" or "150000 100000"
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:  # cgroup v1
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return quota_us / period_us if quota_us > 0 and period_us > 0 else None
    except (OSError, ValueError):
        return None


def machine_cpu() -> tuple[int, int] | None:
    """(busy, total) CPU ticks of the whole machine since boot (``/proc/stat``), None where there is none."""
    try:
        with open("/proc/stat", "rb") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields[:8]) - idle, sum(fields[:8])  # guest time is already in user


class Busy:
    """How busy the machine's CPUs were between one look and the next (0..1), None where it cannot be read."""

    def __init__(self) -> None:
        self._last = machine_cpu()

    def share(self) -> float | None:
        now, last = machine_cpu(), self._last
        self._last = now
        if now is None or last is None or now[1] <= last[1]:
            return None
        return (now[0] - last[0]) / (now[1] - last[1])
