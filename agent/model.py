"""Model resolution: a LiteLLM model name to the keyword arguments of a completion call."""

from __future__ import annotations

from typing import Any

from agent.config import AgentConfig

HF_ROUTER_BASE = "https://router.huggingface.co/{provider}/v3/openai"
NO_KEY = "no-key"
"""Sent to an ``api_base`` given without a key: local servers need none, the client wants one."""


def resolve_model(config: AgentConfig) -> dict[str, Any]:
    """LiteLLM kwargs (``model``, and ``api_base``/``api_key`` when they apply).

    ``huggingface/<provider>/<org>/<model>`` goes through the HF router as an
    OpenAI-compatible endpoint. ``api_base``/``api_key`` in the config override
    whatever the model name implies, for any OpenAI-compatible server.
    """
    params: dict[str, Any] = {"model": config.model}
    parts = config.model.split("/", 2)
    if parts[0] == "huggingface" and len(parts) == 3:
        provider, model = parts[1], parts[2]
        params = {
            "model": f"openai/{model}",
            "api_base": HF_ROUTER_BASE.format(provider=provider),
            "api_key": config.inference_token,
        }
    if config.api_base:
        params["api_base"] = config.api_base
        if "/" not in params["model"]:
            params["model"] = f"openai/{params['model']}"
    if config.api_key:
        params["api_key"] = config.api_key
    elif config.api_base and not params.get("api_key"):
        params["api_key"] = NO_KEY
    return params
