"""The console front end driven through its input and output streams."""

import asyncio
import io

import pytest

from adapters.console.frontend import ConsoleFrontEnd
from agent.loop import Agent
from bot.store.embedded import connect
from bot.store.sessions import SessionStore
from bot.turns.runner import TurnRunner
from tests.closing import closed
from tests.standins.llm import hang, text, tool_calls
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
