"""The agent's tools; :func:`build_hf_tools` makes the Hugging Face ones,
:func:`build_research_tools` the read-only docs, papers and dataset ones,
:func:`build_web_tools` those reading GitHub and the web."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from huggingface_hub import HfApi

    from agent.config import ResearchConfig
    from agent.sandbox.manager import Sandboxes
    from agent.tools.hardware import CostEstimator
    from agent.tools.registry import Tool

from agent.tools.github import GitHubTools
from agent.tools.hf_api_spec import HubApiSpec
from agent.tools.hf_datasets import InspectDatasetTool
from agent.tools.hf_docs import HfDocs
from agent.tools.hf_papers import PapersTool
from agent.tools.http import HttpClient
from agent.tools.web import FetchUrlTool, WebSearchTool


def build_hf_tools(
    api: HfApi,
    *,
    sandbox_root: Path,
    sandboxes: Sandboxes | None = None,
    auto_file_upload: bool = False,
    secrets: Mapping[str, str] | None = None,
    job_poll_interval: float = 5.0,
    viewer_endpoint: str | None = None,
    costs: CostEstimator | None = None,
) -> list[Tool]:
    """hf_jobs, hf_repo_files, hf_repo_git, hf_private_repos, hf_search and the sandbox tools.

    ``sandbox_root`` holds the sessions' files on the bot's host; ``sandboxes`` runs
    their sandboxes (None: the sandbox is off, ``sandbox:<file>`` reads those files).

    ``secrets`` are the values hf_jobs may pass to jobs by name (the bot's
    environment). ``viewer_endpoint`` is the dataset viewer API base URL; by
    default the public one when ``api`` talks to the public Hub, else none. ``costs``
    prices jobs and sandboxes: pass the approval cards' estimator so both agree.
    """
    # Imported here, not at the top: agent.sandbox imports agent.tools.registry, so this
    # package must not import agent.sandbox while it initialises.
    from agent.sandbox.files import Sandbox
    from agent.sandbox.manager import Sandboxes
    from agent.tools.hardware import CostEstimator
    from agent.tools.hf_jobs import JobsTool
    from agent.tools.hf_repo_git import RepoGitTool
    from agent.tools.hf_repos import PrivateReposTool, RepoFilesTool
    from agent.tools.hf_search import SearchTool, default_viewer_endpoint
    from agent.tools.sandbox import sandbox_tools

    sandbox = Sandbox(Path(sandbox_root))
    sandboxes = sandboxes or Sandboxes(None, sandbox)
    costs = costs or CostEstimator()
    jobs = JobsTool(
        api,
        sandboxes=sandboxes,
        secrets=secrets or {},
        poll_interval=job_poll_interval,
        costs=costs,
    )
    return [
        jobs.tool(),
        RepoFilesTool(api, sandboxes).tool(),
        RepoGitTool(api).tool(),
        PrivateReposTool(api, sandboxes, auto_file_upload=auto_file_upload).tool(),
        SearchTool(api, viewer_endpoint or default_viewer_endpoint(api)).tool(),
        *sandbox_tools(sandboxes, costs),
    ]


def build_research_tools(config: ResearchConfig) -> list[Tool]:
    """explore_hf_docs, fetch_hf_docs, find_hf_api, hf_papers and hf_inspect_dataset."""
    auth = {"Authorization": f"Bearer {config.token}"} if config.token else {}
    limits = {"timeout": config.timeout, "retries": config.retries, "max_bytes": config.max_bytes}
    hub = HttpClient("the Hugging Face Hub", headers=auth, **limits)
    viewer = HttpClient("the dataset viewer", headers=auth, **limits)
    arxiv = HttpClient("arXiv", **limits)
    docs = HfDocs(hub, config.hub_url, config.docs_index, max_age=config.docs_max_age)
    return [
        *docs.tools(),
        HubApiSpec(hub, config.hub_url).tool(),
        PapersTool(hub, config.hub_url, arxiv, config.arxiv_url).tool(),
        InspectDatasetTool(viewer, config.datasets_server_url).tool(),
    ]


def build_web_tools(
    *,
    github_api_url: str,
    github_token: str | None = None,
    web_search_url: str | None = None,
    fetch_allow_private: bool = False,
) -> list[Tool]:
    """The github_* tools, fetch_url, and web_search when a search instance is set."""
    tools = [*GitHubTools(github_api_url, github_token).tools()]
    if web_search_url:
        tools.append(WebSearchTool(web_search_url).tool())
    tools.append(FetchUrlTool(allow_private=fetch_allow_private).tool())
    return tools
