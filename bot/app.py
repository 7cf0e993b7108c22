"""Assembly: one async lifespan opens Redis, builds the agent and the runner, closes them."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from huggingface_hub import HfApi
from redis.asyncio import Redis

from agent.loop import Agent
from agent.mcp import McpManager, load_servers
from agent.tools import build_hf_tools
from agent.tools.plan import PLAN_TOOL
from agent.tools.registry import ToolRegistry
from bot.embedded_redis import redis_for
from bot.runner import TurnRunner
from bot.settings import Settings
from bot.store import SessionStore

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    redis: Redis
    store: SessionStore
    runner: TurnRunner


def build_tools(settings: Settings) -> ToolRegistry:
    """Every built-in tool, acting on the Hub with the bot's own token."""
    api = HfApi(endpoint=settings.hf_endpoint, token=settings.hub_token())
    hf_tools = build_hf_tools(
        api,
        sandbox_root=settings.data_dir / "sandboxes",
        auto_file_upload=settings.auto_file_upload,
        secrets=settings.job_secrets(),
    )
    return ToolRegistry([PLAN_TOOL, *hf_tools])


def mcp_environ(settings: Settings) -> dict[str, str]:
    """What ``${VAR}`` in the MCP_SERVERS file expands from: the environment, and HF_TOKEN."""
    environ = dict(os.environ)
    if token := settings.hub_token():
        environ.setdefault("HF_TOKEN", token)
    return environ


def mcp_servers(settings: Settings, registry: ToolRegistry) -> McpManager:
    """The servers of ``MCP_SERVERS``, adding their tools to ``registry`` once entered."""
    configs = load_servers(settings.mcp_servers) if settings.mcp_servers else []
    return McpManager(configs, registry, environ=mcp_environ(settings))


@asynccontextmanager
async def runtime(settings: Settings, tools: ToolRegistry | None = None) -> AsyncIterator[Runtime]:
    registry = tools or build_tools(settings)
    async with (
        mcp_servers(settings, registry),
        redis_for(settings.redis_url, settings.data_dir) as redis,
    ):
        store = SessionStore(redis, ttl_seconds=settings.session_ttl_seconds)
        agent = Agent(settings.agent_config(), registry)
        runner = TurnRunner(agent, store, {}, approvers=settings.approver_ids)
        try:
            yield Runtime(settings, redis, store, runner)
        finally:
            await runner.close()
