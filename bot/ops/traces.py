"""Session traces: each finished turn's events and history, uploaded to a private Hub dataset.

The runner calls :meth:`Tracer.record` for every event of a turn and
:meth:`Tracer.turn_done` when the turn ends; neither waits on the network nor
raises. A background task uploads the finished turns, as one JSON-lines file
per commit (``traces/<yyyy-mm-dd>/<uuid>.jsonl``), every ``interval`` seconds
or as soon as ``batch_size`` of them wait. A failed upload is logged and retried
later with backoff, under the same path (so a retry never duplicates a batch);
past ``max_pending`` waiting turns the oldest are dropped with a warning.
Every string written goes through :func:`bot.output.redact.redact`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from huggingface_hub import CommitOperationAdd, HfApi

from agent.events import AssistantChunk, Event
from bot.output.redact import redact
from bot.session_key import platform_of
from bot.settings import Settings

logger = logging.getLogger(__name__)

INTERVAL = 60.0
BATCH_SIZE = 20
MAX_PENDING = 1000
"""Finished turns waiting for an upload at most; the oldest are dropped past this."""
MAX_OPEN = 1000
"""Turns being recorded at most (a turn whose end never came is dropped past this)."""
MAX_BACKOFF = 900.0
CLOSE_TIMEOUT = 10.0


@dataclass
class _OpenTurn:
    started_at: str
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Batch:
    """Finished turns (JSON lines, not yet redacted) bound for one file of the dataset."""

    path: str
    lines: list[str]
    body: bytes | None = None
    """The redacted file, made once, so a retry uploads exactly the same bytes."""


class Tracer:
    """Collects turns' events and histories and uploads them in batches to ``repo_id``."""

    def __init__(
        self,
        api: HfApi,
        repo_id: str,
        *,
        model: str = "",
        interval: float = INTERVAL,
        batch_size: int = BATCH_SIZE,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self.api = api
        self.repo_id = repo_id
        self.model = model
        self.interval = interval
        self.batch_size = batch_size
        self.max_pending = max_pending
        self.dropped = 0
        """Finished turns dropped because too many waited."""
        self._open: dict[tuple[str, str], _OpenTurn] = {}
        self._pending: deque[str] = deque()
        self._batch: _Batch | None = None
        """The batch being uploaded, or waiting for its retry."""
        self._failures = 0
        self._retry_at = 0.0
        self._repo_ready = False
        self._wake = asyncio.Event()
        self._flushing = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    # ── the runner's calls: no network, no exceptions ────────────────────

    def record(self, session_key: str, turn_id: str, event: Event) -> None:
        """Keep ``event`` for its turn (consecutive answer chunks are joined into one)."""
        try:
            turn = self._open.get((session_key, turn_id))
            if turn is None:
                turn = self._begin(session_key, turn_id)
            events = turn.events
            if isinstance(event, AssistantChunk) and events and events[-1]["type"] == event.type:
                events[-1]["content"] += event.content
            else:
                events.append(event.to_dict())
        except Exception:
            logger.exception("could not record a trace event of %s", session_key)

    def turn_done(self, session_key: str, turn_id: str, history: list[dict[str, Any]]) -> None:
        """Close the turn: its events and ``history`` (as it is now) become one trace record."""
        try:
            turn = self._open.pop((session_key, turn_id), None) or _OpenTurn(_now())
            record = {
                "session_key": session_key,
                "platform": _platform(session_key),
                "turn_id": turn_id,
                "started_at": turn.started_at,
                "ended_at": _now(),
                "model": self.model,
                "events": turn.events,
                "history": history,
            }
            self._pending.append(json.dumps(record, ensure_ascii=False, default=str))
            self._trim()
            if len(self._pending) >= self.batch_size:
                self._wake.set()
        except Exception:
            logger.exception("could not keep the trace of a turn of %s", session_key)

    @property
    def waiting(self) -> int:
        """Finished turns not uploaded yet (including a batch waiting for its retry)."""
        return len(self._pending) + (len(self._batch.lines) if self._batch else 0)

    # ── lifecycle ────────────────────────────────────────────────────────

    def start(self) -> None:
        """Start the background flusher (once)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="session-traces")

    async def close(self, within: float = CLOSE_TIMEOUT) -> None:
        """Stop the flusher and upload what is left, for ``within`` seconds at most."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        try:
            async with asyncio.timeout(within):
                await self.flush()
        except TimeoutError:
            pass
        if self.waiting:
            logger.warning(
                "%d session traces were not uploaded to %s before shutdown",
                self.waiting,
                self.repo_id,
            )

    async def flush(self) -> bool:
        """Upload every finished turn, ``batch_size`` per commit; False if an upload failed."""
        async with self._flushing:
            while self._batch or self._pending:
                if self._batch is None:
                    self._batch = self._take()
                try:
                    await asyncio.to_thread(self._upload, self._batch)
                except Exception as exc:
                    self._failed(exc)
                    return False
                self._batch, self._failures, self._retry_at = None, 0, 0.0
            return True

    # ── inside ───────────────────────────────────────────────────────────

    async def _run(self) -> None:
        while True:
            wait = max(self._retry_at - time.monotonic(), 0.0) if self._failures else self.interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()
            if time.monotonic() >= self._retry_at:
                await self.flush()

    def _begin(self, session_key: str, turn_id: str) -> _OpenTurn:
        if len(self._open) >= MAX_OPEN:
            oldest_key, oldest_turn = next(iter(self._open))
            del self._open[(oldest_key, oldest_turn)]
            logger.warning(
                "dropped the trace of turn %s of %s: it never ended", oldest_turn, oldest_key
            )
        turn = self._open[(session_key, turn_id)] = _OpenTurn(_now())
        return turn

    def _trim(self) -> None:
        excess = len(self._pending) - self.max_pending
        if excess > 0:
            for _ in range(excess):
                self._pending.popleft()
            self.dropped += excess
            logger.warning(
                "dropped %d session traces: more than %d waited for an upload to %s",
                excess,
                self.max_pending,
                self.repo_id,
            )

    def _take(self) -> _Batch:
        count = min(self.batch_size, len(self._pending))
        lines = [self._pending.popleft() for _ in range(count)]
        return _Batch(f"traces/{datetime.now(UTC):%Y-%m-%d}/{uuid.uuid4().hex}.jsonl", lines)

    def _failed(self, exc: Exception) -> None:
        self._failures += 1
        delay = min(self.interval * 2 ** (self._failures - 1), max(MAX_BACKOFF, self.interval))
        self._retry_at = time.monotonic() + delay
        logger.warning(
            "could not upload %d session traces to %s (attempt %d, retrying in %.0fs): %s",
            self.waiting,
            self.repo_id,
            self._failures,
            delay,
            f"{type(exc).__name__}: {exc}",
        )

    def _upload(self, batch: _Batch) -> None:
        """One commit of one file (runs in a thread: huggingface_hub blocks)."""
        if batch.body is None:
            batch.body = "".join(redact_line(line) + "\n" for line in batch.lines).encode()
        if not self._repo_ready:
            self.api.create_repo(self.repo_id, repo_type="dataset", private=True, exist_ok=True)
            self._repo_ready = True
        self.api.create_commit(
            self.repo_id,
            [CommitOperationAdd(path_in_repo=batch.path, path_or_fileobj=batch.body)],
            commit_message=f"Add {len(batch.lines)} session traces",
            repo_type="dataset",
        )


def tracer_for(settings: Settings, api: HfApi) -> Tracer | None:
    """The tracer ``SESSION_TRACES_*`` configure, uploading with ``api``; None when off."""
    if not settings.session_traces_repo:
        return None
    return Tracer(
        api,
        settings.session_traces_repo,
        model=settings.model,
        interval=settings.session_traces_interval_seconds,
        batch_size=settings.session_traces_batch_size,
    )


def redact_line(line: str) -> str:
    """A JSON line with every string in it (keys too) redacted; still valid JSON."""
    return json.dumps(redact_value(json.loads(line)), ensure_ascii=False)


def redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): redact_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    return value


def _platform(session_key: str) -> str:
    try:
        return platform_of(session_key)
    except ValueError:
        return ""


def _now() -> str:
    return datetime.now(UTC).isoformat()
