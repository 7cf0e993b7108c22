# ruff: noqa: F811
# (tests take the imported `hub` fixture as an argument, which F811 sees as a redefinition)
"""The bot's sandboxes in Redis, with Spaces on the Hub stand-in: the index, idle and unpaid
teardown, the warm pool, the orphan sweep, ``ml-intern-bot sandboxes``, and a restarted
runtime reattaching to a session's Space."""

from __future__ import annotations

import asyncio
import io
import time

from agent.sandbox.files import Sandbox
from agent.sandbox.manager import Sandboxes
from agent.sandbox.space import SpaceBackend
from agent.session import Session
from agent.tools.registry import ToolContext
from bot.approvals.budget import Budgets
from bot.cli import print_sandboxes
from bot.runtime import build_sandboxes, runtime
from bot.sandboxes import HOUR, IndexedBackend, SandboxIndex
from bot.settings import Settings
from bot.store import redis_keys
from tests.standins.hub import TOKEN, USER, hub  # noqa: F401
from tests.support import eventually

KEY = "slack:T1:C1:1700000000.000100"


class Clock:
    """The index's time, moved by the test."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def spaces_of(hub) -> set[str]:
    return {repo_id for kind, repo_id in hub.repos if kind == "space"}


def indexed(hub, redis, clock=None, **options) -> IndexedBackend:
    backend = SpaceBackend(hub.api(), poll_seconds=0.05)
    return IndexedBackend(backend, redis, clock=clock or Clock(), **options)


async def test_an_idle_sandbox_is_deleted_and_a_used_one_is_kept(hub, redis, tmp_path):
    clock = Clock()
    backend = indexed(hub, redis, clock)
    sandboxes = Sandboxes(backend, Sandbox(tmp_path))
    idle, busy = Session(key=KEY), Session(key=KEY + "1")
    for session in (idle, busy):
        async with sandboxes.client(session) as client:
            await client.bash("true", work_dir=None, seconds=10, run_id="r")
    idle_id, busy_id = Sandboxes.record(idle).id, Sandboxes.record(busy).id
    assert spaces_of(hub) == {idle_id, busy_id}
    assert {e.session for e in await backend.index.all()} == {idle.key, busy.key}

    clock.now += 20 * 60
    async with sandboxes.client(busy) as client:  # used: its idle time starts again
        await client.bash("true", work_dir=None, seconds=10, run_id="r")
    clock.now += 15 * 60

    assert await backend.stop_idle(30 * 60) == [idle_id]
    assert spaces_of(hub) == {busy_id}
    assert [e.id for e in await backend.index.all()] == [busy_id]

    await sandboxes.stop(busy)  # the session's `new`
    assert spaces_of(hub) == set() and await backend.index.all() == []


async def test_a_gpu_sandbox_ends_when_its_budget_runs_out(hub, redis, tmp_path):
    clock = Clock()
    budgets = Budgets(redis, ttl_seconds=3600)
    backend = indexed(hub, redis, clock, budgets=budgets)
    paid, unpaid = Session(key=KEY), Session(key=KEY + "1")
    await budgets.set_cap(paid.key, 0.5)  # one more hour of a t4-small (0.40 an hour)
    sandboxes = Sandboxes(backend, Sandbox(tmp_path))
    for session in (paid, unpaid):
        await sandboxes.ensure(session, "t4-small")
    assert {s.hardware for s in hub.spaces.values()} == {"t4-small"}

    clock.now += HOUR - 60  # the approved first hour is not over
    assert await backend.stop_idle(10 * HOUR) == []

    clock.now += 120
    await redis.set(redis_keys.SANDBOX_SWEEP, "1")  # another process sweeps: it charges
    assert await backend.stop_idle(10 * HOUR) == []
    assert (await budgets.get(paid.key)).spent == 0
    await redis.delete(redis_keys.SANDBOX_SWEEP)
    assert await backend.stop_idle(10 * HOUR) == [Sandboxes.record(unpaid).id]
    assert spaces_of(hub) == {Sandboxes.record(paid).id}
    assert (await budgets.get(paid.key)).spent == 0.4

    clock.now += HOUR  # the budget cannot pay a third hour
    assert await backend.stop_idle(10 * HOUR) == [Sandboxes.record(paid).id]
    assert spaces_of(hub) == set()


async def test_the_warm_pool_hands_out_a_ready_space_and_refills(hub, redis, tmp_path):
    hub.space_build_seconds = 0.5
    backend = indexed(hub, redis, warm=1)
    assert await backend.fill() == 1
    assert await backend.fill() == 0  # full
    (warm_id,) = spaces_of(hub)
    assert (await backend.index.get(warm_id)).session == ""

    sandboxes = Sandboxes(backend, Sandbox(tmp_path))
    session = Session(key=KEY)
    shown: list[str] = []

    async def progress(text: str) -> None:
        shown.append(text)

    async with sandboxes.client(session, progress) as client:
        answer = await client.bash("echo warm", work_dir=None, seconds=10, run_id="r")
    assert answer["output"].strip() == "warm"
    assert Sandboxes.record(session).id == warm_id  # no build waited for
    assert len(hub.calls("POST", r"/api/repos/create")) == 1
    assert shown == [f"took the ready sandbox {warm_id}"]
    assert (await backend.index.get(warm_id)).session == KEY

    assert await backend.fill() == 1  # taken: the pool is refilled
    assert len(spaces_of(hub)) == 2 and await redis.llen(redis_keys.SANDBOX_WARM) == 1


async def test_a_dead_warm_space_is_not_handed_out(hub, redis, tmp_path):
    backend = indexed(hub, redis, warm=1)
    await backend.fill()
    (warm_id,) = spaces_of(hub)
    await hub.crash_app(warm_id)

    session = Session(key=KEY)
    record = await Sandboxes(backend, Sandbox(tmp_path)).ensure(session)
    assert record.id != warm_id and spaces_of(hub) == {record.id}


async def test_the_orphan_sweep_deletes_only_the_bots_unknown_old_spaces(hub, redis):
    clock = Clock()
    clock.now = 4_000_000_000.0  # far after the stand-in's creation times
    backend = indexed(hub, redis, clock)
    known = await backend.start(KEY, "cpu-basic")
    orphan = await backend.inner.start("", "cpu-basic")  # e.g. a crash before it was indexed
    hub.add_repo(f"{USER}/my-demo", repo_type="space", private=True, sdk="docker")

    assert await backend.sweep_orphans() == [orphan.id]
    assert await backend.sweep_orphans() == []  # once an hour, whichever process
    assert spaces_of(hub) == {known.id, f"{USER}/my-demo"}

    young = await backend.inner.start("", "cpu-basic")
    clock.now = 0.0  # just created: it may be starting in another process
    assert await backend.sweep_orphans(force=True) == []
    assert young.id in spaces_of(hub)


def cli_settings(hub, redis_url, tmp_path, **more) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=tmp_path / ".data",
        redis_url=redis_url,
        hf_endpoint=hub.url,
        hf_token=TOKEN,
        sandbox="space",
        sandbox_warm=0,
        **more,
    )


async def test_the_print_sandboxes_lists_and_ends_them(hub, redis, redis_url, tmp_path):
    backend = indexed(hub, redis, clock=time.time)
    gpu = await backend.start(KEY, "a10g-small")
    settings = cli_settings(hub, redis_url, tmp_path)

    out = io.StringIO()
    assert await print_sandboxes(settings, None, out) == 0
    header, row = out.getvalue().splitlines()
    assert header.split()[:3] == ["id", "backend", "hardware"] and "cost" in header
    assert row.split()[:3] == [gpu.id, "space", "a10g-small"] and KEY in row and "$0.00" in row

    out = io.StringIO()
    assert await print_sandboxes(settings, gpu.id, out) == 0
    assert gpu.id in out.getvalue() and spaces_of(hub) == set()
    assert await SandboxIndex(redis).all() == []

    out = io.StringIO()
    assert await print_sandboxes(settings, gpu.id, out) == 1 and "No sandbox" in out.getvalue()
    out = io.StringIO()
    assert await print_sandboxes(settings, None, out) == 0
    assert out.getvalue().strip() == "No sandboxes."


async def test_a_restarted_runtime_reattaches_to_the_sessions_space(hub, redis_url, tmp_path):
    settings = cli_settings(hub, redis_url, tmp_path)

    async def bash(command: str) -> str:
        async with runtime(settings) as rt:
            session = await rt.store.load(KEY) or Session(key=KEY)
            ctx = ToolContext(session=session, tool_call_id="c1")
            result = await rt.runner.agent.tools.call("bash", {"command": command}, ctx)
            await rt.store.save(session)
            return result.output

    assert "exit code 0" in await bash("echo kept > note.txt")
    (space_id,) = spaces_of(hub)
    again = await bash("cat note.txt")
    assert "\nkept\n" in again
    assert spaces_of(hub) == {space_id} and len(hub.calls("POST", r"/api/repos/create")) == 1


def test_auto_chooses_the_space_backend_with_a_token(hub, redis_url, tmp_path):
    auto = cli_settings(hub, redis_url, tmp_path).model_copy(update={"sandbox": "auto"})
    assert build_sandboxes(auto).backend.name == "space"


async def test_the_upkeep_refills_the_pool_when_one_is_taken_and_after_a_failure(
    hub, redis, tmp_path
):
    hub.fail(r"/api/repos/create", 402)  # the first fill fails: tried again later
    backend = indexed(hub, redis, warm=1)
    upkeep = asyncio.create_task(backend.run(every=0.05))
    try:

        async def pool() -> list[bytes]:
            return await redis.lrange(redis_keys.SANDBOX_WARM, 0, -1)

        await eventually(pool, 20)
        (first,) = spaces_of(hub)
        record = await Sandboxes(backend, Sandbox(tmp_path)).ensure(Session(key=KEY))
        assert record.id == first
        await eventually(pool, 20)
        assert len(spaces_of(hub)) == 2 and len(await pool()) == 1
    finally:
        upkeep.cancel()
    assert len(hub.calls("POST", r"/api/repos/create")) == 3
