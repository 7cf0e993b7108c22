"""A job's room in its thread: the card kept up to date, its Logs and Cancel buttons, its end.

Every :class:`~agent.events.JobStatus` of a job watch comes here
(:meth:`JobRoom.show`): the job's card is drawn from the Hub's snapshot and log
lines (:mod:`bot.jobs.card`) in one message per job, whose ref lives in the
session's lines hash, so a bot restarted mid-job keeps editing the same card.
When the job ends the card shows its outcome, and a summary follows with a chart
of the metrics its log carried. Surfaces without :class:`~bot.platform.JobCards`
get the card as a text line.

The room also keeps the job index (``mib:job:<id>``, ``mib:running_jobs``) that
the inbox lists, and does what the card's buttons ask: the last log lines
(:meth:`JobRoom.logs`) and a cancellation, itself a decision under the approval
rules (:meth:`JobRoom.cancel`), written to the audit trail.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from huggingface_hub import HfApi, JobInfo

from agent import events as ev
from agent.tools.hub_errors import call_hub
from agent.tools.job_watch import job_logs
from agent.tools.registry import ToolError
from bot.approvals.actor import Actor
from bot.approvals.audit import AuditEntry, args_digest
from bot.approvals.controls import TeamControls
from bot.clock import Clock, utc_now
from bot.jobs.card import JobCard, card_from_job, card_lines, summary_text
from bot.jobs.chart import axis_labels, build_figure, figure_png, plotted
from bot.jobs.logmetrics import parse_metrics
from bot.output.messages import (
    JOB_UNKNOWN,
    NO_HUB,
    cancel_failed,
    cancel_refused,
    cancel_requested,
    logs_failed,
    logs_header,
    logs_posted,
    nothing_logged,
)
from bot.output.redact import clean
from bot.platform import Attachments, JobCards, MetricCharts, call_surface
from bot.session_key import platform_of
from bot.store import redis_keys
from bot.store.sessions import SessionStore

if TYPE_CHECKING:
    from bot.platform import SurfaceFactory

logger = logging.getLogger(__name__)

JOB_BUTTON = r"mib:(?P<verb>joblogs|jobcancel):(?P<id>[\w-]{1,64})"
"""The id of a job card's Logs or Cancel button (:func:`job_button_id`), as a pattern."""
LOG_LINES = 100
"""Log lines the Logs button shows."""
INLINE_LOG_CHARS = 1500
"""Longer logs are attached as a file instead of a message."""
MIN_REDRAW_SECONDS = 10.0
"""A running job's card is edited at most this often (its stage changing is shown at once)."""
CANCEL = "cancel"


JOB_BUTTONS = {"logs": "joblogs", "cancel": "jobcancel"}
JOB_VERBS = {name: verb for verb, name in JOB_BUTTONS.items()}
"""The button (logs or cancel) of a :data:`JOB_BUTTON` id's ``verb``."""


def job_button_id(verb: str, job_id: str) -> str:
    """``mib:joblogs:<job id>`` or ``mib:jobcancel:<job id>`` (``verb``: logs or cancel)."""
    return f"mib:{JOB_BUTTONS[verb]}:{job_id}"


_REPO_URL = r"/(?P<repo>(?:datasets/|spaces/)?[\w.-]+/[\w.-]+)"
_NOT_REPOS = ("jobs/", "api/", "settings/", "organizations/", "papers/", "docs/")


def written_repos(lines: Iterable[str], endpoint: str) -> list[str]:
    """Links to the Hub repos ``lines`` name under ``endpoint`` (a push prints them), in order."""
    pattern = re.compile(re.escape(endpoint.rstrip("/")) + _REPO_URL)
    found: dict[str, None] = {}
    for line in lines:
        for match in pattern.finditer(line):
            repo = match["repo"].rstrip(".")
            if not repo.startswith(_NOT_REPOS):
                found[f"{endpoint.rstrip('/')}/{repo}"] = None
    return list(found)


@dataclass(frozen=True)
class JobRecord:
    """What the index keeps of a job: where it was started, by whom, and the Hub's snapshot."""

    job_id: str
    session_key: str
    namespace: str
    requester: str
    job: dict[str, Any]
    line: str

    @property
    def info(self) -> JobInfo:
        return JobInfo(**self.job)

    @property
    def flavor(self) -> str:
        return self.job.get("flavor") or "cpu-basic"

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes) -> JobRecord:
        return cls(**json.loads(raw))


class JobRoom:
    """Job cards, the job index, and the Logs and Cancel buttons, for one runner."""

    def __init__(
        self,
        store: SessionStore,
        surfaces: dict[str, SurfaceFactory],
        controls: TeamControls,
        *,
        hub: HfApi | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.store = store
        self.redis = store.redis
        self.surfaces = surfaces  # the runner's dict: front ends add their factories later
        self.controls = controls
        self.hub = hub
        self.clock = clock
        self._drawn: dict[str, tuple[float, str]] = {}  # job id -> (when, text) last drawn here

    # ── a job's status, from its watch ───────────────────────────────────

    async def show(self, key: str, event: ev.JobStatus) -> None:
        """Draw ``event`` in the thread of ``key``: the job's card, and its summary at the end."""
        surface = self.surfaces[platform_of(key)](key, {})
        if not event.job:  # a watch that lost track of its job: a line of text
            await self._line(key, event, surface, clean(event.text))
            if event.final:
                await self._ended(event.key.removeprefix("job:"))
            return
        record = await self._index(key, event)
        card = self.card(record, event.logs)
        now = self.clock()
        text = "\n".join(card_lines(card, budget=surface.max_chars, clock=lambda: now))
        if self._unchanged(card, text):
            return
        if isinstance(surface, JobCards):
            ref = await self.store.line_ref(key, event.key)
            ref = await call_surface(surface, surface.post_job_card, ref, card, now)
            await self.store.set_line_ref(key, event.key, ref)
            await self._keep_watching(key, event)
        else:
            await self._line(key, event, surface, text)
        if event.final:
            await self._summary(surface, card, event.logs, now)
            await self._ended(card.job_id)

    def card(self, record: JobRecord, logs: Sequence[str] = ()) -> JobCard:
        """The card of an indexed job with these log lines, cleaned for chat."""
        info = record.info
        metrics = parse_metrics(logs)
        card = card_from_job(
            info,
            log_tail=[clean(line) for line in logs],
            repos=written_repos(logs, info.endpoint),
            latest=metrics.latest(),
            prices=self.controls.costs,
            clock=self.clock,
        )
        message = clean(card.message) if card.message else None
        return dataclasses.replace(card, message=message, metrics=metrics or None)

    def _unchanged(self, card: JobCard, text: str) -> bool:
        """Whether to leave a running job's card as it is: drawn here with this text, or
        drawn less than :data:`MIN_REDRAW_SECONDS` ago at the same stage."""
        drawn_at, drawn = self._drawn.get(card.job_id, (0.0, ""))
        now = time.monotonic()
        if drawn and not card.finished:
            same_stage = text.splitlines()[0] == drawn.splitlines()[0]
            if text == drawn or (same_stage and now - drawn_at < MIN_REDRAW_SECONDS):
                return True
        self._drawn[card.job_id] = (now, text)
        return False

    async def _line(self, key: str, event: ev.JobStatus, surface: Any, text: str) -> None:
        ref = await self.store.line_ref(key, event.key)
        ref = await call_surface(surface, surface.post_line, ref, text)
        await self.store.set_line_ref(key, event.key, ref)
        await self._keep_watching(key, event)

    async def _keep_watching(self, key: str, event: ev.JobStatus) -> None:
        if event.resume:
            await self.store.keep_background(key, event.key, event.resume)
        else:
            await self.store.end_background(key, event.key)

    async def _summary(self, surface: Any, card: JobCard, logs: list[str], now: datetime) -> None:
        """The job's outcome in a message of its own, then the chart of its metrics, if any
        (a PNG, unless the card charts them natively)."""
        await call_surface(
            surface,
            surface.post_notice,
            summary_text(card, budget=surface.max_chars, clock=lambda: now),
        )
        metrics = parse_metrics(logs)
        if not metrics or not isinstance(surface, Attachments):
            return
        if isinstance(surface, MetricCharts) and surface.charted:
            return  # the card shows them already
        png, names = await asyncio.to_thread(chart_png, metrics, f"Job {card.job_id}")
        title = f"📈 Job {card.job_id}: {', '.join(names)} by {metrics.x_name}"
        await call_surface(
            surface, surface.attach_file, f"job-{card.job_id}-metrics.png", png, title
        )

    # ── the index ────────────────────────────────────────────────────────

    async def _index(self, key: str, event: ev.JobStatus) -> JobRecord:
        """Store the job's snapshot; the first time, who started it and where."""
        job_id = event.job["id"]
        known = await self.record(job_id)
        requester = known.requester if known else (await self.store.meta(key)).get("requester", "")
        record = JobRecord(job_id, key, event.namespace, requester, event.job, event.key)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(redis_keys.job(job_id), record.to_json(), ex=self.store.ttl)
            if not event.final:
                pipe.sadd(redis_keys.RUNNING_JOBS, job_id)
            if known is None or known.job["status"] != event.job["status"]:
                pipe.incr(redis_keys.CHANGES)
            await pipe.execute()
        return record

    async def _ended(self, job_id: str) -> None:
        self._drawn.pop(job_id, None)
        if await self.redis.srem(redis_keys.RUNNING_JOBS, job_id):
            await self.redis.incr(redis_keys.CHANGES)

    async def record(self, job_id: str) -> JobRecord | None:
        raw = await self.redis.get(redis_keys.job(job_id))
        return JobRecord.from_json(raw) if raw else None

    async def running(self) -> list[JobRecord]:
        """The jobs being watched, oldest first; ids whose record is gone are dropped."""
        records = []
        for job_id in sorted(
            m.decode() for m in await self.redis.smembers(redis_keys.RUNNING_JOBS)
        ):
            record = await self.record(job_id)
            if record is None:
                await self.redis.srem(redis_keys.RUNNING_JOBS, job_id)
            else:
                records.append(record)
        return sorted(records, key=lambda r: r.job.get("createdAt") or "")

    # ── the buttons ──────────────────────────────────────────────────────

    async def logs(self, job_id: str, lines: int = LOG_LINES) -> str:
        """Post the job's last ``lines`` log lines in its thread (a file when long); what to tell."""
        record = await self.record(job_id)
        if record is None:
            return JOB_UNKNOWN
        if self.hub is None:
            return NO_HUB
        try:
            tail = await call_hub(job_logs, self.hub, job_id, record.namespace, lines)
        except ToolError as exc:
            return logs_failed(job_id, str(exc))
        if not tail:
            return nothing_logged(job_id)
        text = clean("\n".join(tail))
        surface = self.surfaces[platform_of(record.session_key)](record.session_key, {})
        header = logs_header(job_id, len(tail))
        if len(text) > INLINE_LOG_CHARS and isinstance(surface, Attachments):
            await call_surface(
                surface, surface.attach_file, f"job-{job_id}-logs.txt", text.encode(), header
            )
        else:
            block = text[-INLINE_LOG_CHARS:].replace("```", "'''")
            await call_surface(surface, surface.post_notice, f"{header}\n```\n{block}\n```")
        return logs_posted(job_id)

    def may_cancel(self, actor: Actor, record: JobRecord) -> bool:
        """The person who started a job may cancel it; others as the rule for
        ``hf_jobs:cancel`` lets them decide."""
        rule = self.controls.rules.rule_for("hf_jobs", self._cancel_args(record))
        return actor.user_id == record.requester or rule.allows(actor, record.requester)

    async def cancel(self, job_id: str, actor: Actor) -> tuple[bool, str]:
        """Cancel a job if ``actor`` may (audited either way): whether it was asked, and what to tell."""
        record = await self.record(job_id)
        if record is None:
            return False, JOB_UNKNOWN
        allowed = self.may_cancel(actor, record)
        await self._audit(record, actor, "canceled" if allowed else "cancel_refused")
        if not allowed:
            rule = self.controls.rules.rule_for("hf_jobs", self._cancel_args(record))
            others = None if rule.approvers == "requester" else rule.describe(record.requester)
            return False, cancel_refused(record.requester, others)
        if self.hub is None:
            return False, NO_HUB
        try:
            await call_hub(self.hub.cancel_job, job_id=job_id, namespace=record.namespace)
        except ToolError as exc:
            return False, cancel_failed(job_id, str(exc))
        said = cancel_requested(job_id, actor.name or actor.user_id)
        surface = self.surfaces[platform_of(record.session_key)](record.session_key, {})
        await call_surface(surface, surface.post_notice, said)
        return True, said

    @staticmethod
    def _cancel_args(record: JobRecord) -> dict[str, Any]:
        return {"operation": CANCEL, "job_id": record.job_id, "hardware_flavor": record.flavor}

    async def _audit(self, record: JobRecord, actor: Actor, outcome: str) -> None:
        args = self._cancel_args(record)
        entry = AuditEntry(
            session_key=record.session_key,
            approval_id="",
            tool_call_id=record.job_id,
            tool="hf_jobs",
            operation=CANCEL,
            args_digest=args_digest(args),
            outcome=outcome,
            decided_by=actor.user_id,
            at=time.time(),
        )
        await self.controls.audit.append(entry)


def chart_png(metrics: Any, title: str) -> tuple[bytes, list[str]]:
    """The metrics chart as PNG bytes (its axes named in the PNG's description), and the
    metrics it plots."""
    figure = build_figure(metrics, title)
    axes = "; ".join(f"{y} by {x}" for x, y in axis_labels(figure))
    return figure_png(figure, description=axes), plotted(metrics)[0]
