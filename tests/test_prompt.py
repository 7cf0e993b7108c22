"""The system prompt: the project's document, with the tools present named and what the
bot cannot do without the others."""

from agent.prompt import first_sentence, system_prompt
from agent.session import Session
from agent.tools.registry import Tool, ToolRegistry
from tests import support
from tests.standins.llm import text
from tests.support import Recorder

OBJECT = {"type": "object", "properties": {}}


async def _nothing(args, ctx):
    return ""


def registry(*names: str) -> ToolRegistry:
    return ToolRegistry(Tool(n, f"Does {n}. More words.", OBJECT, _nothing) for n in names)


def test_the_prompt_tells_how_an_ml_engineer_works():
    prompt = system_prompt(registry("plan"))
    for rule in (
        "Research before you write code",
        "Inspect the data",
        "Test small first",
        "pre-flight checklist",
        "`push_to_hub` and `hub_model_id`",
        "One job before many",
        "Watch and report",
        "Never change the person's method silently",
    ):
        assert rule in prompt


def test_present_tools_are_named_by_group_and_absent_ones_said():
    prompt = system_prompt(
        registry("research", "github_find_examples", "fetch_url", "hf_jobs", "srv__lookup")
    )
    tools = prompt.split("# Your tools here")[1]

    assert "Research (read-only):\n- `research`: Does research\n- `github_find_examples`" in tools
    assert "Jobs:\n- `hf_jobs`: Does hf_jobs" in tools
    assert "Other tools:\n- `srv__lookup`: Does srv__lookup" in tools
    assert "There is no sandbox here" in tools
    assert "There is no web search here" in tools
    assert "There is no docs search here" in tools
    assert "You cannot run jobs here" not in tools
    assert "`web_search`" not in tools


def test_the_sandbox_tools_of_the_new_names_count_as_a_sandbox():
    prompt = system_prompt(registry("sandbox_create", "bash", "read", "write", "edit"))
    assert "The sandbox:\n- `sandbox_create`" in prompt and "- `edit`" in prompt
    assert "There is no sandbox here" not in prompt


def test_a_first_sentence_keeps_abbreviations():
    assert first_sentence("Find files: e.g. 'trl'. More.") == "Find files: e.g. 'trl'"
    assert first_sentence("Run jobs (paid).\n- run: a command.") == "Run jobs (paid)"


async def test_the_model_sees_tools_added_after_start(llm):
    tools = support.test_tools()
    agent = support.make_agent(llm, tools)
    llm.script(text("one"), text("two"))
    await agent.run(Session(key="k"), "hi", Recorder().turn)
    tools.add(Tool("srv__lookup", "Look things up.", OBJECT, _nothing))  # an MCP server's
    await agent.run(Session(key="k2"), "hi", Recorder().turn)

    first, second = (r["messages"][0]["content"] for r in llm.requests)
    assert "`srv__lookup`" not in first
    assert "- `srv__lookup`: Look things up" in second
