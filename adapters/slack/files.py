"""Files on Slack: a message's shared files (or a modal's upload) as shared files,
downloaded with the bot token (Slack's ``url_private`` needs it and ``files:read``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.attachments import SharedFile

FILES_HINT = (
    "the Slack app needs the files:read scope: add it to the app "
    "(`ml-intern-bot manifest slack` prints the manifest) and reinstall it"
)


def shared_files(files: list[dict[str, Any]]) -> list[SharedFile]:
    """The files of a message (``file_share``, or a mention with files), to be downloaded
    with the bot token where the turn runs. A file Slack shows no link for (deleted,
    hidden by the plan's limit) gets none, and the thread is told it could not be read."""
    return [
        SharedFile(
            name=str(f.get("name") or f.get("title") or f.get("id") or "file"),
            url=str(f.get("url_private_download") or f.get("url_private") or ""),
            size=f["size"] if isinstance(f.get("size"), int) else None,
            mimetype=f.get("mimetype") or None,
            access_hint=FILES_HINT,
        )
        for f in files
    ]


def with_token(client: AsyncWebClient, file: SharedFile) -> SharedFile:
    """A Slack file to be downloaded with the bot token."""
    token = client.token
    return replace(file, headers={"Authorization": f"Bearer {token}"}) if token else file
