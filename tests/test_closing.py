"""A close that hangs fails its test within the bound, naming what hung and where it waits."""

import asyncio
from contextlib import asynccontextmanager

import pytest

from tests.closing import bounded, closed


async def test_a_close_that_never_ends_fails_naming_it_and_where_it_waits():
    async def wait_for_a_peer_that_is_gone() -> None:
        await asyncio.Event().wait()

    with pytest.raises(pytest.fail.Exception) as failed:
        await closed("the stuck server", wait_for_a_peer_that_is_gone(), within=0.05)

    assert "the stuck server did not close within 0.05s" in str(failed.value)
    assert "wait_for_a_peer_that_is_gone" in str(failed.value)  # its stack is shown


async def test_a_close_that_swallows_its_cancel_still_fails_in_time():
    swallowed = []

    async def stubborn() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            swallowed.append(True)  # and goes on waiting, until cancelled again
        await asyncio.sleep(60)

    with pytest.raises(pytest.fail.Exception):
        await closed("the stubborn task", stubborn(), within=0.05)
    await asyncio.sleep(0)  # the cancel reaches it
    assert swallowed == [True]


async def test_bounded_enters_and_exits_the_manager_once():
    steps = []

    @asynccontextmanager
    async def server():
        steps.append("start")
        yield "served"
        steps.append("stop")

    async with bounded("the server", server()) as value:
        assert value == "served" and steps == ["start"]
    assert steps == ["start", "stop"]
