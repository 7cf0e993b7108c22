"""``hf_papers``: search and trending papers, a paper's details and linked repos, its sections.

Papers come from the Hub's papers API (``/api/papers/search``, ``/api/daily_papers``,
``/api/papers/<id>``); the models, datasets and Spaces citing a paper from the repo
listings filtered by ``arxiv:<id>``; the sections from the paper's HTML version
at ``{ARXIV_URL}/html/<id>`` (cached).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from agent.tools.arxiv_html import Section, find_section, parse_sections
from agent.tools.http import HttpClient, HttpError
from agent.tools.hub_common import dispatch, int_arg, operation_schema, optional_text, text_arg
from agent.tools.registry import Tool, ToolContext, ToolError

PAPER_ID = re.compile(r"(\d{4}\.\d{4,5})(v\d+)?")
HTML_TTL = 7 * 86_400.0
MAX_ABSTRACT = 1_500
MAX_SECTION_CHARS = 12_000
LINKED = (("models", "models"), ("datasets", "datasets"), ("spaces", "Spaces"))


class PapersTool:
    """Papers through the Hub at ``hub``'s base URL, paper HTML from ``arxiv``."""

    def __init__(self, hub: HttpClient, hub_url: str, arxiv: HttpClient, arxiv_url: str) -> None:
        self.hub = hub
        self.hub_url = hub_url.rstrip("/")
        self.arxiv = arxiv
        self.arxiv_url = arxiv_url.rstrip("/")
        self.operations = {
            "search": self._search,
            "trending": self._trending,
            "details": self._details,
            "read": self._read,
        }

    async def _search(self, args: dict[str, Any], ctx: ToolContext) -> str:
        limit = int_arg(args, "limit", 10, 50)
        found = await self.hub.get_json(
            f"{self.hub_url}/api/papers/search",
            params={"q": text_arg(args, "query"), "limit": str(limit)},
        )
        lines = [self._line(item) for item in _items(found)[:limit]]
        return "\n".join(lines) or "No papers match."

    async def _trending(self, args: dict[str, Any], ctx: ToolContext) -> str:
        limit = int_arg(args, "limit", 10, 50)
        params = {"limit": str(limit)}
        if date := optional_text(args, "date"):
            params["date"] = date
        found = await self.hub.get_json(f"{self.hub_url}/api/daily_papers", params=params)
        items = sorted(_items(found), key=lambda p: -(_paper(p).get("upvotes") or 0))
        return "\n".join(self._line(item) for item in items[:limit]) or "No papers that day."

    async def _details(self, args: dict[str, Any], ctx: ToolContext) -> str:
        paper_id = _paper_id(args)
        paper = await self.hub.get_json(f"{self.hub_url}/api/papers/{paper_id}")
        authors = [a.get("name", "?") for a in paper.get("authors", []) if isinstance(a, dict)]
        abstract = " ".join(str(paper.get("summary") or "").split())
        lines = [
            f"{paper.get('title', paper_id)} ({paper_id})",
            f"{self.hub_url}/papers/{paper_id} · arXiv: https://arxiv.org/abs/{paper_id}",
            f"authors: {', '.join(authors[:20])}" + (" …" if len(authors) > 20 else ""),
            f"published: {paper.get('publishedAt', '?')} · ▲{paper.get('upvotes', 0)}",
        ]
        if paper.get("githubRepo"):
            lines.append(f"code: {paper['githubRepo']}")
        lines += ["", f"abstract: {abstract[:MAX_ABSTRACT]}", ""]
        linked = await asyncio.gather(*(self._linked(kind, paper_id) for kind, _ in LINKED))
        for (_, label), repos in zip(LINKED, linked, strict=True):
            lines.append(f"{label} citing it: {repos}")
        lines.append("\nRead its sections with hf_papers read.")
        return "\n".join(lines)

    async def _linked(self, kind: str, paper_id: str) -> str:
        try:
            repos = await self.hub.get_json(
                f"{self.hub_url}/api/{kind}",
                params={"filter": f"arxiv:{paper_id}", "limit": "10", "sort": "likes"},
            )
        except ToolError as exc:
            return f"unavailable ({exc})"
        ids = [r.get("id", "?") for r in repos if isinstance(r, dict)]
        return ", ".join(ids) or "none"

    async def _read(self, args: dict[str, Any], ctx: ToolContext) -> str:
        paper_id = _paper_id(args)
        url = f"{self.arxiv_url}/html/{paper_id}"
        try:
            html = await self.arxiv.get_text(url, cache_ttl=HTML_TTL)
        except HttpError as exc:
            if exc.status == 404:
                raise ToolError(
                    f"arXiv has no HTML version of {paper_id} (only some papers have one). "
                    "Use hf_papers details for its abstract."
                ) from None
            raise
        title, sections = parse_sections(html)
        if not sections:
            raise ToolError(f"No sections found in {url}.")
        wanted = optional_text(args, "section")
        if wanted is None:
            listing = [
                f"{'  ' * (s.level - 1)}- {s.title} ({len(s.text):,} chars)" for s in sections
            ]
            return "\n".join(
                [f"{title or paper_id} — {url}", "sections:", *listing, ""]
                + ["Read one with hf_papers read and section=<number or name>."]
            )
        section = find_section(sections, wanted)
        if section is None:
            names = "; ".join(s.title for s in sections if s.level == 1)
            raise ToolError(f"No section {wanted!r} in {paper_id}. Sections: {names}")
        text = _with_subsections(sections, section)
        if len(text) > MAX_SECTION_CHARS:
            text = text[:MAX_SECTION_CHARS] + (
                f"\n\n[… {len(text) - MAX_SECTION_CHARS:,} more characters; read a subsection]"
            )
        return f"{section.title} — {url}\n\n{text}"

    def _line(self, item: dict[str, Any]) -> str:
        paper = _paper(item)
        paper_id = paper.get("id", "?")
        title = " ".join(str(paper.get("title") or item.get("title") or "?").split())
        return (
            f"{paper_id} · {title} · ▲{paper.get('upvotes', 0)} · {self.hub_url}/papers/{paper_id}"
        )

    def tool(self) -> Tool:
        return Tool(
            name="hf_papers",
            description=(
                "Papers on Hugging Face: search (query), trending (today's or a date's papers), "
                "details (abstract, authors, and the models, datasets and Spaces citing it), "
                "read (a paper's sections from its arXiv HTML: the list first, then one "
                "section by number or name)."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "operation": operation_schema(self.operations, "What to do."),
                    "query": {"type": "string", "description": "search: words to find."},
                    "paper_id": {
                        "type": "string",
                        "description": "details, read: the arXiv id, e.g. 2305.18290.",
                    },
                    "section": {
                        "type": "string",
                        "description": "read: a section number ('3', '3.2') or name.",
                    },
                    "date": {"type": "string", "description": "trending: YYYY-MM-DD."},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 50},
                },
                "required": ["operation"],
            },
            handler=dispatch("hf_papers", self.operations),
            read_only=True,
        )


def _items(found: Any) -> list[dict[str, Any]]:
    return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []


def _paper(item: dict[str, Any]) -> dict[str, Any]:
    """Listings wrap the paper (``{"paper": {...}, ...}``); some answers are the paper."""
    paper = item.get("paper")
    return paper if isinstance(paper, dict) else item


def _paper_id(args: dict[str, Any]) -> str:
    raw = text_arg(args, "paper_id")
    match = PAPER_ID.search(raw)
    if match is None:
        raise ToolError(f"{raw!r} is not an arXiv id like 2305.18290.")
    return match.group(1)


def _with_subsections(sections: list[Section], section: Section) -> str:
    """The section's text followed by its subsections' (titled), up to the next sibling."""
    start = sections.index(section)
    parts = [section.text]
    for sub in sections[start + 1 :]:
        if sub.level <= section.level:
            break
        parts.append(f"\n## {sub.title}\n{sub.text}")
    return "\n".join(part for part in parts if part)
