"""The stream renderer shared by every front end.

It turns agent events into a few platform calls on a :class:`Surface`: one
message edited as the answer streams (at most once per rate-gate interval),
continued in new messages at the platform's length limit, and one compact line
per tool call updated as its state changes. A surface that can stream natively
(:class:`NativeStream`) gets appends instead of edits; a stream is closed before the
platform's age limit, and one the platform ends early anyway is continued in a new
message, so no character is lost or shown twice. One that also shows steps
(:class:`StreamSteps`) gets each tool call and the plan as steps inside the stream,
which then stays open across the model's calls until the turn ends or waits for an
approval. A surface with a :class:`WorkingStatus` shows what the turn does meanwhile
(:mod:`bot.output.status`).

Where the surface can (:mod:`bot.output.progress`), a typing indicator shows while the
model thinks, and a turn's tool lines share one message. Once a turn completes, the
last message of its answer gets the 👍 / 👎 of :class:`FeedbackButtons`.

What the answer has made visible (:class:`~bot.output.visible.Visible`) goes to the
``on_shown`` callback once per flush; a worker taking a dead worker's turn over hands it
back as ``resume`` and calls :meth:`StreamRenderer.adopt`, so the answer goes on in the
same messages or below a marked one (:mod:`bot.output.visible`).

Everything it posts goes through :func:`bot.output.redact.clean` first: secrets are
redacted and mass mentions defused, for every platform. Streamed text is cleaned
a word at a time, so a token is never shown half-way before it can be recognised.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from agent import events as ev
from bot.output.messages import (
    CUT_OFF,
    STOPPED,
    WAITING_FOR_APPROVAL,
    compacted,
    error_notice,
    undid,
)
from bot.output.progress import Steps, Thinking
from bot.output.redact import clean
from bot.output.status import StatusLine
from bot.output.steps import StepBook
from bot.output.textsplit import CLOSE_RESERVE, cut_at, cut_once, stream_cut
from bot.output.toollines import summarize, tool_line
from bot.output.visible import EDIT, STREAM, Leftovers, Visible
from bot.platform import (
    Attachments,
    FeedbackButtons,
    NativeStream,
    Step,
    StopControls,
    StreamClosed,
    StreamSteps,
    StreamUnavailable,
    Surface,
    ToolSteps,
    call_surface,
)

logger = logging.getLogger(__name__)

MAX_WORD_CHARS = 200
"""Streamed text waits for a word's end to be cleaned, but no longer than this."""
_WORD_END = re.compile(r"\s")
ATTACH_OVER_CHARS = 1000
"""Tool outputs longer than this are attached in full where the platform can."""


class StreamRenderer:
    """Renders one turn's events on a surface; ``close`` flushes what is left.

    ``on_shown`` receives what the turn shows whenever a flush changed it; ``resume`` is
    what a dead worker's turn left shown, for :meth:`adopt`.
    """

    def __init__(
        self,
        surface: Surface,
        placeholder: str | None = None,
        *,
        turn_id: str | None = None,
        on_shown: Callable[[Visible], Awaitable[None]] | None = None,
        resume: Visible | None = None,
    ) -> None:
        self.surface = surface
        self._placeholder = resume.placeholder if resume else placeholder
        self._turn_id = turn_id
        self._on_shown = on_shown
        self._reported: Visible | None = None
        self._resume = resume
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
        self._lines: dict[str, str] = {}  # tool_call_id -> line ref
        self._tools: dict[str, str] = {}  # tool_call_id -> tool name
        self._native = isinstance(surface, NativeStream)
        self._answer: tuple[str, str] | None = None  # the last answer message: ref, text
        self._thinking = Thinking(surface)
        self._tool_steps = Steps(surface) if isinstance(surface, ToolSteps) else None
        self._gap = False  # the model's text paused for tool calls; more goes after a blank line
        self._steps = StepBook() if isinstance(surface, StreamSteps) else None
        self.status = StatusLine(surface)
        self._halted = False  # another worker carries the turn on: show nothing more

    # ── what is visible, and taking over what a dead worker left ─────────

    def visible(self, *, ahead: bool = False) -> Visible:
        """What the turn shows now, or ``ahead``: once the text waiting is shown (see
        :mod:`bot.output.visible`)."""
        controls = getattr(self.surface, "stop_control", None)
        text = self._text if ahead and self._ref is not None else self._shown
        return Visible(
            turn=self._turn_id or "-",
            mode=STREAM if self._streamed else EDIT,
            refs=(*self._segment, *self._left.reuse),
            text=self._left.text if self._left.reuse else text[: self.surface.max_chars],
            whole=self._whole,
            placeholder=self._placeholder,
            status=self.status.showing,
            controls=(controls,) if isinstance(self.surface, StopControls) and controls else (),
        )

    async def adopt(self) -> None:
        """Take over what a dead worker's turn left shown (``resume``): its edited answer
        messages are written in again, a stream it can't go on with is marked in place,
        its Stop control deleted; the thread shows this turn's status until it ends."""
        left, self._resume = self._resume, None
        self.status.thinking()  # replaces any status the dead worker left; cleared at close
        if left is not None and await self._left.adopt(left):
            self._native = False  # the answer goes on in the same messages, by edits
        await self._report()

    async def _report(self, *, ahead: bool = False) -> None:
        """Hand what is visible to ``on_shown`` if it changed (at most twice per flush)."""
        if self._on_shown is None or self._halted:
            return
        now = self.visible(ahead=ahead)
        if now != self._reported:
            self._reported = now
            await self._on_shown(now)

    # ── events ───────────────────────────────────────────────────────────

    async def handle(self, event: ev.Event) -> None:
        if self._halted:
            return
        self.status.follow(event)
        match event:
            case ev.Processing():
                self._thinking.start()
            case ev.AssistantChunk(content=content):
                self._add(content)
            case ev.AssistantStreamEnd() if self._in_steps():
                await self._pause_segment()
            case ev.AssistantStreamEnd():
                await self._end_segment()
            case ev.ToolCall() | ev.ToolStateChange() | ev.ToolOutput() if await self._as_steps(
                event
            ):
                if isinstance(event, ev.ToolOutput):
                    await self._attach(event, clean(event.output))
            case ev.ToolCall(tool=tool, tool_call_id=call_id):
                self._thinking.stop()
                self._tools[call_id] = tool
                await self._line(call_id, tool_line(tool, "running"))
            case ev.ToolStateChange(tool=tool, tool_call_id=call_id, state="approved"):
                self._tools[call_id] = tool  # the card says it; "running" follows at once
            case ev.ToolStateChange(tool=tool, tool_call_id=call_id, state=state):
                self._tools[call_id] = tool
                await self._line(call_id, tool_line(tool, state))
            case ev.ToolOutput(tool=tool, tool_call_id=call_id, output=output, success=ok):
                output = clean(output)
                await self._line(
                    call_id, tool_line(tool, "done" if ok else "failed", summarize(output))
                )
                await self._attach(event, output)
                self._thinking.start()  # the model reads the output next
            case ev.Interrupted():
                await self._cut_short(STOPPED)
            case ev.CutOff():
                await self._cut_short(CUT_OFF)
            case ev.Error(error=error):
                await self._cut_short(error_notice(error))
            case ev.Compacted(old_tokens=old, new_tokens=new):
                await self._notice(compacted(old, new))
            case ev.UndoComplete(removed=removed):
                await self._notice(undid(removed))
            case ev.TurnComplete():
                await self._end_segment()
                await self._offer_feedback()

    async def notice(self, text: str) -> None:
        """A line of its own from the runtime (a restart, a refusal)."""
        await self._end_segment()
        await self._notice(text)

    async def show_approval(self, event: ev.ApprovalRequired) -> dict[str, Any]:
        """Post the approval card: a message with buttons, which no stream can hold. The
        calls it holds show as pending steps first; the stream stops before the card, and
        the turn resumed after the decision streams on in a new message below it."""
        if self._steps is not None and self._in_steps():
            await self._show_steps(self._steps.waiting(event))
        await self._end_segment()
        self._thinking.stop()
        self._answer = None
        self._new_answer()
        await self.status.close()
        event = dataclasses.replace(event, tools=json.loads(clean(json.dumps(event.tools))))
        await self._left.settle()
        if self._placeholder:
            await self._call(self.surface.edit, self._placeholder, WAITING_FOR_APPROVAL, final=True)
            self._placeholder = None
        card = await self._call(self.surface.post_approval, event)
        await self._report()
        return card

    async def close(self) -> None:
        self._thinking.stop()
        await self._end_segment()
        await self._left.settle()
        await self._retire_placeholder()
        if self._tool_steps is not None:
            await self._tool_steps.close()
        await self.status.close()

    def halt(self) -> None:
        """Show nothing more, at once and without a platform call: the turn's lock was lost
        and the worker that took the session carries the turn on."""
        self._halted = True
        self._thinking.stop()
        if self._flusher is not None:
            self._flusher.cancel()
        if self._tool_steps is not None:
            self._tool_steps.abandon()
        self.status.abandon()

    async def _offer_feedback(self) -> None:
        """👍 / 👎 under the final answer: the last message, if the turn ended on answer text."""
        if self._answer and self._turn_id and isinstance(self.surface, FeedbackButtons):
            ref, text = self._answer
            await self._call(self.surface.final_answer, ref, text, self._turn_id)
        self._answer = None

    async def _cut_short(self, notice: str) -> None:
        """The answer ends early: show all of it, then say so in the last message."""
        await self._end_segment()
        await self._left.settle()
        await self._retire_placeholder()
        await self._notice(notice)

    async def _retire_placeholder(self) -> None:
        if self._placeholder:  # no answer took it: don't leave "thinking…" and its Stop button
            placeholder, self._placeholder = self._placeholder, None
            await self._left.delete(placeholder)
            await self._report()

    # ── streaming text ───────────────────────────────────────────────────

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

    def _in_steps(self) -> bool:
        """Tool calls show as steps in the native stream (until streaming is refused)."""
        return self._steps is not None and self._native

    async def _as_steps(self, event: ev.Event) -> bool:
        """Show a tool event as steps where the surface can; False: show it as a line."""
        if self._steps is None or not self._in_steps():
            return False
        found = self._steps.of(event)
        if found is None:
            return False
        steps, plan = found
        return await self._show_steps(steps, plan) if steps else True

    async def _show_steps(self, steps: list[Step], plan: str | None = None) -> bool:
        """Show ``steps`` after the text so far, in the open stream (or a new one); False
        when the platform refused to stream (the event then shows as a line)."""
        await self._pause_segment()
        surface: Any = self.surface
        for _ in range(2):  # a stream the platform ended is continued in a new one
            if self._ref is not None and (
                self._closed or time.monotonic() - self._started >= surface.stream_max_seconds
            ):
                await self._end_segment()
            try:
                async with self._lock:
                    ref = await self._call(surface.stream_steps, self._ref, steps, plan)
                    if self._ref is None:
                        self._ref, self._started = ref, time.monotonic()
                        self._add_message(ref, streamed=True)
                return True
            except StreamUnavailable:
                logger.info("native streaming refused: tool calls show as lines")
                self._native = False
                return False
            except StreamClosed as exc:
                logger.info("the platform ended the stream (%s): continuing in a new one", exc)
                self._closed = True
        return True

    async def _pause_segment(self) -> None:
        """The model's text so far, shown whole in the open stream, which stays open."""
        await self._settle()
        self._gap = bool(self._text.strip())  # its last word is whole: the stream takes it now
        await self._flush(final=False)

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

    def _add_message(self, ref: str, *, streamed: bool = False) -> None:
        """``ref`` shows the answer text now written (after the last one, or a new answer)."""
        if self._whole:
            self._new_answer()
        self._segment.append(ref)
        self._streamed = self._streamed or streamed

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
            self._add_message(self._ref)
        if self._ref is None and (reused := self._left.next_ref()):  # a dead worker's message
            self._ref = reused
            self._add_message(reused)
        if self._ref is None:
            self._ref = await self._call(self.surface.post, text, final=final)
            self._add_message(self._ref)
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
                self._started = time.monotonic()
                self._add_message(self._ref, streamed=True)
            else:
                await self._call(surface.stream_append, self._ref, piece)
            self._shown += piece

    async def _attach(self, event: ev.ToolOutput, output: str) -> None:
        """A long output in full, and the files the tool made, where the surface can."""
        if not isinstance(self.surface, Attachments):
            return
        files = [
            (a["filename"], base64.b64decode(a["data"]), f"{event.tool}: {a['filename']}")
            for a in event.attachments
        ]
        if len(output) > ATTACH_OVER_CHARS:
            files.insert(0, (f"{event.tool}-output.txt", output.encode(), f"{event.tool} output"))
        for filename, content, title in files:
            await self._call(self.surface.attach_file, filename, content, title)

    # ── lines and notices ────────────────────────────────────────────────

    async def _line(self, key: str, text: str) -> None:
        async with self._lock:
            self._answer = None
            self._new_answer()
            if self._tool_steps is not None:
                await self._tool_steps.set(key, clean(text))
                return
            self._lines[key] = await self._call(
                self.surface.post_line, self._lines.get(key), clean(text)
            )

    async def _notice(self, text: str) -> None:
        self._thinking.stop()
        async with self._lock:
            self._answer = None
            await self._call(self.surface.post_notice, clean(text))

    async def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        if self._halted:
            return None
        return await call_surface(self.surface, method, *args, **kwargs)
