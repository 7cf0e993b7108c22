"""Markdown (what the model writes) to Slack mrkdwn, and Slack message text back to plain text."""

from __future__ import annotations

import re

from bot.output.textsplit import FENCE

BOLD = "\x00"  # stands for "*" until single-star italics are converted
_INLINE_CODE = re.compile(r"(`[^`\n]+`)")
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)
_STRONG = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")
_EMPHASIS = re.compile(r"(?<![*\w])\*(?=\S)(.+?)(?<=\S)\*(?![*\w])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_LINK = re.compile(r"!?\[([^\]\n]+)\]\(((?:https?://|mailto:)[^\s|>]+?)\)")
"""Markdown links to web or mail addresses only: ``<!channel|x>`` must never come out."""
_BULLET = re.compile(r"^([ \t]*)[-*+][ \t]+", re.M)
_SLACK_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]+))?>")


def escape(text: str) -> str:
    """Slack's three control characters as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _prose(text: str) -> str:
    """Convert markdown outside code: headings, bold, italics, strikes, links, bullets."""
    pieces = _INLINE_CODE.split(text)
    for i in range(0, len(pieces), 2):  # odd pieces are inline code: escaped only
        piece = escape(pieces[i])
        piece = _HEADING.sub(lambda m: BOLD + m.group(1).replace("**", "") + BOLD, piece)
        piece = _STRONG.sub(lambda m: BOLD + (m.group(1) or m.group(2)) + BOLD, piece)
        piece = _BULLET.sub(r"\1• ", piece)
        piece = _EMPHASIS.sub(r"_\1_", piece)
        piece = _STRIKE.sub(r"~\1~", piece)
        piece = _LINK.sub(r"<\2|\1>", piece)
        pieces[i] = piece.replace(BOLD, "*")
    for i in range(1, len(pieces), 2):
        pieces[i] = escape(pieces[i])
    return "".join(pieces)


def to_mrkdwn(markdown: str) -> str:
    """Slack mrkdwn for ``markdown``; code blocks keep their text (fence languages dropped).

    A code block still open at the end (a reply mid-stream) is closed.
    """
    out: list[str] = []
    prose: list[str] = []
    in_code = False
    for line in markdown.split("\n"):
        if FENCE.match(line):
            if prose:
                out.append(_prose("\n".join(prose)))
                prose = []
            out.append("```")
            in_code = not in_code
        elif in_code:
            out.append(escape(line))
        else:
            prose.append(line)
    if prose:
        out.append(_prose("\n".join(prose)))
    if in_code:
        out.append("```")
    return "\n".join(out)


def from_slack(text: str, bot_user_id: str | None = None) -> str:
    """A user's message as the agent should read it: the bot's mention dropped, links plain."""
    if bot_user_id:
        text = text.replace(f"<@{bot_user_id}>", "")
    return unescape(_SLACK_LINK.sub(_plain_link, text)).strip()


def _plain_link(match: re.Match[str]) -> str:
    url, label = match.group(1), match.group(2)
    return url if not label or label in url else f"{label} ({url})"
