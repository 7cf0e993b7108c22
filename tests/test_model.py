"""Model resolution: HF router rewriting and OpenAI-compatible overrides."""

from agent.config import AgentConfig
from agent.model import resolve_model


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
