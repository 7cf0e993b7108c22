# ruff: noqa: F811
# (tests take the imported `hub` fixture as an argument, which F811 sees as a redefinition)
"""The real HF tools inside the agent loop and the turn runner, on the Hub stand-in.

Each policy row is checked end to end: the loopback LLM asks for the call through
LiteLLM, and the turn either pauses on an approval card with nothing sent to the
Hub, or runs the tool against the stand-in at once. The runner test follows a GPU
job from the model's call to the approval card, the edited script the stand-in
receives, and the thread's status line reaching "completed".
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from agent import events as ev
from agent.loop import EDITED_NOTE, Agent
from agent.sandbox.files import Sandbox
from agent.session import Session
from agent.tools import build_hf_tools
from agent.tools.registry import ToolContext, ToolRegistry
from bot.approvals.actor import Actor
from bot.runtime import build_tools
from bot.session_key import SessionKey
from bot.settings import Settings
from bot.store.embedded import connect
from bot.store.sessions import SessionStore
from bot.turns.runner import TurnRunner
from tests.closing import closed
from tests.fleet import wait_for
from tests.standins.hub import TOKEN, USER, HubStandIn, hub  # noqa: F401
from tests.standins.llm import text, tool_calls
from tests.support import Recorder, RecordingSurface, agent_config, assert_history_valid, eventually
from tests.test_hf_jobs import inline_script
from tests.test_hf_tools import APPROVAL

KEY = SessionKey("test", "T1", "C1", "1700000000.000300").encode()
ALICE = Actor("U_ALICE")
JOB_LINE = re.compile(r"^\S+ Job \w+ ")
GPU = {"hardware_flavor": "a10g-small"}
CPU = {"hardware_flavor": "cpu-basic"}
ORIGINAL = "print('original')\n"
EDITED = "import trl\nprint('edited by a person')\n"
REPO = {"repo_id": "tester/tiny"}

ARGS: dict[str, dict[str, dict[str, Any]]] = {
    "hf_jobs": {
        "run": {"command": ["python", "-c", "print(1)"], **GPU},
        "uv": {"script": ORIGINAL, **GPU},
        "scheduled run": {"command": ["true"], "schedule": "@daily", **GPU},
        "scheduled uv": {"script": ORIGINAL, "schedule": "@daily", **GPU},
        "ps": {},
        "logs": {"job_id": "nope"},
        "inspect": {"job_id": "nope"},
        "cancel": {"job_id": "nope"},
        "hardware": {**GPU, "timeout": "1h"},
        "scheduled ps": {},
        "scheduled inspect": {"scheduled_job_id": "nope"},
        "scheduled suspend": {"scheduled_job_id": "nope"},
        "scheduled resume": {"scheduled_job_id": "nope"},
        "scheduled delete": {"scheduled_job_id": "nope"},
    },
    "hf_repo_files": {
        "list": REPO,
        "read": {**REPO, "path": "README.md"},
        "upload": {**REPO, "files": [{"path_in_repo": "x.txt", "content": "x"}]},
        "delete": {**REPO, "paths": ["README.md"]},
    },
    "hf_repo_git": {
        "list_refs": REPO,
        "create_branch": {**REPO, "branch": "dev"},
        "delete_branch": {**REPO, "branch": "main"},
        "create_tag": {**REPO, "tag": "v1"},
        "delete_tag": {**REPO, "tag": "v1"},
        "list_prs": REPO,
        "create_pr": {**REPO, "title": "Better card"},
        "merge_pr": {**REPO, "pr_number": 1},
        "create_repo": {"repo_id": "tester/new"},
        "update_repo": {**REPO, "private": True},
    },
    "hf_private_repos": {
        "create_repo": {"repo_id": "tester/results"},
        "upload_file": {"repo_id": "tester/secret", "path_in_repo": "m.json", "content": "{}"},
    },
    "hf_search": {
        "models": {"query": "tiny"},
        "datasets": {},
        "spaces": {},
        "papers": {"query": "llama"},
        "dataset_info": {"repo_id": "tester/data"},
        "model_card": REPO,
    },
}
ROWS = [
    (tool, {"operation": op, **ARGS[tool][op]}, expected)
    for tool, ops in APPROVAL.items()
    for op, expected in ops.items()
]
SANDBOX_ROWS = [
    ("sandbox_create", {"hardware": "t4-small"}, True),
    ("sandbox_create", {}, False),
    ("bash", {"command": "true"}, False),
    ("write", {"path": "a.py", "content": "x"}, False),
    ("read", {"path": "a.py"}, False),
    ("edit", {"path": "a.py", "old_str": "x", "new_str": "y"}, False),
]


def hf_tools(hub: HubStandIn, root: Path, **options: Any) -> ToolRegistry:
    return ToolRegistry(
        build_hf_tools(
            hub.api(),
            sandbox_root=root,
            secrets={"HF_TOKEN": TOKEN},
            job_poll_interval=0.02,
            **options,
        )
    )


async def one_call_turn(
    llm, hub: HubStandIn, tmp_path: Path, tool: str, args: dict[str, Any], **config: Any
) -> tuple[Recorder, Session]:
    """A turn whose model makes exactly one call, then answers; the Hub seeded first."""
    hub.add_repo("tester/tiny", files={"README.md": "# Tiny\n"})
    hub.add_repo("tester/secret", private=True)
    hub.add_repo("tester/data", repo_type="dataset", files={"train.csv": "a\n1\n"})
    tools = hf_tools(hub, tmp_path, auto_file_upload=config.get("auto_file_upload", False))
    agent = Agent(agent_config(llm, **config), tools)
    llm.script(tool_calls((tool, args)), text("Done."))
    recorder, session = Recorder(), Session(key=KEY)
    await agent.run(session, "please do it", recorder.turn)
    return recorder, session


def assert_paused(recorder: Recorder, hub: HubStandIn, tool: str, args: dict[str, Any]) -> None:
    (approval,) = recorder.of(ev.ApprovalRequired)
    assert [(t["tool"], t["arguments"]) for t in approval.tools] == [(tool, args)]
    assert not recorder.of(ev.ToolOutput)
    assert hub.requests == []  # nothing reached the Hub before a person decided


def assert_ran(recorder: Recorder, hub: HubStandIn, tool: str) -> None:
    assert not recorder.of(ev.ApprovalRequired)
    (output,) = recorder.of(ev.ToolOutput)
    assert output.tool == tool and "Traceback" not in output.output
    assert recorder.types()[-1] == "turn_complete"


# ── the built-in policy, row by row, through the real loop ─────────────────


def test_every_operation_has_arguments_here():
    assert {tool: set(ops) for tool, ops in ARGS.items()} == {
        tool: set(ops) for tool, ops in APPROVAL.items()
    }


@pytest.mark.parametrize(
    ("tool", "args", "expected"), ROWS, ids=[f"{t}:{a['operation']}" for t, a, _ in ROWS]
)
async def test_policy_row_end_to_end(llm, hub, tmp_path, tool, args, expected):
    recorder, session = await one_call_turn(llm, hub, tmp_path, tool, args)
    if expected:
        assert_paused(recorder, hub, tool, args)
        assert session.pending is not None and llm.pending() == 1
    else:
        assert_ran(recorder, hub, tool)
        assert hub.requests, "the tool did not reach the Hub"
        assert_history_valid(session)


@pytest.mark.parametrize(
    ("tool", "args", "expected"),
    SANDBOX_ROWS,
    ids=[f"{t}:{a.get('hardware', '')}" for t, a, _ in SANDBOX_ROWS],
)
async def test_sandbox_policy_end_to_end(llm, hub, tmp_path, tool, args, expected):
    recorder, _ = await one_call_turn(llm, hub, tmp_path, tool, args)
    if expected:
        assert_paused(recorder, hub, tool, args)
        assert not any(tmp_path.iterdir()), "the sandbox was created before approval"
    else:  # these tools run at once; with no backend they say the sandbox is off
        assert_ran(recorder, hub, tool)
        assert "sandbox is off" in recorder.of(ev.ToolOutput)[0].output


@pytest.mark.parametrize("operation", ["run", "uv", "scheduled run", "scheduled uv"])
async def test_cpu_jobs_wait_only_with_confirm_cpu_jobs(llm, hub, tmp_path, operation):
    args = {"operation": operation, **ARGS["hf_jobs"][operation], **CPU}
    recorder, _ = await one_call_turn(llm, hub, tmp_path, "hf_jobs", args, confirm_cpu_jobs=True)
    assert_paused(recorder, hub, "hf_jobs", args)


@pytest.mark.parametrize("operation", ["run", "uv", "scheduled run", "scheduled uv"])
async def test_cpu_jobs_run_at_once_without_confirm_cpu_jobs(llm, hub, tmp_path, operation):
    args = {"operation": operation, **ARGS["hf_jobs"][operation], **CPU}
    recorder, _ = await one_call_turn(llm, hub, tmp_path, "hf_jobs", args, confirm_cpu_jobs=False)
    assert_ran(recorder, hub, "hf_jobs")
    endpoint = "scheduled-jobs" if operation.startswith("scheduled") else "jobs"
    (posted,) = hub.calls("POST", rf"^/api/{endpoint}/{USER}$")
    flavor = posted.json()["jobSpec"]["flavor"] if endpoint != "jobs" else posted.json()["flavor"]
    assert flavor == "cpu-basic"


async def test_a_job_without_a_flavor_counts_as_cpu(llm, hub, tmp_path):
    args = {"operation": "run", "command": ["true"]}
    recorder, _ = await one_call_turn(llm, hub, tmp_path, "hf_jobs", args)
    assert_paused(recorder, hub, "hf_jobs", args)


async def test_gpu_jobs_wait_even_without_confirm_cpu_jobs(llm, hub, tmp_path):
    args = {"operation": "run", **ARGS["hf_jobs"]["run"]}
    recorder, _ = await one_call_turn(llm, hub, tmp_path, "hf_jobs", args, confirm_cpu_jobs=False)
    assert_paused(recorder, hub, "hf_jobs", args)


async def test_private_uploads_run_at_once_with_auto_file_upload(llm, hub, tmp_path):
    args = {"operation": "upload_file", **ARGS["hf_private_repos"]["upload_file"]}
    recorder, _ = await one_call_turn(
        llm, hub, tmp_path, "hf_private_repos", args, auto_file_upload=True
    )
    assert_ran(recorder, hub, "hf_private_repos")
    assert hub.repo("tester/secret").files() == {"m.json": b"{}"}


async def test_yolo_mode_runs_a_gpu_job_at_once(llm, hub, tmp_path):
    args = {"operation": "run", **ARGS["hf_jobs"]["run"]}
    recorder, _ = await one_call_turn(llm, hub, tmp_path, "hf_jobs", args, yolo_mode=True)
    assert_ran(recorder, hub, "hf_jobs")
    assert hub.calls("POST", rf"^/api/jobs/{USER}$")


# ── a GPU job through the turn runner, Redis and a chat thread ───────────


class Thread:
    """One chat thread served by a real runner: Redis store, real HF tools, a surface."""

    def __init__(self, llm, redis_url: str, tools: ToolRegistry) -> None:
        self.redis = connect(redis_url)
        self.store = SessionStore(self.redis)
        self.surface = RecordingSurface()
        self.runner = TurnRunner(
            Agent(agent_config(llm), tools), self.store, {"test": lambda key, ref: self.surface}
        )

    async def say(self, words: str) -> None:
        await self.runner.submit(KEY, {"kind": "message", "text": words, "user": ALICE.user_id})
        await self.runner.wait_idle()

    async def approve(self, approval: ev.ApprovalRequired, **decision: Any) -> None:
        decided = await self.runner.decide(approval.approval_id, ALICE, approved=True, **decision)
        assert decided.result == "complete"
        await self.runner.wait_idle()

    def status_lines(self) -> list[str]:
        """Every text sent to a job's status line (tool call lines left out), in order."""
        return [
            text_ for kind, text_ in self.surface.calls if kind == "line" and JOB_LINE.match(text_)
        ]

    def job_lines(self) -> dict[str, str]:
        """The job status messages of the thread as they stand, by message ref."""
        return {ref: text_ for ref, text_ in self.surface.lines.items() if JOB_LINE.match(text_)}

    async def close(self) -> None:
        await self.runner.close()
        await self.redis.aclose()


@pytest.fixture
async def thread(llm, redis_url, hub, tmp_path):
    chat = Thread(llm, redis_url, hf_tools(hub, tmp_path / ".data" / "sandboxes"))
    yield chat
    await closed("the thread's bot", chat.close())


async def test_gpu_job_from_approval_with_an_edited_script_to_a_completed_status_line(
    thread, llm, hub, tmp_path
):
    hub.job_stage_seconds = 0.5
    job_call = {
        "operation": "uv",
        "script": "sandbox:train.py",
        "dependencies": ["trl"],
        "secrets": ["HF_TOKEN"],
        **GPU,
    }

    # 1-2. The script is in the session's files (the sandbox tests write it with the
    # tools: tests/test_sandbox_thread.py); the model asks for a GPU job with it.
    files = Sandbox(tmp_path / ".data" / "sandboxes")
    session = Session(key=KEY)
    files.create(session)
    files.write(session, "train.py", ORIGINAL)
    llm.script(tool_calls(("hf_jobs", job_call)))
    await thread.say("fine-tune a tiny model on a GPU")
    job_card = thread.surface.approvals[-1]
    (shown,) = job_card.tools
    assert shown["tool"] == "hf_jobs" and shown["arguments"]["script"] == ORIGINAL
    assert shown["arguments"]["hardware_flavor"] == "a10g-small"
    assert not hub.calls("POST", r"^/api/jobs/"), "a GPU job started before approval"

    # 3. Approved with an edited script: exactly that script goes to the Hub.
    llm.script(text("Your job is running; I will keep the status line updated."))
    await thread.approve(job_card, tool_call_id=shown["tool_call_id"], edited_script=EDITED)
    (posted,) = hub.calls("POST", rf"^/api/jobs/{USER}$")
    spec = posted.json()
    assert inline_script(spec["command"]) == EDITED
    assert "uv run --with trl /tmp/job_script.py" in spec["command"][2]
    assert spec["flavor"] == "a10g-small" and spec["secrets"] == {"HF_TOKEN": TOKEN}
    (job_id,) = hub.jobs
    assert not any("completed" in line for line in thread.status_lines())  # the turn did not wait
    session = await thread.store.load(KEY)
    result = next(m for m in session.history if m.get("name") == "hf_jobs")
    assert (
        result["content"].startswith(EDITED_NOTE) and f"Job {job_id} submitted" in result["content"]
    )
    assert_history_valid(session)
    assert thread.surface.transcript().endswith("I will keep the status line updated.")

    # 4. The status line, one message, moves queued → running → completed.
    await eventually(lambda: any("completed" in line for line in thread.status_lines()), 10)
    (final,) = thread.job_lines().values()
    assert final.startswith(f"✅ Job {job_id} completed · a10g-small\n⏱ ran ")
    assert "Training done, pushed to the Hub" in final  # the last log line
    assert "📈 loss 0.9" in final  # the latest metrics read from its log
    assert f"{hub.url}/jobs/{USER}/{job_id}" in final
    lines = thread.status_lines()
    assert "queued" in lines[0] and any("running" in line for line in lines)
    assert not any(TOKEN in line for line in lines)


async def test_the_conversation_goes_on_while_a_job_runs(thread, llm, hub):
    hub.job_stage_seconds = 0.5
    llm.script(tool_calls(("hf_jobs", {"operation": "run", "command": ["true"], **GPU})))
    await thread.say("run it")
    llm.script(text("Started."))
    await thread.approve(thread.surface.approvals[-1])
    llm.script(
        tool_calls(("hf_jobs", {"operation": "ps"})),
        text("It is still going."),
    )
    await thread.say("how is it going?")
    assert thread.surface.transcript().endswith("It is still going.")
    assert not any("completed" in line for line in thread.status_lines())
    await eventually(lambda: any("completed" in line for line in thread.status_lines()), 10)


# ── the bot's own assembly: settings token, sandboxes under DATA_DIR ─────


async def test_build_tools_uses_the_settings_token_and_data_dir_sandboxes(hub, tmp_path):
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / ".data",
        hf_endpoint=hub.url,
        hf_token=TOKEN,
        sandbox="off",
    )
    registry = build_tools(settings)
    session = Session(key=KEY)
    ctx = ToolContext(session=session, spawn=lambda work: asyncio.ensure_future(work).cancel())

    created = await registry.call("sandbox_create", {}, ctx)
    assert not created.success and "SANDBOX=off" in created.output

    listed = await registry.call("hf_jobs", {"operation": "ps"}, ctx)
    assert listed.success, listed.output  # the stand-in accepts only the bot's token
    run = await registry.call(
        "hf_jobs", {"operation": "run", "command": ["env"], "secrets": ["HF_TOKEN"]}, ctx
    )
    assert run.success and TOKEN not in run.output
    assert hub.calls("POST", rf"^/api/jobs/{USER}$")[0].json()["secrets"] == {"HF_TOKEN": TOKEN}


async def test_a_restarted_bot_resumes_the_status_line_of_a_running_job(
    thread, llm, redis_url, hub, tmp_path
):
    hub.job_stage_seconds = 1.0
    llm.script(tool_calls(("hf_jobs", {"operation": "run", "command": ["true"], **GPU})))
    await thread.say("run it")
    llm.script(text("Started."))
    await thread.approve(thread.surface.approvals[-1])
    await eventually(lambda: thread.status_lines(), 10)
    await thread.runner.close()  # the process stops: its watcher is gone
    seen = len(thread.status_lines())
    assert await thread.store.background()  # but the watch is remembered

    restarted = Thread(llm, redis_url, hf_tools(hub, tmp_path / ".data" / "sandboxes"))
    restarted.surface = thread.surface  # the same chat thread
    restarted.runner.surfaces["test"] = lambda key, ref: thread.surface
    try:
        await restarted.runner.recover()
        await eventually(lambda: any("completed" in line for line in thread.status_lines()), 10)
        assert len(thread.status_lines()) > seen
        (final,) = thread.job_lines().values()  # still one status message, now final
        assert final.startswith("✅ Job") and "completed" in final

        async def forgotten() -> bool:
            return not await restarted.store.background()

        assert await wait_for(forgotten, 5)  # a finished watch is forgotten
    finally:
        await restarted.close()
