"""What a turn has made visible in its thread, kept in Redis so a worker taking the turn
over knows where to go on.

The renderer reports a :class:`Visible` through its ``on_shown`` callback at its edit
cadence (once per flush that changed it, never per chunk); the turn keeps it in the
session's metadata (field ``visible`` of ``mib:meta:<session>``, written only while the turn
holds its lock). A worker carrying on a dead worker's turn hands it to its renderer
(:meth:`~bot.output.render.StreamRenderer.adopt`), which then:

* writes the answer into the same messages again where they were edited (chat.update),
  and deletes (or marks) those its answer did not need;
* marks a natively streamed message it can't go on writing (one still being written) in
  place
  (:data:`~bot.output.messages.INTERRUPTED`) and answers in a new message below;
* updates the line (or the stream's step) of a tool call the dead worker left running:
  it was not run again;
* takes over the placeholder no answer took yet, deletes a Stop control left beside a
  stream, and shows a thread status of its own, cleared when its turn ends.

A message the platform made just before its worker died is not in that report yet. So
each report written before a call that may make a message says so (``making``, and
``since`` when): the taker then reads the thread back (:class:`ThreadHistory`) for the
bot's messages made since, and treats those it did not know of as if they had been noted
(:func:`reconcile`): a placeholder, a message of the answer, a stream, a Stop control.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bot.output.messages import DONE, INTERRUPTED, NOT_RUN_AGAIN
from bot.platform import (
    Deletions,
    NativeStream,
    Step,
    StreamSteps,
    Surface,
    ThreadHistory,
    Written,
    call_surface,
)

logger = logging.getLogger(__name__)

EDIT = "edit"
STREAM = "stream"
PLACEHOLDER = "placeholder"
"""What a turn's first call may make (``making``): the "thinking…" placeholder."""
CLOCK_SKEW = 1.0
"""Seconds the platform's clock may lag ours: the thread is read back from this much
before ``since``."""


@dataclass(frozen=True)
class Visible:
    """What a turn shows now: the messages of its last answer text (``refs``, in order;
    ``mode`` says whether they are edited or natively streamed; ``whole`` once that text
    ended, e.g. just before the turn is saved), what the last one shows (``text``), the
    placeholder no answer took, whether a thread status is set, messages carrying a
    Stop control beside a stream, and the tool lines still showing a running call
    (``lines``: call id, its message, what the line named, e.g. a ``bash`` command)."""

    turn: str
    mode: str = EDIT
    refs: tuple[str, ...] = ()
    text: str = ""
    whole: bool = False
    placeholder: str | None = None
    status: bool = False
    controls: tuple[str, ...] = ()
    lines: tuple[tuple[str, str, str], ...] = ()
    making: str | None = None
    since: float = 0.0

    def shows_nothing(self) -> bool:
        """Nothing of the turn is known to be shown (at most a call was about to make it)."""
        return not (
            self.refs or self.text or self.placeholder or self.status or self.controls or self.lines
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "turn": self.turn,
            "mode": self.mode,
            "refs": list(self.refs),
            "chars": len(self.text),
            "text": self.text,
            "whole": self.whole,
            "placeholder": self.placeholder,
            "status": self.status,
            "controls": list(self.controls),
            "making": self.making,
            "since": self.since,
            "lines": [list(line) for line in self.lines],
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Visible:
        return cls(
            turn=raw["turn"],
            mode=raw.get("mode", EDIT),
            refs=tuple(raw.get("refs", ())),
            text=raw.get("text", ""),
            whole=bool(raw.get("whole")),
            placeholder=raw.get("placeholder"),
            status=bool(raw.get("status")),
            controls=tuple(raw.get("controls", ())),
            making=raw.get("making"),
            since=float(raw.get("since", 0.0)),
            lines=tuple(tuple(line) for line in raw.get("lines", ())),
        )


def left_by(meta: dict[str, Any], turn_id: str) -> Visible | None:
    """What turn ``turn_id`` left shown, from the session's stored metadata."""
    raw = meta.get("visible")
    return Visible.from_dict(raw) if raw and raw.get("turn") == turn_id else None


async def reconcile(surface: Surface, left: Visible | None) -> Visible | None:
    """What a dead worker's turn left shown, with the messages the platform made for a call
    it died in (read back from the thread where the surface can, see :func:`found`); None
    when nothing of it is shown."""
    if left is not None and left.making and isinstance(surface, ThreadHistory):
        try:
            since = left.since - CLOCK_SKEW
            left = found(left, await call_surface(surface, surface.written_since, since))
        except Exception:
            logger.exception("could not read the thread back after a takeover")
    if left is None or left.shows_nothing():
        return None
    return replace(left, making=None, since=0.0)


def found(left: Visible, written: Sequence[Written]) -> Visible:
    """``left`` with the messages in ``written`` it does not know of, as its call in flight
    (``making``) would have noted them: the placeholder, or the next messages of its answer
    (the first of a new answer once the last one was whole), or Stop controls."""
    known = {*left.refs, *left.controls, left.placeholder, *(ref for _, ref, _ in left.lines)}
    new = [w for w in written if w.ref not in known]
    controls = (*left.controls, *(w.ref for w in new if w.control))
    texts = [w for w in new if not w.control]
    left = replace(left, controls=controls)
    if not texts:
        return left
    if left.making == PLACEHOLDER and left.placeholder is None:
        left, texts = replace(left, placeholder=texts[0].ref), texts[1:]
        if not texts:
            return left
    making = STREAM if left.making == STREAM else EDIT
    mode = left.mode if left.refs and not left.whole else making
    kept = () if left.whole else left.refs
    refs = (*kept, *(w.ref for w in texts))
    return replace(left, mode=mode, refs=refs, text=texts[-1].text, whole=False)


class Leftovers:
    """What a dead worker's turn left shown, as the renderer taking the turn over resolves
    it; ``call`` is the renderer's way to call the surface."""

    def __init__(self, surface: Surface, call: Callable[..., Awaitable[Any]]) -> None:
        self.surface = surface
        self.call = call
        self.reuse: list[str] = []  # its answer messages not written in again yet
        self.text = ""  # what the last of them shows
        self.ended: set[str] = set()  # tool calls whose running step was ended in place
        self._reused = False

    async def adopt(self, left: Visible) -> bool:
        """Delete its Stop controls; mark a stream it was writing in place, or keep its
        messages to write in again (True: the answer goes on in them, by edits)."""
        for ref in left.controls:
            await self.delete(ref)
        if left.mode == STREAM and left.refs and not left.whole:
            await self.end_steps(left.refs[-1], left.lines)
            await self.mark_interrupted(left.refs[-1], left.text, stream=True)
            return False
        self.reuse, self.text = list(left.refs), left.text
        return bool(self.reuse)

    def next_ref(self) -> str | None:
        """The next of its messages for the answer to go on in, if any is left."""
        if not self.reuse:
            return None
        self._reused = True
        return self.reuse.pop(0)

    async def settle(self) -> None:
        """Its messages the answer did not go on in: deleted once the answer went on in the
        first of them, else the last one is marked as interrupted."""
        left, self.reuse = self.reuse, []
        for ref in left:
            if self._reused and isinstance(self.surface, Deletions):
                await self.delete(ref)
            elif self._reused or ref == left[-1]:
                await self.mark_interrupted(ref, self.text if ref == left[-1] else "")

    async def end_steps(self, ref: str, lines: tuple[tuple[str, str, str], ...]) -> None:
        """End the steps left running in stream ``ref`` as not run again, in place."""
        steps = [
            Step(call, title, "failed", NOT_RUN_AGAIN) for call, at, title in lines if at == ref
        ]
        if not steps or not isinstance(self.surface, StreamSteps):
            return
        try:
            await self.call(self.surface.stream_steps, ref, steps)
        except Exception:
            logger.exception("could not end the steps a dead worker left running")
            return
        self.ended.update(step.id for step in steps)

    async def mark_interrupted(self, ref: str, text: str, *, stream: bool = False) -> None:
        """End a message a dead worker was writing with :data:`INTERRUPTED`, in place."""
        surface: Any = self.surface
        if stream and isinstance(surface, NativeStream):
            with contextlib.suppress(Exception):  # it may have ended already
                await self.call(surface.stream_stop, ref)
        room = self.surface.max_chars - len(INTERRUPTED) - 2
        marked = f"{text[:room].rstrip()}\n\n{INTERRUPTED}" if text.strip() else INTERRUPTED
        try:
            await self.call(self.surface.edit, ref, marked, final=True)
        except Exception:
            logger.exception("could not mark an interrupted answer")

    async def delete(self, ref: str) -> None:
        """Delete a message (where the surface can't, it says :data:`DONE`, final)."""
        surface: Any = self.surface
        try:
            if isinstance(surface, Deletions):
                await self.call(surface.delete, ref)
            else:
                await self.call(surface.edit, ref, DONE, final=True)
        except Exception:
            logger.exception("could not delete a message a turn left")
