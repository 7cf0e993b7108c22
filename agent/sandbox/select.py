"""Which backend runs the sessions' sandboxes, from ``SANDBOX`` and what the host has."""

from __future__ import annotations

import logging
from pathlib import Path

from agent.sandbox.backends import SandboxBackend
from agent.sandbox.local import LocalBackend, bwrap_path

logger = logging.getLogger(__name__)

MODES = ("auto", "space", "local", "off")


def choose_backend(
    mode: str, *, hf_token: str | None, root: Path, network: bool = False
) -> tuple[SandboxBackend | None, str]:
    """The backend for ``mode`` (auto: space with an HF token, else local with bubblewrap,
    else none) and, when there is none, why.

    The space backend is not part of this build yet: ``space`` (and ``auto`` with a
    token) use the local one meanwhile, and say so in the log.
    """
    if mode == "off":
        return None, "SANDBOX=off"
    if mode == "space" or (mode == "auto" and hf_token):
        logger.warning("the space sandbox backend is not available yet: using local sandboxes")
    if mode == "local" or bwrap_path() is not None:
        return LocalBackend(root, network=network), ""  # without bwrap it says how to get it
    return None, "bubblewrap is not installed on the bot's host"
