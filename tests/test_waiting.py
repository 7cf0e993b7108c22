"""Cancelling loops whose cancel a library swallowed (agent.waiting)."""

import asyncio

from agent.waiting import cancel_and_wait, wait_at_most


async def test_a_loop_that_swallowed_its_cancel_is_cancelled_again_until_it_ends():
    swallowed = []

    async def read_forever() -> None:  # what wait_for did to redis-py's reads on 3.11
        while True:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                if len(swallowed) < 2:
                    swallowed.append(True)  # lost: the loop goes on
                    continue
                raise

    task = asyncio.create_task(read_forever())
    await asyncio.sleep(0.02)
    await asyncio.wait_for(cancel_and_wait([task], every=0.05), 5)

    assert task.cancelled() and swallowed == [True, True]


async def test_cancel_and_wait_drops_errors_and_leaves_finished_tasks_alone():
    async def fails() -> None:
        raise ValueError("already reported")

    failed = asyncio.create_task(fails())
    done = asyncio.create_task(asyncio.sleep(0, result="kept"))
    await asyncio.sleep(0.01)
    await cancel_and_wait([failed, done])

    assert done.result() == "kept" and isinstance(failed.exception(), ValueError)


async def test_wait_at_most_says_whether_the_event_came():
    event = asyncio.Event()
    assert not await wait_at_most(event, 0.01)
    asyncio.get_running_loop().call_soon(event.set)
    assert await wait_at_most(event, 5)
