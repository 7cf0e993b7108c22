"""Secrets and mass mentions out of everything the bot posts or logs.

:func:`redact` replaces token-shaped strings and the values registered with
:func:`register_secret` (the bot's own tokens, read at start); :func:`neutralise`
defuses ``@everyone``-style pings; :func:`clean` does both, for chat text.
"""

from __future__ import annotations

import re

REDACTED = "[redacted]"
MIN_SECRET_CHARS = 8

_TOKENS = re.compile(
    "|".join(
        (
            r"\bhf_[A-Za-z0-9]{30,}",  # Hugging Face
            r"\bxox[abcdeoprs]-[A-Za-z0-9-]{10,}",  # Slack bot/user tokens
            r"\bxapp-[A-Za-z0-9-]{10,}",  # Slack app-level tokens
            r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}",  # OpenAI, Anthropic
            r"\bgh[pousr]_[A-Za-z0-9]{30,}",  # GitHub
            r"\bgithub_pat_[A-Za-z0-9_]{30,}",
            r"\bAKIA[0-9A-Z]{16}\b",  # AWS access key id
            r"\bAIza[0-9A-Za-z_-]{35}",  # Google API key
            r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}",  # JWT
            r"\b[MNO][A-Za-z\d_-]{23,27}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,40}",  # Discord bot
        )
    )
)
# A secret after a telling prefix: keep the prefix, hide the value.
_LABELLED = re.compile(
    r"(?i)(\bbearer\s+|(?:api[_-]?key|access[_-]?token|auth[_-]?token|secret|password)"
    r"[\"']?\s*[=:]\s*[\"']?)([^\s\"']{8,})"
)
_URL_PASSWORD = re.compile(r"(://[^:/\s@]*:)[^\s@/]+(?=@)")
_MASS_MENTIONS = re.compile(r"@(everyone|here|channel)\b")
_SLACK_SPECIALS = re.compile(r"<!(channel|here|everyone|subteam\^[^>|]+)(?:\|[^>]*)?>")

_known: set[str] = set()


def register_secret(*values: str | None) -> None:
    """Redact these exact values wherever they appear (short values are ignored)."""
    _known.update(v for v in values if v and len(v) >= MIN_SECRET_CHARS)


def redact(text: str) -> str:
    """``text`` with every known secret and token-shaped string replaced by ``[redacted]``."""
    for secret in sorted(_known, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _TOKENS.sub(REDACTED, text)
    text = _URL_PASSWORD.sub(lambda m: m.group(1) + REDACTED, text)
    return _LABELLED.sub(lambda m: m.group(1) + REDACTED, text)


def neutralise(text: str) -> str:
    """Defuse pings of a whole channel: ``@everyone``/``@here``/``@channel`` and Slack's ``<!…>``.

    A zero-width space after the ``@`` keeps the word readable and inert. User and
    role mentions are left to the adapters (Discord ``allowed_mentions``).
    """
    text = _SLACK_SPECIALS.sub(lambda m: "@\u200b" + m.group(1).split("^")[0], text)
    return _MASS_MENTIONS.sub("@\u200b\\1", text)


def clean(text: str) -> str:
    """What may be posted to chat: redacted and without mass mentions."""
    return neutralise(redact(text))
