"""Files people share reach the agent: Slack file shares, Discord attachments and console
paths, downloaded where the turn runs, saved in the session's sandbox and put in the
model's request (the LLM stand-in records it)."""

from __future__ import annotations

import asyncio
import io
import json

from adapters.slack.files import FILES_HINT
from agent.loop import Agent
from agent.sandbox.files import session_dirname
from bot.platforms import platforms
from bot.runtime import runtime
from bot.store import redis_keys as rk
from bot.store.embedded import connect
from bot.store.sessions import SessionStore
from bot.turns.intake import FileIntake
from bot.turns.runner import TurnRunner
from tests.standins import discord as dc
from tests.standins.llm import text
from tests.support import agent_config, test_tools
from tests.test_attachments import png, training_log
from tests.test_console import Keyboard
from tests.test_discord import ALICE, GUILD, Rig
from tests.test_discord import api as api  # noqa: F401  (the Discord stand-in fixture)
from tests.test_slack import CHANNEL, settings_for
from tests.test_slack import make_bot as make_bot  # noqa: F401
from tests.test_slack import slack as slack  # noqa: F401

DM = "D0DM"
VISION = "vision=openai/gpt-4o,text=openai/test-model"
"""gpt-4o takes images in LiteLLM's model map; test-model is unknown to it (text only)."""


def sandbox_file(root, key: str, name: str) -> bytes:
    return (root / "sandboxes" / session_dirname(key) / name).read_bytes()


def user_content(llm, n: int = 0):
    return llm.requests[n]["messages"][-1]["content"]


def answer_in(bot, thread: str, channel: str) -> str:
    """The answer text in a thread of ``channel`` (a DM)."""
    messages = bot.slack.thread(channel, thread)
    return "\n".join(m.shown() for m in messages if m.blocks and m.blocks[0]["type"] == "section")


def notices(bot, thread: str, channel: str = CHANNEL) -> list[str]:
    """The thread's plain notices (no blocks): lines the runtime posted."""
    return [m.text for m in bot.slack.thread(channel, thread) if not m.blocks]


# ── Slack ────────────────────────────────────────────────────────────────


async def test_a_slack_log_file_reaches_the_model_head_and_tail_and_the_sandbox_whole(
    make_bot, llm, slack, tmp_path
):
    bot = await make_bot()
    log = training_log()
    llm.script(text("The loss went down."))

    event = await bot.send.share(
        [slack.add_file("train.log", log)], "why is it slow?", channel=DM, channel_type="im"
    )
    await bot.settle(lambda: "The loss went down." in answer_in(bot, event["ts"], DM))

    content = user_content(llm)
    assert content.startswith("why is it slow?")
    assert "START run-42 config=sft.yaml" in content and "FINAL eval_loss=0.123" in content
    assert "step 2500 loss" not in content  # the middle stays in the sandbox
    assert "sandbox:train.log" in content
    key = f"slack:T0TEAM:{DM}:{event['ts']}"
    assert sandbox_file(tmp_path, key, "train.log") == log
    (path, auth), *more = slack.downloads
    assert path.endswith("/download/train.log") and auth == "Bearer xoxb-test" and not more
    session = await bot.rt.store.load(key)
    assert session.history[0]["content"] == content  # saved as the model read it


async def test_an_image_goes_as_an_image_part_to_a_model_that_sees_images(make_bot, llm, slack):
    bot = await make_bot(models=VISION)
    llm.script(text("A red square."))
    top = await bot.send.mention("model vision")  # at the top of the channel: its default
    await bot.settle(lambda: bot.thread(top["ts"]))

    event = await bot.send.mention(
        "what is this?", files=[slack.add_file("plot.png", png(), "image/png")]
    )
    await bot.settle(lambda: "A red square." in bot.answer(event["ts"]))

    request = llm.requests[0]
    assert request["model"] == "gpt-4o"
    text_part, image_part = request["messages"][-1]["content"]
    assert text_part["type"] == "text" and text_part["text"].startswith("what is this?")
    assert image_part["type"] == "image_url"
    assert image_part["image_url"]["url"].startswith("data:image/png;base64,")


async def test_a_text_only_model_gets_the_image_described_and_the_thread_is_told(
    make_bot, llm, slack
):
    bot = await make_bot()
    llm.script(text("I can only read its name."))

    event = await bot.send.mention(
        "what is this?", files=[slack.add_file("plot.png", png(), "image/png")]
    )
    await bot.settle(lambda: "I can only read its name." in bot.answer(event["ts"]))

    content = user_content(llm)
    assert isinstance(content, str) and "an image the model cannot see: plot.png" in content
    assert "base64" not in content
    assert any("this model can't see images" in n for n in notices(bot, event["ts"]))


async def test_a_deleted_or_too_big_slack_file_gets_a_line_and_the_turn_still_runs(
    make_bot, llm, slack
):
    bot = await make_bot(max_attachment_bytes=1000)
    gone = slack.add_file("gone.log", b"x\n")
    slack.delete_file(gone["id"])
    big = slack.add_file("big.log", b"y\n" * 2500)
    llm.script(text("Answered anyway."))

    event = await bot.send.mention("look at these", files=[gone, big])
    await bot.settle(lambda: "Answered anyway." in bot.answer(event["ts"]))

    lines = notices(bot, event["ts"])
    assert (
        "📎 Couldn't read `gone.log`: it is gone (404 Not Found): it may have been deleted."
        in lines
    )
    assert (
        "📎 Couldn't read `big.log`: it is 5 KB; the limit is 1 KB (MAX_ATTACHMENT_BYTES)." in lines
    )
    assert [path.rsplit("/", 1)[-1] for path, _ in slack.downloads] == ["gone.log"]  # not big
    assert "`gone.log` could not be read" in user_content(llm)  # the agent knows too


async def test_without_files_read_the_thread_is_told_which_scope_to_add(make_bot, llm, slack):
    bot = await make_bot()
    slack.scopes.discard("files:read")
    llm.script(text("Answered without it."))

    event = await bot.send.mention("read this", files=[slack.add_file("cfg.yaml", b"lr: 1\n")])
    await bot.settle(lambda: "Answered without it." in bot.answer(event["ts"]))

    (line,) = [n for n in notices(bot, event["ts"]) if n.startswith("📎")]
    assert line.startswith("📎 Couldn't read `cfg.yaml`: the bot was sent to a web page")
    assert "files:read scope" in line and "manifest slack" in line


async def test_a_worker_with_no_front_end_downloads_with_the_bot_token(
    make_bot, llm, redis_url, slack, tmp_path
):
    front = await make_bot(run_turns=False)
    async with runtime(settings_for(llm, redis_url, slack, tmp_path), tools=test_tools()) as worker:
        worker.runner.surfaces["slack"] = await platforms()["slack"].worker_surfaces(worker)
        worker.runner.start()
        llm.script(text("Read by the worker."))
        event = await front.send.share(
            [slack.add_file("notes.md", b"# plan\nuse lora\n")], channel=DM, channel_type="im"
        )
        await front.settle(lambda: "Read by the worker." in answer_in(front, event["ts"], DM))
        await worker.runner.wait_idle()
    assert not front.rt.runner.queue.tasks
    assert slack.downloads == [(slack.downloads[0][0], "Bearer xoxb-test")]
    assert "use lora" in user_content(llm)


async def test_a_queued_share_carries_the_file_s_link_and_never_the_token(make_bot, slack):
    front = await make_bot(run_turns=False)  # nothing consumes: the input stays queued
    shared = slack.add_file("notes.md", b"# plan\n")

    event = await front.send.share([shared], "see notes", channel=DM, channel_type="im")
    key = f"slack:T0TEAM:{DM}:{event['ts']}"
    for _ in range(1000):  # the handler runs after Bolt's ack: wait for it to queue
        if queued := await front.rt.redis.lrange(rk.inbox(key), 0, -1):
            break
        await asyncio.sleep(0.01)
    (raw,) = queued

    item = json.loads(raw)
    assert item["text"] == "see notes"
    assert item["files"] == [
        {
            "name": "notes.md",
            "url": shared["url_private_download"],
            "size": 7,
            "mimetype": "text/plain",
            "access_hint": FILES_HINT,
        }
    ]
    assert b"xoxb" not in raw and slack.downloads == []  # the ack did not wait for a download


def test_the_manifest_asks_for_files_read():
    from adapters.slack.install import BOT_SCOPES

    assert "files:read" in BOT_SCOPES and BOT_SCOPES.count("files:read") == 1


# ── Discord ──────────────────────────────────────────────────────────────


async def test_a_discord_attachment_reaches_the_model_and_a_missing_one_gets_a_line(
    llm,
    redis_url,
    api,
    tmp_path,  # noqa: F811
):
    async with Rig(llm, redis_url, api, data_dir=tmp_path) as rig:
        llm.script(text("First."), text("Read it."))
        thread = await rig.ask("hello")
        log = training_log()
        good = api.add_attachment(thread["id"], "train.log", log, "text/plain")
        gone = api.add_attachment(thread["id"], "old.log", b"x\n", "text/plain")
        api.remove_attachment(gone)

        rig.feed(
            dc.message_event(thread["id"], "", dc.user(ALICE), GUILD, attachments=[good, gone])
        )
        await rig.idle()

        content = user_content(llm, 1)
        assert "START run-42" in content and "FINAL eval_loss=0.123" in content
        key = f"discord:{GUILD}:{thread['parent_id']}:{thread['id']}"
        assert sandbox_file(tmp_path, key, "train.log") == log
        texts = rig.texts(thread)
        assert (
            "📎 Couldn't read `old.log`: it is gone (404 Not Found): it may have been deleted."
            in texts
        )
        assert "Read it." in texts  # in the placeholder posted before the line


async def test_ask_with_a_file_starts_a_thread_that_reads_it(
    llm,
    redis_url,
    api,
    tmp_path,  # noqa: F811
):
    async with Rig(llm, redis_url, api, data_dir=tmp_path) as rig:
        llm.script(text("Your config uses lr 2e-5."))
        config = api.add_attachment(rig.text_channel["id"], "sft.yaml", b"lr: 2.0e-5\n")

        rig.slash("ask", prompt="check my config", file=config)
        await rig.idle()

        content = user_content(llm)
        assert content.startswith("check my config") and "lr: 2.0e-5" in content


# ── the console ──────────────────────────────────────────────────────────


async def test_console_file_command_shares_a_local_file(llm, redis_url, tmp_path):
    from adapters.console.frontend import ConsoleFrontEnd

    redis = connect(redis_url)
    runner = TurnRunner(
        Agent(agent_config(llm), test_tools()),
        SessionStore(redis),
        {},
        files=FileIntake(tmp_path / "sandboxes"),
    )
    config = tmp_path / "my config.yaml"
    config.write_text("epochs: 3\n")
    out = io.StringIO()
    keyboard = Keyboard(f'/file "{config}" what does it do?', f"/file {tmp_path}/nope.txt", None)
    llm.script(text("Three epochs."), text("No file."))
    try:
        await ConsoleFrontEnd(runner, out=out, read_line=keyboard).run()
    finally:
        await runner.close()
        await redis.aclose()

    assert user_content(llm).startswith("what does it do?")
    assert "epochs: 3" in user_content(llm)
    assert (
        f"📎 Couldn't read `nope.txt`: there is no file at {tmp_path}/nope.txt." in out.getvalue()
    )
