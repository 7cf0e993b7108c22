"""The model seam: streamed completions, assembled into one reply.

An OpenAI-compatible endpoint (the HF router, or ``api_base``) is streamed through the
``openai`` client, which costs a fraction of LiteLLM's CPU per chunk; every other
provider goes through ``litellm.acompletion``. LiteLLM stays how models are named and
described on both paths: model info, context windows, token counts, prices (each call's
tokens and cost are counted in an :class:`agent.usage.Usage`).

Failed calls (429, 5xx, timeouts, dropped connections) are retried here, up to
``llm_retries`` times with exponential backoff and full jitter, honouring a
``Retry-After`` header; LiteLLM's and the OpenAI SDK's own retries are turned off
so attempts never multiply. A missing or refused credential (401/403) is never
retried: it ends the call with a :class:`CredentialError` that says what to set.
A stream that goes silent for ``llm_timeout`` seconds ends with a timeout.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

import aiohttp
import openai

from agent.config import AgentConfig
from agent.model import (
    credential_problem,
    credential_refused,
    keys_only,
    missing_credentials,
    openai_endpoint,
    resolve_model,
    uses_hf_router,
)
from agent.usage import Usage

logger = logging.getLogger(__name__)

DEFAULT_CONTEXT_WINDOW = 128_000

OBSERVERS: list[Callable[[str, float], None]] = []
"""Called after each call attempt with its outcome (ok, 429, 5xx, timeout, auth, error) and seconds."""

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
import litellm  # noqa: E402  (the environment above must be set before the import)
from litellm.exceptions import ContextWindowExceededError  # noqa: E402

from agent.llm_errors import (  # noqa: E402
    TRANSIENT,
    CredentialError,
    describe_llm_error,
    error_detail,
    outcome_of,
    retry_delay,
)

litellm.suppress_debug_info = True

__all__ = [
    "ContextWindowExceededError",
    "CredentialError",
    "LLMClient",
    "LiteLLMClient",
    "LLMReply",
    "OpenAIClient",
    "describe_llm_error",
    "make_llm_client",
    "stream_reply",
]


class LLMClient(Protocol):
    """What the loop needs from a model provider."""

    def stream(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> Awaitable[AsyncIterator[Any]]: ...

    async def complete(self, messages: list[dict[str, Any]], usage: Usage | None = None) -> str: ...

    def record_usage(self, usage: Usage, prompt_tokens: int, completion_tokens: int) -> None: ...

    def count_tokens(self, messages: list[dict[str, Any]]) -> int: ...

    async def aclose(self) -> None: ...

    def context_window(self) -> int: ...


def make_llm_client(config: AgentConfig) -> LLMClient:
    """The ``openai`` client for an OpenAI-compatible endpoint, else LiteLLM (or LiteLLM for
    everything when ``config.llm_client`` is ``litellm``)."""
    if config.llm_client != "litellm" and openai_endpoint(resolve_model(config)):
        return OpenAIClient(config)
    return LiteLLMClient(config)


class _ModelClient:
    """What both paths share: the retry policy, the silence timeout, LiteLLM's model info."""

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.params = resolve_model(config)
        # Our own routing: without a token the HF router can only refuse.
        self._no_credential = credential_problem(config) if uses_hf_router(config.model) else None

    async def _attempt(self, **kwargs: Any) -> Any:
        raise NotImplementedError

    def _translate(self, exc: Exception) -> Exception:
        """The exception the loop expects for ``exc`` (the same object when nothing maps)."""
        return exc

    async def _call(self, **kwargs: Any) -> Any:
        """One completion, retried on transient failures with backoff and jitter."""
        if self._no_credential:
            raise CredentialError(self._no_credential)
        for attempt in itertools.count():
            started = time.monotonic()
            try:
                result = await self._attempt(**kwargs)
            except Exception as exc:
                error = self._translate(exc)
                outcome = outcome_of(error)
                refused = self._credential_failure(error, outcome)
                if refused is not None:
                    error, outcome = refused, "auth"
                _observe(outcome, time.monotonic() - started)
                if attempt >= self.config.llm_retries or outcome not in TRANSIENT:
                    if error is exc:
                        raise
                    raise error from exc
                delay = retry_delay(error, attempt)
                logger.warning("model call failed (%s); retry in %.1fs", outcome, delay)
                await asyncio.sleep(delay)
            else:
                _observe("ok", time.monotonic() - started)
                return result

    def _credential_failure(self, error: Exception, outcome: str) -> CredentialError | None:
        """A :class:`CredentialError` when ``error`` comes from a missing or refused key."""
        if isinstance(error, CredentialError):
            return error
        if outcome == "auth":
            status = getattr(error, "status_code", None)
            problem = credential_problem(self.config)
            return CredentialError(
                problem or credential_refused(self.config, status, error_detail(error)), status
            )
        # LiteLLM reports some providers' missing key as a 500 (OpenAI's "Missing
        # credentials"); with an API key missing, nothing else can be the cause.
        if (
            outcome in ("5xx", "error")
            and not isinstance(error, ContextWindowExceededError)
            and keys_only(missing_credentials(self.config))
        ):
            return CredentialError(credential_problem(self.config) or "")
        return None

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
        chunks = aiter(stream)
        timeout = self.config.llm_timeout
        try:
            while True:
                try:
                    async with asyncio.timeout(timeout):
                        chunk = await anext(chunks)
                except StopAsyncIteration:
                    return
                except (TimeoutError, openai.APITimeoutError):
                    _observe("timeout", timeout)
                    raise self._silence() from None
                yield chunk
        finally:
            close = getattr(stream, "aclose", None)
            if close is not None:
                await close()

    def _silence(self) -> Exception:
        return litellm.Timeout(
            f"no data from the model for {self.config.llm_timeout:g}s",
            self.params["model"],
            "unknown",
        )

    async def complete(self, messages: list[dict[str, Any]], usage: Usage | None = None) -> str:
        """The model's reply to ``messages``; its tokens counted in ``usage`` when given."""
        response = await self._call(messages=messages)
        if usage is not None:
            counted = getattr(response, "usage", None)
            prompt = getattr(counted, "prompt_tokens", 0) or 0
            self.record_usage(usage, prompt, getattr(counted, "completion_tokens", 0) or 0)
        return response.choices[0].message.content or ""

    def record_usage(self, usage: Usage, prompt_tokens: int, completion_tokens: int) -> None:
        """Count a call of this model in ``usage``: its tokens, and its cost when priced."""
        cost = None
        if self.prices is not None:
            cost = prompt_tokens * self.prices[0] + completion_tokens * self.prices[1]
        usage.add(prompt_tokens, completion_tokens, cost)

    @cached_property
    def prices(self) -> tuple[float, float] | None:
        """USD per prompt token and per completion token (LiteLLM's model map)."""
        return model_prices(self.params["model"])

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

    async def aclose(self) -> None:
        """Release connections (nothing to do for LiteLLM, which keeps its own clients)."""


class LiteLLMClient(_ModelClient):
    """LiteLLM with the model resolved once: any provider LiteLLM knows."""

    async def _attempt(self, **kwargs: Any) -> Any:
        return await litellm.acompletion(
            **kwargs,
            **self.params,
            timeout=self.config.llm_timeout,
            num_retries=0,
            max_retries=0,
        )


class OpenAIClient(_ModelClient):
    """The ``openai`` client against an OpenAI-compatible endpoint (HF router, ``api_base``).

    One ``AsyncOpenAI`` per event loop (its connection pool belongs to the loop that
    opened it), with the SDK's own retries off, on the SDK's aiohttp transport
    (``DefaultAioHttpClient``: reading a chunk takes about half the CPU of its default
    HTTPX2 transport). A stream's chunks are plain JSON objects (dicts), not the SDK's
    models. ``aclose()`` releases its connections.
    """

    def __init__(self, config: AgentConfig) -> None:
        super().__init__(config)
        endpoint = openai_endpoint(self.params)
        if endpoint is None:
            raise ValueError(f"{config.model} is not served by an OpenAI-compatible endpoint")
        self.endpoint = endpoint
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: openai.AsyncOpenAI | None = None

    def _openai(self) -> openai.AsyncOpenAI:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            OPEN_CLIENTS.add(self)
            self._loop = loop
            self._client = openai.AsyncOpenAI(
                base_url=self.endpoint.base_url,
                api_key=self.endpoint.api_key,
                max_retries=0,
                timeout=self.config.llm_timeout,
                # the SDK's defaults, without its finaliser: that one schedules the close of
                # a client left behind by a finished loop on whichever loop runs next
                http_client=openai.DefaultAioHttpClient(),
            )
        return self._client

    async def _attempt(self, **kwargs: Any) -> Any:
        body = {"model": self.endpoint.model, **kwargs}
        if not kwargs.get("stream"):
            return await self._openai().chat.completions.create(**body)
        # The request, its errors and the stream's events as the SDK's
        # chat.completions.create makes them, but each chunk kept as the JSON it arrives
        # in (``object``): a pydantic model built per chunk costs ~100 µs of CPU.
        return await self._openai().post(
            "/chat/completions",
            body=body,
            cast_to=object,
            options={"security": {"bearer_auth": True}},
            stream=True,
            stream_cls=openai.AsyncStream[object],
        )

    def _translate(self, exc: Exception) -> Exception:
        if isinstance(exc, openai.APITimeoutError) and refused_connection(exc):
            return openai.APIConnectionError(request=exc.request)
        if isinstance(exc, openai.BadRequestError) and context_overflow(exc):
            return ContextWindowExceededError(
                message=error_detail(exc),
                model=self.params["model"],
                llm_provider="openai",
                response=exc.response,
            )
        return exc

    async def _bounded(self, stream: Any) -> AsyncIterator[Any]:
        """The stream's chunks. The transport's read timeout (``llm_timeout``) bounds the
        silence between them, which the SDK raises as ``APITimeoutError``: no timer per
        chunk here."""
        try:
            async for chunk in stream:
                yield chunk
        except openai.APITimeoutError:
            _observe("timeout", self.config.llm_timeout)
            raise self._silence() from None
        finally:
            await stream.close()

    async def aclose(self) -> None:
        client, self._client, self._loop = self._client, None, None
        OPEN_CLIENTS.discard(self)
        if client is not None:
            await client.close()


OPEN_CLIENTS: weakref.WeakSet[OpenAIClient] = weakref.WeakSet()
"""The clients with a connection pool open (aiohttp warns of one never closed)."""


async def close_open_clients() -> None:
    """Close the connection pools opened on the running loop, whoever's client opened them
    (an agent's owner that never called ``aclose``)."""
    loop = asyncio.get_running_loop()
    for client in list(OPEN_CLIENTS):
        if client._loop is loop:
            await client.aclose()


def model_prices(model: str) -> tuple[float, float] | None:
    """USD per prompt token and per completion token of ``model`` in LiteLLM's model map;
    None when the map names no price for it (an unknown model, or prices of 0: unknown)."""
    try:
        info = litellm.get_model_info(model)
    except Exception:  # unknown to LiteLLM's map
        return None
    prompt = float(info.get("input_cost_per_token") or 0.0)
    completion = float(info.get("output_cost_per_token") or 0.0)
    return (prompt, completion) if prompt > 0 or completion > 0 else None


def refused_connection(exc: openai.APITimeoutError) -> bool:
    """Whether a "timeout" is a connection that failed at once (refused, no such host): the
    aiohttp transport reports every failed connection as a connect timeout."""
    mapped = exc.__cause__  # the transport's error, from aiohttp's own
    return isinstance(getattr(mapped, "__cause__", None), aiohttp.ClientConnectorError)


def context_overflow(exc: openai.BadRequestError) -> bool:
    """Whether a 400 says the prompt does not fit the context window (LiteLLM's test)."""
    if exc.code == "context_length_exceeded":
        return True
    try:
        from litellm.litellm_core_utils.exception_mapping_utils import ExceptionCheckers
    except ImportError:  # moved in a later LiteLLM: the code above still maps OpenAI's own
        return "maximum context length" in str(exc).lower()
    return ExceptionCheckers.is_error_str_context_window_exceeded(str(exc))


@dataclass
class LLMReply:
    """One assistant reply, built up chunk by chunk (partial if the stream was cut)."""

    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    finish_reason: str | None = None
    total_tokens: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    """The provider's counts, from the stream's usage chunk (0 when it sent none)."""
    texts: list[str] = field(default_factory=list)
    """The text deltas; ``content`` joins them (appending to one string would copy it
    whole at every chunk)."""

    @property
    def content(self) -> str:
        if len(self.texts) > 1:
            self.texts[:] = ["".join(self.texts)]
        return self.texts[0] if self.texts else ""

    def add_tool_delta(self, delta: Any) -> None:
        call = self.tool_calls.setdefault(
            delta.get("index"),
            {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
        )
        if tool_id := delta.get("id"):
            call["id"] = tool_id
        if function := delta.get("function"):
            if name := function.get("name"):
                call["function"]["name"] += name
            if arguments := function.get("arguments"):
                call["function"]["arguments"] += arguments

    def ordered_tool_calls(self) -> list[dict[str, Any]]:
        return [self.tool_calls[i] for i in sorted(self.tool_calls)]


async def stream_reply(
    stream: AsyncIterator[Any], reply: LLMReply, on_text: Callable[[str], Awaitable[None]]
) -> None:
    """Consume a stream of OpenAI-shaped chunks into ``reply``, handing text to ``on_text``.

    Chunks are read as mappings (``get``): the JSON objects of the ``openai`` path, and
    LiteLLM's chunk models, which read the same way."""
    async for chunk in stream:
        if usage := chunk.get("usage"):
            reply.total_tokens = usage.get("total_tokens") or reply.total_tokens
            reply.prompt_tokens = usage.get("prompt_tokens") or reply.prompt_tokens
            reply.completion_tokens = usage.get("completion_tokens") or reply.completion_tokens
        if not (choices := chunk.get("choices")):
            continue
        choice = choices[0]
        if finish_reason := choice.get("finish_reason"):
            reply.finish_reason = finish_reason
        delta = choice.get("delta") or {}
        if text := delta.get("content"):
            reply.texts.append(text)
            await on_text(text)
        for tool_delta in delta.get("tool_calls") or []:
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
