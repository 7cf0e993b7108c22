"""Agent configuration: what the loop needs to know, nothing about chat or Redis."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class AgentConfig:
    model: str = "huggingface/novita/moonshotai/kimi-k2.5"
    api_base: str | None = None
    api_key: str | None = None
    inference_token: str | None = None
    yolo_mode: bool = False
    confirm_cpu_jobs: bool = True
    auto_file_upload: bool = False
    max_iterations: int = 300
    context_window: int | None = None
    """Tokens the model accepts; ``None`` asks LiteLLM's model info (fallback 128k)."""
    compact_threshold: float = 0.9
    """Compact when the history uses this fraction of the context window."""
    keep_recent_turns: int = 2
    llm_timeout: float = 600.0
    llm_retries: int = 2
    llm_client: Literal["auto", "litellm"] = "auto"
    """``auto`` streams an OpenAI-compatible endpoint (the HF router, ``api_base``) through the
    ``openai`` client and every other provider through LiteLLM; ``litellm``: LiteLLM for all."""
    system_prompt: str | None = None


@dataclass(frozen=True)
class ResearchConfig:
    """Where the research tools read, and where they keep what they cache."""

    hub_url: str = "https://huggingface.co"
    """Docs pages, the OpenAPI spec, the papers API (``HF_ENDPOINT``)."""
    datasets_server_url: str = "https://datasets-server.huggingface.co"
    arxiv_url: str = "https://arxiv.org"
    docs_index: Path = Path(".data/hf_docs.sqlite")
    """The docs search index (SQLite FTS5), refreshed daily."""
    token: str | None = None
    """Sent to the Hub and the dataset viewer (private and gated datasets)."""
    timeout: float = 20.0
    """Seconds one request may take."""
    retries: int = 3
    """Retries of a request answered 429 or 5xx, with backoff."""
    max_bytes: int = 10_000_000
    """Largest answer read; a larger one is refused."""
    docs_max_age: float = 86_400.0
