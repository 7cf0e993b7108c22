"""Which backend runs the sessions' sandboxes, from ``SANDBOX`` and what the host has."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from huggingface_hub import HfApi

from agent.sandbox.backends import SandboxBackend
from agent.sandbox.local import LocalBackend, bwrap_path
from agent.sandbox.space import SpaceBackend

MODES = ("auto", "space", "local", "off")


def choose_backend(
    mode: str,
    *,
    hf_token: str | None,
    root: Path,
    network: bool = False,
    api: HfApi | None = None,
    secrets: Mapping[str, str] | None = None,
) -> tuple[SandboxBackend | None, str]:
    """The backend for ``mode`` (auto: space with an HF token, else local with bubblewrap,
    else none) and, when there is none, why. ``api`` is the Hub client of the token, and
    ``secrets`` what a Space gets besides its own token (those jobs may be given)."""
    if mode == "off":
        return None, "SANDBOX=off"
    if mode == "space" or (mode == "auto" and hf_token):
        if not hf_token:
            return None, "SANDBOX=space needs an HF_TOKEN"
        return SpaceBackend(api or HfApi(token=hf_token), secrets=secrets), ""
    if mode == "local" or bwrap_path() is not None:
        return LocalBackend(root, network=network), ""  # without bwrap it says how to get it
    return None, "bubblewrap is not installed on the bot's host"
