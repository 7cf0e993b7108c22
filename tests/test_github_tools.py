"""github_find_examples, github_read_file and github_list_repos against a loopback GitHub."""

import pytest

from agent.session import Session
from agent.tools.github import GitHubTools, rank_paths
from agent.tools.http import HttpClient
from agent.tools.registry import ToolContext, ToolRegistry
from tests.standins.github import GitHubStandIn


@pytest.fixture
async def github():
    async with GitHubStandIn() as stand_in:
        yield stand_in


def registry(github, token=None, timeout=5.0):
    http = HttpClient("GitHub", timeout=timeout, retries=2, backoff=0.01)
    return ToolRegistry(GitHubTools(github.url, token, http=http).tools())


async def call(tools, name, **args):
    return await tools.call(name, args, ToolContext(session=Session(key="k")))


async def test_examples_of_a_library_rank_its_example_scripts_first(github):
    result = await call(registry(github), "github_find_examples", library="trl", keyword="dpo")

    assert result.success, result.output
    listed = [line.split()[1] for line in result.output.splitlines() if line.startswith("- ")]
    assert listed[0] == "examples/scripts/dpo.py"
    assert "examples/notebooks/dpo_notebook.ipynb" in listed
    assert listed.index("tests/test_dpo_trainer.py") > listed.index("trl/trainer/dpo_trainer.py")
    assert "examples/scripts/sft.py" not in listed
    assert "https://github.com/huggingface/trl/blob/main/examples/scripts/dpo.py" in result.output
    assert "/search/code" not in github.paths()  # anonymous: no code search


async def test_with_a_token_code_search_finds_files_by_their_content(github):
    result = await call(
        registry(github, token="ghp_test"), "github_find_examples", library="trl", keyword="sft"
    )

    assert "/search/code" in github.paths()
    assert github.requests[-1].headers["Authorization"] == "Bearer ghp_test"
    assert "examples/scripts/sft.py" in result.output


async def test_a_failed_code_search_still_ranks_the_tree(github):
    github.fail("/search/code", 422)
    result = await call(
        registry(github, token="ghp_test"), "github_find_examples", library="trl", keyword="dpo"
    )
    assert result.success and "examples/scripts/dpo.py" in result.output


def test_ranking_leaves_out_paths_without_the_keyword():
    ranked = rank_paths(["a/readme.md", "examples/grpo.py", "src/grpo_trainer.py"], "grpo")
    assert ranked == ["examples/grpo.py", "src/grpo_trainer.py"]


async def test_a_file_reads_numbered_in_parts(github):
    tools = registry(github)
    first = await call(
        tools, "github_read_file", repo="huggingface/trl", path="examples/scripts/dpo.py"
    )
    part = await call(
        tools,
        "github_read_file",
        repo="huggingface/trl",
        path="examples/scripts/dpo.py",
        start_line=450,
        end_line=452,
    )

    assert "  1  # dpo line 1" in first.output
    assert "# dpo line 401" not in first.output
    assert "100 more lines: read on with start_line=401" in first.output
    assert part.output.splitlines()[1:] == [
        "450  # dpo line 450",
        "451  # dpo line 451",
        "452  # dpo line 452",
    ]


async def test_a_notebook_reads_as_its_cells(github):
    result = await call(
        registry(github),
        "github_read_file",
        repo="huggingface/trl",
        path="examples/notebooks/dpo_notebook.ipynb",
    )

    assert "## cell 1 (markdown)" in result.output
    assert "## cell 2 (code)" in result.output
    assert "from trl import DPOTrainer" in result.output
    assert '"cell_type"' not in result.output


async def test_a_folder_lists_its_files(github):
    result = await call(
        registry(github), "github_read_file", repo="huggingface/trl", path="examples"
    )
    assert "examples/scripts/" in result.output and "examples/notebooks/" in result.output


async def test_an_owners_repositories(github):
    result = await call(registry(github), "github_list_repos", owner="huggingface", query="tuning")
    assert result.success
    assert "huggingface/peft" in result.output and "★19000" in result.output
    assert "huggingface/trl" not in result.output


async def test_a_missing_file_or_owner_is_a_clear_404(github):
    tools = registry(github)
    missing = await call(tools, "github_read_file", repo="huggingface/trl", path="nope.py")
    nobody = await call(tools, "github_list_repos", owner="nobody-here")

    assert not missing.success and "Not found (404)" in missing.output
    assert not nobody.success and "404" in nobody.output


async def test_the_anonymous_rate_limit_names_github_token(github):
    github.rate_limit()
    result = await call(registry(github), "github_find_examples", library="trl", keyword="dpo")

    assert not result.success
    assert "rate limit for anonymous requests" in result.output
    assert "GITHUB_TOKEN" in result.output and "resets at" in result.output


async def test_a_429_is_retried_then_reported(github):
    github.fail("/users/", 429, {"x-ratelimit-remaining": "0"}, times=1)
    recovered = await call(registry(github), "github_list_repos", owner="huggingface")
    github.fail("/users/", 429, times=10)
    refused = await call(registry(github), "github_list_repos", owner="huggingface")

    assert recovered.success
    assert not refused.success and "GITHUB_TOKEN" in refused.output


async def test_a_slow_github_times_out_readably(github):
    github.stall("/users/")
    result = await call(registry(github, timeout=0.3), "github_list_repos", owner="huggingface")
    assert not result.success and "did not answer within 0.3 s" in result.output


async def test_an_oversize_answer_is_not_read(github):
    github.oversize("/contents/", 6_000_000)
    result = await call(
        registry(github), "github_read_file", repo="huggingface/trl", path="README.md"
    )
    assert not result.success and "larger than 5,000,000 bytes; not read" in result.output
