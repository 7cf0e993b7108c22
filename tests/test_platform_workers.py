"""The platform registry, and what runs on a platform without its front end: a worker
rendering through the platform's API with ``worker_surfaces`` (no gateway, no event
listener), doctor's auth check of each platform, and the install helpers."""

import io

import pytest

from agent.loop import Agent
from bot import cli
from bot.ops.doctor import platform_checks, run_doctor
from bot.ops.worker import platform_surfaces
from bot.platforms import FrontEnd, Platform, configured_platforms, platforms
from bot.runtime import Runtime, runtime
from bot.settings import Settings
from bot.store.embedded import connect
from bot.store.sessions import SessionStore
from bot.turns.runner import TurnRunner
from tests.standins import discord as dc
from tests.standins.llm import text
from tests.support import agent_config, test_tools
from tests.test_discord import Rig
from tests.test_discord import api as api  # noqa: F401  (the Discord stand-in fixture)
from tests.test_slack import make_bot as make_bot  # noqa: F401
from tests.test_slack import settings_for
from tests.test_slack import slack as slack  # noqa: F401


async def test_a_slack_mention_on_a_queue_only_front_end_is_answered_by_a_worker(
    make_bot, llm, redis_url, slack, tmp_path
):
    front = await make_bot(run_turns=False)
    worker_settings = settings_for(llm, redis_url, slack, tmp_path)
    async with runtime(worker_settings, tools=test_tools()) as worker:
        surfaces = await platforms()["slack"].worker_surfaces(worker)
        assert surfaces is not None
        worker.runner.surfaces["slack"] = surfaces
        worker.runner.start()
        llm.script(text("Answered by the worker."))
        event = await front.send.mention("who answers?")
        await front.settle(lambda: "Answered by the worker." in front.answer(event["ts"]))
        assert not front.rt.runner.queue.tasks  # the front end ran nothing itself


async def test_no_slack_token_offers_no_worker_surfaces(llm, redis_url, slack, tmp_path):
    settings = settings_for(llm, redis_url, slack, tmp_path, slack_bot_token=None)
    assert await platforms()["slack"].worker_surfaces(Runtime(settings, None, None, None)) is None


async def test_a_discord_ask_on_a_queue_only_front_end_is_answered_by_a_worker(
    llm,
    redis_url,
    api,  # noqa: F811
):
    redis = connect(redis_url)
    store = SessionStore(redis)
    runner = TurnRunner(Agent(agent_config(llm), test_tools()), store, {})
    settings = Settings(_env_file=None, discord_bot_token=dc.TOKEN, discord_api_url=api.base_url)
    surfaces = await platforms()["discord"].worker_surfaces(Runtime(settings, redis, store, runner))
    assert surfaces is not None
    runner.surfaces["discord"] = surfaces
    runner.start()
    try:
        async with Rig(llm, redis_url, api, consume=False) as rig:
            llm.script(text("Streamed by a worker over REST."))
            thread = await rig.ask("hello")
            assert rig.texts(thread)[-1] == "Streamed by a worker over REST."
            assert not rig.runner.queue.tasks
    finally:
        await runner.close()
        await surfaces.client.close()
        await redis.aclose()


async def test_the_worker_command_renders_for_each_platform_with_credentials(
    llm, redis_url, slack, tmp_path
):
    settings = settings_for(llm, redis_url, slack, tmp_path, discord_bot_token=None)
    async with runtime(settings, tools=test_tools()) as rt:
        found = await platform_surfaces(rt)
    assert ("slack" in found) and ("discord" not in found)


async def test_doctor_checks_each_configured_platform_s_credentials(
    llm,
    redis_url,
    slack,
    tmp_path,
    api,  # noqa: F811
):
    settings = settings_for(
        llm, redis_url, slack, tmp_path, discord_bot_token=dc.TOKEN, discord_api_url=api.base_url
    )
    checks = platform_checks(settings)
    assert set(checks) == {"slack", "discord"}
    out = io.StringIO()
    assert await run_doctor(settings, out, checks) == 0
    assert out.getvalue().splitlines() == [
        f"ok   discord: logged in as {dc.BOT_USER['username']}",
        "ok   slack: workspace Test Team as @ml-intern",
    ]
    slack.fail_method("auth.test", "invalid_auth")
    out = io.StringIO()
    assert await run_doctor(settings, out, {"slack": checks["slack"]}) == 1
    refused = "FAIL slack: PermissionError: Slack refused SLACK_BOT_TOKEN: invalid_auth\n"
    assert out.getvalue() == refused
    assert (
        platform_checks(settings_for(llm, redis_url, slack, tmp_path, slack_bot_token=None)) == {}
    )


def test_every_platform_is_found_through_the_registry():
    found = platforms()
    assert set(found) == {"slack", "discord", "console"}
    for name, platform in found.items():
        assert isinstance(platform, Platform) and platform.name == name
    assert {p.install_command for p in found.values()} == {"manifest", "invite", None}


def test_the_command_line_has_a_command_for_each_chat_platform_of_the_registry():
    parser = cli.build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert {"slack", "discord"} <= set(commands) and "console" in commands
    assert parser.parse_args(["slack"]).command == "slack"
    assert parser.parse_args(["invite", "discord"]).platform == "discord"
    with pytest.raises(SystemExit):
        parser.parse_args(["manifest", "discord"])  # Discord has no manifest


def test_only_platforms_with_credentials_are_configured(llm, redis_url, slack, tmp_path):
    both = settings_for(llm, redis_url, slack, tmp_path, discord_bot_token=dc.TOKEN)
    assert [p.name for p in configured_platforms(both)] == ["discord", "slack"]
    none = settings_for(llm, redis_url, slack, tmp_path, slack_bot_token=None)
    assert configured_platforms(none) == []


async def test_a_front_end_of_each_platform_mounts_and_is_a_front_end(
    llm, redis_url, slack, tmp_path
):
    settings = settings_for(llm, redis_url, slack, tmp_path)
    async with runtime(settings, tools=test_tools()) as rt:
        for name in ("slack", "console"):
            front_end = platforms()[name].front_end(rt)
            assert isinstance(front_end, FrontEnd)
            assert name in rt.runner.surfaces  # the front end registered its surfaces


def test_install_helpers_print_through_the_registry(llm, redis_url, slack, tmp_path, capsys):
    assert cli.main(["manifest", "slack"]) == 0
    assert "app_mentions:read" in capsys.readouterr().out
