"""The sandbox server as its own process on loopback: commands, kills, output cap, tokens,
paths and file edits."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from agent.sandbox.client import SandboxClient
from agent.sandbox.files import Sandbox
from agent.sandbox.manager import Sandboxes
from agent.session import Session
from agent.tools.registry import ToolError
from sandbox_server import SERVER_DIR
from tests.conftest import free_port
from tests.standins.sandbox import ProcessBackend
from tests.support import eventually

TOKEN = "t" * 43


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``python server.py`` with its workspace in ``tmp_path/ws``: (its URL, the workspace)."""
    workspace = tmp_path / "ws"
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "SANDBOX_TOKEN": TOKEN,
        "SANDBOX_WORKSPACE": str(workspace),
    }
    process = subprocess.Popen([sys.executable, str(SERVER_DIR / "server.py")], env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/health", timeout=1):
                break
        except OSError:
            time.sleep(0.05)
    try:
        yield url, workspace
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
async def client(server) -> AsyncIterator[SandboxClient]:
    async with SandboxClient(server[0], TOKEN) as sandbox:
        yield sandbox


async def bash(client: SandboxClient, command: str, seconds: float = 30, run_id: str = "r"):
    return await client.bash(command, work_dir=None, seconds=seconds, run_id=run_id)


async def test_bash_runs_in_the_workspace_with_exit_code_and_duration(client, server):
    ok = await bash(client, "pwd; echo out; echo err >&2")
    assert ok["success"] and ok["exit_code"] == 0
    assert ok["output"] == f"{server[1].resolve()}\nout\nerr\n"
    assert isinstance(ok["duration"], float)
    failed = await bash(client, "exit 7")
    assert not failed["success"] and failed["exit_code"] == 7
    await client.checked("write", {"path": "sub/x.txt", "content": "x"})
    inside = await client.bash("ls", work_dir="sub", seconds=30, run_id="r")
    assert inside["output"] == "x.txt\n"


async def test_the_server_does_not_pass_its_token_to_commands(client):
    env = await bash(client, "env")
    assert TOKEN not in env["output"]


async def test_a_hanging_command_is_killed_at_its_timeout(client):
    hung = await bash(client, "echo started; sleep 600", seconds=1)  # not 600 s: killed
    assert not hung["success"] and "timeout of 1 s" in hung["error"]
    assert hung["output"] == "started\n"


async def test_the_whole_process_group_is_killed(client, server):
    # a child that ignores SIGTERM and one left in the background: both must die
    script = "trap '' TERM; (trap '' TERM; sleep 600) & echo $! > pids; sleep 600 & echo $! >> pids; wait"
    result = await bash(client, script, seconds=1)
    assert result["exit_code"] != 0
    pids = [int(p) for p in (server[1] / "pids").read_text().split()]
    assert len(pids) == 2
    await eventually(lambda: not any(alive(pid) for pid in pids))


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


async def test_kill_ends_a_running_command(client, server):
    running = asyncio.create_task(bash(client, "sleep 600", run_id="long"))
    await eventually(lambda: any(server[1].joinpath(".logs").glob("*long*.log")))
    await client.kill("long")
    result = await running
    assert not result["success"] and "stop request" in result["error"]


async def test_output_is_capped_while_read_and_kept_whole_in_a_log(client, server):
    result = await bash(client, "head -c 50000000 /dev/zero | tr '\\0' x; echo; echo THE-END")
    assert result["success"]
    assert len(result["output"]) < 20_000
    assert result["output"].startswith("xxxx") and result["output"].endswith("THE-END\n")
    assert "bytes omitted" in result["output"] and result["log_path"] in result["output"]
    log = server[1] / result["log_path"]
    assert log.stat().st_size == 50_000_000 + len("\nTHE-END\n")


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Bearer {TOKEN}x", TOKEN])
async def test_a_wrong_or_missing_token_is_refused(server, header):
    headers = {"X-Sandbox-Authorization": header} if header else {}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{server[0]}/api/bash", json={"command": "touch pwned"}, headers=headers) as r,
    ):
        assert r.status == 401
    assert not (server[1] / "pwned").exists()
    async with SandboxClient(server[0], "wrong") as wrong:
        with pytest.raises(ToolError, match="401"):
            await wrong.call("read", {"path": "x"})


@pytest.mark.parametrize("path", ["../escape.txt", "/etc/passwd", "a/../../escape.txt", ""])
async def test_paths_outside_the_workspace_are_refused(client, server, path):
    for endpoint, body in [
        ("write", {"path": path, "content": "x"}),
        ("read", {"path": path}),
        ("edit", {"path": path, "old_str": "root", "new_str": "x"}),
    ]:
        answer = await client.call(endpoint, body)
        assert not answer["success"] and answer["error"], (endpoint, path)
    escaped = await client.bash("pwd", work_dir="..", seconds=5, run_id="r")
    assert not escaped["success"] and "outside the workspace" in escaped["error"]
    assert not (server[1].parent / "escape.txt").exists()


async def test_read_numbers_lines_and_reads_parts(client):
    await client.checked(
        "write", {"path": "f.txt", "content": "".join(f"l{i}\n" for i in range(1, 11))}
    )
    whole = (await client.checked("read", {"path": "f.txt"}))["output"]
    assert whole.splitlines()[0] == "     1\tl1" and whole.splitlines()[-1] == "    10\tl10"
    part = (await client.checked("read", {"path": "f.txt", "offset": 4, "limit": 2}))["output"]
    assert part.splitlines()[:2] == ["     4\tl4", "     5\tl5"] and "offset=6" in part
    assert await client.read_text("f.txt") == "".join(f"l{i}\n" for i in range(1, 11))


async def test_read_streams_a_big_file_a_part_at_a_time(client):
    await bash(client, "seq 1 300000 > big.log")
    end = await client.checked("read", {"path": "big.log", "offset": 299_999, "limit": 5})
    assert end["output"] == "299999\t299999\n300000\t300000" and end["lines"] == 300_000


async def test_read_errors_are_clear(client):
    await client.checked("write", {"path": "blob.bin", "content_b64": "AAECAwD/"})
    binary = await client.call("read", {"path": "blob.bin"})
    assert not binary["success"] and "binary" in binary["error"]
    missing = await client.call("read", {"path": "nope.txt"})
    assert not missing["success"] and "No file" in missing["error"]


async def test_edit_needs_a_unique_match_or_replace_all(client, server):
    await client.checked("write", {"path": "a.py", "content": "x = 1\nx = 1\ny = 2\n"})
    missing = await client.call("edit", {"path": "a.py", "old_str": "z = 3", "new_str": ""})
    assert not missing["success"] and "not found" in missing["error"]
    twice = await client.call("edit", {"path": "a.py", "old_str": "x = 1", "new_str": "x = 5"})
    assert not twice["success"] and "2 times" in twice["error"]
    once = await client.call("edit", {"path": "a.py", "old_str": "y = 2", "new_str": "y = 3"})
    assert once["success"] and once["output"] == "Replaced 1 occurrence in a.py, at line 3."
    every = await client.call(
        "edit", {"path": "a.py", "old_str": "x = 1", "new_str": "x = 5", "replace_all": True}
    )
    assert every["success"] and every["replaced"] == 2
    assert every["output"] == "Replaced 2 occurrences in a.py, at lines 1, 2."
    assert (server[1] / "a.py").read_text() == "x = 5\nx = 5\ny = 3\n"


async def test_exists(client):
    assert (await client.checked("exists", {"path": "nothing"}))["exists"] is False
    await client.checked("write", {"path": "d/f", "content": ""})
    answer = await client.checked("exists", {"path": "d"})
    assert answer["exists"] and answer["is_dir"]


async def test_a_sandbox_apart_from_the_bots_files_gets_the_shared_ones(tmp_path):
    files = Sandbox(tmp_path / "sandboxes")
    backend = ProcessBackend(tmp_path / "elsewhere")
    sandboxes = Sandboxes(backend, files)
    session = Session(key="t:1:2:3")
    files.create(session)
    files.write_bytes(session, "before.csv", b"a,b\n1,2\n")  # shared before it started
    try:
        record = await sandboxes.ensure(session)
        assert (backend.workspace(record) / "before.csv").read_bytes() == b"a,b\n1,2\n"
        files.write_bytes(session, "after.bin", b"\x00\x01")  # shared while it runs
        await sandboxes.share(session, ["after.bin"])
        assert (backend.workspace(record) / "after.bin").read_bytes() == b"\x00\x01"
        # a job's sandbox:<file> is read from the sandbox, where the agent changed it
        async with sandboxes.client(session) as client:
            await client.checked("write", {"path": "before.csv", "content": "changed"})
        assert await sandboxes.resolve_script(session, "sandbox:before.csv") == "changed"
    finally:
        await sandboxes.close()
