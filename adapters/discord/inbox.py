"""``/pending`` and ``/jobs``: the approvals inbox and the job control room, for one person.

Both answer ephemerally with what :class:`bot.turns.inbox.Inbox` finds in the
threads of this server the person can see (and their DM with the bot): the calls
waiting for their decision, with Approve, Reject and Open thread; the running
jobs, with Logs, Cancel (when the rules let them) and Open thread. The buttons
are the persistent ones of the thread's cards (:mod:`adapters.discord.buttons`),
so a click decides exactly as it does there. A job card's Logs and Cancel land
in :meth:`InboxCommands.on_job_click`.
"""

from __future__ import annotations

import logging
from typing import Any

import discord

from adapters.discord.approvals import actor_of
from adapters.discord.buttons import ApprovalButton, JobButton
from adapters.discord.errors import failure
from adapters.discord.keys import Place, encode_key, parse_key
from adapters.discord.rooms import MESSAGE_CHARS, thread_url
from bot.approvals.card import VERB_LABELS
from bot.output.redact import clean
from bot.output.views import clip
from bot.session_key import SessionKey
from bot.turns.inbox import NO_JOBS, NOTHING_WAITING, Inbox, RunningJob, WaitingCall
from bot.turns.runner import TurnRunner

logger = logging.getLogger(__name__)

MAX_SHOWN = 5
"""One row of buttons each: Discord allows five rows."""


def _open(n: int, key: str) -> discord.ui.Button:
    return discord.ui.Button(label=f"Open thread #{n}", url=thread_url(parse_key(key)), row=n - 1)


def pending_reply(waiting: list[WaitingCall], now: float) -> dict[str, Any]:
    """``/pending``'s answer: a numbered line per call, a row of buttons each."""
    if not waiting:
        return {"content": NOTHING_WAITING}
    view = discord.ui.View(timeout=None)
    lines = [f"**Waiting for you ({len(waiting)})**"]
    for n, call in enumerate(waiting[:MAX_SHOWN], 1):
        note = f"\n   {call.note}" if call.note else ""
        lines.append(f"{n}. {call.summary(now)}{note}")
        for verb in ("approve", "reject"):
            view.add_item(
                ApprovalButton(
                    verb,
                    call.record.approval_id,
                    call.n,
                    label=f"{VERB_LABELS[verb]} #{n}",
                    row=n - 1,
                )
            )
        view.add_item(_open(n, call.session_key))
    if len(waiting) > MAX_SHOWN:
        lines.append(f"…and {len(waiting) - MAX_SHOWN} more, oldest first.")
    return {"content": clip(clean("\n".join(lines)), MESSAGE_CHARS), "view": view}


def jobs_reply(jobs: list[RunningJob], now: Any) -> dict[str, Any]:
    """``/jobs``' answer: a numbered line per job, Logs, Cancel (if allowed) and Open thread."""
    if not jobs:
        return {"content": NO_JOBS}
    view = discord.ui.View(timeout=None)
    lines = [f"**Running jobs ({len(jobs)})**"]
    for n, job in enumerate(jobs[:MAX_SHOWN], 1):
        lines.append(f"{n}. {job.summary(now)}")
        job_id = job.record.job_id
        view.add_item(JobButton("logs", job_id, label=f"Logs #{n}", row=n - 1))
        if job.may_cancel:
            view.add_item(JobButton("cancel", job_id, label=f"Cancel #{n}", row=n - 1))
        view.add_item(_open(n, job.session_key))
    if len(jobs) > MAX_SHOWN:
        lines.append(f"…and {len(jobs) - MAX_SHOWN} more.")
    return {"content": clip(clean("\n".join(lines)), MESSAGE_CHARS), "view": view}


class InboxCommands:
    """The handlers of ``/pending``, ``/jobs`` and the job buttons."""

    def __init__(self, runner: TurnRunner) -> None:
        self.runner = runner
        self.inbox = Inbox(runner)

    async def visible(self, interaction: discord.Interaction) -> Any:
        """Which session keys the person can see: threads of this server whose channel they
        may view (when the cache knows it), and their DM with the bot."""
        dm = await interaction.user.create_dm()
        own_dm = encode_key(Place(None, dm.id, dm.id))
        guild = interaction.guild

        def visible(key: str) -> bool:
            if key == own_dm:
                return True
            parsed = SessionKey.parse(key)
            if parsed.platform != "discord" or parsed.team != str(interaction.guild_id):
                return False
            channel = guild.get_channel_or_thread(int(parsed.channel)) if guild else None
            member = interaction.user
            if channel is None or not isinstance(member, discord.Member):
                return True
            return channel.permissions_for(member).view_channel

        return visible

    async def pending(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send(ephemeral=True, **await self._pending_reply(interaction))

    async def redraw_pending(self, interaction: discord.Interaction) -> None:
        """After a click on ``/pending``'s answer: the answer again, without what was decided."""
        try:
            await interaction.edit_original_response(
                **{"view": None, **await self._pending_reply(interaction)}
            )
        except discord.HTTPException as exc:  # e.g. the interaction token lapsed (15 min)
            logger.info("could not redraw /pending for %s: %s", interaction.user.id, failure(exc))

    async def _pending_reply(self, interaction: discord.Interaction) -> dict[str, Any]:
        actor = actor_of(interaction.user)
        waiting = await self.inbox.waiting_for(actor, await self.visible(interaction))
        return pending_reply(waiting, self.runner.jobs.clock().timestamp())

    async def jobs(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        actor = actor_of(interaction.user)
        jobs = await self.inbox.jobs_for(actor, await self.visible(interaction))
        await interaction.followup.send(
            ephemeral=True, **jobs_reply(jobs, self.runner.jobs.clock())
        )

    async def on_job_click(self, interaction: discord.Interaction, verb: str, job_id: str) -> None:
        """Logs posts the last lines in the job's thread; Cancel is decided under the rules.
        The person who clicked is told what happened, privately."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        if verb == "logs":
            reply = await self.runner.jobs.logs(job_id)
        else:
            _, reply = await self.runner.jobs.cancel(job_id, actor_of(interaction.user))
        try:
            await interaction.followup.send(reply, ephemeral=True)
        except discord.HTTPException as exc:
            logger.info("could not tell %s %r: %s", interaction.user.id, reply, failure(exc))
