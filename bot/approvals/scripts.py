"""Scripts too long for one text input: split at line ends, joined back exactly."""

from __future__ import annotations


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
