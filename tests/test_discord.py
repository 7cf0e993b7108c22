"""The Discord adapter (threads, streaming, approvals) against a loopback Discord REST API, a real redis-server and the loopback LLM.

Gateway events are the JSON payloads Discord sends, handed to discord.py's own
parsers; every REST call the client makes lands in the stand-in.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import logging
import re
import time
from urllib.parse import parse_qs, urlparse

import discord
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from huggingface_hub import HfApi
from redis.exceptions import ConnectionError as RedisConnectionError

from adapters.discord import cards
from adapters.discord.conversations import USE_IN_THREAD
from adapters.discord.frontend import DiscordFrontEnd
from adapters.discord.install import invite_url
from adapters.discord.surface import DiscordSurface
from agent.loop import Agent
from agent.tools.registry import ToolRegistry
from bot.approvals.controls import TeamControls
from bot.output.views import NOTHING_RUNNING
from bot.runtime import Runtime, sandbox_root
from bot.settings import Settings
from bot.store.embedded import connect
from bot.store.sessions import SessionStore
from bot.turns.intake import FileIntake
from bot.turns.limits import TurnLimits
from bot.turns.runner import STORE_DOWN, TurnRunner
from tests.closing import bounded
from tests.standins import discord as dc
from tests.standins.llm import hang, text, tool_calls
from tests.support import RAN, agent_config, eventually, test_tools

GUILD = "800000000000000001"
CHANNEL = "800000000000000002"
ALICE, BOB, CAROL = "700000000000000001", "700000000000000002", "700000000000000003"
ROLE = "600000000000000042"
GPU_JOB = {"operation": "run", "hardware_flavor": "a10g-small", "script": "print('train')"}
FENCE = "```"
HANDLER_TASKS = ("CommandTree-invoker", "discord-ui-", "discord.py: ")
"""Names of the tasks discord.py runs handlers in: commands, buttons and modals, events."""


class Rig:
    """One bot process: runner, store, the Discord client logged in to the stand-in."""

    def __init__(
        self,
        llm,
        redis_url: str,
        api: dc.DiscordStandIn,
        *,
        consume: bool = True,
        tools: ToolRegistry | None = None,
        hub: HfApi | None = None,
        **settings,
    ) -> None:
        self.api = api
        self.settings = Settings(
            _env_file=None,
            discord_bot_token=dc.TOKEN,
            discord_api_url=api.base_url,
            discord_edit_interval_ms=20,
            **settings,
        )
        self.redis = connect(redis_url)
        self.store = SessionStore(self.redis)
        agent = Agent(agent_config(llm), tools or test_tools())
        self.runner = TurnRunner(
            agent,
            self.store,
            {},
            approvers=self.settings.approver_ids,
            consume=consume,
            models=self.settings.model_choices,
            files=FileIntake(sandbox_root(self.settings), self.settings.max_attachment_bytes),
            controls=TeamControls.build(
                self.redis,
                approvers=self.settings.approver_ids,
                rules_file=self.settings.approval_rules,
            ),
            hub=hub,
            limits=TurnLimits(
                self.redis,
                self.settings.user_turns_per_minute,
                self.settings.channel_turns_per_minute,
            ),
        )
        self.adapter = DiscordFrontEnd(Runtime(self.settings, self.redis, self.store, self.runner))
        self.bot = self.adapter.bot
        self.text_channel = api.add_channel(dc.channel(CHANNEL, GUILD))

    async def __aenter__(self) -> Rig:
        await self.bot.login(dc.TOKEN)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.close()
        await self.bot.close()
        await self.redis.aclose()

    def feed(self, payload: dict) -> dict:
        """An event from the gateway: an interaction or a message, through discord.py's parser."""
        parse = self.bot._connection.parse_interaction_create
        if "token" not in payload:
            parse = self.bot._connection.parse_message_create
        parse(payload)
        return payload

    # ── what users do ────────────────────────────────────────────────────

    def here(self, channel: dict | None = None) -> dc.Place:
        return dc.Place(GUILD, channel or self.text_channel)

    def slash(
        self, name: str, channel: dict | None = None, who: str = ALICE, **options: str | float
    ) -> dict:
        return self.feed(self.api.slash_event(name, self.here(channel), dc.member(who), **options))

    async def ask(self, prompt: str, who: str = ALICE) -> dict:
        """``/ask`` in the text channel; returns the thread once the turn has finished."""
        threads = len(self.api.threads())
        self.slash("ask", who=who, prompt=prompt)
        await eventually(lambda: len(self.api.threads()) > threads)
        await self.idle()
        return self.api.threads()[-1]

    def say(self, thread: dict, content: str, who: str = ALICE) -> None:
        self.feed(dc.message_event(thread["id"], content, dc.user(who), GUILD))

    async def idle(self) -> None:
        """Wait for the handlers discord.py started, then for the turns they queued."""

        def handling() -> bool:
            tasks = asyncio.all_tasks()
            return any(t.get_name().startswith(HANDLER_TASKS) and not t.done() for t in tasks)

        await asyncio.sleep(0)
        await eventually(lambda: not handling())
        await self.runner.wait_idle()

    def texts(self, thread: dict) -> list[str]:
        return [m["content"] for m in self.api.in_channel(thread["id"]) if m["content"]]

    def cards(self, thread: dict) -> list[dict]:
        """The approval cards of a thread."""
        return [
            m
            for m in self.api.in_channel(thread["id"])
            if any(re.match(r"mib:(approve|reject|edit|extend):", i) for i in ids(m))
        ]

    def steps(self, thread: dict) -> list[dict]:
        """The steps messages of a thread (one per turn that called tools)."""
        return [
            m
            for m in self.api.in_channel(thread["id"])
            if m["embeds"] and m["embeds"][0]["title"].startswith("Steps")
        ]


def ids(message: dict) -> list[str]:
    """Every button id of a message, disabled ones too."""
    return dc.DiscordStandIn.custom_ids(message, enabled_only=False)


def thumbs(turn_id: str) -> list[str]:
    return [f"mib:thumbs:up:{turn_id}", f"mib:thumbs:down:{turn_id}"]


@pytest.fixture
async def api():
    """The stand-in; the adapter points discord.py at it, and this points it back after."""
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    async with bounded("the Discord stand-in", dc.DiscordStandIn()) as server:
        yield server
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway


@pytest.fixture
async def rig(llm, redis_url, api):
    async with bounded("the Discord rig", Rig(llm, redis_url, api)) as r:
        yield r


# ── /ask, threads, streaming ─────────────────────────────────────────────


async def test_ask_defers_opens_a_thread_and_streams_with_the_bot_token(rig, llm, api):
    answer = "Here is a plan. " * 12
    llm.script(text(answer, chunk_size=12, delay=0.01))

    thread = await rig.ask("train a small model")

    first = next(c for c in api.calls if c.method == "POST")
    assert first.path.endswith("/callback") and first.json["type"] == dc.CALLBACK_DEFERRED
    (original_id,) = api.originals.values()
    assert "train a small model" in api.messages[original_id]["content"]
    assert thread["parent_id"] == CHANNEL and thread["id"] == original_id
    with_interaction_token = [c.path for c in api.calls if "/webhooks/" in c.path]
    assert len(with_interaction_token) == 1 and with_interaction_token[0].endswith("/@original")
    edits = api.of("PATCH", rf"^/channels/{thread['id']}/messages/\d+$")
    assert len(edits) >= 3, "the answer streams in several edits"
    assert api.custom_ids(edits[0].json) == ["mib:stop"], "a Stop button while it streams"
    assert edits[-2].json["components"] == [], "no Stop button once final"
    assert rig.texts(thread) == [answer]
    (message,) = api.in_channel(thread["id"])
    turn = (await rig.store.meta(f"discord:{GUILD}:{CHANNEL}:{thread['id']}"))["turn"]
    assert api.custom_ids(message) == thumbs(turn), "👍 / 👎 under the final answer"


async def test_a_message_in_the_thread_continues_the_session(rig, llm, api):
    llm.script(text("First answer."), text("Second answer."))
    thread = await rig.ask("hello")

    rig.say(thread, "and then?")
    await rig.idle()

    assert rig.texts(thread) == ["First answer.", "Second answer."]
    history = [m["content"] for m in llm.requests[1]["messages"][1:]]
    assert history == ["hello", "First answer.", "and then?"]


async def test_without_the_message_content_intent_threads_answer_mentions_only(llm, redis_url, api):
    async with Rig(llm, redis_url, api, discord_message_content=False) as rig:
        llm.script(text("First answer."), text("Second answer."))
        thread = await rig.ask("hello")

        rig.say(thread, "")  # what a plain message looks like without the intent
        mention = f"<@{dc.BOT_ID}> and then?"
        rig.feed(
            dc.message_event(thread["id"], mention, dc.user(ALICE), GUILD, mentions=[dc.BOT_USER])
        )
        await rig.idle()

        assert rig.texts(thread) == ["First answer.", "Second answer."]
        assert llm.requests[1]["messages"][-1]["content"] == "and then?"
        assert not rig.bot.intents.message_content


async def test_a_direct_message_is_a_session_of_its_own(rig, llm, api):
    dm = "800000000000000099"
    llm.script(text("Hello in private."))

    rig.feed(dc.message_event(dm, "hi there", dc.user(ALICE)))
    await rig.idle()

    assert [m["content"] for m in api.in_channel(dm)] == ["Hello in private."]
    assert await rig.store.load(f"discord:dm:{dm}:{dm}") is not None


async def test_status_undo_and_new_act_on_the_thread_session(rig, llm, api):
    llm.script(text("One."), text("Two."))
    thread = await rig.ask("one")
    rig.say(thread, "two")
    await rig.idle()

    status = rig.slash("status", thread)
    await rig.idle()
    shown = api.messages[api.originals[status["token"]]]["content"]
    assert (
        "openai/test-model" in shown and "4 messages" in shown and "Pending approvals:** 0" in shown
    )
    assert "**Model use:** last turn " in shown and "tokens (10 prompt, " in shown

    rig.slash("undo", thread)
    await rig.idle()
    session = await rig.store.load(f"discord:{GUILD}:{CHANNEL}:{thread['id']}")
    assert [m["content"] for m in session.history] == ["one", "One."]
    assert any(t.startswith("↩️ Undid the last turn") for t in rig.texts(thread))

    rig.slash("new", thread)
    await rig.idle()
    assert await rig.store.load(f"discord:{GUILD}:{CHANNEL}:{thread['id']}") is None


async def test_a_command_the_store_refuses_leaves_only_the_threads_notice(rig, llm, api):
    llm.script(text("One."))
    thread = await rig.ask("one")

    async def store_down(key, item):
        raise RedisConnectionError("down")

    rig.store.push_input = store_down
    undo = rig.slash("undo", thread)
    await rig.idle()

    assert undo["token"] not in [m.get("interaction_token") for m in api.messages.values()]
    assert rig.texts(thread) == ["One.", STORE_DOWN]


async def test_session_commands_outside_a_thread_answer_ephemerally(rig, api):
    rig.slash("status")
    await rig.idle()

    (reply,) = api.callbacks()
    assert reply["type"] == dc.CALLBACK_MESSAGE
    assert reply["data"]["flags"] & dc.EPHEMERAL and reply["data"]["content"] == USE_IN_THREAD


async def test_stop_command_and_stop_button_end_a_running_turn(rig, llm, api):
    llm.script(hang())
    rig.slash("ask", prompt="wait forever")
    await eventually(lambda: len(llm.requests) == 1)
    thread = api.threads()[0]

    stop = rig.slash("stop", thread)
    await rig.idle()
    assert api.messages[api.originals[stop["token"]]]["content"].startswith("⏹️")
    assert "⏹️ Stopped." in rig.texts(thread)

    llm.script(tool_calls(("slow", {"seconds": 30})))
    rig.say(thread, "again")
    await eventually(lambda: RAN)
    (steps,) = rig.steps(thread)  # the running tool, with a Stop button
    seen = copy.deepcopy(steps)
    assert api.custom_ids(seen) == ["mib:stop"]
    rig.feed(api.click_event(seen, "mib:stop", rig.here(thread), dc.member(BOB)))
    await rig.idle()
    assert rig.texts(thread).count("⏹️ Stopped.") == 2
    assert api.callbacks()[-1]["type"] == dc.CALLBACK_DEFERRED_UPDATE
    (steps,) = rig.steps(thread)
    assert ids(steps) == [] and steps["embeds"][0]["description"].startswith("⏹️ `slow`")

    late = rig.feed(api.click_event(seen, "mib:stop", rig.here(thread), dc.member(BOB)))
    await rig.idle()
    (answer,) = [c.json for c in api.of("POST", rf"/interactions/{late['id']}/")]
    assert answer["data"]["content"] == NOTHING_RUNNING and answer["data"]["flags"] & dc.EPHEMERAL


async def test_a_long_reply_arrives_complete_across_messages_with_code_intact(rig, llm, api):
    code = "\n".join(f"value_{i} = {i} * 2  # line {i}" for i in range(150))
    answer = "Here is the script:\n\n" + FENCE + "python\n" + code + "\n" + FENCE + "\nDone."
    assert len(answer) > 4000
    llm.script(text(answer, chunk_size=400))

    thread = await rig.ask("write it")

    pieces = rig.texts(thread)
    assert len(pieces) >= 3 and all(len(p) <= 2000 for p in pieces)
    assert all(p.count(FENCE) % 2 == 0 for p in pieces), "every message closes its code block"
    lines = [ln for p in pieces for ln in p.splitlines() if ln.startswith("value_")]
    assert "\n".join(lines) == code
    assert pieces[-1].endswith("Done.") and not any("thinking" in p for p in pieces)


async def test_a_429_on_an_edit_is_waited_out_and_the_final_text_arrives(rig, llm, api):
    api.rate_limit("PATCH", r"^/channels/\d+/messages/\d+$", retry_after=0.3)
    llm.script(text("Slow but complete answer.", chunk_size=5, delay=0.01))

    started = time.monotonic()
    thread = await rig.ask("hi")

    limited = [c for c in api.of("PATCH", r"^/channels/") if c.status == 429]
    assert len(limited) == 1
    after = api.calls[api.calls.index(limited[0]) + 1 :]
    assert any(c.method == "PATCH" and c.path == limited[0].path for c in after), "retried"
    assert time.monotonic() - started >= 0.3
    assert rig.texts(thread) == ["Slow but complete answer."]


PROXY_PAGE = "<html><head><title>503 Service Unavailable</title></head><body>nginx</body></html>"


async def test_an_html_error_page_is_told_briefly_and_an_edit_answered_with_one_is_retried(
    rig, llm, api, caplog
):
    caplog.set_level(logging.INFO)
    api.fail("POST", r"/threads$", 503, PROXY_PAGE)
    rig.slash("ask", prompt="open a thread")
    await eventually(lambda: api.of("POST", r"^/webhooks/"))
    await rig.idle()
    told = api.of("POST", r"^/webhooks/")[-1].json["content"]
    assert told == "I couldn't open a thread here (HTTP 503)."  # not the page
    assert re.search(r"POST /channels/\d+/messages/\d+/threads answered HTTP 503", caplog.text)

    api.fail("PATCH", r"^/channels/\d+/messages/\d+$", 503, PROXY_PAGE, "text/plain")
    llm.script(text("Answered all the same.", chunk_size=5, delay=0.01))
    thread = await rig.ask("again")
    failed = [c for c in api.of("PATCH", r"^/channels/") if c.status == 503]
    assert len(failed) == 1
    assert rig.texts(thread) == ["Answered all the same."]
    assert "<html>" not in caplog.text


# ── typing, steps, feedback ──────────────────────────────────────────────


async def test_the_thread_shows_typing_while_the_model_thinks_and_no_placeholder(
    rig, llm, api, monkeypatch
):
    monkeypatch.setattr(DiscordSurface, "typing_seconds", 0.01)
    llm.script(hang())
    rig.slash("ask", prompt="think hard")
    await eventually(lambda: api.threads() and len(api.typing(api.threads()[0]["id"])) >= 3)
    thread = api.threads()[0]
    assert api.in_channel(thread["id"]) == [], "no placeholder message while it thinks"

    rig.slash("stop", thread)
    await rig.idle()
    llm.script(text("Hello again."))
    rig.say(thread, "hi")
    await rig.idle()

    assert rig.texts(thread) == ["⏹️ Stopping…", "⏹️ Stopped.", "Hello again."]
    posts = [
        i
        for i, c in enumerate(api.calls)
        if c.method == "POST" and c.path.endswith(f"/channels/{thread['id']}/messages")
    ]
    typing = api.typing(thread["id"])
    assert typing[-1] < posts[-1], "no typing indicator once the answer is there"
    assert any(posts[0] < i < posts[1] for i in typing), "the second turn typed too"


async def test_a_turns_tool_calls_share_one_steps_message_edited_in_place(rig, llm, api):
    llm.script(
        tool_calls(("echo", {"text": "a"}), ("echo", {"text": "b"})),
        tool_calls(("echo", {"text": "c"})),
        text("All done."),
    )
    thread = await rig.ask("echo three things")

    messages = api.in_channel(thread["id"])
    assert [m["content"] for m in messages] == ["", "All done."]
    (steps,) = rig.steps(thread)
    assert steps is messages[0], "posted when the first tool started, before the answer"
    embed = steps["embeds"][0]
    assert embed["title"] == "Steps (3)"
    assert embed["description"].splitlines() == [
        "✅ `echo` done — echo: a",
        "✅ `echo` done — echo: b",
        "✅ `echo` done — echo: c",
    ]
    assert ids(steps) == [], "no Stop button once the turn is over"
    edits = api.of("PATCH", rf"^/channels/{thread['id']}/messages/{steps['id']}$")
    assert api.custom_ids(edits[0].json) == ["mib:stop"] and edits[-1].json["components"] == []
    assert not any("running" in e.json["embeds"][0]["description"] for e in edits[-1:])


def test_a_long_steps_message_keeps_the_newest_lines_within_discords_limits():
    lines = [f"✅ `echo` done — {i:03d} " + "x" * 150 for i in range(100)]
    payload = cards.steps(lines, final=True)
    embed = payload["embed"].to_dict()
    assert dc.invalid({"embeds": [embed]}) is None
    shown = embed["description"].splitlines()
    assert shown[0].startswith("*…") and "earlier steps" in shown[0]
    assert shown[-1] == lines[-1] and embed["title"] == "Steps (100)"
    assert payload["view"] is None


async def test_anyone_may_rate_an_answer_and_a_second_click_updates_their_rating(rig, llm, api):
    llm.script(text("Use a cosine schedule."))
    thread = await rig.ask("which schedule?")
    key = f"discord:{GUILD}:{CHANNEL}:{thread['id']}"
    (answer,) = api.in_channel(thread["id"])
    up, down = api.custom_ids(answer)
    turn = up.rsplit(":", 1)[1]

    liked = rig.feed(api.click_event(answer, up, rig.here(thread), dc.member(BOB)))
    await rig.idle()
    (thanks,) = answers(api, liked)
    assert thanks["data"]["flags"] & dc.EPHEMERAL and "Thanks" in thanks["data"]["content"]

    rig.feed(api.click_event(answer, down, rig.here(thread), dc.member(ALICE)))
    await rig.idle()
    (modal,) = api.callbacks(dc.CALLBACK_MODAL)
    assert modal["data"]["title"] == "What went wrong?"
    rig.feed(
        api.submit_event(
            modal["data"], {"what": "it ignored my batch size"}, rig.here(thread), dc.member(ALICE)
        )
    )
    await rig.idle()
    rig.feed(api.click_event(answer, down, rig.here(thread), dc.member(BOB)))  # changed mind
    await rig.idle()

    ratings = await rig.runner.feedback.read(thread=key)
    assert [(r.by, r.rating, r.comment, r.turn_id) for r in ratings] == [
        (ALICE, "down", "it ignored my batch size", turn),
        (BOB, "down", "", turn),
    ]
    assert len(api.callbacks(dc.CALLBACK_MODAL)) == 2, "each 👎 offers the form"


# ── approvals ──────────────────────────────────────────────────────────


async def pause_on(rig: Rig, llm, job: dict = GPU_JOB) -> tuple[dict, dict]:
    """``/ask`` until the turn waits for approval; returns the thread and the card."""
    llm.script(tool_calls(("hf_jobs", job)))
    thread = await rig.ask("train it")
    (card,) = rig.cards(thread)
    return thread, card


def button(api: dc.DiscordStandIn, card: dict, verb: str) -> str:
    """The custom id of the card's first ``verb`` button, or of ``verb`` all when there is one."""
    ids = [i for i in api.custom_ids(card) if i.startswith(f"mib:{verb}:")]
    return next((i for i in ids if i.endswith(":all")), ids[0])


async def click(rig: Rig, thread: dict, card: dict, verb: str, who: str = ALICE, roles=()) -> dict:
    event = rig.api.click_event(
        card, button(rig.api, card, verb), rig.here(thread), dc.member(who, roles)
    )
    rig.feed(event)
    await rig.idle()
    return event


def answers(api: dc.DiscordStandIn, event: dict) -> list[dict]:
    """Every callback and followup body that answered ``event``."""
    mine = [c for c in api.calls if event["id"] in c.path or event["token"] in c.path]
    return [c.json for c in mine if c.method == "POST"]


async def test_approve_button_runs_the_job_and_the_card_shows_who(rig, llm, api):
    thread, card = await pause_on(rig, llm)
    assert card["flags"] & dc.COMPONENTS_V2 and not card["content"] and not card["embeds"]
    assert "a10g-small" in dc.text_of(card) and "print('train')" in dc.text_of(card)
    (script,) = [f for f in api.files if f["filename"] == "script-1.py"]
    assert script["content"] == b"print('train')", "the script as a file on the card"
    assert {i.split(":")[1] for i in api.custom_ids(card)} == {"approve", "reject", "edit"}
    llm.script(text("Started."))

    event = await click(rig, thread, card, "approve")

    assert answers(api, event)[0]["type"] == dc.CALLBACK_DEFERRED_UPDATE
    assert RAN == [("hf_jobs", GPU_JOB)]
    card = api.messages[card["id"]]
    assert f"Approved by <@{ALICE}>" in dc.text_of(card)
    assert api.custom_ids(card) == [] and api.custom_ids(card, enabled_only=False)
    assert rig.texts(thread)[-1] == "Started."
    (steps,) = rig.steps(thread)
    (line,) = steps["embeds"][0]["description"].splitlines()
    assert line.startswith("✅ `hf_jobs` done"), "one tool line, updated in place"


async def test_a_new_message_abandons_the_approval_and_its_card_says_so(rig, llm, api):
    thread, card = await pause_on(rig, llm)
    approve = button(api, card, "approve")
    llm.script(text("Fine, no job."))
    rig.say(thread, "forget the job")
    await rig.idle()

    abandoned = api.messages[card["id"]]
    assert api.custom_ids(abandoned) == [] and "No longer pending" in dc.text_of(abandoned)
    stale = api.click_event(card, approve, rig.here(thread), dc.member(ALICE))
    rig.feed(stale)
    await rig.idle()
    assert RAN == []
    assert "no longer pending" in str(answers(api, stale))


async def test_autoapprove_runs_jobs_within_the_budget_and_extend_approves_past_it(rig, llm, api):
    small = {**GPU_JOB, "timeout": "1h"}  # a10g-small: ~$1.00
    big = {**GPU_JOB, "hardware_flavor": "a100-large", "timeout": "4h"}  # ~$10.00
    llm.script(text("Hello."))
    thread = await rig.ask("hi")
    rig.slash("autoapprove", thread, budget=2.0)
    await rig.idle()
    assert "Auto-approve on" in str(api.calls[-1].json)

    llm.script(tool_calls(("hf_jobs", small)), text("Small one ran."))
    rig.say(thread, "train the small one")
    await rig.idle()
    assert [("hf_jobs", small)] == RAN and rig.texts(thread)[-1] == "Small one ran."
    assert any("Auto-approved within this thread's budget" in t for t in rig.texts(thread))

    llm.script(tool_calls(("hf_jobs", big)), text("Big one ran."))
    rig.say(thread, "now the big one")
    await rig.idle()
    (card,) = rig.cards(thread)
    assert "over this thread's auto-approve budget" in dc.text_of(card)
    await click(rig, thread, card, "extend")
    assert RAN[-1] == ("hf_jobs", big) and rig.texts(thread)[-1] == "Big one ran."
    rig.slash("status", thread)
    await rig.idle()
    assert "$11.00 of $11.00 spent" in str(api.calls[-1].json)


async def test_a_long_tool_output_is_attached_as_a_file(rig, llm, api):
    words = " ".join(f"row{i}" for i in range(600))
    llm.script(tool_calls(("echo", {"text": words})), text("Summarised."))
    thread = await rig.ask("dump it")
    (upload,) = api.files
    assert upload["filename"] == "echo-output.txt"
    assert upload["content"].decode() == f"echo: {words}"
    (message,) = [m for m in api.in_channel(thread["id"]) if m.get("attachments")]
    assert message["content"] == "echo output"
    assert "Summarised." in rig.texts(thread)


async def test_several_calls_get_a_card_each_and_reject_all(rig, llm, api):
    long_script = "".join(f"print({i})  # {'x' * 60}\n" for i in range(300))
    jobs = [{**GPU_JOB, "script": long_script}, {**GPU_JOB, "hardware_flavor": "h100"}]
    llm.script(tool_calls(*[("hf_jobs", job) for job in jobs]))
    thread = await rig.ask("two jobs")
    (card,) = rig.cards(thread)
    assert "more lines" in dc.text_of(card) and "2. hf_jobs" in dc.text_of(card)
    assert dc.text_chars(card["components"]) <= 4000 and len(dc.walk(card["components"])) <= 40
    llm.script(text("Neither then."))

    rig.feed(api.click_event(card, button(api, card, "reject"), rig.here(thread), dc.member(ALICE)))
    await rig.idle()
    (modal,) = api.callbacks(dc.CALLBACK_MODAL)
    assert modal["data"]["custom_id"].endswith(":all")
    rig.feed(api.submit_event(modal["data"], {"reason": "no"}, rig.here(thread), dc.member(ALICE)))
    await rig.idle()

    assert RAN == []
    assert dc.text_of(api.messages[card["id"]]).count("Rejected by") == 2
    assert api.custom_ids(api.messages[card["id"]]) == []


async def test_reject_opens_a_modal_and_the_reason_reaches_the_agent(rig, llm, api):
    thread, card = await pause_on(rig, llm)
    event = await click(rig, thread, card, "reject")
    (modal,) = [b["data"] for b in answers(api, event) if b["type"] == dc.CALLBACK_MODAL]
    llm.script(text("OK, not running it."))

    rig.feed(
        api.submit_event(
            modal, {"reason": "too expensive"}, rig.here(thread), dc.member(ALICE), card
        )
    )
    await rig.idle()

    assert RAN == []
    tool_result = [m for m in llm.requests[-1]["messages"] if m["role"] == "tool"]
    assert "too expensive" in tool_result[0]["content"]
    card = api.messages[card["id"]]
    assert "Rejected by" in dc.text_of(card) and "too expensive" in dc.text_of(card)


async def edit_through_modals(rig: Rig, thread: dict, card: dict, change) -> int:
    """Click Edit script, apply ``change(part_index, text)`` to every input, submit every page."""
    api = rig.api
    event = await click(rig, thread, card, "edit")
    (modal,) = [b["data"] for b in answers(api, event) if b["type"] == dc.CALLBACK_MODAL]
    pages = 0
    while True:
        pages += 1
        inputs = [i for row in modal["components"] if row["type"] == 1 for i in row["components"]]
        assert all(len(i.get("value", "")) <= 4000 for i in inputs)
        values = {
            i["custom_id"]: change(int(i["custom_id"][4:]), i.get("value", "")) for i in inputs
        }
        submit = rig.feed(api.submit_event(modal, values, rig.here(thread), dc.member(ALICE), card))
        await rig.idle()
        follow = [b for b in answers(api, submit) if b["type"] == dc.CALLBACK_MESSAGE]
        if not follow:
            return pages
        prompt = api.messages[api.originals[submit["token"]]]
        assert follow[0]["data"]["flags"] & dc.EPHEMERAL
        (next_id,) = api.custom_ids(prompt)
        event = rig.feed(api.click_event(prompt, next_id, rig.here(thread), dc.member(ALICE)))
        await rig.idle()
        (modal,) = [b["data"] for b in answers(api, event) if b["type"] == dc.CALLBACK_MODAL]


@pytest.mark.parametrize("lines", [300, 900], ids=["one-modal", "three-modals"])
async def test_edit_script_round_trips_a_long_script_exactly(rig, llm, api, lines):
    script = "".join(f"print('step {i:05d}', {'x' * 20!r})\n" for i in range(lines)) + "# end"
    assert len(script) > 4000
    thread, card = await pause_on(rig, llm, {**GPU_JOB, "script": script})
    llm.script(text("Running the edited script."))

    pages = await edit_through_modals(
        rig, thread, card, lambda i, value: value.replace("# end", "# edited end")
    )

    assert pages == (1 if lines == 300 else 3)
    assert [("hf_jobs", {**GPU_JOB, "script": script.replace("# end", "# edited end")})] == RAN
    assert "Approved with an edited script" in dc.text_of(api.messages[card["id"]])


async def test_a_non_approver_is_refused_privately(rig, llm, api):
    thread, card = await pause_on(rig, llm)

    event = await click(rig, thread, card, "approve", who=BOB)
    modal_try = await click(rig, thread, card, "reject", who=BOB)

    (refusal,) = [b for b in answers(api, event) if "content" in b]
    assert refusal["flags"] & dc.EPHEMERAL and f"<@{ALICE}>" in refusal["content"]
    (refused_modal,) = answers(api, modal_try)
    assert (
        refused_modal["type"] == dc.CALLBACK_MESSAGE
        and refused_modal["data"]["flags"] & dc.EPHEMERAL
    )
    assert RAN == []
    assert api.custom_ids(api.messages[card["id"]]), "the card still waits"


async def test_a_member_with_an_approver_role_may_decide(llm, redis_url, api):
    async with Rig(llm, redis_url, api, approvers=f"role:{ROLE}") as rig:
        thread, card = await pause_on(rig, llm)
        llm.script(text("Started."))

        await click(rig, thread, card, "approve", who=ALICE)  # the asker, but not an approver
        assert RAN == []
        await click(rig, thread, card, "approve", who=CAROL, roles=(ROLE,))
        assert RAN == [("hf_jobs", GPU_JOB)]


async def test_double_and_concurrent_clicks_execute_once(rig, llm, api):
    thread, card = await pause_on(rig, llm)
    llm.script(text("Started."))
    custom_id = button(api, card, "approve")

    events = [
        rig.feed(api.click_event(card, custom_id, rig.here(thread), dc.member(ALICE)))
        for _ in range(5)
    ]
    await rig.idle()

    assert RAN == [("hf_jobs", GPU_JOB)]
    refusals = [b for e in events for b in answers(api, e) if "content" in b]
    assert len(refusals) == 4 and all(r["flags"] & dc.EPHEMERAL for r in refusals)


async def test_a_click_after_a_restart_still_resolves_the_approval(llm, redis_url, api):
    async with Rig(llm, redis_url, api) as first:
        thread, card = await pause_on(first, llm)

    async with Rig(llm, redis_url, api) as second:  # a new process: new client, runner, store
        llm.script(text("Started after the restart."))
        await click(second, thread, card, "approve")
        await asyncio.sleep(0)

        assert RAN == [("hf_jobs", GPU_JOB)]
        assert second.texts(thread)[-1] == "Started after the restart."
        assert f"Approved by <@{ALICE}>" in dc.text_of(api.messages[card["id"]])


# ── setup ────────────────────────────────────────────────────────────────


def test_invite_url_asks_exactly_the_scopes_and_permissions_used():
    app_id = "123456789012345678"
    token = base64.b64encode(app_id.encode()).decode().rstrip("=") + ".abc.def"
    url = invite_url(Settings(_env_file=None, discord_bot_token=token))

    query = parse_qs(urlparse(url).query)
    assert query["client_id"] == [app_id]
    assert query["scope"] == ["bot applications.commands"]
    granted = discord.Permissions(int(query["permissions"][0]))
    assert {name for name, on in granted if on} == {
        "read_messages",  # a.k.a. view_channel
        "send_messages",
        "create_public_threads",
        "send_messages_in_threads",
        "embed_links",
        "attach_files",
        "read_message_history",
    }


async def test_health_route_is_503_until_the_gateway_is_ready(llm, redis_url, api):
    http = web.Application()
    async with Rig(llm, redis_url, api) as rig:
        rig.adapter.mount(http)
        async with TestClient(TestServer(http)) as client:
            response = await client.get("/healthz/discord")
    assert response.status == 503  # logged in over REST, but no gateway READY yet


async def test_login_syncs_the_commands_globally_or_to_the_dev_guild(llm, redis_url, api):
    async with Rig(llm, redis_url, api):
        (synced,) = api.of("PUT", r"/commands$")
    async with Rig(llm, redis_url, api, discord_guild_id=int(GUILD)):
        (_, to_guild) = api.of("PUT", r"/commands$")

    assert re.fullmatch(rf"/applications/{dc.APP_ID}/commands", synced.path)
    assert {c["name"] for c in synced.json} == {
        "ask",
        "new",
        "undo",
        "compact",
        "stop",
        "status",
        "autoapprove",
        "model",
        "pending",
        "jobs",
    }
    assert to_guild.path == f"/applications/{dc.APP_ID}/guilds/{GUILD}/commands"
    assert {c["name"] for c in to_guild.json} == {c["name"] for c in synced.json}
