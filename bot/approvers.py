"""Who may decide an approval."""

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


def may_decide(actor: Actor, requester: str, approvers: frozenset[str]) -> bool:
    """``APPROVERS`` lists ids and groups; when it is empty only the requester decides."""
    if not approvers:
        return actor.user_id == requester
    return actor.user_id in approvers or bool(actor.groups & approvers)
