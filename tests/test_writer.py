"""A thread's writer: writes made in order beside their caller, queued updates replaced."""

import asyncio

from bot.output.writer import ThreadWriter, Writers


class Thread:
    """A platform thread whose writes wait until ``open`` is set; ``made`` lists them."""

    def __init__(self) -> None:
        self.made: list[str] = []
        self.open = asyncio.Event()

    def write(self, what: str, *, fail: bool = False):
        async def make() -> str:
            await self.open.wait()
            if fail:
                raise RuntimeError(what)
            self.made.append(what)
            return what

        return make


async def test_writes_are_made_in_order_and_a_queued_update_takes_the_newest_state():
    thread, writer = Thread(), ThreadWriter()
    posted = writer.post(thread.write("post line"))
    writer.update("card", thread.write("card: approved"))
    writer.update("line", thread.write("line: running"))
    writer.update("line", thread.write("line: done"))  # replaces the queued "running"
    writer.post(thread.write("post answer"))
    await asyncio.sleep(0.05)
    assert thread.made == [] and not posted.done()  # the callers went on; nothing made yet

    thread.open.set()
    await writer.flush()
    assert thread.made == ["post line", "card: approved", "line: done", "post answer"]
    assert posted.result() == "post line"


async def test_a_post_is_never_replaced_and_a_failed_write_stops_nothing():
    thread, writer = Thread(), ThreadWriter()
    failed = writer.update("card", thread.write("card", fail=True))
    writer.post(thread.write("first"))
    writer.post(thread.write("second"))
    thread.open.set()
    await writer.flush()
    assert thread.made == ["first", "second"]
    assert isinstance(failed.exception(), RuntimeError)


async def test_an_update_queued_while_the_same_message_is_being_written_is_made_after_it():
    thread, writer = Thread(), ThreadWriter()
    writer.update("line", thread.write("running"))
    await asyncio.sleep(0.01)  # the writer is making it now, waiting on the thread
    writer.update("line", thread.write("done"))
    thread.open.set()
    await writer.flush()
    assert thread.made == ["running", "done"]


async def test_one_writer_per_thread_while_it_is_held():
    writers = Writers()
    writer = writers.of("slack:T:C:1")
    assert writers.of("slack:T:C:1") is writer
    assert writers.of("slack:T:C:2") is not writer
