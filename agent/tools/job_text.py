"""How jobs are written for people and the model: one-line labels, schedules, times."""

from __future__ import annotations

from datetime import datetime
from typing import Any

MAX_COMMAND_SHOWN = 200
MAX_LABEL = 80


def describe_scheduled(job: Any, one_line: bool = False) -> str:
    spec = job.job_spec
    state = "suspended" if job.suspend else "active"
    next_run = when(job.status.next_job_run_at if job.status else None)
    command = shorten(" ".join(spec.command or []))
    if one_line:
        label = (spec.labels or {}).get("name") or shorten(command, MAX_LABEL)
        return f"{job.id}  {job.schedule}  {state}  {spec.flavor}  next: {next_run}  {label}"
    rows = {
        "id": job.id,
        "schedule": job.schedule,
        "state": state,
        "hardware": spec.flavor,
        "image": spec.docker_image or spec.space_id,
        "command": command,
        "next run": next_run,
    }
    return "\n".join(f"{key}: {value}" for key, value in rows.items() if value)


def job_label(job: Any) -> str:
    """A job's name label, else its command, shortened."""
    name = (job.labels or {}).get("name")
    return name or shorten(" ".join(job.command or []), MAX_LABEL)


def when(moment: datetime | None) -> str | None:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else None


def shorten(text: str, limit: int = MAX_COMMAND_SHOWN) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
