"""Figure 11 — research context: what the ``research`` sub-agent keeps out of the main context.

One scripted task ("fine-tune with DPO: find the current way"), run twice through the
real agent loop against the loopback LLM, GitHub, search and page stand-ins: once with
the main agent making the research calls itself (find the example scripts, search the
web, read the example script and a docs page), once handing the same question to
``research``, whose sub-agent makes the same calls and returns a summary. Reported: the
main context's size after the task (tokens of the system prompt and history, as the
agent counts them), and the input tokens of every model call of the task (each call
re-reads its context: what the provider bills), with and without the sub-agent.
"""

from __future__ import annotations

import os
from typing import Any

from agent.config import AgentConfig
from agent.loop import Agent
from agent.research import ResearchTool
from agent.session import Session
from agent.tools.github import GitHubTools
from agent.tools.registry import ToolRegistry
from agent.tools.web import FetchUrlTool, WebSearchTool
from bench.figure import Figure, step
from tests.standins.github import GitHubStandIn
from tests.standins.llm import LLMStandIn, Reply, text, tool_calls
from tests.standins.web import PageServer, SearchStandIn
from tests.support import Recorder

TASK = "Fine-tune Qwen3-0.6B with DPO on my preference dataset: what is the current way?"
SUMMARY = (
    "TRL's DPOTrainer takes a dataset with prompt/chosen/rejected columns and a DPOConfig "
    "(beta=0.1, learning_rate=5e-7, max_length=1024); the example is examples/scripts/dpo.py "
    "(trl main), launched with `accelerate launch`. Docs: https://example.org/docs/dpo. "
) * 3
ANSWER = "Here is the plan: DPOTrainer with DPOConfig(beta=0.1), a tiny run first."


def example_script(lines: int = 300) -> str:
    """An example training script of a realistic size."""
    body = [
        "from datasets import load_dataset",
        "from trl import DPOConfig, DPOTrainer, ModelConfig, ScriptArguments",
    ]
    for n in range(lines):
        body.append(f"    training_args.setting_{n} = script_args.value_{n}  # see the docs, {n}")
    return "\n".join(body)


def docs_page(paragraphs: int = 60) -> str:
    """A docs page of a realistic size (HTML)."""
    text_ = "".join(
        f"<p>DPOConfig parameter {n}: how it changes the preference loss, its default and "
        f"when to tune it on a small model such as a 0.6B one (paragraph {n}).</p>"
        for n in range(paragraphs)
    )
    return f"<html><head><title>DPO Trainer</title></head><body><h1>DPO</h1>{text_}</body></html>"


def research_calls(pages: PageServer) -> list[Reply]:
    """The research a careful engineer does before writing the script."""
    return [
        tool_calls(
            ("github_find_examples", {"library": "trl", "keyword": "dpo"}),
            ("web_search", {"query": "trl dpo config beta"}),
        ),
        tool_calls(
            ("github_read_file", {"repo": "huggingface/trl", "path": "examples/scripts/dpo.py"}),
            ("fetch_url", {"url": f"{pages.url}/docs/dpo"}),
        ),
    ]


def tools(github: Any, search: Any, pages: Any, config: AgentConfig, research: bool) -> Any:
    registry = ToolRegistry(
        [
            *GitHubTools(github.url).tools(),
            WebSearchTool(search.url).tool(),
            FetchUrlTool(trusted=[pages.url.removeprefix("http://")]).tool(),
        ]
    )
    if research:
        registry.add(ResearchTool(registry, config).tool())
    return registry


async def task(llm: Any, github: Any, search: Any, pages: Any, research: bool) -> dict[str, int]:
    config = AgentConfig(
        model="openai/bench-model", api_base=llm.base_url, api_key="sk-bench", llm_retries=0
    )
    agent = Agent(config, tools(github, search, pages, config, research))
    if research:
        llm.script(
            tool_calls(("research", {"task": TASK})),
            *research_calls(pages),
            text(SUMMARY),
            text(ANSWER),
        )
    else:
        llm.script(*research_calls(pages), text(ANSWER))
    first = len(llm.requests)
    session = Session(key="bench")
    await agent.run(session, TASK, Recorder().turn)
    count = agent.llm.count_tokens
    context = count([{"role": "system", "content": agent.system_prompt()}, *session.history])
    billed = sum(count(r["messages"]) for r in llm.requests[first:])
    await agent.llm.aclose()
    return {
        "main_context_tokens": context,
        "input_tokens_all_calls": billed,
        "model_calls": len(llm.requests) - first,
    }


async def run() -> Figure:
    figure = Figure(
        "research_context",
        "Main context after a research task, with and without the research sub-agent",
        {"task": TASK, "script_lines": 300, "docs_paragraphs": 60},
    )
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    async with (
        LLMStandIn() as llm,
        GitHubStandIn() as github,
        SearchStandIn(
            [{"title": "DPO", "url": "https://example.org/dpo", "content": "beta"}]
        ) as search,
        PageServer("127.0.0.2") as pages,
    ):
        github.repos["huggingface/trl"]["examples/scripts/dpo.py"] = example_script()
        pages.pages["/docs/dpo"] = docs_page()
        step("without research")
        without = await task(llm, github, search, pages, research=False)
        step("with research")
        with_ = await task(llm, github, search, pages, research=True)
    saved = 1 - with_["main_context_tokens"] / without["main_context_tokens"]
    figure.results = {"without_research": without, "with_research": with_, "saved": round(saved, 3)}
    figure.target(
        "main context with research / without",
        "smaller",
        f"{with_['main_context_tokens']:,} / {without['main_context_tokens']:,} tokens "
        f"({saved:.0%} saved)",
        with_["main_context_tokens"] < without["main_context_tokens"],
    )
    figure.notes.append(
        "Input tokens over all calls include the sub-agent's: the sub-agent re-reads its own "
        "context, so the task's total can grow while the main thread's context stays small."
    )
    return figure
