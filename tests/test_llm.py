"""The model seam on both stream paths (the ``openai`` client and LiteLLM) against the
loopback OpenAI-compatible server: chunks, retries and Retry-After, silence timeouts,
context-window errors, credentials, and what a person is told."""

import dataclasses
import json
import logging

import litellm
import pytest

from agent.config import AgentConfig
from agent.llm import (
    OBSERVERS,
    ContextWindowExceededError,
    CredentialError,
    LiteLLMClient,
    LLMReply,
    OpenAIClient,
    describe_llm_error,
    make_llm_client,
    retry_delay,
    stream_reply,
)
from tests.closing import closed
from tests.conftest import free_port
from tests.standins.llm import context_window_exceeded, error, hang, text, tool_calls, truncated
from tests.support import agent_config

HI = [{"role": "user", "content": "hi"}]
ECHO_SPEC = {
    "type": "function",
    "function": {"name": "echo", "description": "Echo.", "parameters": {"type": "object"}},
}


@pytest.fixture
def outcomes():
    """The outcome of every model call attempt, as ``OBSERVERS`` see them."""
    seen: list[str] = []

    def observe(outcome: str, seconds: float) -> None:
        seen.append(outcome)

    OBSERVERS.append(observe)
    yield seen
    OBSERVERS.remove(observe)


@pytest.fixture
async def client_for(llm_client):
    """Makes a client of this run's stream path for the stand-in; closes them afterwards."""
    made = []

    def make(llm, **overrides):
        config = dataclasses.replace(agent_config(llm), llm_client=llm_client, **overrides)
        client = make_llm_client(config)
        assert type(client) is (LiteLLMClient if llm_client == "litellm" else OpenAIClient)
        made.append(client)
        return client

    yield make
    for client in made:
        await closed("an LLM client", client.aclose())


async def collect(client, tools=()):
    reply, texts = LLMReply(), []

    async def on_text(piece: str) -> None:
        texts.append(piece)

    await stream_reply(await client.stream(HI, list(tools)), reply, on_text)
    return reply, texts


def test_the_path_follows_the_endpoint():
    router = make_llm_client(
        AgentConfig(model="huggingface/novita/moonshotai/kimi-k2.5", inference_token="hf_x")
    )
    assert isinstance(router, OpenAIClient)
    assert router.endpoint.base_url == "https://router.huggingface.co/novita/v3/openai"
    assert router.endpoint.model == "moonshotai/kimi-k2.5"
    assert router.endpoint.api_key == "hf_x"
    own = make_llm_client(AgentConfig(model="my-model", api_base="http://127.0.0.1:9/v1"))
    assert isinstance(own, OpenAIClient) and own.endpoint.model == "my-model"
    assert type(make_llm_client(AgentConfig(model="anthropic/claude-sonnet-4"))) is LiteLLMClient
    # an api_base for another LiteLLM provider (a proxy in front of it) stays with LiteLLM
    proxied = AgentConfig(model="anthropic/claude-sonnet-4", api_base="http://127.0.0.1:9")
    assert type(make_llm_client(proxied)) is LiteLLMClient
    forced = AgentConfig(model="my-model", api_base="http://127.0.0.1:9/v1", llm_client="litellm")
    assert type(make_llm_client(forced)) is LiteLLMClient


async def test_text_tool_calls_and_usage_arrive_as_the_loop_reads_them(llm, client_for, outcomes):
    llm.script(
        text("Hello there, how can I help?", chunk_size=4, usage_tokens=123),
        tool_calls(("echo", {"text": "a"}, "call_A"), ("echo", {"text": "bb"}), content="Both."),
    )
    client = client_for(llm)

    reply, texts = await collect(client, [ECHO_SPEC])
    assert reply.content == "Hello there, how can I help?" and len(texts) == 7
    assert reply.finish_reason == "stop" and reply.total_tokens == 123
    sent = llm.requests[0]
    assert sent["model"] == "test-model" and sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["tool_choice"] == "auto" and sent["tools"][0]["function"]["name"] == "echo"
    assert llm.authorizations == ["Bearer sk-test"]  # the key, on either stream path

    reply, _ = await collect(client, [ECHO_SPEC])
    assert reply.content == "Both." and reply.finish_reason == "tool_calls"
    calls = reply.ordered_tool_calls()
    assert [c["function"]["name"] for c in calls] == ["echo", "echo"]
    assert calls[0]["id"] == "call_A" and calls[1]["id"].startswith("call_")
    assert [json.loads(c["function"]["arguments"]) for c in calls] == [
        {"text": "a"},
        {"text": "bb"},
    ]
    assert outcomes == ["ok", "ok"]


async def test_a_reply_cut_at_the_output_limit_says_length(llm, client_for):
    llm.script(truncated("The first half", calls=[("echo", {"text": "big"})]))
    reply, _ = await collect(client_for(llm))
    assert reply.finish_reason == "length" and reply.content == "The first half"


async def test_complete_returns_the_message_unstreamed(llm, client_for):
    llm.script(text("A summary."))
    assert await client_for(llm).complete(HI) == "A summary."
    assert not llm.requests[0].get("stream") and llm.requests[0]["model"] == "test-model"


async def test_429_and_5xx_are_retried_honouring_retry_after(llm, client_for, outcomes, caplog):
    caplog.set_level(logging.WARNING, logger="agent.llm")
    # 0.7 s is past the first backoff's ceiling (0.5 s): only the header can give it
    llm.script(
        error(429, "slow down", headers={"Retry-After": "0.7"}),
        error(503, "overloaded"),
        text("Third time lucky."),
    )
    reply, _ = await collect(client_for(llm, llm_retries=2))

    assert reply.content == "Third time lucky."
    assert len(llm.requests) == 3
    assert outcomes == ["429", "5xx", "ok"]
    assert "model call failed (429); retry in 0.7s" in caplog.text


async def test_retry_after_is_read_from_the_error_each_path_raises(llm, client_for, outcomes):
    llm.script(error(429, "slow down", headers={"Retry-After": "7"}))
    with pytest.raises(Exception) as raised:
        await client_for(llm).stream(HI, [])
    assert retry_delay(raised.value, 0) == 7.0
    assert describe_llm_error(raised.value).startswith("The model provider is rate-limiting")
    assert outcomes == ["429"]


async def test_no_retries_beyond_our_own(llm, client_for, outcomes):
    llm.script(error(500, "boom"), text("never asked for"))
    with pytest.raises(Exception) as raised:
        await client_for(llm, llm_retries=0).stream(HI, [])
    assert describe_llm_error(raised.value) == (
        "The model provider had an error (500). Try again shortly."
    )
    assert len(llm.requests) == 1 and llm.pending() == 1
    assert outcomes == ["5xx"]


@pytest.mark.parametrize("status", [401, 403])
async def test_a_refused_credential_is_not_retried_and_says_what_to_set(
    llm, client_for, outcomes, status
):
    llm.script(error(status, "Invalid credentials in Authorization header"), text("never"))
    with pytest.raises(CredentialError) as raised:
        await client_for(llm, llm_retries=2).stream(HI, [])

    assert len(llm.requests) == 1 and llm.pending() == 1
    assert outcomes == ["auth"]
    told = describe_llm_error(raised.value)
    assert told == str(raised.value)
    assert f"refused the credential for the model openai/test-model ({status}: " in told
    assert "Invalid credentials in Authorization header" in told
    assert "LLM_API_KEY" in told and llm.base_url in told
    assert raised.value.status_code == status


async def test_a_missing_router_token_fails_before_any_request(llm_client, outcomes, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-go-to-the-router")
    config = AgentConfig(model="huggingface/novita/org/m", llm_client=llm_client, llm_retries=2)
    client = make_llm_client(config)
    for call in (client.stream(HI, []), client.complete(HI)):
        with pytest.raises(CredentialError) as raised:
            await call
        told = describe_llm_error(raised.value)
        assert "No credential is set for the model huggingface/novita/org/m" in told
        assert "INFERENCE_TOKEN" in told and "HF_TOKEN" in told and "LLM_API_BASE" in told
    assert outcomes == []  # no attempt was made


@pytest.mark.parametrize(
    ("model", "variable"),
    [("openai/gpt-4o", "OPENAI_API_KEY"), ("anthropic/claude-sonnet-4", "ANTHROPIC_API_KEY")],
)
async def test_a_missing_provider_key_is_not_retried_like_a_5xx(
    outcomes, monkeypatch, model, variable
):
    # LiteLLM fails these before sending anything: OpenAI's as a 500, Anthropic's as a 401
    monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    client = make_llm_client(AgentConfig(model=model, llm_retries=2, llm_timeout=5))
    assert type(client) is LiteLLMClient

    with pytest.raises(CredentialError) as raised:
        await client.stream(HI, [])

    assert outcomes == ["auth"]
    told = describe_llm_error(raised.value)
    assert f"No credential is set for the model {model}" in told and variable in told


async def test_a_silent_stream_times_out(llm, client_for, outcomes):
    llm.script(hang())
    stream = await client_for(llm, llm_timeout=0.3).stream(HI, [])
    with pytest.raises(litellm.Timeout) as raised:
        await stream_reply(stream, LLMReply(), _ignore)
    assert describe_llm_error(raised.value).startswith("The model did not answer in time.")
    assert outcomes == ["ok", "timeout"]


async def test_context_window_errors_raise_the_type_the_loop_catches(llm, client_for, outcomes):
    llm.script(context_window_exceeded(), context_window_exceeded())
    client = client_for(llm, llm_retries=2)
    with pytest.raises(ContextWindowExceededError):
        await client.stream(HI, [])
    with pytest.raises(ContextWindowExceededError):
        await client.complete(HI)
    assert outcomes == ["error", "error"] and len(llm.requests) == 2


async def test_an_unreachable_server_is_described(llm_client, outcomes):
    config = AgentConfig(
        model="openai/test-model",
        api_base=f"http://127.0.0.1:{free_port()}/v1",
        llm_retries=0,
        llm_client=llm_client,
    )
    client = make_llm_client(config)
    with pytest.raises(Exception) as raised:
        await client.stream(HI, [])
    await client.aclose()
    assert describe_llm_error(raised.value).startswith("Could not reach the model provider: ")
    assert outcomes == ["5xx"]


async def _ignore(_: str) -> None:
    return None
