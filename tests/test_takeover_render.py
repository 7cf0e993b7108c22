"""A taker's renderer goes on from what a dead worker's turn left visible, on Slack's API.

The dead worker's renderer reports what it shows (``on_shown``) and is then cut off
mid-answer, as by a SIGKILL; the taker gets that report back (``resume``) and answers.
The thread, read as a person reads it in the Slack stand-in, holds one whole answer, no
unmarked partial one, no placeholder, Stop button or status.
"""

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.surface import SlackSurfaces
from agent import events as ev
from bot.output.messages import INTERRUPTED, NOT_RUN_AGAIN, TAKEN_OVER
from bot.output.render import StreamRenderer
from bot.output.status import show_working
from bot.output.visible import Visible
from bot.platform import call_surface
from bot.session_key import SessionKey
from tests.closing import bounded
from tests.fleet import wait_for
from tests.standins.slack import SlackStandIn

CHANNEL, THREAD = "C0FAULT", "1700000000.000100"
KEY = SessionKey("slack", "T0TEAM", CHANNEL, THREAD).encode()
PARTIAL = "The first half of an answer that was being written when "
ANSWER = "A whole answer, written again by the worker that took the turn over."


@pytest.fixture
async def slack():
    async with bounded("the Slack stand-in", SlackStandIn()) as server:
        server.streaming_enabled = True
        yield server


def surfaces(slack, *, native: bool) -> SlackSurfaces:
    client = AsyncWebClient(token=slack.token, base_url=slack.base_url)
    return SlackSurfaces(client, interval=0.0, native_streaming=native)


async def dead_turn(slack, ref: dict, *, native: bool, whole: bool = False) -> Visible:
    """A turn shows part of its answer (all of it, ``whole``, but it is not saved yet),
    then its worker dies: what it last reported."""
    reports: list[Visible] = []

    async def keep(visible: Visible) -> None:
        reports.append(visible)

    surface = surfaces(slack, native=native)(KEY, ref)
    renderer = StreamRenderer(surface, ref.get("placeholder"), turn_id="t1", on_shown=keep)
    await renderer.handle(ev.Processing())
    await renderer.handle(ev.AssistantChunk(content=PARTIAL))
    await wait_for(lambda: reports and reports[-1].text == PARTIAL)
    if whole:
        await renderer.handle(ev.AssistantStreamEnd())
        await renderer.handle(ev.TurnComplete())
        await renderer.close()
    renderer.halt()  # SIGKILL: nothing more from it
    return reports[-1]


async def take_over(slack, ref: dict, left: Visible, *, native: bool) -> None:
    surface = surfaces(slack, native=native)(KEY, ref)
    renderer = StreamRenderer(surface, ref.get("placeholder"), turn_id="t1", resume=left)
    await renderer.adopt()
    await renderer.notice(TAKEN_OVER)
    await renderer.handle(ev.Processing())
    for at in range(0, len(ANSWER), 9):
        await renderer.handle(ev.AssistantChunk(content=ANSWER[at : at + 9]))
    await renderer.handle(ev.AssistantStreamEnd())
    await renderer.handle(ev.TurnComplete())
    await renderer.close()


def assert_reads_well(slack) -> list[str]:
    messages = slack.thread(CHANNEL, THREAD)
    shown = [m.shown() for m in messages]
    assert shown.count(ANSWER) == 1
    assert not any(m.button_ids() for m in messages)  # no Stop button left
    assert not any(m.streaming for m in messages)
    assert not any("thinking" in text for text in shown)
    assert slack.shown_status(CHANNEL, THREAD) == ""
    return shown


async def test_an_edited_answer_goes_on_in_the_same_message(slack):
    surface = surfaces(slack, native=False)(KEY, {"user": "U1"})
    placeholder = await call_surface(surface, surface.post, "🤔 thinking…")
    ref = {"user": "U1", "placeholder": placeholder}
    left = await dead_turn(slack, ref, native=False)
    assert left.mode == "edit" and left.refs == (placeholder,) and left.placeholder is None

    await take_over(slack, ref, left, native=False)

    assert assert_reads_well(slack) == [ANSWER, TAKEN_OVER]
    assert slack.messages[placeholder].shown() == ANSWER  # written in the same message


async def test_a_native_stream_is_marked_in_place_and_the_answer_follows(slack):
    surface = surfaces(slack, native=True)(KEY, {"user": "U1"})
    assert await show_working(surface)
    left = await dead_turn(slack, {"user": "U1"}, native=True)
    assert left.mode == "stream" and len(left.refs) == 1 and len(left.controls) == 1

    await take_over(slack, {"user": "U1"}, left, native=True)

    shown = assert_reads_well(slack)
    assert shown == [f"{PARTIAL.rstrip()}\n\n{INTERRUPTED}", TAKEN_OVER, ANSWER]
    assert left.controls[0] not in slack.messages  # the dead worker's Stop control is gone


async def test_an_answer_shown_whole_but_not_saved_is_written_again_in_place(slack):
    left = await dead_turn(slack, {"user": "U1"}, native=True, whole=True)
    assert left.whole and left.mode == "stream" and len(left.refs) == 1

    await take_over(slack, {"user": "U1"}, left, native=True)

    assert assert_reads_well(slack) == [ANSWER, TAKEN_OVER]  # not a second answer below
    assert slack.messages[left.refs[0]].shown() == ANSWER


async def test_a_tool_line_left_running_is_updated_in_place_as_not_run_again(slack):
    """A worker dies while ``bash`` runs: the taker turns that "running" line into one
    that says the command was stopped and not run again, in the same message."""
    reports: list[Visible] = []

    async def keep(visible: Visible) -> None:
        reports.append(visible)

    surface = surfaces(slack, native=False)(KEY, {"user": "U1"})
    dead = StreamRenderer(surface, None, turn_id="t1", on_shown=keep)
    call = ev.ToolCall(tool="bash", arguments={"command": "sleep 5"}, tool_call_id="c1")
    await dead.handle(call)
    await wait_for(lambda: reports and reports[-1].lines)
    dead.halt()
    ((call_id, ref, named),) = reports[-1].lines
    assert (call_id, named) == ("c1", "`sleep 5`")
    left = Visible.from_dict(reports[-1].to_dict())  # as stored in Redis and read back

    taker = StreamRenderer(surface, None, turn_id="t1", resume=left)
    await taker.adopt()
    await taker.handle(ev.ToolStateChange(tool_call_id="c1", tool="bash", state="interrupted"))
    await taker.close()

    (line,) = slack.thread(CHANNEL, THREAD)
    assert line.ts == ref
    assert line.shown() == f"⏹️ `bash` interrupted — `sleep 5` → {NOT_RUN_AGAIN}"


async def test_a_tool_line_that_ended_is_not_left_for_a_taker(slack):
    reports: list[Visible] = []

    async def keep(visible: Visible) -> None:
        reports.append(visible)

    surface = surfaces(slack, native=False)(KEY, {"user": "U1"})
    renderer = StreamRenderer(surface, None, turn_id="t1", on_shown=keep)
    await renderer.handle(ev.ToolCall(tool="bash", arguments={"command": "ls"}, tool_call_id="c1"))
    await wait_for(lambda: reports and reports[-1].lines)
    await renderer.handle(
        ev.ToolOutput(tool="bash", tool_call_id="c1", output="exit code 0", success=True)
    )
    await renderer.close()
    assert reports[-1].lines == ()


async def test_a_step_left_running_in_a_stream_is_ended_in_place_as_not_run_again(slack):
    """In a native stream the call is a step: the taker ends it in the dead worker's
    stream, and starts no second one just to say it stopped."""
    reports: list[Visible] = []

    async def keep(visible: Visible) -> None:
        reports.append(visible)

    surface = surfaces(slack, native=True)(KEY, {"user": "U1"})
    dead = StreamRenderer(surface, None, turn_id="t1", on_shown=keep)
    await dead.handle(ev.Processing())
    await dead.handle(ev.AssistantChunk(content=PARTIAL))
    call = ev.ToolCall(tool="bash", arguments={"command": "sleep 5"}, tool_call_id="c1")
    await dead.handle(call)
    await wait_for(lambda: reports and reports[-1].lines)
    dead.halt()
    left = Visible.from_dict(reports[-1].to_dict())

    taker = StreamRenderer(surface, None, turn_id="t1", resume=left)
    await taker.adopt()
    await taker.handle(ev.ToolStateChange(tool_call_id="c1", tool="bash", state="interrupted"))
    await taker.close()

    (stream,) = [m for m in slack.thread(CHANNEL, THREAD) if m.tasks]
    assert stream.ts == left.refs[-1] and not stream.streaming
    assert stream.tasks["c1"]["status"] == "error"
    assert stream.tasks["c1"]["output"] == NOT_RUN_AGAIN
