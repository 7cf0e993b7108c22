"""Slack's agent sessions: a thread's lifecycle under Slack's own Stop button.

Where a workspace has them (``agents.sessions.setStatus``), a turn's thread is
``processing`` (titled from its question) while the turn runs, ``suspended`` while it
waits for an approval, ``active`` once answered and ``closed`` after ``new`` or once the
bot's session expired (:mod:`bot.turns.expiry`). While it is
``processing`` Slack draws its own Stop button, whose click arrives as the event
``agent_session_stopped``. Where Slack answers that the method is unknown or not
allowed, the workspace keeps the bot's own Stop button and thread status, and
:class:`AgentSessions` remembers that for the workspace; a transient error does not.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

PROCESSING, SUSPENDED, ACTIVE, CLOSED = "processing", "suspended", "active", "closed"
"""An agent session's statuses (Slack never changes them by itself)."""
NEVER = frozenset({"unknown_method", "not_allowed"})
"""Errors that mean the workspace has no agent sessions for this app."""
TITLE_CHARS = 80


def title_of(question: str) -> str:
    """A thread title from a question: its first line, cut to fit."""
    line = next((ln.strip() for ln in question.splitlines() if ln.strip()), "")
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1] + "…"


class AgentSessions:
    """Which workspaces have refused agent sessions (learnt from each one's first refusal)."""

    def __init__(self) -> None:
        self._refused: set[str] = set()

    def available(self, team: str) -> bool:
        return team not in self._refused

    def refused(self, team: str, error: str) -> bool:
        """Slack answered ``error`` in workspace ``team``: True, and remembered, when it
        means never."""
        if error not in NEVER:
            logger.info("agents.sessions.setStatus failed (%s): tried again next time", error)
            return False
        if team not in self._refused:
            logger.warning(
                "workspace %s has no agent sessions (%s): the bot's own Stop button and "
                "thread status stand in",
                team,
                error,
            )
        self._refused.add(team)
        return True
