"""The agent loop against the loopback OpenAI-compatible server, on both stream paths:
the ``openai`` client and LiteLLM."""

import asyncio
import json

import pytest

from agent import events as ev
from agent.context import SUMMARY_INSTRUCTIONS, SUMMARY_PREFIX
from agent.llm import LiteLLMClient, OpenAIClient
from agent.loop import ABANDONED, EDITED_NOTE, INTERRUPTED, TRUNCATED_NOTE
from agent.session import Session
from agent.tools.registry import Tool, ToolRegistry
from tests import support
from tests.closing import closed
from tests.standins.llm import (
    context_window_exceeded,
    error,
    hang,
    text,
    tool_calls,
    truncated,
)
from tests.support import RAN, Recorder, assert_history_valid, eventually

GPU_JOB = {"operation": "run", "hardware_flavor": "a10g-small", "script": "print(1)"}


@pytest.fixture
async def make_agent(llm_client):
    """``tests.support.make_agent`` on the stream path of this run of the test."""
    made = []

    def make(llm, tools=None, **overrides):
        agent = support.make_agent(llm, tools, llm_client=llm_client, **overrides)
        assert type(agent.llm) is (LiteLLMClient if llm_client == "litellm" else OpenAIClient)
        made.append(agent)
        return agent

    yield make
    for agent in made:
        await closed("an LLM client", agent.llm.aclose())


def sent_messages_valid(request: dict) -> None:
    """The messages of a request to the model: every tool call answered, in order."""
    session = Session(
        key="check", history=[m for m in request["messages"] if m["role"] != "system"]
    )
    assert_history_valid(session)


async def test_full_turn_streams_text_and_completes(llm, make_agent):
    llm.script(text("Hello! I can help with models, datasets and jobs.", chunk_size=5))
    agent, rec, session = make_agent(llm), Recorder(), Session(key="k")

    await agent.run(session, "hi", rec.turn)

    assert len(rec.of(ev.AssistantChunk)) > 1
    assert rec.text() == "Hello! I can help with models, datasets and jobs."
    assert rec.types()[0] == "processing"
    assert rec.types()[-2:] == ["assistant_stream_end", "turn_complete"]
    assert rec.of(ev.TurnComplete)[0].history_size == 2
    assert session.history == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello! I can help with models, datasets and jobs."},
    ]
    request = llm.requests[0]
    assert request["messages"][0]["role"] == "system"
    assert {t["function"]["name"] for t in request["tools"]} >= {"plan", "echo", "hf_jobs"}
    assert rec.checkpoints >= 2


async def test_parallel_tools_run_at_once_and_results_go_back_in_order(llm, make_agent):
    llm.script(
        tool_calls(("echo", {"text": "a"}), ("plan", {"items": [{"task": "look"}]})),
        text("Both done."),
    )
    agent, rec, session = make_agent(llm), Recorder(), Session(key="k")

    await agent.run(session, "go", rec.turn)

    outputs = rec.of(ev.ToolOutput)
    assert [o.tool for o in outputs] == ["echo", "plan"]
    assert outputs[0].output == "echo: a" and outputs[0].success
    assert "[ ] 1. look" in outputs[1].output
    assert session.state["plan"] == [{"task": "look", "status": "pending"}]
    assert_history_valid(session)
    second = llm.requests[1]["messages"]
    assert [m["role"] for m in second[-3:]] == ["assistant", "tool", "tool"]
    sent_messages_valid(llm.requests[1])
    assert rec.text() == "Both done."


async def test_a_tool_reports_its_progress_as_events_of_its_own_call(llm, make_agent):
    async def building(args, ctx):
        for stage in ("building", "running"):
            await ctx.progress(stage)
        return "ready"

    tools = ToolRegistry([Tool("build", "Builds.", {"type": "object"}, building)])
    llm.script(tool_calls(("build", {})), text("done"))
    agent, rec = make_agent(llm, tools), Recorder()

    await agent.run(Session(key="k"), "go", rec.turn)

    (call,) = rec.of(ev.ToolCall)
    shown = [(e.tool, e.tool_call_id, e.text) for e in rec.of(ev.ToolProgress)]
    assert shown == [("build", call.tool_call_id, s) for s in ("building", "running")]
    assert rec.types().index("tool_progress") < rec.types().index("tool_output")


async def test_tools_really_run_concurrently(llm, make_agent):
    # each call waits until all three are inside: run one by one, they would say "alone"
    llm.script(tool_calls(*[("meet", {"n": 3}) for _ in range(3)]), text("ok"))
    agent, rec, session = make_agent(llm), Recorder(), Session(key="k")

    await agent.run(session, "go", rec.turn)

    assert [o.output for o in rec.of(ev.ToolOutput)] == ["met"] * 3
    assert_history_valid(session)


async def _paused_on_gpu_job(llm, agent, rec, session, job=GPU_JOB):
    llm.script(tool_calls(("hf_jobs", job)))
    await agent.run(session, "train it", rec.turn)
    (approval,) = rec.of(ev.ApprovalRequired)
    return approval


async def test_gpu_job_pauses_for_approval_then_runs_when_approved(llm, make_agent):
    agent, rec, session = make_agent(llm), Recorder(), Session(key="k")
    approval = await _paused_on_gpu_job(llm, agent, rec, session)

    assert approval.count == 1 and approval.tools[0]["arguments"] == GPU_JOB
    assert session.pending and session.pending.approval_id == approval.approval_id
    assert RAN == [] and "turn_complete" not in rec.types()

    llm.script(text("Job is running."))
    call_id = approval.tools[0]["tool_call_id"]
    await agent.resume(session, [{"tool_call_id": call_id, "approved": True}], rec.turn)

    assert RAN == [("hf_jobs", GPU_JOB)]
    states = [e.state for e in rec.of(ev.ToolStateChange)]
    assert states == ["approved", "running"]
    assert session.pending is None
    assert rec.types()[-1] == "turn_complete"
    assert_history_valid(session)
    sent_messages_valid(llm.requests[-1])


async def test_rejection_carries_sanitised_feedback_and_runs_nothing(llm, make_agent):
    agent, rec, session = make_agent(llm), Recorder(), Session(key="k")
    approval = await _paused_on_gpu_job(llm, agent, rec, session)
    llm.script(text("OK, I will use a T4."))
    call_id = approval.tools[0]["tool_call_id"]

    await agent.resume(
        session,
        [{"tool_call_id": call_id, "approved": False, "feedback": " use a t4\x07 please "}],
        rec.turn,
    )

    assert RAN == []
    result = next(m for m in session.history if m.get("tool_call_id") == call_id)
    assert result["content"] == "Job execution cancelled by user. User feedback: use a t4 please"
    assert rec.of(ev.ToolStateChange)[-1].state == "rejected"
    assert_history_valid(session)


async def test_edited_script_is_the_one_executed_and_the_model_is_told(llm, make_agent):
    agent, rec, session = make_agent(llm), Recorder(), Session(key="k")
    approval = await _paused_on_gpu_job(llm, agent, rec, session)
    llm.script(text("Done."))
    call_id = approval.tools[0]["tool_call_id"]

    await agent.resume(
        session,
        [{"tool_call_id": call_id, "approved": True, "edited_script": "print(2)"}],
        rec.turn,
    )

    assert RAN == [("hf_jobs", {**GPU_JOB, "script": "print(2)"})]
    result = next(m for m in session.history if m.get("tool_call_id") == call_id)
    assert result["content"].startswith(EDITED_NOTE)
    assert result["content"].endswith("print(2)")


async def test_mixed_batch_runs_safe_calls_and_waits_for_the_rest(llm, make_agent):
    llm.script(
        tool_calls(
            ("echo", {"text": "x"}),
            ("hf_jobs", GPU_JOB),
            ("sandbox_create", {"hardware": "t4-small"}),
        )
    )
    agent, rec, session = make_agent(llm), Recorder(), Session(key="k")

    await agent.run(session, "go", rec.turn)

    assert RAN == [("echo", {"text": "x"})]
    (approval,) = rec.of(ev.ApprovalRequired)
    assert [t["tool"] for t in approval.tools] == ["hf_jobs", "sandbox_create"]
    assert_history_valid(session)  # pending calls excepted


async def test_new_message_abandons_the_pending_approval(llm, make_agent):
    agent, rec, session = make_agent(llm), Recorder(), Session(key="k")
    approval = await _paused_on_gpu_job(llm, agent, rec, session)
    llm.script(text("Sure, never mind."))

    await agent.run(session, "actually, don't", rec.turn)

    change = rec.of(ev.ToolStateChange)[-1]
    assert change.state == "abandoned" and change.tool_call_id == approval.tools[0]["tool_call_id"]
    assert session.pending is None
    assert any(m.get("content") == ABANDONED for m in session.history)
    assert RAN == []
    assert_history_valid(session)
    sent_messages_valid(llm.requests[-1])


async def test_stop_mid_stream_keeps_history_valid_and_next_turn_works(llm, make_agent):
    llm.script(hang())
    agent, rec, session = make_agent(llm), Recorder(), Session(key="k")
    task = asyncio.create_task(agent.run(session, "write an essay", rec.turn))
    await eventually(lambda: len(llm.requests) == 1)
    await asyncio.sleep(0.1)

    rec.turn.cancel.set()
    await asyncio.wait_for(task, 5)

    assert rec.types()[-1] == "interrupted"
    assert_history_valid(session)
    llm.script(text("Fresh answer."))
    rec2 = Recorder()
    await agent.run(session, "again", rec2.turn)
    assert rec2.text() == "Fresh answer."
    sent_messages_valid(llm.requests[-1])


async def test_stop_mid_tool_closes_every_open_call(llm, make_agent):
    llm.script(tool_calls(("slow", {"seconds": 30}), ("echo", {"text": "quick"})))
    agent, rec, session = make_agent(llm), Recorder(), Session(key="k")
    task = asyncio.create_task(agent.run(session, "go", rec.turn))
    await eventually(lambda: any(name == "slow" for name, _ in RAN))

    rec.turn.cancel.set()
    await asyncio.wait_for(task, 5)

    assert rec.types()[-1] == "interrupted"
    interrupted = [e for e in rec.of(ev.ToolStateChange) if e.state == "interrupted"]
    assert [e.tool for e in interrupted] == ["slow"]
    contents = {m["name"]: m["content"] for m in session.history if m["role"] == "tool"}
    assert contents == {"echo": "echo: quick", "slow": INTERRUPTED}
    assert_history_valid(session)

    llm.script(text("Picking up."))
    await agent.run(session, "continue", Recorder().turn)
    sent_messages_valid(llm.requests[-1])


def _long_history(turns: int, size: int = 400) -> list[dict]:
    history = []
    for n in range(turns):
        history.append({"role": "user", "content": f"question {n} " + "word " * size})
        history.append({"role": "assistant", "content": f"answer {n} " + "word " * size})
    return history


async def test_compaction_summarises_older_turns_near_the_window(llm, make_agent):
    llm.script(text("They discussed six questions."), text("Here you go."))
    agent = make_agent(llm, context_window=2000, keep_recent_turns=1)
    rec, session = Recorder(), Session(key="k", history=_long_history(6))

    await agent.run(session, "last question", rec.turn)

    (compacted,) = rec.of(ev.Compacted)
    assert compacted.new_tokens < compacted.old_tokens
    summary_request = llm.requests[0]
    assert not summary_request.get("stream")
    assert summary_request["messages"][0]["content"] == SUMMARY_INSTRUCTIONS
    assert session.history[0]["content"] == SUMMARY_PREFIX + "They discussed six questions."
    assert session.history[1] == {"role": "user", "content": "last question"}
    assert rec.text() == "Here you go."


async def test_compaction_names_images_without_their_data(llm, make_agent):
    # a shared image in an older turn: the summariser gets its text and "[image]", no base64
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "QUJD" * 500}}
    shared = [{"type": "text", "text": "question 0 see the loss curve"}, image]
    history = [{"role": "user", "content": shared}, *_long_history(6)[1:]]
    llm.script(text("They looked at a loss curve."), text("Here you go."))
    agent = make_agent(llm, context_window=2000, keep_recent_turns=1)
    rec, session = Recorder(), Session(key="k", history=history)

    await agent.run(session, "last question", rec.turn)

    assert len(rec.of(ev.Compacted)) == 1
    transcript = llm.requests[0]["messages"][1]["content"]
    assert "user: question 0 see the loss curve\n[image]" in transcript
    assert "QUJD" not in transcript
    assert rec.text() == "Here you go."


async def test_context_window_error_forces_compaction_and_one_retry(llm, make_agent):
    llm.script(context_window_exceeded(), text("Summary."), text("Answer after compaction."))
    agent = make_agent(llm, context_window=1_000_000)
    rec, session = Recorder(), Session(key="k", history=_long_history(4, size=10))

    await agent.run(session, "next", rec.turn)

    assert len(rec.of(ev.Compacted)) == 1
    assert rec.text() == "Answer after compaction."
    assert session.history[0]["content"].startswith(SUMMARY_PREFIX)
    assert rec.types()[-1] == "turn_complete"


async def test_repeated_context_window_errors_end_with_a_readable_error(llm, make_agent):
    llm.script(context_window_exceeded(), text("Summary."), context_window_exceeded())
    agent = make_agent(llm, context_window=1_000_000)
    rec, session = Recorder(), Session(key="k", history=_long_history(4, size=10))

    await agent.run(session, "next", rec.turn)

    assert "context window" in rec.of(ev.Error)[0].error


async def test_undo_removes_the_last_turn(llm, make_agent):
    llm.script(text("first"), tool_calls(("echo", {"text": "x"})), text("second"))
    agent, rec, session = make_agent(llm), Recorder(), Session(key="k")
    await agent.run(session, "one", rec.turn)
    await agent.run(session, "two", rec.turn)

    await agent.undo(session, rec.turn)

    assert session.history == [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "first"},
    ]
    assert rec.of(ev.UndoComplete)[0].removed == 4


async def test_malformed_arguments_become_errors_the_model_recovers_from(llm, make_agent):
    llm.script(
        tool_calls(
            ("echo", '{"text": "unterminated'),
            ("echo", '["not", "an", "object"]'),
            ("hf_jobs", {"operation": "ps", "args": "a string"}),
        ),
        text("Recovered."),
    )
    agent, rec, session = make_agent(llm), Recorder(), Session(key="k")

    await agent.run(session, "go", rec.turn)

    outputs = rec.of(ev.ToolOutput)
    assert len(outputs) == 3 and not any(o.success for o in outputs)
    assert "malformed JSON" in outputs[0].output
    assert "JSON object" in outputs[1].output
    assert "'args' must be a JSON object" in outputs[2].output
    assert RAN == []
    assert_history_valid(session)
    sent = llm.requests[1]["messages"]
    assert all(
        json.loads(tc["function"]["arguments"]) is not None
        for m in sent
        for tc in m.get("tool_calls") or []
    )
    assert rec.text() == "Recovered."


async def test_length_cut_drops_partial_tool_calls_and_tells_the_model(llm, make_agent):
    llm.script(truncated(calls=[("echo", {"text": "big"})]), text("Smaller now."))
    agent, rec, session = make_agent(llm), Recorder(), Session(key="k")

    await agent.run(session, "go", rec.turn)

    assert RAN == []
    assert llm.requests[1]["messages"][-1] == {"role": "user", "content": TRUNCATED_NOTE}
    assert_history_valid(session)
    assert rec.text() == "Smaller now."


async def test_an_answer_cut_at_the_output_limit_is_flagged_after_its_text(llm, make_agent):
    llm.script(truncated("The first half of a long"), text("Done."))
    agent, rec, session = make_agent(llm), Recorder(), Session(key="k")

    await agent.run(session, "write a lot", rec.turn)

    assert rec.types()[-4:] == [
        "assistant_chunk",
        "assistant_stream_end",
        "cut_off",
        "turn_complete",
    ]
    assert session.history[-1] == {"role": "assistant", "content": "The first half of a long"}
    assert len(llm.requests) == 1  # the user decides whether to continue
    assert ev.event_from_dict(ev.CutOff().to_dict()) == ev.CutOff()  # crosses processes

    rec2 = Recorder()
    await agent.run(session, "continue", rec2.turn)
    assert rec2.of(ev.CutOff) == []  # a reply that ended by itself is not flagged


async def test_rate_limit_ends_the_turn_readably_and_the_session_stays_usable(llm, make_agent):
    llm.script(error(429, "slow down", headers={"Retry-After": "0"}))
    agent, rec, session = make_agent(llm), Recorder(), Session(key="k")

    await agent.run(session, "hi", rec.turn)

    (err,) = rec.of(ev.Error)
    assert "429" in err.error and "Traceback" not in err.error
    llm.script(text("Back."))
    rec2 = Recorder()
    await agent.run(session, "hi again", rec2.turn)
    assert rec2.text() == "Back."


async def test_max_iterations_stops_a_runaway_loop(llm, make_agent):
    llm.script(*[tool_calls(("echo", {"text": str(n)})) for n in range(2)])
    agent, rec, session = make_agent(llm, max_iterations=2), Recorder(), Session(key="k")

    await agent.run(session, "loop", rec.turn)

    assert "Stopped after 2 steps" in rec.of(ev.Error)[0].error
    assert len(RAN) == 2
    assert_history_valid(session)
