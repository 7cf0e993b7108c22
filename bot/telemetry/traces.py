"""Session traces: each finished turn's events and history, and people's ratings of turns,
uploaded to a private Hub dataset.

The runner calls :meth:`Tracer.record` for every event of a turn,
:meth:`Tracer.turn_done` when the turn ends and :meth:`Tracer.rated` when someone
rates a turn (👍 / 👎); none waits on the network or raises. A background task
uploads what waits as one commit: the finished turns in
``traces/<yyyy-mm-dd>/<uuid>.jsonl`` and the ratings in
``feedback/<yyyy-mm-dd>/<uuid>.jsonl``, every ``interval`` seconds or as soon as
``batch_size`` of them wait. The first upload of a process adds a dataset card
naming the two as configs (``turns``, ``ratings``) when the dataset has no
README.md. A rating waiting for its upload is replaced by the same person's newer
rating of the same turn; once uploaded, a newer one is a new line (the latest
``at`` wins). A failed upload is logged and retried later with backoff, under the
same paths (so a retry never duplicates a batch); past ``max_pending`` waiting
turns (or ratings) the oldest are dropped with a warning. Every string written goes
through :func:`bot.output.redact.redact`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from huggingface_hub import CommitOperationAdd, HfApi

from agent.events import AssistantChunk, Event
from agent.usage import Usage
from agent.waiting import wait_at_most
from bot.output.redact import redact
from bot.session_key import platform_of
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.turns.feedback import Rating

logger = logging.getLogger(__name__)

INTERVAL = 60.0
BATCH_SIZE = 20
MAX_PENDING = 1000
"""Finished turns waiting for an upload at most; the oldest are dropped past this."""
MAX_OPEN = 1000
"""Turns being recorded at most (a turn whose end never came is dropped past this)."""
MAX_BACKOFF = 900.0
CLOSE_TIMEOUT = 10.0
TURNS_DIR = "traces"
RATINGS_DIR = "feedback"
CARD = f"""---
configs:
- config_name: turns
  data_files: "{TURNS_DIR}/**/*.jsonl"
  default: true
- config_name: ratings
  data_files: "{RATINGS_DIR}/**/*.jsonl"
---
# ml-intern-bot session traces

- `turns`: one row per finished turn: session key, platform, turn id, start and end,
  model, its model use (`usage`: prompt and completion tokens, model calls, cost in USD
  of the calls whose model's price is known, calls without a price), the turn's events
  and the session history at its end.
- `ratings`: one row per 👍 / 👎 a person gave a turn's answer: session key, platform,
  turn id, rating (`up` / `down`), who (`by`, a platform user id), when (`at`) and what
  went wrong (`comment`). A person's latest row for a turn (by `at`) is their rating.

Secrets are redacted. Uploaded by ml-intern-bot.
"""
"""The dataset card added to a dataset without a README.md: one config per folder."""


@dataclass
class _OpenTurn:
    started_at: str
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Batch:
    """Finished turns and ratings (JSON lines, not yet redacted) bound for one commit:
    lines by the path of their file in the dataset."""

    files: dict[str, list[str]]
    bodies: dict[str, bytes] | None = None
    """The redacted files, made once, so a retry uploads exactly the same bytes."""

    @property
    def size(self) -> int:
        return sum(len(lines) for lines in self.files.values())


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
        self._ratings: dict[tuple[str, str, str], str] = {}
        """Ratings waiting, by (session, turn, person): a newer one replaces the waiting one."""
        self._batch: _Batch | None = None
        """The batch being uploaded, or waiting for its retry."""
        self._failures = 0
        self._retry_at = 0.0
        self._repo_ready = False
        self._card_wanted = False
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

    def turn_done(
        self,
        session_key: str,
        turn_id: str,
        history: list[dict[str, Any]],
        model: str | None = None,
        usage: Usage | None = None,
    ) -> None:
        """Close the turn: its events and ``history`` (as it is now) become one trace record;
        ``model`` is the one that answered (the thread's choice), else the tracer's;
        ``usage`` what its model calls used."""
        try:
            turn = self._open.pop((session_key, turn_id), None) or _OpenTurn(_now())
            record = {
                "session_key": session_key,
                "platform": _platform(session_key),
                "turn_id": turn_id,
                "started_at": turn.started_at,
                "ended_at": _now(),
                "model": model or self.model,
                "usage": (usage or Usage()).to_dict(),
                "events": turn.events,
                "history": history,
            }
            self._pending.append(json.dumps(record, ensure_ascii=False, default=str))
            self._trim()
            if self._ready():
                self._wake.set()
        except Exception:
            logger.exception("could not keep the trace of a turn of %s", session_key)

    def rated(self, rating: Rating) -> None:
        """Keep ``rating`` (a person's 👍 / 👎 of a turn) for the next upload."""
        try:
            record = {
                "session_key": rating.session_key,
                "platform": _platform(rating.session_key),
                "turn_id": rating.turn_id,
                "rating": rating.rating,
                "by": rating.by,
                "at": datetime.fromtimestamp(rating.at, UTC).isoformat(),
                "comment": rating.comment,
            }
            who = (rating.session_key, rating.turn_id, rating.by)
            self._ratings.pop(who, None)  # the newer one goes last
            self._ratings[who] = json.dumps(record, ensure_ascii=False)
            if len(self._ratings) > self.max_pending:
                del self._ratings[next(iter(self._ratings))]
                self.dropped += 1
                logger.warning("dropped a rating: more than %d waited", self.max_pending)
            if self._ready():
                self._wake.set()
        except Exception:
            logger.exception("could not keep a rating of %s", rating.session_key)

    @property
    def waiting(self) -> int:
        """Finished turns and ratings not uploaded yet (including a batch waiting for its retry)."""
        batch = self._batch.size if self._batch else 0
        return len(self._pending) + len(self._ratings) + batch

    # ── lifecycle ────────────────────────────────────────────────────────

    def start(self) -> None:
        """Start the background flusher (once)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="session-traces")

    async def close(self, within: float = CLOSE_TIMEOUT) -> None:
        """Stop the flusher and upload what is left, for ``within`` seconds at most. An
        upload under way ends first: cancelled in the middle, its batch would be kept and
        sent a second time."""
        try:
            async with asyncio.timeout(within):
                async with self._flushing:
                    await self._stop_flusher()
                await self.flush()
        except TimeoutError:
            pass
        finally:
            await self._stop_flusher()
        if self.waiting:
            logger.warning(
                "%d session traces were not uploaded to %s before shutdown",
                self.waiting,
                self.repo_id,
            )

    async def _stop_flusher(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def flush(self) -> bool:
        """Upload every finished turn, ``batch_size`` per commit; False if an upload failed."""
        async with self._flushing:
            while self._batch or self._pending or self._ratings:
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
            await wait_at_most(self._wake, wait)
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

    def _ready(self) -> bool:
        """Enough waits for an upload before the interval is over."""
        return len(self._pending) + len(self._ratings) >= self.batch_size

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
        """Up to ``batch_size`` turns, then ratings up to ``batch_size`` in all."""
        turns = [self._pending.popleft() for _ in range(min(self.batch_size, len(self._pending)))]
        ratings = []
        while self._ratings and len(turns) + len(ratings) < self.batch_size:
            ratings.append(self._ratings.pop(next(iter(self._ratings))))
        name = f"{datetime.now(UTC):%Y-%m-%d}/{uuid.uuid4().hex}.jsonl"
        files = {f"{TURNS_DIR}/{name}": turns, f"{RATINGS_DIR}/{name}": ratings}
        return _Batch({path: lines for path, lines in files.items() if lines})

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
        """One commit of the batch's files (runs in a thread: huggingface_hub blocks)."""
        if batch.bodies is None:
            batch.bodies = {
                path: "".join(redact_line(line) + "\n" for line in lines).encode()
                for path, lines in batch.files.items()
            }
        if not self._repo_ready:
            self.api.create_repo(self.repo_id, repo_type="dataset", private=True, exist_ok=True)
            self._card_wanted = not self.api.file_exists(
                self.repo_id, "README.md", repo_type="dataset"
            )
            self._repo_ready = True
        files = dict(batch.bodies)
        if self._card_wanted:
            files["README.md"] = CARD.encode()
        self.api.create_commit(
            self.repo_id,
            [CommitOperationAdd(path_in_repo=p, path_or_fileobj=body) for p, body in files.items()],
            commit_message=_commit_message(batch),
            repo_type="dataset",
        )
        self._card_wanted = False


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


def _commit_message(batch: _Batch) -> str:
    counts = {folder: 0 for folder in (TURNS_DIR, RATINGS_DIR)}
    for path, lines in batch.files.items():
        counts[path.split("/", 1)[0]] += len(lines)
    parts = [f"{counts[TURNS_DIR]} session traces"] if counts[TURNS_DIR] else []
    parts += [f"{counts[RATINGS_DIR]} ratings"] if counts[RATINGS_DIR] else []
    return "Add " + " and ".join(parts)


def _platform(session_key: str) -> str:
    try:
        return platform_of(session_key)
    except ValueError:
        return ""


def _now() -> str:
    return datetime.now(UTC).isoformat()
