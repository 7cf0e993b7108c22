"""The bot as the benchmarks run it: the Slack adapter on the bot's HTTP server, on loopback.

Settings come from the environment (as ``ml-intern-bot slack``); the tools are
:func:`bench.tools.bench_tools`. ``BENCH_ROLE=bare`` makes it a bare aiohttp
handler answering 200 at once (the baseline for acknowledgement latency);
``BENCH_ROLE=worker`` a turn worker (``bot.ops.worker.run_worker``) rendering into
Slack, with no front end. Prints ``READY <port>`` when it serves; stops on SIGTERM. ``GET /bench/probe``
returns (and clears) what it saw from the inside: how long each ``/slack/events``
request took in the server, and how late a 10 ms timer fired (event-loop lag).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from aiohttp import web  # noqa: E402

from bot.ops.http import serve  # noqa: E402

LAG_TICK = 0.01


def _port(runner: web.AppRunner) -> int:
    return runner.addresses[0][1]


class Probe:
    """Server-side ack times and event-loop lag, in ms, until the next ``GET /bench/probe``."""

    def __init__(self) -> None:
        self.acks: list[float] = []
        self.lag: list[float] = []

    @web.middleware
    async def timing(self, request: web.Request, handler):  # type: ignore[no-untyped-def]
        start = time.monotonic()
        response = await handler(request)
        if request.path == "/slack/events":
            self.acks.append((time.monotonic() - start) * 1000)
        return response

    async def ticks(self) -> None:
        while True:
            start = time.monotonic()
            await asyncio.sleep(LAG_TICK)
            self.lag.append((time.monotonic() - start - LAG_TICK) * 1000)

    async def report(self, _: web.Request) -> web.Response:
        body = {"acks_ms": self.acks, "loop_lag_ms": self.lag}
        self.acks, self.lag = [], []
        return web.json_response(body)

    def mount(self, app: web.Application) -> None:
        app.middlewares.append(self.timing)
        app.router.add_get("/bench/probe", self.report)


async def _until_terminated() -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()


async def bare() -> None:
    async def ack(_: web.Request) -> web.Response:
        return web.Response(text="")

    app = web.Application()
    app.router.add_post("/slack/events", ack)
    await _serve_probed(app)


async def _serve_probed(app: web.Application) -> None:
    probe = Probe()
    probe.mount(app)
    ticks = asyncio.create_task(probe.ticks())
    runner = await serve(app, 0, host="127.0.0.1")
    print("READY", _port(runner), flush=True)
    try:
        await _until_terminated()
    finally:
        ticks.cancel()
        await runner.cleanup()


async def worker() -> None:

    from adapters.slack.surface import slack_surfaces
    from bench.tools import bench_tools
    from bot.ops.worker import run_worker
    from bot.settings import Settings

    settings = Settings(_env_file=None, slack_native_streaming=False)
    surfaces = slack_surfaces(settings)
    print("READY 0", flush=True)  # the heavy imports are done; the runtime ends on SIGTERM
    await run_worker(settings, tools=bench_tools(), surfaces={"slack": surfaces})


async def slack_bot() -> None:
    from adapters.slack.frontend import SlackFrontEnd
    from bench.tools import bench_tools
    from bot.ops.http import build_http_app
    from bot.runtime import runtime
    from bot.settings import Settings

    async with runtime(Settings(_env_file=None), tools=bench_tools()) as rt:
        http = build_http_app(rt.redis)
        SlackFrontEnd(rt).mount(http)
        await rt.runner.recover()
        await _serve_probed(http)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        roles = {"bare": bare, "worker": worker, "slack": slack_bot}
        asyncio.run(roles[os.environ.get("BENCH_ROLE") or "slack"]())
