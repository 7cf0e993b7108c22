"""Files shared with a message, taken in by the turn that runs it.

A front end queues a message with its files as references (:meth:`SharedFile.to_ref`:
names and links, never credentials) and returns at once; the turn, in whichever
process runs it, gives each file the platform's access where the surface offers it
(:class:`~bot.platform.FileAccess`, e.g. Slack's bot token), then downloads, saves
and inlines them with :func:`bot.attachments.ingest`. So a download never holds up
a platform's acknowledgement, and a worker with no front end fetches them too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.sandbox.files import MAX_FILE_BYTES, Sandbox
from agent.sandbox.manager import Sandboxes
from agent.session import Session
from bot.attachments import Ingested, SharedFile, ingest, model_sees_images
from bot.attachments.fetch import DEFAULT_MAX_BYTES
from bot.platform import FileAccess, Surface

DEFAULT_SANDBOX_ROOT = Path(".data") / "sandboxes"
"""Where sandboxes are when ``DATA_DIR`` is left at its default."""


def file_refs(files: list[SharedFile]) -> list[dict[str, Any]]:
    """What a queued input carries of ``files``."""
    return [file.to_ref() for file in files]


@dataclass(frozen=True)
class FileIntake:
    """Where shared files are saved (the sessions' sandboxes) and how big one may be."""

    sandbox_root: Path = DEFAULT_SANDBOX_ROOT
    max_bytes: int = DEFAULT_MAX_BYTES
    """``MAX_ATTACHMENT_BYTES``: larger files are refused, with a line in the thread."""
    sandboxes: Sandboxes | None = None
    """The sessions' running sandboxes: ``new`` stops the thread's; shared files are copied
    into a running one that does not use the session's directory itself."""

    @property
    def sandbox(self) -> Sandbox:
        """The sandboxes, with room for a shared file of ``max_bytes`` (the agent's own
        files keep the sandbox tools' smaller cap)."""
        return Sandbox(self.sandbox_root, max_file_bytes=max(MAX_FILE_BYTES, self.max_bytes))

    async def take(
        self, item: dict[str, Any], session: Session, surface: Surface, model: str
    ) -> Ingested:
        """The user message of ``item`` with its files (if any) for a turn of ``model``."""
        text = item.get("text", "")
        refs = item.get("files") or []
        if not refs:
            return Ingested(text)
        files = [SharedFile.from_ref(ref) for ref in refs]
        if isinstance(surface, FileAccess):
            files = [surface.with_access(file) for file in files]
        taken = await ingest(
            text,
            files,
            sandbox=self.sandbox,
            session=session,
            vision=model_sees_images(model),
            max_bytes=self.max_bytes,
        )
        if self.sandboxes is not None:
            await self.sandboxes.share(session, taken.saved)
        return taken
