"""The Reject (reason) and Edit script modals, and what their submissions carry.

A ``plain_text_input`` holds at most 3000 characters, so a longer script is
split across several inputs at line ends and joined back exactly: the
separators removed at the cuts travel in ``private_metadata``. The Edit script
modal also takes the script as an uploaded file (a ``file_input``): its content,
text within :data:`bot.approvals.scripts.UPLOAD_BYTES`, is what runs. A script too long for the
inputs can still be replaced by a file.
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
FILE_BLOCK = "script_file"
SCRIPT_FILETYPES = ["py", "sh", "txt", "text", "toml", "yaml", "yml", "json", "cfg", "ini"]


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
    """The script in as many inputs as it needs, and a file input that replaces it;
    submitting approves the edited call. A script too long for the inputs (more than
    :data:`MAX_SCRIPT_INPUTS`) can only be replaced by a file."""
    parts, joins = split_script(script, INPUT_CHARS)
    note = f"`{tool}` runs with this script when you submit."
    if len(parts) > MAX_SCRIPT_INPUTS:
        parts, joins = [], []
        note = (
            f"`{tool}`'s script ({len(script):,} characters) is too long to edit here: "
            "upload the edited script as a file; it runs when you submit."
        )
    elif len(parts) > 1:
        note += " The script is long, so it is split into parts; they are joined back as they are."
    inputs = [
        _text_input(
            f"script_{i}",
            "Script" if len(parts) == 1 else f"Script, part {i + 1} of {len(parts)}",
            part,
            optional=True,
        )
        for i, part in enumerate(parts)
    ]
    return {
        "type": "modal",
        "callback_id": EDIT_CALLBACK,
        "private_metadata": _metadata(ModalTarget(approval_id, n, tuple(joins))),
        "title": plain("Edit script"),
        "submit": plain("Approve & run"),
        "close": plain("Cancel"),
        "blocks": [context(note), *inputs, _file_input(required=not inputs)],
    }


def _file_input(*, required: bool) -> dict[str, Any]:
    label = "Script file" if required else "…or upload the script as a file (it replaces the text)"
    return {
        "type": "input",
        "block_id": FILE_BLOCK,
        "label": plain(label),
        "element": {
            "type": "file_input",
            "action_id": "file",
            "filetypes": SCRIPT_FILETYPES,
            "max_files": 1,
        },
        "optional": not required,
    }


def _value(view: dict[str, Any], block_id: str) -> str:
    return view["state"]["values"][block_id]["text"].get("value") or ""


def submitted_reason(view: dict[str, Any]) -> str | None:
    return _value(view, "reason").strip() or None


def submitted_script(view: dict[str, Any]) -> str:
    joins = target_of(view).joins
    return join_script([_value(view, f"script_{i}") for i in range(len(joins) + 1)], joins)


def submitted_file(view: dict[str, Any]) -> dict[str, Any] | None:
    """The script file uploaded in the Edit script modal (Slack's file object), if any."""
    state = view["state"]["values"].get(FILE_BLOCK, {}).get("file") or {}
    files = state.get("files") or []
    return files[0] if files else None
