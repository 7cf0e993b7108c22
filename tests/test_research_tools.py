# ruff: noqa: F811
# (tests take the imported `research` fixture as an argument, which F811 sees as a redefinition)
"""The docs, papers and dataset tools against the research stand-in: answers and failures."""

from __future__ import annotations

from typing import Any

import pytest

from agent.session import Session
from agent.tools import build_research_tools
from agent.tools.registry import ToolContext, ToolError, ToolRegistry, ToolResult
from tests.standins.research import ResearchStandIn, research  # noqa: F401


class Tools:
    def __init__(self, stand_in: ResearchStandIn, tmp_path: Any, **config: Any) -> None:
        self.registry = ToolRegistry(build_research_tools(stand_in.config(tmp_path, **config)))
        self.ctx = ToolContext(session=Session(key="test:t:c:1"))

    async def __call__(self, name: str, **args: Any) -> ToolResult:
        return await self.registry.call(name, args, self.ctx)


@pytest.fixture
def tools(research: ResearchStandIn, tmp_path: Any) -> Tools:
    return Tools(research, tmp_path)


def ok(result: ToolResult) -> str:
    assert result.success, result.output
    return result.output


def test_every_research_tool_is_read_only(research: ResearchStandIn, tmp_path: Any) -> None:
    built = build_research_tools(research.config(tmp_path))
    assert [t.name for t in built] == [
        "explore_hf_docs",
        "fetch_hf_docs",
        "find_hf_api",
        "hf_papers",
        "hf_inspect_dataset",
    ]
    assert all(t.read_only for t in built)


# ── docs ─────────────────────────────────────────────────────────────────


async def test_explore_hf_docs_ranks_pages_from_the_sidebar(tools: Tools, research) -> None:
    out = ok(await tools("explore_hf_docs", library="trl", query="DPO preference trainer"))

    first = out.split("\n\n")[0].splitlines()
    assert first[0] == "1. DPO Trainer"
    assert first[1] == f"{research.url}/docs/trl/dpo_trainer"
    assert "**preference**" in first[2].lower()
    assert "Dataset formats and types" in out  # a second page mentioning preferences
    assert "LoRA" not in out  # another library's pages are not searched
    assert research.count(r"/docs/other") == 0  # only the library's own links are pages
    assert research.count(r"/docs/trl/(v0\.9\.0|main|zh)/") == 0  # nor other editions


async def test_explore_hf_docs_builds_once_and_serves_the_warm_index(
    tools: Tools, research
) -> None:
    ok(await tools("explore_hf_docs", library="trl", query="sft"))
    fetched = research.count(r"\.md$")
    assert fetched == len(research.docs["trl"])

    out = ok(await tools("explore_hf_docs", library="trl", query="reward functions"))

    assert out.startswith("1. GRPO Trainer")
    assert research.count(r"\.md$") == fetched  # no page fetched again


async def test_stale_docs_index_answers_while_it_refreshes(research, tmp_path) -> None:
    from agent.tools.hf_docs import HfDocs
    from agent.tools.http import HttpClient

    now = [1000.0]
    docs = HfDocs(HttpClient("hub", timeout=2), research.url, tmp_path / "i.sqlite")
    docs.index.clock = lambda: now[0]
    assert await docs.index.search("trl", "GRPO", 3)
    research.docs["trl"]["orpo_trainer"] = "# ORPO Trainer\n\nOdds ratio preference optimization."
    release = research.stall(r"/docs/trl$")

    now[0] += 2 * 86_400  # a day old: stale
    stale = await docs.index.search("trl", "odds ratio", 3)
    assert stale == []  # answered from the old pages, the refresh held by the stand-in

    release.set()
    await docs.index.wait_refreshed()
    fresh = await docs.index.search("trl", "odds ratio", 3)
    assert [hit.title for hit in fresh] == ["ORPO Trainer"]
    assert docs.index.built_at("trl") == now[0]


async def test_a_missing_page_is_left_out_of_the_index(tools: Tools, research) -> None:
    research.fail(r"/grpo_trainer\.md$", 404)

    out = ok(await tools("explore_hf_docs", library="trl", query="trainer"))

    assert "DPO Trainer" in out and "GRPO Trainer" not in out


async def test_a_failed_refresh_keeps_the_old_pages(research, tmp_path) -> None:
    from agent.tools.hf_docs import HfDocs
    from agent.tools.http import HttpClient

    now = [1000.0]
    docs = HfDocs(HttpClient("hub", timeout=2, retries=0), research.url, tmp_path / "i.sqlite")
    docs.index.clock = lambda: now[0]
    await docs.index.search("trl", "GRPO", 3)
    research.fail(r"\.md$", 503, times=100)

    now[0] += 2 * 86_400
    await docs.index.search("trl", "GRPO", 3)
    await docs.index.wait_refreshed()
    after = await docs.index.search("trl", "GRPO", 3)

    assert [hit.title for hit in after][:1] == ["GRPO Trainer"]
    assert docs.index.built_at("trl") == 1000.0
    with pytest.raises(ToolError, match=r"6 of the 6 pages of the trl docs could not be read"):
        await docs.index.refresh("trl")


async def test_explore_hf_docs_unknown_library_and_no_match(tools: Tools) -> None:
    missing = await tools("explore_hf_docs", library="nope", query="x")
    assert not missing.success
    assert "No docs found for library 'nope'" in missing.output and "trl" in missing.output

    none = ok(await tools("explore_hf_docs", library="peft", query="zebra"))
    assert none == "No peft docs page matches 'zebra'. Try other words."


async def test_fetch_hf_docs_reads_a_page_by_url_or_name(tools: Tools, research) -> None:
    by_url = ok(await tools("fetch_hf_docs", url=f"{research.url}/docs/trl/dpo_trainer#usage"))
    by_name = ok(await tools("fetch_hf_docs", url="trl/dpo_trainer"))
    public = ok(await tools("fetch_hf_docs", url="https://huggingface.co/docs/trl/dpo_trainer.md"))

    assert by_url == by_name == public
    assert by_url.startswith(f"DPO Trainer — {research.url}/docs/trl/dpo_trainer\n\n# DPO")
    assert "from trl import DPOConfig, DPOTrainer" in by_url


async def test_fetch_hf_docs_gives_a_long_page_in_parts(tools: Tools) -> None:
    first = ok(await tools("fetch_hf_docs", url="trl/reference/trainer_args"))
    header = first.splitlines()[0]
    assert "characters 0–" in header and "next part: offset=" in header
    offset = int(header.rsplit("offset=", 1)[1].rstrip(")"))

    second = ok(await tools("fetch_hf_docs", url="trl/reference/trainer_args", offset=offset))

    assert first.rstrip().endswith("one by one.")  # cut at a line's end
    body = second.split("\n\n", 1)[1]
    assert body.startswith("Line ")
    assert f"characters {offset}–" in second.splitlines()[0]


async def test_fetch_hf_docs_refuses_other_sites(tools: Tools) -> None:
    result = await tools("fetch_hf_docs", url="https://example.com/docs/page")
    assert not result.success and "fetch_url" in result.output


# ── the Hub's OpenAPI spec ───────────────────────────────────────────────


async def test_find_hf_api_shows_endpoints_with_parameters_and_curl(tools: Tools, research) -> None:
    out = ok(await tools("find_hf_api", query="list commits of a repo", limit=1))

    lines = out.splitlines()
    assert (
        lines[0]
        == "GET /api/{repo_type}s/{repo_id}/commits/{revision} — List the commits of a repo"
    )
    assert "  - repo_id (path, string, required)" in lines
    assert lines[-1] == (
        '  example: curl -H "Authorization: Bearer $HF_TOKEN" '
        f'"{research.url}/api/{{repo_type}}s/{{repo_id}}/commits/{{revision}}"'
    )


async def test_find_hf_api_follows_refs_and_caches_the_spec(tools: Tools, research) -> None:
    models = ok(await tools("find_hf_api", query="list models", limit=1))
    create = ok(await tools("find_hf_api", query="create repo", limit=1))

    assert "  - search (query, string, required): Words in the model id." in models
    assert f'"{research.url}/api/models?search=..."' in models
    assert "  - name (body, string, required)" in create
    assert "-X POST" in create and """-d '{"name": "..."}'""" in create
    assert research.count(r"openapi\.json") == 1


# ── papers ───────────────────────────────────────────────────────────────


async def test_hf_papers_search_and_trending(tools: Tools, research) -> None:
    found = ok(await tools("hf_papers", operation="search", query="preference"))
    trending = ok(await tools("hf_papers", operation="trending", limit=5))

    assert found.startswith("2305.18290 · Direct Preference Optimization")
    assert "2402.03300" not in found
    assert trending.splitlines()[0].startswith("2402.03300 · DeepSeekMath")  # most upvoted first
    assert f"{research.url}/papers/2305.18290" in trending


async def test_hf_papers_details_with_linked_repos(tools: Tools) -> None:
    out = ok(await tools("hf_papers", operation="details", paper_id="arxiv.org/abs/2305.18290v2"))

    assert "authors: Rafael Rafailov, Archit Sharma" in out
    assert "abstract: We introduce DPO" in out
    assert "models citing it: HuggingFaceH4/zephyr-7b-beta" in out
    assert "datasets citing it: trl-lib/ultrafeedback_binarized" in out
    assert "Spaces citing it: none" in out


async def test_hf_papers_reads_sections_list_then_one(tools: Tools, research) -> None:
    listing = ok(await tools("hf_papers", operation="read", paper_id="2305.18290"))
    method = ok(await tools("hf_papers", operation="read", paper_id="2305.18290", section="2"))
    by_name = ok(
        await tools("hf_papers", operation="read", paper_id="2305.18290", section="experiments")
    )

    assert "- Abstract" in listing and "- 1 Introduction" in listing
    assert "  - 2.1 Deriving the objective" in listing
    assert "var x" not in listing and "Contents" not in listing  # scripts, navigation dropped
    assert method.startswith("2 Method — ")
    assert "\\log\\sigma(\\beta r)" in method and "junk" not in method  # math as its LaTeX
    assert "## 2.1 Deriving the objective\nA closed form" in method  # subsections follow
    assert "Sentiment, summarization and dialogue." in by_name
    assert research.count(r"/arxiv/html/") == 1  # the HTML is cached


async def test_hf_papers_failures_read_clearly(tools: Tools) -> None:
    no_html = await tools("hf_papers", operation="read", paper_id="2402.03300")
    bad_id = await tools("hf_papers", operation="details", paper_id="not-a-paper")
    no_section = await tools("hf_papers", operation="read", paper_id="2305.18290", section="9")

    assert "no HTML version of 2402.03300" in no_html.output
    assert "is not an arXiv id" in bad_id.output
    assert "No section '9'" in no_section.output and "1 Introduction" in no_section.output


# ── datasets ─────────────────────────────────────────────────────────────


async def test_hf_inspect_dataset_preference_pairs(tools: Tools, research) -> None:
    out = ok(await tools("hf_inspect_dataset", dataset="org/prefs"))

    assert "  default/train: 1,200 rows, 120.0 KB parquet" in out
    assert "  default/test: 100 rows, 10.0 KB parquet" in out
    assert "  chosen: string" in out
    assert (
        "training format: preference pairs (with 'prompt' + 'chosen'/'rejected'): DPOTrainer" in out
    )
    assert '"chosen": "Hi!"' in out
    assert '"rejected": "' + "x" * 300 + '…"' in out  # a long cell is cut
    assert f"{research.url}/datasets/org/prefs/resolve/" in out


async def test_hf_inspect_dataset_chat_messages(tools: Tools) -> None:
    out = ok(await tools("hf_inspect_dataset", dataset="org/chat"))

    assert "  messages: list[{role: string, content: string}]" in out
    assert "training format: conversational language modeling ('messages'" in out
    assert "SFTTrainer" in out


async def test_hf_inspect_dataset_not_valid_and_partial(tools: Tools, research) -> None:
    research.invalid.add("org/chat")
    invalid = ok(await tools("hf_inspect_dataset", dataset="org/chat"))
    research.fail(r"/ds/size", 500, times=5)
    partial = ok(await tools("hf_inspect_dataset", dataset="org/prefs"))

    assert "the dataset viewer cannot read it" in invalid
    assert "(sizes unavailable: the dataset viewer had a server error (500)" in partial
    assert "training format: preference pairs" in partial  # the rest is still shown


@pytest.mark.parametrize(
    ("columns", "trainer"),
    [
        ({"prompt": "s", "completion": "s", "label": "b"}, "KTOTrainer"),
        ({"prompt": "s", "completion": "s"}, "prompt-completion: SFTTrainer"),
        ({"prompt": "s"}, "prompt-only: GRPOTrainer"),
        ({"text": "s"}, "plain text (language modeling): SFTTrainer"),
        ({"image": "s"}, "no TRL format recognised (columns: image)"),
    ],
)
def test_training_format_names_the_trainer(columns: dict[str, str], trainer: str) -> None:
    from agent.tools.dataset_formats import training_format

    assert trainer in training_format(columns)


# ── failures, for every tool ─────────────────────────────────────────────

CALLS = [
    ("explore_hf_docs", {"library": "trl", "query": "dpo"}, r"/docs/trl$"),
    ("fetch_hf_docs", {"url": "trl/sft_trainer"}, r"sft_trainer\.md$"),
    ("find_hf_api", {"query": "models"}, r"openapi"),
    ("hf_papers", {"operation": "details", "paper_id": "2305.18290"}, r"/api/papers/"),
    ("hf_papers", {"operation": "read", "paper_id": "2305.18290"}, r"/arxiv/html/"),
    ("hf_inspect_dataset", {"dataset": "org/prefs"}, r"/ds/is-valid"),
]
IDS = ["explore", "fetch", "api", "papers", "paper_html", "dataset"]


NOT_FOUND = [
    "No docs found for library 'trl'. Known libraries: transformers, trl,",
    "No docs page trl/sft_trainer. Find pages with explore_hf_docs.",
    "Not found (404): http://127.0.0.1:",
    "Not found (404): http://127.0.0.1:",
    "arXiv has no HTML version of 2305.18290",
    "Dataset 'org/prefs' not found (404), or private or gated",
]


@pytest.mark.parametrize(
    ("name", "args", "path", "expected"),
    [(*call, said) for call, said in zip(CALLS, NOT_FOUND, strict=True)],
    ids=IDS,
)
async def test_not_found(tools: Tools, research, name, args, path, expected) -> None:
    research.fail(path, 404)
    result = await tools(name, **args)
    assert not result.success
    assert expected in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("name", "args", "path"), CALLS, ids=IDS)
async def test_rate_limited_is_retried_then_reported(research, tmp_path, name, args, path) -> None:
    research.fail(path, 429, times=1)
    assert (await Tools(research, tmp_path / "a")(name, **args)).success  # retried
    assert research.count(path) == 2

    research.fail(path, 429, times=10)
    result = await Tools(research, tmp_path / "b")(name, **args)
    assert not result.success
    assert "Rate limited by" in result.output and "(429)" in result.output
    assert research.count(path) == 2 + 3  # the first try and 2 retries


@pytest.mark.parametrize(("name", "args", "path"), CALLS, ids=IDS)
async def test_timeout(research, tmp_path, name, args, path) -> None:
    tools = Tools(research, tmp_path, timeout=0.3)
    research.stall(path)
    result = await tools(name, **args)
    assert not result.success
    assert "did not answer within 0.3 s" in result.output


@pytest.mark.parametrize(("name", "args", "path"), CALLS, ids=IDS)
async def test_oversize(research, tmp_path, name, args, path) -> None:
    tools = Tools(research, tmp_path, max_bytes=50_000)
    research.oversize(path, 60_000)
    result = await tools(name, **args)
    assert not result.success
    assert "larger than 50,000 bytes" in result.output


# ── settings ─────────────────────────────────────────────────────────────


async def test_the_bot_settings_point_the_tools_at_their_servers(
    research, tmp_path, monkeypatch
) -> None:
    from bot.runtime import build_tools
    from bot.settings import Settings

    monkeypatch.setenv("HF_ENDPOINT", research.url)
    monkeypatch.setenv("DATASETS_SERVER_URL", research.viewer_url)
    monkeypatch.setenv("ARXIV_URL", research.arxiv_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HF_TOKEN", "hf_bot")
    settings = Settings(_env_file=None)
    registry = build_tools(settings)
    ctx = ToolContext(session=Session(key="test:t:c:1"))

    docs = await registry.call("explore_hf_docs", {"library": "peft", "query": "lora"}, ctx)
    paper = await registry.call("hf_papers", {"operation": "read", "paper_id": "2305.18290"}, ctx)
    data = await registry.call("hf_inspect_dataset", {"dataset": "org/chat"}, ctx)

    assert docs.output.startswith(f"1. LoRA\n{research.url}/docs/peft/lora")
    assert (tmp_path / "hf_docs.sqlite").exists()
    assert f"{research.arxiv_url}/html/2305.18290" in paper.output
    assert "training format: conversational language modeling" in data.output
    assert settings.research_config().token == "hf_bot"  # private and gated datasets
