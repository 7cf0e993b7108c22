"""Approvals left waiting: announced to approvers, reminded once, then expired.

A :class:`Sweeper` runs in every process (:meth:`Sweeper.run`), each pass going
over the open approvals (:meth:`bot.store.approvals.ApprovalStore.open_approvals`):

* a new one is announced by direct message to the approvers the rules name,
  where the platform can (:class:`~bot.platform.DirectMessages`; Discord's
  opt-in ``DISCORD_DM_APPROVERS``);
* one open for ``APPROVAL_REMIND_AFTER`` pings its approvers in its thread, once;
* one open for ``APPROVAL_EXPIRE_AFTER`` expires: its card says so, the audit
  trail records it, and the paused turn resumes with a tool result saying the
  call expired, so the session is free again.

Each of these is claimed in Redis (a ``SET NX`` for announcements and reminders,
the approval's own status change for expiry), so with several processes each
happens once. Time comes from an injected clock, which tests fake.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import RedisError

from bot.approvals.audit import AuditEntry
from bot.approvals.flow import ApprovalFlow
from bot.clock import Clock, human_duration, utc_now
from bot.output.messages import (
    ANYONE_HERE,
    approval_dm,
    expired_feedback,
    reminder,
)
from bot.output.redact import clean
from bot.platform import DirectMessages, Pings, call_surface
from bot.session_key import platform_of
from bot.store import redis_keys
from bot.store.approvals import ApprovalRecord

logger = logging.getLogger(__name__)

REMIND_AFTER = 3600.0
EXPIRE_AFTER = 86_400.0
SWEEP_SECONDS = 15.0
"""How often each process looks for approvals to announce, remind or expire."""
EXPIRER = "expiry"
"""``decided_by`` of an expiry in the audit trail."""


@dataclass
class Swept:
    """What one pass did (in this process)."""

    announced: list[str] = field(default_factory=list)
    reminded: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)


class Sweeper:
    """Announces, reminds and expires the approvals of one approval flow's store."""

    def __init__(
        self,
        flow: ApprovalFlow,
        *,
        remind_after: float = REMIND_AFTER,
        expire_after: float = EXPIRE_AFTER,
        clock: Clock = utc_now,
        interval: float = SWEEP_SECONDS,
    ) -> None:
        self.flow = flow
        self.store = flow.store
        self.redis = flow.store.redis
        self.remind_after = remind_after
        self.expire_after = expire_after
        self.clock = clock
        self.interval = interval

    async def run(self) -> None:
        """Sweep every ``interval`` seconds until cancelled; a failed pass is logged and retried."""
        while True:
            try:
                await self.sweep()
            except (RedisError, OSError) as exc:
                logger.warning("approval sweep failed (%s); retrying", exc)
            except Exception:
                logger.exception("approval sweep failed")
            await asyncio.sleep(self.interval)

    async def sweep(self) -> Swept:
        """One pass over the open approvals."""
        swept = Swept()
        now = self.clock().timestamp()
        for record, opened_at in await self.store.open_approvals():
            age = now - opened_at
            approval_id = record.approval_id
            if age >= self.expire_after:
                if await self.expire(record, age):
                    swept.expired.append(approval_id)
                continue
            if age >= self.remind_after and await self._claim(redis_keys.reminded(approval_id)):
                await self._remind(record, age)
                swept.reminded.append(approval_id)
            elif await self._announce(record):
                swept.announced.append(approval_id)
        return swept

    async def _claim(self, key: str) -> bool:
        return bool(await self.redis.set(key, 1, nx=True, ex=self.store.ttl))

    # ── who decides ──────────────────────────────────────────────────────

    def approvers(self, record: ApprovalRecord) -> tuple[list[str], bool]:
        """The ids the rules name for the undecided calls (less those who voted), and
        whether anyone in the channel may decide one of them."""
        who: dict[str, None] = {}
        anyone = False
        for tool in record.tools:
            call_id = tool["tool_call_id"]
            if call_id in record.decisions:
                continue
            rule = self.flow.controls.rule(tool)
            voted = set(record.votes.get(call_id, []))
            if rule.approvers == "requester":
                who[record.requester] = None
            elif rule.approvers == "any_channel_member":
                anyone = True
            elif isinstance(rule.approvers, frozenset):
                who.update((a, None) for a in sorted(rule.approvers - voted))
        return list(who), anyone

    @staticmethod
    def _tools(record: ApprovalRecord) -> str:
        undecided = record.undecided()
        names = [t["tool"] for t in record.tools if t["tool_call_id"] in undecided]
        return ", ".join(f"`{name}`" for name in names)

    def _surface(self, record: ApprovalRecord) -> Any:
        factory = self.flow.surfaces.get(platform_of(record.session_key))
        return factory(record.session_key, {}) if factory else None

    # ── announce, remind, expire ─────────────────────────────────────────

    async def _announce(self, record: ApprovalRecord) -> bool:
        """DM the approvers named by id (not the requester) once, where the platform can."""
        surface = self._surface(record)
        if not isinstance(surface, DirectMessages):
            return False
        if not await self._claim(redis_keys.announced(record.approval_id)):
            return False
        who, _ = self.approvers(record)
        text = clean(approval_dm(self._tools(record), record.requester))
        for user in who:
            if user == record.requester or user.startswith(("role:", "S")):
                continue  # the requester is in the thread; groups and roles are not DMed
            try:
                await call_surface(surface, surface.direct_message, user, text)
            except Exception:  # one closed DM must not keep the others from being sent
                logger.warning("could not DM %s about approval %s", user, record.approval_id)
        return True

    async def _remind(self, record: ApprovalRecord, age: float) -> None:
        """Ping the approvers in the thread (posted once: the caller claimed it)."""
        surface = self._surface(record)
        if surface is None:
            return
        who, anyone = self.approvers(record)
        text = clean(reminder(self._tools(record), human_duration(age)))
        if anyone:
            text += f" ({ANYONE_HERE})"
        if isinstance(surface, Pings):
            await call_surface(surface, surface.post_ping, text, who)
        else:
            await call_surface(surface, surface.post_notice, text)

    async def expire(self, record: ApprovalRecord, age: float) -> bool:
        """Close the approval as expired (once, whoever sweeps), say so, free the session."""
        approval_id = record.approval_id
        if not await self.store.close_approval(approval_id, "expired"):
            return False
        await self.redis.zrem(redis_keys.PENDING, approval_id)
        feedback = expired_feedback(human_duration(age))
        decision = {"approved": False, "by": EXPIRER, "by_name": EXPIRER, "feedback": feedback}
        for tool in record.tools:
            if tool["tool_call_id"] not in record.decisions:
                entry = AuditEntry.of_decision(record.session_key, approval_id, tool, decision)
                await self.flow.controls.audit.append(
                    dataclasses.replace(entry, outcome="expired", at=self.clock().timestamp())
                )
        await self.flow.refresh_card(approval_id)
        decisions = [
            {"tool_call_id": t["tool_call_id"], "approved": False, "expired": True, **decision}
            for t in record.tools
        ]
        await self.flow.submit(
            record.session_key,
            {"kind": "resume", "approval_id": approval_id, "decisions": decisions},
        )
        return True
