"""The sandbox tools: per-session directory, approval-gated creation, escapes and size caps."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import pytest

from agent.session import Session
from agent.tools.registry import ToolContext, ToolRegistry, ToolResult
from agent.tools.sandbox import Sandbox, sandbox_tools, session_dirname
from bot.runtime import prune_sandboxes
from tests.support import eventually

KEY = "t:1:2:3"


@pytest.fixture
def call(tmp_path):
    """Call a sandbox tool (caps 100 B per file, 250 B in all) as session ``key``."""
    registry = ToolRegistry(
        sandbox_tools(Sandbox(tmp_path, max_file_bytes=100, max_total_bytes=250))
    )
    sessions: dict[str, Session] = {}

    async def call(tool: str, key: str = KEY, **args: Any) -> ToolResult:
        session = sessions.setdefault(key, Session(key=key))
        return await registry.call(tool, args, ToolContext(session=session))

    return call


def test_session_dirname_is_safe_and_distinct():
    name = session_dirname("t:1:2:3")
    assert name.startswith("t_1_2_3-") and "/" not in name
    assert session_dirname("t:1:2:3") == name
    assert session_dirname("t_1_2_3") != name
    assert session_dirname("../../etc").startswith("etc-")


async def test_file_tools_need_sandbox_create_first(call):
    for tool, args in [
        ("sandbox_write", {"path": "a.py", "content": "x"}),
        ("sandbox_read", {"path": "a.py"}),
        ("sandbox_list", {}),
    ]:
        result = await call(tool, **args)
        assert not result.success and "sandbox_create" in result.output


async def test_create_write_read_list(call, tmp_path):
    created = await call("sandbox_create")
    assert created.success and "Created" in created.output
    assert "Already had" in (await call("sandbox_create")).output
    assert (tmp_path / session_dirname(KEY)).is_dir()

    wrote = await call("sandbox_write", path="jobs/train.py", content="print(1)\n")
    assert wrote.success and "sandbox:jobs/train.py" in wrote.output
    await call("sandbox_write", path="jobs/train.py", content="print(2)\n", append=True)
    assert (await call("sandbox_read", path="jobs/train.py")).output == "print(1)\nprint(2)\n"
    assert (tmp_path / session_dirname(KEY) / "jobs" / "train.py").is_file()

    listing = await call("sandbox_list")
    assert "jobs/train.py  18 B" in listing.output and "1 files" in listing.output


async def test_sessions_do_not_see_each_other(call):
    await call("sandbox_create")
    await call("sandbox_write", path="mine.txt", content="secret plan")
    await call("sandbox_create", key="t:1:2:4")
    result = await call("sandbox_read", key="t:1:2:4", path="mine.txt")
    assert not result.success and "No file" in result.output


@pytest.mark.parametrize(
    "path", ["../escape.txt", "/etc/passwd", "a/../../escape.txt", "..", "", "."]
)
async def test_paths_cannot_leave_the_sandbox(call, tmp_path, path):
    await call("sandbox_create")
    for tool, args in [("sandbox_write", {"content": "x"}), ("sandbox_read", {})]:
        result = await call(tool, path=path, **args)
        assert not result.success, (tool, path)
        assert "Traceback" not in result.output
    assert not (tmp_path / "escape.txt").exists()


async def test_symlinks_out_of_the_sandbox_are_refused(call, tmp_path):
    await call("sandbox_create")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("keep out")
    os.symlink(outside, tmp_path / session_dirname(KEY) / "link")
    read = await call("sandbox_read", path="link/secret.txt")
    write = await call("sandbox_write", path="link/new.txt", content="x")
    assert not read.success and "outside the sandbox" in read.output
    assert not write.success and not (outside / "new.txt").exists()


async def test_file_and_total_size_caps(call):
    await call("sandbox_create")
    too_big = await call("sandbox_write", path="big.txt", content="x" * 101)
    assert not too_big.success and "limited to 100 B" in too_big.output
    appended = [
        await call("sandbox_write", path="a.txt", content="x" * 60, append=True) for _ in range(2)
    ]
    assert appended[0].success and not appended[1].success

    for name in ("b.txt", "c.txt", "d.txt"):
        await call("sandbox_write", path=name, content="y" * 60)
    full = await call("sandbox_write", path="e.txt", content="z" * 60)
    assert not full.success and "over its 250 B limit" in full.output
    # replacing a file counts its new size, not both
    assert (await call("sandbox_write", path="b.txt", content="w" * 70)).success


def make_sandboxes(sandbox: Sandbox, *keys: str) -> list[Session]:
    """Sessions with a file in their sandbox, each last used in 1970."""
    sessions = [Session(key=key) for key in keys]
    for session in sessions:
        sandbox.create(session)
        (sandbox.directory(session) / "train.py").write_text("print(1)\n")
        os.utime(sandbox.directory(session), (1_000, 1_000))
    return sessions


def test_idle_sandboxes_are_pruned_and_a_touched_one_is_kept(tmp_path):
    sandbox = Sandbox(tmp_path)
    live, gone = make_sandboxes(sandbox, "t:1:2:live", "t:1:2:gone")
    sandbox.touch(live)  # what each turn of a session does
    sandbox.touch(Session(key="t:1:2:none"))  # no sandbox: nothing is made

    assert sandbox.prune(idle_seconds=86_400, now=time.time()) == [session_dirname(gone.key)]
    assert [p.name for p in tmp_path.iterdir()] == [session_dirname(live.key)]
    assert (tmp_path / session_dirname(live.key) / "train.py").is_file()


async def test_the_runtime_prunes_sandboxes_in_the_background(tmp_path):
    sandbox = Sandbox(tmp_path)
    make_sandboxes(sandbox, "t:1:2:gone")
    pruning = asyncio.create_task(prune_sandboxes(sandbox, idle_seconds=86_400))
    try:
        await eventually(lambda: not any(tmp_path.iterdir()))
    finally:
        pruning.cancel()
