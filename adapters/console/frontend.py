"""The terminal front end: type a message, watch the reply stream, approve tool calls."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shlex
import signal
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO

from adapters.console.screen import ScreenLog
from adapters.console.surface import ConsoleSurface
from agent.model import credential_problem
from bot.approvals.actor import Actor
from bot.attachments import SharedFile
from bot.output.views import help_lines
from bot.session_key import SessionKey
from bot.turns.commands import parse_command, run_command
from bot.turns.intake import file_refs
from bot.turns.runner import TurnRunner

ReadLine = Callable[[str], Awaitable[str | None]]

HELP = "\n".join(
    [
        "Type a message to talk to the agent. Commands:",
        *(f"  {line}" for line in help_lines("/", without=("stop",))),
        "  `/file <path> [message]`: Share a file with a message (quote a path with spaces)",
        "  `/help`: This help  ·  `/quit`: Leave (Ctrl-D works too)",
        "Ctrl-C stops a running turn.",
        "When a tool call needs approval, answer y (approve), n [reason] (reject),",
        "e (edit the script in $EDITOR, then approve), or Y / N for all at once.",
        "",
    ]
)
USER = "console"
FILE_COMMAND = re.compile(r"^/file(?:\s+(?P<rest>.*))?$", re.DOTALL)
FILE_USAGE = "Usage: /file <path> [message], e.g. /file runs/train.log why did the loss jump?\n"


def path_and_message(rest: str) -> tuple[str, str] | None:
    """``<path> [message]``; a path with spaces in quotes. None when there is no path."""
    rest = rest.strip()
    if rest[:1] in ("'", '"'):
        end = rest.find(rest[0], 1)
        if end > 1:
            return rest[1:end], rest[end + 1 :].strip()
        return None
    path, _, message = rest.partition(" ")
    return (path, message.strip()) if path else None


async def read_stdin(prompt: str) -> str | None:
    """A line from the terminal, or None at end of input."""
    try:
        return await asyncio.to_thread(input, prompt)
    except EOFError:
        return None


def status_dump(status: dict[str, Any]) -> str:
    """Everything :meth:`TurnRunner.status` says, a line per field as it names them."""
    return "\n".join(f"  {name}: {value}" for name, value in status.items())


class ConsoleFrontEnd:
    def __init__(
        self,
        runner: TurnRunner,
        *,
        out: TextIO,
        read_line: ReadLine = read_stdin,
        editor: str | None = None,
        thread: str = "main",
        log_path: Path | None = None,
    ) -> None:
        self.runner = runner
        self.out = out
        self.read_line = read_line
        self.log_path = log_path
        self.screen = ScreenLog()
        self.editor = editor or os.environ.get("EDITOR", "vi")
        self.key = SessionKey("console", "local", "terminal", thread).encode()
        self.surface = ConsoleSurface(out)
        # The person at the terminal runs the bot: they hold every approver right.
        self.actor = Actor(USER, groups=runner.controls.rules.named(), name="you")
        runner.surfaces["console"] = lambda key, ref: self.surface

    def mount(self, http: object) -> None:
        """The terminal serves no HTTP routes."""

    def interrupt(self) -> None:
        """Ctrl-C: stop the running turn, not the program."""
        asyncio.ensure_future(self.runner.stop(self.key))

    async def run(self) -> None:
        """The chat until ``/quit`` or end of input; warnings and errors logged meanwhile are
        shown before each prompt (:class:`ScreenLog`)."""
        model = self.runner.agent.config
        logs = f" · logs in {self.log_path}" if self.log_path else ""
        self.out.write(f"ml-intern-bot console · model {model.model}{logs} · /help for commands.\n")
        if problem := credential_problem(model):
            self.out.write(f"⚠️ {problem}\n")
            self.screen.said(problem)
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGINT, self.interrupt)
        logging.getLogger().addHandler(self.screen)
        try:
            while await self._step():
                pass
        finally:
            logging.getLogger().removeHandler(self.screen)
            self._show_logged()
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signal.SIGINT)

    def _show_logged(self) -> None:
        """The warnings and errors logged since the last prompt, each on its line."""
        if held := self.screen.take():
            self.out.write("\n" + "\n".join(held) + "\n")

    async def _ask(self, prompt: str) -> str | None:
        """A line typed at ``prompt``, after what was logged since the last one."""
        self._show_logged()
        return await self.read_line(prompt)

    async def _step(self) -> bool:
        if self.surface.approval is not None:
            return await self._decide(self.surface.approval)
        line = await self._ask("\nyou › ")
        if line is None or line.strip() == "/quit":
            return False
        line = line.strip()
        if not line:
            return True
        if line == "/help":
            self.out.write(HELP)
        elif shared := FILE_COMMAND.match(line):
            await self._share(shared["rest"] or "")
        elif line.startswith("/") and (command := parse_command(line[1:])):
            reply = await run_command(
                self.runner, self.key, self.actor, *command, draw_status=status_dump
            )
            if reply:
                self.out.write(reply + "\n")
            await self.runner.wait_idle()
        elif line.startswith("/"):
            self.out.write(f"Unknown command {line.split()[0]}. /help lists them.\n")
        else:
            await self._submit({"kind": "message", "text": line, "user": USER})
        return True

    async def _share(self, rest: str) -> None:
        """``/file <path> [message]``: the file goes with the message; the turn reads it."""
        parsed = path_and_message(rest)
        if parsed is None:
            self.out.write(FILE_USAGE)
            return
        path, text = parsed
        files = file_refs([SharedFile.from_path(path)])
        await self._submit({"kind": "message", "text": text, "user": USER, "files": files})

    async def _submit(self, item: dict[str, Any]) -> None:
        await self.runner.submit(self.key, item)
        await self.runner.wait_idle()

    async def _decide(self, approval: Any) -> bool:
        """Ask about each pending call until every one is decided."""
        self.surface.approval = None
        for n, tool in enumerate(approval.tools, 1):
            answer = await self._ask(
                f"[{n}/{approval.count}] approve? y / n [reason] / e / Y / N › "
            )
            if answer is None:
                return False
            verb, _, reason = answer.strip().partition(" ")
            call_id = tool["tool_call_id"]
            if verb in ("Y", "N"):
                await self._record(approval.approval_id, None, approved=verb == "Y")
                break
            if verb == "e":
                script = await self._edit(tool["arguments"].get("script", ""))
                await self._record(
                    approval.approval_id, call_id, approved=True, edited_script=script
                )
            else:
                await self._record(
                    approval.approval_id, call_id, approved=verb == "y", feedback=reason or None
                )
        await self.runner.wait_idle()
        return True

    async def _record(self, approval_id: str, call_id: str | None, **decision: Any) -> None:
        decided = await self.runner.decide(
            approval_id, self.actor, tool_call_id=call_id, **decision
        )
        if not decided.accepted:
            self.out.write(f"  (not recorded: {decided.result})\n")

    async def _edit(self, script: str) -> str:
        """Open the script in $EDITOR and return what was saved."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "script.py"
            path.write_text(script)
            proc = await asyncio.create_subprocess_exec(*shlex.split(self.editor), str(path))
            await proc.wait()
            return path.read_text()
