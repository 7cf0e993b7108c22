"""Assembly: one async lifespan opens Redis, builds the agent and the runner, closes them."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from redis.asyncio import Redis

from agent.loop import Agent
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
    return ToolRegistry([PLAN_TOOL])


@asynccontextmanager
async def runtime(settings: Settings, tools: ToolRegistry | None = None) -> AsyncIterator[Runtime]:
    async with redis_for(settings.redis_url, settings.data_dir) as redis:
        store = SessionStore(redis, ttl_seconds=settings.session_ttl_seconds)
        agent = Agent(settings.agent_config(), tools or build_tools(settings))
        runner = TurnRunner(agent, store, {}, approvers=settings.approver_ids)
        try:
            yield Runtime(settings, redis, store, runner)
        finally:
            await runner.close()
