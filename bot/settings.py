"""Settings from the environment (the names README.md documents), validated at start."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent.config import AgentConfig, ResearchConfig
from bot.attachments.fetch import DEFAULT_MAX_BYTES

if TYPE_CHECKING:
    from bot.turns.models import ModelChoices

DEFAULT_MODEL = "huggingface/novita/moonshotai/kimi-k2.5"
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``30m``, ``1h``, ``1.5h`` or ``2d``."""
    value = text.strip().lower()
    unit = UNITS.get(value[-1:]) if value else None
    try:
        return float(value[:-1]) * unit if unit else float(value)
    except ValueError:
        raise ValueError(f"{text!r} is not a duration: give seconds, or 30m, 1h, 2d") from None


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value else None


class Settings(BaseSettings):
    """Every setting of the bot; see the README's configuration table."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", env_file=".env")

    # Session store
    redis_url: str | None = Field(None, description="Redis URL; unset starts an embedded store")
    data_dir: Path = Field(Path(".data"), description="Embedded Redis, sandboxes, local state")
    session_ttl_days: float = Field(30, gt=0, description="Idle sessions expire after this")

    # Model
    model: str = Field(DEFAULT_MODEL, description="LiteLLM model name")
    models: str = Field(
        "",
        description=(
            "Models people may choose per thread or channel, as label=LiteLLM name pairs "
            "separated by commas (kimi=huggingface/novita/moonshotai/kimi-k2.5,qwen=...); "
            "unset: MODEL only"
        ),
    )
    llm_api_base: str | None = None
    llm_api_key: SecretStr | None = None
    inference_token: SecretStr | None = None
    llm_timeout: float = Field(600, gt=0, description="Seconds one model call may take")
    llm_retries: int = Field(2, ge=0, description="Retries of a failed model call (429, 5xx)")
    context_window: int | None = Field(None, gt=0, description="Override the model's window")
    max_iterations: int = Field(300, gt=0, description="Model calls per turn at most")

    # Hugging Face Hub
    hf_token: SecretStr | None = None
    hf_endpoint: str | None = None
    job_secret_names: str = Field(
        "HF_TOKEN", description="Environment variables hf_jobs may pass to jobs, by name"
    )

    # Research tools (docs, papers, datasets)
    datasets_server_url: str = Field(
        "https://datasets-server.huggingface.co",
        description="The dataset viewer API hf_inspect_dataset reads",
    )
    arxiv_url: str = Field("https://arxiv.org", description="Where hf_papers reads paper HTML")
    # Sandbox
    sandbox: str = Field(
        "auto",
        pattern="^(auto|space|local|off)$",
        description=(
            "Where the agent's commands run: space (a private HF Space per session), local "
            "(bubblewrap on this host), off; auto: space with HF_TOKEN, else local with bwrap"
        ),
    )
    sandbox_network: bool = Field(
        False, description="Local sandboxes may use the network (never the host's loopback)"
    )
    sandbox_idle_minutes: float = Field(
        30, gt=0, description="A sandbox unused this long is stopped (its files stay)"
    )
    sandbox_warm: int = Field(
        1,
        ge=0,
        description="Ready cpu-basic sandbox Spaces waiting for a thread's first command",
    )

    # Slack
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_edit_interval_ms: int = Field(
        1000, ge=0, description="A thread's answer is written at most this often (ms)"
    )
    slack_native_streaming: bool = Field(
        True, description="Stream answers with chat.startStream when the workspace allows it"
    )
    slack_rate_budget: bool = Field(
        True,
        description="Keep Slack's per-workspace rate tiers before calling (off: a loopback "
        "stand-in with no limits, as the benchmarks run)",
    )
    slack_thread_replies_without_mention: bool = Field(
        True, description="Plain replies in a thread the bot is in continue its session"
    )
    slack_public_url: str | None = Field(
        None, description="Public base URL of this bot, for the manifest's request URLs"
    )
    slack_assistant_view: Literal["agent", "split"] = Field(
        "agent",
        description="Slack's AI surface: the agent messaging experience (agent) or the older "
        "split view (split, for apps that have it)",
    )
    slack_assistant_greeting: str = Field(
        "Hi! I'm your ML intern: I search the Hub, read and write repos and run HF Jobs "
        "(anything costly waits for an approval click). What are we working on?",
        description="The greeting of the Messages tab (or of a split-view thread)",
    )
    slack_assistant_prompts: str = Field(
        "Find a small model for text classification on the Hub"
        "|Why did my training loss diverge? (share the log)"
        "|Fine-tune a model on my dataset with an HF Job",
        description="Suggested prompts in the Messages tab (or split view), separated by |",
    )

    # Discord
    discord_bot_token: SecretStr | None = None
    discord_api_url: str = "https://discord.com/api/v10"
    discord_gateway_url: str = "wss://gateway.discord.gg/"
    discord_edit_interval_ms: int = Field(1000, ge=0)
    discord_guild_id: int | None = Field(
        None, description="Sync slash commands to this guild only (development); unset: globally"
    )
    discord_message_content: bool = Field(
        True, description="Request the message-content intent; off: threads answer mentions only"
    )
    discord_dm_approvers: bool = Field(
        False,
        description=(
            "DM the approvers the rules name by user id when an approval waits for them "
            "(not the person who asked; roles are not DMed)"
        ),
    )

    # HTTP server
    port: int = Field(3000, ge=0, le=65535)

    # Approvals
    approvers: str = Field("", description="Comma-separated ids allowed to approve")
    yolo_mode: bool = False
    confirm_cpu_jobs: bool = True
    auto_file_upload: bool = False
    approval_rules: Path | None = Field(
        None, description="YAML rules: who may approve which tool call (see the README)"
    )
    approval_remind_after: float = Field(
        3600,
        gt=0,
        description=(
            "An approval still pending after this long (seconds, or 30m, 1h, 2d) pings its "
            "approvers in its thread, once"
        ),
    )
    approval_expire_after: float = Field(
        86_400,
        gt=0,
        description=(
            "An approval still pending after this long (seconds, or 30m, 1h, 2d) expires: "
            "nothing runs, the agent is told, and the thread is free again"
        ),
    )

    # Tool servers
    mcp_servers: Path | None = Field(None, description="JSON/YAML file of MCP tool servers")

    # Research: example code and the web
    github_token: SecretStr | None = Field(
        None, description="GitHub token for the github_* tools (optional: raises the rate limit)"
    )
    github_api_url: str = Field("https://api.github.com", description="GitHub's REST API")
    web_search_url: str | None = Field(
        None, description="A SearXNG instance (its JSON API) for web_search; unset: no web search"
    )
    fetch_url_allow_private: bool = Field(
        False, description="fetch_url may read loopback, private and link-local addresses"
    )

    # Reliability
    run_turns: bool = Field(
        True, description="This process also runs turns; 0 on front ends when workers run them"
    )
    worker_concurrency: int = Field(8, gt=0, description="Turns one process runs at once")
    turn_lease_seconds: float = Field(
        30, gt=0, description="A silent worker's turns are taken over after this"
    )
    shutdown_grace_seconds: float = Field(
        20, ge=0, description="On SIGTERM, running turns may finish for this long"
    )
    user_turns_per_minute: int = Field(10, ge=0, description="Turn starts per user; 0: no limit")
    channel_turns_per_minute: int = Field(
        30, ge=0, description="Turn starts per channel; 0: no limit"
    )
    max_input_chars: int = Field(20_000, gt=0, description="Longer messages are refused")
    max_attachment_bytes: int = Field(
        DEFAULT_MAX_BYTES,
        gt=0,
        description=(
            "Largest shared file (Slack file, Discord attachment, console path) the bot "
            "downloads for the agent, in bytes; a bigger one is refused with a line in the thread"
        ),
    )
    log_format: str = Field("text", pattern="^(text|json)$", description="text or json lines")

    # Traces
    session_traces_repo: str | None = Field(
        None, description="Private Hub dataset that session traces are uploaded to; unset: off"
    )
    session_traces_interval_seconds: float = Field(
        60, gt=0, description="Upload waiting session traces this often"
    )
    session_traces_batch_size: int = Field(
        20, gt=0, description="Upload at once when this many finished turns wait"
    )

    log_level: str = "INFO"

    @field_validator("approval_rules")
    @classmethod
    def _rules_load(cls, value: Path | None) -> Path | None:
        from bot.approvals.rules import ApprovalRules

        ApprovalRules.load(value, frozenset())  # a RulesError (a ValueError) names the problem
        return value

    @field_validator("models")
    @classmethod
    def _models_parse(cls, value: str) -> str:
        from bot.turns.models import ModelChoices

        ModelChoices.parse(value, DEFAULT_MODEL)  # a ValueError names the entry
        return value

    @field_validator("approval_remind_after", "approval_expire_after", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return parse_duration(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _expiry_after_reminder(self) -> Settings:
        if self.approval_expire_after <= self.approval_remind_after:
            raise ValueError("APPROVAL_EXPIRE_AFTER must be longer than APPROVAL_REMIND_AFTER")
        return self

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value or None

    @property
    def approver_ids(self) -> frozenset[str]:
        return frozenset(a.strip() for a in self.approvers.split(",") if a.strip())

    @property
    def model_choices(self) -> ModelChoices:
        """``MODEL`` and the labelled models of ``MODELS``."""
        from bot.turns.models import ModelChoices

        return ModelChoices.parse(self.models, self.model)

    @property
    def session_ttl_seconds(self) -> int:
        return int(self.session_ttl_days * 86400)

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token and (self.slack_signing_secret or self.slack_app_token))

    @property
    def discord_enabled(self) -> bool:
        return bool(self.discord_bot_token)

    def hub_token(self) -> str | None:
        return _secret(self.hf_token)

    def job_secrets(self) -> dict[str, str]:
        """The values jobs may receive as secrets, by name (``HF_TOKEN`` from the settings)."""
        names = [n.strip() for n in self.job_secret_names.split(",") if n.strip()]
        values = {"HF_TOKEN": self.hub_token()} | {
            n: os.environ.get(n) for n in names if n != "HF_TOKEN"
        }
        return {n: values[n] for n in names if values.get(n)}

    def research_config(self) -> ResearchConfig:
        """The research tools' servers (HF_ENDPOINT, DATASETS_SERVER_URL, ARXIV_URL); the docs
        index in DATA_DIR."""
        return ResearchConfig(
            hub_url=self.hf_endpoint or ResearchConfig.hub_url,
            datasets_server_url=self.datasets_server_url,
            arxiv_url=self.arxiv_url,
            docs_index=self.data_dir / "hf_docs.sqlite",
            token=self.hub_token(),
        )

    def agent_config(self) -> AgentConfig:
        return AgentConfig(
            model=self.model,
            api_base=self.llm_api_base,
            api_key=_secret(self.llm_api_key),
            inference_token=_secret(self.inference_token) or _secret(self.hf_token),
            yolo_mode=self.yolo_mode,
            confirm_cpu_jobs=self.confirm_cpu_jobs,
            auto_file_upload=self.auto_file_upload,
            max_iterations=self.max_iterations,
            context_window=self.context_window,
            llm_timeout=self.llm_timeout,
            llm_retries=self.llm_retries,
        )
