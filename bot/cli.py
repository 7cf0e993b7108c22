"""The ``ml-intern-bot`` command line (also ``python -m bot``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from pydantic import ValidationError

from bot.platforms import configured_platforms, platforms
from bot.settings import Settings

if TYPE_CHECKING:
    from agent.tools.registry import Tool

logger = logging.getLogger(__name__)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        lines = [f"  {'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()]
        sys.exit("Invalid settings:\n" + "\n".join(lines))


def setup_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("LiteLLM", "httpx", "litellm"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


async def _console(settings: Settings, why: str = "") -> None:
    """The terminal chat; the logs go to ``DATA_DIR/bot.log`` (warnings also to the screen)."""
    from bot.runtime import runtime
    from bot.telemetry.logs import LOG_FILE, to_file

    to_file(settings.data_dir / LOG_FILE)
    if why:
        logger.info("%s", why)
    async with runtime(settings) as rt:
        console = platforms()["console"].front_end(rt)
        await rt.runner.recover()
        await console.run()


async def _serve(settings: Settings, names: list[str]) -> None:
    """Run chat adapters beside the HTTP server (health, metrics, Slack events)."""
    from bot.ops.http import build_http_app, serve
    from bot.runtime import log_model, runtime

    async with runtime(settings) as rt:
        log_model(settings)
        http = build_http_app(rt.redis)
        front_ends = [platforms()[name].front_end(rt) for name in names]
        for front_end in front_ends:
            front_end.mount(http)
        site = await serve(http, settings.port)
        logger.info("serving %s; HTTP on port %d", ", ".join(names), settings.port)
        await rt.runner.recover()
        try:
            await asyncio.gather(*(front_end.run() for front_end in front_ends))
        finally:
            await site.cleanup()


async def _worker(settings: Settings) -> None:
    from bot.ops.worker import run_worker

    await run_worker(settings)


async def _run(settings: Settings) -> None:
    names = [platform.name for platform in configured_platforms(settings)]
    if not names:
        await _console(settings, "no chat credentials set: starting the console")
        return
    await _serve(settings, names)


def _print_install(settings: Settings, platform: str) -> int:
    """``manifest slack`` / ``invite discord``: the platform's install helper."""
    print(platforms()[platform].install_text(settings))
    return 0


def _doctor(settings: Settings) -> int:
    from bot.ops.doctor import run_doctor

    return asyncio.run(run_doctor(settings, sys.stdout))


async def print_tools(settings: Settings, out: TextIO) -> int:
    """Every tool the agent sees, built-in and MCP, with its approval rule and whether it
    only reads (what the ``research`` sub-agent may call)."""
    from agent.policy import describe_approval
    from bot.runtime import build_tools, mcp_servers

    registry = build_tools(settings)
    config = settings.agent_config()
    async with mcp_servers(settings, registry) as manager:
        source = {name: f"mcp {s.name}" for s in manager.servers for name in s.tool_names}
        rows = [
            (
                name,
                source.get(name, "built-in"),
                describe_approval(name, registry.approval(name), config),
                read_only_label(registry.get(name)),
            )
            for name in registry.names()
        ]
        width = max(len(name) for name, *_ in rows)
        out.write(f"{'tool':<{width}}  {'source':<16}  {'read-only':<10}  needs approval\n")
        for name, where, rule, reads in rows:
            out.write(f"{name:<{width}}  {where:<16}  {reads:<10}  {rule}\n")
        for server in manager.servers:
            if not server.connected:
                out.write(f"MCP server {server.name} unavailable: {server.error}\n")
    return 0


def read_only_label(tool: Tool | None) -> str:
    """``yes``, the operations that only read (``list, read``), or ``no``."""
    if tool is not None and tool.read_only:
        return "yes"
    if tool is not None and tool.read_operations:
        return ", ".join(sorted(tool.read_operations))
    return "no"


async def print_audit(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    """The approval decisions (or, with ``--feedback``, the ratings of answers) recorded
    in Redis, as a table or JSON lines."""
    from bot.approvals import audit
    from bot.store.embedded import redis_for
    from bot.turns import feedback

    try:
        since = audit.parse_since(args.since) if args.since else None
    except ValueError as exc:
        sys.exit(str(exc))
    async with redis_for(settings.redis_url, settings.data_dir) as redis:
        if args.feedback:
            ratings = await feedback.FeedbackLog(
                redis, ttl_seconds=settings.session_ttl_seconds
            ).read(thread=args.thread, since=since)
            shown = (audit.format_json_lines if args.json else feedback.format_table)(ratings)
        else:
            entries = await audit.AuditLog(redis).read(
                thread=args.thread, since=since, approval=args.approval
            )
            shown = (audit.format_json_lines if args.json else audit.format_table)(entries)
    out.write(shown + "\n")
    return 0


async def print_sandboxes(settings: Settings, delete: str | None, out: TextIO) -> int:
    """The bot's sandboxes from its Redis index (id, backend, hardware, age, idle, session,
    cost so far); with ``delete``, end that one."""
    from agent.tools.hardware import CostEstimator
    from bot.runtime import build_sandboxes
    from bot.sandboxes import SandboxIndex, end_sandbox, format_table
    from bot.store.embedded import redis_for

    async with redis_for(settings.redis_url, settings.data_dir) as redis:
        if delete is None:
            entries = await SandboxIndex(redis).all()
            out.write(format_table(entries, CostEstimator(), time.time()) + "\n")
            return 0
        backend = build_sandboxes(settings).backend
        if backend is None:
            out.write("The sandbox is off (SANDBOX): nothing can be ended from here.\n")
            return 1
        entry = await end_sandbox(backend, redis, delete)
    if entry is None:
        out.write(f"No sandbox {delete} (ml-intern-bot sandboxes lists them).\n")
        return 1
    out.write(f"Stopped {entry.id} (session {entry.session or 'none: it was warm'}).\n")
    return 0


INSTALLERS = {"manifest": "print an app manifest", "invite": "print an install URL"}


def chat_platforms() -> list[str]:
    """The platforms with a command of their own (the console has ``console``)."""
    return [name for name in platforms() if name != "console"]


def build_parser() -> argparse.ArgumentParser:
    """The commands; one per chat platform and install helper of the registry."""
    parser = argparse.ArgumentParser(prog="ml-intern-bot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start every adapter whose credentials are set")
    commands.add_parser("console", help="chat with the agent in this terminal")
    for name in chat_platforms():
        commands.add_parser(name, help=f"start the {name.title()} adapter")
    commands.add_parser("worker", help="run turns from the queue, with no chat front end")
    commands.add_parser("doctor", help="check settings, Redis, the model and the Hub")
    commands.add_parser("tools", help="list every tool the agent sees and its approval rule")
    sandboxes = commands.add_parser(
        "sandboxes", help="list the bot's sandboxes (age, hardware, session, cost so far)"
    )
    sandboxes.add_argument("--delete", metavar="ID", help="stop this sandbox")
    audit = commands.add_parser(
        "audit", help="print the approval decisions (or, with --feedback, the ratings) on record"
    )
    audit.add_argument(
        "--thread", help="only this session key (<platform>:<team>:<channel>:<thread>)"
    )
    which = audit.add_mutually_exclusive_group()
    which.add_argument("--approval", help="only this approval id (shown on its card)")
    which.add_argument(
        "--feedback",
        action="store_true",
        help="the 👍 / 👎 people gave answers (and what went wrong) instead of decisions",
    )
    audit.add_argument("--since", help="from this time: 2h, 7d, 2026-11-25T09:00 or epoch seconds")
    audit.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    for verb, help_text in INSTALLERS.items():
        names = [p.name for p in platforms().values() if p.install_command == verb]
        commands.add_parser(verb, help=help_text).add_argument("platform", choices=names)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # LiteLLM would download its model cost map at import; the copy it ships is enough.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    args = build_parser().parse_args(argv)

    settings = load_settings()
    setup_logging(settings)
    if args.command == "doctor":
        return _doctor(settings)
    if args.command == "audit":
        return asyncio.run(print_audit(settings, args, sys.stdout))
    if args.command == "tools":
        return asyncio.run(print_tools(settings, sys.stdout))
    if args.command == "sandboxes":
        return asyncio.run(print_sandboxes(settings, args.delete, sys.stdout))
    if args.command in INSTALLERS:
        return _print_install(settings, args.platform)
    programs = {
        "run": lambda: _run(settings),
        "console": lambda: _console(settings),
        "worker": lambda: _worker(settings),
    }
    programs.update(
        {name: functools.partial(_serve, settings, [name]) for name in chat_platforms()}
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(programs[args.command]())
    return 0


if __name__ == "__main__":
    sys.exit(main())
