"""Loopback stand-ins of the open web: a SearXNG-shaped search and a page server.

:class:`Site` is their base (and the GitHub stand-in's): an aiohttp app on a loopback
address that records every request and answers with a fault when asked —
``site.fail(path_regex, status, headers)`` for the next matching requests (``times``),
``site.stall(path_regex)`` holds them until the returned event is set (a timeout), and
``site.oversize(path_regex, n)`` pads the answer to ``n`` bytes.

:class:`SearchStandIn` answers ``GET /search?q=…&format=json`` as SearXNG does.
:class:`PageServer` serves ``pages`` (path → HTML) and redirects (``redirect(path, url)``).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class _Fault:
    pattern: re.Pattern[str]
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    stall: asyncio.Event | None = None
    size: int = 0


class Site:
    """A loopback app with fault switches; subclasses add routes in :meth:`routes`."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.url = ""
        self.requests: list[web.Request] = []
        self._faults: list[_Fault] = []
        self._runner: web.AppRunner | None = None

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def fail(
        self, path: str, status: int, headers: dict[str, str] | None = None, *, times: int = 1
    ) -> None:
        self._faults.append(_Fault(re.compile(path), status, dict(headers or {}), times))

    def stall(self, path: str) -> asyncio.Event:
        event = asyncio.Event()
        self._faults.append(_Fault(re.compile(path), stall=event, times=1_000))
        return event

    def oversize(self, path: str, size: int) -> None:
        self._faults.append(_Fault(re.compile(path), size=size, times=1_000))

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append(request)
        for fault in self._faults:
            if fault.times > 0 and fault.pattern.search(request.path_qs):
                fault.times -= 1
                if fault.stall is not None:
                    await fault.stall.wait()
                elif fault.size:
                    return web.Response(body=b"x" * fault.size, content_type="text/html")
                else:
                    return web.json_response(
                        {"message": f"stand-in fault {fault.status}"},
                        status=fault.status,
                        headers=fault.headers,
                    )
        return await handler(request)

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://{self.host}:{port}"

    async def close(self) -> None:
        for fault in self._faults:
            if fault.stall is not None:
                fault.stall.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> Site:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class SearchStandIn(Site):
    """SearXNG's JSON API: ``results`` of ``{title, url, content, engine}``."""

    def __init__(self, results: list[dict[str, str]] | None = None) -> None:
        super().__init__()
        self.results = results or []

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/search", self._search)

    async def _search(self, request: web.Request) -> web.Response:
        if request.query.get("format") != "json":
            return web.Response(status=403, text="format not allowed")
        words = request.query.get("q", "").lower().split()
        hits = [
            r
            for r in self.results
            if any(w in f"{r['title']} {r['content']}".lower() for w in words)
        ]
        return web.json_response(
            {"query": request.query.get("q", ""), "number_of_results": len(hits), "results": hits}
        )


class PageServer(Site):
    """Pages by path (HTML or plain text), and redirects to anywhere."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.pages: dict[str, str] = {}
        self.redirects: dict[str, str] = {}

    def redirect(self, path: str, location: str) -> None:
        self.redirects[path] = location

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/{path:.*}", self._page)

    async def _page(self, request: web.Request) -> web.StreamResponse:
        if request.path in self.redirects:
            raise web.HTTPFound(self.redirects[request.path])
        page = self.pages.get(request.path)
        if page is None:
            raise web.HTTPNotFound(text="no such page")
        kind = "text/html" if page.lstrip().startswith("<") else "text/plain"
        return web.Response(text=page, content_type=kind)
