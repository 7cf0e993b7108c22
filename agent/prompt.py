"""The system prompt: ``prompt.md`` (how the agent works), with its last section, the tools
it has here, written from the registry when the model is called (MCP tools included), and
what it cannot do because a tool is off."""

from __future__ import annotations

import re
from pathlib import Path

from agent.tools.registry import ToolRegistry

DOCUMENT = (Path(__file__).with_name("prompt.md")).read_text(encoding="utf-8")

GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Research (read-only)",
        (
            "research",
            "explore_hf_docs",
            "fetch_hf_docs",
            "find_hf_api",
            "hf_papers",
            "hf_inspect_dataset",
            "hf_search",
            "github_find_examples",
            "github_read_file",
            "github_list_repos",
            "web_search",
            "fetch_url",
        ),
    ),
    ("The sandbox", ("sandbox_create", "bash", "read", "write", "edit")),
    ("Jobs", ("hf_jobs",)),
    ("Hub repos", ("hf_repo_files", "hf_repo_git", "hf_private_repos")),
    ("Planning", ("plan",)),
)
"""The built-in tools by what they are for, in the order the prompt lists them."""

MISSING: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("sandbox_create", "bash"),
        "There is no sandbox here: you cannot run code before a job. Say so when you hand "
        "over a script, keep the first job tiny (a few steps), and read its logs closely.",
    ),
    (
        ("hf_jobs",),
        "You cannot run jobs here: give people the script and the command to run it.",
    ),
    (
        ("explore_hf_docs", "fetch_hf_docs"),
        "There is no docs search here: read the library's example scripts and sources on "
        "GitHub instead, and say that you could not check the docs.",
    ),
    (
        ("github_find_examples",),
        "You cannot read example code on GitHub here: rely on the docs, and say so.",
    ),
    (
        ("web_search",),
        "There is no web search here: use the Hub, docs and GitHub tools; fetch_url reads "
        "a page whose address you know.",
    ),
    (
        ("hf_inspect_dataset",),
        "There is no full dataset inspection here: look at a dataset's rows with hf_search.",
    ),
    (
        ("research",),
        "There is no research sub-agent here: read sparingly, long pages fill your context.",
    ),
)
"""What the agent cannot do when none of the named tools is present, in its words."""


SENTENCE_END = re.compile(r"(?<=[a-z0-9)\]'\"])\. (?=[A-Z])")


def first_sentence(text: str) -> str:
    """A tool's description up to its first full stop or line end ("e.g. this" does not
    end it)."""
    first_line = text.strip().split("\n", 1)[0]
    sentence = SENTENCE_END.split(" ".join(first_line.split()))[0].rstrip(".")
    return sentence if len(sentence) <= 200 else sentence[:199] + "…"


def tools_section(tools: ToolRegistry) -> str:
    """The tools present, grouped; then what is not possible without the absent ones."""
    present = set(tools.names())
    lines: list[str] = []
    grouped: set[str] = set()
    for title, names in GROUPS:
        here = [n for n in names if n in present]
        grouped.update(names)
        if here:
            lines.append(f"\n{title}:")
            lines += [_line(tools, n) for n in here]
    others = [n for n in tools.names() if n not in grouped]
    if others:
        lines.append("\nOther tools:")
        lines += [_line(tools, n) for n in others]
    cannot = [text for names, text in MISSING if not present.intersection(names)]
    if cannot:
        lines += ["", "What you cannot do here:", *(f"- {text}" for text in cannot)]
    return "\n".join(lines).strip()


def _line(tools: ToolRegistry, name: str) -> str:
    tool = tools.get(name)
    return f"- `{name}`: {first_sentence(tool.description)}" if tool else f"- `{name}`"


def system_prompt(tools: ToolRegistry) -> str:
    """The whole prompt for an agent with ``tools``."""
    return DOCUMENT.replace("{tools}", tools_section(tools)).strip() + "\n"
