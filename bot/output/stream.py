"""An answer's text as it streams into a thread's messages: the part of the renderer that
writes text (:class:`AnswerText`, the base of :class:`~bot.output.render.StreamRenderer`).

The text is cleaned a word at a time (:func:`bot.output.redact.clean`), shown at most once
per rate-gate interval by edits or native stream appends, continued in a new message at
the platform's length limit or when a native stream ends, and reported (what is visible,
:class:`~bot.output.visible.Visible`) once per flush.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.output.progress import Thinking
from bot.output.redact import clean
from bot.output.status import StatusLine
from bot.output.textsplit import CLOSE_RESERVE, cut_at, cut_once, stream_cut
from bot.output.visible import EDIT, STREAM, Leftovers, Visible
from bot.output.writer import ThreadWriter
from bot.platform import (
    NativeStream,
    StopControls,
    StreamClosed,
    StreamUnavailable,
    Surface,
    call_surface,
)

logger = logging.getLogger(__name__)

MAX_WORD_CHARS = 200
"""Streamed text waits for a word's end to be cleaned, but no longer than this."""
_WORD_END = re.compile(r"\s")


class AnswerText:
    """The answer text of one turn on a surface (see the module docstring)."""

    def __init__(
        self,
        surface: Surface,
        placeholder: str | None = None,
        *,
        turn_id: str | None = None,
        on_shown: Callable[[Visible], Awaitable[None]] | None = None,
        resume: Visible | None = None,
        writer: ThreadWriter | None = None,
    ) -> None:
        self.surface = surface
        self._writer = writer or ThreadWriter()  # tool lines: the turn never waits for them
        self._resume = resume  # what a dead worker's turn left shown, until adopted
        self._placeholder = resume.placeholder if resume else placeholder
        self._turn_id = turn_id
        self._on_shown = on_shown
        self._reported: Visible | None = None
        self._segment: list[str] = []  # the messages of the last answer text shown
        self._streamed = False  # they are native streams
        self._whole = False  # that text ended (kept until new text, a tool call or a card)
        self._left = Leftovers(surface, self._call)  # what a dead worker's turn left shown
        self._ref: str | None = None  # the message the current answer streams into
        self._word = ""  # streamed text not cleaned yet: the word being written
        self._text = ""  # what that message should show
        self._shown = ""  # what it shows now
        self._started = 0.0  # when its native stream started (monotonic)
        self._closed = False  # the platform ended that stream early
        self._dirty = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._native = isinstance(surface, NativeStream)
        self._answer: tuple[str, str] | None = None  # the last answer message: ref, text
        self._thinking = Thinking(surface)
        self._gap = False  # the model's text paused for tool calls; more goes after a blank line
        self.status = StatusLine(surface)
        self._halted = False  # another worker carries the turn on: show nothing more
        self._running: dict[str, tuple[str, str]] = {}
        """Tool lines posted for calls not ended yet: call id -> its message, what it named."""

    def visible(self, *, ahead: bool = False, making: bool = False) -> Visible:
        """What the turn shows now, or ``ahead``: once the text waiting is shown, and which
        message its call may make, or ``making`` one (see :mod:`bot.output.visible`)."""
        controls = getattr(self.surface, "stop_control", None)
        text = self._text if ahead and self._ref is not None else self._shown
        making = making or (ahead and bool(self._text) and (self._ref is None or self._must_cut()))
        return Visible(
            turn=self._turn_id or "-",
            mode=STREAM if self._streamed else EDIT,
            refs=(*self._segment, *self._left.reuse),
            text=self._left.text if self._left.reuse else text[: self.surface.max_chars],
            whole=self._whole,
            placeholder=self._placeholder,
            status=self.status.showing,
            controls=(controls,) if isinstance(self.surface, StopControls) and controls else (),
            making=(STREAM if self._native else EDIT) if making else None,
            since=time.time() if making else 0.0,
            lines=tuple((call, ref, named) for call, (ref, named) in self._running.items() if ref),
        )

    async def _report(self, *, ahead: bool = False, making: bool = False) -> None:
        """Hand what is visible to ``on_shown`` if it changed (at most twice per flush)."""
        if self._on_shown is None or self._halted:
            return
        now = self.visible(ahead=ahead, making=making)
        if now != self._reported:
            self._reported = now
            await self._on_shown(now)

    def _add(self, content: str) -> None:
        """Take streamed text; clean and show it up to the last finished word."""
        if self._gap and content:  # the model's next call: a new paragraph in the same stream
            self._gap = False
            self._text += "" if self._text.endswith("\n\n") else "\n\n"
        self._word += content
        ends = [m.end() for m in _WORD_END.finditer(self._word)]
        cut = ends[-1] if ends else (len(self._word) if len(self._word) > MAX_WORD_CHARS else 0)
        if cut:
            self._text += clean(self._word[:cut])
            self._word = self._word[cut:]
            self._kick()

    def _kick(self) -> None:
        self._dirty.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop())

    async def _flush_loop(self) -> None:
        while self._dirty.is_set():
            await self.surface.gate.ready(self._text_call())  # then show the newest text
            self._dirty.clear()
            await self._flush(final=False)

    def _text_call(self) -> str:
        """The surface method the next text write calls."""
        if self._native:
            return "stream_append" if self._ref else "stream_start"
        return "edit" if self._ref or self._placeholder else "post"

    async def _end_segment(self) -> None:
        await self._settle()
        await self._flush(final=True)
        if self._ref is not None and self._shown:
            self._answer = (self._ref, self._shown)
        if self._segment:  # this answer is whole: what a dead worker left of it goes
            await self._left.settle()
            self._whole = True
        self._ref, self._text, self._shown, self._closed = None, "", "", False
        self._gap = False
        await self._report()

    async def _add_message(self, ref: str, *, streamed: bool = False) -> None:
        """``ref`` shows the answer text now written (after the last one, or a new answer);
        reported at once, so a worker taking the turn over knows every message it wrote."""
        if self._whole:
            self._new_answer()
        self._segment.append(ref)
        self._streamed = self._streamed or streamed
        await self._report()

    def _new_answer(self) -> None:
        """The answer text shown so far went with tool calls or a card: no taker writes it
        again."""
        self._segment, self._streamed, self._whole = [], False, False

    async def _settle(self) -> None:
        """Take the word being written as it is, and let the flusher finish."""
        if self._word:
            self._text += clean(self._word)
            self._word = ""
        if self._flusher is not None:
            self._dirty.clear()
            await self._flusher
            self._flusher = None

    async def _flush(self, *, final: bool) -> None:
        async with self._lock:
            await self._report(ahead=True)  # (a turn that lost its lock shows no more)
            if self._halted:
                return
            await self._flush_text(final=final)
            await self._report()

    async def _flush_text(self, *, final: bool) -> None:
        while True:
            while self._must_cut():
                await self._next_message()
            if not self._text or (self._text == self._shown and not final):
                return
            await self._show(self._text, final=final)
            if not self._closed:
                return

    def _must_cut(self) -> bool:
        """The message is full, or its native stream ended or is too old to take more."""
        if len(self._text) > self.surface.max_chars or self._closed:
            return True
        surface: Any = self.surface
        return (
            self._native
            and self._ref is not None
            and len(self._text) > len(self._shown)
            and time.monotonic() - self._started >= surface.stream_max_seconds
        )

    async def _next_message(self) -> None:
        """End this message at a cut, closing an open code fence; the rest starts the next."""
        taken = self._text
        head, rest = self._cut()
        await self._show(head, final=True)
        if self._closed and head != self._shown:  # the stream ended before the fence closed
            await self._call(self.surface.edit, self._ref, head, final=True)
        # text may have streamed in while the platform answered: keep it
        self._ref, self._text, self._shown = None, rest + self._text[len(taken) :], ""
        self._closed = False

    def _cut(self) -> tuple[str, str]:
        """A first message at the limit; a native stream can't take back what it showed."""
        if self._native and self._shown:
            return cut_at(self._text, len(self._shown))
        return cut_once(self._text, self.surface.max_chars)

    async def _show(self, text: str, *, final: bool) -> None:
        self._thinking.stop()
        if self._native:
            try:
                await self._stream(text, final=final)
                return
            except StreamUnavailable:
                logger.info("native streaming refused: falling back to edits")
                self._native = False
        if self._ref is None and self._placeholder and not self._started:
            # the placeholder comes first: it takes the answer unless a stream went before
            self._ref, self._placeholder = self._placeholder, None
            await self._add_message(self._ref)
        if self._ref is None and (reused := self._left.next_ref()):  # a dead worker's message
            self._ref = reused
            await self._add_message(reused)
        if self._ref is None:
            self._ref = await self._call(self.surface.post, text, final=final)
            self._shown = text
            await self._add_message(self._ref)
        elif text != self._shown or final:
            await self._call(self.surface.edit, self._ref, text, final=final)
        self._shown = text

    async def _stream(self, text: str, *, final: bool) -> None:
        """Append what is new (whole words or lines until ``final``); stop the stream at the end.

        Until ``final`` it leaves room to close a code fence. If the platform ends the
        stream, ``_closed`` is set and ``_shown`` is what the message kept.
        """
        surface: Any = self.surface
        whole = final or self._gap
        upto = len(text) if whole else stream_cut(text[: surface.max_chars - CLOSE_RESERVE])
        try:
            if not self._closed:
                await self._append(text[len(self._shown) : upto])
            if final and self._ref is not None:
                await self._call(surface.stream_stop, self._ref)
        except StreamClosed as exc:
            logger.info("the platform ended the stream (%s): continuing in a new message", exc)
            self._closed = True

    async def _append(self, delta: str) -> None:
        """Start or extend the stream with ``delta``, in calls the platform accepts."""
        surface: Any = self.surface
        step = surface.stream_max_append
        for at in range(0, len(delta), step):
            piece = delta[at : at + step]
            if self._ref is None:
                self._ref = await self._call(surface.stream_start, piece)
                self._started, self._shown = time.monotonic(), self._shown + piece
                await self._add_message(self._ref, streamed=True)
            else:
                await self._call(surface.stream_append, self._ref, piece)
                self._shown += piece

    async def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        """A platform call after the tool lines queued so far (thread order)."""
        if self._halted:
            return None
        await self._writer.flush()
        return await self._call_now(method, *args, **kwargs)

    async def _call_now(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        """A platform call, unless the turn was halted (the writer's queued lines too)."""
        if self._halted:
            return None
        return await call_surface(self.surface, method, *args, **kwargs)
