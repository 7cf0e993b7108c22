# ruff: noqa: F811
# (tests take the imported `hub` fixture as an argument, which F811 sees as a redefinition)
"""The sandbox tools in a thread: the model writes a script, runs it, reads the error, edits
it, runs it again and submits it as a job; Stop kills a running command; a command a dead
worker started is not run again. The local backend runs them under bubblewrap."""

from __future__ import annotations

import asyncio
import base64
import signal
from pathlib import Path

import pytest

from agent.sandbox.files import Sandbox
from agent.sandbox.local import LocalBackend
from agent.sandbox.manager import Sandboxes
from agent.session import Session
from agent.tools.registry import ToolContext, ToolRegistry
from agent.tools.sandbox import sandbox_tools
from bot.output.messages import ALREADY_STARTED, RESTARTED, TAKEN_OVER
from bot.store.embedded import connect
from bot.store.sessions import SessionStore
from bot.turns.once import OnceTools
from tests.fleet import BOT_PROCESSES, Fleet, close_front_end, front_end
from tests.fleet import key as fleet_key
from tests.standins.hub import TOKEN, USER, HubStandIn, hub  # noqa: F401
from tests.standins.llm import text, tool_calls
from tests.support import eventually
from tests.test_hf_end_to_end import KEY, Thread, hf_tools
from tests.test_hf_jobs import inline_script
from tests.test_sandbox_local import bwrap_problem

pytestmark = pytest.mark.skipif(bwrap_problem() is not None, reason=str(bwrap_problem()))

BROKEN = "import sys\n\nprint('loading', file=sys.stderr)\nprint('answer:', undefined_name)\n"
FIXED = BROKEN.replace("undefined_name", "41 + 1")


def local_sandboxes(root: Path) -> Sandboxes:
    return Sandboxes(LocalBackend(root), Sandbox(root))


@pytest.fixture
async def sandboxes(tmp_path):
    running = local_sandboxes(tmp_path / ".data" / "sandboxes")
    yield running
    await running.close()


@pytest.fixture
async def thread(llm, redis_url, hub, tmp_path, sandboxes):
    chat = Thread(
        llm, redis_url, hf_tools(hub, tmp_path / ".data" / "sandboxes", sandboxes=sandboxes)
    )
    yield chat
    await chat.close()


def outputs(session: Session, tool: str) -> list[str]:
    return [m["content"] for m in session.history if m.get("name") == tool]


async def test_write_run_fail_edit_run_then_submit_as_a_job(thread, llm, hub, tmp_path):
    run = ("bash", {"command": "python3 train.py", "timeout": 60})
    llm.script(
        tool_calls(("write", {"path": "train.py", "content": "print('unclosed'\n"})),
        tool_calls(("write", {"path": "train.py", "content": BROKEN})),
        tool_calls(run),
        tool_calls(
            ("edit", {"path": "train.py", "old_str": "undefined_name", "new_str": "41 + 1"})
        ),
        tool_calls(run),
        tool_calls(("hf_jobs", {"operation": "uv", "script": "sandbox:train.py"})),
    )
    await thread.say("write a script that prints the answer, test it, then run it as a job")

    session = await thread.store.load(KEY)
    unsaved, saved = outputs(session, "write")
    assert "NOT saved: SyntaxError at line 1" in unsaved and "Wrote train.py" in saved
    failed, passed = outputs(session, "bash")
    assert failed.startswith("exit code 1 · ") and "NameError: name 'undefined_name'" in failed
    assert "loading" in failed  # stderr too
    assert passed.startswith("exit code 0 · ") and "answer: 42" in passed
    files = tmp_path / ".data" / "sandboxes"
    (workspace,) = [d for d in files.iterdir() if d.is_dir()]
    assert (workspace / "train.py").read_text() == FIXED  # the sandbox's files, on this host

    lines = [t for kind, t in thread.surface.calls if kind == "line" and "`bash`" in t]
    assert any("running — `python3 train.py`" in line for line in lines)
    failed_line = "failed — `python3 train.py` → exit code 1 · "
    assert any(failed_line in line and "NameError" in line for line in lines)
    done_line = "done — `python3 train.py` → exit code 0 · "
    assert any(done_line in line and "> answer: 42" in line for line in lines)

    # the job's approval card shows the script as the sandbox holds it; approved, it runs
    (card,) = thread.surface.approvals
    (shown,) = card.tools
    assert shown["arguments"]["script"] == FIXED
    llm.script(text("Submitted."))
    await thread.approve(card)
    (posted,) = hub.calls("POST", rf"^/api/jobs/{USER}$")
    assert inline_script(posted.json()["command"]) == FIXED


async def test_stop_kills_the_running_command(sandboxes):
    registry = ToolRegistry(sandbox_tools(sandboxes))
    session = Session(key=KEY)
    ctx = ToolContext(session=session, tool_call_id="call_sleep")
    running = asyncio.create_task(registry.call("bash", {"command": "sleep 600"}, ctx))
    check = ToolContext(session=session, tool_call_id="call_ps")
    ps = {"command": "cat /proc/[0-9]*/comm"}

    async def sleeping(expected: bool) -> None:
        """Poll the sandbox's processes until a ``sleep`` runs (or none does)."""
        for _ in range(300):
            if ("sleep" in (await registry.call("bash", ps, check)).output) == expected:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"sleep running: not {expected} after 15 s")

    await sleeping(True)
    running.cancel()  # what Stop does to a turn's tool call
    with pytest.raises(asyncio.CancelledError):
        await running
    await sleeping(False)


async def test_a_command_a_dead_worker_started_is_not_run_again(sandboxes, redis_url, tmp_path):
    redis = connect(redis_url)
    store = SessionStore(redis)
    tools = OnceTools(ToolRegistry(sandbox_tools(sandboxes)), store)
    session = Session(key=KEY)
    session.history.append(
        {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function"}]}
    )
    ctx = ToolContext(session=session, tool_call_id="call_1")
    args = {"command": "echo once >> ran.txt"}
    try:
        first = await tools.call("bash", args, ctx)
        again = await tools.call("bash", args, ctx)  # the taker's retry of the same call
    finally:
        await redis.aclose()
    assert first.success
    assert not again.success and again.output == ALREADY_STARTED
    ran = next((tmp_path / ".data" / "sandboxes").glob("*/ran.txt"))
    assert ran.read_text() == "once\n"


async def test_a_long_output_keeps_head_and_tail_and_comes_whole_as_a_file(sandboxes):
    registry = ToolRegistry(sandbox_tools(sandboxes))
    ctx = ToolContext(session=Session(key=KEY), tool_call_id="call_seq")
    result = await registry.call("bash", {"command": "seq 1 200000"}, ctx)
    assert result.success and result.output.startswith("exit code 0 · ")
    assert "\n1\n2\n" in result.output and result.output.rstrip().endswith(".log]")
    assert "200000\n" in result.output and "bytes omitted" in result.output
    (log,) = result.attachments
    whole = base64.b64decode(log["data"]).decode()
    assert whole == "".join(f"{n}\n" for n in range(1, 200_001))
    assert log["filename"].endswith(".log") and log["mime_type"] == "text/plain"


@BOT_PROCESSES
async def test_a_worker_killed_during_bash_does_not_have_it_run_again(tmp_path, llm, redis_url):
    fleet = Fleet(tmp_path / "fleet", redis_url, llm.base_url, FAULT_SANDBOX="1", SANDBOX="local")
    runner, _ = front_end(llm, redis_url)
    thread = fleet_key("bash-kill")
    try:
        fleet.start(2)
        llm.script(
            tool_calls(("bash", {"command": "echo started >> runs.txt; sleep 60"})),
            text("The command was cut off by a restart; shall I run it again?"),
        )
        await runner.submit(thread, {"kind": "message", "text": "run it", "user": "U_ALICE"})
        runs = tmp_path / "fleet" / "data" / "sandboxes"
        await eventually(lambda: any(runs.glob("*/runs.txt")), 60)  # workers import litellm
        (line,) = [r for r in fleet.shown(thread, "line") if "`bash`" in r["text"]]
        fleet.signal(line["pid"], signal.SIGKILL)
        await runner.wait_idle()

        (ran,) = runs.glob("*/runs.txt")
        assert ran.read_text() == "started\n"  # the taker did not run the command again
        session = await runner.store.load(thread)
        (result,) = [m for m in session.history if m["role"] == "tool"]
        assert result["content"] == RESTARTED
        assert TAKEN_OVER in fleet.notices(thread)
        assert not sandbox_processes(runs)  # the dead worker's sandbox died with it
    finally:
        await close_front_end(runner)
        fleet.close()


def sandbox_processes(data: Path) -> list[int]:
    """Processes whose command line names a directory under ``data`` (a sandbox's bwrap)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(data).encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found
