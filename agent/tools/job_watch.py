"""Live progress of an HF Job: poll it and send its status to the conversation.

Each poll sends a :class:`~agent.events.JobStatus` with the job as the Hub
describes it and its last log lines (front ends draw a job card from them, or
show the one-line ``text``); the last one, when the job ended, carries up to
:data:`FINAL_LOG_LINES` lines so its training metrics can be charted.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from huggingface_hub import HfApi, JobInfo

from agent.events import JobStatus
from agent.tools.hub_errors import call_hub
from agent.tools.registry import Notify, ToolError

logger = logging.getLogger(__name__)

TERMINAL_STAGES = frozenset({"COMPLETED", "CANCELED", "ERROR", "DELETED"})
STAGES = {
    "SCHEDULING": ("⏳", "queued"),
    "RUNNING": ("🏃", "running"),
    "COMPLETED": ("✅", "completed"),
    "ERROR": ("❌", "failed"),
    "CANCELED": ("🛑", "canceled"),
    "DELETED": ("🗑", "deleted"),
}
STATUS_LOG_LINES = 2
CARD_LOG_LINES = 40
"""Log lines read on each poll: the card's tail and its latest metric values."""
FINAL_LOG_LINES = 5000
"""Log lines read once the job ended, for the chart of its metrics."""
MAX_LOG_LINE = 160
MAX_WATCH_FAILURES = 5
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|\x1b\].*?\x07")


def job_logs(api: HfApi, job_id: str, namespace: str, tail: int) -> list[str]:
    """The last ``tail`` log lines of a job, without colour codes (blocking)."""
    lines = api.fetch_job_logs(job_id=job_id, namespace=namespace, tail=tail)
    return [_ANSI.sub("", line).rstrip() for line in lines][-tail:]


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if moment else None


def job_json(job: JobInfo) -> dict[str, Any]:
    """The facts of ``job`` a card shows, as the Hub's JSON (``JobInfo(**job_json(job))``)."""
    durations = job.durations
    return {
        "id": job.id,
        "createdAt": _iso(job.created_at),
        "startedAt": _iso(job.started_at),
        "finishedAt": _iso(job.finished_at),
        "flavor": job.flavor,
        "labels": job.labels,
        "status": {"stage": stage_of(job), "message": job.status.message},
        "durations": {"totalSecs": durations.total_secs} if durations else None,
        "owner": {"id": job.owner.id, "name": job.owner.name, "type": job.owner.type},
        "endpoint": job.endpoint,
    }


def stage_of(job: JobInfo) -> str:
    return str(getattr(job.status.stage, "value", job.status.stage))


def duration_of(job: JobInfo) -> str:
    """Elapsed time since creation (until the end when finished), as ``h:mm:ss`` or ``m:ss``."""
    seconds = job.durations.total_secs if job.durations else None
    if seconds is None and job.created_at is not None:
        end = job.finished_at or datetime.now(UTC)
        seconds = (end - job.created_at).total_seconds()
    if seconds is None:
        return "?"
    minutes, secs = divmod(int(max(seconds, 0)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def status_line(job: JobInfo, log_tail: list[str]) -> str:
    """One line: stage, hardware, duration, last log lines, job page."""
    stage = stage_of(job)
    icon, word = STAGES.get(stage, ("•", stage.lower()))
    if stage == "ERROR" and job.status.message:
        word = f"{word}: {job.status.message.splitlines()[0][:MAX_LOG_LINE]}"
    parts = [f"{icon} Job {job.id} {word} ({job.flavor or 'cpu-basic'}) · {duration_of(job)}"]
    lines = [line[:MAX_LOG_LINE] for line in log_tail if line.strip()][-STATUS_LOG_LINES:]
    if lines:
        parts.append("last: " + " ⏎ ".join(lines))
    parts.append(job.url)
    return " · ".join(parts)


async def watch_job(
    api: HfApi,
    job_id: str,
    namespace: str,
    notify: Notify,
    *,
    interval: float,
    redact: Callable[[str], str] = str,
) -> None:
    """Poll ``job_id`` every ``interval`` s and notify its status until a terminal stage."""
    try:
        await _poll_until_final(api, job_id, namespace, notify, interval, redact)
    except Exception:  # a background watcher must never die silently
        logger.exception("watching job %s failed", job_id)


async def _poll_until_final(
    api: HfApi,
    job_id: str,
    namespace: str,
    notify: Notify,
    interval: float,
    redact: Callable[[str], str],
) -> None:
    key = f"job:{job_id}"
    failures = 0
    while True:
        try:
            job = await call_hub(api.inspect_job, job_id=job_id, namespace=namespace)
            stage = stage_of(job)
            tail: list[str] = []
            if stage != "SCHEDULING":
                lines = FINAL_LOG_LINES if stage in TERMINAL_STAGES else CARD_LOG_LINES
                tail = await call_hub(job_logs, api, job_id, namespace, lines)
        except ToolError as exc:
            failures += 1
            if failures >= MAX_WATCH_FAILURES:
                text = f"⚠ Lost track of job {job_id}: {exc} Check it with hf_jobs inspect."
                await notify(JobStatus(key=key, text=redact(text), final=True))
                return
            await asyncio.sleep(interval)
            continue
        failures = 0
        final = stage in TERMINAL_STAGES
        resume = {} if final else {"tool": "hf_jobs", "job_id": job_id, "namespace": namespace}
        await notify(
            JobStatus(
                key=key,
                text=redact(status_line(job, tail)),
                final=final,
                resume=resume,
                job=job_json(job),
                namespace=namespace,
                logs=[redact(line) for line in tail],
            )
        )
        if final:
            return
        await asyncio.sleep(interval)
