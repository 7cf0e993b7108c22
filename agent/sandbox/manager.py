"""A session's sandbox: started on first use, found again from ``session.state`` by any worker,
replaced when it is gone, stopped on request."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
import weakref
from collections.abc import AsyncIterator
from pathlib import PurePosixPath

from agent.sandbox.backends import (
    DEFAULT_HARDWARE,
    STATE_KEY,
    Progress,
    SandboxBackend,
    SandboxRecord,
    SandboxUnavailable,
    no_progress,
)
from agent.sandbox.client import SandboxClient, SandboxGone
from agent.sandbox.files import SANDBOX_PREFIX, Sandbox
from agent.session import Session
from agent.tools.registry import ToolError

logger = logging.getLogger(__name__)

OFF = (
    "The sandbox is off{why}, so nothing can run here. To turn it on, install bubblewrap on "
    "the bot's host (sudo apt-get install bubblewrap) for a local sandbox, or give the bot "
    "an HF_TOKEN for a Space, and set SANDBOX=auto (or local / space)."
)


class Sandboxes:
    """Hands out the client of a session's sandbox, starting one with ``backend`` if needed.

    ``backend`` None: the sandbox is off (``off_reason`` says why). ``files`` is the
    sessions' files on the bot's host, where ``sandbox:<file>`` is read from when the
    session has no sandbox running (files people shared).
    """

    def __init__(
        self, backend: SandboxBackend | None, files: Sandbox, *, off_reason: str = ""
    ) -> None:
        self.backend = backend
        self.files = files
        self.off_reason = off_reason
        self._starting: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )  # one start at a time per session (tool calls run in parallel)

    @property
    def off_text(self) -> str:
        return OFF.format(why=f" ({self.off_reason})" if self.off_reason else "")

    @staticmethod
    def record(session: Session) -> SandboxRecord | None:
        data = session.state.get(STATE_KEY)
        return SandboxRecord.from_json(data) if isinstance(data, dict) else None

    async def ensure(
        self, session: Session, hardware: str | None = None, progress: Progress = no_progress
    ) -> SandboxRecord:
        """The session's sandbox, started (or replaced, on other ``hardware``) when needed;
        a start's stages go to ``progress``."""
        if self.backend is None:
            raise ToolError(self.off_text)
        lock = self._starting.setdefault(session.key, asyncio.Lock())
        async with lock:
            record = self.record(session)
            if record is not None and record.backend == self.backend.name:
                same = hardware is None or hardware == record.hardware
                if same and await self.backend.alive(record):
                    return record
                await self.backend.stop(record)
            try:
                record = await self.backend.start(
                    session.key, hardware or DEFAULT_HARDWARE, progress
                )
            except SandboxUnavailable as exc:
                raise ToolError(str(exc)) from None
            session.state[STATE_KEY] = record.to_json()
            self.files.create(session)
            if not self.backend.shares_host_files:  # files shared before it started
                names = [name for name, _ in await asyncio.to_thread(self.files.files, session)]
                await self._copy_in(record, session, names)
            return record

    async def share(self, session: Session, names: list[str]) -> None:
        """Files just saved in the session's directory (shared files), copied into its
        running sandbox when that does not use the directory itself."""
        record = self.record(session)
        backend = self.backend
        if record is None or backend is None or backend.shares_host_files or not names:
            return
        try:
            if record.backend == backend.name and await backend.alive(record):
                await self._copy_in(record, session, names)
        except ToolError as exc:  # the next start copies them in; the turn goes on
            logger.warning("shared files not copied into the sandbox %s: %s", record.id, exc)

    async def _copy_in(self, record: SandboxRecord, session: Session, names: list[str]) -> None:
        assert self.backend is not None
        async with await self.backend.attach(record) as client:
            for name in names:
                data = await asyncio.to_thread(self.files.path(session, name).read_bytes)
                body = {"path": name, "content_b64": base64.b64encode(data).decode()}
                await client.checked("write", body)

    @contextlib.asynccontextmanager
    async def client(
        self, session: Session, progress: Progress = no_progress
    ) -> AsyncIterator[SandboxClient]:
        """A client of the session's sandbox; one found gone is forgotten (the next call
        starts a fresh one) and the call fails with a clear error."""
        record = await self.ensure(session, progress=progress)
        assert self.backend is not None
        record.last_used = time.time()
        session.state[STATE_KEY] = record.to_json()
        client = await self.backend.attach(record)
        try:
            yield client
        except SandboxGone:
            session.state.pop(STATE_KEY, None)
            raise
        finally:
            await client.close()

    async def stop(self, session: Session) -> bool:
        """End the session's sandbox (``new``, expiry); False if it had none."""
        record = self.record(session)
        session.state.pop(STATE_KEY, None)
        if record is None or self.backend is None or record.backend != self.backend.name:
            return False
        await self.backend.stop(record)
        return True

    async def read_text(self, session: Session, name: str) -> str:
        """A file's text: from the session's sandbox when it keeps its own files (a Space),
        else from the session's directory on the bot's host (no sandbox started for it)."""
        backend = self.backend
        if backend is not None and not backend.shares_host_files and self.record(session):
            async with self.client(session) as client:
                return await client.read_text(name)
        return await asyncio.to_thread(self.files.read, session, name)

    async def resolve_script(self, session: Session, script: str) -> str:
        """The script an approver sees and a job runs: ``sandbox:<file>`` becomes its content."""
        if not script.startswith(SANDBOX_PREFIX):
            return script
        name = script.removeprefix(SANDBOX_PREFIX)
        if not PurePosixPath(name).parts:
            raise ToolError("Name a file after 'sandbox:', e.g. 'sandbox:train.py'.")
        return await self.read_text(session, name)

    async def stop_idle(self, idle_seconds: float) -> list[str]:
        """Stop the sandboxes unused for ``idle_seconds`` (their files stay); their ids."""
        return await self.backend.stop_idle(idle_seconds) if self.backend is not None else []

    async def close(self) -> None:
        """Stop the sandboxes this process started (at shutdown)."""
        if self.backend is not None:
            await self.backend.close()
