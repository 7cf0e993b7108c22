"""What a job card says, the same for every platform.

A :class:`JobCard` is a snapshot of one HF Job: its stage (the Hub's names,
see :data:`agent.tools.job_watch.STAGES`), hardware, price, times, last log
lines and the repos it wrote. The functions here turn it into the lines Slack
and Discord both show: plain text, bare URLs and one fenced code block, the
common ground of both markdowns. Nothing is redacted here: the caller sends
the text through :func:`bot.output.redact.clean` as it does everything it posts.

Every function that needs the time takes a ``clock`` (default: the real UTC
clock), so tests can pass a fake one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from huggingface_hub import JobInfo

from agent.tools.hardware import CostEstimator
from agent.tools.job_watch import MAX_LOG_LINE, STAGES, TERMINAL_STAGES, stage_of
from bot.clock import Clock, human_duration, utc_now
from bot.jobs.logmetrics import Metrics

CARD_LOG_LINES = 8
SUMMARY_LOG_LINES = 5
SUMMARY_FAILED_LOG_LINES = 15
"""A failed job's summary shows more of its log: the error is in it."""
MAX_REPOS_SHOWN = 5
MAX_METRICS_SHOWN = 6
FENCE = "```"
ELLIPSIS = "…"
DEFAULT_FLAVOR = "cpu-basic"


@dataclass(frozen=True)
class JobCard:
    """A snapshot of one job, as its card shows it."""

    job_id: str
    url: str
    flavor: str
    status: str
    """The Hub's stage: SCHEDULING, RUNNING, COMPLETED, ERROR, CANCELED or DELETED."""
    hourly_usd: float
    started_at: datetime | None = None
    """When it started running (None while queued)."""
    ended_at: datetime | None = None
    """When it ended (None while it runs)."""
    log_tail: tuple[str, ...] = ()
    """Its last log lines, oldest first."""
    repos: tuple[str, ...] = ()
    """Links to the repos it wrote."""
    message: str | None = None
    """The Hub's status message, e.g. why it failed."""
    latest: tuple[tuple[str, float], ...] = ()
    """The last value of each training metric read from its log."""
    metrics: Metrics | None = None
    """The metric series read from its log, for a platform that charts them in the card."""

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STAGES

    @property
    def emoji(self) -> str:
        return STAGES.get(self.status, ("•", ""))[0]

    @property
    def word(self) -> str:
        """'queued', 'running', 'completed', 'failed', 'canceled', ...; the stage in lower case else."""
        return STAGES.get(self.status, ("", self.status.lower()))[1]


def card_from_job(
    job: JobInfo,
    *,
    log_tail: Iterable[str] = (),
    repos: Iterable[str] = (),
    latest: Mapping[str, float] | None = None,
    prices: CostEstimator | None = None,
    clock: Clock = utc_now,
) -> JobCard:
    """The card of ``job`` as :meth:`HfApi.inspect_job` returned it.

    The price is :meth:`agent.tools.hardware.CostEstimator.hourly` for its flavor. When the
    Hub gives no start time, a job past its queue counts from its creation; when
    it gives no end time, a finished job ends after ``durations.total_secs`` or,
    without those, now: the cost shown errs on the high side.
    """
    stage = stage_of(job)
    flavor = job.flavor or DEFAULT_FLAVOR
    started = job.started_at or (job.created_at if stage != "SCHEDULING" else None)
    ended = job.finished_at
    if ended is None and stage in TERMINAL_STAGES:
        total = job.durations.total_secs if job.durations else None
        if total is not None and job.created_at is not None:
            ended = job.created_at + timedelta(seconds=total)
        else:
            ended = clock()
    return JobCard(
        job_id=job.id,
        url=job.url,
        flavor=flavor,
        status=stage,
        hourly_usd=(prices or CostEstimator()).hourly(flavor),
        started_at=started,
        ended_at=ended,
        log_tail=tuple(log_tail),
        repos=tuple(repos),
        message=job.status.message,
        latest=tuple((latest or {}).items()),
    )


# ── time and money ───────────────────────────────────────────────────────


def elapsed(card: JobCard, clock: Clock = utc_now) -> timedelta:
    """Time it has run: from its start to its end, or to now while it runs; 0 while queued."""
    if card.started_at is None:
        return timedelta(0)
    end = card.ended_at if card.ended_at is not None else clock()
    span = _aware(end) - _aware(card.started_at)
    return max(span, timedelta(0))


def cost_so_far(card: JobCard, clock: Clock = utc_now) -> float:
    """Estimated USD spent: the hourly price times the hours it has run."""
    return card.hourly_usd * elapsed(card, clock).total_seconds() / 3600


def format_usd(amount: float) -> str:
    """``$0.00``, ``<$0.01``, ``$1.55``, ``$1,234.50``."""
    if amount <= 0:
        return "$0.00"
    if amount < 0.01:
        return "<$0.01"
    return f"${amount:,.2f}"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# ── text ─────────────────────────────────────────────────────────────────


def headline(card: JobCard) -> str:
    """``🏃 Job 68a1 running · a10g-small``; a failure adds the Hub's reason."""
    text = f"{card.emoji} Job {card.job_id} {card.word}"
    if card.status == "ERROR" and card.message:
        text += f": {clip(card.message.splitlines()[0], MAX_LOG_LINE)}"
    return f"{text} · {card.flavor}"


def time_and_cost(card: JobCard, clock: Clock = utc_now) -> str:
    """``⏱ 1 h 02 min · 💰 ~$1.55 so far ($1.50/h)``, worded for the job's stage."""
    price = f"{format_usd(card.hourly_usd)}/h"
    if card.started_at is None:
        return f"⏱ waiting for hardware · 💰 {price}"
    took = human_duration(elapsed(card, clock))
    cost = format_usd(cost_so_far(card, clock))
    if card.finished:
        return f"⏱ ran {took} · 💰 ~{cost} ({price})"
    return f"⏱ {took} · 💰 ~{cost} so far ({price})"


def metrics_line(card: JobCard) -> str | None:
    """``📈 loss 0.9 · acc 0.91`` from the last metric values; None without any."""
    if not card.latest:
        return None
    shown = [f"{name} {value:.4g}" for name, value in card.latest[:MAX_METRICS_SHOWN]]
    more = len(card.latest) - len(shown)
    return "📈 " + " · ".join(shown) + (f" · +{more} more" if more > 0 else "")


def repo_lines(card: JobCard) -> list[str]:
    """``Wrote: <url>`` lines, at most :data:`MAX_REPOS_SHOWN`."""
    if not card.repos:
        return []
    lines = [f"📦 Wrote {url}" for url in card.repos[:MAX_REPOS_SHOWN]]
    if len(card.repos) > MAX_REPOS_SHOWN:
        lines.append(f"📦 … and {len(card.repos) - MAX_REPOS_SHOWN} more repos")
    return lines


def card_lines(
    card: JobCard, *, budget: int, clock: Clock = utc_now, log_lines: int = CARD_LOG_LINES
) -> list[str]:
    """The live card: headline, time and cost, metrics, page, repos, then the log tail.

    ``"\\n".join`` of the result is at most ``budget`` characters: the log tail
    loses its oldest lines first, then the other lines are cut from the end.
    """
    head = [
        headline(card),
        time_and_cost(card, clock),
        metrics_line(card),
        card.url,
        *repo_lines(card),
    ]
    return fit([line for line in head if line], card.log_tail[-log_lines:], budget)


def summary_text(
    card: JobCard, *, budget: int, clock: Clock = utc_now, log_lines: int | None = None
) -> str:
    """The message that closes a job: outcome, duration and cost, metrics, repos, page, log tail.

    At most ``budget`` characters. By default the tail is :data:`SUMMARY_LOG_LINES`
    lines, :data:`SUMMARY_FAILED_LOG_LINES` when the job failed.
    """
    if log_lines is None:
        log_lines = SUMMARY_FAILED_LOG_LINES if card.status == "ERROR" else SUMMARY_LOG_LINES
    took = human_duration(elapsed(card, clock))
    cost = format_usd(cost_so_far(card, clock))
    if card.started_at is None:
        span = "never started"
    elif card.finished:
        span = f"after {took} · 💰 ~{cost}"
    else:
        span = f"for {took} so far · 💰 ~{cost}"
    head = [
        f"{headline(card)} · {span}",
        metrics_line(card),
        *repo_lines(card),
        f"Page: {card.url}",
    ]
    tail = card.log_tail[-log_lines:] if log_lines > 0 else ()
    return "\n".join(fit([line for line in head if line], tail, budget))


def fit(head: list[str], log_tail: Iterable[str], budget: int) -> list[str]:
    """``head`` then the newest ``log_tail`` lines that fit in a code block, within ``budget``.

    Log lines are cut to :data:`~agent.tools.job_watch.MAX_LOG_LINE` characters
    and a fence inside one is defused; the block is left out when not one line fits.
    """
    if budget < 1:
        raise ValueError("budget must be at least 1 character")
    lines: list[str] = []
    used = -1  # no newline before the first line
    for line in head:
        room = budget - used - 1
        if room <= 0:
            return lines
        if len(line) > room:
            lines.append(clip(line, room))
            return lines
        lines.append(line)
        used += 1 + len(line)
    logs = [clip(_defuse(line.rstrip()), MAX_LOG_LINE) for line in log_tail if line.strip()]
    # "\n```\n" + lines joined by "\n" + "\n```" (used is -1 without a head: no first "\n")
    room = budget - used - 1 - (len(FENCE) + 1) * 2
    kept: list[str] = []
    for line in reversed(logs):
        cost = len(line) + (1 if kept else 0)
        if cost > room:
            if not kept and room >= len(ELLIPSIS) + 1:
                kept.append(clip(line, room))
            break
        kept.append(line)
        room -= cost
    if kept:
        lines += [FENCE, *reversed(kept), FENCE]
    return lines


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending with … when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - len(ELLIPSIS), 0)] + ELLIPSIS[: max(limit, 0)]


def _defuse(line: str) -> str:
    """A log line that cannot close the code block it is shown in."""
    return line.replace(FENCE, "'''")
