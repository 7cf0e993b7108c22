"""What went wrong in a model call: its outcome (429, 5xx, timeout, auth), whether to try
again and when, and a sentence a person can act on. Shared by both stream paths."""

from __future__ import annotations

import asyncio
import random
import re

import litellm
import openai

RETRY_BASE = 0.5
RETRY_CAP = 8.0
RETRY_AFTER_CAP = 30.0


class CredentialError(Exception):
    """No credential is set for the model, or the provider refused it (``status_code`` 401 or
    403). Never retried; ``str()`` is the explanation for a person, naming what to set."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


TRANSIENT = frozenset({"429", "5xx", "timeout"})


def outcome_of(exc: Exception) -> str:
    """``429``, ``5xx``, ``timeout``, ``auth`` or ``error``: how a model call failed.

    LiteLLM's exceptions subclass the ``openai`` ones, so one test covers both paths.
    """
    status = getattr(exc, "status_code", None)
    if isinstance(
        exc, CredentialError | openai.AuthenticationError | openai.PermissionDeniedError
    ) or status in (401, 403):
        return "auth"
    if isinstance(exc, openai.RateLimitError) or status == 429:
        return "429"
    if isinstance(exc, openai.APITimeoutError | asyncio.TimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError) or (isinstance(status, int) and status >= 500):
        return "5xx"
    return "error"


def retry_delay(exc: Exception, attempt: int) -> float:
    """The provider's Retry-After when it sent one, else exponential backoff with full jitter."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    try:
        return min(float(headers.get("retry-after", "")), RETRY_AFTER_CAP)
    except ValueError:
        return random.uniform(0, min(RETRY_CAP, RETRY_BASE * 2**attempt))


_LITELLM_PREFIX = re.compile(r"^litellm\.\w+: (?:\w+: )?(?:\w+Exception - )?")


def error_detail(exc: Exception) -> str:
    """The provider's own message, one line (without LiteLLM's class-name prefixes)."""
    body = getattr(exc, "body", None)
    message = body.get("message") if isinstance(body, dict) else None
    text = str(message or getattr(exc, "message", "") or exc).strip()
    return _LITELLM_PREFIX.sub("", text.splitlines()[0] if text else "")[:300]


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _connection_failure(exc: Exception) -> str | None:
    """What broke when no answer came back at all (LiteLLM reports that as a 500): the
    innermost cause, e.g. ``ConnectionRefusedError: [Errno 111] …``; else None."""
    chain = _causes(exc)
    if not any(
        isinstance(e, openai.APIConnectionError) and not isinstance(e, openai.APITimeoutError)
        for e in chain
    ):
        return None
    root = chain[-1]
    said = str(root).strip().splitlines()[0][:300] if str(root).strip() else ""
    return f"{type(root).__name__}: {said}" if said else type(root).__name__


def describe_llm_error(exc: Exception) -> str:
    """A short message a person can act on, instead of a provider traceback."""
    if isinstance(exc, CredentialError):
        return str(exc)
    status = getattr(exc, "status_code", None)
    detail = str(getattr(exc, "message", "") or exc).strip().splitlines()[0][:300]
    if isinstance(exc, openai.RateLimitError) or status == 429:
        return "The model provider is rate-limiting requests (429). Wait a minute and send your message again."
    if isinstance(exc, openai.APITimeoutError):
        return (
            "The model did not answer in time. Send your message again, or try a smaller request."
        )
    if outcome_of(exc) == "auth":
        return (
            f"The model provider refused the credential ({status or 'auth'}). Set INFERENCE_TOKEN "
            "(or HF_TOKEN) for the HF router, or LLM_API_KEY for LLM_API_BASE, and restart."
        )
    if unreachable := _connection_failure(exc):
        return f"Could not reach the model provider: {unreachable}"
    if isinstance(exc, litellm.ServiceUnavailableError) or (status and status >= 500):
        return f"The model provider had an error ({status or 'unavailable'}). Try again shortly."
    return f"The model call failed: {type(exc).__name__}: {detail}"
