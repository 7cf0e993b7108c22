"""What the bot's messages carry besides text: the Stop button, the 👍 / 👎 under a final
answer, the steps embed of a turn's tool calls, and approval cards.

The steps embed is one message per turn: a line per tool call (its state, then a
summary of its output), with a Stop button until the turn ends. Past the embed's
4096 characters the oldest lines give way to a count of them.

An approval card is one message: a line saying what waits, an embed per tool
call (tool, key arguments, a script preview, then who decided what) and the
buttons; a decided call's buttons are disabled, and all of them once the
approval is closed. Embeds share Discord's 6000-character budget per message.
"""

from __future__ import annotations

from typing import Any

import discord

from adapters.discord.buttons import ApprovalButton, StopButton, ThumbButton
from bot.approvals.card import ALL_VERBS, VERB_LABELS, ApprovalCard, CallView, script_preview
from bot.output.views import THUMBS, clip

MESSAGE_CHARS = 6000
"""Discord's limit for all the embeds of a message together."""
EMBED_DESCRIPTION = 4096
MAX_EMBEDS = 10
MAX_BUTTONS = 25
ROWS = 5
COLOURS = {
    "open": discord.Colour.orange(),
    "approved": discord.Colour.green(),
    "rejected": discord.Colour.red(),
    "closed": discord.Colour.light_grey(),
}


STEPS_TITLE = "Steps"


def stop_view() -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(StopButton())
    return view


def feedback_view(turn_id: str) -> discord.ui.View:
    """👍 / 👎 for the final answer of ``turn_id``."""
    view = discord.ui.View(timeout=None)
    for rating in THUMBS:
        view.add_item(ThumbButton(rating, turn_id))
    return view


def steps(lines: list[str], *, final: bool) -> dict[str, Any]:
    """``channel.send`` / ``message.edit`` keyword arguments for a turn's steps message."""
    shown = list(lines)
    while len("\n".join(shown)) > EMBED_DESCRIPTION - 40:  # room for the count of the rest
        shown.pop(0)
    hidden = len(lines) - len(shown)
    earlier = [f"*…{hidden} earlier step{'s' if hidden > 1 else ''}*"] if hidden else []
    embed = discord.Embed(
        title=f"{STEPS_TITLE} ({len(lines)})",
        description="\n".join(earlier + shown),
        colour=COLOURS["closed" if final else "open"],
    )
    return {"embed": embed, "view": None if final else stop_view()}


def _when(at: float) -> str:
    """A time each reader sees in their own zone."""
    return f"<t:{int(at)}:R>"


def call_embed(call: CallView) -> discord.Embed:
    """The embed of one call, without its script preview (added when the budget is known)."""
    embed = discord.Embed(
        title=clip(f"{call.number}. {call.tool}", 256), colour=COLOURS[call.state]
    )
    for key, value in call.key_args:
        embed.add_field(name=key, value=f"`{value}`")
    if call.other_args:
        embed.description = f"`{call.other_args}`"
    if call.decision:
        embed.add_field(name="Decision", value=call.decision.line(_when), inline=False)
    elif call.note:
        embed.add_field(name="Approval", value=clip(call.note, 1024), inline=False)
    return embed


def _embeds(card: ApprovalCard) -> list[discord.Embed]:
    calls = card.calls
    shown = calls if len(calls) <= MAX_EMBEDS else calls[: MAX_EMBEDS - 1]
    embeds = [call_embed(call) for call in shown]
    if len(shown) < len(calls):
        rest = ", ".join(call.tool for call in calls[len(shown) :])
        embeds.append(
            discord.Embed(
                title=f"…and {len(calls) - len(shown)} more", description=clip(rest, 1000)
            )
        )
    scripts = [(e, c.script) for e, c in zip(embeds, shown, strict=False) if c.script is not None]
    if scripts:
        share = (MESSAGE_CHARS - 200 - sum(len(e) for e in embeds)) // len(scripts)
        for embed, script in scripts:
            description = embed.description or ""
            budget = min(share, EMBED_DESCRIPTION - len(description) - 1)
            embed.description = (
                description + "\n" + script_preview(script, budget, lang="py")
            ).strip()
    return embeds


def _view(card: ApprovalCard) -> discord.ui.View:
    """A row of buttons per call (as many as fit), then Approve all / Reject all when several."""
    view = discord.ui.View(timeout=None)
    several = len(card.calls) > 1
    one_row_each = len(card.calls) < ROWS

    def add(verb: str, n: int | None, label: str, closed: bool, row: int | None) -> None:
        view.add_item(
            ApprovalButton(verb, card.approval_id, n, label=label, disabled=closed, row=row)
        )

    left = MAX_BUTTONS - (len(ALL_VERBS) if several else 0)
    for call in card.calls:
        if len(call.verbs) > left:
            break  # the rest are decided with Approve all / Reject all
        left -= len(call.verbs)
        for verb in call.verbs:
            label = f"{VERB_LABELS[verb]} #{call.number}" if several else VERB_LABELS[verb]
            add(verb, call.n, label, not call.waiting, call.n if one_row_each else None)
    if several:
        for verb in ALL_VERBS:
            label = f"{VERB_LABELS[verb]} all"
            add(verb, None, label, not card.waiting, ROWS - 1 if one_row_each else None)
    return view


def approval_card(card: ApprovalCard) -> dict[str, Any]:
    """``channel.send`` / ``message.edit`` keyword arguments for an approval's message."""
    content = "\n".join(filter(None, (card.title, card.status_note, card.audit)))
    return {"content": content, "embeds": _embeds(card), "view": _view(card)}
