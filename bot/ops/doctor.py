"""``ml-intern-bot doctor``: one line per check, exit 1 when any fails."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, TextIO

from bot.platforms import configured_platforms
from bot.settings import Settings
from bot.store.embedded import redis_for

if TYPE_CHECKING:
    from agent.mcp import ServerConfig

Check = Callable[[Settings], Awaitable[str]]
MESSAGE_CHARS = 600
"""A failed check's explanation is shown up to this long (first line only)."""


async def check_redis(settings: Settings) -> str:
    async with redis_for(settings.redis_url, settings.data_dir) as redis:
        await redis.ping()
        info = await redis.info("server")
    where = settings.redis_url or "embedded"
    return f"{where} (redis {info.get('redis_version', '?')})"


async def check_llm(settings: Settings) -> str:
    """The configured model answers a one-token request, through the agent's own client."""
    from agent.llm import make_llm_client
    from agent.model import credential_problem

    config = dataclasses.replace(settings.agent_config(), llm_retries=0)
    if problem := credential_problem(config):
        raise PermissionError(problem)
    client = make_llm_client(config)
    try:
        await client.complete([{"role": "user", "content": "ping"}])
    finally:
        await client.aclose()
    return f"{config.model} answers"


async def check_hub(settings: Settings) -> str:
    if not settings.hf_token:
        return "no HF_TOKEN: Hub tools act anonymously (read-only, public repos)"
    from huggingface_hub import HfApi

    api = HfApi(endpoint=settings.hf_endpoint, token=settings.hub_token())
    who = await asyncio.to_thread(api.whoami)
    return f"token of {who.get('name', '?')}"


async def check_sandbox(settings: Settings) -> str:
    """A sandbox of the configured backend starts and runs ``true`` (then stops)."""
    from agent.session import Session
    from bot.runtime import build_sandboxes

    sandboxes = build_sandboxes(settings)
    if sandboxes.backend is None:
        return f"off ({sandboxes.off_reason})"
    session = Session(key="doctor:sandbox:check:0")
    try:
        async with sandboxes.client(session) as client:
            answer = await client.bash("true", work_dir=None, seconds=30, run_id="doctor")
    finally:
        await sandboxes.stop(session)  # a Space outlives the process: delete it
        await sandboxes.close()
    if answer.get("exit_code") != 0:
        raise RuntimeError(f"bash true answered {answer.get('error')}")
    return f"{sandboxes.backend.name}: bash true ran in {answer.get('duration', 0):.2f} s"


CHECKS: dict[str, Check] = {
    "redis": check_redis,
    "llm": check_llm,
    "hub": check_hub,
    "sandbox": check_sandbox,
}


def platform_checks(settings: Settings) -> dict[str, Check]:
    """The auth check of each platform whose credentials are set."""
    return {p.name: p.check_auth for p in configured_platforms(settings)}


def mcp_checks(settings: Settings) -> dict[str, Check]:
    """One check per server of ``MCP_SERVERS``: it connects and lists the tools."""
    from agent.mcp import McpConfigError, load_servers

    if settings.mcp_servers is None:
        return {}
    try:
        configs = load_servers(settings.mcp_servers)
    except McpConfigError as exc:
        problem = exc

        async def bad_file(settings: Settings) -> str:
            raise problem

        return {"mcp": bad_file}
    return {f"mcp {c.name}": partial(check_mcp_server, config=c) for c in configs}


async def check_mcp_server(settings: Settings, config: ServerConfig) -> str:
    from agent.mcp import McpManager
    from agent.tools.registry import ToolRegistry
    from bot.runtime import mcp_environ

    async with McpManager([config], ToolRegistry(), environ=mcp_environ(settings)) as manager:
        (server,) = manager.servers
        if not server.connected:
            raise ConnectionError(server.error or "did not answer in time")
        return f"{config.where}: {len(server.tool_names)} tools"


async def run_doctor(
    settings: Settings, out: TextIO, checks: dict[str, Check] | None = None
) -> int:
    failed = 0
    every = {**CHECKS, **platform_checks(settings), **mcp_checks(settings)}
    for name, check in (checks or every).items():
        try:
            detail = await check(settings)
        except Exception as exc:
            failed += 1
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            out.write(f"FAIL {name}: {type(exc).__name__}: {message[:MESSAGE_CHARS]}\n")
        else:
            out.write(f"ok   {name}: {detail}\n")
    return 1 if failed else 0
