"""The shared stream renderer: throttled edits, splitting, tool lines, 429 back-off."""

import asyncio

from agent import events as ev
from bot.render import RateLimited, StreamRenderer
from tests.support import RecordingSurface


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
    assert "running" in surface.lines["l1"]
    await renderer.handle(
        ev.ToolOutput(tool="hf_search", tool_call_id="c1", output="3 models found\nbert…")
    )
    assert surface.lines == {"l1": "✅ `hf_search` done — 3 models found"}
    await renderer.handle(ev.ToolStateChange(tool="hf_jobs", tool_call_id="c2", state="rejected"))
    assert surface.lines["l2"] == "🚫 `hf_jobs` rejected"


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
