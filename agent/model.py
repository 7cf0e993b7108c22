"""Model resolution: a LiteLLM model name to the keyword arguments of a completion call,
which endpoint that is, and whether a credential for it is set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent.config import AgentConfig

HF_ROUTER_BASE = "https://router.huggingface.co/{provider}/v3/openai"
NO_KEY = "no-key"
"""Sent to an ``api_base`` given without a key: local servers need none, the client wants one."""

ROUTER_TOKENS = "INFERENCE_TOKEN (or HF_TOKEN)"
OWN_SERVER = (
    "or set LLM_API_BASE to the URL of an OpenAI-compatible server (and LLM_API_KEY, if it "
    "wants a key)"
)
CREDENTIAL_MARKS = ("KEY", "TOKEN", "SECRET", "CREDENTIAL")
"""What names a credential among the variables LiteLLM reports missing (not bases, regions)."""
KEY_ONLY = ("_API_KEY", "_TOKEN")
"""Credentials that have no other way in (unlike cloud keys, which a machine role replaces)."""


def resolve_model(config: AgentConfig) -> dict[str, Any]:
    """LiteLLM kwargs (``model``, and ``api_base``/``api_key`` when they apply).

    ``huggingface/<provider>/<org>/<model>`` goes through the HF router as an
    OpenAI-compatible endpoint. ``api_base``/``api_key`` in the config override
    whatever the model name implies, for any OpenAI-compatible server.
    """
    params: dict[str, Any] = {"model": config.model}
    if uses_hf_router(config.model):
        _, provider, model = config.model.split("/", 2)
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


def uses_hf_router(model: str) -> bool:
    """``huggingface/<provider>/<org>/<model>``: a model served through the HF router."""
    parts = model.split("/", 2)
    return parts[0] == "huggingface" and len(parts) == 3


@dataclass(frozen=True)
class OpenAIEndpoint:
    """An OpenAI-compatible chat-completions server: what ``openai.AsyncOpenAI`` needs."""

    base_url: str
    api_key: str | None
    model: str
    """The model id the server knows (LiteLLM's ``openai/`` prefix removed)."""


def openai_endpoint(params: dict[str, Any]) -> OpenAIEndpoint | None:
    """The endpoint when ``params`` (from :func:`resolve_model`) name an OpenAI-compatible
    server (an ``api_base`` with an ``openai/`` model: the HF router or ``LLM_API_BASE``);
    None for every other LiteLLM provider."""
    model = params["model"]
    if not params.get("api_base") or not model.startswith("openai/"):
        return None
    return OpenAIEndpoint(params["api_base"], params.get("api_key"), model.removeprefix("openai/"))


def _litellm() -> Any:
    """LiteLLM, imported through ``agent.llm`` (which sets its environment first)."""
    from agent.llm import litellm

    return litellm


def _provider(model: str) -> str:
    try:
        return _litellm().get_llm_provider(model=model)[1]
    except Exception:  # a name LiteLLM cannot place
        return model.split("/", 1)[0]


def missing_credentials(config: AgentConfig) -> list[str]:
    """The environment variables that would hold the model's missing credential ([] when one
    is configured, or when the model needs none that LiteLLM knows of).

    An ``LLM_API_BASE`` server counts as configured: local servers take no key. Other
    LiteLLM providers are asked offline with ``litellm.validate_environment``.
    """
    params = resolve_model(config)
    if config.api_base:
        return []
    if uses_hf_router(config.model):
        return [] if params.get("api_key") else ["INFERENCE_TOKEN", "HF_TOKEN"]
    try:
        report = _litellm().validate_environment(
            model=params["model"], api_key=params.get("api_key"), api_base=params.get("api_base")
        )
    except Exception:  # LiteLLM cannot tell: assume the provider knows how to authenticate
        return []
    missing = report.get("missing_keys") or []
    return [name for name in missing if any(mark in name.upper() for mark in CREDENTIAL_MARKS)]


def keys_only(missing: list[str]) -> bool:
    """Whether every missing credential is an API key or token (nothing else can stand in)."""
    return bool(missing) and all(name.endswith(KEY_ONLY) for name in missing)


def credential_problem(config: AgentConfig) -> str | None:
    """None when a credential is configured for the model; else one paragraph for a person:
    which model is configured, that no credential is set, and what to set."""
    missing = missing_credentials(config)
    if not missing:
        return None
    if uses_hf_router(config.model):
        return (
            f"No credential is set for the model {config.model}, which is served through the "
            f"Hugging Face router. Set {ROUTER_TOKENS} to a Hugging Face token allowed to make "
            f"calls to Inference Providers, {OWN_SERVER}; then restart the bot."
        )
    provider = _provider(resolve_model(config)["model"])
    names = ", ".join(missing)
    if keys_only(missing):
        what = "it" if len(missing) == 1 else "one of them"
        fix = f"Set {what} (or LLM_API_KEY, which is passed to the provider as its API key)"
    else:
        fix = (
            "Set them (unless the provider authenticates another way, such as a cloud role "
            "of the machine)"
        )
    return (
        f"No credential is set for the model {config.model}: LiteLLM's `{provider}` provider "
        f"reports {names} missing from the environment. {fix}, {OWN_SERVER}; then restart "
        "the bot."
    )


def credential_refused(config: AgentConfig, status: int | None, detail: str = "") -> str:
    """What to tell a person when the provider refused the credential (401/403)."""
    said = f" ({status}: {detail})" if status and detail else f" ({status or detail})"
    head = f"The model provider refused the credential for the model {config.model}{said}."
    if config.api_base:
        if not config.api_key:
            return (
                f"{head} No key was sent to LLM_API_BASE ({config.api_base}): set LLM_API_KEY "
                "to the key that server expects, then restart the bot."
            )
        return f"{head} Check LLM_API_KEY, the key sent to LLM_API_BASE ({config.api_base}), then restart the bot."
    if config.api_key:
        return (
            f"{head} Check LLM_API_KEY, which is sent as the model's API key, then restart the bot."
        )
    if uses_hf_router(config.model):
        return (
            f"{head} Check {ROUTER_TOKENS}: it must be a valid Hugging Face token allowed to make "
            f"calls to Inference Providers, {OWN_SERVER}; then restart the bot."
        )
    provider = _provider(config.model)
    return (
        f"{head} Check the API key LiteLLM's `{provider}` provider reads from the environment "
        f"(usually {provider.upper()}_API_KEY), or set LLM_API_KEY; then restart the bot."
    )
