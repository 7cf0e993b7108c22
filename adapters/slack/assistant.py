"""Slack's AI-app split view: the assistant pane's threads, through Bolt's ``AsyncAssistant``.

With ``SLACK_ASSISTANT_VIEW=split`` (for apps that still have the split view), a thread the
person starts from the assistant pane gets a greeting and suggested prompts, its title
is set from the first question, and the pane's context (the channel the person is
viewing, from ``assistant_thread_started`` and ``assistant_thread_context_changed``) is
kept with the session in Redis and told to the agent with each message, so that "this
channel" means that channel.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAssistant
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.say.async_say import AsyncSay
from slack_bolt.context.set_suggested_prompts.async_set_suggested_prompts import (
    AsyncSetSuggestedPrompts,
)
from slack_bolt.context.set_title.async_set_title import AsyncSetTitle

from adapters.slack.conversations import Conversations
from adapters.slack.keys import session_key
from adapters.slack.messages_tab import prompts_of
from adapters.slack.sessions import title_of
from bot.output.messages import viewing_channel
from bot.settings import Settings
from bot.store.sessions import SessionStore

VIEWING = "viewing"
"""The session metadata field that keeps the pane's context (``channel_id``, ``team_id``)."""


def build_assistant(
    conversations: Conversations, settings: Settings, store: SessionStore
) -> AsyncAssistant:
    """The middleware for the assistant pane: greeting, prompts, title, context."""
    assistant = AsyncAssistant()
    prompts = prompts_of(settings)

    async def keep_context(payload: dict[str, Any], context: AsyncBoltContext) -> None:
        thread = payload["assistant_thread"]
        place = {"channel": thread["channel_id"], "thread_ts": thread["thread_ts"]}
        key = session_key(context.team_id or "", place)
        await store.note(key, **{VIEWING: thread.get("context") or {}})

    @assistant.thread_started
    async def started(
        payload: dict[str, Any],
        context: AsyncBoltContext,
        say: AsyncSay,
        set_suggested_prompts: AsyncSetSuggestedPrompts,
    ) -> None:
        await keep_context(payload, context)
        await say(settings.slack_assistant_greeting)
        if prompts:
            await set_suggested_prompts(prompts=prompts)

    assistant.thread_context_changed(keep_context)

    @assistant.user_message
    async def message(
        payload: dict[str, Any], context: AsyncBoltContext, set_title: AsyncSetTitle
    ) -> None:
        meta = await store.meta(session_key(context.team_id or "", payload))
        if not meta.get("requester"):  # the thread's first question names it
            await set_title(title_of(payload.get("text", "")))
        viewing = (meta.get(VIEWING) or {}).get("channel_id")
        await conversations.handle(
            payload, context, viewing=viewing_channel(viewing) if viewing else None
        )

    return assistant
