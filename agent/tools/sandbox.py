"""A local, per-session working directory where the agent writes scripts before running jobs.

Each session gets ``<root>/<safe session key>/``; paths cannot leave it and its
size is capped. Creating it needs approval (tool ``sandbox_create``); the file
tools refuse to work until it exists. Files people share with the agent are saved
here too (by the bot, with its own per-file cap): ``sandbox_read`` reads a big file
a part at a time.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from agent.session import Session
from agent.tools.hub_common import human_size, text_arg
from agent.tools.registry import Tool, ToolContext, ToolError

SANDBOX_PREFIX = "sandbox:"
"""A script argument ``sandbox:<file>`` names a file in the session's sandbox."""
STATE_KEY = "sandbox"
MAX_FILE_BYTES = 1_000_000
"""Largest file the agent writes; shared files are saved with the bot's own cap."""
MAX_SANDBOX_BYTES = 100_000_000
"""All of a session's files: room for what the agent writes and a few shared files."""
MAX_LISTED = 200
READ_CHARS = 16_000
"""Characters one ``sandbox_read`` returns at most: a bigger file is read in parts."""


def session_dirname(key: str) -> str:
    """A directory name for a session key: readable, filesystem-safe and collision-free."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("._")[:64] or "session"
    return f"{slug}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class Sandbox:
    """Blocking file operations on the sandboxes under ``root`` (run them in a thread)."""

    root: Path
    max_file_bytes: int = MAX_FILE_BYTES
    max_total_bytes: int = MAX_SANDBOX_BYTES

    def create(self, session: Session) -> bool:
        """Make the session's directory; False if it already existed."""
        existed = STATE_KEY in session.state
        session.state[STATE_KEY] = session_dirname(session.key)
        self._base(session).mkdir(parents=True, exist_ok=True)
        return not existed

    def directory(self, session: Session) -> Path:
        """The session's directory; an error if sandbox_create was never approved."""
        if STATE_KEY not in session.state:
            raise ToolError("This conversation has no sandbox yet: call sandbox_create first.")
        base = self._base(session)
        base.mkdir(parents=True, exist_ok=True)
        return base

    def path(self, session: Session, name: str) -> Path:
        """``name`` inside the sandbox; refuses absolute paths, '..' and symlinks out."""
        relative = PurePosixPath(name.strip())
        if not relative.parts or relative.is_absolute() or ".." in relative.parts:
            raise ToolError(f"Invalid sandbox path {name!r}: use a relative path like 'train.py'.")
        base = self.directory(session).resolve()
        target = (base / relative).resolve()
        if target == base or not target.is_relative_to(base):
            raise ToolError(f"Invalid sandbox path {name!r}: it points outside the sandbox.")
        return target

    def read(self, session: Session, name: str) -> str:
        """The text of a file, its first ``max_file_bytes`` at most (a job's script)."""
        target = self._file(session, name)
        with target.open("rb") as handle:
            data = handle.read(self.max_file_bytes)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ToolError(f"'{name}' is not a UTF-8 text file.") from None

    def read_lines(
        self,
        session: Session,
        name: str,
        start_line: int = 1,
        max_lines: int | None = None,
        max_chars: int = READ_CHARS,
    ) -> str:
        """Lines of a text file from ``start_line`` (1-based; negative counts from the end:
        -100 is the last 100 lines), at most ``max_lines`` and ``max_chars`` characters.

        A whole file that fits comes back as it is; a part comes after a line saying
        which lines it is and how to read on.
        """
        target = self._file(session, name)
        try:
            with target.open(encoding="utf-8", newline="") as handle:
                if start_line < 0:
                    total, first, lines = _tail(handle, -start_line, max_lines, max_chars)
                else:
                    total, first, lines = _head(handle, start_line, max_lines, max_chars)
        except UnicodeDecodeError:
            raise ToolError(f"'{name}' is not a UTF-8 text file.") from None
        if not lines:
            return "" if total == 0 else f"[`{name}` has {total:,} lines: none from {start_line}.]"
        text = "".join(lines)
        last = first + len(lines) - 1
        if first == 1 and last == total:
            return text
        size = human_size(target.stat().st_size)
        more = f" Read on with start_line={last + 1}." if last < total else ""
        return (
            f"[Lines {first:,}-{last:,} of {total:,} of `{name}` ({size}).{more} A negative "
            f"start_line reads from the end.]\n{text}"
        )

    def _file(self, session: Session, name: str) -> Path:
        target = self.path(session, name)
        if not target.is_file():
            raise ToolError(f"No file '{name}' in the sandbox. List files with sandbox_list.")
        return target

    def write(self, session: Session, name: str, content: str, append: bool = False) -> int:
        """Write (or append) text; returns the file's new size. Enforces both size caps."""
        return self.write_bytes(session, name, content.encode("utf-8"), append)

    def write_bytes(self, session: Session, name: str, data: bytes, append: bool = False) -> int:
        """Write (or append) bytes; returns the file's new size. Enforces both size caps."""
        target = self.path(session, name)
        if target.is_dir():
            raise ToolError(f"'{name}' is a folder in the sandbox.")
        old_size = target.stat().st_size if target.is_file() else 0
        new_size = old_size + len(data) if append else len(data)
        if new_size > self.max_file_bytes:
            raise ToolError(
                f"'{name}' would be {human_size(new_size)}; sandbox files are limited to "
                f"{human_size(self.max_file_bytes)}."
            )
        total = self.usage(session) - old_size + new_size
        if total > self.max_total_bytes:
            raise ToolError(
                f"The sandbox would hold {human_size(total)}, over its "
                f"{human_size(self.max_total_bytes)} limit. Remove or shorten files first."
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("ab" if append else "wb") as handle:
            handle.write(data)
        return new_size

    def files(self, session: Session) -> list[tuple[str, int]]:
        """``(relative path, size)`` of every file, sorted."""
        base = self.directory(session)
        return sorted(
            (p.relative_to(base).as_posix(), p.stat().st_size)
            for p in base.rglob("*")
            if p.is_file()
        )

    def usage(self, session: Session) -> int:
        return sum(size for _, size in self.files(session))

    def touch(self, session: Session) -> None:
        """Mark the session's sandbox as in use (its directory's mtime), if it has one."""
        if STATE_KEY in session.state and (base := self._base(session)).is_dir():
            base.touch()

    def prune(self, idle_seconds: float, now: float) -> list[str]:
        """Remove the sandboxes not touched for ``idle_seconds`` (their sessions have expired);
        the names of those removed."""
        if not self.root.is_dir():
            return []
        idle = [
            d for d in self.root.iterdir() if d.is_dir() and now - d.stat().st_mtime > idle_seconds
        ]
        for directory in idle:
            shutil.rmtree(directory, ignore_errors=True)
        return sorted(d.name for d in idle)

    def _base(self, session: Session) -> Path:
        return self.root / session_dirname(session.key)


def _head(
    lines: Iterable[str], start: int, max_lines: int | None, max_chars: int
) -> tuple[int, int, list[str]]:
    """(lines in all, first line number, the lines kept) from line ``start`` on."""
    start, kept, chars, total, full = max(start, 1), [], 0, 0, False
    for total, line in enumerate(lines, 1):
        if total < start or full:
            continue
        if (max_lines is not None and len(kept) >= max_lines) or (
            kept and chars + len(line) > max_chars
        ):
            full = True
            continue
        kept.append(line[:max_chars])
        chars += len(kept[-1])
    return total, start, kept


def _tail(
    lines: Iterable[str], count: int, max_lines: int | None, max_chars: int
) -> tuple[int, int, list[str]]:
    """(lines in all, first line number, the lines kept) of the last ``count`` lines."""
    last: collections.deque[str] = collections.deque(maxlen=min(count, max_lines or count))
    total = 0
    for line in lines:
        total += 1
        last.append(line)
    kept: list[str] = []
    chars = 0
    for line in reversed(last):
        if kept and chars + len(line) > max_chars:
            break
        kept.insert(0, line[-max_chars:])
        chars += len(kept[0])
    return total, total - len(kept) + 1, kept


async def resolve_script(session: Session, script: str, sandbox_root: Path | str) -> str:
    """The script an approver sees and a job runs: ``sandbox:<file>`` becomes its content."""
    if not script.startswith(SANDBOX_PREFIX):
        return script
    name = script.removeprefix(SANDBOX_PREFIX)
    return await asyncio.to_thread(Sandbox(Path(sandbox_root)).read, session, name)


# ── tools ────────────────────────────────────────────────────────────────

PATH_PARAM = {
    "type": "string",
    "description": "Path relative to the sandbox, e.g. 'train.py' or 'configs/sft.yaml'.",
}


def sandbox_tools(sandbox: Sandbox) -> list[Tool]:
    """sandbox_create, sandbox_write, sandbox_read and sandbox_list on ``sandbox``."""

    async def create(args: dict[str, Any], ctx: ToolContext) -> str:
        created = await asyncio.to_thread(sandbox.create, ctx.session)
        state = "Created" if created else "Already had"
        return (
            f"{state} a sandbox for this conversation (limit {human_size(sandbox.max_total_bytes)}, "
            f"{human_size(sandbox.max_file_bytes)} per file). Write files with sandbox_write, "
            "then run one with hf_jobs operation 'uv' and script 'sandbox:<file>'."
        )

    async def write(args: dict[str, Any], ctx: ToolContext) -> str:
        name = text_arg(args, "path")
        content = args.get("content")
        if not isinstance(content, str):
            raise ToolError("'content' must be a string.")
        append = bool(args.get("append", False))
        size = await asyncio.to_thread(sandbox.write, ctx.session, name, content, append)
        verb = "Appended to" if append else "Wrote"
        return f"{verb} {name} ({human_size(size)}). Use it as script 'sandbox:{name}'."

    async def read(args: dict[str, Any], ctx: ToolContext) -> str:
        start, most = args.get("start_line", 1), args.get("max_lines")
        if not isinstance(start, int) or isinstance(start, bool):
            raise ToolError("'start_line' must be a whole number.")
        if most is not None and (not isinstance(most, int) or isinstance(most, bool) or most < 1):
            raise ToolError("'max_lines' must be a whole number of at least 1.")
        path = text_arg(args, "path")
        return await asyncio.to_thread(sandbox.read_lines, ctx.session, path, start, most)

    async def list_files(args: dict[str, Any], ctx: ToolContext) -> str:
        files = await asyncio.to_thread(sandbox.files, ctx.session)
        if not files:
            return "The sandbox is empty."
        total = sum(size for _, size in files)
        lines = [f"{name}  {human_size(size)}" for name, size in files[:MAX_LISTED]]
        if len(files) > MAX_LISTED:
            lines.append(f"... and {len(files) - MAX_LISTED} more files")
        lines.append(
            f"{len(files)} files, {human_size(total)} of {human_size(sandbox.max_total_bytes)}"
        )
        return "\n".join(lines)

    return [
        Tool(
            name="sandbox_create",
            description=(
                "Create this conversation's sandbox: a private working directory where you write "
                "scripts and configs before running them as HF Jobs. Needs a person's approval; "
                "call it once, before sandbox_write."
            ),
            parameters={"type": "object", "properties": {}},
            handler=create,
        ),
        Tool(
            name="sandbox_write",
            description=(
                "Write a text file in the sandbox (replaces it unless append is true). "
                "Run it as a job with hf_jobs operation 'uv' and script 'sandbox:<path>'."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "path": PATH_PARAM,
                    "content": {"type": "string", "description": "The file's full text."},
                    "append": {
                        "type": "boolean",
                        "description": "Add to the end of the file instead of replacing it.",
                    },
                },
                "required": ["path", "content"],
            },
            handler=write,
        ),
        Tool(
            name="sandbox_read",
            description=(
                "Read a text file from the sandbox (files people shared are there too). A big "
                f"file comes in parts of about {READ_CHARS:,} characters: start_line picks "
                "where to start, and a negative start_line counts from the end (-200: the "
                "last 200 lines)."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "path": PATH_PARAM,
                    "start_line": {
                        "type": "integer",
                        "description": "First line to read (1 = the top; -N = the last N lines).",
                    },
                    "max_lines": {
                        "type": "integer",
                        "description": "Read at most this many lines.",
                    },
                },
                "required": ["path"],
            },
            handler=read,
        ),
        Tool(
            name="sandbox_list",
            description="List the sandbox's files with their sizes.",
            parameters={"type": "object", "properties": {}},
            handler=list_files,
        ),
    ]
