"""Download one shared file, capped in size, or say in plain words why it could not be read.

A :class:`SharedFile` is what a platform tells us about a file (Slack's
``url_private`` with the bot token, a Discord attachment's CDN URL, a console
path as a ``file://`` URL). :func:`fetch` returns :class:`Fetched` (the bytes) or
:class:`FetchFailed`, whose :meth:`FetchFailed.line` is the one line the thread
shows. Nothing here raises for a bad file, a bad link or a network error.

Redirects are followed by hand, at most :data:`MAX_REDIRECTS` hops: the request
headers (the credentials) go only to the origin they were given for, never to
another host. A web page where a file was expected (Slack sends an app without
``files:read`` to its sign-in page) is reported as "no access", not handed over
as the file.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import aiohttp
from yarl import URL

MAX_REDIRECTS = 5
CONNECT_TIMEOUT = 15.0
READ_TIMEOUT = 60.0
"""Seconds without a byte from the server before a download is given up."""
CHUNK_BYTES = 64 * 1024
SIZE_SETTING = "MAX_ATTACHMENT_BYTES"
DEFAULT_MAX_BYTES = 20_000_000
"""The default of :data:`SIZE_SETTING`."""

FailureKind = Literal["not_found", "no_access", "expired", "too_big", "network", "error"]


def format_size(size: int) -> str:
    """``512 B``, ``1.5 KB``, ``31 MB``, ``2.4 GB`` (powers of 1000, no trailing ``.0``)."""
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("KB", "MB", "GB"):
        value /= 1000
        if round(value, 1) < 1000 or unit == "GB":
            return f"{value:.1f}".removesuffix(".0") + f" {unit}"
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class SharedFile:
    """A file someone shared: where to get it and what the platform says about it."""

    name: str
    url: str
    """``http(s)://`` (downloaded with ``headers``) or ``file://`` (read from disk)."""
    size: int | None = None
    """Bytes, as the platform declares it; ``None`` when unknown."""
    mimetype: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    """Sent with the request to the URL's own origin only, e.g. Slack's bot token."""
    access_hint: str | None = None
    """Added to a "no access" reason, e.g. "the Slack app needs the files:read scope"."""

    def to_ref(self) -> dict[str, Any]:
        """The file as JSON for a queued input: everything but ``headers`` (credentials
        never go to Redis: the platform adds them again where the turn runs)."""
        ref = {"name": self.name, "url": self.url, "size": self.size, "mimetype": self.mimetype}
        return ref | ({"access_hint": self.access_hint} if self.access_hint else {})

    @classmethod
    def from_ref(cls, ref: Mapping[str, Any]) -> SharedFile:
        """A file from :meth:`to_ref`'s JSON."""
        size = ref.get("size")
        return cls(
            name=str(ref.get("name") or "file"),
            url=str(ref.get("url") or ""),
            size=size if isinstance(size, int) and not isinstance(size, bool) else None,
            mimetype=ref.get("mimetype") or None,
            access_hint=ref.get("access_hint") or None,
        )

    @classmethod
    def from_path(cls, path: str | Path) -> SharedFile:
        """A local file given by path (the console); its size is read now if it exists."""
        resolved = Path(path).expanduser().resolve()
        try:
            size: int | None = resolved.stat().st_size
        except OSError:
            size = None
        return cls(name=resolved.name or str(path), url=resolved.as_uri(), size=size)


@dataclass(frozen=True)
class Fetched:
    """A downloaded file."""

    file: SharedFile
    data: bytes
    mimetype: str | None
    """The server's content type (without parameters), else the declared one."""

    @property
    def name(self) -> str:
        return self.file.name


@dataclass(frozen=True)
class FetchFailed:
    """A file that could not be read, and why, in words for the person who shared it."""

    file: SharedFile
    kind: FailureKind
    reason: str

    @property
    def name(self) -> str:
        return self.file.name

    def line(self) -> str:
        """The line the thread shows, e.g. "📎 Couldn't read `train.log`: it is gone (404)."."""
        return f"📎 Couldn't read `{display_name(self.name)}`: {self.reason.rstrip('.')}."


def display_name(name: str) -> str:
    """A file name safe inside backticks."""
    return name.replace("`", "'").replace("\n", " ").strip() or "file"


async def fetch(
    file: SharedFile, *, max_bytes: int, session: aiohttp.ClientSession
) -> Fetched | FetchFailed:
    """Download ``file`` with ``session``; at most ``max_bytes``, refused early when declared."""
    if file.size is not None and file.size > max_bytes:
        return _too_big(file, max_bytes, file.size)
    try:
        scheme = urlsplit(file.url).scheme.lower()
        if scheme == "file":
            return await asyncio.to_thread(_read_local, file, max_bytes)
        if scheme not in ("http", "https"):
            return FetchFailed(file, "error", "it has no link the bot can download it from")
        return await _download(file, max_bytes, session)
    except TimeoutError:
        return FetchFailed(file, "network", "the download timed out; try sharing it again")
    except (aiohttp.InvalidURL, ValueError):
        return FetchFailed(file, "error", "its link is malformed")
    except aiohttp.ClientError as exc:
        detail = str(exc).strip() or type(exc).__name__
        return FetchFailed(file, "network", f"the download failed ({detail})")


async def _download(
    file: SharedFile, max_bytes: int, session: aiohttp.ClientSession
) -> Fetched | FetchFailed:
    url = URL(file.url)
    headers = dict(file.headers)
    timeout = aiohttp.ClientTimeout(sock_connect=CONNECT_TIMEOUT, sock_read=READ_TIMEOUT)
    redirected = False
    for _ in range(MAX_REDIRECTS + 1):
        async with session.get(
            url, headers=headers, allow_redirects=False, timeout=timeout, raise_for_status=False
        ) as response:
            if response.status in (301, 302, 303, 307, 308):
                location = response.headers.get("Location")
                if not location:
                    return FetchFailed(
                        file, "error", f"the server answered {response.status} without a location"
                    )
                target = url.join(URL(location))
                if target.scheme not in ("http", "https"):
                    return FetchFailed(file, "error", "it redirected to a link the bot cannot open")
                if target.origin() != url.origin():
                    headers = {}  # credentials stay with the origin they were given for
                url, redirected = target, True
                continue
            return await _read(file, response, max_bytes, redirected)
    return FetchFailed(file, "error", f"it redirected more than {MAX_REDIRECTS} times")


async def _read(
    file: SharedFile, response: aiohttp.ClientResponse, max_bytes: int, redirected: bool
) -> Fetched | FetchFailed:
    status = response.status
    if status >= 400:
        body = (await response.content.read(2048)).decode("utf-8", "replace").lower()
        return _http_failure(file, status, body)
    if status >= 300 or status < 200:
        return FetchFailed(file, "error", f"the server answered {status} instead of the file")
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type == "text/html" and not _expects_html(file):
        where = "was sent to a web page (a sign-in page?)" if redirected else "got a web page"
        return _no_access(file, f"the bot {where} instead of the file, so it may not read it")
    declared = response.content_length
    if declared is not None and declared > max_bytes:
        return _too_big(file, max_bytes, declared)
    data = bytearray()
    async for chunk in response.content.iter_chunked(CHUNK_BYTES):
        data += chunk
        if len(data) > max_bytes:
            return _too_big(file, max_bytes, None)
    return Fetched(file, bytes(data), content_type or file.mimetype)


def _http_failure(file: SharedFile, status: int, body: str) -> FetchFailed:
    if status == 410 or (status in (400, 401, 403, 404) and ("expired" in body or _expired(file))):
        return FetchFailed(file, "expired", "its link has expired; share the file again")
    if status == 404:
        return FetchFailed(
            file, "not_found", "it is gone (404 Not Found): it may have been deleted"
        )
    if status in (401, 403):
        return _no_access(file, f"the bot may not read it ({status})")
    if status == 429:
        return FetchFailed(file, "network", "the file server is rate-limiting the bot (429)")
    return FetchFailed(file, "error", f"the file server answered {status}")


def _no_access(file: SharedFile, reason: str) -> FetchFailed:
    hint = f"; {file.access_hint}" if file.access_hint else ""
    return FetchFailed(file, "no_access", reason + hint)


def _too_big(file: SharedFile, max_bytes: int, size: int | None) -> FetchFailed:
    limit = format_size(max_bytes)
    if size is None:
        reason = f"it is over the {limit} limit ({SIZE_SETTING})"
    else:
        reason = f"it is {format_size(size)}; the limit is {limit} ({SIZE_SETTING})"
    return FetchFailed(file, "too_big", reason)


def _expects_html(file: SharedFile) -> bool:
    name = file.name.lower()
    return name.endswith((".html", ".htm")) or (file.mimetype or "").lower() == "text/html"


def _expired(file: SharedFile) -> bool:
    """A signed link past its ``ex`` time (hex Unix seconds, as Discord's CDN links carry)."""
    expires = URL(file.url).query.get("ex")
    try:
        return expires is not None and int(expires, 16) < time.time()
    except ValueError:
        return False


def _read_local(file: SharedFile, max_bytes: int) -> Fetched | FetchFailed:
    path = Path(unquote(urlsplit(file.url).path))
    try:
        size = path.stat().st_size
        if not path.is_file():
            return FetchFailed(file, "error", "it is a folder, not a file")
        if size > max_bytes:
            return _too_big(file, max_bytes, size)
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        return FetchFailed(file, "not_found", f"there is no file at {path}")
    except PermissionError:
        return FetchFailed(file, "no_access", f"the bot may not read {path}")
    except OSError as exc:
        return FetchFailed(file, "error", f"it could not be read ({exc.strerror or exc})")
    if len(data) > max_bytes:
        return _too_big(file, max_bytes, None)
    return Fetched(file, data, file.mimetype)
