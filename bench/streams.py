"""Streamed answers, timed: when each chunk left the LLM and when a thread first showed it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.figure import finished, until
from bench.proc import Usage
from bench.rig import BotProcess, TimedLLM, TimedSlack, last_marker, streamed
from bench.slackload import mentions, post_all
from bench.stats import ms, summary
from tests.standins.slack import SlackSender

PLOTTED_THREADS = 8


@dataclass
class ThreadRun:
    """One thread's stream: chunk → visible latencies and its edit times."""

    chunk_ms: list[float]
    first_ms: float | None
    edits: list[float]  # seconds after the first chunk was sent, one per accepted edit
    edits_per_s: float | None
    refused: int = 0


def thread_run(
    sent: Sequence[float], shown: Sequence[tuple[float, int]], refused: int
) -> ThreadRun:
    """``sent[k-1]`` is when chunk ``k`` was sent; ``shown`` is (when, last chunk shown) per write."""
    chunk_ms = []
    for k, at in enumerate(sent, start=1):
        seen = next((t for t, last in shown if last >= k), None)
        if seen is not None:
            chunk_ms.append(ms(seen - at))
    origin = sent[0] if sent else 0.0
    edits = [t - origin for t, last in shown if last > 0]
    span = edits[-1] - edits[0] if len(edits) > 1 else 0.0
    return ThreadRun(
        chunk_ms=chunk_ms,
        first_ms=chunk_ms[0] if chunk_ms else None,
        edits=[round(e, 3) for e in edits],
        edits_per_s=round((len(edits) - 1) / span, 3) if span else None,
        refused=refused,
    )


def aggregate(runs: Sequence[ThreadRun]) -> dict[str, Any]:
    """p50/p99 over threads: chunk → visible, first token → visible, edits per second."""
    return {
        "threads": len(runs),
        "chunk_to_visible_ms": summary([x for r in runs for x in r.chunk_ms]),
        "first_token_to_visible_ms": summary([r.first_ms for r in runs if r.first_ms is not None]),
        "edits_per_s_per_thread": summary(
            [r.edits_per_s for r in runs if r.edits_per_s is not None], digits=3
        ),
        "rate_limited_429": sum(r.refused for r in runs),
    }


@dataclass
class SlackStreams:
    """``threads`` mentions in their own channels, each answered by a stream of ``chunks``."""

    bot: BotProcess
    slack: TimedSlack
    llm: TimedLLM
    sender: SlackSender
    prefix: str
    runs: list[ThreadRun] = field(default_factory=list)
    usage: Usage | None = None
    loop_lag_ms: dict[str, Any] = field(default_factory=dict)
    chunks_streamed: int = 0

    async def run(
        self, threads: int, chunks: int, rate: float, within: float, launch: float | None = None
    ) -> bool:
        """Mention every thread (``launch`` per second, None: all at once); True if all
        answers finished within ``within`` seconds."""
        self.llm.default = streamed(chunks, rate)
        batch = mentions(self.sender, threads, self.prefix, say="stream")
        channels = [m.channel for m in batch]
        await self.bot.probe()
        self.usage = Usage(self.bot.pid).start()
        await post_all(self.bot.events_url, batch, launch)
        complete = await until(
            lambda: len(finished(self.slack, channels, chunks)) == threads, within, every=0.25
        )
        # the LLM stand-in notes a stream when its response ends, just after the last chunk
        await until(lambda: len(self.llm.streams) >= threads, 5.0)
        await self.usage.stop()
        self.loop_lag_ms = summary((await self.bot.probe())["loop_lag_ms"])
        by_asked = {s.asked: s for s in self.llm.streams}
        for i, channel in enumerate(channels):
            stream = by_asked.get(f"stream {i}")
            if stream is None:
                continue
            sent = [stream.chunk_time(k) for k in range(1, chunks + 1)]
            shown = [
                (c.at, last_marker(c.args.get("text", "")) if c.method == "chat.update" else 0)
                for c in self.slack.writes(channel)
            ]
            refused = sum(
                1
                for c in self.slack.timeline
                if c.status == 429 and c.args.get("channel") == channel
            )
            self.runs.append(thread_run(sent, shown, refused))
            self.chunks_streamed += chunks
        return complete

    def results(self) -> dict[str, Any]:
        assert self.usage is not None
        return {
            **aggregate(self.runs),
            "bot_cpu_percent": self.usage.cpu_percent,
            "bot_cpu_us_per_chunk": round(1e6 * self.usage.cpu_s / self.chunks_streamed, 1)
            if self.chunks_streamed
            else None,
            "bot_peak_rss_mb": self.usage.peak_rss_mb,
            "bot_loop_lag_ms": self.loop_lag_ms,
        }

    def plotted(self) -> list[list[float]]:
        return [r.edits for r in self.runs[:PLOTTED_THREADS]]
