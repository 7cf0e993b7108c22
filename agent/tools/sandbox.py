"""The sandbox tools, with upstream ml-intern's names: ``sandbox_create``, ``bash``, ``read``,
``write`` and ``edit``. The first use of any but ``sandbox_create`` starts a cpu-basic
sandbox when the session has none."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import uuid
from pathlib import PurePosixPath
from typing import Any

from agent.sandbox.backends import DEFAULT_HARDWARE
from agent.sandbox.client import SandboxClient
from agent.sandbox.manager import Sandboxes
from agent.tools.hardware import CostEstimator
from agent.tools.hub_common import text_arg
from agent.tools.registry import Tool, ToolContext, ToolError, ToolResult

ATTACH_LOG_BYTES = 5_000_000
"""A cut output's whole log up to this size is attached to the thread as a file."""
DEFAULT_TIMEOUT = 240
MAX_TIMEOUT = 1200
SANDBOX_TOOLS = frozenset({"sandbox_create", "bash", "read", "write", "edit"})

PATH_PARAM = {
    "type": "string",
    "description": "A path in the sandbox's workspace: relative (e.g. 'train.py') or absolute.",
}


def bash_result(answer: dict[str, Any]) -> ToolResult:
    """What the model reads of a command: its exit code, duration, output and log."""
    code, seconds = answer.get("exit_code"), answer.get("duration") or 0
    head = f"exit code {code} · {seconds:.2f} s"
    if answer.get("error") and code != 0 and not str(answer["error"]).startswith("Exit code"):
        head += f" · {answer['error']}"
    output = str(answer.get("output") or "").rstrip("\n") or "(no output)"
    log = f"\n[full output: {answer['log_path']}]" if answer.get("log_path") else ""
    return ToolResult(f"{head}\n{output}{log}", code == 0)


def check_python(path: str, content: str) -> None:
    """A Python file that does not compile is refused, with the compiler's message."""
    if not path.endswith(".py"):
        return
    try:
        compile(content, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        where = f"line {exc.lineno}" + (f", column {exc.offset}" if exc.offset else "")
        raise ToolError(
            f"{path} was NOT saved: SyntaxError at {where}: {exc.msg}" + _pointed(exc)
        ) from None
    except ValueError as exc:  # e.g. a NUL byte
        raise ToolError(f"{path} was NOT saved: {exc}") from None


def _pointed(exc: SyntaxError) -> str:
    """The offending line, and a caret under the column, as Python shows them."""
    line = (exc.text or "").rstrip()
    if not line:
        return ""
    indent = len(line) - len(line.lstrip())
    caret = (
        f"\n    {' ' * (exc.offset - 1 - indent)}^" if exc.offset and exc.offset > indent else ""
    )
    return f"\n    {line.lstrip()}{caret}"


def sandbox_tools(sandboxes: Sandboxes, costs: CostEstimator | None = None) -> list[Tool]:
    """sandbox_create, bash, read, write and edit on ``sandboxes``; ``costs`` prices the
    sandbox's hardware."""
    costs = costs or CostEstimator()

    async def create(args: dict[str, Any], ctx: ToolContext) -> str:
        hardware = args.get("hardware") or DEFAULT_HARDWARE
        if not isinstance(hardware, str):
            raise ToolError("'hardware' must be a hardware name such as 'cpu-basic' or 't4-small'.")
        record = await sandboxes.ensure(ctx.session, hardware, ctx.progress)
        hourly = costs.sandbox_hourly(record.hardware)
        price = f"${hourly:.2f} an hour while it runs" if hourly else "free"
        return (
            f"The sandbox is ready ({record.backend}, {record.hardware}, {price}). Run commands with "
            "bash, and read, write and edit files; the workspace is the current directory. "
            "Submit a script as a job with hf_jobs script 'sandbox:<file>'."
        )

    async def bash(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        command = text_arg(args, "command")
        timeout = args.get("timeout") or DEFAULT_TIMEOUT
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
            raise ToolError("'timeout' must be a positive number of seconds.")
        if timeout > MAX_TIMEOUT:
            raise ToolError(f"'timeout' is at most {MAX_TIMEOUT} s; for longer work, use a job.")
        work_dir = args.get("work_dir")
        if work_dir is not None and not isinstance(work_dir, str):
            raise ToolError("'work_dir' must be a path.")
        run_id = ctx.tool_call_id or uuid.uuid4().hex
        async with sandboxes.client(ctx.session, ctx.progress) as client:
            try:
                answer = await client.bash(
                    command, work_dir=work_dir, seconds=float(timeout), run_id=run_id
                )
            except asyncio.CancelledError:  # Stop: the command must end too, not run on
                await asyncio.shield(_kill(client, run_id))
                raise
            if "exit_code" not in answer:
                raise ToolError(str(answer.get("error") or "the command could not be run"))
            result = bash_result(answer)
            if answer.get("cut") and 0 < answer.get("total_bytes", 0) <= ATTACH_LOG_BYTES:
                result = await _with_log(client, result, str(answer["log_path"]))
        return result

    async def read(args: dict[str, Any], ctx: ToolContext) -> str:
        body = {"path": text_arg(args, "path")}
        for name in ("offset", "limit"):
            if args.get(name) is not None:
                body[name] = args[name]
        async with sandboxes.client(ctx.session, ctx.progress) as client:
            return str((await client.checked("read", body))["output"])

    async def write(args: dict[str, Any], ctx: ToolContext) -> str:
        path, content = text_arg(args, "path"), args.get("content")
        if not isinstance(content, str):
            raise ToolError("'content' must be a string: the file's whole text.")
        check_python(path, content)
        async with sandboxes.client(ctx.session, ctx.progress) as client:
            answer = await client.checked("write", {"path": path, "content": content})
        # the hint on a line of its own: the thread's tool line shows only the first
        return f"{answer['output']}\nRun it with bash, or submit it with hf_jobs 'sandbox:{path}'."

    async def edit(args: dict[str, Any], ctx: ToolContext) -> str:
        body = {
            "path": text_arg(args, "path"),
            "old_str": args.get("old_str"),
            "new_str": args.get("new_str"),
            "replace_all": bool(args.get("replace_all", False)),
        }
        async with sandboxes.client(ctx.session, ctx.progress) as client:
            return str((await client.checked("edit", body))["output"])

    return [
        Tool(
            name="sandbox_create",
            description=(
                "Start this conversation's sandbox on the given hardware (default cpu-basic, "
                "which bash/read/write/edit start by themselves). Other hardware (e.g. "
                "t4-small for a GPU test) needs a person's approval and is billed by the hour "
                "(prices: hf_jobs operation hardware); it replaces the running sandbox."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "hardware": {
                        "type": "string",
                        "description": "cpu-basic (default), cpu-upgrade, t4-small, a10g-small, ...",
                    }
                },
            },
            handler=create,
        ),
        Tool(
            name="bash",
            description=(
                "Run a bash command in the sandbox and get its exit code, duration and output "
                "(long output keeps its head and tail; the whole is saved to a log file). Test "
                "every script here on a tiny run before submitting it as a job. Timeout: "
                f"default {DEFAULT_TIMEOUT} s, at most {MAX_TIMEOUT} s."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "command": {"type": "string", "description": "The bash command to run."},
                    "work_dir": {
                        "type": "string",
                        "description": "Directory to run it in (default: the workspace).",
                    },
                    "timeout": {
                        "type": "integer",
                        "description": f"Seconds before it is killed ({MAX_TIMEOUT} at most).",
                    },
                },
                "required": ["command"],
            },
            handler=bash,
        ),
        Tool(
            name="read",
            description=(
                "Read a text file of the sandbox with numbered lines; offset (first line, "
                "1-based) and limit (lines) read a part of a big file. Files people shared "
                "are there too."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "path": PATH_PARAM,
                    "offset": {"type": "integer", "description": "First line to read (1 = top)."},
                    "limit": {"type": "integer", "description": "Read at most this many lines."},
                },
                "required": ["path"],
            },
            handler=read,
            read_only=True,
        ),
        Tool(
            name="write",
            description=(
                "Write a whole file in the sandbox (replacing it). A Python file is checked "
                "for syntax first and not saved if it does not compile."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "path": PATH_PARAM,
                    "content": {"type": "string", "description": "The file's full text."},
                },
                "required": ["path", "content"],
            },
            handler=write,
        ),
        Tool(
            name="edit",
            description=(
                "Replace old_str by new_str in a sandbox file. old_str must match exactly and "
                "once, unless replace_all is true."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "path": PATH_PARAM,
                    "old_str": {"type": "string", "description": "The exact text to replace."},
                    "new_str": {"type": "string", "description": "The text to put instead."},
                    "replace_all": {
                        "type": "boolean",
                        "description": "Replace every occurrence instead of exactly one.",
                    },
                },
                "required": ["path", "old_str", "new_str"],
            },
            handler=edit,
        ),
    ]


async def _kill(client: SandboxClient, run_id: str) -> None:
    with contextlib.suppress(ToolError):  # the sandbox is gone: so is the command
        await client.kill(run_id)


async def _with_log(client: SandboxClient, result: ToolResult, log_path: str) -> ToolResult:
    """``result`` with the command's whole output attached for people (the model keeps the
    head and tail)."""
    try:
        text = await client.read_text(log_path)
    except ToolError:
        return result  # binary output, or gone: the cut output stands
    log = {
        "filename": PurePosixPath(log_path).name,
        "mime_type": "text/plain",
        "data": base64.b64encode(text.encode()).decode(),
    }
    return dataclasses.replace(result, attachments=(log,))
