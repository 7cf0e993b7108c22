"""Figure 6 — approval click → tool execution start.

The click is a signed ``block_actions`` POST from this process to the Slack front
end; the tool runs where the turn runs (the same bot process, or a separate
``worker`` process on the same Redis) and reports its start on the system-wide
monotonic clock, which its tool line on the Slack stand-in carries back.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.figure import Figure, below, until
from bench.rig import SECRET, BotProcess, bot_env, fleet, redis_server, standins
from bench.slackload import mentions, post_all
from bench.stats import ms, summary
from bench.tools import GPU_JOB, STARTED
from tests.standins.llm import text, tool_calls
from tests.standins.slack import SlackSender


def _card(slack, channel: str):
    cards = [
        m for m in slack.messages.values() if m.channel == channel and "approve" in str(m.blocks)
    ]
    return cards[-1] if cards else None


def _started(slack, channel: str) -> float | None:
    for m in slack.messages.values():
        if m.channel == channel and (found := STARTED.search(m.text)):
            return float(found.group(1))
    return None


async def _clicks(front, slack, llm, approvals: int, tag: str) -> dict:
    """Approve ``approvals`` GPU jobs one after another: click → tool start, click → ack."""
    sender = SlackSender(front.events_url, SECRET)
    latencies, acks = [], []
    for i in range(approvals):
        llm.script(tool_calls(("hf_jobs", GPU_JOB)), text("Job started."))
        batch = mentions(sender, 1, f"CA{tag}{i}X", say="run a job")
        channel = batch[0].channel
        await post_all(front.events_url, batch)
        if not await until(lambda c=channel: _card(slack, c) is not None, 30, 0.01):
            continue
        card = _card(slack, channel)
        approve = next(a for a in card.button_ids() if ":approve:" in a)
        clicked = time.monotonic()
        await sender.click(card, approve, user="U0BENCH")
        acks.append(ms(time.monotonic() - clicked))
        await until(lambda c=channel: _started(slack, c) is not None, 30, 0.005)
        if (started := _started(slack, channel)) is not None:
            latencies.append(ms(started - clicked))
    return {"click_to_tool_start_ms": summary(latencies), "click_ack_ms": summary(acks)}


async def run(approvals: int) -> Figure:
    fig = Figure(
        "approval",
        "Approval click → tool execution start",
        {"approvals": approvals, "tool": "hf_jobs (bench double, GPU flavour: needs approval)"},
    )
    setups = {
        "one bot process": lambda env: BotProcess(env),
        "front end + worker": lambda env: fleet(env, 1),
    }
    for name, start in setups.items():
        with redis_server() as redis, tempfile.TemporaryDirectory() as data:
            async with (
                standins() as (llm, slack),
                start(bot_env(redis.url, llm, slack, Path(data))) as front,
            ):
                fig.results[name] = await _clicks(front, slack, llm, approvals, name[0])
    for name, result in fig.results.items():
        p50 = result["click_to_tool_start_ms"]["p50"]
        fig.target(f"click → tool start p50, {name}", "< 250 ms", p50, below(p50, 250))
    fig.notes.append(
        "The click is handled by the front end; the tool runs where the turn runs "
        "(the same process, or a worker process). The card's redraw and the tool's line are "
        "made by the thread's writer beside the tool, so neither waits for the rate gate first."
    )
    return fig
