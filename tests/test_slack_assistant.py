"""Slack's AI-app split view: a thread started from the assistant pane gets a greeting and
suggested prompts, its title from the first question, and "this channel" is the channel
the person is viewing. Events are signed and POSTed to the real Bolt endpoint."""

from adapters.slack.install import manifest
from bot.settings import Settings
from tests.standins.llm import text
from tests.test_slack import make_bot as make_bot  # noqa: F401
from tests.test_slack import slack as slack  # noqa: F401

DM = "D0PANE"
USER = "U0ALICE"
THREAD = "1700001000.000100"


def pane_event(kind: str, viewing: str) -> dict:
    return {
        "type": kind,
        "assistant_thread": {
            "user_id": USER,
            "channel_id": DM,
            "thread_ts": THREAD,
            "context": {"channel_id": viewing, "team_id": "T0TEAM"},
        },
        "event_ts": "1700001000.000200",
    }


def said(bot) -> str:
    """Everything the bot shows in the pane's thread."""
    return "\n".join(m.shown() for m in bot.thread(THREAD, channel=DM))


def user_message(text_: str, ts: str) -> dict:
    return {
        "type": "message",
        "channel": DM,
        "channel_type": "im",
        "user": USER,
        "text": text_,
        "ts": ts,
        "thread_ts": THREAD,
        "event_ts": ts,
    }


async def test_a_pane_thread_is_greeted_titled_and_knows_the_channel_viewed(make_bot, llm):
    bot = await make_bot(
        slack_assistant_view="split", slack_assistant_prompts="Find a model|Explain a log"
    )
    status, _ = await bot.send.event(pane_event("assistant_thread_started", "C0VIEW1"))
    assert status == 200
    await bot.settle(lambda: bot.slack.called("assistant.threads.setSuggestedPrompts"))
    greeting = bot.slack.called("chat.postMessage")[0]
    assert greeting["channel"] == DM and greeting["thread_ts"] == THREAD
    assert "ML intern" in greeting["text"]
    prompts = bot.slack.called("assistant.threads.setSuggestedPrompts")[0]["prompts"]
    assert [p["message"] for p in prompts] == ["Find a model", "Explain a log"]

    await bot.send.event(pane_event("assistant_thread_context_changed", "C0VIEW2"))
    llm.script(text("Here is what happened in that channel."))
    await bot.send.event(user_message("What is going on in this channel?\nthanks", "1700001001.1"))
    await bot.settle(lambda: "what happened" in said(bot))

    (title,) = bot.slack.called("assistant.threads.setTitle")
    assert title["title"] == "What is going on in this channel?"
    asked = llm.requests[-1]["messages"][-1]["content"]
    assert "What is going on in this channel?" in asked and "<#C0VIEW2>" in asked

    llm.script(text("Second answer."))
    await bot.send.event(user_message("and now?", "1700001002.1"))
    await bot.settle(lambda: "Second answer." in said(bot))
    assert len(bot.slack.called("assistant.threads.setTitle")) == 1  # titled once


def test_the_manifest_asks_for_the_split_view_only_when_chosen():
    agent = manifest(Settings(_env_file=None))
    split = manifest(Settings(_env_file=None, slack_assistant_view="split"))
    assert "assistant_view" not in agent["features"] and "agent_view" in agent["features"]
    assert "agent_view" not in split["features"] and "assistant_view" in split["features"]
    events = split["settings"]["event_subscriptions"]["bot_events"]
    assert {"assistant_thread_started", "assistant_thread_context_changed"} <= set(events)
    assert "agent_session_stopped" in events
