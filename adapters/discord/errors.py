"""What a failed Discord REST call said, read whatever body came back.

discord.py raises :class:`discord.HTTPException` with Discord's code and message when the
body was JSON, and the body itself as ``text`` when it was not (a proxy's HTML page), so
a handler that logs or shows ``exc.text`` would carry a page of HTML. :func:`failure`
names the call (method and path) and its HTTP status, and keeps Discord's own message only.
"""

from __future__ import annotations

import discord


def reason(exc: discord.HTTPException) -> str:
    """Discord's message when it gave one (``Missing Permissions``), else ``HTTP 503``."""
    return exc.text.splitlines()[0] if exc.code and exc.text else f"HTTP {exc.status}"


def failure(exc: discord.HTTPException) -> str:
    """``POST /channels/1/messages/2/threads answered HTTP 503 (no Discord error in the
    body)``: the call and what it got, for the log."""
    response = exc.response
    method = getattr(response, "method", "")
    url = getattr(response, "url", None)
    path = getattr(url, "path", "").removeprefix("/api/v10") if url is not None else ""
    call = f"{method} {path}".strip() or "a Discord call"
    said = f"{exc.code} {reason(exc)}" if exc.code else "no Discord error in the body"
    return f"{call} answered HTTP {exc.status} ({said})"
