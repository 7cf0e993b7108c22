"""The turn runner: inputs queue per session in Redis and run one at a time, in order.

Front ends call :meth:`TurnRunner.submit` (messages, undo, compact, new),
:meth:`TurnRunner.decide` (approval clicks) and :meth:`TurnRunner.stop`, and
return at once; the turn runs in a task the runner owns and is rendered through
the surface the platform's factory builds for the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from agent import events as ev
from agent.loop import Agent, Turn
from agent.session import Session
from bot.approvers import Actor, may_decide
from bot.keys import platform_of
from bot.metrics import APPROVALS, OUTCOMES, RUNNING_TURNS, TOOL_CALLS, TURNS
from bot.render import StreamRenderer, Surface, call_surface
from bot.store import ApprovalRecord, SessionStore

logger = logging.getLogger(__name__)

SurfaceFactory = Callable[[str, dict[str, Any]], Surface]
"""Builds the surface of a session key; the dict is the input's platform ref."""

LOCK_TTL_MS = 30_000
STALE_APPROVAL = "That approval is no longer pending (a newer message or decision came first)."


@dataclass(frozen=True)
class Decided:
    """The outcome of a click: ``result`` is the store's, or ``forbidden``."""

    result: str
    record: ApprovalRecord | None

    @property
    def accepted(self) -> bool:
        return self.result in ("recorded", "complete")


class TurnRunner:
    def __init__(
        self,
        agent: Agent,
        store: SessionStore,
        surfaces: dict[str, SurfaceFactory],
        *,
        approvers: frozenset[str] = frozenset(),
        lock_ttl_ms: int = LOCK_TTL_MS,
    ) -> None:
        self.agent = agent
        self.store = store
        self.surfaces = surfaces
        self.approvers = approvers
        self.lock_ttl_ms = lock_ttl_ms
        self._drainers: dict[str, asyncio.Task[None]] = {}
        self._cancels: dict[str, asyncio.Event] = {}
        self._background: set[asyncio.Task[Any]] = set()

    # ── front-end calls ──────────────────────────────────────────────────

    async def submit(self, key: str, item: dict[str, Any]) -> None:
        """Queue an input (``{"kind": "message"|"undo"|"compact"|"new", ...}``) for ``key``."""
        await self.store.push_input(key, item)
        self._kick(key)

    async def stop(self, key: str) -> bool:
        """Stop the turn running for ``key`` in this process; False if none runs."""
        cancel = self._cancels.get(key)
        if cancel is None:
            return False
        cancel.set()
        return True

    async def decide(
        self,
        approval_id: str,
        actor: Actor,
        *,
        approved: bool,
        tool_call_id: str | None = None,
        feedback: str | None = None,
        edited_script: str | None = None,
    ) -> Decided:
        """Record a click. The last decision of an approval resumes its turn."""
        record = await self.store.approval(approval_id)
        if record is None:
            return Decided("missing", None)
        if not may_decide(actor, record.requester, self.approvers):
            APPROVALS.labels("forbidden").inc()
            return Decided("forbidden", record)
        decision = {
            "approved": approved,
            "feedback": feedback,
            "edited_script": edited_script,
            "by": actor.user_id,
            "by_name": actor.name or actor.user_id,
            "at": time.time(),
        }
        result = await self.store.decide(approval_id, tool_call_id, decision)
        APPROVALS.labels(result).inc()
        record = await self.store.approval(approval_id)
        if result == "complete" and record is not None:
            decisions = [{"tool_call_id": i, **d} for i, d in record.decisions.items()]
            await self.submit(
                record.session_key,
                {"kind": "resume", "approval_id": approval_id, "decisions": decisions},
            )
        return Decided(result, record)

    async def status(self, key: str) -> dict[str, Any]:
        """What ``status`` commands show: model, history size, pending approval, tools running."""
        session = await self.store.load(key)
        meta = await self.store.meta(key)
        return {
            "model": self.agent.config.model,
            "history_size": len(session.history) if session else 0,
            "context_tokens": session.context_tokens if session else 0,
            "turns": session.turns if session else 0,
            "pending_approvals": len(session.pending.tool_calls)
            if session and session.pending
            else 0,
            "running_tools": meta.get("running_tools", []),
            "status": meta.get("status", "idle"),
            "queued": await self.store.inbox_size(key),
        }

    # ── lifecycle ────────────────────────────────────────────────────────

    async def recover(self) -> None:
        """Pick up inputs left queued by a process that stopped."""
        for key in await self.store.inbox_keys():
            self._kick(key)

    async def wait_idle(self) -> None:
        """Wait until no session has a turn running or queued in this process."""
        while self._drainers:
            await asyncio.gather(*list(self._drainers.values()), return_exceptions=True)

    async def close(self, grace: float = 10.0) -> None:
        """Stop running turns, wait for them to save, end background work."""
        for cancel in self._cancels.values():
            cancel.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wait_idle(), grace)
        for task in [*self._drainers.values(), *self._background]:
            task.cancel()
        await asyncio.gather(*self._drainers.values(), *self._background, return_exceptions=True)

    # ── draining a session's inbox under its lock ────────────────────────

    def _kick(self, key: str) -> None:
        task = self._drainers.get(key)
        if task is None or task.done():
            task = asyncio.create_task(self._drain(key), name=f"drain {key}")
            self._drainers[key] = task
            task.add_done_callback(lambda t, k=key: self._forget(k, t))

    def _forget(self, key: str, task: asyncio.Task[None]) -> None:
        if self._drainers.get(key) is task:
            del self._drainers[key]
        if not task.cancelled() and task.exception():
            logger.error("drainer of %s failed", key, exc_info=task.exception())

    async def _drain(self, key: str) -> None:
        # The pusher pushes before it tries the lock, and the holder looks at the
        # inbox again after releasing it, so no input is left behind.
        while True:
            token = await self.store.acquire_lock(key, self.lock_ttl_ms)
            if token is None:
                return  # another worker holds the session; it will see our input
            try:
                while (item := await self.store.pop_input(key)) is not None:
                    await self._with_lock_heartbeat(key, token, self._run_item(key, item))
            finally:
                await self.store.release_lock(key, token)
            if await self.store.inbox_size(key) == 0:
                return

    async def _with_lock_heartbeat(self, key: str, token: str, work: Awaitable[None]) -> None:
        async def beat() -> None:
            while True:
                await asyncio.sleep(self.lock_ttl_ms / 3000)
                await self.store.extend_lock(key, token, self.lock_ttl_ms)

        heartbeat = asyncio.create_task(beat())
        try:
            await work
        finally:
            heartbeat.cancel()

    async def _run_item(self, key: str, item: dict[str, Any]) -> None:
        ref = item.get("ref", {})
        surface = self.surfaces[platform_of(key)](key, ref)
        renderer = StreamRenderer(surface, ref.get("placeholder"))
        session = await self.store.load(key) or Session(key=key)
        meta = await self.store.meta(key)
        requester = item.get("user") or meta.get("requester", "")
        running: dict[str, str] = {}
        cancel = self._cancels[key] = asyncio.Event()

        async def checkpoint() -> None:
            await self.store.save(
                session,
                status="running",
                requester=requester,
                running_tools=sorted(running.values()),
            )

        async def emit(event: ev.Event) -> None:
            count(event)
            try:
                if isinstance(event, ev.ApprovalRequired):
                    await self.store.open_approval(key, event.approval_id, event.tools, requester)
                    posted = await renderer.show_approval(event)
                    await self.store.set_approval_ref(event.approval_id, posted)
                    return
                if isinstance(event, ev.ToolCall) or (
                    isinstance(event, ev.ToolStateChange) and event.state == "running"
                ):
                    running[event.tool_call_id] = event.tool
                elif isinstance(event, ev.ToolOutput):
                    running.pop(event.tool_call_id, None)
                await renderer.handle(event)
            except Exception:  # a platform hiccup must not end the turn
                logger.exception("rendering %s for %s failed", event.type, key)

        RUNNING_TURNS.inc()
        turn = Turn(
            emit=emit,
            cancel=cancel,
            checkpoint=checkpoint,
            notify=lambda event: self._notify(key, event),
            spawn=self._spawn,
        )
        try:
            await self._dispatch(session, item, turn)
        except Exception as exc:
            logger.exception("turn of %s failed", key)
            await emit(
                ev.Error(
                    error=f"Something went wrong on my side ({type(exc).__name__}). The conversation is saved; send your message again."
                )
            )
        finally:
            RUNNING_TURNS.dec()
            del self._cancels[key]
            with contextlib.suppress(Exception):
                await renderer.close()
            status = "awaiting_approval" if session.pending else "idle"
            try:
                if item.get("kind") != "new":
                    await self.store.save(
                        session, status=status, requester=requester, running_tools=[]
                    )
            except Exception:
                logger.exception("could not save the session %s at the end of its turn", key)

    # ── helpers ──────────────────────────────────────────────────────────

    async def _dispatch(self, session: Session, item: dict[str, Any], turn: Turn) -> None:
        kind = item.get("kind", "message")
        if kind in ("message", "undo", "new") and session.pending:
            await self.store.close_approval(session.pending.approval_id, "abandoned")
        if kind == "message":
            await self.agent.run(session, item.get("text", ""), turn)
        elif kind == "resume":
            if session.pending and session.pending.approval_id == item["approval_id"]:
                await self.agent.resume(session, item["decisions"], turn)
            else:
                await turn.emit(ev.Error(error=STALE_APPROVAL))
        elif kind == "undo":
            await self.agent.undo(session, turn)
        elif kind == "compact":
            await self.agent.compact(session, turn, force=True)
        elif kind == "new":
            await self.store.delete(session.key)
            session.history.clear()
            session.pending = None
        else:
            await turn.emit(ev.Error(error=f"Unknown request {kind!r}."))

    # ── work that outlives a turn ────────────────────────────────────────

    def _spawn(self, work: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _notify(self, key: str, event: ev.Event) -> None:
        """Show an event outside any turn: job status lines keep one message each."""
        try:
            surface = self.surfaces[platform_of(key)](key, {})
            if isinstance(event, ev.JobStatus):
                ref = await self.store.line_ref(key, event.key)
                ref = await call_surface(surface, surface.post_line, ref, event.text)
                await self.store.set_line_ref(key, event.key, ref)
                return
            renderer = StreamRenderer(surface)
            await renderer.handle(event)
            await renderer.close()
        except Exception:
            logger.exception("showing %s for %s failed", event.type, key)


def count(event: ev.Event) -> None:
    """Metrics from the event stream."""
    if event.type in OUTCOMES:
        TURNS.labels(OUTCOMES[event.type]).inc()
    elif isinstance(event, ev.ToolOutput):
        TOOL_CALLS.labels(event.tool, "ok" if event.success else "failed").inc()
