"""What the bot's messages carry besides text: the Stop button, the 👍 / 👎 under a final
answer, the steps embed of a turn's tool calls, and the Components V2 cards.

The steps embed is one message per turn: a line per tool call (its state, then a
summary of its output), with a Stop button until the turn ends. Past the embed's
4096 characters the oldest lines give way to a count of them.

An approval card is a Components V2 message (:func:`approval_card`): one
container coloured by its state (waiting, done, rejected, expired), a text and
a row of buttons per tool call, its script as a file; a decided call's buttons
are disabled, and all of them once the approval is closed. A job card
(:func:`job_card`) is one too, coloured running, done or failed, and a job's
chart is an image in a media gallery (:func:`image_card`). Such a message has
no content or embeds, at most 40 components and 4,000 characters of text.
Answers stay plain messages.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import discord

from adapters.discord.buttons import ApprovalButton, JobButton, StopButton, ThumbButton
from bot.approvals.card import ALL_VERBS, VERB_LABELS, ApprovalCard, CallView, script_preview
from bot.jobs.card import JobCard, card_lines
from bot.output.views import THUMBS, clip

EMBED_DESCRIPTION = 4096
COLOURS = {"open": discord.Colour.orange(), "closed": discord.Colour.light_grey()}
"""The steps embed's colour while its turn runs, and after."""
V2_COMPONENTS = 40
"""Discord's limit of components in a Components V2 message, nested ones included."""
V2_TEXT = 4000
"""Discord's limit of text across a Components V2 message's text displays."""
PREVIEW_CHARS = 1200
"""At most this much of a script is previewed in its card (the whole of it is the file)."""
STATE_COLOURS = {
    "waiting": discord.Colour.orange(),
    "running": discord.Colour.blurple(),
    "done": discord.Colour.green(),
    "rejected": discord.Colour.red(),
    "failed": discord.Colour.red(),
    "expired": discord.Colour.light_grey(),
}
"""A card's container colour by its state."""


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


def _count(item: discord.ui.Item[Any]) -> int:
    """Components Discord counts for an item: itself and everything inside it."""
    children = getattr(item, "children", None) or []
    return 1 + sum(_count(child) for child in children)


def card_state(card: ApprovalCard) -> str:
    """The approval card's colour: waiting, done (approved: the calls run), rejected or expired."""
    if card.status == "open":
        return "waiting"
    if card.status in ("expired", "abandoned"):
        return "expired"
    decisions = [call.decision for call in card.calls if call.decision]
    return "done" if any(d.approved for d in decisions) else "rejected"


def script_file(call: CallView) -> discord.File:
    """A call's script as the file the card carries (``script-<number>.py``)."""
    assert call.script is not None
    return discord.File(io.BytesIO(call.script.encode()), f"script-{call.number}.py")


def call_text(call: CallView, preview_chars: int = 0) -> str:
    """One call as markdown: tool and key arguments, the rest, a script preview, its decision."""
    head = f"**{call.number}. {call.tool}**"
    head += "".join(f" · {key} `{value}`" for key, value in call.key_args)
    lines = [head]
    if call.other_args:
        lines.append(f"`{call.other_args}`")
    if call.script is not None and preview_chars:
        lines.append(script_preview(call.script, preview_chars, lang="py"))
    if call.decision:
        lines.append(call.decision.line(_when))
    elif call.note:
        lines.append(clip(call.note, 1024))
    return "\n".join(lines)


def _label(verb: str) -> str:
    return VERB_LABELS[verb]


def _buttons(
    card: ApprovalCard, verbs: tuple[str, ...], n: int | None, label: Any, closed: bool
) -> discord.ui.ActionRow[Any]:
    row: discord.ui.ActionRow[Any] = discord.ui.ActionRow()
    for verb in verbs:
        row.add_item(ApprovalButton(verb, card.approval_id, n, label=label(verb), disabled=closed))
    return row


def approval_card(card: ApprovalCard) -> dict[str, Any]:
    """``channel.send`` keyword arguments for an approval's message: a Components V2 card.

    One container coloured by the card's state: the title, then per call its text,
    its script as a file and a row of its buttons, as many calls as fit in
    Discord's 40 components (the rest are named, and decided with Approve all /
    Reject all); the text, script previews included, stays within 4,000 characters.
    """
    several = len(card.calls) > 1
    head = "\n".join(filter(None, (card.title, card.status_note)))
    tail: list[discord.ui.Item[Any]] = []
    if several:
        tail += [
            discord.ui.Separator(),
            _buttons(card, ALL_VERBS, None, lambda v: f"{VERB_LABELS[v]} all", not card.waiting),
        ]
    if card.audit:
        tail.append(discord.ui.TextDisplay(card.audit))
    room = V2_COMPONENTS - 2 - sum(map(_count, tail)) - 1  # container, head; an overflow line
    blocks: list[tuple[CallView, list[discord.ui.Item[Any]]]] = []
    for call in card.calls:
        items: list[discord.ui.Item[Any]] = [discord.ui.Separator(), discord.ui.TextDisplay("")]
        if call.script is not None:
            items.append(discord.ui.File(script_file(call)))
        label = (lambda v, c=call: f"{VERB_LABELS[v]} #{c.number}") if several else _label
        items.append(_buttons(card, call.verbs, call.n, label, not call.waiting))
        cost = sum(map(_count, items))
        if cost > room:
            break
        room -= cost
        blocks.append((call, items))
    rest = card.calls[len(blocks) :]
    more = f"…and {len(rest)} more: {clip(', '.join(c.tool for c in rest), 500)}" if rest else ""
    fixed = sum(len(call_text(call)) for call, _ in blocks) + len(head) + len(more)
    fixed += len(card.audit or "")
    scripts = sum(1 for call, _ in blocks if call.script is not None)
    share = min(PREVIEW_CHARS, (V2_TEXT - fixed - 20 * len(blocks)) // scripts) if scripts else 0
    container = discord.ui.Container(
        discord.ui.TextDisplay(head), accent_colour=STATE_COLOURS[card_state(card)]
    )
    for call, items in blocks:
        items[1] = discord.ui.TextDisplay(call_text(call, max(share, 0)))
        for item in items:
            container.add_item(item)
    if more:
        container.add_item(discord.ui.TextDisplay(more))
    for item in tail:
        container.add_item(item)
    view = discord.ui.LayoutView(timeout=None)
    view.add_item(container)
    files = [script_file(call) for call, _ in blocks if call.script is not None]
    return {"view": view, "files": files}


def job_state(card: JobCard) -> str:
    """A job card's colour: running, done (completed) or failed."""
    if not card.finished:
        return "running"
    return "done" if card.status == "COMPLETED" else "failed"


def job_card(card: JobCard, now: datetime) -> discord.ui.LayoutView:
    """A job's card: a container coloured by its state, its lines, Logs (and Cancel while it runs)."""
    text = "\n".join(card_lines(card, budget=V2_TEXT, clock=lambda: now))
    buttons: discord.ui.ActionRow[Any] = discord.ui.ActionRow(JobButton("logs", card.job_id))
    if not card.finished:
        buttons.add_item(JobButton("cancel", card.job_id))
    view = discord.ui.LayoutView(timeout=None)
    view.add_item(
        discord.ui.Container(
            discord.ui.TextDisplay(text), buttons, accent_colour=STATE_COLOURS[job_state(card)]
        )
    )
    return view


IMAGES = (".png", ".jpg", ".jpeg", ".gif", ".webp")
"""Files shown as images (in a media gallery, :func:`image_card`) rather than as attachments."""


def image_card(title: str, filename: str) -> discord.ui.LayoutView:
    """An image (a job's chart) in a media gallery under its title."""
    view = discord.ui.LayoutView(timeout=None)
    view.add_item(discord.ui.TextDisplay(clip(title, V2_TEXT)))
    gallery = discord.ui.MediaGallery(discord.MediaGalleryItem(f"attachment://{filename}"))
    view.add_item(gallery)
    return view
