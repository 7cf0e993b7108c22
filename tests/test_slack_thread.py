"""A Slack thread as a person sees it while the bot works: the thread status instead of a
placeholder, tool calls as task cards in native streams, Stop one click away, and Slack's
rate limits kept (the stand-in answers 429 past them). Signed events POSTed to the real
Bolt endpoint, the loopback Slack Web API, a real redis-server and the loopback LLM."""

import asyncio
import logging

import pytest

from adapters.slack.surface import TASK_DISPLAY_MODE, SlackSurface
from tests import test_slack
from tests.standins.llm import text, tool_calls
from tests.support import RAN, eventually
from tests.test_long_streams import scale_slack_budget
from tests.test_slack import CHANNEL, GPU_JOB

slack, make_bot = test_slack.slack, test_slack.make_bot  # its fixtures

PACED_MINUTE = 30.0
"""Real seconds that stand for a minute of Slack's rate limits where a test keeps them."""

JOB_URL = "https://huggingface.co/jobs/alice/123"


@pytest.fixture
async def bot(make_bot):
    """The bot with its Slack rate budget on: this file is about what a thread shows as
    Slack paces it."""
    return await make_bot(slack_rate_budget=True)


async def native(make_bot, slack, **settings):
    slack.streaming_enabled = True
    return await make_bot(slack_native_streaming=True, **{"slack_rate_budget": True, **settings})


def streams(bot, thread):
    return [m for m in bot.thread(thread) if m.display_mode]


# ── the working status ──────────────────────────────────────────────────


async def test_the_status_says_which_tool_runs_and_is_cleared_when_the_turn_ends(bot, llm):
    llm.script(tool_calls(("slow", {"seconds": 1.0})), text("All done."))
    event = await bot.send.mention("take your time")
    thread = event["ts"]
    await eventually(lambda: bot.status(thread) == "is running slow…")
    running = bot.slack.status[(CHANNEL, thread)]
    assert running[1] == ["running slow…"]  # the loading message
    await bot.settle(lambda: "All done." in bot.answer(thread))
    assert bot.status(thread) == ""
    assert not any("thinking" in m.text for m in bot.thread(thread))


async def test_a_status_is_set_again_before_slack_drops_it(bot, llm, monkeypatch):
    bot.slack.status_seconds = 2.5  # Slack drops a status not set again within this
    monkeypatch.setattr(SlackSurface, "status_refresh_seconds", 0.8)
    llm.script(tool_calls(("slow", {"seconds": 4.0})), text("Finished."))
    event = await bot.send.mention("long job")
    thread = event["ts"]
    await eventually(lambda: RAN)
    shown = []
    while True:
        status = bot.status(thread)
        if any("Finished." in m.shown() for m in bot.thread(thread)):
            break
        shown.append(status)
        await asyncio.sleep(0.05)
    await bot.settle()
    assert "is running slow…" in shown
    since = shown[shown.index("is running slow…") :]  # once the tool's status is shown,
    assert "" not in since  # it never lapses while the tool runs
    refreshes = [
        c for c in bot.slack.called("assistant.threads.setStatus") if c["status"] == since[0]
    ]
    assert len(refreshes) >= 3


async def test_a_refused_status_falls_back_to_the_placeholder_and_is_logged_once(
    bot,
    llm,
    caplog,
):
    bot.slack.status_error = "missing_scope"
    llm.script(text("First."), text("Second."))
    caplog.set_level(logging.INFO)
    first = await bot.send.mention("one")
    await bot.settle(lambda: "First." in bot.answer(first["ts"]))
    second = await bot.send.mention("two")
    await bot.settle(lambda: "Second." in bot.answer(second["ts"]))

    for event in (first, second):
        answer = bot.thread(event["ts"])[0]
        assert answer.shown() == ("First." if event is first else "Second.")
    placeholders = [p for p in bot.slack.called("chat.postMessage") if "thinking" in p["text"]]
    assert len(placeholders) == 2  # the answers streamed into them
    assert len(bot.slack.called("assistant.threads.setStatus")) == 1  # not asked again
    warnings = [r for r in caplog.records if "refused the thread status" in r.getMessage()]
    assert len(warnings) == 1 and "assistant:write" in warnings[0].getMessage()


# ── native streams: tool calls as task cards ────────────────────────────


async def test_tool_calls_are_task_cards_in_the_native_stream(make_bot, slack, llm):
    bot = await native(make_bot, slack)
    llm.script(
        tool_calls(("echo", {"text": f"started, see {JOB_URL}"}), content="Checking first."),
        text("It is running."),
    )
    event = await bot.send.mention("start it")
    thread = event["ts"]
    await bot.settle(lambda: slack.called("chat.stopStream"))

    start = slack.called("chat.startStream")[0]
    assert start["task_display_mode"] == TASK_DISPLAY_MODE == "plan"
    chunk_types = [
        c["type"]
        for name, args in slack.calls
        if name in ("chat.startStream", "chat.appendStream")
        for c in args.get("chunks", [])
    ]
    assert {"markdown_text", "task_update"} <= set(chunk_types)
    updates = [
        c["status"]
        for name, args in slack.calls
        for c in args.get("chunks", [])
        if c["type"] == "task_update"
    ]
    assert updates == ["in_progress", "complete"]
    (stream,) = streams(bot, thread)
    assert stream.text == "Checking first.\n\nIt is running."
    assert bot.seen(thread) == [
        "Checking first.\n\nIt is running.",
        f"[complete] echo — echo: started, see {JOB_URL}",
        f"    ↗ {JOB_URL}",
    ]  # the Stop message is gone, and so is the status
    updates = slack.called("chat.update")  # no compact lines; only the 👍 / 👎 at the end
    assert [u for u in updates if "context_actions" not in str(u.get("blocks"))] == []


async def test_the_plan_is_a_plan_update_with_a_task_per_item(make_bot, slack, llm):
    bot = await native(make_bot, slack)
    items = [
        {"task": "Find the dataset", "status": "done"},
        {"task": "Fine-tune", "status": "in_progress"},
        {"task": "Evaluate"},
    ]
    llm.script(tool_calls(("plan", {"items": items})), text("On it."))
    event = await bot.send.mention("fine-tune bert")
    await bot.settle(lambda: slack.called("chat.stopStream"))
    (stream,) = streams(bot, event["ts"])
    assert stream.plan == "Plan · 1 of 3 done · now: Fine-tune"
    assert [(t["title"], t["status"]) for t in stream.tasks.values()] == [
        ("Find the dataset", "complete"),
        ("Fine-tune", "in_progress"),
        ("Evaluate", "pending"),
    ]


async def test_an_approval_stops_the_stream_and_the_resumed_turn_streams_below_the_card(
    make_bot,
    slack,
    llm,
):
    bot = await native(make_bot, slack)
    llm.script(tool_calls(("hf_jobs", GPU_JOB), content="I need a GPU."), text("Job done."))
    thread, card = await bot.pause_on("train it")
    first = streams(bot, thread)[0]
    assert not first.streaming  # stopped before the card
    assert [t["status"] for t in first.tasks.values()] == ["pending"]
    assert bot.status(thread) == "" and card.button_ids()
    assert not any("[button ⏹ Stop]" in line for line in bot.seen(thread)[:-1] if line != card)

    await bot.send.click(card, card.button_ids()[0])
    await bot.settle(lambda: len(slack.called("chat.stopStream")) == 2)
    order = [m.ts for m in bot.thread(thread)]
    resumed = streams(bot, thread)[1]
    assert order.index(resumed.ts) > order.index(card.ts)
    assert [t["status"] for t in resumed.tasks.values()] == ["complete"]
    assert resumed.text == "Job done."


async def test_native_streaming_refused_falls_back_to_edits_with_tool_lines(
    make_bot,
    slack,
    llm,
):
    bot = await make_bot(slack_native_streaming=True)  # the stand-in refuses streams
    llm.script(tool_calls(("echo", {"text": "hi"}), content="Looking."), text("Here it is."))
    event = await bot.send.mention("go")
    thread = event["ts"]
    await bot.settle(lambda: "Here it is." in bot.answer(thread))
    assert ("chat.startStream", "not_allowed") in slack.refused
    lines = [m.shown() for m in bot.thread(thread) if m.blocks[0]["type"] == "context"]
    assert lines == ["✅ `echo` done — echo: hi"]
    assert [c for c in slack.calls if c[0] == "chat.appendStream"] == []


# ── Stop, one click away ────────────────────────────────────────────────


async def test_the_stop_button_below_a_native_stream_stops_the_turn(make_bot, slack, llm):
    bot = await native(make_bot, slack)
    llm.script(tool_calls(("slow", {"seconds": 30}), content="Starting the long part."))
    event = await bot.send.mention("work")
    thread = event["ts"]
    await eventually(lambda: "[in_progress] slow" in bot.seen(thread))
    control = next(m for m in bot.thread(thread) if m.button_ids())
    assert control.button_ids() == ["mib:stop"] and not control.streaming
    await bot.send.click(control, "mib:stop")
    await bot.settle(lambda: any("Stopped" in m.text for m in bot.thread(thread)))
    assert control.ts not in slack.messages  # the Stop message is deleted with the turn
    assert "[error] slow — stopped" in bot.seen(thread)


async def test_the_stop_command_stops_a_running_tool(bot, llm):
    llm.script(tool_calls(("slow", {"seconds": 30})))
    event = await bot.send.mention("work")
    thread = event["ts"]
    await eventually(lambda: bot.status(thread) == "is running slow…")
    await bot.send.mention("stop", thread_ts=thread)
    await bot.settle(lambda: any("Stopped" in m.text for m in bot.thread(thread)))
    key = f"slack:T0TEAM:{CHANNEL}:{thread}"
    assert (await bot.rt.runner.status(key))["status"] == "idle"
    assert bot.status(thread) == ""


# ── Slack's rate limits ─────────────────────────────────────────────────


async def _six_threads(bot, llm, slack, monkeypatch) -> list[str]:
    slack.enforce_rate_limits(scale_slack_budget(monkeypatch, PACED_MINUTE))
    words = " ".join(f"w{i}" for i in range(40))
    llm.default = text(words, chunk_size=4, delay=0.02 * PACED_MINUTE / 60)
    events = [await bot.send.mention(f"stream {i}") for i in range(6)]
    threads = [e["ts"] for e in events]
    # Tier 2 (chat.startStream, chat.stopStream: 20 a minute) paces six streams' ends
    await eventually(
        lambda: all("w39" in "".join(m.text for m in bot.thread(t)) for t in threads), 90
    )
    await bot.rt.runner.wait_idle()
    return threads


async def test_six_threads_editing_in_one_channel_stay_within_slacks_limits(
    bot, llm, slack, monkeypatch
):
    threads = await _six_threads(bot, llm, slack, monkeypatch)
    assert slack.rate_limited == {}
    assert all(bot.thread(t)[0].button_ids() == [] for t in threads)


async def test_six_native_streams_in_one_channel_stay_within_slacks_limits(
    make_bot, slack, llm, monkeypatch
):
    bot = await native(make_bot, slack)
    threads = await _six_threads(bot, llm, slack, monkeypatch)
    assert slack.rate_limited == {}
    assert all(not m.streaming for t in threads for m in bot.thread(t))


async def test_a_429_holds_the_method_back_for_every_thread_until_retry_after(bot, llm, slack):
    slack.rate_limit_next("chat.update", retry_after=1)
    llm.default = text("One two three four five six seven.", chunk_size=4, delay=0.02)
    events = [await bot.send.mention(f"go {i}") for i in range(2)]
    await bot.settle(lambda: all("seven." in bot.answer(e["ts"]) for e in events) and len(RAN) == 0)
    assert [r for r in slack.refused if r[0] == "chat.update"][0] == ("chat.update", "ratelimited")
    assert slack.rate_limited == {}  # no call came while Slack said to wait
