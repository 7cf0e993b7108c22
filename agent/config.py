"""Agent configuration: what the loop needs to know, nothing about chat or Redis."""

from __future__ import annotations

from dataclasses import dataclass
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
