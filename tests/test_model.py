"""Model resolution: HF router rewriting, OpenAI-compatible overrides, credentials."""

from agent.config import AgentConfig
from agent.model import (
    OpenAIEndpoint,
    credential_problem,
    credential_refused,
    missing_credentials,
    openai_endpoint,
    resolve_model,
)


def test_hf_router_model_is_rewritten_to_openai_with_router_base():
    params = resolve_model(
        AgentConfig(model="huggingface/novita/moonshotai/kimi-k2.5", inference_token="hf_inf")
    )
    assert params == {
        "model": "openai/moonshotai/kimi-k2.5",
        "api_base": "https://router.huggingface.co/novita/v3/openai",
        "api_key": "hf_inf",
    }


def test_plain_litellm_names_pass_through():
    assert resolve_model(AgentConfig(model="anthropic/claude-sonnet-4")) == {
        "model": "anthropic/claude-sonnet-4"
    }
    # too short to be a router name: left to LiteLLM
    assert resolve_model(AgentConfig(model="huggingface/x")) == {"model": "huggingface/x"}


def test_api_base_and_key_override_any_model():
    params = resolve_model(
        AgentConfig(
            model="huggingface/novita/org/m",
            inference_token="hf_inf",
            api_base="http://127.0.0.1:9/v1",
            api_key="sk-local",
        )
    )
    assert params == {
        "model": "openai/org/m",
        "api_base": "http://127.0.0.1:9/v1",
        "api_key": "sk-local",
    }


def test_bare_model_name_with_api_base_speaks_openai_with_a_placeholder_key():
    params = resolve_model(AgentConfig(model="my-model", api_base="http://127.0.0.1:9/v1"))
    assert params == {
        "model": "openai/my-model",
        "api_base": "http://127.0.0.1:9/v1",
        "api_key": "no-key",
    }


def test_settings_fall_back_from_inference_token_to_hf_token(monkeypatch):
    from bot.settings import Settings

    monkeypatch.delenv("INFERENCE_TOKEN", raising=False)
    monkeypatch.setenv("HF_TOKEN", "hf_user")
    assert Settings(_env_file=None).agent_config().inference_token == "hf_user"
    monkeypatch.setenv("INFERENCE_TOKEN", "hf_inf")
    assert Settings(_env_file=None).agent_config().inference_token == "hf_inf"


# ── credentials ─────────────────────────────────────────────────────────

ROUTER = "huggingface/novita/moonshotai/kimi-k2.5"


def test_a_router_model_without_a_token_says_which_model_and_what_to_set():
    problem = credential_problem(AgentConfig(model=ROUTER))
    assert problem is not None and "\n" not in problem
    assert f"No credential is set for the model {ROUTER}" in problem
    assert "Hugging Face router" in problem
    for name in ("INFERENCE_TOKEN", "HF_TOKEN", "LLM_API_BASE", "LLM_API_KEY"):
        assert name in problem
    assert credential_problem(AgentConfig(model=ROUTER, inference_token="hf_x")) is None
    assert credential_problem(AgentConfig(model=ROUTER, api_key="sk-x")) is None


def test_an_own_server_needs_no_key():
    # local OpenAI-compatible servers take none: the placeholder key is sent
    config = AgentConfig(model="my-model", api_base="http://127.0.0.1:9/v1")
    assert credential_problem(config) is None
    assert credential_problem(AgentConfig(model=ROUTER, api_base="http://127.0.0.1:9/v1")) is None


def test_other_providers_name_their_own_key_variable(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    config = AgentConfig(model="anthropic/claude-sonnet-4")
    problem = credential_problem(config)
    assert problem is not None
    assert "No credential is set for the model anthropic/claude-sonnet-4" in problem
    assert "`anthropic` provider reports ANTHROPIC_API_KEY missing" in problem
    assert "LLM_API_KEY" in problem
    assert credential_problem(AgentConfig(model="anthropic/claude-sonnet-4", api_key="k")) is None
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant")
    assert credential_problem(config) is None


def test_only_credentials_count_as_missing(monkeypatch):
    # LiteLLM reports OLLAMA_API_BASE for ollama and the project/location for Vertex:
    # neither is a credential (Ollama takes none, Vertex authenticates its own way)
    for name in ("OLLAMA_API_BASE", "VERTEXAI_PROJECT", "VERTEXAI_LOCATION"):
        monkeypatch.delenv(name, raising=False)
    assert credential_problem(AgentConfig(model="ollama/llama3")) is None
    assert credential_problem(AgentConfig(model="vertex_ai/gemini-pro")) is None
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert missing_credentials(AgentConfig(model="openai/gpt-4o")) == ["OPENAI_API_KEY"]
    # cloud keys are reported, but a role of the machine may stand in for them
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    bedrock = credential_problem(AgentConfig(model="bedrock/anthropic.claude-3"))
    assert bedrock is not None and "AWS_ACCESS_KEY_ID" in bedrock and "cloud role" in bedrock


def test_a_refused_credential_names_the_variable_that_supplied_it():
    router = credential_refused(AgentConfig(model=ROUTER, inference_token="hf_x"), 401, "bad")
    assert f"refused the credential for the model {ROUTER} (401: bad)" in router
    assert "INFERENCE_TOKEN (or HF_TOKEN)" in router
    own = AgentConfig(model="m", api_base="http://127.0.0.1:9/v1")
    assert "No key was sent to LLM_API_BASE (http://127.0.0.1:9/v1): set LLM_API_KEY" in (
        credential_refused(own, 401, "no")
    )
    keyed = credential_refused(AgentConfig(model="m", api_base="http://h/v1", api_key="k"), 403)
    assert "(403)" in keyed and "Check LLM_API_KEY" in keyed
    other = credential_refused(AgentConfig(model="anthropic/claude-sonnet-4"), 401, "invalid x")
    assert "ANTHROPIC_API_KEY" in other and "LLM_API_KEY" in other


def test_openai_compatible_endpoints_are_recognised():
    router = openai_endpoint(resolve_model(AgentConfig(model=ROUTER, inference_token="t")))
    assert router == OpenAIEndpoint(
        "https://router.huggingface.co/novita/v3/openai", "t", "moonshotai/kimi-k2.5"
    )
    own = openai_endpoint(resolve_model(AgentConfig(model="org/m", api_base="http://h/v1")))
    assert own is None  # "org/m" is not LiteLLM's openai/ provider: LiteLLM decides
    own = openai_endpoint(resolve_model(AgentConfig(model="openai/org/m", api_base="http://h/v1")))
    assert own == OpenAIEndpoint("http://h/v1", "no-key", "org/m")
    assert openai_endpoint(resolve_model(AgentConfig(model="openai/gpt-4o"))) is None
