"""Assembly: one async lifespan opens Redis, builds the agent and the runner, feeds model
calls to the metrics while it runs, and closes them."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import HfApi
from pydantic import SecretStr
from redis.asyncio import Redis

from agent.loop import Agent
from agent.mcp import McpManager, load_servers
from agent.model import credential_problem
from agent.research import ResearchTool
from agent.sandbox.files import Sandbox
from agent.sandbox.manager import Sandboxes
from agent.sandbox.select import choose_backend
from agent.tools import build_hf_tools, build_research_tools, build_web_tools
from agent.tools.hardware import CostEstimator
from agent.tools.plan import PLAN_TOOL
from agent.tools.registry import ToolRegistry
from agent.waiting import cancel_and_wait
from bot.approvals.controls import TeamControls
from bot.approvals.expiry import Sweeper
from bot.clock import Clock, utc_now
from bot.output.redact import register_secret
from bot.platform import Closing
from bot.sandboxes import IndexedBackend
from bot.settings import Settings
from bot.store.embedded import redis_for, side_client
from bot.store.sessions import SessionStore
from bot.telemetry.logs import install as install_logs
from bot.telemetry.metrics import observing_llm
from bot.telemetry.traces import Tracer, tracer_for
from bot.turns.expiry import sweep_expired
from bot.turns.intake import FileIntake
from bot.turns.limits import TurnLimits
from bot.turns.runner import TurnRunner

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    redis: Redis
    store: SessionStore
    runner: TurnRunner
    sweeper: Sweeper | None = None
    """Announces, reminds and expires pending approvals (its task runs in the lifespan)."""
    acks: SessionStore | None = None
    """The store on a small connection pool of its own, for what a front end does before
    its acknowledgement (dedupe): turns never hold its connections. None: ``store``."""

    @property
    def ack_store(self) -> SessionStore:
        return self.acks or self.store


def hub_api(settings: Settings) -> HfApi:
    """The Hub client of the bot's own token (``HF_TOKEN``) at ``HF_ENDPOINT``."""
    return HfApi(endpoint=settings.hf_endpoint, token=settings.hub_token())


def build_sandboxes(settings: Settings) -> Sandboxes:
    """The sessions' sandboxes on the backend ``SANDBOX`` picks."""
    backend, why_off = choose_backend(
        settings.sandbox,
        hf_token=settings.hub_token(),
        root=sandbox_root(settings),
        network=settings.sandbox_network,
        api=hub_api(settings),
        secrets=settings.job_secrets(),
    )
    return Sandboxes(backend, Sandbox(sandbox_root(settings)), off_reason=why_off)


def build_tools(
    settings: Settings, sandboxes: Sandboxes | None = None, costs: CostEstimator | None = None
) -> ToolRegistry:
    """Every built-in tool, acting on the Hub with the bot's own token; the sandbox tools
    on ``sandboxes`` (by default those the settings say); jobs and sandboxes priced by
    ``costs`` (the approval cards' estimator in a runtime)."""
    api = hub_api(settings)
    hf_tools = build_hf_tools(
        api,
        sandbox_root=sandbox_root(settings),
        sandboxes=sandboxes or build_sandboxes(settings),
        auto_file_upload=settings.auto_file_upload,
        secrets=settings.job_secrets(),
        costs=costs,
    )
    research = build_research_tools(settings.research_config())
    web_tools = build_web_tools(
        github_api_url=settings.github_api_url,
        github_token=settings.github_token.get_secret_value() if settings.github_token else None,
        web_search_url=settings.web_search_url,
        fetch_allow_private=settings.fetch_url_allow_private,
    )
    registry = ToolRegistry([PLAN_TOOL, *hf_tools, *research, *web_tools])
    registry.add(ResearchTool(registry, settings.agent_config()).tool())
    return registry


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
async def runtime(
    settings: Settings,
    tools: ToolRegistry | None = None,
    *,
    clock: Clock = utc_now,
    sandboxes: Sandboxes | None = None,
    costs: CostEstimator | None = None,
) -> AsyncIterator[Runtime]:
    """Everything a process runs on; ``clock`` tells the time to job cards and the sweepers.

    ``sandboxes`` are those ``tools`` run commands in (built from the settings when
    ``tools`` is None): idle ones are stopped, and all of them at the end. ``costs``
    prices the approval cards, and the built tools (given ``tools`` should share it).
    """
    costs = costs or CostEstimator()
    if tools is None:
        sandboxes = sandboxes or build_sandboxes(settings)
    registry = tools or build_tools(settings, sandboxes, costs)
    async with (
        mcp_servers(settings, registry),
        redis_for(settings.redis_url, settings.data_dir) as redis,
        side_client(redis) as ack_redis,
    ):
        store = SessionStore(
            redis, ttl_seconds=settings.session_ttl_seconds, clock=lambda: clock().timestamp()
        )
        agent = Agent(settings.agent_config(), registry)
        install_logs(settings.log_format)
        register_secret(*secret_values(settings))
        tracer = tracer_for(settings, hub_api(settings))
        runner = build_runner(settings, agent, store, tracer, clock, sandboxes, costs)
        upkeep = index_sandboxes(settings, sandboxes, store.redis, runner.controls)
        sweeper = Sweeper(
            runner.approvals,
            remind_after=settings.approval_remind_after,
            expire_after=settings.approval_expire_after,
            clock=clock,
        )
        sweeping = asyncio.create_task(sweeper.run(), name="approval sweeper")
        expiring = asyncio.create_task(sweep_expired(store, runner.surfaces), name="session expiry")
        pruning = asyncio.create_task(
            prune_sandboxes(runner.inputs.intake.sandbox, settings.session_ttl_seconds),
            name="sandbox pruning",
        )
        idling = asyncio.create_task(
            stop_idle_sandboxes(sandboxes, settings.sandbox_idle_minutes * 60),
            name="idle sandboxes",
        )
        if tracer is not None:
            tracer.start()
        prices = None
        if settings.hf_token:  # the Hub's job prices, fetched in the background
            prices = asyncio.create_task(costs.load(hub_api(settings)))
        with observing_llm(), sigterm_cancels(asyncio.current_task()) as terminated:
            try:
                acks = SessionStore(ack_redis, ttl_seconds=settings.session_ttl_seconds)
                yield Runtime(settings, redis, store, runner, sweeper, acks)
            except asyncio.CancelledError:
                if not terminated.is_set():
                    raise
                logger.info("SIGTERM: finishing or handing back running turns")
            finally:
                loops = (sweeping, expiring, pruning, idling, upkeep, prices)
                await cancel_and_wait(task for task in loops if task is not None)
                try:
                    await runner.close()
                finally:
                    await runner.agent.aclose()  # the LLM clients of MODEL and of chosen models
                    for surfaces in runner.surfaces.values():
                        if isinstance(surfaces, Closing):
                            await surfaces.aclose()
                    if tracer is not None:
                        await tracer.close()
                    if sandboxes is not None:
                        await sandboxes.close()


def log_model(settings: Settings) -> None:
    """Log which model answers, and what is missing when no credential is set (chat front
    ends and workers; the console prints it)."""
    config = settings.agent_config()
    if problem := credential_problem(config):
        logger.warning("%s", problem)
    else:
        logger.info("model: %s", config.model)
    choices = settings.model_choices.labels
    for label, model in choices.items():
        if problem := credential_problem(dataclasses.replace(config, model=model)):
            logger.warning("MODELS %s: %s", label, problem)
    if choices:
        logger.info("models to choose from (MODELS): %s", ", ".join(choices))


def build_runner(
    settings: Settings,
    agent: Agent,
    store: SessionStore,
    tracer: Tracer | None = None,
    clock: Clock = utc_now,
    sandboxes: Sandboxes | None = None,
    costs: CostEstimator | None = None,
) -> TurnRunner:
    """The turn runner with the settings' roles, limits and timeouts; its approval cards
    priced by ``costs``."""
    limits = TurnLimits(
        store.redis, settings.user_turns_per_minute, settings.channel_turns_per_minute
    )
    return TurnRunner(
        agent,
        store,
        {},
        approvers=settings.approver_ids,
        lock_ttl_ms=int(settings.turn_lease_seconds * 1000),
        consume=settings.run_turns,
        concurrency=settings.worker_concurrency,
        limits=limits,
        max_input_chars=settings.max_input_chars,
        shutdown_grace=settings.shutdown_grace_seconds,
        controls=TeamControls.build(
            store.redis,
            approvers=settings.approver_ids,
            rules_file=settings.approval_rules,
            ttl_seconds=settings.session_ttl_seconds,
            costs=costs,
        ),
        tracer=tracer,
        models=settings.model_choices,
        files=FileIntake(sandbox_root(settings), settings.max_attachment_bytes, sandboxes),
        hub=hub_api(settings),
        clock=clock,
    )


def index_sandboxes(
    settings: Settings, sandboxes: Sandboxes | None, redis: Redis, controls: TeamControls
) -> asyncio.Task[None] | None:
    """Keep the sandboxes in the bot's Redis index (wrapping the backend ``sandboxes`` run
    on) and start its upkeep: the warm pool and the hourly orphan sweep."""
    if sandboxes is None or sandboxes.backend is None:
        return None
    if isinstance(sandboxes.backend, IndexedBackend):  # another runtime of this process's
        return None
    indexed = IndexedBackend(
        sandboxes.backend,
        redis,
        warm=settings.sandbox_warm,
        budgets=controls.budgets,
        costs=controls.costs,
    )
    sandboxes.backend = indexed
    return asyncio.create_task(indexed.run(), name="sandbox upkeep")


async def prune_sandboxes(sandbox: Sandbox, idle_seconds: float, every: float = 3600) -> None:
    """Every ``every`` seconds, remove the sandboxes of sessions gone for ``idle_seconds``
    (a turn touches its session's sandbox, so a live session keeps its files)."""
    while True:
        removed = await asyncio.to_thread(sandbox.prune, idle_seconds, time.time())
        if removed:
            logger.info("removed %d idle sandboxes: %s", len(removed), ", ".join(removed))
        await asyncio.sleep(every)


async def stop_idle_sandboxes(
    sandboxes: Sandboxes | None, idle_seconds: float, every: float = 60
) -> None:
    """Every ``every`` seconds, stop the sandboxes unused for ``idle_seconds``."""
    if sandboxes is None:
        return
    while True:
        await asyncio.sleep(every)
        if stopped := await sandboxes.stop_idle(idle_seconds):
            logger.info("stopped %d idle sandboxes: %s", len(stopped), ", ".join(stopped))


def sandbox_root(settings: Settings) -> Path:
    """Where the sessions' sandboxes are: the agent's files and the files people share."""
    return settings.data_dir / "sandboxes"


def secret_values(settings: Settings) -> list[str]:
    """Every token the settings hold, to be redacted wherever it shows up."""
    tokens = [v.get_secret_value() for v in dict(settings).values() if isinstance(v, SecretStr)]
    return [*tokens, *settings.job_secrets().values()]


@contextmanager
def sigterm_cancels(task: asyncio.Task | None) -> Iterator[asyncio.Event]:
    """On SIGTERM, cancel ``task`` (the lifespan's) and set the event it yields."""
    terminated = asyncio.Event()

    def terminate() -> None:
        terminated.set()
        if task is not None:
            task.cancel()

    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGTERM, terminate)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
        yield terminated
        return
    try:
        yield terminated
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        if terminated.is_set() and task is not None:
            task.uncancel()
