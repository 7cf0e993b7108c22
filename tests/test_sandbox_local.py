"""The local backend: the sandbox server under bubblewrap, one per session, sealed off from
the bot's environment, files and loopback services."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest

from agent.sandbox.backends import SandboxUnavailable
from agent.sandbox.local import LocalBackend, bwrap_path
from bot.cli import print_sandboxes
from bot.ops.doctor import check_sandbox, run_doctor
from bot.sandboxes import SandboxIndex
from bot.settings import Settings
from bot.store.embedded import connect
from tests.support import eventually

REPO = Path(__file__).resolve().parents[1]
SECRET = "mib-test-secret-value-4242"
KEY = "t:1:2:3"


def bwrap_problem() -> str | None:
    """Why bubblewrap cannot run here (None: it can)."""
    if bwrap_path() is None:
        return "bwrap is not installed (make test installs it as root: apt-get install bubblewrap)"
    probe = subprocess.run(
        ["bwrap", "--ro-bind", "/", "/", "--unshare-all", "--unshare-user", "true"],
        capture_output=True,
        text=True,
    )
    return None if probe.returncode == 0 else f"bwrap cannot make namespaces: {probe.stderr}"


pytestmark = pytest.mark.skipif(bwrap_problem() is not None, reason=str(bwrap_problem()))


@pytest.fixture
async def local(tmp_path):
    backend = LocalBackend(tmp_path / "data" / "sandboxes")
    yield backend
    await backend.close()


async def run(backend: LocalBackend, record, command: str) -> dict:
    async with await backend.attach(record) as client:
        return await client.bash(command, work_dir=None, seconds=30, run_id="r")


async def test_a_command_sees_nothing_of_the_bot(local, tmp_path, monkeypatch, redis_server):
    monkeypatch.setenv("MIB_TEST_SECRET", SECRET)  # the bot's environment holds a secret
    data_dir = tmp_path / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "bot-state.txt").write_text("the bot's own file")
    record = await local.start("t:1:2:3", "cpu-basic")

    env = await run(local, record, "env; cat /proc/1/environ | tr '\\0' '\\n'")
    assert SECRET not in env["output"] and "MIB_TEST_SECRET" not in env["output"]
    bwrap = Path(f"/proc/{local.children[record.id].process.pid}/cmdline").read_bytes()
    assert record.token.encode() not in bwrap  # not on a command line other users can read

    files = await run(
        local,
        record,
        f"ls {REPO}/pyproject.toml {data_dir}/bot-state.txt {data_dir} {tmp_path} 2>&1; "
        "ls /workspace/..; id -u",
    )
    assert "No such file" in files["output"] and "the bot's own file" not in files["output"]
    assert str(tmp_path.name) not in files["output"].split("\n")[-2]
    assert files["output"].strip().endswith("1000")

    port = int(redis_server.url.rsplit(":", 1)[1].split("/")[0])
    redis = await run(local, record, f"echo PING > /dev/tcp/127.0.0.1/{port} && echo reached")
    assert redis["exit_code"] != 0 and "reached" not in redis["output"]


@pytest.mark.skipif(shutil.which("slirp4netns") is None, reason="slirp4netns is not installed")
async def test_with_network_on_the_hosts_loopback_stays_out_of_reach(tmp_path, redis_server):
    backend = LocalBackend(tmp_path / "sandboxes", network=True)
    try:
        record = await backend.start("t:1:2:3", "cpu-basic")
        port = int(redis_server.url.rsplit(":", 1)[1].split("/")[0])
        answer = await run(
            backend,
            record,
            "cat /proc/net/dev /etc/resolv.conf; "
            f"timeout 5 bash -c 'echo PING > /dev/tcp/127.0.0.1/{port}' && echo reached; "
            f"timeout 5 bash -c 'echo PING > /dev/tcp/10.0.2.2/{port}' && echo reached; true",
        )
    finally:
        await backend.close()
    assert "tap0" in answer["output"] and "nameserver 10.0.2.3" in answer["output"]
    assert "reached" not in answer["output"]


def test_network_without_slirp4netns_is_refused(tmp_path, monkeypatch):
    only_bwrap = tmp_path / "bin"
    only_bwrap.mkdir()
    (only_bwrap / "bwrap").symlink_to(str(bwrap_path()))
    monkeypatch.setenv("PATH", str(only_bwrap))
    LocalBackend(tmp_path).check()  # no network: bwrap is enough
    with pytest.raises(SandboxUnavailable, match="apt-get install slirp4netns"):
        LocalBackend(tmp_path, network=True).check()


async def test_only_the_sessions_directory_is_writable(local):
    record = await local.start("t:1:2:3", "cpu-basic")
    wrote = await run(local, record, "echo hi > made.txt && touch /usr/x /etc/x 2>&1; true")
    assert "Read-only" in wrote["output"] or "No such file" in wrote["output"]
    assert (local.workspace("t:1:2:3") / "made.txt").read_text() == "hi\n"
    other = await local.start("t:1:2:other", "cpu-basic")
    sees = await run(local, other, "ls")
    assert "made.txt" not in sees["output"]


async def test_stopped_and_idle_sandboxes_end(local):
    record = await local.start("t:1:2:3", "cpu-basic")
    assert await local.alive(record)
    await run(local, record, "true")
    assert await local.stop_idle(3600) == []  # just used
    assert await local.stop_idle(0) == [record.id]
    assert not await local.alive(record)
    again = await local.start("t:1:2:3", "cpu-basic")
    await local.stop(again)
    assert not await local.alive(again)


async def test_another_process_reaches_and_ends_a_sandbox_of_this_host(local, tmp_path):
    record = await local.start("t:1:2:3", "cpu-basic")
    other = LocalBackend(tmp_path / "data" / "sandboxes")  # another worker, or the CLI
    assert await other.alive(record)
    assert (await run(other, record, "echo hi"))["output"] == "hi\n"
    await other.stop(record)
    await eventually(lambda: local.children[record.id].process.returncode is not None)
    assert not await local.alive(record) and not await other.alive(record)


async def test_the_sandboxes_command_lists_and_deletes(local, tmp_path, redis_url):
    record = await local.start("t:1:2:3", "cpu-basic")
    redis = connect(redis_url)
    try:
        await SandboxIndex(redis).add(record, KEY)  # as the runtime's backend notes each start
    finally:
        await redis.aclose()
    settings = Settings(
        _env_file=None, redis_url=redis_url, data_dir=tmp_path / "data", sandbox="local"
    )
    listed = io.StringIO()
    assert await print_sandboxes(settings, None, listed) == 0
    header, row = listed.getvalue().splitlines()
    assert header.split() == [
        "id",
        "backend",
        "hardware",
        "age",
        "idle",
        "session",
        "cost",
        "so",
        "far",
    ]
    assert row.split() == [record.id, "local", "cpu-basic", "0m", "0m", KEY, "$0.00"]

    assert await print_sandboxes(settings, "nope", io.StringIO()) == 1
    deleted = io.StringIO()
    assert await print_sandboxes(settings, record.id, deleted) == 0
    assert deleted.getvalue() == f"Stopped {record.id} (session {KEY}).\n"
    await eventually(lambda: local.children[record.id].process.returncode is not None)
    again = io.StringIO()
    await print_sandboxes(settings, None, again)
    assert again.getvalue() == "No sandboxes.\n"


async def test_other_hardware_and_a_missing_bwrap_are_refused(local, monkeypatch):
    with pytest.raises(SandboxUnavailable, match="space backend"):
        await local.start("t:1:2:3", "t4-small")
    monkeypatch.setenv("PATH", "/nonexistent")  # no bwrap on the PATH
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        await local.start("t:1:2:3", "cpu-basic")


async def test_a_bwrap_that_cannot_start_says_why(tmp_path, monkeypatch):
    failing = tmp_path / "bin"
    failing.mkdir()
    (failing / "bwrap").write_text(
        "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n"
    )
    (failing / "bwrap").chmod(0o755)
    monkeypatch.setenv("PATH", f"{failing}:/usr/bin:/bin")
    backend = LocalBackend(tmp_path / "sandboxes")
    with pytest.raises(SandboxUnavailable, match="exit 1.*No permissions to create"):
        await backend.start("t:1:2:3", "cpu-basic")
    assert backend.children == {}


async def test_doctor_starts_a_sandbox_and_runs_true(tmp_path):
    out = io.StringIO()
    local = Settings(_env_file=None, data_dir=tmp_path, sandbox="local")
    assert await run_doctor(local, out, {"sandbox": check_sandbox}) == 0
    assert out.getvalue().startswith("ok   sandbox: local: bash true ran in ")
    off = io.StringIO()
    await run_doctor(Settings(_env_file=None, sandbox="off"), off, {"sandbox": check_sandbox})
    assert off.getvalue() == "ok   sandbox: off (SANDBOX=off)\n"
