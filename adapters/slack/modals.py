"""The Reject (reason) and Edit script modals, and what their submissions carry.

A ``plain_text_input`` holds at most 3000 characters, so a longer script is
split across several inputs at line ends and joined back exactly: the
separators removed at the cuts travel in ``private_metadata``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from adapters.slack.cards import context, plain
from bot.approvals.scripts import join_script, split_script

INPUT_CHARS = 3000
MAX_SCRIPT_INPUTS = 24
"""A modal holds at most 100 blocks; past this many inputs editing in Slack is no help."""
REJECT_CALLBACK = "mib:reject"
EDIT_CALLBACK = "mib:edit"


class ScriptTooLong(Exception):
    """The script needs more inputs than one modal should hold."""


@dataclass(frozen=True)
class ModalTarget:
    """What a submitted modal decides: the approval and the call's index (None for all)."""

    approval_id: str
    n: int | None
    joins: tuple[str, ...] = ()


def _metadata(target: ModalTarget) -> str:
    return json.dumps({"approval_id": target.approval_id, "n": target.n, "joins": target.joins})


def target_of(view: dict[str, Any]) -> ModalTarget:
    data = json.loads(view["private_metadata"])
    return ModalTarget(data["approval_id"], data["n"], tuple(data.get("joins", ())))


def _text_input(block_id: str, label: str, initial: str, *, optional: bool) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": "text",
        "multiline": True,
        "max_length": INPUT_CHARS,
    }
    if initial:
        element["initial_value"] = initial
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain(label),
        "element": element,
        "optional": optional,
    }


def reject_modal(approval_id: str, n: int | None, what: str) -> dict[str, Any]:
    """Asks an optional reason; ``what`` names the call(s) being rejected."""
    return {
        "type": "modal",
        "callback_id": REJECT_CALLBACK,
        "private_metadata": _metadata(ModalTarget(approval_id, n)),
        "title": plain("Reject"),
        "submit": plain("Reject"),
        "close": plain("Cancel"),
        "blocks": [
            context(f"Rejecting {what}. The reason goes to the agent."),
            _text_input("reason", "Reason (optional)", "", optional=True),
        ],
    }


def edit_modal(approval_id: str, n: int, tool: str, script: str) -> dict[str, Any]:
    """The script in as many inputs as it needs; submitting approves the edited call."""
    parts, joins = split_script(script, INPUT_CHARS)
    if len(parts) > MAX_SCRIPT_INPUTS:
        raise ScriptTooLong(f"{len(script):,} characters")
    inputs = [
        _text_input(
            f"script_{i}",
            "Script" if len(parts) == 1 else f"Script, part {i + 1} of {len(parts)}",
            part,
            optional=True,
        )
        for i, part in enumerate(parts)
    ]
    note = f"`{tool}` runs with this script when you submit."
    if len(parts) > 1:
        note += " The script is long, so it is split into parts; they are joined back as they are."
    return {
        "type": "modal",
        "callback_id": EDIT_CALLBACK,
        "private_metadata": _metadata(ModalTarget(approval_id, n, tuple(joins))),
        "title": plain("Edit script"),
        "submit": plain("Approve & run"),
        "close": plain("Cancel"),
        "blocks": [context(note), *inputs],
    }


def _value(view: dict[str, Any], block_id: str) -> str:
    return view["state"]["values"][block_id]["text"].get("value") or ""


def submitted_reason(view: dict[str, Any]) -> str | None:
    return _value(view, "reason").strip() or None


def submitted_script(view: dict[str, Any]) -> str:
    joins = target_of(view).joins
    return join_script([_value(view, f"script_{i}") for i in range(len(joins) + 1)], joins)
