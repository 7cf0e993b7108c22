"""The model is a choice per thread or channel: ``MODELS`` labels, ``model <label>`` on
Slack (typed, or from the menu under ``status``), ``/model`` on Discord and the console;
the choice reaches the model's request (the LLM stand-in records its ``model``)."""

from __future__ import annotations

import io

import pytest

from agent.loop import Agent
from bot.settings import Settings
from bot.store import redis_keys as rk
from bot.store.embedded import connect
from bot.store.sessions import SessionStore
from bot.turns.models import ModelChoices, ModelPicker
from bot.turns.runner import TurnRunner
from tests.standins import discord as dc
from tests.standins.llm import text
from tests.support import agent_config, make_agent, test_tools
from tests.test_console import Keyboard
from tests.test_discord import ALICE, BOB, CHANNEL, GUILD, ROLE, Rig
from tests.test_discord import api as api  # noqa: F401  (the Discord stand-in fixture)
from tests.test_slack import make_bot as make_bot  # noqa: F401
from tests.test_slack import slack as slack  # noqa: F401

MODELS = "small=openai/small-model,big=openai/big-model"


def status_message(bot, thread: str):
    return next(m for m in bot.thread(thread) if m.text.startswith("*Status:*"))


def said(bot, thread: str) -> list[str]:
    return [m.text for m in bot.thread(thread)]


# ── MODELS ───────────────────────────────────────────────────────────────


def test_models_parse_into_labels_in_order():
    choices = ModelChoices.parse(" kimi = huggingface/novita/moonshotai/kimi-k2.5 ,qwen=q/w", "m")
    assert dict(choices.labels) == {
        "kimi": "huggingface/novita/moonshotai/kimi-k2.5",
        "qwen": "q/w",
    }
    assert choices.label("KIMI") == "kimi" and choices.label("nope") is None
    assert choices.label_of("q/w") == "qwen" and choices.offered
    assert not ModelChoices.parse("", "m").offered


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("kimi", "is not label=model"),
        ("=some/model", "is not label=model"),
        ("two words=some/model", "use letters, digits"),
        ("default=some/model", "is reserved"),
        ("a=x/y,A=x/z", "is given twice"),
    ],
)
def test_a_malformed_models_setting_is_refused_at_start(value, problem):
    with pytest.raises(ValueError, match=problem):
        Settings(_env_file=None, models=value)


def test_agent_for_model_is_the_same_agent_on_another_model(llm):
    agent = make_agent(llm, context_window=None)
    big = agent.for_model("openai/gpt-3.5-turbo")
    assert agent.for_model(None) is agent and agent.for_model("openai/test-model") is agent
    assert big is agent.for_model("openai/gpt-3.5-turbo")  # made once, kept
    assert big.tools is agent.tools and big.config.model == "openai/gpt-3.5-turbo"
    assert big.llm is not agent.llm
    assert big.llm.context_window() == 16_385 != agent.llm.context_window()  # LiteLLM's info
    assert big.for_model("openai/test-model") is agent


async def test_choices_live_in_redis_thread_over_channel_over_model(redis):
    picker = ModelPicker(redis, ModelChoices.parse(MODELS, "openai/test-model"), ttl_seconds=600)
    thread, other = "slack:T1:C1:1.0", "slack:T1:C1:2.0"
    assert (await picker.chosen(thread)).source == "default"

    await picker.choose(thread, "big", channel=True)
    await picker.choose(thread, "small")

    assert await picker.chosen(thread) == (await picker.chosen(thread))  # stable
    assert (await picker.chosen(thread)).model == "openai/small-model"
    assert (await picker.chosen(other)).model == "openai/big-model"  # the channel's default
    assert (await picker.chosen(other)).source == "channel"
    assert 0 < await redis.ttl(rk.thread_model(thread)) <= 600
    assert await redis.ttl(rk.channel_model("slack:T1:C1")) == -1
    await redis.set(rk.thread_model(thread), "gone-label")  # MODELS changed since
    assert (await picker.chosen(thread)).model == "openai/big-model"


# ── Slack ────────────────────────────────────────────────────────────────


async def test_model_label_in_a_thread_changes_the_next_request_and_status_shows_it(make_bot, llm):
    bot = await make_bot(models=MODELS)
    llm.script(text("On the default."), text("On the big one."))
    thread = (await bot.send.mention("hello"))["ts"]
    await bot.settle(lambda: "On the default." in bot.answer(thread))

    await bot.send.mention("model big", thread_ts=thread)
    await bot.settle(lambda: any("`big`" in t for t in said(bot, thread)))
    await bot.send.mention("and now?", thread_ts=thread)
    await bot.settle(lambda: "On the big one." in bot.answer(thread))
    await bot.send.mention("status", thread_ts=thread)
    await bot.settle(lambda: any(m.text.startswith("*Status:*") for m in bot.thread(thread)))

    assert [r["model"] for r in llm.requests] == ["test-model", "big-model"]
    assert "🧠 This thread answers with `big` (`openai/big-model`) from its next message." in said(
        bot, thread
    )
    shown = status_message(bot, thread)
    assert "`big` (`openai/big-model`), this thread's choice" in shown.shown()
    (menu,) = [e for b in shown.blocks if b["type"] == "actions" for e in b["elements"]]
    assert menu["type"] == "static_select" and menu["initial_option"]["value"] == "big"
    assert [o["value"] for o in menu["options"]] == ["small", "big"]


async def test_choosing_from_the_status_menu_changes_the_model(make_bot, llm):
    bot = await make_bot(models=MODELS)
    llm.script(text("Small answer."))
    thread = (await bot.send.mention("status"))["ts"]
    await bot.settle(lambda: any(m.text.startswith("*Status:*") for m in bot.thread(thread)))
    await bot.send.mention("status", thread_ts=thread)
    await bot.settle(lambda: len([m for m in bot.thread(thread) if m.blocks]) == 2)
    in_thread = [m for m in bot.thread(thread) if m.text.startswith("*Status:*")][-1]

    status, _ = await bot.send.choose(in_thread, "small")
    assert status == 200
    await bot.settle(lambda: any("`small`" in t for t in said(bot, thread)[2:]))
    await bot.send.mention("go", thread_ts=thread)
    await bot.settle(lambda: "Small answer." in bot.answer(thread))

    assert llm.requests[-1]["model"] == "small-model"
    assert (await bot.rt.runner.status(f"slack:T0TEAM:C0CHAN:{thread}"))["model_label"] == "small"


async def test_an_unknown_label_gets_the_allowed_ones(make_bot, llm):
    bot = await make_bot(models=MODELS)
    thread = (await bot.send.mention("model huge"))["ts"]
    await bot.settle(lambda: said(bot, thread))
    assert said(bot, thread) == [
        "There's no model `huge` here. Choose one of: `small`, `big` (or `default`)."
    ]
    assert llm.requests == []


async def test_without_models_the_model_command_says_only_model_answers(make_bot):
    bot = await make_bot()
    thread = (await bot.send.mention("model big"))["ts"]
    await bot.settle(lambda: said(bot, thread))
    (reply,) = said(bot, thread)
    assert reply.startswith("🧠 I answer with `openai/test-model` (MODEL) only")
    assert "MODELS" in reply


async def test_only_an_approver_changes_a_channel_s_default(make_bot, llm):
    bot = await make_bot(models=MODELS, approvers="U0LEAD")
    refused = (await bot.send.mention("model big", user="U0ALICE"))["ts"]
    await bot.settle(lambda: said(bot, refused))
    assert said(bot, refused)[0].startswith(
        "🔒 Only someone who may approve here can change this channel's default model."
    )
    assert (await bot.rt.runner.status(f"slack:T0TEAM:C0CHAN:{refused}"))["model_source"] == (
        "default"
    )

    done = (await bot.send.mention("model big", user="U0LEAD"))["ts"]
    await bot.settle(lambda: said(bot, done))
    assert said(bot, done)[0].startswith("🧠 This channel's default model is now `big`")
    llm.script(text("From the channel default."), text("Alice's own."))
    thread = (await bot.send.mention("hi", user="U0ALICE"))["ts"]
    await bot.settle(lambda: "From the channel default." in bot.answer(thread))
    await bot.send.mention("model small", user="U0ALICE", thread_ts=thread)  # a thread: anyone
    await bot.settle(lambda: any("`small`" in t for t in said(bot, thread)))
    await bot.send.mention("again", user="U0ALICE", thread_ts=thread)
    await bot.settle(lambda: "Alice's own." in bot.answer(thread))

    assert [r["model"] for r in llm.requests] == ["big-model", "small-model"]


async def test_compaction_runs_on_the_chosen_model(make_bot, llm):
    bot = await make_bot(models=MODELS)
    llm.script(text("One."), text("Two."), text("Three."), text("A summary."))
    thread = (await bot.send.mention("model big"))["ts"]
    await bot.settle(lambda: said(bot, thread))
    await bot.send.mention("model small", thread_ts=thread)
    await bot.settle(lambda: len(said(bot, thread)) == 2)
    for words in ("one", "two", "three"):
        await bot.send.mention(words, thread_ts=thread)
        await bot.settle(lambda w=words: f"{w.title()}." in bot.answer(thread))
    await bot.send.mention("compact", thread_ts=thread)
    await bot.settle(lambda: any(t.startswith("🗜️ Compacted") for t in said(bot, thread)))

    summary = llm.requests[-1]
    assert "stream" not in summary or not summary["stream"]
    assert [r["model"] for r in llm.requests] == ["small-model"] * 4


# ── Discord ──────────────────────────────────────────────────────────────


async def test_discord_model_offers_the_labels_and_changes_the_thread_s_model(
    llm,
    redis_url,
    api,  # noqa: F811
):
    async with Rig(llm, redis_url, api, models=MODELS) as rig:
        (synced,) = api.of("PUT", r"/commands$")
        (model,) = [c for c in synced.json if c["name"] == "model"]
        (label,) = model["options"]
        assert [c["value"] for c in label["choices"]] == ["small", "big", "default"]

        llm.script(text("Default."), text("Big."))
        thread = await rig.ask("hello")
        reply = rig.slash("model", thread, label="big")
        await rig.idle()
        rig.say(thread, "again")
        await rig.idle()
        status = rig.slash("status", thread)
        await rig.idle()

        assert api.messages[api.originals[reply["token"]]]["content"].startswith(
            "🧠 This thread answers with `big`"
        )
        assert [r["model"] for r in llm.requests] == ["test-model", "big-model"]
        shown = api.messages[api.originals[status["token"]]]["content"]
        assert "**Model:** `big` (`openai/big-model`), this thread's choice" in shown


async def test_discord_model_in_a_channel_is_its_default_for_approvers_only(
    llm,
    redis_url,
    api,  # noqa: F811
):
    async with Rig(llm, redis_url, api, models=MODELS, approvers=f"role:{ROLE}") as rig:
        refused = rig.slash("model", who=BOB, label="big")
        await rig.idle()
        allowed = rig.feed(
            api.slash_event("model", rig.here(), dc.member(ALICE, (ROLE,)), label="small")
        )
        await rig.idle()
        llm.script(text("Small by default."))
        await rig.ask("hi")

        assert api.messages[api.originals[refused["token"]]]["content"].startswith("🔒")
        assert api.messages[api.originals[allowed["token"]]]["content"].startswith(
            "🧠 This channel's default model is now `small`"
        )
        assert llm.requests[-1]["model"] == "small-model"
        assert await rig.redis.get(rk.channel_model(f"discord:{GUILD}:{CHANNEL}")) == b"small"


# ── the console ──────────────────────────────────────────────────────────


async def test_console_model_command(llm, redis_url):
    from adapters.console.frontend import ConsoleFrontEnd

    redis = connect(redis_url)
    runner = TurnRunner(
        Agent(agent_config(llm), test_tools()),
        SessionStore(redis),
        {},
        models=ModelChoices.parse(MODELS, "ignored: the agent's model is the default"),
    )
    out = io.StringIO()
    llm.script(text("Big in the terminal."))
    keyboard = Keyboard("/model", "/model big", "hi", "/status", None)
    try:
        await ConsoleFrontEnd(runner, out=out, read_line=keyboard).run()
    finally:
        await runner.close()
        await redis.aclose()

    shown = out.getvalue()
    assert "This thread answers with `openai/test-model`: the bot's default (MODEL)." in shown
    assert "Choices: `small`, `big`" in shown
    assert llm.requests[0]["model"] == "big-model"
    assert "model_label: big" in shown and "model_source: thread" in shown
