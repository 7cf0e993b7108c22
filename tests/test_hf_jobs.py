# ruff: noqa: F811
# (tests take the imported `hub` fixture as an argument, which F811 sees as a redefinition)
"""hf_jobs against the Hub stand-in: every operation, live status, scripts and secrets."""

from __future__ import annotations

import asyncio
import base64
import re
from typing import Any

import pytest

from agent.events import Event, JobStatus
from agent.sandbox.files import Sandbox
from agent.sandbox.manager import Sandboxes
from agent.session import Session
from agent.tools import build_hf_tools
from agent.tools.registry import ToolContext, ToolRegistry, ToolResult
from tests.standins.hub import USER, HubStandIn, hub  # noqa: F401

SECRET = "hf_super_secret_value"
SECRETS = {"HF_TOKEN": SECRET, "WANDB_API_KEY": "wandb-secret-value"}
SCRIPT = "import trl\nprint('training')\n"


class Conversation:
    """A session plus what tools sent it: notifications and spawned watchers."""

    def __init__(self, registry: ToolRegistry, files: Sandbox) -> None:
        self.registry = registry
        self.files = files
        self.session = Session(key="t:1:2:3")
        self.events: list[Event] = []
        self.tasks: list[asyncio.Task[Any]] = []

    def context(self, tool_call_id: str = "") -> ToolContext:
        return ToolContext(
            session=self.session, tool_call_id=tool_call_id, notify=self._notify, spawn=self._spawn
        )

    async def call(self, tool: str, **args: Any) -> ToolResult:
        return await self.registry.call(tool, args, self.context())

    def put(self, name: str, content: str) -> None:
        """A file in the session's files, as a shared file is saved (no sandbox running)."""
        self.files.create(self.session)
        self.files.write(self.session, name, content)

    async def jobs(self, **args: Any) -> ToolResult:
        return await self.call("hf_jobs", **args)

    async def watched(self) -> list[JobStatus]:
        """Wait for every watcher to finish; the job statuses sent."""
        await asyncio.wait_for(asyncio.gather(*self.tasks), 10)
        return [e for e in self.events if isinstance(e, JobStatus)]

    async def _notify(self, event: Event) -> None:
        self.events.append(event)

    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coroutine)
        self.tasks.append(task)
        return task


@pytest.fixture
def chat(hub: HubStandIn, tmp_path) -> Conversation:
    tools = build_hf_tools(
        hub.api(), sandbox_root=tmp_path, secrets=SECRETS, job_poll_interval=0.02
    )
    return Conversation(ToolRegistry(tools), Sandbox(tmp_path))


def job_id_of(result: ToolResult) -> str:
    match = re.search(r"Job (\w+) submitted", result.output)
    assert match, result.output
    return match.group(1)


def inline_script(command: list[str]) -> str:
    """The script our uv wrapper command carries."""
    encoded = re.search(r"printf %s (\S+) \|", command[2]).group(1)
    return base64.b64decode(encoded).decode()


def submitted(hub: HubStandIn) -> dict[str, Any]:
    return hub.calls("POST", r"^/api/jobs/tester$")[-1].json()


async def test_run_returns_at_once_and_the_watcher_reports_until_completed(chat, hub):
    result = await chat.jobs(
        operation="run", command=["python", "-c", "print(1)"], hardware_flavor="a10g-small"
    )
    assert result.success, result.output
    assert "SCHEDULING" in result.output  # the call did not wait for the job
    job_id = job_id_of(result)
    assert f"/jobs/{USER}/{job_id}" in result.output
    spec = submitted(hub)
    assert spec["command"] == ["python", "-c", "print(1)"]
    assert spec["flavor"] == "a10g-small"
    assert spec["dockerImage"] == "python:3.12"

    statuses = await chat.watched()
    assert {s.key for s in statuses} == {f"job:{job_id}"}
    assert [s.final for s in statuses].count(True) == 1 and statuses[-1].final
    assert "completed" in statuses[-1].text
    assert "Training done" in statuses[-1].text  # last log line
    assert f"/jobs/{USER}/{job_id}" in statuses[-1].text
    assert any("queued" in s.text or "running" in s.text for s in statuses[:-1])


async def test_a_failed_job_ends_with_a_final_failed_status(chat, hub):
    hub.job_outcome = "ERROR"
    await chat.jobs(operation="run", command=["false"])
    statuses = await chat.watched()
    assert statuses[-1].final
    assert "failed: Job failed with exit code 1" in statuses[-1].text


async def test_the_watcher_gives_up_with_a_final_status_when_the_hub_keeps_failing(chat, hub):
    result = await chat.jobs(operation="run", command=["true"])
    hub.fail(rf"/api/jobs/tester/{job_id_of(result)}$", 500, times=100)
    statuses = await chat.watched()
    assert statuses[-1].final
    assert "Lost track" in statuses[-1].text and "Traceback" not in statuses[-1].text


async def test_uv_runs_an_inline_script_with_its_dependencies(chat, hub):
    result = await chat.jobs(
        operation="uv",
        script=SCRIPT,
        dependencies=["trl", "datasets"],
        script_args=["--epochs", "1"],
    )
    assert result.success, result.output
    spec = submitted(hub)
    assert spec["dockerImage"].startswith("ghcr.io/astral-sh/uv")
    assert inline_script(spec["command"]) == SCRIPT
    assert "uv run --with trl --with datasets /tmp/job_script.py --epochs 1" in spec["command"][2]
    assert spec["labels"]["name"] == "inline-script"


async def test_uv_reads_a_sandbox_script(chat, hub):
    chat.put("train.py", SCRIPT)
    result = await chat.jobs(operation="uv", script="sandbox:train.py")
    assert result.success, result.output
    spec = submitted(hub)
    assert inline_script(spec["command"]) == SCRIPT
    assert spec["labels"]["name"] == "train"


async def test_uv_reads_a_script_from_a_hub_repo(chat, hub):
    hub.add_repo("tester/scripts", repo_type="dataset", files={"jobs/sft.py": SCRIPT})
    result = await chat.jobs(operation="uv", script="hf://datasets/tester/scripts/jobs/sft.py")
    assert result.success, result.output
    assert inline_script(submitted(hub)["command"]) == SCRIPT


async def test_uv_passes_a_url_script_to_run_uv_job(chat, hub):
    url = "https://example.org/sft.py"
    result = await chat.jobs(operation="uv", script=url, dependencies=["trl"])
    assert result.success, result.output
    assert submitted(hub)["command"] == ["uv", "run", "--with", "trl", url]


async def test_a_missing_sandbox_script_is_a_readable_error(chat, hub):
    result = await chat.jobs(operation="uv", script="sandbox:train.py")
    assert not result.success
    assert "no files" in result.output
    assert not hub.calls("POST", r"^/api/jobs/")


async def test_ps_logs_inspect_and_cancel(chat, hub):
    hub.job_stage_seconds = 60  # stays queued
    job_id = job_id_of(await chat.jobs(operation="run", command=["sleep", "1"]))

    listing = await chat.jobs(operation="ps")
    assert job_id in listing.output and "SCHEDULING" in listing.output

    logs = await chat.jobs(operation="logs", job_id=job_id)
    assert logs.success and "no logs yet" in logs.output

    details = await chat.jobs(operation="inspect", job_id=job_id)
    assert f"id: {job_id}" in details.output and "stage: SCHEDULING" in details.output

    cancel = await chat.jobs(operation="cancel", job_id=job_id)
    assert cancel.success and job_id in cancel.output
    assert "stage: CANCELED" in (await chat.jobs(operation="inspect", job_id=job_id)).output
    assert job_id not in (await chat.jobs(operation="ps")).output
    assert job_id in (await chat.jobs(operation="ps", all=True)).output
    statuses = await chat.watched()
    assert statuses[-1].final and "canceled" in statuses[-1].text


async def test_logs_show_the_tail(chat, hub):
    job_id = job_id_of(await chat.jobs(operation="run", command=["python", "train.py"]))
    await chat.watched()
    logs = await chat.jobs(operation="logs", job_id=job_id, tail=2)
    assert logs.output.splitlines() == [
        f"Job {job_id} is COMPLETED; last 2 log lines:",
        "step 3/3 loss=0.90",
        "Training done, pushed to the Hub",
    ]


async def test_scheduled_jobs_lifecycle(chat, hub):
    created = await chat.jobs(
        operation="scheduled uv", script=SCRIPT, schedule="@daily", hardware_flavor="t4-small"
    )
    assert created.success, created.output
    scheduled_id = re.search(r"id: (\w+)", created.output).group(1)
    body = hub.calls("POST", r"^/api/scheduled-jobs/tester$")[-1].json()
    assert body["schedule"] == "@daily" and body["jobSpec"]["flavor"] == "t4-small"
    assert inline_script(body["jobSpec"]["command"]) == SCRIPT

    run = await chat.jobs(operation="scheduled run", command=["echo", "hi"], schedule="0 9 * * 1")
    assert run.success, run.output

    listing = await chat.jobs(operation="scheduled ps")
    assert scheduled_id in listing.output and "0 9 * * 1" in listing.output

    assert (await chat.jobs(operation="scheduled suspend", scheduled_job_id=scheduled_id)).success
    details = await chat.jobs(operation="scheduled inspect", scheduled_job_id=scheduled_id)
    assert "state: suspended" in details.output
    assert (await chat.jobs(operation="scheduled resume", scheduled_job_id=scheduled_id)).success
    assert hub.scheduled[scheduled_id]["suspend"] is False
    assert (await chat.jobs(operation="scheduled delete", scheduled_job_id=scheduled_id)).success
    assert scheduled_id not in hub.scheduled
    assert not chat.tasks  # scheduled jobs are not watched


async def test_secrets_are_passed_by_name_and_never_echoed(chat, hub):
    hub.job_logs = ["token is " + SECRET, "done"]
    result = await chat.jobs(
        operation="run", command=["env"], secrets=["HF_TOKEN"], env={"MODE": "test"}
    )
    assert result.success and "HF_TOKEN" in result.output
    assert submitted(hub)["secrets"] == {"HF_TOKEN": SECRET}
    job_id = job_id_of(result)
    statuses = await chat.watched()
    outputs = [
        result.output,
        (await chat.jobs(operation="inspect", job_id=job_id)).output,
        (await chat.jobs(operation="logs", job_id=job_id)).output,
        *(s.text for s in statuses),
    ]
    assert not any(SECRET in text for text in outputs)
    assert "token is ***" in outputs[2]


async def test_an_unknown_secret_name_lists_names_only(chat, hub):
    result = await chat.jobs(operation="run", command=["env"], secrets=["OPENAI_API_KEY"])
    assert not result.success
    assert "OPENAI_API_KEY" in result.output and "HF_TOKEN, WANDB_API_KEY" in result.output
    assert SECRET not in result.output and "wandb-secret-value" not in result.output


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (402, "Payment required"),
        (401, "Authentication failed"),
        (403, "Permission denied"),
        (429, "Rate limited"),
    ],
)
async def test_job_submission_errors_are_short_and_actionable(chat, hub, failure, expected):
    hub.fail(r"^/api/jobs/tester$", failure, method="POST")
    result = await chat.jobs(operation="run", command=["true"], hardware_flavor="a100-large")
    assert not result.success
    assert expected in result.output
    assert "Traceback" not in result.output and len(result.output) < 400
    assert not chat.tasks


async def test_an_unknown_job_id_says_how_to_find_jobs(chat):
    result = await chat.jobs(operation="inspect", job_id="nope")
    assert not result.success and "hf_jobs ps" in result.output


async def test_missing_arguments_and_unknown_operations(chat):
    missing = await chat.jobs(operation="logs")
    assert not missing.success and "'job_id' is required for operation 'logs'" in missing.output
    unknown = await chat.jobs(operation="explode")
    assert not unknown.success and "'scheduled uv'" in unknown.output


async def test_the_approval_preview_shows_the_sandbox_script(chat):
    chat.put("train.py", SCRIPT)
    args = {"operation": "uv", "script": "sandbox:train.py", "hardware_flavor": "a10g-small"}
    ctx = ToolContext(session=chat.session)
    shown = await chat.registry.preview("hf_jobs", args, ctx)
    assert shown == {**args, "script": SCRIPT, "script_file": "sandbox:train.py"}
    assert chat.registry.script_field("hf_jobs") == "script"


async def test_the_approval_preview_shows_a_hub_script(chat, hub):
    hub.add_repo("tester/scripts", repo_type="dataset", files={"sft.py": SCRIPT})
    args = {"operation": "uv", "script": "hf://datasets/tester/scripts/sft.py"}
    shown = await chat.registry.preview("hf_jobs", args, ToolContext(session=chat.session))
    assert shown == {**args, "script": SCRIPT, "script_file": args["script"]}


async def test_a_script_changed_after_it_was_shown_is_not_submitted(chat, hub):
    chat.put("train.py", SCRIPT)
    args = {"operation": "uv", "script": "sandbox:train.py"}
    first, second = chat.context("call_1"), chat.context("call_2")
    assert (await chat.registry.preview("hf_jobs", args, first))["script"] == SCRIPT
    chat.put("train.py", "print('swapped')\n")

    refused = await chat.registry.call("hf_jobs", args, first)
    assert not refused.success and "changed after it was shown" in refused.output
    assert not hub.calls("POST", r"^/api/jobs/")

    # an unchanged script runs, and so does a person's edit of a shown one
    assert (await chat.registry.preview("hf_jobs", args, first))["script"] != SCRIPT
    ran = await chat.registry.call("hf_jobs", args, first)
    assert ran.success, ran.output
    await chat.registry.preview("hf_jobs", args, second)
    edited = await chat.registry.call("hf_jobs", {**args, "script": "print('edited')"}, second)
    assert edited.success, edited.output
    assert inline_script(submitted(hub)["command"]) == "print('edited')"
    assert chat.session.state["hf_jobs_shown_scripts"] == {}
    await chat.watched()


async def test_resolve_script_reads_sandbox_paths_and_leaves_code_alone(chat, tmp_path):
    chat.put("train.py", SCRIPT)
    sandboxes = Sandboxes(None, Sandbox(tmp_path))
    assert await sandboxes.resolve_script(chat.session, "sandbox:train.py") == SCRIPT
    assert await sandboxes.resolve_script(chat.session, "print(1)") == "print(1)"
