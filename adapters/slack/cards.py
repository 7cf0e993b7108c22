"""Block Kit payloads: streamed answers with a Stop button, 👍 / 👎 under a final answer,
tool lines, approval cards."""

from __future__ import annotations

import time
from typing import Any

from slack_sdk.models.blocks import (
    ContextActionsBlock,
    FeedbackButtonObject,
    FeedbackButtonsElement,
)

from adapters.slack.mrkdwn import escape, to_mrkdwn
from bot.approvals.card import (
    ALL_VERBS,
    VERB_LABELS,
    ApprovalCard,
    CallView,
    button_id,
    script_preview,
)
from bot.output.messages import STOP_CONTROL
from bot.output.textsplit import split_text
from bot.output.views import STOP_ID, THUMBS
from bot.platform import Written

SECTION_CHARS = 3000
"""Slack's limit for a section block's text (and a context element's)."""
TEXT_CHARS = 40_000
"""Slack's limit for a message's top-level text."""
MARKDOWN_CHARS = 12_000
"""Slack's limit for a ``markdown`` block."""
MAX_BLOCKS = 50
"""Slack's limit of blocks in a message."""
THUMBS_ID = "mib:thumbs"
"""The action id of the 👍 / 👎 under a final answer."""
BUTTON_STYLES = {"approve": "primary", "reject": "danger", "extend": "primary"}


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
        blocks.append(stop_button(stop_key))
    return {"text": body[:TEXT_CHARS], "blocks": blocks}


def thumbs_value(rating: str, turn_id: str, key: str) -> str:
    """What a 👍 / 👎 click hands back: the rating, the turn and its session key."""
    return f"{rating}:{turn_id}:{key}"


def parse_thumbs_value(value: str) -> tuple[str, str, str]:
    """``(rating, turn id, session key)`` of :func:`thumbs_value`; ValueError if it isn't one."""
    rating, turn_id, key = value.split(":", 2)
    if rating not in THUMBS:
        raise ValueError(f"not a rating: {value!r}")
    return rating, turn_id, key


def thumbs(key: str, turn_id: str) -> dict[str, Any]:
    """👍 / 👎 for the answer of turn ``turn_id`` of ``key`` (a ``context_actions`` block)."""
    buttons = {
        r: FeedbackButtonObject(text=THUMBS[r], value=thumbs_value(r, turn_id, key)) for r in THUMBS
    }
    element = FeedbackButtonsElement(
        action_id=THUMBS_ID, positive_button=buttons["up"], negative_button=buttons["down"]
    )
    return ContextActionsBlock(elements=[element]).to_dict()


def final_answer(markdown: str, key: str, turn_id: str, *, streamed: bool) -> dict[str, Any]:
    """A finished answer with 👍 / 👎 under it; a natively ``streamed`` one stays markdown."""
    if streamed:
        payload = {"text": markdown[:TEXT_CHARS], "blocks": [markdown_block(markdown)]}
    else:
        payload = answer(markdown)
    payload["blocks"].append(thumbs(key, turn_id))
    return payload


def markdown_block(markdown: str) -> dict[str, Any]:
    return {"type": "markdown", "text": markdown[:MARKDOWN_CHARS]}


def rich_text(text: str) -> dict[str, Any]:
    section = {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
    return {"type": "rich_text", "elements": [section]}


def task_card(task: dict[str, Any]) -> dict[str, Any]:
    """A ``task_update`` chunk of a stream as the ``task_card`` block it shows as."""
    block = {
        "type": "task_card",
        "task_id": task["id"],
        "title": task["title"],
        "status": task["status"],
    }
    for part in ("output", "details"):
        if task.get(part):
            block[part] = rich_text(task[part])
    if task.get("sources"):
        block["sources"] = task["sources"]
    return block


def rewritten_stream(markdown: str, tasks: list[dict[str, Any]]) -> dict[str, Any]:
    """A stopped stream written again whole (an approval it waited on was decided): its
    text and its task cards (Slack's 50 blocks at most: the last ones)."""
    blocks = [markdown_block(markdown)] if markdown else []
    blocks += [task_card(task) for task in tasks[-(MAX_BLOCKS - len(blocks)) :]]
    return {"text": markdown[:TEXT_CHARS] or tasks[-1]["title"], "blocks": blocks}


def stop_button(stop_key: str) -> dict[str, Any]:
    return actions(button("⏹ Stop", STOP_ID, stop_key))


def stop_control(stop_key: str) -> dict[str, Any]:
    """The small message carrying the Stop button while a native stream is written."""
    body = to_mrkdwn(STOP_CONTROL)
    return {"text": body, "blocks": [context(body), stop_button(stop_key)]}


def line(markdown: str) -> dict[str, Any]:
    """One compact context line (a tool call and its state)."""
    body = to_mrkdwn(markdown)
    return {"text": body[:TEXT_CHARS], "blocks": [context(body)]}


def notice(markdown: str) -> dict[str, Any]:
    return {"text": to_mrkdwn(markdown)[:TEXT_CHARS]}


def written(message: dict[str, Any]) -> Written | None:
    """A message of the bot's read back (``conversations.replies``), if it may hold an
    answer's text (answer sections, a native stream, a placeholder) or is a Stop control;
    None for anything else (tool lines, cards, final answers with 👍 / 👎)."""
    blocks = message.get("blocks") or []
    kinds = {block.get("type") for block in blocks}
    buttons = {
        element.get("action_id")
        for block in blocks
        if block.get("type") == "actions"
        for element in block.get("elements", [])
    }
    if buttons == {STOP_ID} and "context" in kinds:
        return Written(message["ts"], message.get("text", ""), control=True)
    if buttons - {STOP_ID} or "context_actions" in kinds or (kinds and kinds <= {"context"}):
        return None
    return Written(message["ts"], message.get("text", ""))


# ── approval cards ───────────────────────────────────────────────────────


def describe_call(call: CallView) -> str:
    """The section of one call: name, key arguments, the others, a script preview."""
    facts = [f"*{call.number}. `{escape(call.tool)}`*"]
    facts += [f"{key}: `{escape(value)}`" for key, value in call.key_args]
    text = "  ·  ".join(facts)
    if call.other_args:
        text += f"\n`{escape(call.other_args)}`"
    if call.script is not None:
        text += "\n" + script_preview(call.script, SECTION_CHARS - len(text) - 1, escape)
    return text


def _when(at: float) -> str:
    fallback = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))
    return f"<!date^{int(at)}^{{date_short_pretty}} {{time}}|{fallback}>"


def _buttons(approval_id: str, call: CallView) -> dict[str, Any]:
    return actions(
        *(
            button(
                VERB_LABELS[verb],
                button_id(verb, approval_id, call.n),
                style=BUTTON_STYLES.get(verb),
            )
            for verb in call.verbs
        )
    )


def approval_card(card: ApprovalCard) -> dict[str, Any]:
    """One message for an approval: a section per call, its buttons while it waits."""
    blocks = [section(to_mrkdwn(card.title))]
    for call in card.calls:
        blocks.append(section(describe_call(call)))
        if call.decision:
            blocks.append(context(call.decision.line(_when, escape)))
        elif call.waiting:
            if call.note:
                blocks.append(context(call.note))
            blocks.append(_buttons(card.approval_id, call))
    if len(card.waiting) > 1:
        blocks.append(
            actions(
                *(
                    button(
                        f"{VERB_LABELS[verb]} all",
                        button_id(verb, card.approval_id, None),
                        style=BUTTON_STYLES[verb],
                    )
                    for verb in ALL_VERBS
                )
            )
        )
    if card.status_note:
        blocks.append(context(card.status_note))
    if card.audit:
        blocks.append(context(card.audit))
    return {"text": f"Approval needed: {card.tool_names}", "blocks": blocks}
