"""The approvals inbox and the job control room, as one person sees them across threads.

:class:`Inbox` reads the indexes the runner keeps in Redis (open approvals in
``mib:pending``, running jobs in ``mib:running_jobs``, budgets in ``mib:budgets``)
and answers, for one person and the threads they can see: the tool calls waiting
for *their* decision under the team's rules (:meth:`Inbox.waiting_for`), the
jobs running (:meth:`Inbox.jobs_for`, with whether they may cancel each) and the
auto-approve budgets per channel (:meth:`Inbox.budgets_for`). Adapters draw the
result (Slack's App Home, Discord's ``/pending`` and ``/jobs``); the wording of
each entry lives here so both say it alike. ``mib:changes`` is bumped whenever
any of it changes, so a view can be redrawn only when needed (:meth:`Inbox.version`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bot.approvals.actor import Actor
from bot.approvals.budget import Budget
from bot.approvals.card import approval_note
from bot.clock import human_duration
from bot.jobs.card import JobCard, headline, time_and_cost
from bot.jobs.room import JobRecord
from bot.output.views import clip
from bot.store import redis_keys
from bot.store.approvals import ApprovalRecord

if TYPE_CHECKING:
    from bot.turns.runner import TurnRunner

Visible = Callable[[str], bool]
"""Whether the person can see the thread of a session key."""
KEY_ARGS = ("operation", "hardware_flavor", "flavor", "repo_id", "timeout")
ARG_CHARS = 60
NOTHING_WAITING = "Nothing is waiting for your decision."
NO_JOBS = "No jobs are running in threads you can see."
NO_BUDGETS = "No auto-approve budget is set in channels you can see."


def _as_is(text: str) -> str:
    return text


@dataclass(frozen=True)
class WaitingCall:
    """One tool call of an open approval that the person may decide now."""

    record: ApprovalRecord
    n: int
    opened_at: float

    @property
    def tool(self) -> dict:
        return self.record.tools[self.n]

    @property
    def session_key(self) -> str:
        return self.record.session_key

    def summary(self, now: float, escape: Callable[[str], str] = _as_is) -> str:
        """```hf_jobs`` · operation ``run`` · … — asked by <@U1> · waiting 2 h 05 min``."""
        args = self.tool["arguments"]
        facts = [f"`{escape(self.tool['tool'])}`"]
        facts += [
            f"{key} `{escape(clip(str(args[key]), ARG_CHARS).replace('`', chr(39)))}`"
            for key in KEY_ARGS
            if key in args
        ]
        waited = human_duration(max(now - self.opened_at, 0))
        return f"{' · '.join(facts)} — asked by <@{self.record.requester}> · waiting {waited}"

    @property
    def note(self) -> str:
        """Who decides, how many approvals so far ("1 of 2 approvals"), the estimated cost."""
        return approval_note(self.tool, self.record.votes.get(self.tool["tool_call_id"]))


@dataclass(frozen=True)
class RunningJob:
    """A job running in a thread the person can see."""

    record: JobRecord
    card: JobCard
    may_cancel: bool

    @property
    def session_key(self) -> str:
        return self.record.session_key

    def summary(self, now: datetime) -> str:
        """``🏃 Job 68a1 running · a10g-small — ⏱ 12 min · 💰 ~$0.20 so far ($1.00/h) · started by <@U1>``."""
        who = f" · started by <@{self.record.requester}>" if self.record.requester else ""
        return f"{headline(self.card)} — {time_and_cost(self.card, lambda: now)}{who}"


@dataclass(frozen=True)
class ChannelBudget:
    """The auto-approve budgets of a channel's threads, summed."""

    channel: str
    """``<platform>:<team>:<channel>``."""
    threads: int
    cap: float
    spent: float

    @property
    def channel_id(self) -> str:
        return self.channel.rsplit(":", 1)[1]

    @property
    def line(self) -> str:
        threads = f"{self.threads} thread{'s' if self.threads > 1 else ''}"
        where = "a DM" if ":dm:" in self.channel or self.channel_id.startswith("D") else None
        return (
            f"{where or f'<#{self.channel_id}>'}: ${self.spent:.2f} of ${self.cap:.2f} spent "
            f"({threads})"
        )


def add_budgets(budgets: dict[str, Budget], visible: Visible) -> list[ChannelBudget]:
    """Thread budgets summed per channel, for the channels ``visible`` lets through."""
    channels: dict[str, ChannelBudget] = {}
    for key, budget in sorted(budgets.items()):
        if not visible(key):
            continue
        channel = redis_keys.channel_of(key)
        seen = channels.get(channel, ChannelBudget(channel, 0, 0.0, 0.0))
        channels[channel] = ChannelBudget(
            channel, seen.threads + 1, seen.cap + budget.cap, seen.spent + budget.spent
        )
    return list(channels.values())


class Inbox:
    """What waits for people and what runs, across the threads of one runner's store."""

    def __init__(self, runner: TurnRunner) -> None:
        self.runner = runner
        self.store = runner.store
        self.redis = runner.store.redis

    async def version(self) -> int:
        """A number that grows whenever an approval, a job or a budget shown here changes."""
        return int(await self.redis.get(redis_keys.CHANGES) or 0)

    async def waiting_for(self, actor: Actor, visible: Visible) -> list[WaitingCall]:
        """The undecided calls ``actor`` may decide (and has not approved yet), in threads they see."""
        waiting = []
        for record, opened_at in await self.store.open_approvals():
            if not visible(record.session_key):
                continue
            for n, tool in enumerate(record.tools):
                call_id = tool["tool_call_id"]
                if call_id in record.decisions or actor.user_id in record.votes.get(call_id, []):
                    continue
                if self.runner.controls.may_decide(actor, record, [call_id]):
                    waiting.append(WaitingCall(record, n, opened_at))
        return waiting

    async def jobs_for(self, actor: Actor, visible: Visible) -> list[RunningJob]:
        """The jobs running in threads ``actor`` sees, and whether they may cancel each."""
        room = self.runner.jobs
        return [
            RunningJob(record, room.card(record), room.may_cancel(actor, record))
            for record in await room.running()
            if visible(record.session_key)
        ]

    async def budgets_for(self, visible: Visible) -> list[ChannelBudget]:
        """The auto-approve budgets of the channels ``visible`` lets through, per channel."""
        return add_budgets(await self.runner.controls.budgets.all(), visible)
