"""Outbound HTTP for the research tools: timeouts, retries, size caps, a cache, clear errors.

Every call the docs, papers, dataset, GitHub and web tools make goes through
:class:`HttpClient`: one timeout per request, retries with exponential backoff
on 429 and 5xx (honouring a short ``Retry-After``) and on dropped connections,
answers cut off at ``max_bytes``, optional caching of stable answers, and every
failure raised as a :class:`~agent.tools.registry.ToolError` the model can read.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver
from multidict import CIMultiDictProxy

from agent.tools.registry import ToolError

USER_AGENT = "ml-intern-bot (+https://github.com/huggingface/ml-intern)"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 10.0
"""Longest ``Retry-After`` waited for inside one tool call; longer ones end the call."""


@dataclass(frozen=True)
class HttpResponse:
    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise ToolError(f"{self.url} answered with something that is not JSON.") from None


class TTLCache:
    """A small in-memory LRU cache whose entries expire after ``ttl`` seconds."""

    def __init__(self, max_entries: int = 256) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[Any, tuple[float, Any]] = OrderedDict()

    def get(self, key: Any) -> Any | None:
        item = self._items.get(key)
        if item is None:
            return None
        expires, value = item
        if expires < time.monotonic():
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return value

    def put(self, key: Any, value: Any, ttl: float) -> None:
        self._items[key] = (time.monotonic() + ttl, value)
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)


class HttpClient:
    """GET requests with the failure handling every research tool shares.

    ``name`` says whose server it is in error messages ("the Hub", "GitHub").
    A fresh connection pool per request keeps the client usable from any event loop.
    """

    def __init__(
        self,
        name: str,
        *,
        timeout: float = 20.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_bytes: int = 5_000_000,
        headers: Mapping[str, str] | None = None,
        cache: TTLCache | None = None,
    ) -> None:
        self.name = name
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_bytes = max_bytes
        self.headers = {"User-Agent": USER_AGENT, **(headers or {})}
        self.cache = cache or TTLCache()

    async def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
        cache_ttl: float = 0,
        allow_redirects: bool = True,
        ok: tuple[int, ...] = (),
        resolver: AbstractResolver | None = None,
    ) -> HttpResponse:
        """GET ``url``; a non-2xx answer (other than those in ``ok``) raises ToolError.

        ``cache_ttl`` > 0 keeps a successful answer that long. ``max_bytes`` caps
        the body read: a longer answer is refused, not cut mid-way. ``resolver``
        decides which addresses a host name connects to (``fetch_url`` pins checked ones).
        """
        key = (url, tuple(sorted((params or {}).items())), tuple(sorted((headers or {}).items())))
        if cache_ttl and (cached := self.cache.get(key)) is not None:
            return cached
        limit = max_bytes or self.max_bytes
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = await self._once(url, params, headers, limit, allow_redirects, resolver)
            except aiohttp.ClientConnectionError as exc:
                if last or isinstance(exc, aiohttp.ServerTimeoutError):
                    raise ToolError(self._unreachable(url, exc)) from None
                await asyncio.sleep(self._delay(attempt))
                continue
            except TimeoutError:
                raise ToolError(
                    f"{self.name} did not answer within {self.timeout:g} s ({url}). "
                    "Retry later or ask for less."
                ) from None
            if response.status in RETRY_STATUSES and not last:
                wait = self._retry_after(response) or self._delay(attempt)
                if wait > MAX_RETRY_AFTER:
                    raise ToolError(self._refusal(response))
                await asyncio.sleep(wait)
                continue
            if not (200 <= response.status < 300 or response.status in ok or _redirect(response)):
                raise ToolError(self._refusal(response))
            if cache_ttl and 200 <= response.status < 300:
                self.cache.put(key, response, cache_ttl)
            return response
        raise AssertionError("unreachable")  # the last attempt returns or raises

    async def get_json(self, url: str, **kwargs: Any) -> Any:
        return (await self.get(url, **kwargs)).json()

    async def get_text(self, url: str, **kwargs: Any) -> str:
        return (await self.get(url, **kwargs)).text()

    async def _once(
        self,
        url: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        limit: int,
        allow_redirects: bool,
        resolver: AbstractResolver | None = None,
    ) -> HttpResponse:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        connector = aiohttp.TCPConnector(resolver=resolver) if resolver else None
        async with (
            aiohttp.ClientSession(
                timeout=timeout, headers=self.headers, connector=connector
            ) as session,
            session.get(
                url, params=params, headers=headers, allow_redirects=allow_redirects
            ) as response,
        ):
            length = response.content_length
            if length is not None and length > limit:
                raise ToolError(_oversize(url, limit))
            body = bytearray()
            async for chunk in response.content.iter_chunked(64 * 1024):
                body += chunk
                if len(body) > limit:
                    raise ToolError(_oversize(url, limit))
            return HttpResponse(
                str(response.url), response.status, _plain(response.headers), bytes(body)
            )

    def _delay(self, attempt: int) -> float:
        return self.backoff * 2**attempt

    @staticmethod
    def _retry_after(response: HttpResponse) -> float | None:
        value = response.headers.get("retry-after", "")
        return float(value) if value.isdigit() else None

    def _refusal(self, response: HttpResponse) -> str:
        status = response.status
        detail = _detail(response)
        if status == 404:
            return f"Not found (404): {response.url}.{detail}"
        if status == 429:
            after = response.headers.get("retry-after")
            when = f"; retry after {after} s" if after else ""
            return f"Rate limited by {self.name} (429){when}. Wait before retrying; do not loop."
        if status in (401, 403):
            return f"{self.name} refused access ({status}) to {response.url}.{detail}"
        if status >= 500:
            return f"{self.name} had a server error ({status}). Retry in a minute.{detail}"
        return f"{self.name} refused the request ({status}) for {response.url}.{detail}"

    def _unreachable(self, url: str, exc: Exception) -> str:
        return f"Could not reach {self.name} at {url} ({type(exc).__name__}). Retry in a moment."


def _redirect(response: HttpResponse) -> bool:
    return 300 <= response.status < 400


def _oversize(url: str, limit: int) -> str:
    return f"The answer from {url} is larger than {limit:,} bytes; not read. Ask for less."


def _plain(headers: CIMultiDictProxy[str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _detail(response: HttpResponse) -> str:
    """The server's own short message, if it gave one."""
    text = response.body[:2000].decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        text = str(data.get("error") or data.get("message") or "")
    elif text.startswith("<"):
        text = ""  # an HTML error page says nothing useful
    line = " ".join(text.split())[:200]
    return f" Server says: {line}" if line else ""
