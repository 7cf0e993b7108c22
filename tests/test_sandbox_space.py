# ruff: noqa: F811
# (tests take the imported `hub` fixture as an argument, which F811 sees as a redefinition)
"""The space backend against the Hub stand-in: a private Docker Space per sandbox, built from
the project's own server in one commit, its secrets set before the build; the stand-in
runs the committed server.py as a real subprocess once the Space is RUNNING."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from agent.sandbox.backends import SandboxUnavailable
from agent.sandbox.client import AUTH_HEADER
from agent.sandbox.files import Sandbox
from agent.sandbox.manager import Sandboxes
from agent.sandbox.space import NAME_PREFIX, SpaceBackend
from agent.session import Session
from agent.tools.hf_repos import RepoFilesTool
from agent.tools.registry import ToolContext, ToolError
from agent.tools.sandbox import sandbox_tools
from tests.standins.hub import USER, hub  # noqa: F401
from tests.standins.llm import tool_calls
from tests.test_hf_end_to_end import Thread, hf_tools


def space_backend(hub) -> SpaceBackend:
    return SpaceBackend(hub.api(), secrets={"HF_TOKEN": "hf_job_secret"}, poll_seconds=0.05)


async def bash(sandboxes: Sandboxes, session: Session, command: str, shown: list[str]) -> str:
    tools = {tool.name: tool for tool in sandbox_tools(sandboxes)}

    async def progress(text: str) -> None:
        shown.append(text)

    ctx = ToolContext(session=session, tool_call_id="call-1", progress=progress)
    try:
        result = await tools["bash"].handler({"command": command}, ctx)
    except ToolError as exc:
        return f"ERROR {exc}"
    return result.output


async def test_a_space_is_made_in_one_commit_with_its_secrets_and_runs_commands(hub):
    hub.space_build_seconds = 0.3
    backend = space_backend(hub)
    stages: list[str] = []

    async def progress(text: str) -> None:
        stages.append(text)

    record = await backend.start("slack:T:C:1", "cpu-basic", progress)

    owner, name = record.id.split("/")
    assert owner == USER and name.startswith(NAME_PREFIX) and len(name) == len(NAME_PREFIX) + 8
    repo = hub.repo(record.id, "space")
    assert repo.private and repo.info["sdk"] == "docker"
    assert len(hub.calls("POST", rf"/api/spaces/{record.id}/commit/main")) == 1
    assert set(repo.files()) == {"README.md", "Dockerfile", "server.py"}
    space = hub.spaces[record.id]
    assert space.secrets["SANDBOX_TOKEN"] == record.token and len(record.token) == 64
    assert space.secrets["HF_TOKEN"] == "hf_job_secret"
    assert record.url == f"{hub.url}/spaces-app/{record.id}"
    words = [s.rsplit(": ", 1)[1] for s in stages]
    assert words[0].startswith("creating") and "building" in words and words[-1] == "running"
    assert words.index("building") < words.index("running")

    async with await backend.attach(record) as client:
        answer = await client.bash(
            "echo hello; echo $SANDBOX_TOKEN", work_dir=None, seconds=30, run_id="r"
        )
    assert answer["exit_code"] == 0 and answer["output"].split() == ["hello"]

    async with aiohttp.ClientSession() as http:
        own = {AUTH_HEADER: f"Bearer {record.token}"}
        bash = {"command": "true"}
        async with http.post(f"{record.url}/api/bash", json=bash, headers=own) as r:
            assert r.status == 404  # a private Space: the Hub wants the HF token too
        app = hub.app_url(record.id)  # the server itself wants its own token
        for headers in ({}, {AUTH_HEADER: "Bearer wrong"}):
            async with http.post(f"{app}/api/bash", json=bash, headers=headers) as r:
                assert r.status == 401

    await backend.stop(record)
    assert ("space", record.id) not in hub.repos
    assert space.process is None  # deleting the Space ended its server


async def test_a_build_error_is_a_clear_error_then_a_fresh_sandbox(hub, tmp_path):
    hub.fail_builds = 1
    sandboxes = Sandboxes(space_backend(hub), Sandbox(tmp_path))
    session = Session(key="slack:T:C:2")
    shown: list[str] = []

    first = await bash(sandboxes, session, "echo one", shown)
    assert first.startswith("ERROR") and "BUILD_ERROR" in first and "fresh" in first
    assert any("building" in s for s in shown)
    assert not [r for (kind, r) in hub.repos if kind == "space"]  # the failed Space is gone
    assert Sandboxes.record(session) is None

    assert "\ntwo\n" in await bash(sandboxes, session, "echo two", shown)


async def test_a_space_deleted_mid_session_is_a_clear_error_then_a_fresh_one(hub, tmp_path):
    backend = space_backend(hub)
    sandboxes = Sandboxes(backend, Sandbox(tmp_path))
    session = Session(key="slack:T:C:3")
    shown: list[str] = []
    assert "exit code 0" in await bash(sandboxes, session, "touch a.txt", shown)
    first = Sandboxes.record(session)
    assert first is not None

    await asyncio.to_thread(hub.api().delete_repo, first.id, repo_type="space")

    gone = await bash(sandboxes, session, "ls", shown)
    assert gone.startswith("ERROR") and "fresh one" in gone
    again = await bash(sandboxes, session, "ls a.txt; echo fresh", shown)
    assert "\nfresh\n" in again and "No such file" in again
    second = Sandboxes.record(session)
    assert second is not None and second.id != first.id


async def test_a_space_that_cannot_be_created_says_why(hub):
    hub.fail(r"/api/repos/create", 402)
    with pytest.raises(SandboxUnavailable, match="402"):
        await space_backend(hub).start("slack:T:C:4", "cpu-basic")


async def test_a_start_stopped_mid_build_leaves_no_space(hub):
    hub.space_build_seconds = 60.0
    building = asyncio.Event()

    async def progress(text: str) -> None:
        if text.endswith("building"):
            building.set()

    start = asyncio.create_task(space_backend(hub).start("slack:T:C:5", "cpu-basic", progress))
    await building.wait()
    assert len(hub.spaces) == 1
    start.cancel()  # Stop
    with pytest.raises(asyncio.CancelledError):
        await start
    assert hub.spaces == {} and not [r for (kind, r) in hub.repos if kind == "space"]


async def test_a_thread_runs_a_script_on_its_space_and_submits_it_as_a_job(
    llm,
    redis_url,
    hub,
    tmp_path,
):
    hub.space_build_seconds = 0.5
    root = tmp_path / ".data" / "sandboxes"
    sandboxes = Sandboxes(space_backend(hub), Sandbox(root))
    thread = Thread(llm, redis_url, hf_tools(hub, root, sandboxes=sandboxes))
    script = "print('answer:', 41 + 1)\n"
    llm.script(
        tool_calls(("write", {"path": "train.py", "content": script})),
        tool_calls(("bash", {"command": "python3 train.py"})),
        tool_calls(("hf_jobs", {"operation": "uv", "script": "sandbox:train.py"})),
    )
    try:
        await thread.say("write a script that prints the answer, test it, then run it as a job")
    finally:
        await thread.close()

    lines = [t for kind, t in thread.surface.calls if kind == "line"]
    write = [line for line in lines if "`write`" in line]
    assert any(line.endswith(": building") for line in write)  # in the call's own line
    assert write[-1].startswith("✅ `write` done")
    ran = "done — `python3 train.py` → exit code 0 · "
    assert any(ran in line and "answer: 42" in line for line in lines)
    assert not any("building" in m for m in thread.surface.messages.values())  # no messages
    (card,) = thread.surface.approvals
    assert card.tools[0]["arguments"]["script"] == script  # read from the Space


async def test_files_shared_before_the_space_started_are_in_it(hub, tmp_path):
    files, session = Sandbox(tmp_path), Session(key="slack:T:C:6")
    files.create(session)
    files.write_bytes(session, "data.csv", b"a,b\n1,2\n")  # a file someone shared
    sandboxes = Sandboxes(space_backend(hub), files)
    assert "\na,b\n1,2\n" in await bash(sandboxes, session, "cat data.csv", [])


async def test_a_file_written_in_the_space_is_what_a_repo_upload_sends(hub, tmp_path):
    hub.space_build_seconds = 0.1
    hub.add_repo(f"{USER}/results")
    sandboxes = Sandboxes(space_backend(hub), Sandbox(tmp_path))
    session = Session(key="slack:T:C:7")
    ctx = ToolContext(session=session, tool_call_id="call-1")
    write = next(t for t in sandbox_tools(sandboxes) if t.name == "write")
    await write.handler({"path": "card.md", "content": "# Trained on a Space\n"}, ctx)
    assert not list(tmp_path.rglob("card.md")), "written in the Space, not on the bot's host"

    upload = RepoFilesTool(hub.api(), sandboxes).tool()
    files = [{"path_in_repo": "README.md", "sandbox_file": "card.md"}]
    await upload.handler({"operation": "upload", "repo_id": f"{USER}/results", "files": files}, ctx)

    assert hub.repo(f"{USER}/results").files()["README.md"] == b"# Trained on a Space\n"
