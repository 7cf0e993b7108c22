"""A local, per-session working directory where the agent writes scripts before running jobs.

Each session gets ``<root>/<safe session key>/``; paths cannot leave it and its
size is capped. Creating it needs approval (tool ``sandbox_create``); the file
tools refuse to work until it exists.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
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
MAX_SANDBOX_BYTES = 20_000_000
MAX_LISTED = 200


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
        target = self.path(session, name)
        if not target.is_file():
            raise ToolError(f"No file '{name}' in the sandbox. List files with sandbox_list.")
        data = target.read_bytes()[: self.max_file_bytes]
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ToolError(f"'{name}' is not a UTF-8 text file.") from None

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

    def _base(self, session: Session) -> Path:
        return self.root / session_dirname(session.key)


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
        return await asyncio.to_thread(sandbox.read, ctx.session, text_arg(args, "path"))

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
            description="Read a text file from the sandbox.",
            parameters={
                "type": "object",
                "properties": {"path": PATH_PARAM},
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
