"""Discord's 2026 surfaces: Components V2 cards, @mentions that open threads, and scripts
uploaded in the Edit script modal. Gateway payloads go through discord.py's own parsers,
REST to the loopback Discord (which refuses what Discord refuses), a real redis-server
and the loopback LLM."""
# ruff: noqa: F811
# (tests take the imported `api` and `rig` fixtures as arguments, which F811 sees as redefinitions)

from __future__ import annotations

import aiohttp

from adapters.discord import cards
from bot.approvals.scripts import UPLOAD_BYTES, script_digest
from tests.standins import discord as dc
from tests.standins.llm import text, tool_calls
from tests.support import RAN, eventually
from tests.test_discord import (  # noqa: F401
    ALICE,
    BOB,
    CAROL,
    CHANNEL,
    GPU_JOB,
    GUILD,
    Rig,
    answers,
    api,
    button,
    click,
    pause_on,
    rig,
)


def colour(message: dict) -> int:
    """The accent colour of a V2 message's container."""
    (container,) = message["components"]
    assert container["type"] == 17
    return container["accent_color"]


def assert_v2(message: dict) -> None:
    """A Components V2 message within Discord's rules."""
    assert message["flags"] & dc.COMPONENTS_V2
    assert not message["content"] and not message["embeds"]
    assert len(dc.walk(message["components"])) <= 40
    assert dc.text_chars(message["components"]) <= 4000


# ── Components V2 cards ──────────────────────────────────────────────────


async def test_the_stand_in_refuses_what_discord_refuses_in_a_v2_message(api):
    text_display = {"type": dc.TEXT_DISPLAY, "content": "hi"}
    bodies = {
        "content": {"flags": dc.COMPONENTS_V2, "content": "x", "components": [text_display]},
        "embeds": {"flags": dc.COMPONENTS_V2, "embeds": [{"title": "x"}]},
        "40 components": {"flags": dc.COMPONENTS_V2, "components": [text_display] * 41},
        "4000": {
            "flags": dc.COMPONENTS_V2,
            "components": [{"type": dc.TEXT_DISPLAY, "content": "x" * 2001}] * 2,
        },
    }
    async with aiohttp.ClientSession() as http:
        url = f"{api.base_url}/channels/{CHANNEL}/messages"
        for problem, body in bodies.items():
            async with http.post(url, json=body) as response:
                answer = await response.json()
            assert response.status == 400 and answer["code"] == 50035, problem
            assert problem in str(answer["errors"]), problem
        async with http.post(url, json={"flags": dc.COMPONENTS_V2, "components": []}) as ok:
            message = await ok.json()
        edit = f"{url}/{message['id']}"
        async with http.patch(edit, json={"content": "now with text"}) as response:
            assert response.status == 400, "content can't be added to a V2 message"
        async with http.patch(edit, json={"flags": 0}) as response:
            assert response.status == 400, "the flag can't be removed"


async def test_an_approval_card_is_v2_coloured_by_state_with_the_script_as_a_file(rig, llm, api):
    thread, card = await pause_on(rig, llm)
    assert_v2(card)
    assert colour(card) == cards.STATE_COLOURS["waiting"].value
    (file,) = [i for i in dc.walk(card["components"]) if i["type"] == 13]
    assert file["file"]["url"] == "attachment://script-1.py"
    assert [a["filename"] for a in card["attachments"]] == ["script-1.py"]
    llm.script(text("Started."))

    await click(rig, thread, card, "approve")

    decided = api.messages[card["id"]]
    assert_v2(decided)
    assert colour(decided) == cards.STATE_COLOURS["done"].value
    assert f"Approved by <@{ALICE}>" in dc.text_of(decided)
    assert api.custom_ids(decided) == [], "its buttons disabled"
    assert [a["filename"] for a in decided["attachments"]] == ["script-1.py"], "the file kept"
    assert RAN == [("hf_jobs", GPU_JOB)] and rig.texts(thread)[-1] == "Started."
    assert all(
        m["flags"] & dc.COMPONENTS_V2 == 0 for m in api.in_channel(thread["id"]) if m["content"]
    )


async def test_a_card_drawn_before_v2_is_upgraded_by_its_next_redraw(rig, llm, api):
    thread, card = await pause_on(rig, llm)
    legacy = api.messages[card["id"]]
    legacy |= {"flags": 0, "content": "⏸️ **Approval needed** for 1 tool call"}
    buttons = [{"type": 2, "style": 1, "label": i, "custom_id": i} for i in api.custom_ids(card)]
    legacy |= {
        "embeds": [{"title": "1. hf_jobs"}],
        "components": [{"type": 1, "components": buttons}],
    }
    llm.script(text("Started."))

    await click(rig, thread, legacy, "approve")

    upgraded = api.messages[card["id"]]
    assert_v2(upgraded) and f"Approved by <@{ALICE}>" in dc.text_of(upgraded)
    assert all(c.status != 400 for c in api.calls)


async def test_many_calls_fit_one_v2_card_and_the_rest_are_decided_all_at_once(rig, llm, api):
    script = "".join(f"print({i})  # {'x' * 70}\n" for i in range(200))
    jobs = [{**GPU_JOB, "script": script, "timeout": f"{i + 1}h"} for i in range(9)]
    llm.script(tool_calls(*[("hf_jobs", job) for job in jobs]))
    thread = await rig.ask("nine jobs")
    (card,) = rig.cards(thread)
    assert_v2(card)
    shown = dc.text_of(card)
    assert "1. hf_jobs" in shown and "more lines" in shown and "…and" in shown
    assert {i.rsplit(":", 1)[1] for i in api.custom_ids(card)} >= {"0", "all"}
    llm.script(text("Neither."))

    rig.feed(api.click_event(card, button(api, card, "reject"), rig.here(thread), dc.member(ALICE)))
    await rig.idle()
    (modal,) = api.callbacks(dc.CALLBACK_MODAL)
    rig.feed(api.submit_event(modal["data"], {"reason": "no"}, rig.here(thread), dc.member(ALICE)))
    await rig.idle()

    rejected = api.messages[card["id"]]
    assert_v2(rejected) and RAN == []
    assert colour(rejected) == cards.STATE_COLOURS["rejected"].value
    assert api.custom_ids(rejected) == []


async def test_a_two_person_rule_holds_on_a_v2_card(llm, redis_url, api, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        f"rules:\n  - match: hf_jobs:run\n    approvers: ['{BOB}', '{CAROL}']\n    required: 2\n"
    )
    async with Rig(llm, redis_url, api, approval_rules=rules) as rig:
        thread, card = await pause_on(rig, llm)
        llm.script(text("Started."))

        await click(rig, thread, card, "approve", who=BOB)
        await eventually(lambda: "1 of 2 approvals" in dc.text_of(api.messages[card["id"]]))
        once = api.messages[card["id"]]
        assert_v2(once)
        assert api.custom_ids(once), "it still waits for a second approver"
        again = await click(rig, thread, once, "approve", who=BOB)
        assert "needs another approver" in str(answers(api, again))
        assert RAN == []

        await click(rig, thread, once, "approve", who=CAROL)

        assert RAN == [("hf_jobs", GPU_JOB)]
        done = api.messages[card["id"]]
        assert colour(done) == cards.STATE_COLOURS["done"].value and api.custom_ids(done) == []


# ── @mentions ────────────────────────────────────────────────────────────


def mention(rig: Rig, channel_id: str, words: str, who: str = ALICE) -> dict:
    """A member's message mentioning the bot."""
    content = f"<@{dc.BOT_ID}> {words}"
    event = dc.message_event(channel_id, content, dc.user(who), GUILD, mentions=[dc.BOT_USER])
    return rig.feed(event)


async def test_a_mention_in_a_channel_opens_a_thread_and_a_mention_there_continues(
    llm, redis_url, api
):
    async with Rig(llm, redis_url, api, discord_message_content=False) as rig:
        llm.script(text("First answer."), text("Second answer."))
        rig.feed(dc.message_event(CHANNEL, "no mention here", dc.user(ALICE), GUILD))
        message = mention(rig, CHANNEL, "train a small model")
        await rig.idle()

        (thread,) = api.threads()
        assert thread["id"] == message["id"] and thread["parent_id"] == CHANNEL
        assert thread["name"] == "train a small model"
        assert rig.texts(thread) == ["First answer."]
        assert api.in_channel(CHANNEL) == [], "nothing but the thread in the channel"

        mention(rig, thread["id"], "and then?")
        await rig.idle()

        assert api.threads() == [thread], "the mention continued the thread's session"
        assert rig.texts(thread) == ["First answer.", "Second answer."]
        history = [m["content"] for m in llm.requests[1]["messages"][1:]]
        assert history == ["train a small model", "First answer.", "and then?"]
        session = await rig.store.load(f"discord:{GUILD}:{CHANNEL}:{thread['id']}")
        assert session is not None


async def test_mentions_are_held_to_the_same_turn_limits_as_ask(llm, redis_url, api):
    async with Rig(llm, redis_url, api, user_turns_per_minute=1) as rig:
        llm.script(text("Only this one."))
        mention(rig, CHANNEL, "first")
        await rig.idle()
        mention(rig, CHANNEL, "second")
        await rig.idle()

        first, second = api.threads()
        assert rig.texts(first) == ["Only this one."]
        (notice,) = rig.texts(second)
        assert notice.startswith("⏳ Too many requests") and len(llm.requests) == 1


# ── a script uploaded in the Edit script modal ───────────────────────────


async def open_edit(rig: Rig, thread: dict, card: dict) -> dict:
    event = await click(rig, thread, card, "edit")
    (modal,) = [b["data"] for b in answers(rig.api, event) if b["type"] == dc.CALLBACK_MODAL]
    return modal


async def upload(rig: Rig, thread: dict, card: dict, filename: str, data: bytes) -> dict:
    """Open Edit script on the card and submit it with ``data`` uploaded as ``filename``."""
    modal = await open_edit(rig, thread, card)
    (label,) = [c for c in modal["components"] if c["type"] == dc.LABEL]
    assert label["component"]["type"] == dc.FILE_UPLOAD
    file = rig.api.add_attachment(thread["id"], filename, data, "text/x-python")
    values = {label["component"]["custom_id"]: [file]}
    submit = rig.feed(rig.api.submit_event(modal, values, rig.here(thread), dc.member(ALICE), card))
    await rig.idle()
    return submit


async def test_a_script_uploaded_in_the_modal_is_what_runs(rig, llm, api):
    thread, card = await pause_on(rig, llm)
    script = "".join(f"print('epoch {i}')\n" for i in range(800))  # past one text input
    llm.script(text("Running your file."))

    await upload(rig, thread, card, "train.py", script.encode())

    assert [("hf_jobs", {**GPU_JOB, "script": script})] == RAN
    decided = dc.text_of(api.messages[card["id"]])
    assert f"Approved with an edited script (`{script_digest(script)}`)" in decided
    assert rig.texts(thread)[-1] == "Running your file."


async def test_a_binary_or_oversized_upload_is_refused_and_the_call_still_waits(rig, llm, api):
    thread, card = await pause_on(rig, llm)

    binary = await upload(rig, thread, card, "model.bin", b"\x89PNG\r\n\x1a\n\x00\x00")
    huge = await upload(rig, thread, card, "big.py", b"#" * (UPLOAD_BYTES + 1))

    (told,) = [b for b in answers(api, binary) if "content" in b]
    assert told["flags"] & dc.EPHEMERAL and "not a text file" in told["content"]
    (too_big,) = [b for b in answers(api, huge) if "content" in b]
    assert "may be up to" in too_big["content"] and "still waits" in too_big["content"]
    assert RAN == []
    assert api.custom_ids(api.messages[card["id"]]), "the card still waits"
    llm.script(text("Ran the original."))
    await click(rig, thread, card, "approve")
    assert RAN == [("hf_jobs", GPU_JOB)]
