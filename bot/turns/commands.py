"""Session commands, run the same way on every platform.

A front end recognises a command its own way (a mention's text, a slash
command, a console line), calls :func:`run_command` and shows the reply it
returns: ``new``, ``undo`` and ``compact`` queue an input for the thread's
session, ``stop`` stops its running turn, ``status`` tells what it holds and
``autoapprove`` sets its auto-approve budget, ``model`` the model it answers with
(given at the top of a channel: the channel's default). Redis being down is
answered with :data:`STORE_DOWN` whatever the command.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError

from bot.approvals.actor import Actor
from bot.approvals.budget import budget_reply, parse_cap
from bot.output.messages import (
    MODEL_FORBIDDEN,
    STORE_DOWN,
    model_chosen,
    model_dropped,
    model_name,
    model_now,
    only_one_model,
    unknown_model,
)
from bot.output.views import NOTHING_RUNNING, REPLIES, SESSION_COMMANDS
from bot.turns.models import DEFAULT, Chosen
from bot.turns.runner import TurnRunner

TURN_COMMANDS = ("new", "undo", "compact")
"""The commands that are inputs of the session, run in turn with its messages."""
AUTO_APPROVE = re.compile(r"^auto-?approve\s*(?P<amount>.*)$")
MODEL = re.compile(r"^model(?:\s+(?P<label>\S+))?$")
"""``model`` or ``model <label>``: one word after it (a longer message is for the agent)."""

DrawStatus = Callable[[dict[str, Any]], str]
"""A platform's text for the output of :meth:`TurnRunner.status`."""


def parse_command(text: str) -> tuple[str, str] | None:
    """A session command typed as text (``undo``, ``auto-approve $20``): its name and argument."""
    command = text.strip().lower().rstrip(".!")
    if command in SESSION_COMMANDS:
        return command, ""
    if match := AUTO_APPROVE.match(command):
        return "autoapprove", match["amount"]
    if match := MODEL.match(command):
        return "model", match["label"] or ""
    return None


async def run_command(
    runner: TurnRunner,
    key: str,
    actor: Actor,
    name: str,
    argument: str = "",
    *,
    draw_status: DrawStatus,
    channel_wide: bool = False,
) -> str | None:
    """Run session command ``name`` on the thread of ``key`` for ``actor``; the reply to show.

    ``channel_wide`` when it was given at the top of a channel rather than in a
    thread (``model`` then acts on the channel's default). None when the command was
    refused as an input (rate limit, Redis down): the runner has told the thread why
    already.
    """
    if name == "autoapprove":
        return await budget_command(runner, key, actor, argument)
    if name == "model":
        return await model_command(runner, key, actor, argument, channel_wide=channel_wide)
    try:
        if name == "stop":
            return REPLIES["stop"] if await runner.stop(key) else NOTHING_RUNNING
        if name == "status":
            return draw_status(await runner.status(key))
    except (RedisError, OSError):
        return STORE_DOWN
    if name not in TURN_COMMANDS:
        raise ValueError(f"{name!r} is not a session command")
    if not await runner.submit(key, {"kind": name, "user": actor.user_id}):
        return None
    return REPLIES[name]


async def budget_command(runner: TurnRunner, key: str, actor: Actor, amount: str) -> str:
    """``autoapprove <amount>|off`` in a thread: set its budget; the reply says what happened."""
    try:
        budget = await runner.set_budget(key, actor, parse_cap(amount))
    except (ValueError, PermissionError) as refused:
        return str(refused)
    except (RedisError, OSError):
        return STORE_DOWN
    return budget_reply(budget)


async def model_command(
    runner: TurnRunner, key: str, actor: Actor, typed: str, *, channel_wide: bool = False
) -> str:
    """``model``: the model and the choices; ``model <label>``: answer with that model in
    the thread of ``key`` (``channel_wide``: in the channel's threads that chose none,
    for those who may approve); ``model default``: drop the choice. The reply says what
    happened, or lists the labels when ``typed`` is none of them."""
    picker = runner.models
    choices = picker.choices
    if not choices.offered:
        return only_one_model(choices.default)
    typed = typed.strip()
    labels = list(choices.labels)
    try:
        if not typed:
            chosen = await picker.chosen(key)
            return model_now(_named(chosen), chosen.source, labels, channel_wide)
        dropping = typed.lower() == DEFAULT
        label = None if dropping else choices.label(typed)
        if label is None and not dropping:
            return unknown_model(typed, labels)
        if channel_wide and not runner.controls.rules.default.allows(actor, actor.user_id):
            return MODEL_FORBIDDEN
        await picker.choose(key, label, channel=channel_wide)
        if label is not None:
            return model_chosen(model_name(choices.labels[label], label), channel_wide)
        return model_dropped(_named(await picker.chosen(key)), channel_wide)
    except (RedisError, OSError):
        return STORE_DOWN


def _named(chosen: Chosen) -> str:
    return model_name(chosen.model, chosen.label)
