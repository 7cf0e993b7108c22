"""CPU time and RSS of a process from /proc (no psutil needed)."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int | None = None) -> float:
    """Resident set size in MiB."""
    with open(f"/proc/{pid or os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds the process has used."""
    with open(f"/proc/{pid or os.getpid()}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine() -> dict[str, object]:
    """What the run ran on, and how busy the machine was (load averages)."""
    with open("/proc/cpuinfo") as info:
        models = [ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")]
    return {
        "cpus": os.cpu_count(),
        "cpu_model": models[0] if models else "unknown",
        "load_avg": [round(x, 2) for x in os.getloadavg()],
        "mem_total_mb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20),
    }


@dataclass
class Usage:
    """CPU seconds and %, and peak RSS, of a process over a window: ``start()``, then ``stop()``."""

    pid: int = field(default_factory=os.getpid)
    interval: float = 0.2
    peak_rss_mb: float = 0.0
    cpu_percent: float = 0.0
    cpu_s: float = 0.0
    _cpu0: float = 0.0
    _wall0: float = 0.0
    _task: asyncio.Task[None] | None = None

    def start(self) -> Usage:
        self._cpu0, self._wall0 = cpu_seconds(self.pid), time.monotonic()
        self.peak_rss_mb = rss_mb(self.pid)
        self._task = asyncio.create_task(self._sample())
        return self

    async def _sample(self) -> None:
        while True:
            self.peak_rss_mb = max(self.peak_rss_mb, rss_mb(self.pid))
            await asyncio.sleep(self.interval)

    async def stop(self) -> Usage:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        wall = time.monotonic() - self._wall0
        self.cpu_s = cpu_seconds(self.pid) - self._cpu0
        self.cpu_percent = round(100 * self.cpu_s / max(wall, 1e-9), 1)
        self.peak_rss_mb = round(max(self.peak_rss_mb, rss_mb(self.pid)), 1)
        return self
