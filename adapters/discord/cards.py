"""What the bot's messages carry besides text: the Stop button, and approval cards.

An approval card is one message: a line saying what waits, an embed per tool
call (tool, key arguments, a script preview, then who decided what) and the
buttons; a decided call's buttons are disabled, and all of them once the
approval is closed. Embeds share Discord's 6000-character budget per message.
"""

from __future__ import annotations

import json
from typing import Any

import discord

from adapters.discord.buttons import ApprovalButton, StopButton
from bot.approvals.clicks import (
    KEY_ARGS,
    VERB_LABELS,
    approval_note,
    audit_hint,
    call_verbs,
    has_script,
)
from bot.approvals.controls import decision_summary

MESSAGE_CHARS = 6000
"""Discord's limit for all the embeds of a message together."""
EMBED_DESCRIPTION = 4096
MAX_EMBEDS = 10
MAX_BUTTONS = 25
ROWS = 5
ARG_CHARS = 80
OTHER_ARGS_CHARS = 400
NOTE_CHARS = 300
COLOURS = {
    "open": discord.Colour.orange(),
    "approved": discord.Colour.green(),
    "rejected": discord.Colour.red(),
    "closed": discord.Colour.light_grey(),
}


def stop_view() -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(StopButton())
    return view


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def script_preview(script: str, budget: int) -> str:
    """As many first lines of ``script`` as fit ``budget``, in a code block, and what is left."""
    lines = script.replace("```", "'''").splitlines()
    shown: list[str] = []
    used = len("```py\n\n```") + 60  # room for the note
    for line in lines:
        if used + len(line) + 1 > budget:
            break
        shown.append(line)
        used += len(line) + 1
    if not shown:
        return f"*(a script of {len(lines)} lines: **Edit script** shows it)*"
    more = len(lines) - len(shown)
    note = f"\n*(+{more} more lines: **Edit script** shows all of it)*" if more else ""
    return "```py\n" + "\n".join(shown) + "\n```" + note


def decision_line(decision: dict[str, Any]) -> str:
    """Who decided what, and when (Discord shows the time in each reader's zone)."""
    text = decision_summary(decision)
    if decision.get("at"):
        text += f" · <t:{int(decision['at'])}:R>"
    if decision.get("feedback"):
        text += "\n> " + _clip(decision["feedback"], NOTE_CHARS).replace("\n", "\n> ")
    return text


def _colour(decision: dict[str, Any] | None, status: str) -> discord.Colour:
    if decision:
        return COLOURS["approved" if decision.get("approved") else "rejected"]
    return COLOURS["open" if status == "open" else "closed"]


def call_embed(
    n: int,
    tool: dict[str, Any],
    decision: dict[str, Any] | None,
    status: str,
    votes: list[str] | None = None,
) -> discord.Embed:
    """The embed of one call, without its script preview (added when the budget is known)."""
    args = dict(tool["arguments"])
    args.pop("script", None)
    embed = discord.Embed(
        title=_clip(f"{n + 1}. {tool['tool']}", 256), colour=_colour(decision, status)
    )
    for key in KEY_ARGS:
        if key in args:
            embed.add_field(name=key, value=f"`{_clip(str(args.pop(key)), ARG_CHARS)}`")
    if args:
        other = json.dumps(args, ensure_ascii=False).replace("`", "'")
        embed.description = f"`{_clip(other, OTHER_ARGS_CHARS)}`"
    if decision:
        embed.add_field(name="Decision", value=decision_line(decision), inline=False)
    elif status == "open" and (note := approval_note(tool, votes)):
        embed.add_field(name="Approval", value=_clip(note, 1024), inline=False)
    return embed


def _embeds(
    tools: list[dict[str, Any]],
    decisions: dict[str, dict[str, Any]],
    status: str,
    votes: dict[str, list[str]],
) -> list[discord.Embed]:
    shown = tools if len(tools) <= MAX_EMBEDS else tools[: MAX_EMBEDS - 1]
    embeds = [
        call_embed(n, t, decisions.get(t["tool_call_id"]), status, votes.get(t["tool_call_id"]))
        for n, t in enumerate(shown)
    ]
    if len(shown) < len(tools):
        rest = ", ".join(t["tool"] for t in tools[len(shown) :])
        embeds.append(
            discord.Embed(
                title=f"…and {len(tools) - len(shown)} more", description=_clip(rest, 1000)
            )
        )
    scripts = [
        (e, t["arguments"]["script"]) for e, t in zip(embeds, shown, strict=False) if has_script(t)
    ]
    if scripts:
        share = (MESSAGE_CHARS - 200 - sum(len(e) for e in embeds)) // len(scripts)
        for embed, script in scripts:
            description = embed.description or ""
            budget = min(share, EMBED_DESCRIPTION - len(description) - 1)
            embed.description = (description + "\n" + script_preview(script, budget)).strip()
    return embeds


def _view(
    approval_id: str,
    tools: list[dict[str, Any]],
    decisions: dict[str, dict[str, Any]],
    status: str,
) -> discord.ui.View:
    """A row of buttons per call (as many as fit), then Approve all / Reject all when several."""
    view = discord.ui.View(timeout=None)
    several = len(tools) > 1
    one_row_each = len(tools) < ROWS

    def add(verb: str, n: int | None, label: str, closed: bool, row: int | None) -> None:
        view.add_item(ApprovalButton(verb, approval_id, n, label=label, disabled=closed, row=row))

    left = MAX_BUTTONS - (2 if several else 0)
    for n, tool in enumerate(tools):
        verbs = call_verbs(tool)
        if len(verbs) > left:
            break  # the rest are decided with Approve all / Reject all
        left -= len(verbs)
        closed = status != "open" or tool["tool_call_id"] in decisions
        for verb in verbs:
            label = f"{VERB_LABELS[verb]} #{n + 1}" if several else VERB_LABELS[verb]
            add(verb, n, label, closed, n if one_row_each else None)
    if several:
        closed = status != "open" or len(decisions) >= len(tools)
        for verb in ("approve", "reject"):
            add(verb, None, f"{VERB_LABELS[verb]} all", closed, ROWS - 1 if one_row_each else None)
    return view


def approval_card(
    approval_id: str,
    tools: list[dict[str, Any]],
    decisions: dict[str, dict[str, Any]] | None = None,
    status: str = "open",
    votes: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """``channel.send`` / ``message.edit`` keyword arguments for an approval's message."""
    decisions = decisions or {}
    count = len(tools)
    content = f"⏸️ **Approval needed** for {count} tool call{'s' if count > 1 else ''}"
    if status == "abandoned":
        content += "\n⏭️ No longer pending: a newer message in the thread came first."
    elif status != "open":
        content = f"☑️ **Decided**: {count} tool call{'s' if count > 1 else ''}"
    if decisions:
        content += "\n" + audit_hint(approval_id)
    return {
        "content": content,
        "embeds": _embeds(tools, decisions, status, votes or {}),
        "view": _view(approval_id, tools, decisions, status),
    }
