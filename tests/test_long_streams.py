"""Long answers end to end: every character arrives once, in order, within each platform's limits.

Each answer goes through the real Bolt app or discord.py client to the Slack or Discord
stand-in, from the loopback LLM through LiteLLM, on a real redis-server; on Slack both
with ``chat.update`` edits and with native streams.

Time is scaled: ``MINUTE`` real seconds stand for one minute. A "20-minute" answer is
streamed in 200 chunks ``20 * MINUTE / 200`` seconds apart (2 s), a Slack stream ends
``5 * MINUTE`` after it starts (0.5 s; Slack's ~5 minutes) and the bot closes its own at
the surface's real ``stream_max_seconds`` scaled the same way (3 minutes: 0.3 s), so one
answer outlives several streams. Answers are numbered words and code blocks without
markdown specials, so Slack's mrkdwn shows them unchanged; a message's leading and trailing
whitespace may be trimmed and a code fence closed at a cut is reopened in the next message,
so the answer is compared word by word, fences aside.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

import pytest

from adapters.slack import budget
from adapters.slack.surface import StreamingSlackSurface
from bot.output.messages import CUT_OFF
from tests.closing import bounded
from tests.standins.llm import error, text, tool_calls, truncated
from tests.standins.slack import RateLimits
from tests.support import eventually
from tests.test_discord import Rig

# fixtures shared with the platform tests (``x as x`` re-exports them to pytest)
from tests.test_discord import api as api
from tests.test_slack import make_bot as make_bot
from tests.test_slack import slack as slack

MINUTE = 0.1
"""Real seconds that stand for one minute of a simulated stream."""
DONE = "✔️ Done."


def scale_slack_budget(monkeypatch, minute: float = MINUTE) -> RateLimits:
    """Slack's calls per minute per method and posts per second per channel, per scaled
    ``minute`` of real seconds (as its streams' ages are), bursts as many calls as Slack's;
    returns the stand-in's limits scaled alike, for a test that has it enforce them."""
    speedup = 60 / minute
    for tier, per_minute in list(budget.TIER_PER_MINUTE.items()):
        monkeypatch.setitem(budget.TIER_PER_MINUTE, tier, per_minute * speedup)
    monkeypatch.setattr(budget, "POSTS_PER_SECOND", budget.POSTS_PER_SECOND * speedup)
    monkeypatch.setattr(budget, "BURST_SECONDS", budget.BURST_SECONDS / speedup)
    slack = RateLimits()
    return replace(
        slack,
        channel_per_second=slack.channel_per_second * speedup,
        tiers={tier: per_minute * speedup for tier, per_minute in slack.tiers.items()},
        burst_seconds=slack.burst_seconds / speedup,
    )


def answer(chars: int) -> str:
    """At least ``chars`` characters of numbered words, every fourth paragraph a code block."""
    numbers = itertools.count()
    parts: list[str] = []
    while sum(map(len, parts)) < chars:
        if len(parts) % 4 == 3:
            lines = "\n".join(f"step {next(numbers)} done" for _ in range(30))
            parts.append(f"```\n{lines}\n```\n\n")
        else:
            parts.append(" ".join(f"w{next(numbers)}" for _ in range(60)) + "\n\n")
    return "".join(parts).strip()


def words(shown: str) -> list[str]:
    """What must arrive once each and in order: the words, code fences aside."""
    return [w for w in shown.split() if not w.startswith("```")]


@dataclass
class Chat:
    """One platform under test: ask, stop, and read what the conversation shows."""

    limit: int  # characters one message may show
    ask: Callable[[str], Awaitable[None]]
    stop: Callable[[], Awaitable[None]]
    settle: Callable[[], Awaitable[None]]
    shown: Callable[[], list[str]]  # each bot message of the conversation, in order
    refused: Callable[[], list[str]]  # calls the platform refused for breaking a limit

    def answer(self) -> list[str]:
        """The answer messages: the conversation without a placeholder once done."""
        return [m for m in self.shown() if m != DONE]


async def slack_chat(bot, llm) -> Chat:
    thread: list[str] = []

    async def ask(prompt: str) -> None:
        thread.append((await bot.send.mention(prompt))["ts"])
        await eventually(lambda: bot.thread(thread[0]) and llm.requests)

    async def stop() -> None:
        # the answer while it is edited; the Stop message below a native stream
        stoppable = [m for m in bot.thread(thread[0]) if "mib:stop" in m.button_ids()]
        await bot.send.click(stoppable[0], "mib:stop")

    async def settle() -> None:
        await bot.settle()

    def refused() -> list[str]:
        limits = ("msg_too_long", "streaming_state_conflict")
        return [f"{method}: {err}" for method, err in bot.slack.refused if err in limits]

    def shown() -> list[str]:
        return [m.shown() for m in bot.thread(thread[0])]

    return Chat(3000, ask, stop, settle, shown, refused)


def discord_chat(rig: Rig, llm) -> Chat:
    threads: list[dict] = []

    async def ask(prompt: str) -> None:
        rig.slash("ask", prompt=prompt)
        await eventually(lambda: rig.api.threads() and llm.requests)
        threads.append(rig.api.threads()[-1])

    async def stop() -> None:
        rig.slash("stop", threads[0])

    def refused() -> list[str]:
        return [f"{c.method} {c.path}" for c in rig.api.calls if c.status == 400]

    return Chat(2000, ask, stop, rig.idle, lambda: rig.texts(threads[0]), refused)


@pytest.fixture(params=["slack-edits", "slack-stream", "discord"])
async def chat(request, llm, redis_url, slack, make_bot, api, monkeypatch):
    """The platform; a Slack stream's life and the bot's limit for it scaled to ``MINUTE``."""
    if request.param == "discord":
        async with bounded("the Discord rig", Rig(llm, redis_url, api)) as rig:
            yield discord_chat(rig, llm)
        return
    native = request.param == "slack-stream"
    scale_slack_budget(monkeypatch)
    if native:
        slack.stream_seconds = 5 * MINUTE
        scaled = StreamingSlackSurface.stream_max_seconds / 60 * MINUTE
        monkeypatch.setattr(StreamingSlackSurface, "stream_max_seconds", scaled)
    slack.streaming_enabled = native
    yield await slack_chat(
        await make_bot(slack_native_streaming=native, slack_rate_budget=True), llm
    )


def assert_whole(chat: Chat, said: str) -> None:
    """Every word once and in order, no message over the limit, every code block closed."""
    pieces = chat.answer()
    assert pieces, "no answer arrived"
    assert words("\n".join(pieces)) == words(said)
    assert max(map(len, pieces)) <= chat.limit
    assert all(piece.count("```") % 2 == 0 for piece in pieces), "a code block left open"
    assert chat.refused() == []


async def test_a_20_minute_answer_arrives_whole_and_in_order(chat, llm):
    said = answer(6000)  # slow enough that one message outlives a Slack stream
    llm.script(text(said, chunk_size=len(said) // 200 + 1, delay=20 * MINUTE / 200))

    await chat.ask("explain it all, slowly")
    await chat.settle()

    assert_whole(chat, said)
    assert len(chat.answer()) >= len(said) // chat.limit + 1


async def test_a_100_000_character_answer_arrives_whole_and_in_order(chat, llm):
    said = answer(100_000)
    llm.script(text(said, chunk_size=500))

    await chat.ask("write a book")
    await chat.settle()

    assert_whole(chat, said)
    assert len(chat.answer()) >= 100_000 // chat.limit


@pytest.mark.parametrize(
    ("replies", "notice"),
    [
        ([text(answer(3000), chunk_size=20, delay=0.02)], "⏹️ Stopped."),
        ([tool_calls(("echo", {"text": "x"}), content="Let me check."), error(500)], "⚠️"),
        ([truncated(answer(4000))], CUT_OFF.split(" —")[0]),
    ],
    ids=["stop", "error", "length"],
)
async def test_a_reply_cut_short_says_so_in_its_last_message(chat, llm, replies, notice):
    llm.script(*replies)

    await chat.ask("go")
    if notice == "⏹️ Stopped.":
        await eventually(lambda: "w20" in "".join(chat.answer()))
        await chat.stop()
    await chat.settle()

    *before, last = chat.shown()
    assert last.startswith(notice)
    assert not any(notice in m for m in before)
    said = words("\n".join(m for m in before if m != DONE and "`echo`" not in m))
    if notice == CUT_OFF.split(" —")[0]:
        assert said == words(replies[0].content)  # all the model wrote, then the notice
    else:
        assert said[0] in ("w0", "Let")


# ── Slack's native streams ───────────────────────────────────────────────


@pytest.fixture
async def streaming(slack, make_bot, llm, monkeypatch):
    """Slack with native streams, and a chat through them."""
    scale_slack_budget(monkeypatch)
    slack.streaming_enabled = True
    return await slack_chat(
        await make_bot(slack_native_streaming=True, slack_rate_budget=True), llm
    )


def streamed(slack) -> list[str]:
    """The text of every chat.startStream / appendStream call Slack took."""
    calls = slack.called("chat.startStream") + slack.called("chat.appendStream")
    return [
        "".join(c["text"] for c in call.get("chunks", []) if c["type"] == "markdown_text")
        for call in calls
    ]


async def test_the_bot_closes_each_stream_before_slack_would(streaming, slack, llm, monkeypatch):
    monkeypatch.setattr(StreamingSlackSurface, "stream_max_seconds", 3 * MINUTE)
    said = answer(8000)
    llm.script(text(said, chunk_size=len(said) // 100 + 1, delay=10 * MINUTE / 100))

    await streaming.ask("take ten minutes")
    await streaming.settle()

    assert_whole(streaming, said)
    stops = slack.called("chat.stopStream")
    assert len(stops) >= 10 * MINUTE // (3 * MINUTE) + 1  # a new stream every 3 "minutes"
    refused = [r for r in slack.refused if r[0] != "agents.sessions.setStatus"]
    assert refused == []  # each stream stopped while Slack still took it


async def test_streams_slack_ends_early_go_on_in_new_messages(streaming, slack, llm):
    slack.stream_seconds = 2 * MINUTE  # sooner than the bot's own limit: Slack ends each one
    slack.fail_method("chat.appendStream", "msg_too_long")
    said = answer(20_000)
    llm.script(text(said, chunk_size=len(said) // 200 + 1, delay=20 * MINUTE / 200))

    await streaming.ask("explain it all, slowly")
    await streaming.settle()

    assert ("chat.appendStream", "msg_too_long") in slack.refused
    expired = [m for m, err in slack.refused if err == "message_not_in_streaming_state"]
    assert len(expired) >= 3
    pieces = streaming.answer()
    assert words("\n".join(pieces)) == words(said)
    assert all(p.count("```") % 2 == 0 for p in pieces) and max(map(len, pieces)) <= 3000


async def test_no_stream_call_carries_more_than_slack_takes(streaming, slack, llm, monkeypatch):
    monkeypatch.setattr(StreamingSlackSurface, "stream_max_append", 500)
    slack.max_append = 500
    said = answer(12_000)
    llm.script(text(said, chunk_size=2500))

    await streaming.ask("in big chunks")
    await streaming.settle()

    assert_whole(streaming, said)
    sent = streamed(slack)
    assert len(sent) > 12_000 // 500 and max(map(len, sent)) <= 500
