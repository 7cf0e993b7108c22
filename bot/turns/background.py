"""Work that outlives a turn: tasks tools spawn (job watches) and the lines they post.

A tool that starts a Hub job watches it after its turn ended: it spawns the watch
here and reports through :meth:`Background.notify`, which hands job statuses to
the job room (one card per job). A watch the store still lists when a process starts (its process
stopped) is resumed by one of the processes starting then.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from agent import events as ev
from agent.session import Session
from agent.tools.registry import ToolContext, ToolRegistry
from agent.waiting import cancel_and_wait
from bot.jobs.room import JobRoom
from bot.output.render import StreamRenderer
from bot.session_key import platform_of
from bot.store.sessions import SessionStore

if TYPE_CHECKING:
    from bot.platform import SurfaceFactory

logger = logging.getLogger(__name__)

RESUME_CLAIM_SECONDS = 60
"""Processes starting within this long of each other resume a job watch once."""


class Background:
    """The tasks this process runs outside any turn, and how they talk to the thread."""

    def __init__(
        self, store: SessionStore, surfaces: dict[str, SurfaceFactory], jobs: JobRoom
    ) -> None:
        self.store = store
        self.surfaces = surfaces  # the runner's dict: front ends add their factories later
        self.jobs = jobs
        self.tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run ``work`` past the turn that started it (cancelled on :meth:`close`)."""
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def notify(self, key: str, event: ev.Event) -> None:
        """Show an event outside any turn: a job's status goes to its card (:mod:`bot.jobs.room`)."""
        try:
            if isinstance(event, ev.JobStatus):
                await self.jobs.show(key, event)
                return
            surface = self.surfaces[platform_of(key)](key, {})
            renderer = StreamRenderer(surface)
            await renderer.handle(event)
            await renderer.close()
        except Exception:
            logger.exception("showing %s for %s failed", event.type, key)

    async def resume(self, tools: ToolRegistry) -> None:
        """Resume the work processes left when they stopped, each claimed by one process."""
        for key, line, work in await self.store.background():
            if await self.store.claim_background(key, line, RESUME_CLAIM_SECONDS):
                session = await self.store.load(key) or Session(key=key)
                notify = functools.partial(self.notify, key)
                ctx = ToolContext(session=session, notify=notify, spawn=self.spawn)
                await tools.resume(work, ctx)

    async def close(self) -> None:
        """Cancel what still runs; the store keeps what a later process resumes."""
        await cancel_and_wait(self.tasks)
