"""Session commands, run the same way on every platform.

A front end recognises a command its own way (a mention's text, a slash
command, a console line), calls :func:`run_command` and shows the reply it
returns: ``new``, ``undo`` and ``compact`` queue an input for the thread's
session, ``stop`` stops its running turn, ``status`` tells what it holds and
``autoapprove`` sets its auto-approve budget. Redis being down is answered
with :data:`STORE_DOWN` whatever the command.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError

from bot.approvals.actor import Actor
from bot.approvals.budget import budget_reply, parse_cap
from bot.output.messages import STORE_DOWN
from bot.output.views import NOTHING_RUNNING, REPLIES, SESSION_COMMANDS
from bot.turns.runner import TurnRunner

TURN_COMMANDS = ("new", "undo", "compact")
"""The commands that are inputs of the session, run in turn with its messages."""
AUTO_APPROVE = re.compile(r"^auto-?approve\s*(?P<amount>.*)$")

DrawStatus = Callable[[dict[str, Any]], str]
"""A platform's text for the output of :meth:`TurnRunner.status`."""


def parse_command(text: str) -> tuple[str, str] | None:
    """A session command typed as text (``undo``, ``auto-approve $20``): its name and argument."""
    command = text.strip().lower().rstrip(".!")
    if command in SESSION_COMMANDS:
        return command, ""
    if match := AUTO_APPROVE.match(command):
        return "autoapprove", match["amount"]
    return None


async def run_command(
    runner: TurnRunner,
    key: str,
    actor: Actor,
    name: str,
    argument: str = "",
    *,
    draw_status: DrawStatus,
) -> str | None:
    """Run session command ``name`` on the thread of ``key`` for ``actor``; the reply to show.

    None when the command was refused as an input (rate limit, Redis down): the
    runner has told the thread why already.
    """
    if name == "autoapprove":
        return await budget_command(runner, key, actor, argument)
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
