"""The shared stream renderer: throttled edits, splitting, tool lines, 429 back-off."""

import asyncio
import base64
import json

import pytest

from agent import events as ev
from bot.output.messages import CUT_OFF
from bot.output.redact import register_secret
from bot.output.render import StreamRenderer
from bot.output.steps import StepBook
from bot.platform import PlatformUnavailable, RateLimited, StreamClosed
from tests.support import RecordingSurface, eventually


class StreamingSurface(RecordingSurface):
    """A thread whose answers stream natively; the platform ends a stream at append
    number ``end_at`` (counting from 1), the way Slack ends an expired one."""

    def __init__(self, *, max_seconds: float = 60.0, max_append: int = 12_000) -> None:
        super().__init__()
        self.stream_max_seconds = max_seconds
        self.stream_max_append = max_append
        self.live: set[str] = set()
        self.appends = 0
        self.end_at = 0

    async def stream_start(self, text: str) -> str:
        ref = f"s{len(self.messages) + 1}"
        self.calls.append(("start", text))
        self.messages[ref] = text
        self.live.add(ref)
        return ref

    async def stream_append(self, ref: str, text: str) -> None:
        self.appends += 1
        if self.appends == self.end_at:
            self.live.discard(ref)
        if ref not in self.live:
            raise StreamClosed("message_not_in_streaming_state")
        self.calls.append(("append", text))
        self.messages[ref] += text

    async def stream_stop(self, ref: str) -> None:
        if ref not in self.live:
            raise StreamClosed("message_not_in_streaming_state")
        self.live.discard(ref)
        self.final.add(ref)


async def stream(renderer: StreamRenderer, text: str, chunk: int = 7, pause: float = 0.0):
    for i in range(0, len(text), chunk):
        await renderer.handle(ev.AssistantChunk(content=text[i : i + chunk]))
        if pause:
            await asyncio.sleep(pause)
    await renderer.handle(ev.AssistantStreamEnd())


async def test_edits_are_throttled_and_the_final_text_lands():
    surface = RecordingSurface(interval=0.05)
    renderer = StreamRenderer(surface, placeholder="ph")
    text = "The quick brown fox jumps over the lazy dog. " * 20

    await stream(renderer, text, chunk=3, pause=0.002)
    await renderer.close()

    edits = [c for c in surface.calls if c[0] == "edit"]
    chunks = len(text) // 3
    assert 1 < len(edits) < chunks / 3  # batched, not one edit per chunk
    assert surface.messages == {"ph": text}  # the placeholder became the answer
    assert "ph" in surface.final


async def test_long_answer_continues_in_new_messages_with_code_intact():
    surface = RecordingSurface(max_chars=500)
    renderer = StreamRenderer(surface)
    code = "\n".join(f"x_{n} = {n}" for n in range(150))
    text = "Intro paragraph.\n\n```python\n" + code + "\n```\nDone."

    await stream(renderer, text, chunk=50)
    await renderer.close()

    messages = list(surface.messages.values())
    assert len(messages) > 3
    assert all(len(m) <= 500 for m in messages)
    assert all(m.count("```") % 2 == 0 for m in messages)
    assert set(surface.messages) == surface.final
    lines = [ln for m in messages for ln in m.splitlines() if ln.startswith("x_")]
    assert lines == [f"x_{n} = {n}" for n in range(150)]


async def test_tool_lines_follow_the_call_state():
    surface = RecordingSurface()
    renderer = StreamRenderer(surface)

    await renderer.handle(ev.ToolCall(tool="hf_search", arguments={}, tool_call_id="c1"))
    await renderer.handle(
        ev.ToolOutput(tool="hf_search", tool_call_id="c1", output="3 models found\nbert…")
    )
    await renderer.handle(ev.ToolStateChange(tool="hf_jobs", tool_call_id="c2", state="rejected"))
    await renderer.close()
    assert surface.calls == [
        ("line", "⏳ `hf_search` running"),
        ("line", "✅ `hf_search` done — 3 models found"),
        ("line", "🚫 `hf_jobs` rejected"),
    ]
    assert surface.lines == {
        "l1": "✅ `hf_search` done — 3 models found",
        "l2": "🚫 `hf_jobs` rejected",
    }


async def test_a_calls_progress_updates_its_own_line():
    surface = RecordingSurface()
    renderer = StreamRenderer(surface)

    await renderer.handle(ev.ToolCall(tool="bash", arguments={"command": "ls"}, tool_call_id="c1"))
    for stage in ("building", "running"):  # seconds apart in a thread: each one shows
        await renderer.handle(
            ev.ToolProgress(tool="bash", tool_call_id="c1", text=f"sandbox Space u/s: {stage}")
        )
        shown = f"⏳ `bash` running — sandbox Space u/s: {stage}"
        await eventually(lambda shown=shown: surface.lines.get("l1") == shown)
    await renderer.handle(ev.ToolOutput(tool="bash", tool_call_id="c1", output="exit code 0"))
    await renderer.close()
    assert list(surface.lines) == ["l1"]  # one line, edited: no new messages
    assert surface.lines["l1"] == "✅ `bash` done — `ls` → exit code 0"


async def test_rate_limit_is_waited_out_and_nothing_is_lost():
    surface = RecordingSurface()
    surface.fail_next = [RateLimited(0.2), RateLimited(0.1)]
    renderer = StreamRenderer(surface)

    loop = asyncio.get_running_loop()
    started = loop.time()
    await stream(renderer, "Hello after a 429.")
    await renderer.close()

    assert surface.transcript() == "Hello after a 429."
    assert loop.time() - started >= 0.3  # both Retry-After waits were honoured


async def test_errors_and_stops_are_shown_and_the_placeholder_never_lingers():
    surface = RecordingSurface()
    renderer = StreamRenderer(surface, placeholder="ph")
    await renderer.handle(ev.Error(error="The model provider is rate-limiting requests (429)."))
    await renderer.close()
    assert surface.notices == ["⚠️ The model provider is rate-limiting requests (429)."]
    assert surface.messages["ph"] == "✔️ Done." and "ph" in surface.final

    renderer = StreamRenderer(surface)
    await renderer.handle(ev.AssistantChunk(content="partial"))
    await renderer.handle(ev.Interrupted())
    assert surface.notices[-1] == "⏹️ Stopped."
    assert "partial" in surface.messages.values()


async def test_a_5xx_and_a_429_are_retried_until_the_final_text_lands():
    surface = RecordingSurface()
    surface.fail_next = [PlatformUnavailable("502"), RateLimited(0.01)]
    renderer = StreamRenderer(surface)

    await stream(renderer, "Arrives despite the platform.")
    await renderer.close()

    assert surface.transcript() == "Arrives despite the platform."
    assert not surface.fail_next


async def test_secrets_and_mass_mentions_never_reach_the_chat():
    register_secret("my-own-bot-password")
    token = "hf_" + "Zq9" * 12
    surface = RecordingSurface()
    renderer = StreamRenderer(surface)

    await stream(renderer, f"Your token is {token} and @everyone should see <!channel> now.", 5)
    await renderer.handle(ev.ToolCall(tool="echo", arguments={}, tool_call_id="c1"))
    await renderer.handle(
        ev.ToolOutput(tool="echo", tool_call_id="c1", output="login my-own-bot-password ok")
    )
    await renderer.show_approval(
        ev.ApprovalRequired(
            tools=[
                {"tool": "hf_jobs", "arguments": {"script": f"t='{token}'"}, "tool_call_id": "c2"}
            ],
            count=1,
            approval_id="a1",
        )
    )
    await renderer.handle(ev.Error(error=f"bad key xoxb-{'1' * 12}-abcdefghij"))
    await renderer.close()

    shown = json.dumps([surface.messages, surface.lines, surface.notices, surface.calls])
    assert token[:12] not in shown and "my-own-bot-password" not in shown
    assert "xoxb-1" not in shown
    assert "@everyone" not in surface.transcript() and "<!channel>" not in surface.transcript()
    assert surface.transcript() == (
        "Your token is [redacted] and @\u200beveryone should see @\u200bchannel now."
    )
    assert surface.approvals[0].tools[0]["arguments"]["script"] == "t='[redacted]'"


async def test_a_native_stream_is_closed_before_its_age_limit_and_goes_on_in_a_new_one():
    surface = StreamingSurface(max_seconds=0.05)
    renderer = StreamRenderer(surface)
    text = " ".join(f"w{n}" for n in range(300))

    await stream(renderer, text, chunk=20, pause=0.01)  # 0.6 s at least: 12 ages at most
    await renderer.close()

    assert len(surface.messages) >= 4
    assert surface.transcript() == text  # not a character lost or shown twice
    assert surface.final == set(surface.messages) and not surface.live  # every stream stopped


async def test_a_stream_the_platform_ends_early_goes_on_in_a_new_message():
    surface = StreamingSurface()
    surface.end_at = 3
    renderer = StreamRenderer(surface)
    code = "\n".join(f"print({n})" for n in range(40))
    text = "Here it is:\n\n```python\n" + code + "\n```\nThat is all."

    await stream(renderer, text, chunk=30, pause=0.005)
    await renderer.close()

    first, *others = surface.messages.values()
    assert others, "the rest went on in a new message"
    assert all(m.count("```") % 2 == 0 for m in surface.messages.values())
    assert ("edit", first) in surface.calls  # the ended stream's code block was closed
    # the only characters added are the fence closed at the cut and reopened after it
    assert surface.transcript().replace("```" + "```python\n", "") == text


async def test_no_stream_call_carries_more_than_the_platform_takes():
    surface = StreamingSurface(max_append=50)
    renderer = StreamRenderer(surface)
    text = " ".join(f"word{n}" for n in range(200))

    await stream(renderer, text, chunk=300)
    await renderer.close()

    sent = [t for kind, t in surface.calls if kind in ("start", "append")]
    assert len(sent) > len(text) // 50 and max(map(len, sent)) <= 50
    assert list(surface.messages.values()) == [text]


@pytest.mark.parametrize(
    ("ending", "notice"),
    [
        (ev.Interrupted(), "⏹️ Stopped."),
        (ev.Error(error="The model provider failed."), "⚠️ The model provider failed."),
        (ev.CutOff(), CUT_OFF),
    ],
)
async def test_an_answer_cut_short_ends_with_a_notice_saying_so(ending, notice):
    for surface in (RecordingSurface(max_chars=300), StreamingSurface(max_seconds=0.02)):
        renderer = StreamRenderer(surface, placeholder="ph")
        for n in range(100):
            await renderer.handle(ev.AssistantChunk(content=f"part{n} "))
        await renderer.handle(ending)
        await renderer.handle(ev.TurnComplete())
        await renderer.close()

        assert surface.calls[-1] == ("notice", notice)
        assert surface.notices == [notice]
        assert "part99" in surface.transcript()


async def test_each_edit_shows_the_newest_text_once_the_gate_opens():
    surface = RecordingSurface(interval=0.3)
    renderer = StreamRenderer(surface)
    await renderer.handle(ev.AssistantChunk(content="one "))
    await asyncio.sleep(0.05)  # the first message goes out at once
    for word in ("two ", "three ", "four "):
        await renderer.handle(ev.AssistantChunk(content=word))
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.4)  # the gate opens once while these wait
    shown = [text for kind, text in surface.calls if kind in ("post", "edit")]
    assert shown[:2] == ["one ", "one two three four "]  # not "one two ": that was stale
    await renderer.close()


class FileSurface(RecordingSurface):
    """A thread that takes files."""

    def __init__(self) -> None:
        super().__init__()
        self.files: list[tuple[str, bytes, str]] = []

    async def attach_file(self, filename: str, content: bytes, title: str) -> None:
        self.files.append((filename, content, title))


async def test_long_outputs_and_tool_images_are_attached_where_the_surface_can():
    surface = FileSurface()
    renderer = StreamRenderer(surface)
    png = base64.b64encode(b"\x89PNG-bytes").decode()
    image = {"filename": "image-1.png", "mime_type": "image/png", "data": png}
    await renderer.handle(
        ev.ToolOutput(tool="draw", tool_call_id="c1", output="ok", attachments=[image])
    )
    await renderer.handle(ev.ToolOutput(tool="dump", tool_call_id="c2", output="x " * 800))
    await renderer.handle(ev.ToolOutput(tool="short", tool_call_id="c3", output="fine"))
    await renderer.close()
    assert surface.files == [
        ("image-1.png", b"\x89PNG-bytes", "draw: image-1.png"),
        ("dump-output.txt", ("x " * 800).encode(), "dump output"),
    ]
    assert all(len(line) < 200 for line in surface.lines.values())


async def test_an_approved_call_goes_straight_to_running_without_a_line_of_its_own():
    surface = RecordingSurface(interval=0.0)
    renderer = StreamRenderer(surface)
    await renderer.handle(ev.ToolStateChange(tool_call_id="c1", tool="hf_jobs", state="approved"))
    await renderer.handle(ev.ToolStateChange(tool_call_id="c1", tool="hf_jobs", state="running"))
    await renderer.close()
    assert [text for kind, text in surface.calls if kind == "line"] == ["⏳ `hf_jobs` running"]


# ── feedback, typing and steps, where the surface can ────────────────────


class ProgressSurface(RecordingSurface):
    """A thread with every optional capability of the renderer's progress: 👍 / 👎 under
    a final answer, a typing indicator, and one message for a turn's tool lines."""

    typing_seconds = 0.01

    def __init__(self, interval: float = 0.0) -> None:
        super().__init__(interval=interval)
        self.rated: list[tuple[str, str, str]] = []
        self.steps: dict[str, tuple[list[str], bool]] = {}

    async def final_answer(self, ref: str, text: str, turn_id: str) -> None:
        self.calls.append(("rated", ref))
        self.rated.append((ref, text, turn_id))

    async def typing(self) -> None:
        self.calls.append(("typing", ""))

    async def post_steps(self, ref: str | None, lines: list[str], *, final: bool) -> str:
        ref = ref or f"steps{len(self.steps) + 1}"
        self.calls.append(("steps", ref))
        self.steps[ref] = (lines, final)
        return ref


async def test_the_last_answer_message_of_a_completed_turn_gets_the_thumbs():
    surface = ProgressSurface()
    surface.max_chars = 100
    renderer = StreamRenderer(surface, turn_id="t1")
    await stream(renderer, "Let me look. ")
    await renderer.handle(ev.ToolCall(tool="echo", tool_call_id="c1"))
    await renderer.handle(ev.ToolOutput(tool="echo", tool_call_id="c1", output="hi"))
    await stream(renderer, "word " * 40)  # two messages: the second is the last
    await renderer.handle(ev.TurnComplete())
    await renderer.close()

    first, *_, last = surface.messages
    assert len(surface.messages) >= 3 and surface.messages[first] == "Let me look. "
    assert surface.rated == [(last, surface.messages[last], "t1")]


@pytest.mark.parametrize(
    "ending",
    [
        [ev.CutOff(), ev.TurnComplete()],  # a notice is the last word
        [ev.ToolCall(tool="echo", tool_call_id="c1"), ev.TurnComplete()],  # a tool line is
        [ev.Interrupted()],  # no turn_complete at all
    ],
    ids=["cut-off", "tool-line-last", "stopped"],
)
async def test_no_thumbs_when_the_turn_does_not_end_on_its_answer(ending):
    surface = ProgressSurface()
    renderer = StreamRenderer(surface, turn_id="t1")
    await stream(renderer, "An answer. ")
    for event in ending:
        await renderer.handle(event)
    await renderer.close()
    assert surface.rated == []


async def test_typing_shows_until_the_answer_starts_and_never_after():
    surface = ProgressSurface()
    renderer = StreamRenderer(surface, turn_id="t1")
    await renderer.handle(ev.Processing())
    await eventually(lambda: len([c for c in surface.calls if c[0] == "typing"]) >= 3)
    await stream(renderer, "Here it is. " * 5, pause=0.02)
    await renderer.handle(ev.TurnComplete())
    await renderer.close()
    await asyncio.sleep(0.05)  # a leaked refresh would type again by now

    kinds = [kind for kind, _ in surface.calls]
    assert kinds.index("post") > max(i for i, k in enumerate(kinds) if k == "typing")


async def test_a_burst_of_tool_events_is_one_steps_message_drawn_a_few_times():
    surface = ProgressSurface(interval=0.05)
    renderer = StreamRenderer(surface, turn_id="t1")
    events = []
    for n in range(5):
        events.append(ev.ToolCall(tool="echo", tool_call_id=f"c{n}"))
    for n in range(5):
        events.append(ev.ToolOutput(tool="echo", tool_call_id=f"c{n}", output=f"out {n}"))
    for event in events:
        await renderer.handle(event)
    await renderer.close()

    assert surface.lines == {}, "no line of its own per call"
    ((ref, (lines, final)),) = surface.steps.items()
    assert final and lines == [f"✅ `echo` done — out {n}" for n in range(5)]
    draws = [c for c in surface.calls if c[0] == "steps"]
    assert len(draws) < len(events), "changes that wait for the gate are drawn together"


def test_a_calls_progress_shows_in_its_own_step():
    book = StepBook()
    book.of(ev.ToolCall(tool="bash", arguments={"command": "ls"}, tool_call_id="c1"))
    progress = ev.ToolProgress(tool="bash", tool_call_id="c1", text="sandbox Space u/s: building")
    (step,), _ = book.of(progress)
    assert (step.id, step.title, step.state) == ("c1", "bash · ls", "running")
    assert step.details == "sandbox Space u/s: building"
