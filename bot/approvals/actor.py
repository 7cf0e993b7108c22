"""The person clicking an approval button, as the adapters resolve them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    """A person clicking: their user id and the groups they belong to.

    ``groups`` holds Slack user-group ids and Discord roles as ``role:<id>``,
    as resolved by the adapter.
    """

    user_id: str
    groups: frozenset[str] = field(default_factory=frozenset)
    name: str = ""
