"""The approval policy, row by row against upstream ml-intern's ``_needs_approval``."""

import pytest

from agent.config import AgentConfig
from agent.policy import CPU_FLAVORS, needs_approval
from agent.tools.hardware import CostEstimator
from bot.approvals.card import approval_note
from bot.approvals.costs import call_cost

DEFAULT = AgentConfig()
YOLO = AgentConfig(yolo_mode=True)
NO_CPU_CONFIRM = AgentConfig(confirm_cpu_jobs=False)
AUTO_UPLOAD = AgentConfig(auto_file_upload=True)


@pytest.mark.parametrize(
    ("tool", "args", "config", "expected"),
    [
        # yolo skips everything
        ("sandbox_create", {}, YOLO, False),
        ("hf_jobs", {"operation": "run", "hardware_flavor": "a100-large"}, YOLO, False),
        # malformed nested args: no approval (the validation error is reported instead)
        ("hf_jobs", {"operation": "run", "args": "not an object"}, DEFAULT, False),
        ("hf_jobs", {"operation": "run", "args": [1]}, DEFAULT, False),
        ("sandbox_create", {}, DEFAULT, False),
        ("sandbox_create", {"hardware": "cpu-basic"}, DEFAULT, False),
        ("sandbox_create", {"hardware": "t4-small"}, DEFAULT, True),
        ("sandbox_create", {"hardware": "t4-small"}, YOLO, False),
        # hf_jobs: run-like operations on GPU always, on CPU only when confirm_cpu_jobs
        ("hf_jobs", {"operation": "run", "hardware_flavor": "a10g-small"}, DEFAULT, True),
        ("hf_jobs", {"operation": "uv", "flavor": "t4-medium"}, NO_CPU_CONFIRM, True),
        ("hf_jobs", {"operation": "scheduled run", "hardware": "l4x1"}, DEFAULT, True),
        ("hf_jobs", {"operation": "scheduled uv", "hardware_flavor": "h100"}, DEFAULT, True),
        ("hf_jobs", {"operation": "run", "hardware_flavor": "cpu-basic"}, DEFAULT, True),
        ("hf_jobs", {"operation": "run", "hardware_flavor": "cpu-upgrade"}, NO_CPU_CONFIRM, False),
        ("hf_jobs", {"operation": "run"}, NO_CPU_CONFIRM, False),  # default flavor is cpu-basic
        ("hf_jobs", {"operation": "run"}, DEFAULT, True),
        ("hf_jobs", {"operation": "ps"}, DEFAULT, False),
        ("hf_jobs", {"operation": "logs", "hardware_flavor": "a100-large"}, DEFAULT, False),
        ("hf_jobs", {"operation": "cancel"}, DEFAULT, False),
        ("hf_jobs", {"operation": "scheduled ps"}, DEFAULT, False),
        # hf_private_repos
        ("hf_private_repos", {"operation": "upload_file"}, DEFAULT, True),
        ("hf_private_repos", {"operation": "upload_file"}, AUTO_UPLOAD, False),
        ("hf_private_repos", {"operation": "create_repo"}, AUTO_UPLOAD, True),
        ("hf_private_repos", {"operation": "list"}, DEFAULT, False),
        # hf_repo_files
        ("hf_repo_files", {"operation": "upload"}, DEFAULT, True),
        ("hf_repo_files", {"operation": "delete"}, DEFAULT, True),
        ("hf_repo_files", {"operation": "list"}, DEFAULT, False),
        ("hf_repo_files", {"operation": "read"}, DEFAULT, False),
        # hf_repo_git
        *[
            ("hf_repo_git", {"operation": op}, DEFAULT, True)
            for op in ("delete_branch", "delete_tag", "merge_pr", "create_repo", "update_repo")
        ],
        *[
            ("hf_repo_git", {"operation": op}, DEFAULT, False)
            for op in ("list_refs", "create_branch", "create_tag", "list_prs", "create_pr")
        ],
        # anything else runs at once
        ("plan", {"items": []}, DEFAULT, False),
        ("hf_search", {"operation": "models"}, DEFAULT, False),
    ],
)
def test_needs_approval(tool, args, config, expected):
    assert needs_approval(tool, args, config) is expected


def test_cpu_flavors_are_the_hub_cpu_tiers():
    assert {"cpu-basic", "cpu-upgrade"} <= CPU_FLAVORS
    assert not any(f.startswith(("a10", "a100", "t4", "l4", "h100")) for f in CPU_FLAVORS)


def test_a_gpu_sandbox_shows_its_hourly_price_and_counts_an_hour():
    args = {"hardware": "t4-small"}
    prices = CostEstimator()
    assert call_cost(prices, "sandbox_create", args) == prices.hourly("t4-small") > 0
    assert call_cost(prices, "sandbox_create", {}) == 0  # a cpu-basic Space is free
    note = approval_note(
        {"tool": "sandbox_create", "arguments": args, "approval": {"cost_usd": 0.4}}
    )
    assert "$0.40 per hour while it runs" in note
