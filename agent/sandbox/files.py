"""A session's files on the bot's host: ``<root>/<safe session key>/``.

Files people share with the agent are saved here (by the bot, with its own per-file
cap); the ``local`` backend mounts this directory as its sandbox's workspace, so the
agent finds them there, and ``sandbox:<file>`` reads them when no sandbox runs.
Paths cannot leave it and its size is capped.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from agent.session import Session
from agent.tools.hub_common import human_size
from agent.tools.registry import ToolError

SANDBOX_PREFIX = "sandbox:"
"""A script argument ``sandbox:<file>`` names a file in the session's sandbox."""
STATE_KEY = "sandbox"
MAX_FILE_BYTES = 1_000_000
"""Largest file the agent writes; shared files are saved with the bot's own cap."""
MAX_SANDBOX_BYTES = 100_000_000
"""All of a session's files: room for what the agent writes and a few shared files."""


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
        """The session's directory; an error if it has none (no file shared, no sandbox)."""
        base = self._base(session)
        if not base.is_dir():
            raise ToolError("This conversation has no files yet.")
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

    def _file(self, session: Session, name: str) -> Path:
        target = self.path(session, name)
        if not target.is_file():
            raise ToolError(f"No file '{name}' in the sandbox.")
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
