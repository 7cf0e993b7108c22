"""The agent's tools; :func:`build_hf_tools` makes the Hugging Face ones."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from huggingface_hub import HfApi

    from agent.sandbox.manager import Sandboxes
    from agent.tools.registry import Tool


def build_hf_tools(
    api: HfApi,
    *,
    sandbox_root: Path,
    sandboxes: Sandboxes | None = None,
    auto_file_upload: bool = False,
    secrets: Mapping[str, str] | None = None,
    job_poll_interval: float = 5.0,
    viewer_endpoint: str | None = None,
) -> list[Tool]:
    """hf_jobs, hf_repo_files, hf_repo_git, hf_private_repos, hf_search and the sandbox tools.

    ``sandbox_root`` holds the sessions' files on the bot's host; ``sandboxes`` runs
    their sandboxes (None: the sandbox is off, ``sandbox:<file>`` reads those files).

    ``secrets`` are the values hf_jobs may pass to jobs by name (the bot's
    environment). ``viewer_endpoint`` is the dataset viewer API base URL; by
    default the public one when ``api`` talks to the public Hub, else none.
    """
    # Imported here, not at the top: agent.sandbox imports agent.tools.registry, so this
    # package must not import agent.sandbox while it initialises.
    from agent.sandbox.files import Sandbox
    from agent.sandbox.manager import Sandboxes
    from agent.tools.hf_jobs import JobsTool
    from agent.tools.hf_repo_git import RepoGitTool
    from agent.tools.hf_repos import PrivateReposTool, RepoFilesTool
    from agent.tools.hf_search import SearchTool, default_viewer_endpoint
    from agent.tools.sandbox import sandbox_tools

    sandbox = Sandbox(Path(sandbox_root))
    sandboxes = sandboxes or Sandboxes(None, sandbox)
    jobs = JobsTool(
        api, sandboxes=sandboxes, secrets=secrets or {}, poll_interval=job_poll_interval
    )
    return [
        jobs.tool(),
        RepoFilesTool(api, sandbox).tool(),
        RepoGitTool(api).tool(),
        PrivateReposTool(api, sandbox, auto_file_upload=auto_file_upload).tool(),
        SearchTool(api, viewer_endpoint or default_viewer_endpoint(api)).tool(),
        *sandbox_tools(sandboxes),
    ]
