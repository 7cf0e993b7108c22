# ruff: noqa: F811
# (tests take the imported `hub` fixture as an argument, which F811 sees as a redefinition)
"""hf_repo_files, hf_repo_git, hf_private_repos and Hub error messages, on the Hub stand-in;
and the approval policy for every operation the HF tools offer."""

from __future__ import annotations

from typing import Any

import pytest

from agent.config import AgentConfig
from agent.policy import needs_approval
from agent.sandbox.files import Sandbox
from agent.session import Session
from agent.tools import build_hf_tools
from agent.tools.registry import ToolContext, ToolRegistry, ToolResult
from agent.tools.sandbox import SANDBOX_TOOLS
from tests.standins.hub import HubStandIn, hub  # noqa: F401

README = "# Tiny model\nIt is tiny.\n"


@pytest.fixture
def call(hub: HubStandIn, tmp_path):
    """Call an HF tool in session t:1:2:3 through a real HfApi on the stand-in."""
    hub.add_repo("tester/tiny", files={"README.md": README, "cfg/config.json": "{}"})
    registry = ToolRegistry(build_hf_tools(hub.api(), sandbox_root=tmp_path))
    session = Session(key="t:1:2:3")

    async def call(tool: str, **args: Any) -> ToolResult:
        return await registry.call(tool, args, ToolContext(session=session))

    return call


def short_and_clean(result: ToolResult) -> bool:
    return not result.success and "Traceback" not in result.output and len(result.output) < 400


# ── hf_repo_files ────────────────────────────────────────────────────────


async def test_list_files(call):
    top = await call("hf_repo_files", operation="list", repo_id="tester/tiny")
    assert top.output.splitlines() == ["README.md  25 B", "cfg/"]
    everything = await call(
        "hf_repo_files", operation="list", repo_id="tester/tiny", recursive=True
    )
    assert "cfg/config.json  2 B" in everything.output
    limited = await call("hf_repo_files", operation="list", repo_id="tester/tiny", limit=1)
    assert limited.output.splitlines()[-1].startswith("... more entries")


async def test_read_a_file_by_lines(call):
    read = await call("hf_repo_files", operation="read", repo_id="tester/tiny", path="README.md")
    assert read.output == "README.md: lines 1-2 of 2\n" + README.rstrip("\n")
    window = await call(
        "hf_repo_files", operation="read", repo_id="tester/tiny", path="README.md", start_line=2
    )
    assert window.output.splitlines() == ["README.md: lines 2-2 of 2", "It is tiny."]


async def test_read_refuses_folders_large_and_binary_files(call, hub):
    hub.add_repo("tester/blobs", files={"big.txt": "x" * 300_000, "w.bin": b"\xff\xfe\x00"})
    folder = await call("hf_repo_files", operation="read", repo_id="tester/tiny", path="cfg")
    assert not folder.success and "is a folder" in folder.output
    big = await call("hf_repo_files", operation="read", repo_id="tester/blobs", path="big.txt")
    assert not big.success and "read limit" in big.output
    binary = await call("hf_repo_files", operation="read", repo_id="tester/blobs", path="w.bin")
    assert not binary.success and "binary" in binary.output


async def test_upload_text_and_sandbox_files_in_one_commit(call, hub, tmp_path):
    files, session = Sandbox(tmp_path), Session(key="t:1:2:3")  # the session's files
    files.create(session)
    files.write(session, "train.py", "print('hi')\n")
    result = await call(
        "hf_repo_files",
        operation="upload",
        repo_id="tester/tiny",
        files=[
            {"path_in_repo": "notes.md", "content": "hello"},
            {"path_in_repo": "scripts/train.py", "sandbox_file": "train.py"},
        ],
        commit_message="Add notes and script",
    )
    assert result.success, result.output
    assert "notes.md, scripts/train.py" in result.output and "Commit: " in result.output
    files = hub.repo("tester/tiny").files()
    assert files["notes.md"] == b"hello" and files["scripts/train.py"] == b"print('hi')\n"
    assert len(hub.calls("POST", r"/commit/main$")) == 1


async def test_upload_to_a_branch_and_as_a_pull_request(call, hub):
    await call("hf_repo_git", operation="create_branch", repo_id="tester/tiny", branch="dev")
    on_branch = await call(
        "hf_repo_files",
        operation="upload",
        repo_id="tester/tiny",
        revision="dev",
        files=[{"path_in_repo": "dev.txt", "content": "d"}],
    )
    assert on_branch.success
    assert "dev.txt" in hub.repo("tester/tiny").files("dev")
    assert "dev.txt" not in hub.repo("tester/tiny").files("main")
    as_pr = await call(
        "hf_repo_files",
        operation="upload",
        repo_id="tester/tiny",
        files=[{"path_in_repo": "pr.txt", "content": "p"}],
        create_pr=True,
    )
    assert as_pr.success and "Pull request: " in as_pr.output
    assert "pr.txt" in hub.repo("tester/tiny").files("refs/pr/1")


async def test_a_failed_multi_file_upload_says_which_files_landed(call, hub):
    before = dict(hub.repo("tester/tiny").files())
    hub.fail(r"/commit/main$", 403)
    result = await call(
        "hf_repo_files",
        operation="upload",
        repo_id="tester/tiny",
        files=[{"path_in_repo": name, "content": name} for name in ("a.txt", "b.txt", "c.txt")],
    )
    assert short_and_clean(result)
    assert "Permission denied" in result.output
    assert "none of a.txt, b.txt, c.txt landed in tester/tiny" in result.output
    assert hub.repo("tester/tiny").files() == before


async def test_upload_needs_content_or_sandbox_file(call):
    result = await call(
        "hf_repo_files", operation="upload", repo_id="tester/tiny", files=[{"path_in_repo": "x"}]
    )
    assert not result.success and "either 'content' or 'sandbox_file'" in result.output


async def test_delete_files_and_folders(call, hub):
    result = await call(
        "hf_repo_files", operation="delete", repo_id="tester/tiny", paths=["README.md", "cfg/"]
    )
    assert result.success, result.output
    assert hub.repo("tester/tiny").files() == {}
    again = await call(
        "hf_repo_files", operation="delete", repo_id="tester/tiny", paths=["README.md"]
    )
    assert short_and_clean(again) and "none of README.md landed" in again.output


async def test_repo_types_reach_dataset_and_space_repos(call, hub):
    hub.add_repo("tester/data", repo_type="dataset", files={"train.csv": "a,b\n"})
    hub.add_repo("tester/app", repo_type="space", files={"app.py": "import gradio\n"})
    data = await call("hf_repo_files", operation="list", repo_id="tester/data", repo_type="dataset")
    assert "train.csv" in data.output
    app = await call(
        "hf_repo_files", operation="read", repo_id="tester/app", repo_type="space", path="app.py"
    )
    assert "import gradio" in app.output
    wrong = await call("hf_repo_files", operation="list", repo_id="tester/data", repo_type="data")
    assert not wrong.success and "repo_type must be one of" in wrong.output


# ── hf_repo_git ──────────────────────────────────────────────────────────


async def test_branches_and_tags(call, hub):
    git = "hf_repo_git"
    assert (await call(git, operation="create_branch", repo_id="tester/tiny", branch="dev")).success
    assert (
        await call(git, operation="create_tag", repo_id="tester/tiny", tag="v1", message="first")
    ).success
    refs = await call(git, operation="list_refs", repo_id="tester/tiny")
    assert "branches: dev" in refs.output and "main" in refs.output and "tags: v1" in refs.output
    duplicate = await call(git, operation="create_branch", repo_id="tester/tiny", branch="dev")
    assert short_and_clean(duplicate) and "Conflict (409)" in duplicate.output
    assert (await call(git, operation="delete_branch", repo_id="tester/tiny", branch="dev")).success
    assert (await call(git, operation="delete_tag", repo_id="tester/tiny", tag="v1")).success
    assert set(hub.repo("tester/tiny").branches) == {"main"} and not hub.repo("tester/tiny").tags


async def test_pull_requests(call, hub):
    git = "hf_repo_git"
    opened = await call(git, operation="create_pr", repo_id="tester/tiny", title="Better card")
    assert opened.success and "#1" in opened.output and "refs/pr/1" in opened.output
    pushed = await call(
        "hf_repo_files",
        operation="upload",
        repo_id="tester/tiny",
        revision="refs/pr/1",
        files=[{"path_in_repo": "README.md", "content": "# Better\n"}],
    )
    assert pushed.success, pushed.output
    listed = await call(git, operation="list_prs", repo_id="tester/tiny")
    assert "#1 [open] Better card" in listed.output
    merged = await call(git, operation="merge_pr", repo_id="tester/tiny", pr_number=1)
    assert merged.success, merged.output
    assert hub.repo("tester/tiny").files()["README.md"] == b"# Better\n"
    assert (
        "No open pull requests"
        in (await call(git, operation="list_prs", repo_id="tester/tiny")).output
    )
    assert (
        "[merged]"
        in (await call(git, operation="list_prs", repo_id="tester/tiny", status="all")).output
    )
    no_number = await call(git, operation="merge_pr", repo_id="tester/tiny")
    assert not no_number.success and "'pr_number' is required" in no_number.output


async def test_create_repo_and_update_settings(call, hub):
    git = "hf_repo_git"
    created = await call(git, operation="create_repo", repo_id="tester/new-model")
    assert created.success and "public model repo tester/new-model" in created.output
    space = await call(git, operation="create_repo", repo_id="tester/demo", repo_type="space")
    assert not space.success and "space_sdk" in space.output
    space = await call(
        git, operation="create_repo", repo_id="tester/demo", repo_type="space", space_sdk="gradio"
    )
    assert space.success and "/spaces/tester/demo" in space.output
    updated = await call(
        git, operation="update_repo", repo_id="tester/new-model", private=True, gated="manual"
    )
    assert updated.success
    repo = hub.repo("tester/new-model")
    assert repo.private and repo.gated == "manual"
    nothing = await call(git, operation="update_repo", repo_id="tester/new-model")
    assert not nothing.success and "'private' and/or 'gated'" in nothing.output


# ── hf_private_repos ─────────────────────────────────────────────────────


async def test_private_repo_create_and_upload(call, hub):
    private = "hf_private_repos"
    created = await call(
        private, operation="create_repo", repo_id="tester/results", repo_type="dataset"
    )
    assert created.success and "private dataset repo" in created.output
    assert hub.repo("tester/results", "dataset").private
    uploaded = await call(
        private,
        operation="upload_file",
        repo_id="tester/results",
        repo_type="dataset",
        path_in_repo="metrics.json",
        content='{"acc": 0.9}',
    )
    assert uploaded.success, uploaded.output
    assert hub.repo("tester/results", "dataset").files()["metrics.json"] == b'{"acc": 0.9}'


async def test_private_upload_refuses_public_repos(call, hub):
    result = await call(
        "hf_private_repos",
        operation="upload_file",
        repo_id="tester/tiny",
        path_in_repo="x.txt",
        content="x",
    )
    assert not result.success and "is public" in result.output
    assert "x.txt" not in hub.repo("tester/tiny").files()


# ── Hub errors ───────────────────────────────────────────────────────────


READ = {"operation": "read", "repo_id": "tester/tiny", "path": "README.md"}


@pytest.mark.parametrize(
    ("path", "status", "expected"),
    [
        (r"/paths-info/", 401, "Authentication failed (401)"),
        (r"/paths-info/", 403, "Permission denied (403)"),
        (r"/paths-info/", 404, "Model 'tester/tiny' not found"),
        (r"/paths-info/", 429, "Rate limited by the Hub (429); retry after 30 s"),
        (r"/resolve/", "gated", "is gated"),
        (r"/resolve/", "entry_not_found", "File not found in Model 'tester/tiny'"),
        (r"/paths-info/", "revision_not_found", "Revision not found"),
        (r"/paths-info/", 503, "server error (503)"),
    ],
)
async def test_hub_errors_are_short_and_actionable(call, hub, path, status, expected):
    hub.fail(path, status, times=10)
    result = await call("hf_repo_files", **READ)
    assert short_and_clean(result), result.output
    assert expected in result.output


async def test_natural_not_found_gated_and_bad_revision(call, hub):
    hub.add_repo("meta/gated-model", files={"README.md": "card"}, gated="manual")
    missing = await call("hf_repo_files", **{**READ, "repo_id": "tester/nope"})
    assert short_and_clean(missing) and "not found, or it is private" in missing.output
    gated = await call("hf_repo_files", **{**READ, "repo_id": "meta/gated-model"})
    assert short_and_clean(gated) and "Request access" in gated.output
    revision = await call("hf_repo_files", **{**READ, "revision": "nope"})
    assert short_and_clean(revision) and "list_refs" in revision.output
    no_file = await call("hf_repo_files", **{**READ, "path": "nope.md"})
    assert short_and_clean(no_file) and "No file 'nope.md'" in no_file.output


async def test_a_bad_token_and_a_foreign_namespace(hub, tmp_path):
    registry = ToolRegistry(build_hf_tools(hub.api(token="hf_bad"), sandbox_root=tmp_path))
    ctx = ToolContext(session=Session(key="t:1:2:3"))
    bad = await registry.call("hf_jobs", {"operation": "ps"}, ctx)
    assert short_and_clean(bad) and "HF_TOKEN" in bad.output

    registry = ToolRegistry(build_hf_tools(hub.api(), sandbox_root=tmp_path))
    foreign = await registry.call(
        "hf_repo_git", {"operation": "create_repo", "repo_id": "someone-else/model"}, ctx
    )
    assert short_and_clean(foreign) and "Permission denied (403)" in foreign.output


async def test_payment_required(call, hub):
    hub.fail(r"/api/repos/create", 402)
    result = await call("hf_repo_git", operation="create_repo", repo_id="tester/paid")
    assert short_and_clean(result) and "settings/billing" in result.output


async def test_storage_quota_on_upload_says_so_and_that_nothing_landed(call, hub):
    hub.fail(r"/commit/main$", 403, message="You have exceeded your private storage quota")
    result = await call(
        "hf_repo_files",
        operation="upload",
        repo_id="tester/tiny",
        files=[{"path_in_repo": "weights.txt", "content": "w"}],
    )
    assert short_and_clean(result), result.output
    assert result.output.startswith("ERROR: Quota reached (403)")
    assert "storage quota" in result.output and "none of weights.txt landed" in result.output


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Monthly jobs quota exceeded for this namespace", "Quota reached (429)"),
        ("Rate limit exceeded", "Rate limited by the Hub (429)"),
    ],
)
async def test_a_quota_429_is_not_a_rate_limit(call, hub, message, expected):
    hub.fail(r"^/api/jobs/tester$", 429, method="POST", message=message)
    result = await call("hf_jobs", operation="run", command=["true"])
    assert short_and_clean(result), result.output
    assert expected in result.output
    assert not hub.jobs


# ── approval policy for every operation ──────────────────────────────────

GPU, CPU = {"hardware_flavor": "a10g-large"}, {"hardware_flavor": "cpu-basic"}
APPROVAL = {
    "hf_jobs": {
        "run": True,
        "uv": True,
        "scheduled run": True,
        "scheduled uv": True,
        **{
            op: False
            for op in (
                "ps",
                "logs",
                "inspect",
                "cancel",
                "hardware",
                "scheduled ps",
                "scheduled inspect",
                "scheduled suspend",
                "scheduled resume",
                "scheduled delete",
            )
        },
    },
    "hf_repo_files": {"list": False, "read": False, "upload": True, "delete": True},
    "hf_repo_git": {
        "list_refs": False,
        "create_branch": False,
        "delete_branch": True,
        "create_tag": False,
        "delete_tag": True,
        "list_prs": False,
        "create_pr": False,
        "merge_pr": True,
        "create_repo": True,
        "update_repo": True,
    },
    "hf_private_repos": {"create_repo": True, "upload_file": True},
    "hf_search": {
        op: False for op in ("models", "datasets", "spaces", "papers", "dataset_info", "model_card")
    },
}
"""Seed policy with the default config, GPU hardware for job runs."""


def operations(hub: HubStandIn, tmp_path) -> dict[str, list[str]]:
    """Each tool's operations, as its JSON schema offers them to the model."""
    registry = ToolRegistry(build_hf_tools(hub.api(), sandbox_root=tmp_path))
    return {
        spec["function"]["name"]: spec["function"]["parameters"]["properties"]["operation"]["enum"]
        for spec in registry.specs()
        if "operation" in spec["function"]["parameters"]["properties"]
    }


def test_every_operation_has_a_policy_row(hub, tmp_path):
    offered = {tool: sorted(ops) for tool, ops in operations(hub, tmp_path).items()}
    assert offered == {tool: sorted(ops) for tool, ops in APPROVAL.items()}


@pytest.mark.parametrize(
    ("tool", "operation", "expected"),
    [(tool, op, expected) for tool, ops in APPROVAL.items() for op, expected in ops.items()],
)
def test_policy_row(tool, operation, expected):
    assert needs_approval(tool, {"operation": operation, **GPU}, AgentConfig()) is expected


@pytest.mark.parametrize("operation", ["run", "uv", "scheduled run", "scheduled uv"])
def test_cpu_job_runs_follow_confirm_cpu_jobs(operation):
    args = {"operation": operation, **CPU}
    assert needs_approval("hf_jobs", args, AgentConfig(confirm_cpu_jobs=True)) is True
    assert needs_approval("hf_jobs", args, AgentConfig(confirm_cpu_jobs=False)) is False
    assert needs_approval("hf_jobs", {**args, **GPU}, AgentConfig(confirm_cpu_jobs=False)) is True


def test_private_uploads_follow_auto_file_upload():
    args = {"operation": "upload_file"}
    assert needs_approval("hf_private_repos", args, AgentConfig(auto_file_upload=True)) is False
    assert needs_approval("hf_private_repos", args, AgentConfig(auto_file_upload=False)) is True


def test_sandbox_tools_policy(hub, tmp_path):
    names = ToolRegistry(build_hf_tools(hub.api(), sandbox_root=tmp_path)).names()
    sandbox = [name for name in names if name in SANDBOX_TOOLS]
    assert sandbox == ["sandbox_create", "bash", "read", "write", "edit"]
    assert not any(needs_approval(n, {}, AgentConfig()) for n in sandbox)  # cpu-basic
    assert needs_approval("sandbox_create", {"hardware": "t4-small"}, AgentConfig())
