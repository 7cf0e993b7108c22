"""Example code on GitHub: a library's example scripts, a file or its lines, an owner's repos.

``github_find_examples`` ranks the files of a library's repository (its git tree, and
GitHub's code search when a token is set) whose path or content match a keyword, example
and script folders first. ``github_read_file`` reads a file, or a range of its lines, and
a notebook as its cells. ``github_list_repos`` lists a user's or an organisation's public
repositories. ``GITHUB_TOKEN`` is optional: without it GitHub allows 60 requests an
hour, and an error says so when they are used up.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from agent.tools.http import HttpClient, HttpResponse
from agent.tools.registry import Tool, ToolContext, ToolError

DEFAULT_API_URL = "https://api.github.com"
TREE_TTL = 3600.0
"""Seconds a repository's file list is kept: examples move rarely."""
EXAMPLE_DIRS = ("examples", "example", "scripts", "notebooks", "recipes", "trainer")
"""Folders whose files rank first: where a library keeps what people should copy."""
EXAMPLE_EXTENSIONS = (".py", ".ipynb", ".sh", ".md", ".yaml", ".yml", ".toml")
DEFAULT_LINES = 400
"""Lines read when no range is asked for."""
OWNER = {
    "transformers": "huggingface",
    "trl": "huggingface",
    "peft": "huggingface",
    "datasets": "huggingface",
    "accelerate": "huggingface",
    "diffusers": "huggingface",
    "huggingface_hub": "huggingface",
    "tokenizers": "huggingface",
    "evaluate": "huggingface",
    "optimum": "huggingface",
    "lerobot": "huggingface",
    "smolagents": "huggingface",
    "sentence-transformers": "UKPLab",
    "unsloth": "unslothai",
    "axolotl": "axolotl-ai-cloud",
    "vllm": "vllm-project",
}
"""Where a library known by its name lives; any other ``owner/name`` is taken as given."""


def repo_of(library: str) -> str:
    """``trl`` → ``huggingface/trl``; an ``owner/name`` stays as it is."""
    name = library.strip().strip("/")
    if "/" in name:
        return name
    return f"{OWNER.get(name.lower(), 'huggingface')}/{name}"


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", text.lower()) if w]


def rank_paths(paths: list[str], keyword: str, boosted: frozenset[str] = frozenset()) -> list[str]:
    """The example-like ``paths`` matching ``keyword``, best first.

    A word of the keyword in the file's name counts most, in its folders less; files
    under an example folder, and those GitHub's code search found (``boosted``), rank
    higher. Paths matching no word are left out.
    """
    words = _words(keyword)
    scored: list[tuple[float, str]] = []
    for path in paths:
        if not path.endswith(EXAMPLE_EXTENSIONS):
            continue
        *folders, name = path.lower().split("/")
        name_words, folder_words = set(_words(name)), set(_words("/".join(folders)))
        hits = sum(
            3.0 if w in name_words else 2.0 if any(w in n for n in name_words) else 0.0
            for w in words
        ) + sum(1.0 for w in words if w in folder_words)
        if path in boosted:
            hits += 2.0
        if _words(name.rsplit(".", 1)[0]) == words:
            hits += 1.0  # the file is named after the keyword
        if not hits:
            continue
        if any(f in EXAMPLE_DIRS for f in folders):
            hits += 1.5
        if "test" in folders or name.startswith("test_"):
            hits -= 2.0
        scored.append((hits - 0.01 * len(folders), path))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [path for _, path in scored]


def notebook_cells(raw: str) -> str:
    """A Jupyter notebook as its cells: Markdown as text, code in fences, no outputs."""
    try:
        cells = json.loads(raw).get("cells", [])
    except (ValueError, AttributeError):
        raise ToolError("This .ipynb file is not a valid notebook (not JSON).") from None
    parts = []
    for n, cell in enumerate(cells, 1):
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        kind = cell.get("cell_type", "code")
        body = f"```python\n{text}\n```" if kind == "code" else text
        parts.append(f"## cell {n} ({kind})\n{body}")
    return "\n\n".join(parts) or "The notebook has no cells."


def numbered(text: str, start: int | None, end: int | None) -> str:
    """Lines ``start``..``end`` (1-based, inclusive) with their numbers; by default the
    first :data:`DEFAULT_LINES`, saying how to read on."""
    lines = text.splitlines()
    first = max(1, start or 1)
    last = min(len(lines), end or first + DEFAULT_LINES - 1)
    if first > len(lines):
        raise ToolError(f"The file has {len(lines)} lines; start_line {first} is past its end.")
    width = len(str(last))
    shown = "\n".join(f"{n:>{width}}  {lines[n - 1]}" for n in range(first, last + 1))
    if last < len(lines) and end is None:
        shown += f"\n[... {len(lines) - last} more lines: read on with start_line={last + 1}]"
    return shown


class GitHubTools:
    """The three GitHub tools, sharing one client of the API at ``api_url``."""

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        token: str | None = None,
        *,
        http: HttpClient | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.token = token
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = http or HttpClient("GitHub", max_bytes=10_000_000)
        self.http.headers.update(headers)

    def tools(self) -> list[Tool]:
        return [self._find_examples_tool(), self._read_file_tool(), self._list_repos_tool()]

    # ── calls ────────────────────────────────────────────────────────────

    async def _get(self, path: str, **kwargs: Any) -> HttpResponse:
        """GET an API path; a used-up rate limit becomes an error naming GITHUB_TOKEN."""
        response = await self.http.get(f"{self.api_url}{path}", ok=(403, 429), **kwargs)
        if response.status in (403, 429):
            if response.headers.get("x-ratelimit-remaining") == "0" or response.status == 429:
                raise ToolError(self._rate_limited(response))
            raise ToolError(f"GitHub refused access (403) to {response.url}.")
        return response

    def _rate_limited(self, response: HttpResponse) -> str:
        reset = response.headers.get("x-ratelimit-reset", "")
        when = ""
        if reset.isdigit():
            when = f" It resets at {datetime.fromtimestamp(int(reset), UTC):%H:%M} UTC."
        if self.token:
            return f"GitHub's rate limit for this bot's GITHUB_TOKEN is used up.{when}"
        return (
            "GitHub's rate limit for anonymous requests (60 an hour) is used up."
            f"{when} Setting GITHUB_TOKEN raises it to 5,000 an hour."
        )

    async def _tree(self, repo: str, ref: str | None) -> tuple[str, list[str]]:
        """The branch read and every file path of ``repo`` at ``ref`` (its default branch)."""
        if not ref:
            info = (await self._get(f"/repos/{repo}", cache_ttl=TREE_TTL)).json()
            ref = str(info.get("default_branch") or "main")
        tree = (
            await self._get(
                f"/repos/{repo}/git/trees/{quote(ref, safe='')}",
                params={"recursive": "1"},
                cache_ttl=TREE_TTL,
            )
        ).json()
        return ref, [e["path"] for e in tree.get("tree", []) if e.get("type") == "blob"]

    async def _code_search(self, repo: str, keyword: str) -> frozenset[str]:
        """Paths GitHub's code search finds for ``keyword`` in ``repo`` (it needs a token);
        none when it fails: the ranking of the tree's paths still answers."""
        if not self.token:
            return frozenset()
        try:
            response = await self._get(
                "/search/code", params={"q": f"{keyword} repo:{repo}", "per_page": "50"}
            )
            found = response.json()
        except ToolError:
            return frozenset()
        return frozenset(item["path"] for item in found.get("items", []) if "path" in item)

    # ── github_find_examples ─────────────────────────────────────────────

    async def find_examples(self, args: dict[str, Any], ctx: ToolContext) -> str:
        library = str(args.get("library") or args.get("repo") or "").strip()
        keyword = str(args.get("keyword") or "").strip()
        if not library or not keyword:
            raise ToolError("Give a library (e.g. 'trl' or 'huggingface/trl') and a keyword.")
        limit = max(1, min(int(args.get("limit") or 10), 50))
        repo = repo_of(library)
        ref, paths = await self._tree(repo, args.get("ref"))
        ranked = rank_paths(paths, keyword, await self._code_search(repo, keyword))[:limit]
        if not ranked:
            return (
                f"No example or script files in {repo} ({ref}) match {keyword!r}. Try another "
                "keyword (a trainer's or a task's name), or github_read_file on its README."
            )
        lines = [f"Files in {repo} ({ref}) matching {keyword!r}, best first:"]
        lines += [f"- {p}  https://github.com/{repo}/blob/{ref}/{quote(p)}" for p in ranked]
        lines.append(f"Read one with github_read_file(repo={repo!r}, path=...).")
        return "\n".join(lines)

    def _find_examples_tool(self) -> Tool:
        return Tool(
            name="github_find_examples",
            description=(
                "Find a library's example and script files on GitHub matching a keyword, "
                "ranked (example folders first): e.g. library 'trl', keyword 'dpo'. Read an "
                "example before writing training code: APIs change every few months."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "library": {
                        "type": "string",
                        "description": "A library name (trl, transformers, peft, ...) or owner/repo.",
                    },
                    "keyword": {"type": "string", "description": "What the example is about."},
                    "ref": {"type": "string", "description": "Branch or tag (default branch)."},
                    "limit": {"type": "integer", "description": "Files to list (default 10)."},
                },
                "required": ["library", "keyword"],
            },
            handler=self.find_examples,
            read_only=True,
        )

    # ── github_read_file ─────────────────────────────────────────────────

    async def read_file(self, args: dict[str, Any], ctx: ToolContext) -> str:
        given, path = str(args.get("repo") or ""), str(args.get("path") or "").strip("/")
        if not given or not path:
            raise ToolError("Give repo (owner/name) and path.")
        repo = repo_of(given)
        params = {"ref": str(args["ref"])} if args.get("ref") else None
        response = await self._get(
            f"/repos/{repo}/contents/{quote(path)}",
            params=params,
            headers={"Accept": "application/vnd.github.raw+json"},
        )
        text = response.text()
        if text.lstrip().startswith("[") and _is_listing(text):
            names = [
                f"- {e['path']}{'/' if e.get('type') == 'dir' else ''}" for e in _listing(text)
            ]
            return f"{repo}/{path} is a folder:\n" + "\n".join(names)
        if path.endswith(".ipynb"):
            text = notebook_cells(text)
        start, end = _int(args.get("start_line")), _int(args.get("end_line"))
        return f"{repo}/{path}:\n" + numbered(text, start, end)

    def _read_file_tool(self) -> Tool:
        return Tool(
            name="github_read_file",
            description=(
                "Read a file from a GitHub repository, or a range of its lines (numbered); a "
                "notebook (.ipynb) reads as its cells; a folder lists its files."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "repo": {"type": "string", "description": "owner/name, e.g. huggingface/trl"},
                    "path": {"type": "string", "description": "Path in the repository."},
                    "ref": {"type": "string", "description": "Branch, tag or commit."},
                    "start_line": {"type": "integer", "description": "First line (1-based)."},
                    "end_line": {"type": "integer", "description": "Last line (inclusive)."},
                },
                "required": ["repo", "path"],
            },
            handler=self.read_file,
            read_only=True,
        )

    # ── github_list_repos ────────────────────────────────────────────────

    async def list_repos(self, args: dict[str, Any], ctx: ToolContext) -> str:
        owner = str(args.get("owner") or "").strip().strip("/")
        if not owner or "/" in owner:
            raise ToolError("Give owner: a GitHub user or organisation, e.g. 'huggingface'.")
        sort = str(args.get("sort") or "updated")
        if sort not in ("updated", "pushed", "full_name", "created"):
            raise ToolError("sort is one of updated, pushed, full_name, created.")
        limit = max(1, min(int(args.get("limit") or 20), 100))
        repos = (
            await self._get(
                f"/users/{quote(owner)}/repos",
                params={"sort": sort, "per_page": str(limit), "type": "owner"},
            )
        ).json()
        query = str(args.get("query") or "").lower()
        if query:
            repos = [r for r in repos if query in f"{r.get('name')} {r.get('description')}".lower()]
        if not repos:
            return f"No public repositories of {owner}" + (f" match {query!r}." if query else ".")
        lines = [f"Repositories of {owner} ({sort}):"]
        for r in repos:
            facts = [f"★{r.get('stargazers_count', 0)}", r.get("language") or ""]
            about = (r.get("description") or "").strip()
            lines.append(
                f"- {r['full_name']} ({', '.join(f for f in facts if f)})"
                + (f": {about[:160]}" if about else "")
            )
        return "\n".join(lines)

    def _list_repos_tool(self) -> Tool:
        return Tool(
            name="github_list_repos",
            description="List a GitHub user's or organisation's public repositories.",
            parameters={
                "type": "object",
                "properties": {
                    "owner": {"type": "string", "description": "User or organisation."},
                    "query": {
                        "type": "string",
                        "description": "Only names/descriptions with this.",
                    },
                    "sort": {
                        "type": "string",
                        "enum": ["updated", "pushed", "full_name", "created"],
                    },
                    "limit": {"type": "integer", "description": "At most this many (default 20)."},
                },
                "required": ["owner"],
            },
            handler=self.list_repos,
            read_only=True,
        )


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        raise ToolError(f"Expected a line number, got {value!r}.") from None


def _listing(text: str) -> list[dict[str, Any]]:
    return [e for e in json.loads(text) if isinstance(e, dict) and "path" in e]


def _is_listing(text: str) -> bool:
    try:
        return bool(_listing(text))
    except ValueError:
        return False
