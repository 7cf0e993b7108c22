"""Figure — a sandbox's ``bash true`` round trip through the local backend.

One bubblewrapped sandbox server (``agent/sandbox/local.py``), started once; then
``bash true`` calls one after another through the tool path's client (a new client per
call, as each tool call opens one), timed from the call to its answer. Also the
sandbox's start, from nothing to a healthy server. Skipped where bubblewrap cannot run.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from agent.sandbox.backends import SandboxBackend, SandboxRecord
from agent.sandbox.local import LocalBackend
from bench.figure import Figure, below, step
from bench.stats import ms, summary

ROUND_TRIP_GOAL_MS = 50.0


async def bash_round_trips(
    backend: SandboxBackend, record: SandboxRecord, calls: int
) -> list[float]:
    """``calls`` ``bash true`` calls one after another, each through a new client as a tool
    call opens one: milliseconds from the call to its answer."""
    trips = []
    for _ in range(calls):
        began = time.monotonic()
        async with await backend.attach(record) as client:
            answer = await client.bash("true", work_dir=None, seconds=30, run_id="b")
        trips.append(ms(time.monotonic() - began))
        assert answer["exit_code"] == 0, answer
    return trips


def _bwrap_runs() -> bool:
    if shutil.which("bwrap") is None:
        return False
    probe = ["bwrap", "--ro-bind", "/", "/", "--unshare-all", "--unshare-user", "true"]
    return subprocess.run(probe, capture_output=True).returncode == 0


async def run(calls: int) -> Figure:
    figure = Figure("sandbox", "Sandbox: `bash true` round trip (local backend)", {"calls": calls})
    if not _bwrap_runs():
        figure.status = "pending"
        figure.notes.append("bubblewrap is missing or cannot make namespaces here")
        figure.target("bash true p50", f"< {ROUND_TRIP_GOAL_MS:g} ms", None, None)
        return figure
    with tempfile.TemporaryDirectory() as root:
        backend = LocalBackend(Path(root))
        began = time.monotonic()
        record = await backend.start("bench:T:C:1", "cpu-basic")
        started = time.monotonic() - began
        step(f"sandbox started in {ms(started):.0f} ms")
        try:
            trips = await bash_round_trips(backend, record, calls)
        finally:
            await backend.close()
    figure.results = {"start_ms": round(ms(started), 1), "bash_true_ms": summary(trips)}
    p50 = figure.results["bash_true_ms"]["p50"]
    figure.target(
        "bash true p50", f"< {ROUND_TRIP_GOAL_MS:g} ms", p50, below(p50, ROUND_TRIP_GOAL_MS)
    )
    return figure
