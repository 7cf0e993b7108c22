"""The ``research`` sub-agent, scripted through the LLM stand-in: its own context, only
read-only tools, its steps as the parent call's progress, only its summary returned."""

import asyncio

import pytest
from huggingface_hub import HfApi

from agent import events as ev
from agent.research import ResearchLimits, ResearchTool
from agent.session import Session
from agent.tools import build_hf_tools
from agent.tools.github import GitHubTools
from agent.tools.http import HttpClient
from agent.tools.registry import Tool, ToolRegistry
from agent.tools.web import WebSearchTool
from bot.output.render import StreamRenderer
from bot.output.steps import StepBook
from tests import support, test_slack
from tests.standins.github import GitHubStandIn
from tests.standins.hub import TOKEN, hub  # noqa: F401
from tests.standins.llm import text, tool_calls
from tests.standins.web import SearchStandIn
from tests.support import RAN, Recorder, RecordingSurface, eventually


@pytest.fixture
async def github():
    async with GitHubStandIn() as stand_in:
        yield stand_in


@pytest.fixture
async def search():
    results = [{"title": "DPO guide", "url": "https://example.org/dpo", "content": "DPO beta"}]
    async with SearchStandIn(results) as stand_in:
        yield stand_in


def with_research(tools: ToolRegistry, llm, **limits) -> ToolRegistry:
    tools.add(ResearchTool(tools, support.agent_config(llm), ResearchLimits(**limits)).tool())
    return tools


def sub_request(llm, n):
    """The ``n``-th request the model got, with the names of the tools it was offered."""
    request = llm.requests[n]
    return request, {t["function"]["name"] for t in request.get("tools", [])}


async def test_research_reads_with_three_tools_and_returns_only_its_summary(llm, github, search):
    http = HttpClient("stand-in", retries=0)
    tools = support.test_tools()
    for tool in [*GitHubTools(github.url, http=http).tools(), WebSearchTool(search.url).tool()]:
        tools.add(tool)
    agent = support.make_agent(llm, with_research(tools, llm))
    read = {"repo": "huggingface/trl", "path": "examples/scripts/dpo.py", "end_line": 3}
    llm.script(
        tool_calls(("research", {"task": "How do I run DPO with TRL today?"})),
        tool_calls(
            ("github_find_examples", {"library": "trl", "keyword": "dpo"}),
            ("web_search", {"query": "trl dpo"}),
        ),
        tool_calls(("github_read_file", read)),
        text("SUMMARY: use DPOTrainer as in examples/scripts/dpo.py (beta from the guide)."),
        text("Here is the plan."),
    )
    rec, session = Recorder(), Session(key="k")

    await agent.run(session, "Fine-tune with DPO", rec.turn)

    (call,) = rec.of(ev.ToolCall)
    (output,) = rec.of(ev.ToolOutput)
    assert output.tool == "research" and output.success
    assert output.output.startswith("SUMMARY: use DPOTrainer")
    assert "[research: 3 tool calls, 3 model calls" in output.output
    progress = [e.text for e in rec.of(ev.ToolProgress)]
    assert {e.tool_call_id for e in rec.of(ev.ToolProgress)} == {call.tool_call_id}
    assert progress[0] == "→ github_find_examples · trl · dpo"
    assert any(p.startswith("✓ github_read_file: huggingface/trl/examples") for p in progress)
    assert any(p.startswith("✓ web_search: Web results") for p in progress)

    sub, offered = sub_request(llm, 1)
    assert sub["messages"][0]["content"].startswith("You are a research assistant")
    assert sub["messages"][1] == {"role": "user", "content": "How do I run DPO with TRL today?"}
    assert offered == {
        "github_find_examples",
        "github_read_file",
        "github_list_repos",
        "web_search",
    }
    final, _ = sub_request(llm, 4)
    sent = str(final["messages"])
    assert "SUMMARY: use DPOTrainer" in sent
    assert "# dpo line 1" not in sent and "DPO beta" not in sent, "what research read stays there"
    assert [m["role"] for m in session.history] == ["user", "assistant", "tool", "assistant"]


async def test_a_research_step_that_needs_approval_is_refused_and_nothing_runs(llm, hub, tmp_path):  # noqa: F811
    api = HfApi(endpoint=hub.url, token=TOKEN)
    tools = ToolRegistry(build_hf_tools(api, sandbox_root=tmp_path))
    agent = support.make_agent(llm, with_research(tools, llm))
    job = {"operation": "run", "hardware_flavor": "a10g-small", "command": ["python", "-V"]}
    upload = {
        "operation": "upload",
        "repo_id": "tester/x",
        "files": [{"path_in_repo": "a", "content": "b"}],
    }
    llm.script(
        tool_calls(("research", {"task": "Find out if the GPU works"})),
        tool_calls(("hf_jobs", job), ("hf_repo_files", upload)),
        text("I could not run a job: research only reads."),
        text("Research cannot run jobs; shall I?"),
    )
    rec = Recorder()

    await agent.run(Session(key="k"), "check the GPU", rec.turn)

    assert not rec.of(ev.ApprovalRequired)
    progress = [e.text for e in rec.of(ev.ToolProgress)]
    assert any(
        p.startswith("✗ hf_jobs: ERROR: 'hf_jobs run' is not available to research")
        for p in progress
    )
    assert any(p.startswith("✗ hf_repo_files: ERROR: 'hf_repo_files upload'") for p in progress)
    assert hub.calls("POST", r"/api/jobs/") == []
    assert hub.calls("POST", r"/commit/") == []
    _, offered = sub_request(llm, 1)
    assert "sandbox_write" not in offered
    assert "hf_jobs" in offered  # offered for its prices (hardware); the run was refused
    assert {"hf_search", "hf_repo_files"} <= offered
    (output,) = rec.of(ev.ToolOutput)
    assert output.output.startswith("I could not run a job")


async def test_a_research_task_past_its_step_limit_summarises_what_it_found(llm, search):
    tools = support.test_tools()
    tools.add(WebSearchTool(search.url).tool())
    agent = support.make_agent(llm, with_research(tools, llm, max_iterations=2))
    llm.script(
        tool_calls(("research", {"task": "everything about DPO"})),
        tool_calls(("web_search", {"query": "dpo"})),
        tool_calls(("web_search", {"query": "dpo beta"})),
        text("PARTIAL: DPO uses beta."),
        text("Done."),
    )
    rec = Recorder()

    await agent.run(Session(key="k"), "research DPO", rec.turn)

    (output,) = rec.of(ev.ToolOutput)
    assert output.output.startswith("PARTIAL: DPO uses beta.")
    wrap_up = llm.requests[3]["messages"][-1]["content"]
    assert wrap_up.startswith("Stop researching now (Stopped after 2 steps")
    assert RAN == [], "the echo and hf_jobs doubles never ran"


async def _wait(args, ctx):
    await asyncio.sleep(30)
    return "never"


async def test_a_research_task_past_its_time_limit_is_stopped_and_summarises(llm):
    tools = support.test_tools()
    tools.add(Tool("wait", "Wait.", {"type": "object"}, _wait, read_only=True))
    agent = support.make_agent(llm, with_research(tools, llm, max_seconds=0.2))
    llm.script(
        tool_calls(("research", {"task": "wait for it"})),
        tool_calls(("wait", {})),
        text("PARTIAL: nothing yet."),
        text("Done."),
    )
    rec = Recorder()

    await agent.run(Session(key="k"), "research slowly", rec.turn)

    (output,) = rec.of(ev.ToolOutput)
    assert output.output.startswith("PARTIAL: nothing yet.")
    assert "stopped: 0.2 s passed" in output.output
    wrap_up = llm.requests[2]["messages"]
    assert wrap_up[-1]["content"].startswith("Stop researching now (0.2 s passed)")
    assert wrap_up[-2]["role"] == "tool", "the interrupted call is closed before the wrap-up"


async def test_a_research_task_past_its_token_limit_is_stopped_and_summarises(llm):
    tools = support.test_tools()
    tools.add(Tool("lookup", "Look it up.", {"type": "object"}, _lookup, read_only=True))
    agent = support.make_agent(llm, with_research(tools, llm, max_tokens=5))
    llm.script(
        tool_calls(("research", {"task": "look"})),
        tool_calls(("lookup", {"query": "a"})),
        text("PARTIAL: a."),
        text("Done."),
    )
    rec = Recorder()

    await agent.run(Session(key="k"), "research", rec.turn)

    (output,) = rec.of(ev.ToolOutput)
    assert output.output.startswith("PARTIAL: a.")
    assert "stopped: 5 tokens used" in output.output
    assert len(llm.requests) == 4, "no second research step after the limit"


async def test_research_progress_shows_in_the_calls_line_and_as_its_steps_details():
    surface = RecordingSurface()
    renderer = StreamRenderer(surface)
    await renderer.handle(ev.ToolCall(tool="research", arguments={}, tool_call_id="r1"))
    await renderer.handle(
        ev.ToolProgress(tool="research", tool_call_id="r1", text="→ web_search · dpo")
    )
    await eventually(
        lambda: ("line", "⏳ `research` running — → web_search · dpo") in surface.calls
    )
    await renderer.handle(ev.ToolOutput(tool="research", tool_call_id="r1", output="summary"))
    await renderer.close()

    assert surface.lines == {"l1": "✅ `research` done — summary"}

    book = StepBook()
    book.of(ev.ToolCall(tool="research", arguments={"task": "dpo"}, tool_call_id="r1"))
    for line in ("→ web_search · dpo", "→ fetch_url · https://a.b", "→ web_search · ppo"):
        (step,), _ = book.of(ev.ToolProgress(tool="research", tool_call_id="r1", text=line))
    assert step.state == "running"
    assert step.details == "→ web_search · dpo\n→ fetch_url · https://a.b\n→ web_search · ppo"
    book.of(ev.ToolProgress(tool="research", tool_call_id="r1", text="✓ web_search: 3 results"))
    book.of(ev.ToolProgress(tool="research", tool_call_id="r1", text="✗ fetch_url: 404"))
    (done,), _ = book.of(ev.ToolOutput(tool="research", tool_call_id="r1", output="summary"))
    # each call's end takes its start's place: one line per call, in call order
    assert done.state == "done"
    assert done.details == "✓ web_search: 3 results\n✗ fetch_url: 404\n→ web_search · ppo"


# ── in a Slack thread ────────────────────────────────────────────────────

slack, make_bot = test_slack.slack, test_slack.make_bot  # its fixtures


async def _lookup(args, ctx):
    return f"found: {args.get('query')}"


async def test_research_steps_are_the_details_of_its_task_card_in_a_slack_thread(
    make_bot, slack, llm
):
    tools = support.test_tools()
    tools.add(Tool("lookup", "Look it up.", {"type": "object"}, _lookup, read_only=True))
    with_research(tools, llm)
    slack.streaming_enabled = True
    bot = await make_bot(tools=tools, slack_native_streaming=True)
    llm.script(
        tool_calls(("research", {"task": "what is DPO?"})),
        tool_calls(("lookup", {"query": "dpo"})),
        text("DPO optimises preferences directly."),
        text("It optimises preferences directly."),
    )
    event = await bot.send.mention("what is DPO?")
    thread = event["ts"]
    await bot.settle(lambda: slack.called("chat.stopStream"))

    seen = bot.seen(thread)
    assert seen[0] == "It optimises preferences directly."
    assert seen[1].startswith("[complete] research · what is DPO? — DPO optimises")
    assert seen[2:] == ["    · ✓ lookup: found: dpo"]  # its end in place of its start
    assert len(bot.thread(thread)) == 1, "no message of its own for a research step"
