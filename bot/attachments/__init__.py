"""What people share reaches the agent: files from a Slack thread, Discord attachments, console paths.

Platform-free (no Slack, Discord or Redis here). The entry point is :func:`ingest`::

    from bot.attachments import SharedFile, ingest, model_sees_images

    files = [SharedFile(name, url, size=size, mimetype=mimetype,
                        headers={"Authorization": f"Bearer {bot_token}"},    # Slack; Discord: none
                        access_hint="the Slack app needs the files:read scope")]
    result = await ingest(
        text, files,
        sandbox=Sandbox(settings.data_dir / "sandboxes"), session=session,
        vision=model_sees_images(settings.model),
        max_bytes=settings.max_attachment_bytes, http=client_session,
    )
    # result.content: the user message content for Agent.run (a str, or with images a
    #   list of OpenAI-style parts: a text part, then image_url parts)
    # result.notices: lines to post in the thread (files that could not be read, e.g.
    #   "📎 Couldn't read `train.log`: it is gone (404 Not Found): ...")
    # result.saved: the sandbox paths the files were saved as
    # session.state now names the sandbox if a file was saved: persist the session.

A console path becomes ``SharedFile.from_path(path)``. Each file is downloaded by
:func:`~bot.attachments.fetch.fetch` (capped at ``max_bytes``), saved in the session's
sandbox (created when needed), and inlined by kind; see :mod:`bot.attachments.prepare`.
"""

from bot.attachments.fetch import Fetched, FetchFailed, SharedFile, fetch, format_size
from bot.attachments.kinds import classify, notebook_text
from bot.attachments.prepare import (
    INLINE_BUDGET,
    MAX_IMAGE_BYTES,
    Ingested,
    ingest,
    model_sees_images,
)

__all__ = [
    "INLINE_BUDGET",
    "MAX_IMAGE_BYTES",
    "FetchFailed",
    "Fetched",
    "Ingested",
    "SharedFile",
    "classify",
    "fetch",
    "format_size",
    "ingest",
    "model_sees_images",
    "notebook_text",
]
