"""Scripts in the edit modals: too long for one text input, split at line ends and joined
back exactly; or uploaded as a file, taken when it is text and not too large."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

UPLOAD_BYTES = 512 * 1024
"""The largest script file the edit modals take."""


class NotAScript(ValueError):
    """An uploaded file that can't be a script; the message says why, for the uploader."""


async def uploaded_script(name: str, size: int, read: Callable[[], Awaitable[bytes]]) -> str:
    """The text of a script uploaded as file ``name`` of ``size`` bytes (``read`` fetches
    it, only when it is within :data:`UPLOAD_BYTES`); :class:`NotAScript` when it is too
    large, not UTF-8 text, or empty."""
    if size > UPLOAD_BYTES:
        raise NotAScript(
            f"`{name}` is {size // 1024} KB: a script file may be up to {UPLOAD_BYTES // 1024} KB."
        )
    data = await read()
    if len(data) > UPLOAD_BYTES:
        raise NotAScript(f"`{name}` is over {UPLOAD_BYTES // 1024} KB.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = "\0"
    if "\0" in text:
        raise NotAScript(
            f"`{name}` is not a text file: upload the script as UTF-8 text (a .py or .sh file)."
        )
    if not text.strip():
        raise NotAScript(f"`{name}` is empty.")
    return text


def script_digest(script: str) -> str:
    """A short fingerprint of a script (``sha256:`` and 12 hex digits), shown on the card."""
    return "sha256:" + hashlib.sha256(script.encode()).hexdigest()[:12]


def split_script(script: str, limit: int) -> tuple[list[str], list[str]]:
    """Pieces of at most ``limit`` characters, and the separators between them.

    Cuts fall on the last line end that fits (the newline becomes the separator)
    or, inside a longer line, at the limit (an empty separator), so
    ``join_script(*split_script(s, n)) == s`` for every ``s``.
    """
    parts: list[str] = []
    joins: list[str] = []
    rest = script
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit + 1)
        if cut > 0:
            parts.append(rest[:cut])
            joins.append("\n")
            rest = rest[cut + 1 :]
        else:
            parts.append(rest[:limit])
            joins.append("")
            rest = rest[limit:]
    parts.append(rest)
    return parts, joins


def join_script(parts: list[str], joins: list[str] | tuple[str, ...]) -> str:
    if len(joins) != len(parts) - 1:
        raise ValueError(f"{len(parts)} script parts but {len(joins)} separators")
    return parts[0] + "".join(sep + part for sep, part in zip(joins, parts[1:], strict=True))
