"""One interface for every place a session's sandbox can run (a Space, bubblewrap on the
bot's host), and the record that lets any worker find a session's sandbox again."""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from agent.sandbox.client import SandboxClient

DEFAULT_HARDWARE = "cpu-basic"
STATE_KEY = "sandbox_vm"
"""Session state: the :class:`SandboxRecord` of the session's running sandbox."""


Progress = Callable[[str], Awaitable[None]]
"""Where a backend tells how a start is getting on (the tool call's line or step)."""


async def no_progress(text: str) -> None:
    return None


def new_token() -> str:
    """A per-sandbox API token: 32 random bytes."""
    return secrets.token_urlsafe(32)


@dataclass
class SandboxRecord:
    """A running sandbox as the session keeps it (JSON, in ``session.state``)."""

    backend: str
    id: str
    hardware: str
    token: str
    url: str
    """``http(s)://host[:port]`` or ``unix:///path/to/socket``."""
    created: float = dataclasses.field(default_factory=time.time)
    last_used: float = dataclasses.field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SandboxRecord:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in fields})


class SandboxUnavailable(Exception):
    """A sandbox cannot be started here; the message says why and what to do."""


class SandboxBackend(Protocol):
    """Starts, reaches and stops sandboxes of one kind."""

    name: str
    shares_host_files: bool
    """True: the sandbox's workspace is the session's directory on the bot's host (local);
    False: the session's files are copied in when it starts, and shared files as they come."""

    async def start(
        self, session_key: str, hardware: str, progress: Progress = no_progress
    ) -> SandboxRecord:
        """A new sandbox for the session, healthy when this returns; its stages go to
        ``progress``."""
        ...

    async def attach(self, record: SandboxRecord) -> SandboxClient:
        """A client for a started sandbox (it may be another process's)."""
        ...

    async def alive(self, record: SandboxRecord) -> bool:
        """Whether the sandbox still answers (a restarted bot's local ones do not)."""
        ...

    async def stop(self, record: SandboxRecord) -> None:
        """End the sandbox; nothing if it is already gone."""
        ...

    async def stop_idle(self, idle_seconds: float) -> list[str]:
        """Stop this process's sandboxes unused for ``idle_seconds``; their ids."""
        ...

    async def close(self) -> None:
        """Stop what this process started and release connections (at shutdown)."""
        ...
