"""The install URL: exactly the scopes and permission bits the adapter uses."""

from __future__ import annotations

import base64
import binascii

import discord

from bot.settings import Settings

SCOPES = ("bot", "applications.commands")
PERMISSIONS = discord.Permissions(
    view_channel=True,  # see the channels /ask and @mentions are used in
    send_messages=True,  # the /ask reply, DMs
    create_public_threads=True,  # the thread /ask opens from its reply, or a mention on its message
    send_messages_in_threads=True,  # answers, tool lines, approval cards
    embed_links=True,  # the steps embed
    attach_files=True,  # a card's script file, a job's chart, long tool outputs
    read_message_history=True,  # edit and continue messages in threads; read back after a crash
)
"""The gateway intents are not granted here: guild messages are asked in code (mentions
carry their text without the privileged Message Content intent, which is switched on in
the Developer Portal for plain messages in the bot's threads)."""


def application_id(token: str) -> int:
    """A bot token's first part is its user id (the application's id), in base64."""
    head = token.split(".", 1)[0]
    try:
        return int(base64.b64decode(head + "=" * (-len(head) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("DISCORD_BOT_TOKEN does not look like a bot token") from exc


def invite_url(settings: Settings) -> str:
    """``ml-intern-bot invite discord``: the OAuth2 URL that adds the bot to a server."""
    if settings.discord_bot_token is None:
        raise SystemExit("Set DISCORD_BOT_TOKEN: the install URL names the bot's application.")
    app_id = application_id(settings.discord_bot_token.get_secret_value())
    return discord.utils.oauth_url(app_id, permissions=PERMISSIONS, scopes=SCOPES)
