"""``explore_hf_docs`` and ``fetch_hf_docs``: the current Hugging Face library docs.

The docs site's shape: a library's index page ``{hub}/docs/<library>`` links
every page in its sidebar (``/docs/<library>/<page>``), and each page is also
served as Markdown at ``{hub}/docs/<library>/<page>.md``. The pages go into a
:class:`~agent.tools.docs_index.DocsIndex`; ``fetch_hf_docs`` reads one page.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from agent.tools.docs_index import DocPage, DocsIndex
from agent.tools.http import HttpClient, HttpError
from agent.tools.hub_common import int_arg, text_arg
from agent.tools.registry import Tool, ToolContext, ToolError

LIBRARIES = (
    "transformers",
    "trl",
    "datasets",
    "peft",
    "accelerate",
    "huggingface_hub",
    "hub",
    "diffusers",
    "tokenizers",
    "evaluate",
    "optimum",
    "sentence_transformers",
    "smolagents",
    "lighteval",
    "inference-endpoints",
    "inference-providers",
    "text-generation-inference",
    "safetensors",
    "bitsandbytes",
    "timm",
    "transformers.js",
)
"""Libraries suggested to the model; any other docs slug works too."""

LIBRARY = re.compile(r"^[A-Za-z0-9_.-]+$")
OTHER_EDITION = re.compile(r"^(?:v\d[^/]*|main|(?!en/)[a-z]{2}(?:-[a-z]+)?)/")
"""Links to another version (``v4.40.0/``, ``main/``) or language (``zh/``) of the docs."""
MAX_PAGES = 400
FETCH_CONCURRENCY = 8
PART_CHARS = 12_000
PAGE_CACHE_TTL = 3_600.0
PUBLIC_DOCS = "https://huggingface.co/docs/"


class HfDocs:
    """The docs of ``hub_url`` (``HF_ENDPOINT``), searched through an index at ``index_path``."""

    def __init__(
        self, http: HttpClient, hub_url: str, index_path: Path, *, max_age: float = 86_400.0
    ) -> None:
        self.http = http
        self.hub_url = hub_url.rstrip("/")
        self.index = DocsIndex(index_path, self.library_pages, max_age=max_age)

    # ── the page list and pages ──────────────────────────────────────────

    async def page_paths(self, library: str) -> list[str]:
        """The pages the library's index page links, in sidebar order."""
        html = await self.http.get_text(f"{self.hub_url}/docs/{library}")
        links = re.findall(
            rf"""href=["'](?:{re.escape(self.hub_url)})?/docs/{re.escape(library)}/([^"'#?]+)""",
            html,
        )
        paths = dict.fromkeys(link.removesuffix(".md").strip("/") for link in links)
        current = [path for path in paths if path and not OTHER_EDITION.match(path)]
        return current[:MAX_PAGES] or ["index"]

    async def read_page(self, library: str, path: str, cache_ttl: float = 0) -> DocPage:
        url = f"{self.hub_url}/docs/{library}/{path}"
        text = await self.http.get_text(f"{url}.md", cache_ttl=cache_ttl)
        return DocPage(url=url, title=_title(text, path), body=text)

    async def library_pages(self, library: str) -> list[DocPage]:
        """Every page of ``library`` (what the index holds). A page that fails is left out,
        up to a tenth of them (at least one); more fail the whole (an older index is kept)."""
        paths = await self.page_paths(library)
        gate = asyncio.Semaphore(FETCH_CONCURRENCY)

        async def one(path: str) -> DocPage | ToolError:
            async with gate:
                try:
                    return await self.read_page(library, path)
                except ToolError as exc:
                    return exc

        read = await asyncio.gather(*map(one, paths))
        pages = [page for page in read if isinstance(page, DocPage)]
        errors = [error for error in read if isinstance(error, ToolError)]
        if len(errors) > max(1, len(paths) // 10):
            raise ToolError(
                f"{len(errors)} of the {len(paths)} pages of the {library} docs could not be "
                f"read; the first: {errors[0]}"
            )
        return pages

    # ── the tools ────────────────────────────────────────────────────────

    async def explore(self, args: dict[str, Any], ctx: ToolContext) -> str:
        library = _library(args)
        query = text_arg(args, "query")
        try:
            hits = await self.index.search(library, query, int_arg(args, "limit", 8, 20))
        except HttpError as exc:
            if exc.status == 404:
                raise ToolError(
                    f"No docs found for library {library!r}. Known libraries: "
                    f"{', '.join(LIBRARIES)}."
                ) from None
            raise
        if not hits:
            return f"No {library} docs page matches {query!r}. Try other words."
        return (
            "\n\n".join(
                f"{n}. {hit.title}\n{hit.url}\n{hit.snippet}" for n, hit in enumerate(hits, 1)
            )
            + "\n\nRead a page with fetch_hf_docs."
        )

    async def fetch(self, args: dict[str, Any], ctx: ToolContext) -> str:
        library, path = self._locate(text_arg(args, "url"))
        try:
            offset = max(0, int(args.get("offset") or 0))
        except (TypeError, ValueError):
            raise ToolError("'offset' must be an integer.") from None
        try:
            page = await self.read_page(library, path, cache_ttl=PAGE_CACHE_TTL)
        except HttpError as exc:
            if exc.status == 404:
                raise ToolError(
                    f"No docs page {library}/{path}. Find pages with explore_hf_docs."
                ) from None
            raise
        return _part(page, offset)

    def _locate(self, url: str) -> tuple[str, str]:
        """``(library, page path)`` of a docs URL, or of ``library/page``."""
        for prefix in (f"{self.hub_url}/docs/", PUBLIC_DOCS, "/docs/"):
            if url.startswith(prefix):
                url = url[len(prefix) :]
                break
        else:
            if "://" in url:
                raise ToolError(
                    f"{url} is not a Hugging Face docs page ({self.hub_url}/docs/...). "
                    "Read other pages with fetch_url."
                )
        url = url.split("#", 1)[0].split("?", 1)[0].strip("/").removesuffix(".md")
        library, _, path = url.partition("/")
        if not LIBRARY.match(library):
            raise ToolError(f"{library!r} is not a docs library name.")
        return library, path or "index"

    def tools(self) -> list[Tool]:
        return [
            Tool(
                name="explore_hf_docs",
                description=(
                    "Search the current documentation of a Hugging Face library (ranked pages: "
                    "title, URL, snippet). Use it before writing code with transformers, trl, "
                    "datasets, peft, accelerate...: their APIs change often. Then read a page "
                    "with fetch_hf_docs."
                ),
                parameters={
                    "type": "object",
                    "properties": {
                        "library": {
                            "type": "string",
                            "description": f"Docs to search, e.g. {', '.join(LIBRARIES[:8])}.",
                        },
                        "query": {"type": "string", "description": "What to look for."},
                        "limit": {"type": "integer", "minimum": 1, "maximum": 20},
                    },
                    "required": ["library", "query"],
                },
                handler=self.explore,
                read_only=True,
            ),
            Tool(
                name="fetch_hf_docs",
                description=(
                    "Read one Hugging Face docs page as Markdown (a URL from explore_hf_docs, or "
                    "'library/page', e.g. 'trl/dpo_trainer'). A long page comes in parts: "
                    "call again with the offset the answer gives."
                ),
                parameters={
                    "type": "object",
                    "properties": {
                        "url": {"type": "string", "description": "The page's URL or library/page."},
                        "offset": {
                            "type": "integer",
                            "minimum": 0,
                            "description": "Character offset of the part to read (default 0).",
                        },
                    },
                    "required": ["url"],
                },
                handler=self.fetch,
                read_only=True,
            ),
        ]


def _library(args: dict[str, Any]) -> str:
    library = text_arg(args, "library").lower()
    if not LIBRARY.match(library):
        raise ToolError(f"{library!r} is not a docs library name, e.g. {', '.join(LIBRARIES)}.")
    return library


def _title(markdown: str, path: str) -> str:
    for line in markdown.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.rsplit("/", 1)[-1].replace("_", " ").replace("-", " ")


def _part(page: DocPage, offset: int) -> str:
    """The part of the page starting at ``offset``, ending at a line break near PART_CHARS."""
    text = page.body
    if offset >= len(text):
        raise ToolError(f"offset {offset} is past the end of the page ({len(text)} characters).")
    end = min(offset + PART_CHARS, len(text))
    if end < len(text):
        newline = text.rfind("\n", offset + PART_CHARS // 2, end)
        end = newline + 1 if newline > 0 else end
    header = f"{page.title} — {page.url}"
    if offset == 0 and end == len(text):
        return f"{header}\n\n{text}"
    more = f"; next part: offset={end}" if end < len(text) else "; the last part"
    return f"{header} (characters {offset}–{end} of {len(text)}{more})\n\n{text[offset:end]}"
