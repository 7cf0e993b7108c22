"""A full-text index of documentation pages in SQLite FTS5, one library at a time.

A library's pages are fetched and indexed on its first search, then refreshed
when older than ``max_age``: a stale index keeps answering while its refresh
runs in the background, and a failed refresh keeps the old pages.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from agent.tools.registry import ToolError

logger = logging.getLogger(__name__)

RETRY_FAILED_REFRESH = 600.0
"""Seconds before a failed refresh of a library that has pages is tried again."""

SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS pages USING fts5(
    library UNINDEXED, url UNINDEXED, title, body, tokenize = 'porter unicode61'
);
CREATE TABLE IF NOT EXISTS libraries (name TEXT PRIMARY KEY, built_at REAL, pages INTEGER);
"""
TITLE_WEIGHT = 8.0
WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class DocPage:
    url: str
    title: str
    body: str


@dataclass(frozen=True)
class DocHit:
    title: str
    url: str
    snippet: str


Fetch = Callable[[str], Awaitable[Sequence[DocPage]]]
"""Fetches every page of a library (raises ToolError when it cannot)."""


class DocsIndex:
    """Searches ``path`` (an SQLite file), filling it through ``fetch``."""

    def __init__(
        self,
        path: Path,
        fetch: Fetch,
        *,
        max_age: float = 86_400.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.fetch = fetch
        self.max_age = max_age
        self.clock = clock
        self._locks: dict[str, asyncio.Lock] = {}
        self._refreshing: dict[str, asyncio.Task[None]] = {}
        self._failed_at: dict[str, float] = {}
        self._created = False

    async def search(self, library: str, query: str, limit: int = 8) -> list[DocHit]:
        """The pages of ``library`` best matching ``query``, building the index first if needed."""
        built_at = await asyncio.to_thread(self.built_at, library)
        if built_at is None:
            await self.refresh(library)
        elif self.clock() - built_at > self.max_age:
            self._refresh_in_background(library)
        return await asyncio.to_thread(self.query, library, query, limit)

    def query(self, library: str, query: str, limit: int) -> list[DocHit]:
        """Ranked hits from what is indexed now (no fetching)."""
        words = WORD.findall(query.lower())
        if not words:
            raise ToolError("The query has no words to search for.")
        match = " OR ".join(f'"{word}"' for word in words)
        with self._connect() as db:
            rows = db.execute(
                "SELECT title, url, snippet(pages, 3, '**', '**', ' … ', 24) FROM pages "
                "WHERE pages MATCH ? AND library = ? "
                f"ORDER BY bm25(pages, 0, 0, {TITLE_WEIGHT}, 1.0) LIMIT ?",
                (match, library, limit),
            ).fetchall()
        return [DocHit(title, url, " ".join(snippet.split())) for title, url, snippet in rows]

    def built_at(self, library: str) -> float | None:
        with self._connect() as db:
            row = db.execute("SELECT built_at FROM libraries WHERE name = ?", (library,)).fetchone()
        return row[0] if row else None

    async def refresh(self, library: str) -> int:
        """Fetch and index ``library``'s pages now (one refresh per library at a time)."""
        lock = self._locks.setdefault(library, asyncio.Lock())
        async with lock:
            started = self.clock()
            built_at = self.built_at(library)
            if built_at is not None and started - built_at <= self.max_age:
                return 0  # another caller refreshed it while this one waited
            pages = await self.fetch(library)
            if not pages:
                raise ToolError(f"No documentation pages found for {library!r}.")
            await asyncio.to_thread(self._replace, library, pages, started)
            return len(pages)

    def _refresh_in_background(self, library: str) -> None:
        running = self._refreshing.get(library)
        if running is not None and not running.done():
            return
        if self.clock() - self._failed_at.get(library, float("-inf")) < RETRY_FAILED_REFRESH:
            return
        self._refreshing[library] = asyncio.get_running_loop().create_task(
            self._background_refresh(library)
        )

    async def _background_refresh(self, library: str) -> None:
        try:
            await self.refresh(library)
        except Exception as exc:  # the stale pages keep answering
            self._failed_at[library] = self.clock()
            logger.warning("refreshing the %s docs index failed: %s", library, exc)

    async def wait_refreshed(self) -> None:
        """Wait for background refreshes under way (tests, shutdown)."""
        await asyncio.gather(*self._refreshing.values(), return_exceptions=True)

    def _replace(self, library: str, pages: Sequence[DocPage], built_at: float) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM pages WHERE library = ?", (library,))
            db.executemany(
                "INSERT INTO pages (library, url, title, body) VALUES (?, ?, ?, ?)",
                [(library, page.url, page.title, page.body) for page in pages],
            )
            db.execute(
                "INSERT OR REPLACE INTO libraries (name, built_at, pages) VALUES (?, ?, ?)",
                (library, built_at, len(pages)),
            )

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection of its own (usable from any thread), committed and closed after."""
        if not self._created:  # on first use: building the tools touches no disk
            self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=10)
        try:
            if not self._created:
                db.execute("PRAGMA journal_mode = WAL")
                db.executescript(SCHEMA)
                self._created = True
            with db:
                yield db
        finally:
            db.close()
