"""The audit trail: every approval decision appended to a Redis stream, read back by time.

One entry per decided tool call: what it was (tool, operation, a digest of its
arguments, the script diff when a person edited it), who decided, when, where
and the outcome. ``ml-intern-bot audit`` prints them.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from bot.session_key import SessionKey
from bot.store.redis_keys import AUDIT as AUDIT_STREAM

MAX_ENTRIES = 1_000_000
"""The stream is trimmed (approximately) past this many entries."""
Outcome = str
"""approved, approved_edited, rejected, auto_approved, abandoned."""


def args_digest(args: dict[str, Any]) -> str:
    """A short, stable fingerprint of a call's arguments (canonical JSON, SHA-256)."""
    canonical = json.dumps(args, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def script_diff(original: str, edited: str) -> str:
    return "".join(
        difflib.unified_diff(
            original.splitlines(keepends=True),
            edited.splitlines(keepends=True),
            "proposed",
            "edited",
        )
    )


@dataclass(frozen=True)
class AuditEntry:
    session_key: str
    approval_id: str
    tool_call_id: str
    tool: str
    operation: str
    args_digest: str
    outcome: Outcome
    decided_by: str
    at: float
    script_diff: str = ""
    feedback: str = ""
    cost_usd: float = 0.0
    approvers: list[str] = field(default_factory=list)
    """Everyone whose approval counted, for calls that needed several."""
    id: str = ""
    """The stream entry id, filled in when read back."""

    @property
    def platform(self) -> str:
        return SessionKey.parse(self.session_key).platform

    @classmethod
    def of_decision(
        cls,
        session_key: str,
        approval_id: str,
        tool: dict[str, Any],
        decision: dict[str, Any],
        cost_usd: float = 0.0,
        approvers: list[str] | None = None,
    ) -> AuditEntry:
        """An entry for ``decision`` (the runner's dict) on ``tool`` (``{tool, arguments, tool_call_id}``)."""
        args = tool["arguments"]
        edited = decision.get("edited_script")
        original = args.get("script") if isinstance(args.get("script"), str) else ""
        if decision.get("auto"):
            outcome = "auto_approved"
        elif decision.get("approved"):
            outcome = "approved_edited" if edited else "approved"
        else:
            outcome = "rejected"
        return cls(
            session_key=session_key,
            approval_id=approval_id,
            tool_call_id=tool["tool_call_id"],
            tool=tool["tool"],
            operation=str(args.get("operation", "")),
            args_digest=args_digest(args),
            outcome=outcome,
            decided_by=decision.get("by", ""),
            at=decision.get("at", time.time()),
            script_diff=script_diff(original, edited) if edited else "",
            feedback=decision.get("feedback") or "",
            cost_usd=cost_usd,
            approvers=list(approvers or []),
        )


class AuditLog:
    def __init__(self, redis: Redis, stream: str = AUDIT_STREAM) -> None:
        self.redis = redis
        self.stream = stream

    async def append(self, entry: AuditEntry) -> str:
        """Store ``entry``; returns its stream id (which the approval card shows)."""
        fields = {k: json.dumps(v) for k, v in asdict(entry).items() if k != "id"}
        entry_id = await self.redis.xadd(self.stream, fields, maxlen=MAX_ENTRIES, approximate=True)
        return entry_id.decode() if isinstance(entry_id, bytes) else entry_id

    async def read(
        self,
        *,
        thread: str | None = None,
        since: float | None = None,
        approval: str | None = None,
        limit: int = 10_000,
    ) -> list[AuditEntry]:
        """Entries oldest first, from ``since`` (epoch seconds), of one session key or approval."""
        start = f"{int(since * 1000)}-0" if since else "-"
        entries = []
        for entry_id, fields in await self.redis.xrange(self.stream, min=start, count=limit):
            data = {k.decode(): json.loads(v) for k, v in fields.items()}
            entry = AuditEntry(**data, id=entry_id.decode())
            if thread not in (None, entry.session_key) or approval not in (None, entry.approval_id):
                continue
            entries.append(entry)
        return entries


def parse_since(text: str, now: float | None = None) -> float:
    """``--since``: epoch seconds, an ISO date/time (UTC unless it says), or an age: 30m, 2h, 7d."""
    now = time.time() if now is None else now
    text = text.strip()
    if match := re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", text):
        return now - float(match[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"--since {text!r}: give 2h, 7d, 2026-11-25, 2026-11-25T09:00 or epoch seconds"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def format_table(entries: list[AuditEntry]) -> str:
    """One line per entry, for people."""
    if not entries:
        return "no audit entries"
    lines = []
    for e in entries:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(e.at))
        what = f"{e.tool}:{e.operation}" if e.operation else e.tool
        cost = f" ~${e.cost_usd:.2f}" if e.cost_usd else ""
        lines.append(
            f"{when}Z  {e.outcome:<15} {what:<28} by {e.decided_by or '-':<12} "
            f"{e.session_key}  args {e.args_digest}{cost}  [{e.id}]"
        )
    return "\n".join(lines)


def format_json_lines(entries: list[AuditEntry]) -> str:
    return "\n".join(json.dumps(asdict(e), ensure_ascii=False) for e in entries)
