"""Reading a thread back after a takeover: what each platform lists, and how a taker
counts the messages it did not know of (:func:`bot.output.visible.found`)."""

from __future__ import annotations

import asyncio
import time

import discord
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from adapters.discord.keys import Place, encode_key
from adapters.discord.surface import DiscordSurfaces, rest_client
from adapters.slack.surface import SlackSurfaces
from agent import events as ev
from bot.output.visible import EDIT, PLACEHOLDER, STREAM, Visible, found
from bot.platform import ThreadHistory, Written
from bot.session_key import SessionKey
from bot.settings import Settings
from tests.standins import discord as dc
from tests.standins.slack import SlackStandIn
from tests.support import eventually

APPROVAL = ev.ApprovalRequired(
    tools=[{"tool": "hf_jobs", "arguments": {"script": "x"}, "tool_call_id": "c1"}],
    count=1,
    approval_id="a1",
)


# ── what a taker makes of messages it did not know of ────────────────────


def test_the_placeholder_a_dead_worker_was_posting_becomes_the_placeholder():
    left = Visible(turn="t", making=PLACEHOLDER, since=1.0)
    assert found(left, [Written("p", "thinking…")]).placeholder == "p"


def test_an_answer_message_unknown_goes_after_the_known_ones():
    left = Visible(turn="t", refs=("a",), text="one", making=EDIT, since=1.0)
    taken = found(left, [Written("a", "one two"), Written("b", "three")])
    assert (taken.refs, taken.text, taken.mode, taken.whole) == (("a", "b"), "three", EDIT, False)


def test_a_stream_after_a_whole_answer_is_a_new_answer_and_its_stop_control_a_control():
    left = Visible(turn="t", refs=("a",), text="done", whole=True, making=STREAM, since=1.0)
    taken = found(left, [Written("s", "Answer"), Written("c", "Stop", control=True)])
    assert (taken.refs, taken.mode, taken.whole, taken.controls) == (("s",), STREAM, False, ("c",))


def test_nothing_unknown_changes_nothing():
    left = Visible(turn="t", refs=("a",), text="one", controls=("c",), making=EDIT, since=1.0)
    assert found(left, [Written("a", "one"), Written("c", "Stop", control=True)]) == left


# ── Slack: conversations.replies ─────────────────────────────────────────


@pytest.fixture
async def slack():
    async with SlackStandIn() as server:
        yield server


async def test_slack_lists_answer_messages_streams_and_stop_controls_since_a_time(slack):
    client = AsyncWebClient(token=slack.token, base_url=slack.base_url)
    surfaces = SlackSurfaces(client, interval=0.0, native_streaming=True)
    slack.streaming_enabled = True
    key = SessionKey("slack", "T0TEAM", "C0HIST", "1700000000.000100").encode()
    surface = surfaces(key, {"user": "U0ALICE"})
    assert isinstance(surface, ThreadHistory)

    before = await surface.post("an answer of an earlier turn", final=True)
    since = time.time()
    answer = await surface.post("an answer being written")
    await surface.post_line(None, "`hf_jobs` running")
    await surface.post_approval(APPROVAL)
    stream = await surface.stream_start("a stream being written")  # posts its Stop control
    await eventually(lambda: surface.stop_control)  # once the channel's posts have room
    final = await surface.post("a whole answer", final=True)
    await surface.final_answer(final, "a whole answer", "turn1")  # 👍 / 👎: a final answer

    listed = await surface.written_since(since)
    assert [(w.ref, w.control) for w in listed] == [
        (answer, False),
        (stream, False),
        (surface.stop_control, True),
    ]
    assert listed[0].text == "an answer being written"
    assert [w.ref for w in await surface.written_since(0.0)][0] == before  # only ``since`` on
    assert await surface.written_since(time.time() + 1) == []
    await surfaces.aclose()


# ── Discord: channel messages after= ─────────────────────────────────────


@pytest.fixture
async def api():
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    async with dc.DiscordStandIn() as server:
        yield server
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway


async def test_discord_lists_the_answers_still_carrying_the_stop_button_since_a_time(api):
    thread = api.add_channel(dc.channel(dc.snowflake(), "800000000000000001", dc.PUBLIC_THREAD))
    settings = Settings(_env_file=None, discord_bot_token=dc.TOKEN, discord_api_url=api.base_url)
    client = await rest_client(settings)
    try:
        place = Place(800000000000000001, 800000000000000002, int(thread["id"]))
        surface = DiscordSurfaces(client, interval=0.0)(encode_key(place), {})
        assert isinstance(surface, ThreadHistory)
        await surface.post("an earlier answer being written")
        await asyncio.sleep(0.01)  # a millisecond of its own: snowflakes count milliseconds
        since = time.time()
        answer = await surface.post("an answer being written")
        await surface.post("a whole answer", final=True)
        await surface.post_line(None, "`hf_jobs` done")

        listed = await surface.written_since(since)
        assert listed == [Written(answer, "an answer being written")]
        assert len(await surface.written_since(0.0)) == 2
    finally:
        await client.close()
