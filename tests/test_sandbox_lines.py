"""How a ``bash`` call shows in a thread: a tool line or a step with its command's first
line, then its exit code, duration and last lines of output."""

from __future__ import annotations

from agent import events as ev
from agent.tools.sandbox import bash_result
from bot.output.steps import StepBook
from bot.output.toollines import call_detail, output_detail, tool_line

COMMAND = "python train.py --steps 2\necho done"
ANSWER = {
    "exit_code": 1,
    "duration": 1.234,
    "output": "loading\nstep 1\nTraceback (most recent call last):\nValueError: bad shape\n",
    "error": "Exit code 1.",
    "log_path": ".logs/run.log",
}


def test_a_bash_line_shows_the_command_then_exit_code_duration_and_last_lines():
    running = tool_line("bash", "running", call_detail("bash", {"command": COMMAND}))
    assert running.endswith("`bash` running — `python train.py --steps 2`")
    result = bash_result(ANSWER)
    assert not result.success
    assert result.output.startswith("exit code 1 · 1.23 s\nloading\n")
    assert result.output.endswith("[full output: .logs/run.log]")
    failed = tool_line("bash", "failed", output_detail("bash", result.output))
    assert failed.splitlines()[0].endswith("`bash` failed — exit code 1 · 1.23 s")
    assert failed.splitlines()[1:] == [
        "> step 1",
        "> Traceback (most recent call last):",
        "> ValueError: bad shape",
    ]


def test_a_timeout_says_so_and_other_tools_keep_their_first_line():
    killed = bash_result({**ANSWER, "exit_code": -9, "error": "Killed after its timeout of 5 s."})
    assert killed.output.startswith("exit code -9 · 1.23 s · Killed after its timeout of 5 s.")
    assert output_detail("read", "     1\tx = 1\n     2\ty = 2") == "1\tx = 1"
    assert call_detail("read", {"path": "a.py"}) == ""


def test_a_bash_step_is_titled_by_its_command_and_ends_with_its_exit_code():
    book = StepBook()
    call = ev.ToolCall(tool="bash", arguments={"command": COMMAND}, tool_call_id="c1")
    (running,), _ = book.of(call)
    assert running.title == "bash · python train.py --steps 2" and running.state == "running"
    output = bash_result(ANSWER).output
    done = ev.ToolOutput(tool="bash", tool_call_id="c1", output=output, success=False)
    (ended,), _ = book.of(done)
    assert ended.title == running.title and ended.state == "failed"
    assert ended.output.startswith("exit code 1 · 1.23 s") and "ValueError" in ended.output
