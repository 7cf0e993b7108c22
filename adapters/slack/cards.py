"""Block Kit payloads: streamed answers with a Stop button, tool lines, approval cards."""

from __future__ import annotations

import json
import time
from typing import Any

from adapters.slack.mrkdwn import escape, to_mrkdwn
from bot.approvals.clicks import (
    KEY_ARGS,
    VERB_LABELS,
    approval_note,
    audit_hint,
    call_verbs,
)
from bot.approvals.controls import decision_summary
from bot.output.textsplit import split_text

SECTION_CHARS = 3000
"""Slack's limit for a section block's text (and a context element's)."""
TEXT_CHARS = 40_000
"""Slack's limit for a message's top-level text."""
STOP_ACTION = "mib:stop"
PREVIEW_LINES = 25
OTHER_ARGS_CHARS = 400
NOTE_CHARS = 500


def action_id(verb: str, approval_id: str, n: int | str) -> str:
    """``mib:<verb>:<approval id>:<n>``; ``n`` is the tool call's index or ``all``."""
    return f"mib:{verb}:{approval_id}:{n}"


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def section(mrkdwn: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn[:SECTION_CHARS]}}


def context(mrkdwn: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn[:SECTION_CHARS]}]}


def button(label: str, action: str, value: str = "", style: str | None = None) -> dict[str, Any]:
    element = {"type": "button", "text": plain(label), "action_id": action, "value": value}
    return {**element, "style": style} if style else element


def actions(*elements: dict[str, Any]) -> dict[str, Any]:
    return {"type": "actions", "elements": list(elements)}


# ── answers, lines, notices ──────────────────────────────────────────────


def answer(markdown: str, stop_key: str | None = None) -> dict[str, Any]:
    """An answer (or a piece of it) as sections; a Stop button for ``stop_key`` while it streams."""
    body = to_mrkdwn(markdown).strip() or "…"
    blocks = [section(part) for part in split_text(body, SECTION_CHARS)]
    if stop_key:
        blocks.append(actions(button("⏹ Stop", STOP_ACTION, stop_key)))
    return {"text": body[:TEXT_CHARS], "blocks": blocks}


def line(markdown: str) -> dict[str, Any]:
    """One compact context line (a tool call and its state)."""
    body = to_mrkdwn(markdown)
    return {"text": body[:TEXT_CHARS], "blocks": [context(body)]}


def notice(markdown: str) -> dict[str, Any]:
    return {"text": to_mrkdwn(markdown)[:TEXT_CHARS]}


# ── approval cards ───────────────────────────────────────────────────────


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _script_preview(script: str, budget: int) -> str:
    """The first lines of a script as a code block of at most ``budget`` characters."""
    lines = script.splitlines()
    shown: list[str] = []
    used = len("```\n\n```")
    for text in lines[:PREVIEW_LINES]:
        text = escape(text.replace("```", "'''"))
        if used + len(text) + 1 > budget - 60:  # room for the "more lines" note
            break
        shown.append(text)
        used += len(text) + 1
    more = len(lines) - len(shown)
    note = f"\n_(+{more} more lines: *Edit script* shows all of it)_" if more > 0 else ""
    return "```\n" + "\n".join(shown) + "\n```" + note


def describe_call(n: int, tool: dict[str, Any]) -> str:
    """The section of one call: name, key arguments, the others, a script preview."""
    args = dict(tool["arguments"])
    script = args.pop("script", None)
    facts = [f"*{n + 1}. `{escape(tool['tool'])}`*"]
    facts += [f"{key}: `{escape(str(args.pop(key)))}`" for key in KEY_ARGS if key in args]
    text = "  ·  ".join(facts)
    if args:
        other = json.dumps(args, ensure_ascii=False)
        text += f"\n`{escape(_clip(other, OTHER_ARGS_CHARS))}`"
    if isinstance(script, str):
        text += "\n" + _script_preview(script, SECTION_CHARS - len(text) - 1)
    return text


def _when(at: float) -> str:
    fallback = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))
    return f"<!date^{int(at)}^{{date_short_pretty}} {{time}}|{fallback}>"


def decision_line(decision: dict[str, Any]) -> str:
    """Who decided what, and when."""
    text = f"{decision_summary(decision)} · {_when(decision.get('at', time.time()))}"
    if decision.get("feedback"):
        text += f"\n> {escape(_clip(decision['feedback'], NOTE_CHARS))}"
    return text


BUTTON_STYLES = {"approve": "primary", "reject": "danger", "extend": "primary"}


def _call_buttons(approval_id: str, n: int, tool: dict[str, Any]) -> dict[str, Any]:
    return actions(
        *(
            button(
                VERB_LABELS[verb], action_id(verb, approval_id, n), style=BUTTON_STYLES.get(verb)
            )
            for verb in call_verbs(tool)
        )
    )


def approval_card(
    approval_id: str,
    tools: list[dict[str, Any]],
    decisions: dict[str, dict[str, Any]] | None = None,
    status: str = "open",
    votes: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """One message for an approval: a section per call, its buttons until it is decided."""
    decisions = decisions or {}
    votes = votes or {}
    count = len(tools)
    title = f"⏸️ *Approval needed* for {count} tool call{'s' if count > 1 else ''}"
    blocks = [section(title)]
    for n, tool in enumerate(tools):
        blocks.append(section(describe_call(n, tool)))
        decision = decisions.get(tool["tool_call_id"])
        if decision:
            blocks.append(context(decision_line(decision)))
        elif status == "open":
            if note := approval_note(tool, votes.get(tool["tool_call_id"])):
                blocks.append(context(note))
            blocks.append(_call_buttons(approval_id, n, tool))
    if status == "open" and count - len(decisions) > 1:
        blocks.append(
            actions(
                button("Approve all", action_id("approve", approval_id, "all"), style="primary"),
                button("Reject all", action_id("reject", approval_id, "all"), style="danger"),
            )
        )
    if status == "abandoned":
        blocks.append(context("⏭️ No longer pending: a newer message in the thread came first."))
    if decisions:
        blocks.append(context(audit_hint(approval_id)))
    names = ", ".join(t["tool"] for t in tools)
    return {"text": f"Approval needed: {names}", "blocks": blocks}
