"""The stream renderer shared by every front end.

It turns agent events into a few platform calls on a :class:`Surface`: one
message edited as the answer streams (at most once per rate-gate interval),
continued in new messages at the platform's length limit, and one compact line
per tool call updated as its state changes (made by the thread's
:class:`~bot.output.writer.ThreadWriter` beside the turn, so a tool never waits for its
line). A surface that can stream natively
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
Writing the answer's text is :class:`~bot.output.stream.AnswerText`, its base.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import logging
import time
from typing import Any

from agent import events as ev
from bot.output.messages import (
    CUT_OFF,
    NOT_RUN_AGAIN,
    STOPPED,
    WAITING_FOR_APPROVAL,
    compacted,
    error_notice,
    undid,
)
from bot.output.progress import Steps
from bot.output.redact import clean
from bot.output.steps import StepBook
from bot.output.stream import AnswerText
from bot.output.toollines import call_detail, output_detail, tool_line
from bot.output.visible import Visible
from bot.platform import (
    Attachments,
    FeedbackButtons,
    Step,
    StreamClosed,
    StreamSteps,
    StreamUnavailable,
    ToolSteps,
)

logger = logging.getLogger(__name__)

ATTACH_OVER_CHARS = 1000
"""Tool outputs longer than this are attached in full where the platform can."""


class StreamRenderer(AnswerText):
    """Renders one turn's events on a surface; ``close`` flushes what is left.

    ``on_shown`` receives what the turn shows whenever a flush changed it; ``resume`` is
    what a dead worker's turn left shown, for :meth:`adopt`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # AnswerText's arguments
        super().__init__(*args, **kwargs)
        self._lines: dict[str, asyncio.Future[str]] = {}  # tool_call_id -> its line's post
        self._tools: dict[str, str] = {}  # tool_call_id -> tool name
        self._called: dict[str, str] = {}  # tool_call_id -> what its running line showed
        self._adopted: set[str] = set()  # tool_call_ids whose line a dead worker left running
        surface = self.surface
        self._tool_steps = Steps(surface) if isinstance(surface, ToolSteps) else None
        self._steps = StepBook() if isinstance(surface, StreamSteps) else None

    # ── what is visible, and taking over what a dead worker left ─────────

    async def adopt(self) -> None:
        """Take over what a dead worker's turn left shown (``resume``): its edited answer
        messages are written in again, a stream it can't go on with is marked in place,
        its Stop control deleted; the thread shows this turn's status until it ends."""
        left, self._resume = self._resume, None
        self.status.thinking()  # replaces any status the dead worker left; cleared at close
        if left is not None:
            if await self._left.adopt(left):
                self._native = False  # the answer goes on in the same messages, by edits
            self._adopt_lines(left)
        await self._report()

    def _adopt_lines(self, left: Visible) -> None:
        """The tool lines ``left`` shows running are this turn's to update, not post again
        (steps of its stream were ended in place by then)."""
        for call_id, ref, named in left.lines:
            if ref in left.refs:
                continue
            self._lines[call_id] = asyncio.get_running_loop().create_future()
            self._lines[call_id].set_result(ref)
            self._called[call_id] = named
            self._adopted.add(call_id)

    # ── events ───────────────────────────────────────────────────────────

    async def handle(self, event: ev.Event) -> None:
        if self._halted:
            return
        self.status.follow(event)
        match event:
            case ev.ToolStateChange(tool_call_id=call_id) if call_id in self._left.ended:
                pass  # its step was ended in place, in the stream it ran in
            case ev.Processing():
                self._thinking.start()
            case ev.AssistantChunk(content=content):
                self._add(content)
            case ev.AssistantStreamEnd() if self._in_steps():
                await self._pause_segment()
            case ev.AssistantStreamEnd():
                await self._end_segment()
            case ev.ToolCall() | ev.ToolStateChange() | ev.ToolOutput() | ev.ToolProgress() if (
                await self._as_steps(event)
            ):
                if isinstance(event, ev.ToolOutput):
                    await self._attach(event, clean(event.output))
            case ev.ToolCall(tool=tool, tool_call_id=call_id, arguments=arguments):
                self._thinking.stop()
                self._tools[call_id] = tool
                if called := call_detail(tool, arguments):
                    self._called[call_id] = called
                self._running[call_id] = ("", called)  # its message, once posted
                await self._line(call_id, tool_line(tool, "running", called))
            case ev.ToolProgress(tool=tool, tool_call_id=call_id, text=text):
                await self._line(call_id, tool_line(tool, "running", clean(text)))
            case ev.ToolStateChange(tool=tool, tool_call_id=call_id, state="approved"):
                self._tools[call_id] = tool  # the card says it; "running" follows at once
            case ev.ToolStateChange(tool=tool, tool_call_id=call_id, state=state):
                self._tools[call_id] = tool
                self._running.pop(call_id, None)
                detail = self._called.pop(call_id, "")
                if call_id in self._adopted:  # its worker died running it
                    detail = f"{detail} → {NOT_RUN_AGAIN}" if detail else NOT_RUN_AGAIN
                await self._line(call_id, tool_line(tool, state, detail))
            case ev.ToolOutput(tool=tool, tool_call_id=call_id, output=output, success=ok):
                self._running.pop(call_id, None)
                output = clean(output)
                detail = output_detail(tool, output)
                if called := self._called.pop(call_id, ""):  # which command ended so
                    detail = f"{called} → {detail}"
                await self._line(call_id, tool_line(tool, "done" if ok else "failed", detail))
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
        event = dataclasses.replace(event, tools=json.loads(clean(json.dumps(event.tools))))
        await self._left.settle()
        if self._placeholder:
            await self._call(self.surface.edit, self._placeholder, WAITING_FOR_APPROVAL, final=True)
            self._placeholder = None
        card = await self._call(self.surface.post_approval, event)
        await self.status.close()  # after the card: the surface knows the turn waits
        await self._report()
        return card

    async def close(self) -> None:
        await self._writer.flush()
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

    # ── steps inside a native stream ─────────────────────────────────────

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
                    if self._ref is None:  # a taker learns of the stream even if we die now
                        await self._report(making=True)
                    ref = await self._call(surface.stream_steps, self._ref, steps, plan)
                    if self._ref is None:
                        self._ref, self._started = ref, time.monotonic()
                        await self._add_message(ref, streamed=True)
                    for step in steps:  # a taker ends a running one in place
                        if step.state == "running":
                            self._running[step.id] = (ref, step.title)
                        else:
                            self._running.pop(step.id, None)
                    await self._report()
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
            self._write_line(key, clean(text))

    def _write_line(self, key: str, text: str) -> None:
        """Queue the line's post, or its update, with the thread's writer."""
        surface, posted = self.surface, self._lines.get(key)
        if posted is None:

            async def post() -> str:
                ref = await self._call_now(surface.post_line, None, text)
                if key in self._running and ref:  # still running: a taker updates this line
                    self._running[key] = (ref, self._running[key][1])
                    await self._report()
                return ref

            self._lines[key] = self._writer.post(post)
            return

        async def update() -> None:
            await self._call_now(surface.post_line, posted.result(), text)

        self._writer.update(f"line:{key}", update)

    async def _notice(self, text: str) -> None:
        self._thinking.stop()
        async with self._lock:
            self._answer = None
            await self._call(self.surface.post_notice, clean(text))
