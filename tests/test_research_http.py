"""The shared HTTP helper of the research tools: retries, caps, cache, readable failures."""

from __future__ import annotations

import socket

import pytest
from aiohttp import web

from agent.tools.http import HttpClient, TTLCache
from agent.tools.registry import ToolError


@pytest.fixture
async def server():
    """A server answering from ``answers`` (a list of (status, headers, body)), then 200."""
    answers: list[tuple[int, dict[str, str], str]] = []
    seen: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.path_qs)
        status, headers, body = answers.pop(0) if answers else (200, {}, '{"ok": true}')
        return web.Response(status=status, headers=headers, text=body)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}", answers, seen
    await runner.cleanup()


async def test_server_errors_are_retried_with_backoff(server) -> None:
    url, answers, seen = server
    answers += [(503, {}, "busy"), (502, {}, "bad gateway")]
    client = HttpClient("the test server", retries=2, backoff=0.01)

    assert await client.get_json(f"{url}/x", params={"q": "a b"}) == {"ok": True}
    assert seen == ["/x?q=a+b"] * 3


async def test_the_last_server_error_reads_clearly(server) -> None:
    url, answers, seen = server
    answers += [(500, {}, '{"error": "database down"}')] * 3
    client = HttpClient("the test server", retries=2, backoff=0.01)

    with pytest.raises(ToolError) as failure:
        await client.get(f"{url}/x")
    assert str(failure.value) == (
        "the test server had a server error (500). Retry in a minute. Server says: database down"
    )


async def test_a_long_retry_after_is_not_waited_for(server) -> None:
    url, answers, seen = server
    answers.append((429, {"Retry-After": "3600"}, "slow down"))
    client = HttpClient("the test server", retries=3)

    with pytest.raises(
        ToolError, match=r"Rate limited by the test server \(429\); retry after 3600 s"
    ):
        await client.get(f"{url}/x")
    assert len(seen) == 1


async def test_cached_answers_are_not_fetched_again(server) -> None:
    url, answers, seen = server
    client = HttpClient("the test server")

    first = await client.get_text(f"{url}/spec", cache_ttl=60)
    second = await client.get_text(f"{url}/spec", cache_ttl=60)
    uncached = await client.get_text(f"{url}/spec")

    assert first == second == uncached
    assert len(seen) == 2


def test_ttl_cache_expires_and_evicts_by_count_and_bytes() -> None:
    cache = TTLCache(max_entries=2, max_bytes=10)
    cache.put("old", b"1", ttl=-1)
    assert cache.get("old") is None
    cache.put("a", b"1", ttl=60)
    cache.put("b", b"2", ttl=60)
    cache.get("a")  # a is now the most recent
    cache.put("c", b"3", ttl=60)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (b"1", None, b"3")

    cache.put("big", b"x" * 9, ttl=60)  # 9 + 1 + 1 bytes > 10: the least recent (a) goes
    assert (cache.get("a"), cache.get("c"), cache.get("big")) == (None, b"3", b"x" * 9)
    cache.put("huge", b"x" * 11, ttl=60)  # larger than the whole cache: not kept
    assert cache.get("huge") is None and cache.get("big") == b"x" * 9


async def test_too_many_redirects_read_clearly(server) -> None:
    url, answers, seen = server
    answers += [(302, {"Location": "/loop"}, "")] * 20
    client = HttpClient("the test server")

    with pytest.raises(
        ToolError, match=r"Could not read .*/loop from the test server: TooManyRedirects"
    ):
        await client.get(f"{url}/loop")


async def test_an_unreachable_server_is_named() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        client = HttpClient("arXiv", retries=1, backoff=0.01)
        with pytest.raises(ToolError, match=r"Could not reach arXiv at http://127\.0\.0\.1:\d+/x"):
            await client.get(f"http://127.0.0.1:{port}/x")
