"""The turn runner: the calls front ends make, and draining a session under its lock.

Front ends call :meth:`TurnRunner.submit` (messages, undo, compact, new) or
:meth:`TurnRunner.ask`, :meth:`TurnRunner.decide` (approval clicks),
:meth:`TurnRunner.rate` (👍 / 👎 on an answer) and :meth:`TurnRunner.stop`, and
return at once. ``submit`` puts the input in the
session's inbox and an entry on the turn stream; whichever process consumes the
stream (any runner built with ``consume=True``: ``worker`` processes, and by
default every process) takes the session's lock and runs its inputs in order
(:mod:`bot.turns.turn`), rendered through the surface the platform's factory
builds. A worker that dies leaves its entry pending and its input in the
session's ``current`` list: after the lease another worker claims the entry
(``XAUTOCLAIM``), repairs the history and carries the turn on
(:mod:`bot.turns.takeover`).

The other jobs live with their own modules: approvals in
:mod:`bot.approvals.flow`, work that outlives a turn in :mod:`bot.turns.background`,
and what the bot says in :mod:`bot.output.messages`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Coroutine, Sequence
from typing import Any

from huggingface_hub import HfApi
from redis.exceptions import RedisError

from agent import events as ev
from agent.loop import Agent
from bot.approvals.actor import Actor
from bot.approvals.budget import Budget
from bot.approvals.controls import TeamControls
from bot.approvals.flow import ApprovalFlow, Decided
from bot.attachments import SharedFile
from bot.clock import Clock, utc_now
from bot.jobs.room import JobRoom
from bot.output.messages import STORE_DOWN
from bot.output.status import mark_received
from bot.platform import SurfaceFactory, call_surface
from bot.session_key import platform_of
from bot.store.sessions import LockLost, SessionStore, Work
from bot.telemetry.metrics import REFUSED
from bot.telemetry.traces import Tracer
from bot.turns.admission import MAX_INPUT_CHARS, Admission
from bot.turns.background import Background
from bot.turns.feedback import FeedbackLog, Rating
from bot.turns.intake import FileIntake, file_refs
from bot.turns.limits import TurnLimits
from bot.turns.models import ModelChoices, ModelPicker
from bot.turns.once import OnceTools
from bot.turns.queue import CONTROL, StreamConsumer
from bot.turns.turn import Fence, InputRunner

logger = logging.getLogger(__name__)


LOCK_TTL_MS = 30_000
"""The session lock's TTL and the stream lease: a silent worker loses both after this."""
CONCURRENCY = 8
SHUTDOWN_GRACE = 20.0
IDLE_POLL = 0.02


class TurnRunner:
    """One process's runner: front-end calls in, the turn stream consumed (when ``consume``).

    ``surfaces`` maps a platform to its surface factory; front ends add theirs to
    this same dict after the runner is built. ``models`` are the labelled models a
    thread or channel may choose (none: the agent's model only, which stays the
    default); ``files`` says where shared files go and how big they may be. ``hub`` is
    what job cards' Logs and Cancel buttons reach the Hub with; ``clock`` tells the time
    to job cards.
    """

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
        models: ModelChoices | None = None,
        files: FileIntake | None = None,
        hub: HfApi | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.agent = Agent(agent.config, OnceTools(agent.tools, store), agent.llm)  # type: ignore[arg-type]
        self.store = store
        choices = ModelChoices(agent.config.model, models.labels if models else {})
        self.models = ModelPicker(store.redis, choices, ttl_seconds=store.ttl)
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
        self.jobs = JobRoom(store, surfaces, self.controls, hub=hub, clock=clock)
        self.background = Background(store, surfaces, self.jobs)
        self.feedback = FeedbackLog(store.redis, ttl_seconds=store.ttl)
        self.inputs = InputRunner(
            self.agent,
            store,
            surfaces,
            self.approvals,
            self.background,
            tracer,
            models=self.models,
            intake=files or FileIntake(),
        )
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

    async def ask(
        self,
        key: str,
        text: str,
        user: str,
        *,
        thinking: str | None,
        files: Sequence[SharedFile] = (),
        received: str | None = None,
        title: str | None = None,
    ) -> bool:
        """A person's message, queued at once (see :meth:`submit`): no platform call waits
        before it. Then ``received`` (the platform's id of the message) gets its mark where
        the surface has one, so a message queued behind busy turns shows it arrived. The
        turn shows that the bot works on it (see :func:`~bot.output.status.show_taken_up`):
        the thread's working status, else a ``thinking`` placeholder the answer will stream
        into (None: none, e.g. where the thread shows a typing indicator instead). ``files``
        shared with it are queued as references; the turn downloads them
        (:mod:`bot.turns.intake`). ``title`` names the thread where the platform shows one
        (Slack's agent sessions)."""
        ref: dict[str, Any] = {"user": user}
        if thinking is not None:
            ref["thinking"] = thinking
        if title:
            ref["title"] = title
        item = {"kind": "message", "text": text, "user": user, "ref": ref}
        if files:
            item["files"] = file_refs(list(files))
        queued = await self.submit(key, item)
        if queued and received is not None:
            await mark_received(self.surfaces[platform_of(key)](key, ref), received)
        return queued

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

    async def rate(
        self, key: str, turn_id: str, actor: Actor, rating: str, comment: str | None = None
    ) -> Rating:
        """``actor``'s 👍 / 👎 (``up`` / ``down``) of a turn of ``key``, and after a 👎 what
        went wrong: stored in place of their earlier rating of it, and traced when traces
        are on (see :mod:`bot.turns.feedback`)."""
        stored = await self.feedback.record(Rating.now(key, turn_id, actor, rating, comment))
        if self.tracer is not None:
            self.tracer.rated(stored)
        return stored

    async def set_budget(self, key: str, actor: Actor, cap: float | None) -> Budget | None:
        """Auto-approve ``key``'s calls within ``cap`` USD (None: off); see :class:`ApprovalFlow`."""
        return await self.approvals.set_budget(key, actor, cap)

    async def refresh_card(self, approval_id: str) -> None:
        """Redraw an approval's card from the store, where the platform can."""
        await self.approvals.refresh_card(approval_id)

    async def status(self, key: str) -> dict[str, Any]:
        """What ``status`` commands show: model, history size, pending approval, tools running,
        model use (the last or running turn's and the thread's: ``Usage.to_dict()``)."""
        session = await self.store.load(key)
        meta = await self.store.meta(key)
        chosen = await self.models.chosen(key)
        return {
            "model": chosen.model,
            "model_label": chosen.label,
            "model_source": chosen.source,
            "history_size": len(session.history) if session else 0,
            "context_tokens": session.context_tokens if session else 0,
            "turns": session.turns if session else 0,
            "pending_approvals": len(session.pending.tool_calls)
            if session and session.pending
            else 0,
            "running_tools": meta.get("running_tools", []),
            "status": meta.get("status", "idle"),
            "queued": await self.store.inbox_size(key),
            "usage": meta.get("usage"),
            "usage_total": meta.get("usage_total"),
            "budget": budget.describe()
            if (budget := await self.controls.budgets.get(key))
            else None,
        }

    def _stop_here(self, key: str) -> bool:
        """Stop the turn of ``key`` if it runs in this process (stops published reach here too)."""
        return self.inputs.stop(key)

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
            hold = await self.store.acquire_lock(key, self.lock_ttl_ms)
            if hold is None:
                return drained  # another worker holds the session; it will see our input
            fence = Fence(key, hold)
            try:
                await self._with_heartbeat(work, fence, self._run_all(fence))
                drained = True
            finally:
                await self.store.release_lock(key, hold)
            if await self.store.inbox_size(key) == 0:
                return True

    async def _run_all(self, fence: Fence) -> None:
        key = fence.key
        if (left := await self.store.current_input(key)) is not None:
            await self.inputs.run(key, left, fence, taken_over=True)
        while (item := await self.store.take_input(key, fence.hold)) is not None:
            await self.inputs.run(key, item, fence)

    async def _with_heartbeat(
        self, work: Work, fence: Fence, job: Coroutine[Any, Any, None]
    ) -> None:
        """Renew the session lock and the stream lease while ``job`` runs; if the lock is
        found lapsed or taken, the fence is lost: ``job`` is cancelled without a word in the
        thread, and :class:`LockLost` raised (the entry is left to its new worker)."""
        task = asyncio.create_task(job)
        fence.on_lost(task.cancel)

        async def beat() -> None:
            while True:
                await asyncio.sleep(self.lock_ttl_ms / 3000)
                try:
                    if not await self.store.extend_lock(work.key, fence.hold):
                        fence.lose()
                        return
                    await self.store.renew_lease(self.queue.name, work.entry_id)
                except (RedisError, OSError) as exc:
                    logger.warning("could not renew the lease of %s: %s", work.key, exc)

        heartbeat = asyncio.create_task(beat())
        try:
            await task
        except asyncio.CancelledError:
            if not fence.lost or not task.done():
                raise  # this process is shutting down
            raise LockLost(work.key) from None
        finally:
            heartbeat.cancel()

    # ── telling people outside a turn ────────────────────────────────────

    async def _tell(self, key: str, ref: dict[str, Any], text: str) -> None:
        """Say ``text`` in the thread (in the placeholder, if the input brought one)."""
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
        """Show an event outside any turn (see :meth:`Background.notify`)."""
        await self.background.notify(key, event)
