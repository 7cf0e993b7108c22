"""Hugging Face Hub failures as short, actionable tool errors (never tracebacks)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import httpx2
from huggingface_hub.errors import (
    DisabledRepoError,
    GatedRepoError,
    HfHubHTTPError,
    HfUriError,
    HFValidationError,
    JobNotFoundError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from agent.tools.registry import ToolError

T = TypeVar("T")

MAX_DETAIL = 200
BILLING_WORDS = ("credit", "billing", "payment")
QUOTA_WORDS = ("quota", "storage limit")


async def call_hub(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run a blocking ``HfApi`` call in a thread; Hub failures become :class:`ToolError`."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except ToolError:
        raise
    except Exception as exc:
        message = hub_error_message(exc)
        if message is None:
            raise
        raise ToolError(message) from None


def hub_error_message(exc: BaseException) -> str | None:
    """One or two sentences saying what went wrong and what to do; None if not a Hub error."""
    if isinstance(exc, HfUriError):
        return f"Invalid hf:// path {exc.uri!r}: {exc.msg}"
    if isinstance(exc, HFValidationError):
        return f"Invalid argument: {_one_line(str(exc))}"
    if isinstance(exc, OfflineModeIsEnabled):
        return "The Hub is unreachable: HF_HUB_OFFLINE is set."
    if isinstance(exc, HfHubHTTPError):
        return _http_error_message(exc)
    if isinstance(exc, LocalEntryNotFoundError):
        return "Could not download the file from the Hub (network problem). Retry in a moment."
    if isinstance(exc, httpx2.TransportError):
        return f"Could not reach the Hugging Face Hub ({type(exc).__name__}). Retry in a moment."
    if isinstance(exc, ValueError):
        return f"Invalid request: {_one_line(str(exc))}"
    return None


def _http_error_message(exc: HfHubHTTPError) -> str:
    status = exc.response.status_code if exc.response is not None else 0
    detail = _server_detail(exc)
    what = _subject(exc)
    if isinstance(exc, GatedRepoError):
        return (
            f"{what} is gated: the token's account has not been granted access. "
            "Request access on the repo page, wait for approval, then retry."
        )
    if isinstance(exc, DisabledRepoError):
        return f"{what} has been disabled by its owner; it cannot be used."
    if isinstance(exc, RevisionNotFoundError):
        return (
            f"Revision not found in {what}. Check the branch, tag or commit "
            "(hf_repo_git list_refs shows them)."
        )
    if isinstance(exc, RemoteEntryNotFoundError):
        return (
            f"File not found in {what} at that revision. "
            "List the repo's files with hf_repo_files list."
        )
    if isinstance(exc, JobNotFoundError):
        return f"Job {exc.job_id} not found. List jobs with hf_jobs ps."
    if isinstance(exc, RepositoryNotFoundError):
        return (
            f"{what} not found, or it is private and the token cannot see it. "
            "Check the repo id and repo_type (model, dataset or space)."
        )
    if _mentions_quota(detail) and status in (400, 403, 413, 429):
        return (
            f"Quota reached ({status}): the namespace has used up its allowance for this "
            "(storage, jobs or requests). Free some up, upgrade at "
            f"https://huggingface.co/settings/billing, or use another namespace.{detail}"
        )
    if status == 402 or (status in (400, 403) and _mentions_billing(detail)):
        return (
            f"Payment required ({status}): the namespace has no credits or billing for this. "
            f"Add credits at https://huggingface.co/settings/billing or use another namespace.{detail}"
        )
    if status == 401:
        return (
            "Authentication failed (401): the Hugging Face token is missing, invalid or expired. "
            "Ask the bot's operator to set a valid HF_TOKEN."
        )
    if status == 403:
        return (
            f"Permission denied (403): the token may not do this{_on(exc)}. "
            f"It needs write access to that namespace, or pick one you own.{detail}"
        )
    if status == 404:
        return f"Not found (404){_on(exc)}.{detail}"
    if status == 409:
        return f"Conflict (409): it already exists or was changed meanwhile.{detail}"
    if status == 429:
        return (
            f"Rate limited by the Hub (429){_retry_after(exc)}. Wait before retrying; do not loop."
        )
    if status >= 500:
        return f"The Hub had a server error ({status}). Retry in a minute.{detail}"
    return f"The Hub refused the request ({status}).{detail}"


def _subject(exc: HfHubHTTPError) -> str:
    repo_id = getattr(exc, "repo_id", None)
    repo_type = getattr(exc, "repo_type", None) or "repository"
    return f"{repo_type.capitalize()} '{repo_id}'" if repo_id else "The repository"


def _on(exc: HfHubHTTPError) -> str:
    request = exc.response.request if exc.response is not None else None
    return f" on {request.method} {request.url.path}" if request is not None else ""


def _server_detail(exc: HfHubHTTPError) -> str:
    message = (exc.server_message or "").strip()
    return f" Hub says: {_one_line(message)}" if message else ""


def _retry_after(exc: HfHubHTTPError) -> str:
    value = exc.response.headers.get("Retry-After") if exc.response is not None else None
    return f"; retry after {value} s" if value and value.isdigit() else ""


def _mentions_billing(text: str) -> bool:
    return any(word in text.lower() for word in BILLING_WORDS)


def _mentions_quota(text: str) -> bool:
    return any(word in text.lower() for word in QUOTA_WORDS)


def _one_line(text: str) -> str:
    """The text's lines joined into one, cut to a readable length."""
    line = " ".join(part.strip() for part in text.splitlines() if part.strip())
    return line if len(line) <= MAX_DETAIL else line[: MAX_DETAIL - 1] + "…"
