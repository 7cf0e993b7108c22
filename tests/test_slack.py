"""The Slack adapter end to end: signed events POSTed to the real Bolt endpoint, replies
and approval cards on a loopback Slack Web API, turns on a real redis-server and the
loopback LLM."""

import asyncio
import json
import logging
import time

import pytest
import yaml

from adapters.slack.frontend import SlackFrontEnd
from adapters.slack.install import AGENT_EVENTS, BOT_EVENTS, BOT_SCOPES, manifest_yaml
from adapters.slack.keys import session_key
from adapters.slack.mrkdwn import from_slack, to_mrkdwn
from bot.ops.http import build_http_app, serve
from bot.runtime import runtime
from bot.settings import Settings
from tests.closing import bounded, closed
from tests.standins.llm import text, tool_calls
from tests.standins.slack import BOT_USER, TEAM, SlackSender, SlackStandIn
from tests.support import RAN, eventually, test_tools

SECRET = "test-signing-secret"
CHANNEL = "C0CHAN"
GPU_JOB = {"operation": "run", "hardware_flavor": "a10g-small", "script": "print('original')"}


class SlackBot:
    """The bot's HTTP server with the Slack adapter mounted, as `ml-intern-bot slack` runs it."""

    def __init__(self, rt, slack: SlackStandIn, sender: SlackSender) -> None:
        self.rt = rt
        self.slack = slack
        self.send = sender

    def thread(self, thread_ts: str, channel: str = CHANNEL):
        return self.slack.thread(channel, thread_ts)

    def seen(self, thread_ts: str, channel: str = CHANNEL) -> list[str]:
        """The thread as a person sees it: messages, task cards, buttons, the status."""
        return self.slack.seen(channel, thread_ts)

    def status(self, thread_ts: str, channel: str = CHANNEL) -> str:
        return self.slack.shown_status(channel, thread_ts)

    def answer(self, thread_ts: str) -> str:
        """The bot's answer text in a thread (answer messages, not tool lines or cards)."""
        return "\n".join(
            m.shown()
            for m in self.thread(thread_ts)
            if m.blocks and m.blocks[0]["type"] == "section"
        )

    def card(self, thread_ts: str):
        cards = [m for m in self.thread(thread_ts) if m.text.startswith("Approval needed")]
        assert cards, "no approval card was posted"
        return cards[-1]

    async def pause_on(self, words: str, thread_ts: str | None = None):
        """Mention the bot and wait until its turn waits for approval: the thread and card."""
        event = await self.send.mention(words, thread_ts=thread_ts)
        thread = thread_ts or event["ts"]
        await self.settle(
            lambda: any(m.text.startswith("Approval needed") for m in self.thread(thread))
        )
        return thread, self.card(thread)

    async def settle(self, predicate=lambda: True) -> None:
        await eventually(predicate)
        await self.rt.runner.wait_idle()


def settings_for(llm, redis_url, slack, tmp_path, **overrides) -> Settings:
    values = {
        "redis_url": redis_url,
        "data_dir": tmp_path,
        "model": "openai/test-model",
        "llm_api_base": llm.base_url,
        "llm_api_key": "sk-test",
        "llm_retries": 0,
        "slack_bot_token": "xoxb-test",
        "slack_signing_secret": SECRET,
        "slack_api_url": slack.base_url,
        "slack_edit_interval_ms": 20,
        "slack_native_streaming": False,
        "slack_rate_budget": False,  # on where a test checks pacing
        "shutdown_grace_seconds": 2,  # a turn still running at teardown is handed back soon
        **overrides,
    }
    return Settings(_env_file=None, **values)


@pytest.fixture
async def slack():
    async with bounded("the Slack stand-in", SlackStandIn()) as server:
        yield server


@pytest.fixture
async def make_bot(llm, redis_url, slack, tmp_path):
    started = []

    async def make(tools=None, **overrides) -> SlackBot:
        settings = settings_for(llm, redis_url, slack, tmp_path, **overrides)
        lifespan = runtime(settings, tools=tools or test_tools())
        rt = await lifespan.__aenter__()
        adapter = SlackFrontEnd(rt)
        http = build_http_app(rt.redis)
        adapter.mount(http)
        site = await serve(http, 0, host="127.0.0.1")
        started.append((lifespan, site))
        port = site.addresses[0][1]
        return SlackBot(rt, slack, SlackSender(f"http://127.0.0.1:{port}/slack/events", SECRET))

    yield make
    for lifespan, site in reversed(started):
        await closed("the bot's HTTP server", site.cleanup())
        await closed("the runtime", lifespan.__aexit__(None, None, None))


@pytest.fixture
async def bot(make_bot):
    return await make_bot()


async def test_a_mention_shows_the_thread_status_then_streamed_edits_then_the_final_answer(
    bot, llm
):
    llm.script(text("Here is a **bold** answer about `transformers`.", chunk_size=4, delay=0.01))
    event = await bot.send.mention("what is a transformer?")
    thread = event["ts"]
    await bot.settle(lambda: "answer about" in bot.answer(thread))

    status = bot.slack.called("assistant.threads.setStatus")[0]
    assert status["thread_ts"] == thread and status["status"] == "is thinking…"
    assert status["loading_messages"]
    assert not any("thinking" in p["text"] for p in bot.slack.called("chat.postMessage"))
    assert bot.slack.shown_status(CHANNEL, thread) == ""  # cleared with the turn
    assert bot.slack.called("reactions.add")[0]["name"] == "eyes"
    assert len(bot.slack.called("chat.update")) >= 2  # streamed, then final
    answer = bot.thread(thread)[0]
    assert answer.shown() == "Here is a *bold* answer about `transformers`."
    assert answer.button_ids() == []  # the Stop button is gone once final
    assert llm.requests[0]["messages"][-1] == {"role": "user", "content": "what is a transformer?"}


async def test_thumbs_under_the_final_answer_record_who_rated_and_update_on_a_second_click(
    bot, llm, slack
):
    llm.script(tool_calls(("echo", {"text": "hi"}), content="Let me check."), text("All good."))
    event = await bot.send.mention("check it")
    thread = event["ts"]
    key = f"slack:T0TEAM:{CHANNEL}:{thread}"
    await bot.settle(lambda: "All good." in bot.answer(thread))
    rated = [m for m in bot.thread(thread) if m.feedback_buttons()]
    (answer,) = rated
    assert answer.shown() == "All good.", "only the last message of the answer is rated"
    turn = (await bot.rt.store.meta(key))["turn"]
    element = answer.feedback_buttons()
    assert element["positive_button"]["value"] == f"up:{turn}:{key}"

    status, _ = await bot.send.rate(answer, positive=True, user="U0BOB")
    assert status == 200
    await eventually(lambda: slack.ephemeral)
    assert slack.ephemeral[0]["user"] == "U0BOB" and "Thanks" in slack.ephemeral[0]["text"]

    await bot.send.rate(answer, positive=False, user="U0ALICE")
    await eventually(lambda: slack.views)
    (modal,) = slack.views
    assert (
        modal["callback_id"] == "mib:thumbs-down" and modal["title"]["text"] == "What went wrong?"
    )
    assert (await bot.rt.runner.feedback.read(thread=key))[-1].rating == "down"  # already
    status, _ = await bot.send.submit(modal, {"what": "it never said which file"})
    assert status == 200
    await eventually(lambda: len(slack.ephemeral) == 2)
    await bot.send.rate(answer, positive=False, user="U0BOB")  # Bob changes his mind
    await eventually(lambda: len(slack.views) == 2)

    ratings = await bot.rt.runner.feedback.read(thread=key)
    assert [(r.by, r.rating, r.comment, r.turn_id) for r in ratings] == [
        ("U0ALICE", "down", "it never said which file", turn),
        ("U0BOB", "down", "", turn),
    ]
    assert bot.thread(thread)[-1].shown() == "All good."  # the answer reads as it did


async def test_a_natively_streamed_final_answer_gets_thumbs_and_keeps_its_markdown(
    make_bot, llm, slack
):
    slack.streaming_enabled = True
    bot = await make_bot(slack_native_streaming=True)
    llm.script(text("Streamed **natively**.\n", chunk_size=6))
    event = await bot.send.mention("stream please")
    await bot.settle(lambda: slack.called("chat.stopStream"))

    streamed = slack.messages[slack.called("chat.stopStream")[0]["ts"]]
    assert streamed.blocks[0] == {"type": "markdown", "text": "Streamed **natively**.\n"}
    assert streamed.feedback_buttons() is not None
    await bot.send.rate(streamed, positive=True)
    key = f"slack:T0TEAM:{CHANNEL}:{event['ts']}"
    await eventually(lambda: slack.ephemeral)
    (rating,) = await bot.rt.runner.feedback.read(thread=key)
    assert (rating.by, rating.rating) == ("U0ALICE", "up")


async def test_unsigned_and_stale_requests_are_rejected_and_do_nothing(bot, llm):
    body = bot.send.event_body(
        {"type": "app_mention", "user": "U1", "text": "hi", "ts": "1.1", "channel": CHANNEL}
    )
    status, _ = await bot.send.post(body, "application/json", sign=False)
    assert status == 401
    stale = int(time.time()) - 10 * 60
    status, _ = await bot.send.post(body, "application/json", timestamp=stale)
    assert status == 401
    await asyncio.sleep(0.2)
    assert bot.slack.calls == [] and llm.requests == []


async def test_a_retried_event_runs_one_turn(bot, llm):
    llm.script(text("Only once."))
    event = {
        "type": "app_mention",
        "user": "U0ALICE",
        "text": f"<@{BOT_USER}> hi",
        "ts": "1700000999.000100",
        "channel": CHANNEL,
    }
    first = await bot.send.event(event, event_id="Ev-retried")
    retry = await bot.send.event(
        event,
        event_id="Ev-retried",
        headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    assert first[0] == retry[0] == 200
    await bot.settle(lambda: "Only once." in bot.answer(event["ts"]))
    await asyncio.sleep(0.2)
    assert len(llm.requests) == 1
    assert len(bot.slack.called("reactions.add")) == 1


async def test_events_are_acknowledged_and_queued_while_the_model_and_web_api_stall(
    bot, llm, slack
):
    """The 200 waits on no turn and no platform call: with the model and every Web API call
    held, mentions still get their 200 and are queued; released, each turn answers."""
    llm.script(text("An answer."), text("An answer."))
    llm.held.hold()
    slack.held.hold()
    first = await bot.send.mention("one", channel="C0ONE")  # asserts the 200
    await eventually(lambda: slack.held.waiting)  # its turn waits on the held Web API
    second = await bot.send.mention("two", channel="C0TWO")
    keys = [session_key(TEAM, first), session_key(TEAM, second)]
    held = ["agents.sessions.setStatus"] * 2 + ["reactions.add"] * 2  # each turn's first call
    await eventually(lambda: sorted(slack.held.waiting) == held)  # both marks and turns wait
    assert all([await bot.rt.store.busy(key) for key in keys])
    assert llm.requests == [] and slack.seen("C0ONE", first["ts"]) == []

    slack.held.release()
    await eventually(lambda: len(llm.held.waiting) == 2)  # the turns go on to the held model
    llm.held.release()
    threads = [("C0ONE", first["ts"]), ("C0TWO", second["ts"])]
    await bot.settle(lambda: all(slack.seen(*t) == ["An answer."] for t in threads))
    assert [r["timestamp"] for r in slack.called("reactions.add")] == [first["ts"], second["ts"]]


async def test_a_long_reply_arrives_whole_across_messages_with_code_blocks_intact(bot, llm):
    code = "\n".join(f"    value_{i} = compute({i})" for i in range(150))
    prose = " ".join(f"word{i}" for i in range(500))
    reply = f"{prose}\n\n```python\n{code}\n```\n\nThe end."
    llm.script(text(reply, chunk_size=400))
    event = await bot.send.mention("write a lot")
    await bot.settle(lambda: "The end." in bot.answer(event["ts"]))

    messages = [m for m in bot.thread(event["ts"]) if m.blocks and m.blocks[0]["type"] == "section"]
    assert len(messages) >= 3
    for message in messages:
        for block in message.blocks:
            assert block["type"] == "context_actions" or len(block["text"]["text"]) <= 3000
        assert message.shown().count("```") % 2 == 0, "a message left a code block open"
    rated = [m.feedback_buttons() is not None for m in messages]
    assert rated == [False] * (len(messages) - 1) + [True], "👍 / 👎 on the last message only"
    shown = "\n".join(m.shown() for m in messages)
    for i in range(150):
        assert f"value_{i} = compute({i})" in shown
    assert all(f"word{i}" in shown for i in range(500))


async def test_approve_runs_the_job_once_and_the_card_shows_who_decided(bot, llm):
    llm.script(tool_calls(("hf_jobs", GPU_JOB)), text("The job is running."))
    thread, card = await bot.pause_on("train it on a GPU")
    approve, reject, edit = card.button_ids()
    assert (
        approve.startswith("mib:approve:")
        and reject.startswith("mib:reject:")
        and edit.startswith("mib:edit:")
    )
    assert "a10g-small" in card.shown() and "print('original')" in card.shown()

    status, _ = await bot.send.click(card, approve)
    assert status == 200
    await bot.settle(lambda: "The job is running." in bot.answer(thread))
    assert RAN == [("hf_jobs", GPU_JOB)]
    card = bot.card(thread)
    assert card.button_ids() == []
    assert "Approved by <@U0ALICE>" in json.dumps(card.blocks)


async def test_an_approved_tool_runs_while_the_card_redraw_is_held_and_the_thread_keeps_order(
    bot, llm, slack
):
    """The tool starts once the decision is recorded, not once the card is redrawn: with
    chat.update held, the job runs; released, the thread's writes come in order: the card
    shows the decision, then the call's line, then its result."""
    llm.script(tool_calls(("hf_jobs", GPU_JOB)), text("The job is running."))
    thread, card = await bot.pause_on("train it on a GPU")
    slack.held.hold("chat.update")
    clicked = len(slack.calls)
    status, _ = await bot.send.click(card, card.button_ids()[0])
    assert status == 200
    await eventually(lambda: RAN == [("hf_jobs", GPU_JOB)])
    assert slack.held.waiting == ["chat.update"]  # the card's redraw, not made yet

    slack.held.release()
    await bot.settle(lambda: "The job is running." in bot.answer(thread))
    writes = [
        (method, args.get("ts"), args.get("text", ""))
        for method, args in slack.calls[clicked:]
        if method in ("chat.postMessage", "chat.update")
    ]
    decided = next(i for i, w in enumerate(writes) if w[:2] == ("chat.update", card.ts))
    running = next(i for i, w in enumerate(writes) if "`hf_jobs` running" in w[2])
    result = next(i for i, w in enumerate(writes) if "`hf_jobs` done" in w[2])
    assert decided < running < result
    assert "Approved by <@U0ALICE>" in json.dumps(bot.card(thread).blocks)


async def test_reject_asks_a_reason_in_a_modal_and_the_agent_reads_it(bot, llm):
    llm.script(tool_calls(("hf_jobs", GPU_JOB)), text("OK, I won't."))
    thread, card = await bot.pause_on("train it")
    await bot.send.click(card, card.button_ids()[1])
    await eventually(lambda: bot.slack.views)
    modal = bot.slack.views[0]
    assert modal["callback_id"] == "mib:reject"

    status, _ = await bot.send.submit(modal, {"reason": "too expensive, use a t4"})
    assert status == 200
    await bot.settle(lambda: "OK, I won't." in bot.answer(thread))
    assert RAN == []
    tool_result = llm.requests[-1]["messages"][-1]
    assert (
        tool_result["role"] == "tool"
        and "User feedback: too expensive, use a t4" in tool_result["content"]
    )
    assert "Rejected by <@U0ALICE>" in json.dumps(bot.card(thread).blocks)


async def test_a_script_over_3000_characters_is_edited_in_parts_and_runs_byte_for_byte(bot, llm):
    long_script = "".join(f"print('line {i}: ' + 'x' * 40)\n" for i in range(200))
    assert len(long_script) > 3000
    llm.script(
        tool_calls(("hf_jobs", {**GPU_JOB, "script": long_script})), text("Ran your version.")
    )
    thread, card = await bot.pause_on("run my script")
    await bot.send.click(card, card.button_ids()[2])
    await eventually(lambda: bot.slack.views)
    modal = bot.slack.views[0]
    inputs = [
        b
        for b in modal["blocks"]
        if b["type"] == "input" and b["element"]["type"] == "plain_text_input"
    ]
    assert len(inputs) >= 2
    parts = {b["block_id"]: b["element"]["initial_value"] for b in inputs}
    assert all(len(v) <= 3000 for v in parts.values())
    parts["script_0"] = parts["script_0"].replace("line 0:", "edited 0:")

    await bot.send.submit(modal, parts)
    await bot.settle(lambda: "Ran your version." in bot.answer(thread))
    expected = long_script.replace("line 0:", "edited 0:")
    assert [("hf_jobs", {**GPU_JOB, "script": expected})] == RAN
    assert "edited the script" in llm.requests[-1]["messages"][-1]["content"]


async def test_approve_all_decides_every_pending_call(bot, llm):
    second = {**GPU_JOB, "script": "print(2)"}
    llm.script(tool_calls(("hf_jobs", GPU_JOB), ("hf_jobs", second)), text("Both started."))
    thread, card = await bot.pause_on("two jobs please")
    approve_all = next(
        a for a in card.button_ids() if a.startswith("mib:approve:") and a.endswith(":all")
    )
    await bot.send.click(card, approve_all)
    await bot.settle(lambda: "Both started." in bot.answer(thread))
    assert sorted(args["script"] for _, args in RAN) == ["print('original')", "print(2)"]


async def test_only_approvers_may_decide_and_user_groups_count(make_bot, llm, slack):
    slack.usergroups["S0ML"] = ["U0CAROL"]
    bot = await make_bot(approvers="U0BOB,S0ML")
    llm.script(tool_calls(("hf_jobs", GPU_JOB)), text("Started."))
    thread, card = await bot.pause_on("train")

    await bot.send.click(card, card.button_ids()[0], user="U0ALICE")  # asked, but not an approver
    await eventually(lambda: slack.ephemeral)
    assert slack.ephemeral[0]["user"] == "U0ALICE" and "can't approve" in slack.ephemeral[0]["text"]
    await asyncio.sleep(0.1)
    assert RAN == [] and bot.card(thread).button_ids()

    await bot.send.click(card, card.button_ids()[0], user="U0CAROL")  # in the S0ML group
    await bot.settle(lambda: "Started." in bot.answer(thread))
    assert len(RAN) == 1
    assert slack.called("usergroups.users.list")[0]["usergroup"] == "S0ML"


async def test_double_and_concurrent_clicks_run_the_tool_once(bot, llm, slack):
    llm.script(tool_calls(("hf_jobs", GPU_JOB)), text("Started once."))
    thread, card = await bot.pause_on("train")
    approve = card.button_ids()[0]
    results = await asyncio.gather(*(bot.send.click(card, approve) for _ in range(4)))
    assert all(status == 200 for status, _ in results)
    await bot.settle(lambda: "Started once." in bot.answer(thread))
    await asyncio.sleep(0.1)
    assert RAN == [("hf_jobs", GPU_JOB)]
    assert len(slack.ephemeral) == 3
    assert all("already decided" in e["text"] for e in slack.ephemeral)


async def test_a_click_on_an_abandoned_approval_gets_a_clear_answer(bot, llm, slack):
    llm.script(tool_calls(("hf_jobs", GPU_JOB)), text("Never mind then."))
    thread, card = await bot.pause_on("train")
    approve = card.button_ids()[0]
    await bot.send.mention("actually, don't", thread_ts=thread)
    await bot.settle(lambda: "Never mind then." in bot.answer(thread))
    abandoned = bot.card(thread)
    assert abandoned.button_ids() == [] and "No longer pending" in json.dumps(abandoned.blocks)

    await bot.send.click(card, approve)
    await eventually(lambda: slack.ephemeral)
    assert "no longer pending" in slack.ephemeral[0]["text"]
    assert RAN == []


async def test_the_stop_button_on_the_streaming_answer_stops_the_turn(bot, llm):
    llm.script(text(" ".join(f"word{i}" for i in range(400)), chunk_size=6, delay=0.05))
    event = await bot.send.mention("talk for a while")
    thread = event["ts"]
    await eventually(lambda: bot.thread(thread) and bot.thread(thread)[0].button_ids())
    answer = bot.thread(thread)[0]
    assert answer.button_ids() == ["mib:stop"] and "word0" in answer.shown()
    await bot.send.click(answer, "mib:stop")
    await bot.settle(lambda: any("Stopped" in m.text for m in bot.thread(thread)))
    assert "word399" not in bot.answer(thread)
    assert all(m.button_ids() == [] for m in bot.thread(thread))
    status = await bot.rt.runner.status(f"slack:T0TEAM:{CHANNEL}:{thread}")
    assert status["status"] == "idle"


async def test_undo_and_new_commands(bot, llm):
    llm.script(text("First answer."))
    event = await bot.send.mention("hello")
    thread = event["ts"]
    key = f"slack:T0TEAM:{CHANNEL}:{thread}"
    await bot.settle(lambda: "First answer." in bot.answer(thread))
    assert (await bot.rt.runner.status(key))["history_size"] == 2

    await bot.send.mention("undo", thread_ts=thread)
    await bot.settle(lambda: any("Undid the last turn" in m.text for m in bot.thread(thread)))
    assert (await bot.rt.runner.status(key))["history_size"] == 0

    await bot.send.mention("status", thread_ts=thread)
    await bot.settle(lambda: any("*Status:*" in m.text for m in bot.thread(thread)))
    await bot.send.mention("new", thread_ts=thread)
    await bot.settle(lambda: any("Starting over" in m.text for m in bot.thread(thread)))
    assert await bot.rt.store.load(key) is None
    assert len(llm.requests) == 1  # commands never reach the model


async def test_a_dm_and_plain_thread_replies_continue_without_a_mention(bot, llm):
    llm.script(text("Hi in DM."), text("Started."), text("Still here."))
    dm = {
        "type": "message",
        "channel_type": "im",
        "user": "U0ALICE",
        "text": "hello bot",
        "ts": "1700001000.000100",
        "channel": "D0DM",
    }
    await bot.send.event(dm)
    await bot.settle(
        lambda: "Hi in DM." in "".join(m.shown() for m in bot.thread(dm["ts"], "D0DM"))
    )

    event = await bot.send.mention("start")
    await bot.settle(lambda: "Started." in bot.answer(event["ts"]))
    reply = {
        "type": "message",
        "channel_type": "channel",
        "user": "U0ALICE",
        "text": "and more?",
        "ts": "1700001001.000100",
        "thread_ts": event["ts"],
        "channel": CHANNEL,
    }
    await bot.send.event(reply)
    await bot.settle(lambda: "Still here." in bot.answer(event["ts"]))
    assert llm.requests[-1]["messages"][-3]["content"] == "start"
    assert llm.requests[-1]["messages"][-1]["content"] == "and more?"

    edited = {**reply, "subtype": "message_changed", "ts": "1700001002.000100"}
    elsewhere = {**reply, "thread_ts": "1600000000.000100", "ts": "1700001003.000100"}
    await bot.send.event(edited)
    await bot.send.event(elsewhere)  # a thread the bot is not in
    await asyncio.sleep(0.2)
    assert len(llm.requests) == 3  # neither starts a turn


async def test_a_429_on_chat_update_is_waited_out_and_the_final_text_lands(make_bot, llm, slack):
    bot = await make_bot(slack_rate_budget=True)  # its budget waits the 429 out
    slack.rate_limit_next("chat.update", retry_after=0.3)
    llm.script(text("Rate limits are no problem.", chunk_size=5, delay=0.01))
    event = await bot.send.mention("go")
    await bot.settle(lambda: "Rate limits are no problem." in bot.answer(event["ts"]))
    updates = [name for name, _ in slack.calls if name == "chat.update"]
    assert len(updates) >= 2  # the refused one and at least one after it
    assert bot.thread(event["ts"])[0].button_ids() == []


PROXY_PAGE = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
"""What a proxy in front of Slack answers when it fails: an HTML page, not JSON."""


async def test_calls_answered_with_an_html_page_or_an_empty_body_are_retried_and_the_turn_answers(
    bot, llm, slack, caplog
):
    caplog.set_level(logging.INFO)
    slack.answer_raw_next("reactions.add", 502, PROXY_PAGE, "text/plain")
    slack.answer_raw_next("assistant.threads.setStatus", 502, "", "text/plain")
    slack.answer_raw_next("chat.postMessage", 502, PROXY_PAGE)
    slack.answer_raw_next("chat.update", 502, PROXY_PAGE, "application/json")  # not JSON at all
    llm.script(text("Proxies fail, answers land.", chunk_size=5, delay=0.01))
    event = await bot.send.mention("go")
    await bot.settle(lambda: "Proxies fail, answers land." in bot.answer(event["ts"]))
    assert bot.thread(event["ts"])[0].button_ids() == []  # the final edit landed too
    assert len(slack.called("reactions.add")) == 2  # tried again after the 502
    refused = [method for method, error in slack.refused if error == "HTTP 502"]
    assert sorted(refused) == [
        "assistant.threads.setStatus",
        "chat.postMessage",
        "chat.update",
        "reactions.add",
    ]
    assert "chat.update answered HTTP 502" in caplog.text  # the method and the status
    assert "has no attribute" not in caplog.text


async def test_native_streaming_appends_the_answer_when_the_workspace_allows_it(
    make_bot, llm, slack
):
    slack.streaming_enabled = True
    bot = await make_bot(slack_native_streaming=True)
    llm.script(text("Streamed natively,\nline by line.\n", chunk_size=6, delay=0.01))
    event = await bot.send.mention("stream please")
    await bot.settle(lambda: slack.called("chat.stopStream"))
    start = slack.called("chat.startStream")[0]
    assert start["recipient_user_id"] == "U0ALICE" and start["thread_ts"] == event["ts"]
    streamed = slack.messages[slack.called("chat.stopStream")[0]["ts"]]
    assert streamed.text == "Streamed natively,\nline by line.\n"
    assert not streamed.streaming


async def test_the_manifest_lists_what_the_adapter_uses(llm, redis_url, slack, tmp_path):
    settings = settings_for(
        llm, redis_url, slack, tmp_path, slack_public_url="https://bot.example.org"
    )
    manifest = yaml.safe_load(manifest_yaml(settings))
    events = manifest["settings"]["event_subscriptions"]
    assert events["bot_events"] == BOT_EVENTS + AGENT_EVENTS
    assert {"app_mention", "message.im", "message.channels"} <= set(events["bot_events"])
    assert events["request_url"] == "https://bot.example.org/slack/events"
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["oauth_config"]["scopes"]["bot"] == BOT_SCOPES
    assert {"chat:write", "app_mentions:read", "usergroups:read", "reactions:write"} <= set(
        BOT_SCOPES
    )
    socket = yaml.safe_load(
        manifest_yaml(settings_for(llm, redis_url, slack, tmp_path, slack_app_token="xapp-1"))
    )
    assert socket["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in socket["settings"]["event_subscriptions"]


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("# Title\n**bold** and *it* and ~~gone~~", "*Title*\n*bold* and _it_ and ~gone~"),
        ("- one\n- two", "• one\n• two"),
        ("see [the docs](https://hf.co/docs)", "see <https://hf.co/docs|the docs>"),
        ("`a < b` & <tag>", "`a &lt; b` &amp; &lt;tag&gt;"),
        ("```python\nif a < b: **x**\n```", "```\nif a &lt; b: **x**\n```"),
        ("```\nstill streaming", "```\nstill streaming\n```"),
        ("[ping](!channel) <!here> @everyone", "[ping](!channel) &lt;!here&gt; @everyone"),
    ],
)
def test_markdown_becomes_slack_mrkdwn_and_can_not_ping_a_channel(markdown, mrkdwn):
    assert to_mrkdwn(markdown) == mrkdwn
    assert "<!" not in to_mrkdwn(markdown)


def test_slack_text_reads_plainly_for_the_agent():
    text = f"<@{BOT_USER}> look at <https://hf.co/x|this> and <https://a.b> &amp; more"
    assert from_slack(text, BOT_USER) == "look at this (https://hf.co/x) and https://a.b & more"


async def test_a_click_while_redis_is_down_gets_a_clear_answer(bot, llm, slack, redis_server):
    llm.script(tool_calls(("hf_jobs", GPU_JOB)))
    thread, card = await bot.pause_on("train")
    redis_server.stop()
    try:
        status, _ = await bot.send.click(card, card.button_ids()[0])
        assert status == 200  # acknowledged at once, answered after
        await eventually(lambda: slack.ephemeral, within=30)
    finally:
        redis_server.start()
    assert "can't reach my session store" in slack.ephemeral[0]["text"]
    assert RAN == []


async def test_auto_approve_runs_jobs_within_the_budget_and_extend_approves_past_it(
    bot, llm, slack
):
    small = {**GPU_JOB, "timeout": "1h"}  # a10g-small: ~$1.00
    big = {**GPU_JOB, "hardware_flavor": "a100-large", "timeout": "4h"}  # ~$10.00
    llm.script(text("Hello."), tool_calls(("hf_jobs", small)), text("Small one ran."))
    event = await bot.send.mention("hi")
    thread = event["ts"]
    await bot.settle(lambda: "Hello." in bot.answer(thread))
    await bot.send.mention("auto-approve $2", thread_ts=thread)
    await bot.settle(lambda: any("Auto-approve on" in m.text for m in bot.thread(thread)))

    await bot.send.mention("train the small one", thread_ts=thread)
    await bot.settle(lambda: "Small one ran." in bot.answer(thread))
    assert [("hf_jobs", small)] == RAN
    assert not any(m.text.startswith("Approval needed") for m in bot.thread(thread))
    assert any("Auto-approved within this thread's budget" in m.text for m in bot.thread(thread))

    llm.script(tool_calls(("hf_jobs", big)), text("Big one ran."))
    _, card = await bot.pause_on("now the big one", thread_ts=thread)
    extend = next(a for a in card.button_ids() if a.startswith("mib:extend:"))
    assert "over this thread's auto-approve budget" in json.dumps(card.blocks)
    await bot.send.click(card, extend)
    await bot.settle(lambda: "Big one ran." in bot.answer(thread))
    assert RAN[-1] == ("hf_jobs", big)
    assert "ml-intern-bot audit --approval" in json.dumps(bot.card(thread).blocks)

    await bot.send.mention("status", thread_ts=thread)
    await bot.settle(lambda: any("$11.00 of $11.00 spent" in m.text for m in bot.thread(thread)))


async def test_a_rule_needing_two_approvers_shows_the_count_on_the_card(
    make_bot, llm, slack, tmp_path
):
    rules = tmp_path / "approvals.yaml"
    rules.write_text(
        "rules:\n  - match: hf_jobs:run\n    approvers: [U0ALICE, U0BOB]\n    required: 2\n"
    )
    bot = await make_bot(approval_rules=rules)
    llm.script(tool_calls(("hf_jobs", GPU_JOB)), text("Both said yes."))
    thread, card = await bot.pause_on("train")
    approve = card.button_ids()[0]
    assert "2 approvals from U0ALICE, U0BOB" in json.dumps(card.blocks)

    await bot.send.click(card, approve, user="U0ALICE")
    await eventually(lambda: "1 of 2 approvals (<@U0ALICE>)" in json.dumps(bot.card(thread).blocks))
    assert RAN == []
    await bot.send.click(card, approve, user="U0ALICE")  # the same person again
    await eventually(lambda: slack.ephemeral)
    assert "needs another approver" in slack.ephemeral[0]["text"]
    await bot.send.click(card, approve, user="U0BOB")
    await bot.settle(lambda: "Both said yes." in bot.answer(thread))
    assert RAN == [("hf_jobs", GPU_JOB)]


async def test_a_long_tool_output_is_a_short_line_with_the_full_text_attached(bot, llm, slack):
    words = " ".join(f"row{i}" for i in range(600))
    llm.script(tool_calls(("echo", {"text": words})), text("Summarised."))
    event = await bot.send.mention("dump it")
    thread = event["ts"]
    await bot.settle(lambda: "Summarised." in bot.answer(thread))
    (line,) = [m for m in bot.thread(thread) if "`echo`" in m.text]
    assert len(line.text) < 300 and line.text.startswith("✅ `echo` done")
    (upload,) = slack.uploads.values()
    assert upload["content"].decode() == f"echo: {words}"
    assert upload["filename"] == "echo-output.txt" and upload["thread_ts"] == thread


async def test_a_malformed_payload_is_refused_and_the_bot_carries_on(bot, llm):
    status, _ = await bot.send.post("payload=%7Bnot-json", "application/x-www-form-urlencoded")
    assert 400 <= status < 500
    status, _ = await bot.send.post("{not json", "application/json")
    assert 400 <= status < 500
    llm.script(text("Still fine."))
    event = await bot.send.mention("are you ok?")
    await bot.settle(lambda: "Still fine." in bot.answer(event["ts"]))


async def test_socket_mode_receives_events_over_the_websocket_and_acks_them(make_bot, llm, slack):
    bot = await make_bot(slack_app_token="xapp-1-test", slack_signing_secret=None)
    running = asyncio.create_task(SlackFrontEnd(bot.rt).run())
    try:
        await eventually(lambda: slack.socket is not None)
        llm.script(text("Over the socket."))
        event = {
            "type": "app_mention",
            "user": "U0ALICE",
            "text": f"<@{BOT_USER}> hello",
            "ts": "1700002000.000100",
            "channel": CHANNEL,
        }
        envelope = await slack.deliver("events_api", json.loads(bot.send.event_body(event)))
        await bot.settle(lambda: "Over the socket." in bot.answer(event["ts"]))
        assert envelope in slack.acks
        assert slack.called("apps.connections.open")
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
