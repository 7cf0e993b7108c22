"""``python -m bench``: every figure, in order, then bench/results/latest.{json,md,png}.

``--scale smoke`` runs each figure at tiny parameters (what the smoke test uses);
``--only`` picks figures by key.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import subprocess
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from bench import (  # noqa: E402
    fig_ack,
    fig_approval,
    fig_cadence,
    fig_chunk,
    fig_cold,
    fig_concurrency,
    fig_docs,
    fig_memory,
    fig_overhead,
    fig_research,
    fig_sandbox,
    fig_space,
    fig_threads,
)
from bench.figure import Figure  # noqa: E402
from bench.proc import machine  # noqa: E402
from bench.report import write  # noqa: E402

RESULTS = Path(__file__).parent / "results"


@dataclass(frozen=True)
class Scale:
    ack_rates: tuple[int, ...] = (50, 200, 500)
    ack_seconds: float = 3.0
    drain_timeout: float = 45.0
    stream_chunks: int = 120
    stream_rate: float = 20.0
    threads: tuple[int, ...] = (1, 50, 200, 500)
    thread_chunks: int = 100
    thread_rate: float = 10.0
    workers: tuple[int, ...] = (1, 2, 4)
    worker_turns: int = 200
    overhead_turns: int = 30
    overhead_chunks: tuple[int, int] = (20, 200)
    idle_sessions: int = 10_000
    history_messages: int = 50
    approvals: int = 10
    budget_threads: tuple[int, ...] = (1, 6, 20)
    budget_words: int = 150
    budget_rate: float = 4.0
    chunk_chunks: int = 3000
    chunk_repeats: int = 5
    cold_repeats: int = 5
    docs_pages: int = 400
    docs_queries: int = 300
    sandbox_calls: int = 200
    space_calls: int = 200
    space_uptime: float = 60.0


SCALES = {
    "full": Scale(),
    "smoke": Scale(
        ack_rates=(20,),
        ack_seconds=0.5,
        drain_timeout=20,
        stream_chunks=12,
        stream_rate=20,
        threads=(1, 3),
        thread_chunks=6,
        thread_rate=20,
        workers=(1, 2),
        worker_turns=3,
        overhead_turns=2,
        overhead_chunks=(4, 12),
        idle_sessions=20,
        history_messages=50,
        approvals=1,
        budget_threads=(1, 3),
        budget_words=6,
        budget_rate=6.0,
        chunk_chunks=200,
        chunk_repeats=1,
        cold_repeats=1,
        docs_pages=20,
        docs_queries=10,
        sandbox_calls=5,
        space_calls=5,
        space_uptime=10.0,
    ),
}


def code_version() -> str:
    """The commit measured (``BENCH_CODE`` overrides), marked dirty when the tree has changes."""
    if given := os.environ.get("BENCH_CODE"):
        return given
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True).stdout
    except OSError:
        return "unknown"
    return head.stdout.decode().strip() + (" + uncommitted changes" if dirty.strip() else "")


def figures(s: Scale) -> dict[str, Callable[[], Awaitable[Figure]]]:
    return {
        "slack_http": lambda: fig_ack.run(s.ack_rates, s.ack_seconds, s.drain_timeout),
        "edit_cadence": lambda: fig_cadence.run(s.stream_chunks, s.stream_rate),
        "concurrency": lambda: fig_concurrency.run(
            s.threads, s.thread_chunks, s.thread_rate, s.workers, s.worker_turns
        ),
        "overhead": lambda: fig_overhead.run(s.overhead_turns, s.overhead_chunks),
        "memory": lambda: fig_memory.run(s.idle_sessions, s.history_messages),
        "approval": lambda: fig_approval.run(s.approvals),
        "thread_budget": lambda: fig_threads.run(s.budget_threads, s.budget_words, s.budget_rate),
        "chunk_cpu": lambda: fig_chunk.run(s.chunk_chunks, s.chunk_repeats),
        "cold_start": lambda: fig_cold.run(s.cold_repeats),
        "docs_search": lambda: fig_docs.run(s.docs_pages, s.docs_queries),
        "research_context": fig_research.run,
        "sandbox": lambda: fig_sandbox.run(s.sandbox_calls),
        "space_sandbox": lambda: fig_space.run(s.space_calls, s.space_uptime),
    }


def last_durations(out: Path, scale: str) -> dict[str, float]:
    """Each figure's seconds in the last run at this scale, to estimate the time left."""
    try:
        last = json.loads((out / "latest.json").read_text())
    except (OSError, ValueError):
        return {}
    if last.get("run", {}).get("scale") != scale:
        return {}
    return {f["key"]: f.get("seconds") or 0.0 for f in last.get("figures", [])}


def progress(n: int, total: int, key: str, elapsed: float, left: float | None) -> str:
    """``[2/6] edit_cadence · 2 min 35 s so far · about 5 min left``."""
    eta = f" · about {clock_time(left)} left" if left else ""
    return f"── [{n}/{total}] {key} · {clock_time(elapsed)} so far{eta}"


def clock_time(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


async def run_all(scale: str, only: Sequence[str], out: Path) -> list[Figure]:
    started, clock = datetime.now(UTC).isoformat(timespec="seconds"), time.monotonic()
    info = machine()
    todo = {k: make for k, make in figures(SCALES[scale]).items() if not only or k in only}
    estimate = last_durations(out, scale)
    done = []
    for n, (key, make) in enumerate(todo.items(), 1):
        remaining = [estimate.get(k) for k in list(todo)[n - 1 :]]
        left = sum(remaining) if all(remaining) else None  # type: ignore[arg-type]
        print(progress(n, len(todo), key, time.monotonic() - clock, left), flush=True)
        begin = time.monotonic()
        figure = await make()
        figure.seconds = round(time.monotonic() - begin, 1)
        print(f"   {figure.status} in {clock_time(figure.seconds)}:", flush=True)
        for target in figure.targets:
            verdict = {True: "met", False: "MISSED", None: "not measured"}[target.met]
            print(f"     {verdict:>12}  {target.what}: {target.value} (goal {target.goal})")
        done.append(figure)
    run = {
        "started": started,
        "scale": scale,
        "code": code_version(),
        "params": SCALES[scale].__dict__,
        "seconds": round(time.monotonic() - clock, 1),
        "machine": info,
        "load_avg_after": [round(x, 2) for x in os.getloadavg()],
    }
    write(done, run, out)
    return done


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--only", nargs="*", default=[], help="figure keys to run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(run_all(args.scale, args.only, args.out))
    print((args.out / "latest.md").read_text())
    return 0
