"""The model seam: streamed completions through LiteLLM, assembled into one reply.

Failed calls (429, 5xx, timeouts, dropped connections) are retried here, up to
``llm_retries`` times with exponential backoff and full jitter, honouring a
``Retry-After`` header; LiteLLM's and the OpenAI SDK's own retries are turned off
so attempts never multiply. A stream that goes silent for ``llm_timeout`` seconds
ends with a timeout.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from agent.config import AgentConfig
from agent.model import resolve_model

logger = logging.getLogger(__name__)

DEFAULT_CONTEXT_WINDOW = 128_000
RETRY_BASE = 0.5
RETRY_CAP = 8.0
RETRY_AFTER_CAP = 30.0

OBSERVERS: list[Callable[[str, float], None]] = []
"""Called after each call attempt with its outcome (ok, 429, 5xx, timeout, error) and seconds."""

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
import litellm  # noqa: E402  (the environment above must be set before the import)
from litellm.exceptions import ContextWindowExceededError  # noqa: E402

litellm.suppress_debug_info = True

__all__ = [
    "ContextWindowExceededError",
    "LLMClient",
    "LiteLLMClient",
    "LLMReply",
    "describe_llm_error",
    "stream_reply",
]


class LLMClient(Protocol):
    """What the loop needs from a model provider."""

    def stream(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> Awaitable[AsyncIterator[Any]]: ...

    async def complete(self, messages: list[dict[str, Any]]) -> str: ...

    def count_tokens(self, messages: list[dict[str, Any]]) -> int: ...

    def context_window(self) -> int: ...


class LiteLLMClient:
    """LiteLLM with the model resolved once (HF router, or an OpenAI-compatible override)."""

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.params = resolve_model(config)

    def _call_kwargs(self) -> dict[str, Any]:
        return {
            **self.params,
            "timeout": self.config.llm_timeout,
            "num_retries": 0,
            "max_retries": 0,
        }

    async def _call(self, **kwargs: Any) -> Any:
        """``litellm.acompletion``, retried on transient failures with backoff and jitter."""
        for attempt in itertools.count():
            started = time.monotonic()
            try:
                result = await litellm.acompletion(**kwargs, **self._call_kwargs())
            except Exception as exc:
                _observe(outcome_of(exc), time.monotonic() - started)
                if attempt >= self.config.llm_retries or not is_transient(exc):
                    raise
                delay = retry_delay(exc, attempt)
                logger.warning("model call failed (%s); retry in %.1fs", outcome_of(exc), delay)
                await asyncio.sleep(delay)
            else:
                _observe("ok", time.monotonic() - started)
                return result

    async def stream(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> AsyncIterator[Any]:
        extra = {"tools": tools, "tool_choice": "auto"} if tools else {}
        stream = await self._call(
            messages=messages, stream=True, stream_options={"include_usage": True}, **extra
        )
        return self._bounded(stream)

    async def _bounded(self, stream: Any) -> AsyncIterator[Any]:
        """The stream's chunks; a gap longer than ``llm_timeout`` raises ``litellm.Timeout``."""
        chunks = stream.__aiter__()
        try:
            while True:
                try:
                    chunk = await asyncio.wait_for(anext(chunks), self.config.llm_timeout)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    _observe("timeout", self.config.llm_timeout)
                    raise litellm.Timeout(
                        f"no data from the model for {self.config.llm_timeout:g}s",
                        self.params["model"],
                        "unknown",
                    ) from None
                yield chunk
        finally:
            close = getattr(stream, "aclose", None)
            if close is not None:
                await close()

    async def complete(self, messages: list[dict[str, Any]]) -> str:
        response = await self._call(messages=messages)
        return response.choices[0].message.content or ""

    def count_tokens(self, messages: list[dict[str, Any]]) -> int:
        return litellm.token_counter(model=self.params["model"], messages=messages)

    def context_window(self) -> int:
        if self.config.context_window:
            return self.config.context_window
        try:
            info = litellm.get_model_info(self.params["model"])
        except Exception:  # unknown to LiteLLM's map
            return DEFAULT_CONTEXT_WINDOW
        return int(info.get("max_input_tokens") or DEFAULT_CONTEXT_WINDOW)


@dataclass
class LLMReply:
    """One assistant reply, built up chunk by chunk (partial if the stream was cut)."""

    content: str = ""
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    finish_reason: str | None = None
    total_tokens: int = 0

    def add_tool_delta(self, delta: Any) -> None:
        call = self.tool_calls.setdefault(
            delta.index, {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
        )
        if delta.id:
            call["id"] = delta.id
        if delta.function:
            if delta.function.name:
                call["function"]["name"] += delta.function.name
            if delta.function.arguments:
                call["function"]["arguments"] += delta.function.arguments

    def ordered_tool_calls(self) -> list[dict[str, Any]]:
        return [self.tool_calls[i] for i in sorted(self.tool_calls)]


async def stream_reply(
    stream: AsyncIterator[Any], reply: LLMReply, on_text: Callable[[str], Awaitable[None]]
) -> None:
    """Consume a LiteLLM stream into ``reply``, handing text deltas to ``on_text``."""
    async for chunk in stream:
        usage = getattr(chunk, "usage", None)
        if usage:
            reply.total_tokens = usage.total_tokens or reply.total_tokens
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        if choice.finish_reason:
            reply.finish_reason = choice.finish_reason
        delta = choice.delta
        if delta.content:
            reply.content += delta.content
            await on_text(delta.content)
        for tool_delta in delta.tool_calls or []:
            reply.add_tool_delta(tool_delta)


def parse_arguments(raw: str) -> tuple[dict[str, Any] | None, str | None]:
    """Parse a tool call's JSON arguments: ``(args, None)`` or ``(None, error)``."""
    try:
        args = json.loads(raw or "{}")
    except (json.JSONDecodeError, TypeError, ValueError) as exc:
        return None, f"malformed JSON arguments ({exc})"
    if not isinstance(args, dict):
        return None, f"arguments must be a JSON object, not {type(args).__name__}"
    return args, None


def _observe(outcome: str, seconds: float) -> None:
    for observer in OBSERVERS:
        observer(outcome, seconds)


def outcome_of(exc: Exception) -> str:
    """``429``, ``5xx``, ``timeout`` or ``error``: how a model call failed."""
    status = getattr(exc, "status_code", None)
    if isinstance(exc, litellm.RateLimitError) or status == 429:
        return "429"
    if isinstance(exc, litellm.Timeout | asyncio.TimeoutError):
        return "timeout"
    if isinstance(exc, litellm.APIConnectionError) or (isinstance(status, int) and status >= 500):
        return "5xx"
    return "error"


def is_transient(exc: Exception) -> bool:
    """Worth another attempt: rate limits, server errors, timeouts, dropped connections."""
    return outcome_of(exc) != "error"


def retry_delay(exc: Exception, attempt: int) -> float:
    """The provider's Retry-After when it sent one, else exponential backoff with full jitter."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    try:
        return min(float(headers.get("retry-after", "")), RETRY_AFTER_CAP)
    except ValueError:
        return random.uniform(0, min(RETRY_CAP, RETRY_BASE * 2**attempt))


def describe_llm_error(exc: Exception) -> str:
    """A short message a person can act on, instead of a provider traceback."""
    status = getattr(exc, "status_code", None)
    detail = str(getattr(exc, "message", "") or exc).strip().splitlines()[0][:300]
    if isinstance(exc, litellm.RateLimitError) or status == 429:
        return "The model provider is rate-limiting requests (429). Wait a minute and send your message again."
    if isinstance(exc, litellm.Timeout):
        return (
            "The model did not answer in time. Send your message again, or try a smaller request."
        )
    if isinstance(exc, litellm.AuthenticationError) or status == 401:
        return "The model provider rejected the API key. Set INFERENCE_TOKEN (or HF_TOKEN / LLM_API_KEY) and restart."
    if isinstance(exc, litellm.APIConnectionError):
        return f"Could not reach the model provider: {detail}"
    if isinstance(exc, litellm.ServiceUnavailableError) or (status and status >= 500):
        return f"The model provider had an error ({status or 'unavailable'}). Try again shortly."
    return f"The model call failed: {type(exc).__name__}: {detail}"
