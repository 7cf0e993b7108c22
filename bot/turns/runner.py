"""The turn runner: inputs queue per session in Redis and run one at a time, in order.

Front ends call :meth:`TurnRunner.submit` (messages, undo, compact, new),
:meth:`TurnRunner.decide` (approval clicks) and :meth:`TurnRunner.stop`, and
return at once. ``submit`` puts the input in the session's inbox and an entry on
the turn stream; whichever process consumes the stream (any runner built with
``consume=True``: ``worker`` processes, and by default every process) takes the
session's lock, runs its inputs in order and renders them through the surface
the platform's factory builds. A worker that dies leaves its entry pending and
its input in the session's ``current`` list: after the lease another worker
claims the entry (``XAUTOCLAIM``), repairs the history and carries the turn on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from agent import events as ev
from agent.llm import parse_arguments
from agent.loop import Agent, Turn
from agent.session import Session
from bot.approvals.actor import Actor
from bot.approvals.budget import Budget
from bot.approvals.controls import TeamControls
from bot.approvals.flow import ApprovalFlow, Decided
from bot.ops.logs import log_context
from bot.ops.metrics import REFUSED, RUNNING_TURNS, TAKEOVERS, count
from bot.ops.traces import Tracer
from bot.output.messages import (
    GIVEN_UP,
    HANDED_BACK,
    RESTARTED,
    STALE_APPROVAL,
    STORE_DOWN,
    STORE_LOST,
    TAKEN_OVER,
    unknown_request,
    went_wrong,
)
from bot.output.render import StreamRenderer, Surface, call_surface
from bot.session_key import platform_of
from bot.store.sessions import SessionStore, Work
from bot.turns.admission import MAX_INPUT_CHARS, Admission
from bot.turns.background import Background
from bot.turns.limits import TurnLimits
from bot.turns.once import OnceTools
from bot.turns.queue import CONTROL, HandedBack, StreamConsumer

logger = logging.getLogger(__name__)

SurfaceFactory = Callable[[str, dict[str, Any]], Surface]
"""Builds the surface of a session key; the dict is the input's platform ref."""

LOCK_TTL_MS = 30_000
"""The session lock's TTL and the stream lease: a silent worker loses both after this."""
CONCURRENCY = 8
SHUTDOWN_GRACE = 20.0
IDLE_POLL = 0.02
MAX_TAKEOVERS = 2


class TurnRunner:
    def __init__(
        self,
        agent: Agent,
        store: SessionStore,
        surfaces: dict[str, SurfaceFactory],
        *,
        approvers: frozenset[str] = frozenset(),
        lock_ttl_ms: int = LOCK_TTL_MS,
        consume: bool = True,
        concurrency: int = CONCURRENCY,
        limits: TurnLimits | None = None,
        max_input_chars: int = MAX_INPUT_CHARS,
        shutdown_grace: float = SHUTDOWN_GRACE,
        controls: TeamControls | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self.agent = Agent(agent.config, OnceTools(agent.tools, store), agent.llm)  # type: ignore[arg-type]
        self.store = store
        self.surfaces = surfaces
        self.approvers = approvers
        self.controls = controls or TeamControls.build(store.redis, approvers=approvers)
        self.tracer = tracer
        self.lock_ttl_ms = lock_ttl_ms
        self.consume = consume
        self.admission = Admission(store, limits, max_input_chars)
        self.shutdown_grace = shutdown_grace
        self.queue = StreamConsumer(
            store, self._drain, self._stop_here, concurrency=concurrency, lease_ms=lock_ttl_ms
        )
        self.approvals = ApprovalFlow(store, self.controls, surfaces, self.submit)
        self.background = Background(store, surfaces)
        self._cancels: dict[str, asyncio.Event] = {}
        self._watched: set[str] = set()
        self._closing = False
        self._submitting = asyncio.Lock()

    # ── front-end calls ──────────────────────────────────────────────────

    async def submit(self, key: str, item: dict[str, Any]) -> bool:
        """Queue an input (``{"kind": "message"|"undo"|"compact"|"new", ...}``) for ``key``.

        Optional fields: ``user``, ``ref`` (platform ref for the surface), ``event_id``
        (a redelivered platform event with the same id is dropped). False when the
        input was refused (duplicate, too long, rate-limited, Redis down); the
        person is told in the thread, except for duplicates.
        """
        try:
            async with self._submitting:  # inputs of this process reach Redis in call order
                refusal = await self.admission.refusal(key, item)
                if refusal is None:
                    await self.store.push_input(key, item)
        except (RedisError, OSError):
            logger.exception("could not queue an input for %s", key)
            refusal = STORE_DOWN
            REFUSED.labels("store_down").inc()
        if refusal is not None:
            if refusal:
                await self._tell(key, item.get("ref", {}), refusal)
            return False
        self._watched.add(key)
        self.start()
        return True

    async def ask(self, key: str, text: str, user: str, *, thinking: str) -> bool:
        """A person's message: post the ``thinking`` placeholder the answer will stream into,
        then queue the message (see :meth:`submit`)."""
        surface = self.surfaces[platform_of(key)](key, {})
        placeholder = await call_surface(surface, surface.post, thinking)
        ref = {"placeholder": placeholder, "user": user}
        return await self.submit(key, {"kind": "message", "text": text, "user": user, "ref": ref})

    async def stop(self, key: str) -> bool:
        """Stop the turn running for ``key`` in any process; False if none runs."""
        if self._stop_here(key):
            return True
        if not await self.store.locked(key):
            return False
        await self.store.redis.publish(CONTROL, json.dumps({"stop": key}))
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
        """Record a click; the last decision of an approval resumes its turn (see
        :meth:`ApprovalFlow.decide`)."""
        return await self.approvals.decide(
            approval_id,
            actor,
            approved=approved,
            tool_call_id=tool_call_id,
            feedback=feedback,
            edited_script=edited_script,
        )

    async def set_budget(self, key: str, actor: Actor, cap: float | None) -> Budget | None:
        """Auto-approve ``key``'s calls within ``cap`` USD (None: off); see :class:`ApprovalFlow`."""
        return await self.approvals.set_budget(key, actor, cap)

    async def refresh_card(self, approval_id: str) -> None:
        """Redraw an approval's card from the store, where the platform can."""
        await self.approvals.refresh_card(approval_id)

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
            "budget": budget.describe()
            if (budget := await self.controls.budgets.get(key))
            else None,
        }

    def _stop_here(self, key: str) -> bool:
        cancel = self._cancels.get(key)
        if cancel is not None:
            cancel.set()
        return cancel is not None

    # ── lifecycle ────────────────────────────────────────────────────────

    def start(self) -> None:
        """Start consuming the turn stream and listening for stops (once; not on front ends)."""
        if self.consume and not self._closing:
            self.queue.start()

    async def recover(self) -> None:
        """Announce inputs left in inboxes without a stream entry (e.g. by an older version),
        and resume the background work (job watches) processes left when they stopped."""
        for key in await self.store.pending_keys():
            await self.store.announce(key)
            self._watched.add(key)
        await self.background.resume(self.agent.tools)
        self.start()

    async def wait_idle(self) -> None:
        """Wait until nothing runs here and nothing submitted here is queued anywhere."""
        while True:
            if self.queue.tasks:
                await asyncio.gather(*list(self.queue.tasks.values()), return_exceptions=True)
                continue
            with contextlib.suppress(RedisError, OSError):  # not idle until Redis says so
                self._watched = {k for k in self._watched if await self.store.busy(k)}
                if not self._watched and not self.queue.tasks:
                    return
            await asyncio.sleep(IDLE_POLL)

    async def close(self, grace: float | None = None) -> None:
        """Stop taking work, let running turns finish for ``grace`` seconds, hand back the rest."""
        self._closing = True
        await self.queue.close(self.shutdown_grace if grace is None else grace)
        await self.background.close()

    # ── draining a session under its lock ────────────────────────────────

    async def _drain(self, work: Work) -> bool:
        # The pusher pushes before it announces, and the holder looks at the inbox
        # again after releasing the lock, so no input is left behind.
        key, drained = work.key, False
        while True:
            token = await self.store.acquire_lock(key, self.lock_ttl_ms)
            if token is None:
                return drained  # another worker holds the session; it will see our input
            try:
                await self._with_heartbeat(work, token, self._run_all(key))
                drained = True
            finally:
                await self.store.release_lock(key, token)
            if await self.store.inbox_size(key) == 0:
                return True

    async def _run_all(self, key: str) -> None:
        if (left := await self.store.current_input(key)) is not None:
            await self._run_item(key, left, taken_over=True)
        while (item := await self.store.take_input(key)) is not None:
            await self._run_item(key, item)

    async def _with_heartbeat(self, work: Work, token: str, job: Awaitable[None]) -> None:
        """Renew the session lock and the stream lease while ``job`` runs."""

        async def beat() -> None:
            while True:
                await asyncio.sleep(self.lock_ttl_ms / 3000)
                try:
                    if not await self.store.extend_lock(work.key, token, self.lock_ttl_ms):
                        logger.warning("lost the lock of %s (Redis restarted?)", work.key)
                    await self.store.renew_lease(self.queue.name, work.entry_id)
                except (RedisError, OSError) as exc:
                    logger.warning("could not renew the lease of %s: %s", work.key, exc)

        heartbeat = asyncio.create_task(beat())
        try:
            await job
        finally:
            heartbeat.cancel()

    # ── one input ────────────────────────────────────────────────────────

    async def _run_item(self, key: str, item: dict[str, Any], *, taken_over: bool = False) -> None:
        item = {"kind": "message", **item}
        turn_id = item.get("turn_id", "-")
        with log_context(key, turn_id):
            await self._run_turn(key, item, turn_id, taken_over)

    async def _run_turn(
        self, key: str, item: dict[str, Any], turn_id: str, taken_over: bool
    ) -> None:
        ref = item.get("ref", {})
        surface = self.surfaces[platform_of(key)](key, ref)
        renderer = StreamRenderer(surface, ref.get("placeholder"))
        session = await self.store.load(key) or Session(key=key)
        meta = await self.store.meta(key)
        requester = item.get("user") or meta.get("requester", "")
        takeovers = int(meta.get("takeovers", 0)) if meta.get("turn") == turn_id else 0
        if taken_over and meta.get("turn") == turn_id:  # it had started: carry it on
            TAKEOVERS.inc()
            takeovers += 1
            item = {**item, "kind": "continue" if takeovers <= MAX_TAKEOVERS else "give_up"}
        running: dict[str, str] = {}
        cancel = self._cancels[key] = asyncio.Event()
        handed_back = False

        async def checkpoint() -> None:
            await self.store.save(
                session,
                status="running",
                requester=requester,
                running_tools=sorted(running.values()),
                turn=turn_id,
                takeovers=takeovers,
            )

        async def emit(event: ev.Event) -> None:
            count(event)
            if self.tracer is not None:
                self.tracer.record(key, turn_id, event)
            try:
                if isinstance(event, ev.ApprovalRequired):
                    await self.approvals.pause(key, event, requester, renderer)
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
            notify=lambda event: self.background.notify(key, event),
            spawn=self.background.spawn,
        )
        try:
            if item["kind"] in ("continue", "give_up"):
                await self._take_over(session, item["kind"], turn, renderer)
            else:
                await self._dispatch(session, item, turn)
        except asyncio.CancelledError:
            handed_back = True
            with contextlib.suppress(Exception):
                await renderer.notice(HANDED_BACK)
            raise
        except Exception as exc:
            logger.exception("turn of %s failed", key)
            lost = isinstance(exc, RedisConnectionError | RedisTimeoutError | OSError)
            await emit(ev.Error(error=STORE_LOST if lost else went_wrong(exc)))
            handed_back = lost  # the input stays current: whoever claims it carries on
        finally:
            RUNNING_TURNS.dec()
            del self._cancels[key]
            with contextlib.suppress(Exception):
                await renderer.close()
            if not handed_back:
                status = "awaiting_approval" if session.pending else "idle"
                try:
                    await self.store.finish(
                        key,
                        None if item.get("kind") == "new" else session,
                        status=status,
                        requester=requester,
                        running_tools=[],
                        turn=turn_id,
                        takeovers=takeovers,
                    )
                except (RedisError, OSError):
                    logger.exception("could not save the session %s at the end of its turn", key)
                    handed_back = True
            if self.tracer is not None:
                self.tracer.turn_done(key, turn_id, session.history)
        if handed_back:
            raise HandedBack(key)

    async def _take_over(
        self, session: Session, kind: str, turn: Turn, renderer: StreamRenderer
    ) -> None:
        """Carry on a turn a dead worker left: answer its open tool calls, say so, go on."""
        for raw in session.close_open_tool_calls(RESTARTED):
            await turn.emit(
                ev.ToolStateChange(
                    tool_call_id=raw["id"], tool=raw["function"]["name"], state="interrupted"
                )
            )
        await turn.checkpoint()
        if kind == "give_up":
            await renderer.notice(GIVEN_UP)
        elif session.pending:  # it stopped around posting the approval card: post it again
            await turn.emit(approval_event(session))
        else:
            await renderer.notice(TAKEN_OVER)
            await self.agent.run(session, "", turn)

    async def _dispatch(self, session: Session, item: dict[str, Any], turn: Turn) -> None:
        kind = item.get("kind", "message")
        if kind in ("message", "undo", "new") and session.pending:
            await self.approvals.abandon(session.pending.approval_id)
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
            await turn.emit(ev.Error(error=unknown_request(kind)))

    # ── telling people outside a turn ────────────────────────────────────

    async def _tell(self, key: str, ref: dict[str, Any], text: str) -> None:
        factory = self.surfaces.get(platform_of(key))
        if factory is None:
            return
        try:
            surface = factory(key, ref)
            if ref.get("placeholder"):
                await call_surface(surface, surface.edit, ref["placeholder"], text, final=True)
            else:
                await call_surface(surface, surface.post_notice, text)
        except Exception:
            logger.exception("could not tell %s: %s", key, text)

    # ── work that outlives a turn ────────────────────────────────────────

    async def _notify(self, key: str, event: ev.Event) -> None:
        await self.background.notify(key, event)


def approval_event(session: Session) -> ev.ApprovalRequired:
    """The approval card of a session's pending calls, shown again after a takeover."""
    assert session.pending is not None
    tools = [
        {
            "tool": raw["function"]["name"],
            "arguments": parse_arguments(raw["function"]["arguments"])[0] or {},
            "tool_call_id": raw["id"],
        }
        for raw in session.pending.tool_calls
    ]
    return ev.ApprovalRequired(
        tools=tools, count=len(tools), approval_id=session.pending.approval_id
    )
