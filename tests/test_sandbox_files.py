"""A session's files on the bot's host: per-session directory, escapes, size caps, pruning."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from agent.sandbox.files import Sandbox, session_dirname
from agent.session import Session
from agent.tools.registry import ToolError
from bot.runtime import prune_sandboxes
from tests.support import eventually

KEY = "t:1:2:3"
SESSION = Session(key=KEY)


@pytest.fixture
def files(tmp_path) -> Sandbox:
    """A session's files with small caps: 100 B per file, 250 B in all."""
    sandbox = Sandbox(tmp_path, max_file_bytes=100, max_total_bytes=250)
    sandbox.create(SESSION)
    return sandbox


def test_session_dirname_is_safe_and_distinct():
    name = session_dirname("t:1:2:3")
    assert name.startswith("t_1_2_3-") and "/" not in name
    assert session_dirname("t:1:2:3") == name
    assert session_dirname("t_1_2_3") != name
    assert session_dirname("../../etc").startswith("etc-")


def test_files_are_written_read_and_listed(files, tmp_path):
    assert files.write(SESSION, "jobs/train.py", "print(1)\n") == 9
    files.write(SESSION, "jobs/train.py", "print(2)\n", append=True)
    assert files.read(SESSION, "jobs/train.py") == "print(1)\nprint(2)\n"
    assert (tmp_path / session_dirname(KEY) / "jobs" / "train.py").is_file()
    assert files.files(SESSION) == [("jobs/train.py", 18)]


def test_sessions_do_not_see_each_other(files):
    files.write(SESSION, "mine.txt", "secret plan")
    other = Session(key="t:1:2:4")
    files.create(other)
    with pytest.raises(ToolError, match="No file"):
        files.read(other, "mine.txt")


@pytest.mark.parametrize(
    "path", ["../escape.txt", "/etc/passwd", "a/../../escape.txt", "..", "", "."]
)
def test_paths_cannot_leave_the_sandbox(files, tmp_path, path):
    with pytest.raises(ToolError):
        files.write(SESSION, path, "x")
    with pytest.raises(ToolError):
        files.read(SESSION, path)
    assert not (tmp_path / "escape.txt").exists()


def test_symlinks_out_of_the_sandbox_are_refused(files, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("keep out")
    os.symlink(outside, tmp_path / session_dirname(KEY) / "link")
    with pytest.raises(ToolError, match="outside the sandbox"):
        files.read(SESSION, "link/secret.txt")
    with pytest.raises(ToolError):
        files.write(SESSION, "link/new.txt", "x")
    assert not (outside / "new.txt").exists()


def test_file_and_total_size_caps(files):
    with pytest.raises(ToolError, match="limited to 100 B"):
        files.write(SESSION, "big.txt", "x" * 101)
    files.write(SESSION, "a.txt", "x" * 60, append=True)
    with pytest.raises(ToolError):
        files.write(SESSION, "a.txt", "x" * 60, append=True)
    for name in ("b.txt", "c.txt", "d.txt"):
        files.write(SESSION, name, "y" * 60)
    with pytest.raises(ToolError, match="over its 250 B limit"):
        files.write(SESSION, "e.txt", "z" * 60)
    files.write(SESSION, "b.txt", "w" * 70)  # replacing a file counts its new size, not both


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
