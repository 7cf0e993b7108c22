"""Slack's agent surfaces of 2026: agent sessions with Slack's own Stop button, the
agent messaging experience (Messages tab, context), native charts, files in modals.
Signed events POSTed to the real Bolt endpoint, the loopback Slack Web API, a real
redis-server and the loopback LLM."""

from adapters.slack.budget import METHOD_TIERS
from adapters.slack.install import manifest
from bot.approvals.scripts import UPLOAD_BYTES
from bot.settings import Settings
from tests import test_slack
from tests.standins.llm import text, tool_calls
from tests.standins.slack import TEAM
from tests.support import RAN, eventually
from tests.test_long_streams import scale_slack_budget
from tests.test_slack import CHANNEL, GPU_JOB
from tests.test_slack_thread import PACED_MINUTE, native, streams

slack, make_bot, bot = test_slack.slack, test_slack.make_bot, test_slack.bot  # its fixtures


# ── agent sessions ──────────────────────────────────────────────────────


async def test_a_turn_with_an_approval_goes_processing_suspended_processing_active(
    make_bot, slack, llm
):
    slack.agent_sessions = True
    bot = await make_bot()
    llm.script(tool_calls(("hf_jobs", GPU_JOB), content="I need a GPU."), text("Job done."))
    thread, card = await bot.pause_on("train it on a GPU\nplease")
    assert slack.sessions[(CHANNEL, thread)] == ["processing", "suspended"]
    assert slack.titles[(CHANNEL, thread)] == "train it on a GPU"

    await bot.send.click(card, card.button_ids()[0])
    await bot.settle(lambda: "Job done." in bot.answer(thread))
    assert slack.sessions[(CHANNEL, thread)] == ["processing", "suspended", "processing", "active"]


async def test_slacks_own_stop_ends_the_stream_marks_it_and_leaves_the_session_active(
    make_bot, slack, llm
):
    slack.agent_sessions = True
    bot = await native(make_bot, slack)
    llm.script(text(" ".join(f"word{i}" for i in range(400)), chunk_size=6, delay=0.05))
    event = await bot.send.mention("talk for a while")
    thread = event["ts"]
    await eventually(lambda: streams(bot, thread) and "word3" in streams(bot, thread)[0].text)
    assert slack.session_status(CHANNEL, thread) == "processing"
    assert not any(m.button_ids() for m in bot.thread(thread))  # Slack draws the Stop button

    status, _ = await bot.send.session_stopped(CHANNEL, thread, [streams(bot, thread)[0].ts])
    assert status == 200
    await bot.settle(lambda: not streams(bot, thread)[0].streaming)
    appends = len(slack.called("chat.appendStream"))
    stream = streams(bot, thread)[0]
    assert "word399" not in stream.text
    assert "Stopped" in "\n".join(m.text for m in bot.thread(thread))
    assert slack.session_status(CHANNEL, thread) == "active"
    key = f"slack:T0TEAM:{CHANNEL}:{thread}"
    assert (await bot.rt.runner.status(key))["status"] == "idle"
    await bot.rt.runner.wait_idle()
    assert len(slack.called("chat.appendStream")) == appends  # nothing appended after


async def test_a_workspace_without_agent_sessions_keeps_the_bots_stop_button_and_is_asked_once(
    make_bot, slack, llm
):
    bot = await native(make_bot, slack)  # the stand-in answers unknown_method
    llm.default = text(" ".join(f"word{i}" for i in range(60)), chunk_size=6, delay=0.02)
    first = await bot.send.mention("one")
    await eventually(lambda: any(m.button_ids() == ["mib:stop"] for m in bot.thread(first["ts"])))
    await bot.settle(lambda: "word59" in "".join(m.text for m in bot.thread(first["ts"])))
    second = await bot.send.mention("two")
    await eventually(lambda: any(m.button_ids() == ["mib:stop"] for m in bot.thread(second["ts"])))
    await bot.settle(lambda: "word59" in "".join(m.text for m in bot.thread(second["ts"])))
    assert slack.refused.count(("agents.sessions.setStatus", "unknown_method")) == 1
    assert slack.sessions == {}


async def test_a_transient_session_error_is_not_remembered(make_bot, slack, llm):
    slack.agent_sessions = True
    slack.fail_method("agents.sessions.setStatus", "internal_error")
    bot = await make_bot()
    llm.default = text("Fine.")
    first = await bot.send.mention("one")
    await bot.settle(lambda: "Fine." in bot.answer(first["ts"]))
    second = await bot.send.mention("two")
    await bot.settle(lambda: "Fine." in bot.answer(second["ts"]))
    assert ("agents.sessions.setStatus", "internal_error") in slack.refused
    assert slack.sessions[(CHANNEL, second["ts"])] == ["processing", "active"]
    assert slack.session_status(CHANNEL, first["ts"]) in ("", "active")


async def test_new_closes_the_agent_session(make_bot, slack, llm):
    slack.agent_sessions = True
    bot = await make_bot()
    llm.script(text("Hello."))
    event = await bot.send.mention("hi")
    thread = event["ts"]
    await bot.settle(lambda: "Hello." in bot.answer(thread))
    await bot.send.mention("new", thread_ts=thread)
    await bot.settle(lambda: slack.session_status(CHANNEL, thread) == "closed")


# ── no stale task card ──────────────────────────────────────────────────


async def test_the_task_card_of_a_call_that_waited_shows_its_approval(make_bot, slack, llm):
    bot = await native(make_bot, slack)
    llm.script(tool_calls(("hf_jobs", GPU_JOB), content="I need a GPU."), text("Job done."))
    thread, card = await bot.pause_on("train it")
    first = streams(bot, thread)[0]
    assert [t["status"] for t in first.tasks.values()] == ["pending"]
    await bot.send.click(card, card.button_ids()[0])
    await bot.settle(lambda: "Job done." in streams(bot, thread)[-1].text)
    (task,) = first.tasks.values()
    assert task["status"] == "complete" and "Approved by <@U0ALICE>" in task["output"]
    assert task["title"].startswith("hf_jobs")
    assert first.text == "I need a GPU."  # the text above it is kept


async def test_the_task_card_of_a_rejected_call_shows_the_rejection(make_bot, slack, llm):
    bot = await native(make_bot, slack)
    llm.script(tool_calls(("hf_jobs", GPU_JOB), content="I need a GPU."), text("Fine."))
    thread, card = await bot.pause_on("train it")
    await bot.send.click(card, card.button_ids()[1])  # Reject
    await eventually(lambda: slack.views)
    await bot.send.submit(slack.views[-1], {"reason": "too costly"})
    await bot.settle(lambda: "Fine." in streams(bot, thread)[-1].text)
    (task,) = streams(bot, thread)[0].tasks.values()
    assert task["status"] == "error" and "Rejected" in task["output"]


# ── scripts as files in the edit modal ──────────────────────────────────


async def edit_modal(bot, slack, llm, script: str):
    llm.script(tool_calls(("hf_jobs", {**GPU_JOB, "script": script})), text("Ran it."))
    thread, card = await bot.pause_on("run my script")
    await bot.send.click(card, card.button_ids()[2])  # Edit script
    await eventually(lambda: slack.views)
    return thread, slack.views[-1]


async def test_an_uploaded_script_file_is_what_runs_and_its_digest_is_on_the_card(bot, slack, llm):
    thread, modal = await edit_modal(bot, slack, llm, "print('original')")
    (upload,) = [b for b in modal["blocks"] if b.get("block_id") == "script_file"]
    assert upload["optional"] is True and upload["element"]["max_files"] == 1
    uploaded = "import torch\nprint('from the file')\n"
    file = slack.add_file("train.py", uploaded.encode())
    status, _ = await bot.send.submit(modal, {"script_0": "ignored"}, files={"script_file": [file]})
    assert status == 200
    await bot.settle(lambda: "Ran it." in bot.answer(thread))
    assert [("hf_jobs", {**GPU_JOB, "script": uploaded})] == RAN
    assert "Approved with an edited script (`sha256:" in str(bot.card(thread).blocks)
    assert slack.downloads[-1][1] == "Bearer xoxb-test"  # fetched with the bot token


async def test_a_binary_or_too_big_script_file_is_refused_and_nothing_runs(bot, slack, llm):
    thread, modal = await edit_modal(bot, slack, llm, "print('original')")
    big = slack.add_file("huge.py", b"x" * (UPLOAD_BYTES + 1))
    status, body = await bot.send.submit(modal, {}, files={"script_file": [big]})
    assert status == 200 and '"response_action": "errors"' in body.replace('":"', '": "')
    binary = slack.add_file("model.py", b"\x00\x01\x02 not text")
    await bot.send.submit(modal, {}, files={"script_file": [binary]})
    await eventually(lambda: slack.ephemeral)
    assert "UTF-8 text" in slack.ephemeral[-1]["text"]
    await bot.rt.runner.wait_idle()
    assert RAN == [] and "Approve" in str(bot.card(thread).blocks)


async def test_a_script_too_long_for_the_inputs_can_be_replaced_by_a_file(bot, slack, llm):
    long_script = "x = 1\n" * 20_000  # 120,000 characters: more inputs than a modal holds
    thread, modal = await edit_modal(bot, slack, llm, long_script)
    inputs = [b for b in modal["blocks"] if b["type"] == "input"]
    assert [b["element"]["type"] for b in inputs] == ["file_input"]
    assert inputs[0]["optional"] is False
    file = slack.add_file("short.py", b"print('short now')\n")
    await bot.send.submit(modal, {}, files={"script_file": [file]})
    await bot.settle(lambda: "Ran it." in bot.answer(thread))
    assert RAN == [("hf_jobs", {**GPU_JOB, "script": "print('short now')\n"})]


# ── the agent messaging experience ─────────────────────────────────────


def test_the_manifest_declares_the_agent_view_and_slacks_stop_event():
    agent = manifest(Settings(_env_file=None))
    assert "agent_view" in agent["features"] and "assistant_view" not in agent["features"]
    events = agent["settings"]["event_subscriptions"]["bot_events"]
    assert {"agent_session_stopped", "app_context_changed", "app_home_opened"} <= set(events)
    assert "assistant_thread_started" not in events
    assert "assistant:write" in agent["oauth_config"]["scopes"]["bot"]


async def test_opening_the_messages_tab_shows_the_suggested_prompts(make_bot, slack):
    bot = await make_bot(slack_assistant_prompts="Find a model|Explain a log")
    status, _ = await bot.send.home_opened(tab="messages")
    assert status == 200
    await eventually(lambda: slack.called("assistant.threads.setSuggestedPrompts"))
    (prompts,) = slack.called("assistant.threads.setSuggestedPrompts")
    assert prompts["channel_id"] == "DU0ALICE" and "thread_ts" not in prompts
    assert [p["message"] for p in prompts["prompts"]] == ["Find a model", "Explain a log"]
    assert "ML intern" in prompts["title"]
    assert slack.homes == {}  # the Home tab is not drawn for the Messages tab


async def test_each_tab_message_is_its_own_thread_and_the_agent_knows_the_channel_by_name(
    make_bot, slack, llm
):
    slack.channel_names["C0VIEW"] = "training-runs"
    bot = await make_bot()
    status, _ = await bot.send.context_changed("C0VIEW")
    assert status == 200
    llm.default = text("On it.")
    first = await bot.send.direct("What runs in this channel?")

    def answered(event) -> bool:  # the answer is in the thread of the message itself
        return any("On it." in m.shown() for m in slack.thread(event["channel"], event["ts"]))

    await eventually(lambda: answered(first))
    second = await bot.send.direct("And another question")
    await bot.settle(lambda: answered(second))

    asked = [r["messages"][-1]["content"] for r in llm.requests]
    assert len(asked) == 2 and "another" not in str(llm.requests[1]["messages"][:-1])
    assert all("#training-runs (<#C0VIEW>)" in a for a in asked)
    assert not slack.called("conversations.history")  # its name, never its messages


# ── busy channels and busy workspaces ───────────────────────────────────

TEXT_CALLS = ("chat.startStream", "chat.postMessage", "chat.update")


def first_text(slack, thread: str) -> int | None:
    """Where in the stand-in's calls a thread's answer first showed text (a stream, a post,
    or the edit of its placeholder)."""
    for i, (method, args) in enumerate(slack.calls):
        message = slack.messages.get(args.get("ts", ""))
        where = args.get("thread_ts") or (message.thread_ts if message else None)
        shown = str(args.get("chunks") or "") + str(args.get("text") or "")
        if where == thread and method in TEXT_CALLS and "w0" in shown:
            return i
    return None


async def test_six_threads_in_one_channel_all_show_text_before_any_answer_ends(
    make_bot, slack, llm, monkeypatch
):
    slack.enforce_rate_limits(scale_slack_budget(monkeypatch, PACED_MINUTE))
    bot = await native(make_bot, slack, slack_rate_budget=True)
    delay = 0.15 * PACED_MINUTE / 60
    llm.default = text(" ".join(f"w{i}" for i in range(30)), chunk_size=3, delay=delay)
    events = [await bot.send.mention(f"stream {i}") for i in range(6)]
    threads = [e["ts"] for e in events]
    await eventually(
        lambda: all("w29" in "".join(m.text for m in bot.thread(t)) for t in threads), 60
    )
    await bot.rt.runner.wait_idle()

    firsts = [first_text(slack, t) for t in threads]
    assert None not in firsts
    ends = [i for i, (method, _) in enumerate(slack.calls) if method == "chat.stopStream"]
    ends += [
        i
        for i, (method, args) in enumerate(slack.calls)
        if method == "chat.update" and "w29" in str(args.get("text"))
    ]
    assert max(firsts) < min(ends)  # nobody waited for another's Tier 2 slot
    started = len(slack.called("chat.startStream"))
    assert 1 <= started < 6  # the burst of streams, the rest posted and edited
    assert slack.rate_limited == {}


async def test_a_new_answer_in_a_spent_workspace_is_shown_whole_when_done(
    make_bot, slack, llm, monkeypatch
):
    slack.enforce_rate_limits(scale_slack_budget(monkeypatch, PACED_MINUTE))
    bot = await make_bot(
        slack_rate_budget=True, slack_edit_interval_ms=round(100 * PACED_MINUTE / 60)
    )
    delay = 0.1 * PACED_MINUTE / 60
    llm.default = text(" ".join(f"w{i}" for i in range(60)), chunk_size=2, delay=delay)
    for i in range(5):  # people's own limits kept
        await bot.send.mention(f"busy {i}", channel=f"C0BUSY{i}", user=f"U0B{i}")
    await eventually(lambda: len(slack.called("chat.update")) >= 8)  # the update budget is spent
    late = await bot.send.mention("late", channel="C0LATE", user="U0LATE")
    await eventually(
        lambda: "w59" in "".join(m.text for m in slack.thread("C0LATE", late["ts"])), 30
    )
    late_refs = {m.ts for m in slack.thread("C0LATE", late["ts"])}
    shown = [
        str(args.get("text"))
        for method, args in slack.calls
        if method in ("chat.postMessage", "chat.update")
        and (args.get("thread_ts") == late["ts"] or args.get("ts") in late_refs)
        and "w0" in str(args.get("text"))
    ]
    assert shown and all("w59" in text_ for text_ in shown)  # never a part: whole, when done
    assert len(shown) <= 2  # the answer, and its 👍 / 👎
    assert slack.rate_limited == {}


async def test_a_new_mention_in_a_workspace_whose_tier_3_is_spent_is_one_post(make_bot, slack, llm):
    slack.enforce_rate_limits()
    bot = await make_bot(slack_rate_budget=True)  # the budget under test
    llm.default = text("The answer, whole.", chunk_size=4, delay=0.05)
    surfaces = bot.rt.runner.surfaces["slack"]
    surfaces(f"slack:{TEAM}:C0OTHER:1.0", {})  # the workspace's budget, as its threads share it
    for method, tier in METHOD_TIERS.items():  # Slack said: spent, for a minute (a Retry-After)
        if tier == 3:
            surfaces.budgets[TEAM].penalize(method, "", 60)
    event = await bot.send.mention("a question", channel="C0NEW", user="U0NEW")
    await bot.settle(
        lambda: any("The answer, whole." in m.text for m in slack.thread("C0NEW", event["ts"]))
    )

    made = [
        (method, args.get("text"))
        for method, args in slack.calls
        if "C0NEW" in (args.get("channel"), args.get("channel_id"))
    ]
    assert made == [("chat.postMessage", "The answer, whole.")]  # no 👀, status, placeholder
    assert slack.rate_limited == {}
