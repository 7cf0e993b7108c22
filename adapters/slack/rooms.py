"""What a Slack thread shows of the job room: job cards with Logs and Cancel, and pings.

:class:`RoomMessages` is mixed into :class:`adapters.slack.surface.SlackSurface`,
giving it the :class:`~bot.platform.JobCards`, :class:`~bot.platform.MetricCharts` and
:class:`~bot.platform.Pings` capabilities.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from slack_sdk.errors import SlackApiError

from adapters.slack.cards import SECTION_CHARS, TEXT_CHARS, actions, button, section
from adapters.slack.charts import metric_blocks
from adapters.slack.mrkdwn import to_mrkdwn
from bot.jobs.card import JobCard, card_lines, headline
from bot.jobs.room import job_button_id

logger = logging.getLogger(__name__)

INVALID_BLOCKS = "invalid_blocks"
CARD_CHARS = SECTION_CHARS - 400
"""The card's text before Slack's escaping (``<`` becomes ``&lt;``) within one section."""
LOGS_LABEL = "📜 Logs"
CANCEL_LABEL = "🛑 Cancel"


def job_buttons(job_id: str, running: bool) -> dict[str, Any]:
    """Logs, and Cancel while the job runs."""
    buttons = [button(LOGS_LABEL, job_button_id("logs", job_id))]
    if running:
        buttons.append(button(CANCEL_LABEL, job_button_id("cancel", job_id), style="danger"))
    return actions(*buttons)


def job_card(card: JobCard, now: datetime, *, charts: bool = True) -> dict[str, Any]:
    """A job's card: its lines in a section, with ``charts`` its metrics charted natively
    (:mod:`adapters.slack.charts`), then its buttons."""
    body = to_mrkdwn("\n".join(card_lines(card, budget=CARD_CHARS, clock=lambda: now)))
    drawn = metric_blocks(card.metrics) if charts and card.metrics else []
    return {
        "text": headline(card)[:TEXT_CHARS],
        "blocks": [section(body), *drawn, job_buttons(card.job_id, not card.finished)],
    }


def mention(who: str) -> str:
    """A user id, or a user group (``S…``), as Slack mentions it."""
    return f"<!subteam^{who}>" if who.startswith("S") else f"<@{who}>"


class RoomMessages:
    """Job cards and pings for a :class:`~adapters.slack.surface.SlackSurface` (through its
    ``_post`` and ``update``)."""

    charted = False
    """Whether the card drawn last charted the job's metrics natively
    (a :class:`~bot.platform.MetricCharts`)."""

    async def post_job_card(self, ref: str | None, card: JobCard, now: datetime) -> str:
        """The card with its metrics charted; where Slack refuses the charts
        (``invalid_blocks``), the card without them (the summary then attaches a PNG)."""
        try:
            ref = await self._job_card(ref, job_card(card, now))
        except SlackApiError as exc:
            if exc.response.get("error") != INVALID_BLOCKS or card.metrics is None:
                raise
            logger.info("Slack refused the job card's charts: the PNG follows at the end")
            self.charted = False
            return await self._job_card(ref, job_card(card, now, charts=False))
        self.charted = card.metrics is not None
        return ref

    async def _job_card(self, ref: str | None, payload: dict[str, Any]) -> str:
        if ref is None:
            return await self._post(payload)
        await self.update(ref, payload)
        return ref

    async def post_ping(self, text: str, who: Sequence[str]) -> None:
        mentions = " ".join(mention(w) for w in who if not w.startswith("role:"))
        await self._post({"text": f"{to_mrkdwn(text)} {mentions}".strip()[:TEXT_CHARS]})
