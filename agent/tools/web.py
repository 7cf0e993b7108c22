"""The open web: ``web_search`` through a SearXNG instance, ``fetch_url`` a page as text.

The model chooses the URLs ``fetch_url`` reads, so it must not become a way into the
bot's own network (Redis, a cloud's metadata service at 169.254.169.254): every hop's
host is resolved first, refused if any of its addresses is loopback, private,
link-local or otherwise not global, and the connection then goes to exactly the
addresses checked (a pinned resolver), so a DNS answer that changes in between cannot
swap them. Redirects are followed here, one hop at a time, each checked the same way.
``allow_private`` (``FETCH_URL_ALLOW_PRIVATE=1``) lifts the check, for an intranet.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult

from agent.tools.http import HttpClient
from agent.tools.registry import Tool, ToolContext, ToolError

MAX_REDIRECTS = 5
MAX_PAGE_BYTES = 3_000_000
PAGE_CHARS = 15_000
"""Characters of a page's text one call returns; ``offset`` reads on."""
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/xhtml")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# ── web_search ───────────────────────────────────────────────────────────


class WebSearchTool:
    """Search the web through a SearXNG instance's JSON API at ``search_url``."""

    def __init__(self, search_url: str, *, http: HttpClient | None = None) -> None:
        self.search_url = search_url.rstrip("/")
        self.http = http or HttpClient("the web search")

    async def search(self, args: dict[str, Any], ctx: ToolContext) -> str:
        query = str(args.get("query") or "").strip()
        if not query:
            raise ToolError("Give a query.")
        limit = max(1, min(int(args.get("limit") or 8), 20))
        found = await self.http.get_json(
            f"{self.search_url}/search", params={"q": query, "format": "json"}, cache_ttl=600
        )
        results = found.get("results", []) if isinstance(found, dict) else []
        if not results:
            return f"No web results for {query!r}."
        lines = [f"Web results for {query!r}:"]
        for n, r in enumerate(results[:limit], 1):
            snippet = " ".join(str(r.get("content") or "").split())[:300]
            lines.append(f"{n}. {r.get('title') or r.get('url')}\n   {r.get('url')}\n   {snippet}")
        lines.append("Read a page with fetch_url.")
        return "\n".join(lines)

    def tool(self) -> Tool:
        return Tool(
            name="web_search",
            description=(
                "Search the web: pages with their titles, URLs and snippets. For what the Hub "
                "and the docs tools don't cover (blog posts, issues, other libraries)."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "What to search for."},
                    "limit": {"type": "integer", "description": "Results (default 8)."},
                },
                "required": ["query"],
            },
            handler=self.search,
            read_only=True,
        )


# ── fetch_url ────────────────────────────────────────────────────────────


def refused(address: IPAddress) -> bool:
    """True for an address the bot must not be sent to: anything not on the public internet."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


class PinnedResolver(AbstractResolver):
    """Answers a host name with the addresses already checked for it, and nothing else."""

    def __init__(self, host: str, results: list[ResolveResult]) -> None:
        self.host = host
        self.results = results

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host != self.host:
            raise OSError(f"{host} was not checked")
        return [{**r, "port": port or r["port"]} for r in self.results]

    async def close(self) -> None:
        return None


async def checked_addresses(host: str, port: int, allow_private: bool) -> list[ResolveResult]:
    """``host``'s addresses, each checked; a refused one raises ToolError before any
    connection is made."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [(literal, socket.AF_INET6 if literal.version == 6 else socket.AF_INET)]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError:
            raise ToolError(f"Could not resolve the host name {host!r}.") from None
        addresses = [(ipaddress.ip_address(info[4][0].split("%")[0]), info[0]) for info in infos]
    if not allow_private:
        for address, _ in addresses:
            if refused(address):
                raise ToolError(
                    f"Refused: {host} is {address}, a loopback, private or link-local address. "
                    "fetch_url reads public pages only (FETCH_URL_ALLOW_PRIVATE=1 lifts this)."
                )
    return [
        {"hostname": host, "host": str(a), "port": port, "family": f, "proto": 0, "flags": 0}
        for a, f in addresses
    ]


class _Text(HTMLParser):
    """A page's readable text: no scripts, styles or navigation; headings marked."""

    SKIP = frozenset({"script", "style", "noscript", "svg", "nav", "footer", "head", "form"})
    BLOCK = frozenset(
        {"p", "div", "br", "li", "tr", "pre", "section", "article", "table", "ul", "ol"}
    )

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.title = ""
        self._skipping = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self.SKIP:
            self._skipping += 1
        elif tag in {"h1", "h2", "h3", "h4"}:
            self.parts.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self.SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self.BLOCK - {"li"} or tag in {"h1", "h2", "h3", "h4"}:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skipping:
            self.parts.append(data)


def html_text(html: str) -> tuple[str, str]:
    """The title and the readable text of an HTML page."""
    parser = _Text()
    parser.feed(html)
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    text, blank = [], False
    for line in lines:
        if line or not blank:
            text.append(line)
        blank = not line
    return " ".join(parser.title.split()), "\n".join(text).strip()


class FetchUrlTool:
    """Read a public web page as text, following redirects one checked hop at a time."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        http: HttpClient | None = None,
        trusted: Sequence[str] = (),
    ) -> None:
        self.allow_private = allow_private
        self.trusted = frozenset(trusted)
        """Host names read even when private (the tests' loopback page server)."""
        self.http = http or HttpClient("the web page's server", max_bytes=MAX_PAGE_BYTES)

    async def fetch(self, args: dict[str, Any], ctx: ToolContext) -> str:
        url = str(args.get("url") or "").strip()
        offset = max(0, int(args.get("offset") or 0))
        for _ in range(MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ToolError(f"fetch_url reads http(s) URLs only, not {url!r}.")
            port = parts.port or (443 if parts.scheme == "https" else 80)
            host = parts.hostname
            results = await checked_addresses(
                host, port, self.allow_private or f"{host}:{port}" in self.trusted
            )
            response = await self.http.get(
                url, allow_redirects=False, resolver=PinnedResolver(host, results)
            )
            location = response.headers.get("location")
            if not 300 <= response.status < 400 or not location:
                break
            url = urljoin(url, location)
        else:
            raise ToolError(f"More than {MAX_REDIRECTS} redirects; stopped at {url}.")
        kind = response.headers.get("content-type", "text/plain").split(";")[0].strip().lower()
        if not kind.startswith(TEXT_TYPES):
            raise ToolError(f"{url} is {kind}, not a text page; fetch_url reads text only.")
        title, text = ("", response.text())
        if "html" in kind:
            title, text = html_text(text)
        part = text[offset : offset + PAGE_CHARS]
        head = f"{title}\n{url}" if title else url
        rest = len(text) - offset - len(part)
        more = f"\n[... {rest:,} more characters: read on with offset={offset + len(part)}]"
        return f"{head}\n\n{part}" + (more if rest > 0 else "")

    def tool(self) -> Tool:
        return Tool(
            name="fetch_url",
            description=(
                "Read a public web page (http/https) as text, a long one in parts (offset). "
                "Pages on private or internal addresses are refused."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "url": {"type": "string", "description": "The page's URL."},
                    "offset": {"type": "integer", "description": "Character to start at."},
                },
                "required": ["url"],
            },
            handler=self.fetch,
            read_only=True,
        )
