"""``/pending``, ``/jobs``, job cards, reminders and approvers' DMs on Discord: gateway
payloads through discord.py's own parsers, REST on the loopback Discord, jobs on the Hub
stand-in, a real redis-server and the loopback LLM."""

# ruff: noqa: F811
# (tests take the imported `hub` fixture as an argument, which F811 sees as a redefinition)

from __future__ import annotations

import json

from adapters.discord import cards
from agent.tools import build_hf_tools
from agent.tools.registry import ToolRegistry
from bot.approvals.expiry import Sweeper
from tests.standins import discord as dc
from tests.standins.hub import TOKEN, hub  # noqa: F401
from tests.standins.llm import text
from tests.support import RAN, eventually
from tests.test_discord import ALICE, BOB, CAROL, GPU_JOB, GUILD, ROLE, Rig, api, click, pause_on  # noqa: F401
from tests.test_inbox_slack import PNG_MAGIC, FakeClock


def ephemeral_replies(api: dc.DiscordStandIn, event: dict) -> list[dict]:
    """The ephemeral followups that answered an interaction, as the stand-in holds them."""
    bodies = [
        c.json
        for c in api.calls
        if c.method == "POST" and event["token"] in c.path and c.path.startswith("/webhooks/")
    ]
    return [b for b in bodies if b.get("flags", 0) & dc.EPHEMERAL]


def components(body: dict) -> list[dict]:
    return [item for row in body.get("components", []) for item in row["components"]]


async def slash(rig: Rig, name: str, who: str, channel: dict | None = None) -> dict:
    event = rig.slash(name, channel, who=who)
    await rig.idle()
    return event


async def test_pending_lists_exactly_what_the_person_may_decide_and_its_buttons_decide(
    llm, redis_url, api
):
    async with Rig(llm, redis_url, api, approvers=f"{BOB},role:{ROLE}") as rig:
        thread, card = await pause_on(rig, llm)

        carol = await slash(rig, "pending", CAROL)
        (reply,) = ephemeral_replies(api, carol)
        assert reply["content"] == "Nothing is waiting for your decision."
        alice = await slash(rig, "pending", ALICE)  # she asked, but APPROVERS decide
        assert ephemeral_replies(api, alice)[0]["content"].startswith("Nothing is waiting")

        bob = await slash(rig, "pending", BOB)
        (reply,) = ephemeral_replies(api, bob)
        assert reply["content"].startswith("**Waiting for you (1)**\n1. `hf_jobs`")
        assert f"asked by <@{ALICE}>" in reply["content"]
        approve, reject, link = components(reply)
        assert approve["custom_id"] == api.custom_ids(card)[0]  # the card's own button
        assert reject["custom_id"].startswith("mib:reject:")
        assert link["url"] == f"https://discord.com/channels/{GUILD}/{thread['id']}"

        llm.script(text("Started."))
        message = {**api.messages[next(reversed(api.messages))], **reply}
        rig.feed(api.click_event(message, approve["custom_id"], rig.here(), dc.member(BOB)))
        await rig.idle()
        assert RAN == [("hf_jobs", GPU_JOB)]
        assert f"Approved by <@{BOB}>" in dc.text_of(api.messages[card["id"]])
        redrawn = api.messages[message["id"]]  # /pending's answer, without the decided call
        assert redrawn["content"] == "Nothing is waiting for your decision."
        assert redrawn["components"] == []

        again = await slash(rig, "pending", BOB)
        assert ephemeral_replies(api, again)[0]["content"].startswith("Nothing is waiting")


async def test_approvers_get_a_dm_when_they_opt_in(llm, redis_url, api):
    async with Rig(
        llm, redis_url, api, approvers=f"{BOB},{CAROL},role:{ROLE}", discord_dm_approvers=True
    ) as rig:
        thread, _ = await pause_on(rig, llm)
        sweepers = [Sweeper(rig.runner.approvals), Sweeper(rig.runner.approvals)]  # two processes
        for sweeper in sweepers:
            await sweeper.sweep()
        assert set(api.dms) == {BOB, CAROL}  # not the requester, not a role
        for user in (BOB, CAROL):
            (dm,) = api.in_channel(api.dms[user])  # once, whoever swept
            assert dm["content"].startswith("⏸️ An approval waits for you: `hf_jobs`")
            assert f"https://discord.com/channels/{GUILD}/{thread['id']}" in dm["content"]

    async with Rig(llm, redis_url, api, approvers=BOB) as rig:  # off by default
        await pause_on(rig, llm)
        await Sweeper(rig.runner.approvals).sweep()
        assert BOB not in api.dms or len(api.in_channel(api.dms[BOB])) == 1


async def test_a_reminder_pings_the_approvers_it_names(llm, redis_url, api):
    async with Rig(llm, redis_url, api, approvers=f"{BOB},role:{ROLE}") as rig:
        clock = FakeClock()
        thread, _ = await pause_on(rig, llm)
        clock.advance(hours=2)
        await Sweeper(rig.runner.approvals, clock=clock).sweep()
        (ping,) = [
            c.json
            for c in api.of("POST", rf"^/channels/{thread['id']}/messages$")
            if "Still waiting" in (c.json.get("content") or "")
        ]
        assert ping["content"].endswith(f"<@{BOB}> <@&{ROLE}>")
        allowed = ping["allowed_mentions"]  # exactly those people, nobody else
        assert [str(u) for u in allowed["users"]] == [BOB] and allowed["parse"] == []
        assert [str(r) for r in allowed["roles"]] == [ROLE]


async def test_jobs_and_the_job_card_with_cancel_under_the_rules(
    llm, redis_url, api, hub, tmp_path
):
    hub.job_stage_seconds = 0.6
    tools = ToolRegistry(
        build_hf_tools(hub.api(), sandbox_root=tmp_path / "sb", job_poll_interval=0.05)
    )
    gpu = {"operation": "run", "command": ["train"], "hardware_flavor": "a10g-small"}
    async with Rig(llm, redis_url, api, tools=tools, hub=hub.api(TOKEN)) as rig:
        thread, card = await pause_on(rig, llm, gpu)
        llm.script(text("Started."))
        await click(rig, thread, card, "approve")
        await eventually(lambda: hub.jobs)
        (job_id,) = hub.jobs

        def job_card() -> dict | None:
            return next(
                (
                    m
                    for m in api.in_channel(thread["id"])
                    if f"mib:joblogs:{job_id}" in api.custom_ids(m)
                ),
                None,
            )

        await eventually(job_card)
        assert f"mib:jobcancel:{job_id}" in api.custom_ids(job_card())
        carol = await slash(rig, "jobs", CAROL)
        (reply,) = ephemeral_replies(api, carol)
        assert f"Job {job_id}" in reply["content"] and f"started by <@{ALICE}>" in reply["content"]
        ids = [c.get("custom_id") for c in components(reply)]
        assert f"mib:joblogs:{job_id}" in ids and f"mib:jobcancel:{job_id}" not in ids

        refused = api.click_event(
            job_card(), f"mib:jobcancel:{job_id}", rig.here(thread), dc.member(CAROL)
        )
        rig.feed(refused)
        await rig.idle()
        assert "can't cancel this job" in json.dumps(ephemeral_replies(api, refused))
        assert not hub.jobs[job_id].canceled

        running = job_card()
        assert running["flags"] & dc.COMPONENTS_V2 and not running["content"]
        (container,) = running["components"]
        assert container["accent_color"] == cards.STATE_COLOURS["running"].value
        await eventually(lambda: "completed" in dc.text_of(job_card()), 15)
        final = job_card()
        assert dc.text_of(final).startswith(f"✅ Job {job_id} completed · a10g-small\n")
        assert final["components"][0]["accent_color"] == cards.STATE_COLOURS["done"].value
        assert api.custom_ids(final) == [f"mib:joblogs:{job_id}"]
        await eventually(lambda: any(f["filename"].endswith("-metrics.png") for f in api.files))
        (chart,) = [f for f in api.files if f["filename"] == f"job-{job_id}-metrics.png"]
        assert chart["content"].startswith(PNG_MAGIC) and len(chart["content"]) > 1000
        (shown,) = [m for m in api.in_channel(thread["id"]) if m.get("attachments")]
        gallery = [i for i in dc.walk(shown["components"]) if i["type"] == 12]
        assert gallery[0]["items"][0]["media"]["url"] == f"attachment://{chart['filename']}"
        assert shown["flags"] & dc.COMPONENTS_V2, "the chart in a media gallery"
        summary = [t for t in rig.texts(thread) if " · after " in t]
        assert summary and summary[0].startswith(f"✅ Job {job_id} completed")
