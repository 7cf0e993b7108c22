"""The console front end driven through its input and output streams."""

import asyncio
import io
import json
import logging
import os
import sys
from pathlib import Path

import pytest

from adapters.console.frontend import ConsoleFrontEnd
from adapters.console.screen import MAX_HELD
from agent.loop import Agent
from bot.store.embedded import connect
from bot.store.sessions import SessionStore
from bot.turns.runner import TurnRunner
from tests.closing import closed
from tests.fleet import BOT_PROCESSES
from tests.standins.llm import error, hang, text, tool_calls
from tests.support import RAN, agent_config, eventually, test_tools

GPU_JOB = {"operation": "run", "hardware_flavor": "a10g-small", "script": "print('original')"}


class Keyboard:
    """Lines typed at the prompt; None ends the input."""

    def __init__(self, *lines):
        self.lines: asyncio.Queue = asyncio.Queue()
        self.prompts: list[str] = []
        for line in lines:
            self.lines.put_nowait(line)

    def type(self, line):
        self.lines.put_nowait(line)

    async def __call__(self, prompt: str):
        self.prompts.append(prompt)
        return await self.lines.get()


@pytest.fixture
async def console(llm, redis_url, tmp_path):
    redis = connect(redis_url)
    runner = TurnRunner(Agent(agent_config(llm), test_tools()), SessionStore(redis), {})
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf \'print("edited")\\n\' > "$1"\n')
    editor.chmod(0o755)
    out = io.StringIO()
    keyboard = Keyboard()
    app = ConsoleFrontEnd(runner, out=out, read_line=keyboard, editor=str(editor))
    yield app, keyboard, out
    await closed("the runner", runner.close())
    await closed("the Redis client", redis.aclose())


async def test_chat_streams_the_reply(console, llm):
    app, keyboard, out = console
    llm.script(text("Hello from the terminal.", chunk_size=4))
    keyboard.type("hi")
    keyboard.type(None)

    await app.run()

    assert "Hello from the terminal.\n" in out.getvalue()


async def test_approval_with_edited_script_runs_the_edit(console, llm):
    app, keyboard, out = console
    llm.script(tool_calls(("hf_jobs", GPU_JOB)), text("Job submitted."))
    for line in ("train a model", "e", None):
        keyboard.type(line)

    await app.run()

    output = out.getvalue()
    assert "need your approval" in output and "print('original')" in output
    assert RAN == [("hf_jobs", {**GPU_JOB, "script": 'print("edited")\n'})]
    assert "Job submitted." in output
    assert any("approve?" in p for p in keyboard.prompts)


async def test_reject_with_reason_and_commands(console, llm):
    app, keyboard, out = console
    llm.script(tool_calls(("hf_jobs", GPU_JOB)), text("Understood."), text("second"))
    for line in ("train", "n too expensive", "/status", "again", "/undo", "/status", None):
        keyboard.type(line)

    await app.run()

    output = out.getvalue()
    assert RAN == []
    assert "Job execution cancelled by user. User feedback: too expensive" in str(
        llm.requests[1]["messages"]
    )
    assert "Undid the last turn" in output
    assert output.count("history_size") == 2


async def test_ctrl_c_stops_the_turn_not_the_program(console, llm):
    app, keyboard, out = console
    llm.script(hang(), text("still here"))
    keyboard.type("write a novel")
    run = asyncio.create_task(app.run())
    await eventually(lambda: llm.requests)
    await asyncio.sleep(0.1)

    app.interrupt()
    await eventually(lambda: "Stopped." in out.getvalue())
    keyboard.type("are you there?")
    keyboard.type(None)
    await asyncio.wait_for(run, 10)

    assert "still here" in out.getvalue()


async def test_autoapprove_runs_a_job_within_the_budget_without_asking(console, llm):
    app, keyboard, out = console
    small = {**GPU_JOB, "timeout": "30m"}  # a10g-small: ~$0.50
    llm.script(tool_calls(("hf_jobs", small)), text("Ran without asking."))
    for line in ("/autoapprove $1", "train", "/status", "/autoapprove off", None):
        keyboard.type(line)

    await app.run()

    output = out.getvalue()
    assert "Auto-approve on" in output and "under $1.00" in output
    assert "need your approval" not in output
    assert [name for name, _ in RAN] == ["hf_jobs"] and RAN[0][1] == small
    assert "budget: auto-approve budget $0.50 of $1.00 spent" in output
    assert "Auto-approve is off" in output
    assert not any("approve?" in p for p in keyboard.prompts)


@BOT_PROCESSES
async def test_the_console_process_logs_to_a_file_and_shows_each_warning_once_between_turns(
    llm, redis_url, tmp_path
):
    """``ml-intern-bot console`` as a person runs it: a failing model call's warning goes to
    DATA_DIR/bot.log (as LOG_FORMAT and LOG_LEVEL say) and once to the screen, after the
    reply and before the next prompt; the screen gets no other log line."""
    failure = error(500, "the provider fell over")
    llm.script(failure, failure, text("Fine now."))
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PYTHONPATH": str(Path(__file__).parents[1]),
        "DATA_DIR": str(tmp_path / "data"),
        "REDIS_URL": redis_url,
        "MODEL": "openai/test-model",
        "LLM_API_BASE": llm.base_url,
        "LLM_API_KEY": "sk-test",
        "LLM_RETRIES": "0",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "WARNING",
    }
    console = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "console",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    out, err = await asyncio.wait_for(console.communicate(b"first\nsecond\nthird\n"), 60)
    assert console.returncode == 0, err.decode()
    screen = out.decode()

    title, first, second, third, end = screen.split("you › ")
    assert f"logs in {tmp_path / 'data' / 'bot.log'}" in title
    warning = "⚠️ LLM call failed: "
    reply, _, logged = first.strip().partition("\n\n")
    assert warning not in reply and reply  # the reply whole, then the warning under it
    assert logged.startswith(warning) and "the provider fell over" in logged
    assert warning not in second and second.strip()  # the same warning is not repeated
    assert "Fine now." in third and not end.strip()
    assert screen.count(warning) == 1 and " WARNING " not in screen and " INFO " not in screen
    assert err.decode() == ""

    entries = [
        json.loads(line) for line in (tmp_path / "data" / "bot.log").read_text().splitlines()
    ]
    failed = [e for e in entries if e["message"].startswith("LLM call failed")]
    assert len(failed) == 2 and {e["level"] for e in failed} == {"WARNING"}
    assert all(e["level"] in ("WARNING", "ERROR", "CRITICAL") for e in entries)  # LOG_LEVEL


async def test_warnings_logged_while_a_person_types_show_at_the_next_prompt_bounded(console, llm):
    app, keyboard, out = console
    llm.script(text("The reply, whole."))
    logger = logging.getLogger("tests.background")

    async def typing(prompt: str):
        if not keyboard.prompts:  # something in the background warns while they type
            for n in range(MAX_HELD + 5):
                logger.warning("background warning %d", n)
            logger.warning("background warning 0")  # said already
        return await keyboard(prompt)

    app.read_line = typing
    keyboard.type("hi")
    keyboard.type(None)
    await app.run()

    reply, _, after = out.getvalue().partition("The reply, whole.\n")
    assert "background warning" not in reply  # nothing inside the turn's output
    shown = [line for line in after.splitlines() if "background warning" in line]
    assert shown == [f"⚠️ background warning {n}" for n in range(MAX_HELD)]
    assert "… and 5 more in the log" in after
