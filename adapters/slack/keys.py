"""Slack session keys, built here only: ``slack:<team>:<channel>:<thread ts>``.

One thread is one session; a message outside a thread starts one on itself (its own
``ts`` becomes the thread).
"""

from __future__ import annotations

from typing import Any

from bot.session_key import SessionKey

PLATFORM = "slack"


def session_key(team: str, event: dict[str, Any]) -> str:
    """The session of a Slack message event (``channel``, ``ts``, maybe ``thread_ts``)."""
    thread = event.get("thread_ts") or event["ts"]
    return SessionKey(PLATFORM, team, event["channel"], thread).encode()
