"""The approvals inbox and the job control room on Slack, end to end: App Home published on
the loopback Slack Web API, clicks POSTed signed to the real Bolt endpoint, jobs on the
Hub stand-in, turns on a real redis-server and the loopback LLM, time on a fake clock."""

# ruff: noqa: F811
# (tests take the imported `hub` fixture as an argument, which F811 sees as a redefinition)

from __future__ import annotations

import asyncio
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from adapters.slack.frontend import SlackFrontEnd
from agent.tools import build_hf_tools
from agent.tools.registry import ToolRegistry
from bot.approvals.audit import AuditLog
from bot.approvals.expiry import Sweeper
from bot.ops.http import build_http_app, serve
from bot.runtime import runtime
from tests.closing import bounded, closed
from tests.standins.hub import TOKEN, USER, hub  # noqa: F401
from tests.standins.llm import text, tool_calls
from tests.standins.slack import SlackSender, SlackStandIn
from tests.support import RAN, eventually, test_tools
from tests.test_slack import CHANNEL, GPU_JOB, PROXY_PAGE, SECRET, SlackBot, settings_for

OTHER = "C0OTHER"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
GPU = {"hardware_flavor": "a10g-small"}


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **span: float) -> None:
        self.now += timedelta(**span)


class HomeBot(SlackBot):
    """The Slack bot with its App Home redrawn as the inbox changes."""

    def __init__(self, rt, slack, sender, adapter) -> None:
        super().__init__(rt, slack, sender)
        self.adapter = adapter
        self.home = adapter.home

    def home_of(self, user: str) -> dict:
        return self.slack.homes[user]

    def publishes(self, user: str) -> int:
        return sum(1 for args in self.slack.called("views.publish") if args["user_id"] == user)

    async def open_home(self, user: str) -> dict:
        """``user`` opens the Home tab: the view published for them."""
        published = self.publishes(user)
        status, _ = await self.send.home_opened(user)
        assert status == 200
        await eventually(lambda: self.publishes(user) > published)
        return self.home_of(user)


def home_text(view: dict) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


def action_ids(view: dict) -> list[str]:
    return [e["action_id"] for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]


@pytest.fixture
async def slack():
    async with bounded("the Slack stand-in", SlackStandIn()) as server:
        server.members = {
            CHANNEL: ["U0ALICE", "U0BOB", "U0CAROL", "U0DAVE"],
            OTHER: ["U0ALICE", "U0CAROL"],
        }
        yield server


@pytest.fixture
async def make_bot(llm, redis_url, slack, tmp_path):
    started = []

    async def make(tools: ToolRegistry | None = None, clock=None, **overrides) -> HomeBot:
        settings = settings_for(llm, redis_url, slack, tmp_path, **overrides)
        extra = {"clock": clock} if clock else {}
        lifespan = runtime(settings, tools=tools or test_tools(), **extra)
        rt = await lifespan.__aenter__()
        adapter = SlackFrontEnd(rt)
        adapter.home.poll = 0.05
        redraws = asyncio.create_task(adapter.home.run())
        http = build_http_app(rt.redis)
        adapter.mount(http)
        site = await serve(http, 0, host="127.0.0.1")
        started.append((lifespan, site, redraws))
        port = site.addresses[0][1]
        sender = SlackSender(f"http://127.0.0.1:{port}/slack/events", SECRET)
        return HomeBot(rt, slack, sender, adapter)

    yield make
    for lifespan, site, redraws in reversed(started):
        redraws.cancel()
        await closed("the bot's HTTP server", site.cleanup())
        await closed("the runtime", lifespan.__aexit__(None, None, None))


def rules_file(tmp_path, body: str):
    path = tmp_path / "approvals.yaml"
    path.write_text(body)
    return path


# ── App Home: waiting for you ────────────────────────────────────────────


async def test_app_home_lists_exactly_the_approvals_the_viewer_may_decide(make_bot, llm, tmp_path):
    rules = rules_file(
        tmp_path,
        "rules:\n"
        "  - match: hf_jobs:run\n    hardware: gpu\n    approvers: [U0BOB, U0DAVE]\n"
        "    required: 2\n"
        "  - match: hf_jobs:run\n    hardware: cpu\n    approvers: [U0CAROL]\n",
    )
    bot = await make_bot(approval_rules=rules)
    llm.script(tool_calls(("hf_jobs", GPU_JOB)))
    job_thread, _ = await bot.pause_on("train it")
    cpu_job = {**GPU_JOB, "hardware_flavor": "cpu-basic"}
    llm.script(tool_calls(("hf_jobs", cpu_job)))
    event = await bot.send.mention("a CPU job in the other channel", channel=OTHER)
    await bot.settle(
        lambda: any(m.text.startswith("Approval needed") for m in bot.thread(event["ts"], OTHER))
    )

    bob = await bot.open_home("U0BOB")
    assert "Waiting for you (1)" in home_text(bob)
    assert "`hf_jobs`" in home_text(bob) and "0 of 2 approvals" in home_text(bob)
    approve = next(a for a in action_ids(bob) if a.startswith("home:mib:approve:"))
    assert any(a.startswith("home:mib:reject:") for a in action_ids(bob))
    opens = [
        e for b in bob["blocks"] if b["type"] == "actions" for e in b["elements"] if "url" in e
    ]
    assert (
        opens[0]["url"] == f"https://slack.test/archives/{CHANNEL}/p{job_thread.replace('.', '')}"
    )

    carol = await bot.open_home("U0CAROL")  # decides CPU jobs only, sees both channels
    assert "Waiting for you (1)" in home_text(carol) and "`cpu-basic`" in home_text(carol)
    assert "a10g-small" not in home_text(carol)
    assert "cpu-basic" not in home_text(bob)  # Bob is not in the other channel
    alice = await bot.open_home("U0ALICE")  # asked for both, decides neither
    assert "Waiting for you (0)" in home_text(alice) and "Nothing is waiting" in home_text(alice)
    assert not [a for a in action_ids(alice) if a.startswith("home:")]

    # a vote counts: Bob no longer waits on it, Dave sees "1 of 2"
    await bot.send.click_in_view(bob, approve, user="U0BOB")
    await eventually(lambda: "Waiting for you (0)" in home_text(bot.home_of("U0BOB")))
    dave = await bot.open_home("U0DAVE")
    assert "1 of 2 approvals (<@U0BOB>)" in home_text(dave)
    assert "1 of 2 approvals (<@U0BOB>)" in json.dumps(bot.card(job_thread).blocks)
    assert RAN == []


async def test_app_home_is_drawn_when_slack_answers_an_html_page_or_an_empty_body(
    make_bot, llm, slack, caplog
):
    bot = await make_bot(approvers="U0BOB")
    llm.script(tool_calls(("hf_jobs", GPU_JOB)))
    await bot.pause_on("train it")

    slack.answer_raw_next("users.conversations", 502, PROXY_PAGE, "text/plain")
    slack.answer_raw_next("chat.getPermalink", 502, "", "text/plain")
    bob = await bot.open_home("U0BOB")  # his channels unknown: nothing of theirs is shown
    assert "Waiting for you (0)" in home_text(bob)
    assert "users.conversations answered HTTP 502" in caplog.text

    def drawn_without_link(view: dict) -> bool:
        buttons = [e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]
        return "Waiting for you (1)" in home_text(view) and not [e for e in buttons if "url" in e]

    await bot.open_home("U0BOB")  # the approval, without a link to its thread the first time
    await eventually(lambda: ("chat.getPermalink", "HTTP 502") in slack.refused)
    assert any(drawn_without_link(args["view"]) for args in slack.called("views.publish"))

    slack.answer_raw_next("views.publish", 405, PROXY_PAGE, "application/json")
    published = bot.publishes("U0BOB")
    status, _ = await bot.send.home_opened("U0BOB")
    assert status == 200
    await eventually(lambda: ("views.publish", "HTTP 405") in slack.refused)
    await eventually(lambda: "views.publish answered HTTP 405" in caplog.text)
    assert bot.publishes("U0BOB") > published
    assert "Waiting for you (1)" in home_text(await bot.open_home("U0BOB"))  # and drawn again
    assert "has no attribute" not in caplog.text


async def test_a_click_in_app_home_decides_in_the_thread_and_redraws_both(make_bot, llm):
    bot = await make_bot(approvers="U0BOB")
    llm.script(tool_calls(("hf_jobs", GPU_JOB)))
    thread, card = await bot.pause_on("train it")
    bob = await bot.open_home("U0BOB")
    carol = await bot.open_home("U0CAROL")
    assert "Waiting for you (1)" in home_text(bob) and "Waiting for you (0)" in home_text(carol)
    approve = next(a for a in action_ids(bob) if a.startswith("home:mib:approve:"))

    await bot.send.click_in_view(bob, approve, user="U0CAROL")  # Carol replays Bob's button
    await eventually(lambda: "can't approve" in home_text(bot.home_of("U0CAROL")))
    assert RAN == []

    llm.script(text("Job started."))
    await bot.send.click_in_view(bob, approve, user="U0BOB")
    await bot.settle(lambda: "Job started." in bot.answer(thread))
    assert RAN == [("hf_jobs", GPU_JOB)]
    assert "Approved by <@U0BOB>" in json.dumps(bot.card(thread).blocks)  # the thread's card
    await eventually(lambda: "Waiting for you (0)" in home_text(bot.home_of("U0BOB")))


async def test_reject_from_app_home_opens_the_modal_and_the_agent_reads_the_reason(
    make_bot, llm, slack
):
    bot = await make_bot()
    llm.script(tool_calls(("hf_jobs", GPU_JOB)))
    thread, _ = await bot.pause_on("train it")
    alice = await bot.open_home("U0ALICE")
    reject = next(a for a in action_ids(alice) if a.startswith("home:mib:reject:"))
    await bot.send.click_in_view(alice, reject)
    await eventually(lambda: slack.views)
    llm.script(text("Understood, no GPU."))
    await bot.send.submit(slack.views[-1], {"reason": "too expensive"})
    await bot.settle(lambda: "Understood" in bot.answer(thread))
    assert "too expensive" in json.dumps(llm.requests[-1]["messages"])
    await eventually(lambda: "Waiting for you (0)" in home_text(bot.home_of("U0ALICE")))


async def test_budgets_per_channel_show_what_is_spent(make_bot, llm):
    bot = await make_bot()
    event = await bot.send.mention("auto-approve $2")
    await bot.settle(lambda: any("Auto-approve on" in m.text for m in bot.thread(event["ts"])))
    event = await bot.send.mention("auto-approve $3", channel=OTHER)
    await bot.settle(
        lambda: any("Auto-approve on" in m.text for m in bot.thread(event["ts"], OTHER))
    )
    bob = await bot.open_home("U0BOB")  # not in OTHER
    assert f"<#{CHANNEL}>: $0.00 of $2.00 spent (1 thread)" in home_text(bob)
    assert OTHER not in home_text(bob)
    alice = await bot.open_home("U0ALICE")
    assert f"<#{OTHER}>: $0.00 of $3.00 spent (1 thread)" in home_text(alice)


def test_the_manifest_asks_for_the_home_tab_and_its_event(llm, redis_url, tmp_path):
    from adapters.slack.install import manifest

    settings = settings_for(llm, redis_url, SlackStandIn(), tmp_path)
    found = manifest(settings)
    assert found["features"]["app_home"]["home_tab_enabled"] is True
    assert "app_home_opened" in found["settings"]["event_subscriptions"]["bot_events"]
    assert {"channels:read", "groups:read", "im:read", "mpim:read"} <= set(
        found["oauth_config"]["scopes"]["bot"]
    )


# ── the job card ─────────────────────────────────────────────────────────


def hub_tools(hub, tmp_path) -> ToolRegistry:
    return ToolRegistry(
        build_hf_tools(hub.api(), sandbox_root=tmp_path / "sandboxes", job_poll_interval=0.05)
    )


def job_cards(bot, thread: str) -> list:
    return [
        m for m in bot.thread(thread) if any(a.startswith("mib:joblogs:") for a in m.button_ids())
    ]


async def start_job(bot, llm, hub, user: str = "U0ALICE") -> tuple[str, str]:
    """A GPU job asked for by ``user`` and approved by them: the thread and the job id."""
    llm.script(tool_calls(("hf_jobs", {"operation": "run", "command": ["train"], **GPU})))
    event = await bot.send.mention("train it", user=user)
    thread = event["ts"]
    await bot.settle(lambda: any(m.text.startswith("Approval needed") for m in bot.thread(thread)))
    llm.script(text("Started."))
    card = bot.card(thread)
    await bot.send.click(card, card.button_ids()[0], user=user)
    await eventually(lambda: hub.jobs)
    await eventually(lambda: job_cards(bot, thread))
    (job_id,) = hub.jobs
    return thread, job_id


async def test_a_job_card_lives_in_its_thread_and_its_summary_charts_the_metrics(
    make_bot, llm, slack, hub, tmp_path
):
    hub.job_stage_seconds = 0.6
    hub.job_logs = [*hub.job_logs, f"Pushed to {hub.url}/{USER}/tiny-model/commit/abc123"]
    slack.charts_refused = True  # Slack answers invalid_blocks to native charts: the PNG
    bot = await make_bot(tools=hub_tools(hub, tmp_path), hf_endpoint=hub.url, hf_token=TOKEN)
    thread, job_id = await start_job(bot, llm, hub)

    (card,) = job_cards(bot, thread)
    assert f"mib:jobcancel:{job_id}" in card.button_ids()  # while it runs
    await eventually(lambda: "completed" in job_cards(bot, thread)[0].shown(), 15)
    (card,) = job_cards(bot, thread)  # one message, edited in place
    shown = card.shown()
    assert shown.startswith(f"✅ Job {job_id} completed · a10g-small\n⏱ ran ")
    assert "📈 loss 0.9 · learning_rate 1e-05 · grad_norm 1.1" in shown
    assert f"📦 Wrote {hub.url}/{USER}/tiny-model" in shown
    assert card.button_ids() == [f"mib:joblogs:{job_id}"]  # no Cancel once it ended
    assert not [b for b in card.blocks if b["type"] == "data_visualization"]
    assert ("chat.update", "invalid_blocks") in slack.refused

    await eventually(lambda: any(u.get("thread_ts") for u in slack.uploads.values()))
    summary = next(
        m
        for m in bot.thread(thread)
        if m.text.startswith(f"✅ Job {job_id} completed · a10g-small · after ")
    )
    assert "💰" in summary.text and f"Page: {hub.url}/jobs/{USER}/{job_id}" in summary.text
    (chart,) = [u for u in slack.uploads.values() if u["filename"].endswith("-metrics.png")]
    assert chart["thread_ts"] == thread and chart["content"].startswith(PNG_MAGIC)
    assert "loss, learning_rate, grad_norm by step" in chart["title"]
    picture = Image.open(io.BytesIO(chart["content"]))
    assert picture.width > 300 and picture.height > 200
    assert picture.text["Description"] == (
        "loss by step; learning_rate by step; grad_norm by step"
    )  # the axes of its plots, as drawn
    assert await bot.rt.store.background() == []  # the watch is over


async def test_a_job_card_charts_the_metrics_natively_within_slacks_limits(
    make_bot, llm, slack, hub, tmp_path
):
    hub.job_stage_seconds = 0.6
    hub.job_logs = [
        *(f'{{"step": {n}, "loss": {3 - n / 20}, "eval_loss": {3.1 - n / 20}}}' for n in range(50)),
        *(f'{{"step": {n}, "learning_rate_of_the_scheduler": 1e-5}}' for n in range(50)),
    ]
    bot = await make_bot(tools=hub_tools(hub, tmp_path), hf_endpoint=hub.url, hf_token=TOKEN)
    thread, job_id = await start_job(bot, llm, hub)
    await eventually(lambda: "completed" in job_cards(bot, thread)[0].shown(), 15)
    await bot.rt.runner.wait_idle()
    await eventually(lambda: any(m.text.startswith(f"✅ Job {job_id}") for m in bot.thread(thread)))

    (card,) = job_cards(bot, thread)
    losses, others = [b for b in card.blocks if b["type"] == "data_visualization"]
    assert [s["name"] for s in losses["chart"]["series"]] == ["loss", "eval_loss"]
    assert len(losses["chart"]["axis_config"]["categories"]) == 20  # 50 steps downsampled
    last = losses["chart"]["series"][0]["data"][-1]
    assert last["label"] == "step 49" and last["value"] == pytest.approx(0.55)
    assert [s["name"] for s in others["chart"]["series"]] == ["learning_rate_of_th…"]
    (table,) = [b for b in card.blocks if b["type"] == "data_table"]
    assert [row[0]["text"] for row in table["rows"]] == [
        "metric",
        "loss",
        "eval_loss",
        "learning_rate_of_the_scheduler",
    ]
    assert ("chat.update", "invalid_blocks") not in slack.refused  # the stand-in's limits held
    assert not [u for u in slack.uploads.values() if u["filename"].endswith("-metrics.png")]


async def test_cancel_is_a_decision_under_the_rules_and_is_audited(
    make_bot, llm, slack, hub, tmp_path
):
    hub.job_stage_seconds = 30  # it stays queued
    bot = await make_bot(tools=hub_tools(hub, tmp_path), hf_endpoint=hub.url, hf_token=TOKEN)
    thread, job_id = await start_job(bot, llm, hub)
    (card,) = job_cards(bot, thread)

    await bot.send.click(card, f"mib:jobcancel:{job_id}", user="U0CAROL")
    await eventually(lambda: slack.ephemeral)
    refusal = slack.ephemeral[-1]
    assert refusal["user"] == "U0CAROL" and "can't cancel this job" in refusal["text"]
    assert "only &lt;@U0ALICE&gt; (who started it) can" in refusal["text"]  # the reason
    assert not hub.jobs[job_id].canceled

    carol = await bot.open_home("U0CAROL")  # she sees the job, without a Cancel button
    assert f"Job {job_id} queued" in home_text(carol)
    assert action_ids(carol).count(f"mib:jobcancel:{job_id}") == 0
    alice = await bot.open_home("U0ALICE")
    assert f"mib:jobcancel:{job_id}" in action_ids(alice)

    await bot.send.click_in_view(alice, f"mib:jobcancel:{job_id}", user="U0ALICE")
    await eventually(lambda: hub.jobs[job_id].canceled)
    await eventually(lambda: "canceled" in job_cards(bot, thread)[0].shown(), 15)
    await eventually(lambda: any("requested by u0alice." in m.text for m in bot.thread(thread)))
    outcomes = [
        (e.outcome, e.decided_by)
        for e in await AuditLog(bot.rt.redis).read()
        if e.operation == "cancel"
    ]
    assert outcomes == [("cancel_refused", "U0CAROL"), ("canceled", "U0ALICE")]
    await eventually(lambda: f"Job {job_id}" not in home_text(bot.home_of("U0ALICE")))


async def test_logs_post_the_last_lines_in_the_thread(make_bot, llm, slack, hub, tmp_path):
    hub.job_stage_seconds = 0.3
    hub.job_logs = [f"line {i} " + "." * 30 for i in range(300)]
    bot = await make_bot(tools=hub_tools(hub, tmp_path), hf_endpoint=hub.url, hf_token=TOKEN)
    thread, job_id = await start_job(bot, llm, hub)
    await eventually(lambda: "completed" in job_cards(bot, thread)[0].shown(), 15)
    (card,) = job_cards(bot, thread)
    await bot.send.click(card, f"mib:joblogs:{job_id}", user="U0BOB")
    await eventually(
        lambda: any(
            u["filename"] == f"job-{job_id}-logs.txt" and u.get("thread_ts")
            for u in slack.uploads.values()
        )
    )
    (logs,) = [u for u in slack.uploads.values() if u["filename"].endswith("-logs.txt")]
    lines = logs["content"].decode().splitlines()
    assert len(lines) == 100 and lines[-1].startswith("line 299 ")  # the last N, as a file
    await eventually(lambda: any("Posted the last log lines" in e["text"] for e in slack.ephemeral))


# ── reminders and expiry ─────────────────────────────────────────────────


async def test_reminder_then_expiry_on_a_fake_clock(make_bot, llm, slack):
    clock = FakeClock()
    bot = await make_bot(clock=clock, approvers="U0BOB,U0DAVE")
    llm.script(tool_calls(("hf_jobs", GPU_JOB)))
    thread, card = await bot.pause_on("train it")
    approve = card.button_ids()[0]
    sweeper = bot.rt.sweeper
    other_process = Sweeper(bot.rt.runner.approvals, clock=clock)

    clock.advance(minutes=59)
    await sweeper.sweep()
    assert not [m for m in bot.thread(thread) if "Still waiting" in m.text]

    clock.advance(minutes=2)
    await asyncio.gather(sweeper.sweep(), other_process.sweep(), sweeper.sweep())
    (reminder,) = [m for m in bot.thread(thread) if "Still waiting" in m.text]  # once
    assert reminder.text.startswith(
        "⏰ Still waiting for a decision on `hf_jobs` (asked 1 h 01 min ago)."
    )
    assert reminder.text.endswith("<@U0BOB> <@U0DAVE>")  # pings, not escaped

    llm.script(text("The approval expired, so I did not run the job."))
    clock.advance(hours=23)
    results = await asyncio.gather(sweeper.sweep(), other_process.sweep())
    assert sum(len(r.expired) for r in results) == 1
    await bot.settle(lambda: "did not run the job" in bot.answer(thread))
    shown = json.dumps(bot.card(thread).blocks)
    assert "Approval expired" in shown and "nobody decided in time" in shown
    assert not [a for a in bot.card(thread).button_ids() if a.startswith("mib:approve")]
    seen = llm.requests[-1]["messages"][-1]
    assert seen["role"] == "tool" and "approval request expired" in seen["content"]
    assert "within 1 d 00 h" in seen["content"]
    session = await bot.rt.store.load(f"slack:T0TEAM:{CHANNEL}:{thread}")
    assert session.pending is None and RAN == []  # free again; nothing ran
    entries = await AuditLog(bot.rt.redis).read()
    assert [(e.outcome, e.decided_by) for e in entries] == [("expired", "expiry")]

    await bot.send.click(card, approve, user="U0BOB")  # a late click
    await eventually(lambda: any("expired" in e["text"] for e in slack.ephemeral))
    assert RAN == []
    assert re.search(r"Waiting for you \(0\)", home_text(await bot.open_home("U0BOB")))
