"""Running one input of a session, under its lock: a turn from start to end.

:class:`InputRunner` takes an input the runner drained (a message, a ``resume``
after approval, undo, compact, new, or one a dead worker left) and runs it as a
:class:`RunningTurn`: the session and its renderer, the tools running now, and
what the agent's :class:`~agent.loop.Turn` calls back: ``emit`` (metrics, traces,
the approval flow, the renderer), ``checkpoint`` (the session saved mid-turn) and,
at the end, ``finish`` (saved with its final status). What the turn's model calls used
(``Turn.usage``, a ``research`` sub-agent's included) is kept in the session's metadata
with each save, and its cost is counted on the thread's auto-approve budget, if it has
one, as it grows; the budget left when the turn began caps the sub-agent's cost. A turn
that can't be saved, or is cancelled by a shutdown, ends with its input left current for
the next worker (:class:`~bot.turns.queue.HandedBack`).

Every session write of a turn carries its :class:`Fence` (the lock token): once the lock
lapsed or was taken, the write is refused (:class:`~bot.store.sessions.LockLost`), the
fence is lost, and the turn stops where it is: nothing more shown, nothing saved, no word
in the thread (the worker that took the session carries the turn on).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from agent import events as ev
from agent.loop import Agent, Turn
from agent.session import Session
from agent.usage import Usage
from bot.approvals.flow import ApprovalFlow
from bot.attachments.prepare import Content
from bot.output.messages import HANDED_BACK, STALE_APPROVAL, STORE_LOST, unknown_request, went_wrong
from bot.output.render import StreamRenderer
from bot.output.status import show_taken_up
from bot.output.visible import PLACEHOLDER, Visible, left_by, reconcile
from bot.session_key import platform_of
from bot.store.sessions import Hold, LockLost, SessionStore
from bot.telemetry.logs import log_context
from bot.telemetry.metrics import RUNNING_TURNS, count, count_usage
from bot.telemetry.traces import Tracer
from bot.turns import takeover
from bot.turns.background import Background
from bot.turns.intake import FileIntake
from bot.turns.models import ModelPicker
from bot.turns.queue import HandedBack

if TYPE_CHECKING:
    from bot.platform import SurfaceFactory

logger = logging.getLogger(__name__)


@dataclass
class Fence:
    """A turn's hold on its session's lock, which its writes carry, and whether it was
    lost. ``lose`` is called once the lock is found lapsed or taken; it calls each callback
    given to ``on_lost`` (cancel the turn, stop its renderer) once."""

    key: str
    hold: Hold
    lost: bool = False
    _callbacks: list[Callable[[], object]] = field(default_factory=list)

    def on_lost(self, callback: Callable[[], object]) -> None:
        self._callbacks.append(callback)

    def lose(self) -> None:
        if self.lost:
            return
        self.lost = True
        logger.warning(
            "lost the lock of %s: stopping its turn, another worker carries on", self.key
        )
        for callback in self._callbacks:
            callback()


class InputRunner:
    """Runs a runner's inputs, one per session at a time; ``stop`` cancels one running here."""

    def __init__(
        self,
        agent: Agent,
        store: SessionStore,
        surfaces: dict[str, SurfaceFactory],
        approvals: ApprovalFlow,
        background: Background,
        tracer: Tracer | None = None,
        *,
        models: ModelPicker,
        intake: FileIntake,
    ) -> None:
        self.agent = agent
        self.models = models
        self.intake = intake
        self.store = store
        self.surfaces = surfaces  # the runner's dict: front ends add their factories later
        self.approvals = approvals
        self.background = background
        self.tracer = tracer
        self.cancels: dict[str, asyncio.Event] = {}  # session key -> its running turn's stop

    async def run(
        self, key: str, item: dict[str, Any], fence: Fence, *, taken_over: bool = False
    ) -> None:
        """Run ``item`` for ``key`` under ``fence``; ``taken_over`` when a dead worker left it
        current. :class:`LockLost` when the lock was lost meanwhile."""
        item = {"kind": "message", **item}
        turn_id = item.get("turn_id", "-")
        with log_context(key, turn_id):
            turn = await RunningTurn.open(self, key, item, turn_id, taken_over, fence)
            await turn.run()

    def stop(self, key: str) -> bool:
        """Stop the turn of ``key`` if it runs in this process; False if none does."""
        cancel = self.cancels.get(key)
        if cancel is not None:
            cancel.set()
        return cancel is not None


class RunningTurn:
    """One input while it runs: its session, renderer and running tools."""

    def __init__(
        self,
        runner: InputRunner,
        key: str,
        item: dict[str, Any],
        turn_id: str,
        *,
        session: Session,
        renderer: StreamRenderer,
        requester: str,
        takeovers: int,
        model: str,
        fence: Fence,
        usage: Usage,
        used_before: Usage,
    ) -> None:
        self.runner = runner
        self.fence = fence
        self.model = model  # the thread's choice, else its channel's, else MODEL
        self.key = key
        self.item = item
        self.turn_id = turn_id
        self.session = session
        self.renderer = renderer
        self.requester = requester
        self.takeovers = takeovers
        self.running: dict[str, str] = {}  # tool_call_id -> tool, for ``status``
        self.usage = usage
        self.used_before = used_before  # the thread's model use before this turn
        self.charged = 0.0  # of the usage's cost, what the budget counts already

    @classmethod
    async def open(
        cls,
        runner: InputRunner,
        key: str,
        item: dict[str, Any],
        turn_id: str,
        taken_over: bool,
        fence: Fence,
    ) -> RunningTurn:
        """The turn of ``item``: its thread's surface, the stored session and who asked."""
        ref = item.get("ref", {})
        factory = runner.surfaces[platform_of(key)]
        surface = factory(key, ref)
        meta = await runner.store.meta(key)
        resume = await reconcile(surface, left_by(meta, turn_id)) if taken_over else None
        greet = item["kind"] == "message" and resume is None  # show it is being worked on
        if greet and ref.get("thinking") is not None and not ref.get("placeholder"):
            # it may post a placeholder: say so first, so a taker looks for it
            making = Visible(turn=turn_id, making=PLACEHOLDER, since=time.time())
            await keep_visible(runner.store, fence, making)
        if greet and (greeted := await show_taken_up(surface, ref)) is not ref:
            ref, surface = greeted, factory(key, greeted)  # the answer takes the placeholder
            shown = Visible(turn=turn_id, placeholder=ref["placeholder"])
            await keep_visible(runner.store, fence, shown)  # a taker then knows it
        renderer = StreamRenderer(
            surface,
            ref.get("placeholder"),
            turn_id=turn_id,
            on_shown=lambda visible: keep_visible(runner.store, fence, visible),
            resume=resume,
            writer=runner.approvals.writers.of(key),  # the card's redraws and lines, in order
        )
        session = await runner.store.load(key) or Session(key=key)
        runner.intake.sandbox.touch(session)  # in use: not pruned while the session lives
        requester = item.get("user") or meta.get("requester", "")
        item, takeovers = takeover.carried_on(item, meta, turn_id, taken_over)
        chosen = await runner.models.chosen(key)
        budget = await runner.approvals.controls.budgets.get(key)
        return cls(
            runner,
            key,
            item,
            turn_id,
            session=session,
            renderer=renderer,
            requester=requester,
            takeovers=takeovers,
            model=chosen.model,
            fence=fence,
            usage=Usage(cap_usd=budget.left if budget else None),
            used_before=Usage.from_dict(meta.get("usage_total")),
        )

    async def run(self) -> None:
        """Run the input to its end; :class:`HandedBack` when another worker must carry it on,
        :class:`LockLost` when another worker took the session meanwhile."""
        self.fence.on_lost(self.renderer.halt)
        cancel = self.runner.cancels[self.key] = asyncio.Event()
        handed_back = False
        RUNNING_TURNS.inc()
        turn = Turn(
            emit=self.emit,
            cancel=cancel,
            checkpoint=self.checkpoint,
            notify=lambda event: self.runner.background.notify(self.key, event),
            spawn=self.runner.background.spawn,
            usage=self.usage,
        )
        try:
            await self._step(turn)
        except LockLost:
            self.fence.lose()
        except asyncio.CancelledError:
            if not self.fence.lost:  # this process is shutting down
                handed_back = True
                with contextlib.suppress(Exception):
                    await self.renderer.notice(HANDED_BACK)
                raise
        except Exception as exc:
            handed_back = await self._failed(exc)
        finally:
            RUNNING_TURNS.dec()
            del self.runner.cancels[self.key]
            count_usage(self.usage)
            await self._charge()
            if not self.fence.lost:
                handed_back = await self._finish(handed_back)
        if self.fence.lost:
            raise LockLost(self.key)
        if handed_back:
            raise HandedBack(self.key)

    async def emit(self, event: ev.Event) -> None:
        """An agent event: counted, traced, then an approval pause or shown in the thread."""
        count(event)
        if self.runner.tracer is not None:
            self.runner.tracer.record(self.key, self.turn_id, event)
        try:
            if isinstance(event, ev.ApprovalRequired):
                await self.runner.approvals.pause(self.key, event, self.requester, self.renderer)
                return
            if isinstance(event, ev.ToolCall) or (
                isinstance(event, ev.ToolStateChange) and event.state == "running"
            ):
                self.running[event.tool_call_id] = event.tool
            elif isinstance(event, ev.ToolOutput):
                self.running.pop(event.tool_call_id, None)
            await self.renderer.handle(event)
        except Exception:  # a platform hiccup must not end the turn
            logger.exception("rendering %s for %s failed", event.type, self.key)

    async def checkpoint(self) -> None:
        """Save the session mid-turn, with the tools running now (while the lock is held)."""
        try:
            await self.runner.store.save(
                self.session,
                fence=self.fence.hold,
                status="running",
                requester=self.requester,
                running_tools=sorted(self.running.values()),
                turn=self.turn_id,
                takeovers=self.takeovers,
                **self._usage_fields(),
            )
        except LockLost:
            self.fence.lose()  # cancels the turn, even if the agent swallows this
            raise
        await self._charge()

    def _usage_fields(self) -> dict[str, dict[str, Any]]:
        """What the session's metadata keeps of model use: this turn's and the thread's."""
        return {
            "usage": self.usage.to_dict(),
            "usage_total": (self.used_before + self.usage).to_dict(),
        }

    async def _charge(self) -> None:
        """Count the turn's model cost not counted yet on its thread's budget (if it has
        one); what a Redis hiccup kept from being counted is counted the next time."""
        due = self.usage.cost_usd - self.charged
        if due <= 0:
            return
        try:
            await self.runner.approvals.controls.budgets.charge(self.key, due)
        except (RedisError, OSError) as exc:
            logger.warning("could not count model cost on the budget of %s: %s", self.key, exc)
            return
        self.charged += due

    async def _step(self, turn: Turn) -> None:
        """What the input asks for; a taken-over turn is carried on."""
        kind = self.item["kind"]
        agent, session = self.runner.agent.for_model(self.model), self.session
        if kind in takeover.KINDS:
            await takeover.take_over(agent, session, self.item, turn, self.renderer)
            return
        if kind in ("message", "undo", "new") and session.pending:
            await self.runner.approvals.abandon(session.pending.approval_id)
        if kind == "message":
            await agent.run(session, await self._message(), turn)
        elif kind == "resume":
            if session.pending and session.pending.approval_id == self.item["approval_id"]:
                await agent.resume(session, self.item["decisions"], turn)
            else:
                await turn.emit(ev.Error(error=STALE_APPROVAL))
        elif kind == "undo":
            await agent.undo(session, turn)
        elif kind == "compact":
            await agent.compact(session, turn, force=True)
        elif kind == "new":
            if self.runner.intake.sandboxes is not None:
                await self.runner.intake.sandboxes.stop(session)
            await self.runner.store.delete(session.key)
            session.history.clear()
            session.pending = None
        else:
            await turn.emit(ev.Error(error=unknown_request(kind)))

    async def _message(self) -> Content:
        """The message with its shared files taken in; a line in the thread for each file
        that could not be read or shown (the turn runs anyway)."""
        surface = self.renderer.surface
        taken = await self.runner.intake.take(self.item, self.session, surface, self.model)
        for notice in taken.notices:
            await self.renderer.notice(notice)
        return taken.content

    async def _failed(self, exc: Exception) -> bool:
        """Say why the turn ended early; True when Redis was lost mid-turn (then the input
        stays current: whoever claims it carries on)."""
        logger.exception("turn of %s failed", self.key)
        lost = isinstance(exc, RedisConnectionError | RedisTimeoutError | OSError)
        await self.emit(ev.Error(error=STORE_LOST if lost else went_wrong(exc)))
        return lost

    async def _finish(self, handed_back: bool) -> bool:
        """Flush the thread and, unless handed back, save the session as the turn left it;
        True when the turn is handed back (also when that save failed)."""
        with contextlib.suppress(Exception):
            await self.renderer.close()
        if not handed_back:
            try:
                await self.runner.store.finish(
                    self.key,
                    None if self.item.get("kind") == "new" else self.session,
                    fence=self.fence.hold,
                    status="awaiting_approval" if self.session.pending else "idle",
                    requester=self.requester,
                    running_tools=[],
                    turn=self.turn_id,
                    takeovers=self.takeovers,
                    **self._usage_fields(),
                )
            except LockLost:
                self.fence.lose()
            except (RedisError, OSError):
                logger.exception("could not save the session %s at the end of its turn", self.key)
                handed_back = True
        if self.runner.tracer is not None:
            self.runner.tracer.turn_done(
                self.key, self.turn_id, self.session.history, self.model, usage=self.usage
            )
        return handed_back


async def keep_visible(store: SessionStore, fence: Fence, visible: Visible) -> None:
    """Keep what a turn shows in its session's metadata, while it holds the lock."""
    try:
        await store.note(fence.key, fence=fence.hold, visible=visible.to_dict())
    except LockLost:
        fence.lose()
    except (RedisError, OSError) as exc:  # the next flush writes it again
        logger.warning("could not keep what %s shows: %s", fence.key, exc)
