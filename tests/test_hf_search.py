# ruff: noqa: F811
# (tests take the imported `hub` fixture as an argument, which F811 sees as a redefinition)
"""hf_search on the Hub stand-in: listings with filters, papers, dataset inspection, model cards."""

from __future__ import annotations

from typing import Any

import pytest

from agent.session import Session
from agent.tools import build_hf_tools
from agent.tools.registry import ToolContext, ToolRegistry, ToolResult
from tests.standins.hub import HubStandIn, hub  # noqa: F401

ROWS = [{"text": "great movie", "label": 1}, {"text": "x" * 1000, "label": 0}]


@pytest.fixture
def seeded(hub: HubStandIn) -> HubStandIn:
    hub.add_repo(
        "org/llama-small",
        files={"README.md": "---\nlicense: mit\n---\n# Llama small\nUse it well.\n"},
        downloads=5000,
        likes=10,
        pipeline_tag="text-generation",
        library_name="transformers",
        tags=["transformers"],
        cardData={"license": "mit"},
    )
    hub.add_repo(
        "org/llama-gguf",
        downloads=100,
        likes=900,
        pipeline_tag="text-generation",
        library_name="gguf",
        tags=["gguf"],
    )
    hub.add_repo("other/bert", downloads=10**7, likes=5, pipeline_tag="fill-mask")
    hub.add_repo("meta/locked", files={"README.md": "card"}, gated="manual", downloads=1)
    hub.add_repo(
        "org/reviews",
        repo_type="dataset",
        files={"data/train.parquet": b"PAR1"},
        viewer={"default": {"train": ROWS, "test": ROWS[:1]}},
        downloads=300,
        tags=["task_categories:text-classification", "size_categories:1K<n<10K"],
    )
    hub.add_repo("org/chat-demo", repo_type="space", likes=42, sdk="gradio")
    hub.papers.append(
        {"id": "2405.00001", "title": "Small Llamas Learn Fast", "summary": "LoRA", "upvotes": 12}
    )
    return hub


def make_call(hub: HubStandIn, tmp_path, viewer: bool):
    registry = ToolRegistry(
        build_hf_tools(
            hub.api(),
            sandbox_root=tmp_path,
            viewer_endpoint=hub.viewer_url if viewer else None,
        )
    )

    async def call(**args: Any) -> ToolResult:
        return await registry.call("hf_search", args, ToolContext(session=Session(key="t:1:2:3")))

    return call


@pytest.fixture
def search(seeded, tmp_path):
    return make_call(seeded, tmp_path, viewer=True)


async def test_models_with_task_library_author_and_sort(search, hub):
    by_downloads = await search(operation="models", task="text-generation")
    assert by_downloads.output.splitlines() == [
        "org/llama-small · text-generation · transformers · ↓5.0k ♥10",
        "org/llama-gguf · text-generation · gguf · ↓100 ♥900",
    ]
    by_likes = await search(operation="models", task="text-generation", sort="likes", limit=1)
    assert by_likes.output.startswith("org/llama-gguf")
    gguf = await search(operation="models", library="gguf")
    assert gguf.output.startswith("org/llama-gguf") and "llama-small" not in gguf.output
    query = hub.calls("GET", r"^/api/models$")[-1].query
    assert query["filter"] == "gguf" and query["sort"] == "downloads"
    other = await search(operation="models", author="other", query="bert")
    assert other.output == "other/bert · fill-mask · ↓10.0M ♥5"
    none = await search(operation="models", query="nothing-like-this")
    assert none.output == "No models match."


async def test_datasets_spaces_and_papers(search):
    datasets = await search(operation="datasets", task="text-classification")
    assert datasets.output == "org/reviews · text-classification · 1K<n<10K · ↓300 ♥0"
    spaces = await search(operation="spaces", query="chat")
    assert spaces.output == "org/chat-demo · gradio · ♥42"
    papers = await search(operation="papers", query="llamas")
    assert papers.output.startswith("2405.00001 · Small Llamas Learn Fast · ▲12 · ")
    bad_sort = await search(operation="models", sort="random")
    assert not bad_sort.success and "sort must be one of" in bad_sort.output


async def test_dataset_info_shows_splits_features_and_rows(search):
    info = await search(operation="dataset_info", repo_id="org/reviews", rows=2)
    assert info.success, info.output
    lines = info.output.splitlines()
    assert "splits of default: train, test" in lines
    assert "features: text: string, label: int64" in lines
    assert '{"text": "great movie", "label": 1}' in lines
    assert any(line.endswith('…", "label": 0}') for line in lines)  # long cells are cut
    assert "files (1): data/train.parquet" in lines
    test_split = await search(operation="dataset_info", repo_id="org/reviews", split="test")
    assert "first rows of default/test:" in test_split.output


async def test_dataset_info_degrades_without_a_viewer(seeded, tmp_path):
    search = make_call(seeded, tmp_path, viewer=False)
    info = await search(operation="dataset_info", repo_id="org/reviews")
    assert info.success
    assert "Dataset viewer unavailable" in info.output and "data/train.parquet" in info.output


async def test_dataset_info_degrades_when_the_viewer_fails(search, hub):
    hub.fail(r"^/datasets-server/", 500)
    info = await search(operation="dataset_info", repo_id="org/reviews")
    assert info.success and "Dataset viewer unavailable" in info.output


async def test_model_card(search):
    card = await search(operation="model_card", repo_id="org/llama-small")
    lines = card.output.splitlines()
    assert lines[0] == "org/llama-small · text-generation · transformers · license: mit · ↓5.0k ♥10"
    assert "# Llama small" in lines and "Use it well." in lines
    without = await search(operation="model_card", repo_id="org/llama-gguf")
    assert "(no model card: No file 'README.md'" in without.output


async def test_a_gated_model_card_says_how_to_get_access(search):
    card = await search(operation="model_card", repo_id="meta/locked")
    assert card.success and "gated: manual" in card.output and "Request access" in card.output


async def test_search_errors(search, hub):
    hub.fail(r"^/api/models/", 429)
    limited = await search(operation="model_card", repo_id="org/llama-small")
    assert not limited.success and "Rate limited" in limited.output
    missing = await search(operation="model_card", repo_id="org/none")
    assert not missing.success and "not found" in missing.output
    assert "Traceback" not in limited.output + missing.output
