"""Settings, the embedded store, the HTTP endpoints, the CLI and doctor."""

import asyncio
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import ClientSession

from agent.session import Session
from bot.ops.doctor import run_doctor
from bot.ops.http import build_http_app, serve
from bot.runtime import build_tools
from bot.settings import Settings
from bot.store.embedded import connect, redis_for
from bot.store.sessions import SessionStore

ROOT = Path(__file__).resolve().parents[1]


def test_settings_read_the_contract_names(monkeypatch):
    env = {
        "REDIS_URL": "redis://127.0.0.1:1/2",
        "MODEL": "openai/gpt-4o-mini",
        "APPROVERS": "U1, S2 ,role:3",
        "YOLO_MODE": "1",
        "PORT": "8080",
        "SLACK_BOT_TOKEN": "xoxb-secret",
        "SLACK_SIGNING_SECRET": "shh",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    assert settings.redis_url == "redis://127.0.0.1:1/2"
    assert settings.approver_ids == frozenset({"U1", "S2", "role:3"})
    assert settings.agent_config().yolo_mode is True
    assert settings.port == 8080 and settings.slack_enabled and not settings.discord_enabled
    assert "xoxb-secret" not in repr(settings)  # secrets stay hidden


def test_the_runtime_offers_the_hf_tools_and_only_the_named_job_secrets(monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_API_KEY", "wandb-value")
    monkeypatch.setenv("NOT_SHARED", "private")
    settings = Settings(
        _env_file=None,
        hf_token="hf_bot",
        job_secret_names="HF_TOKEN, WANDB_API_KEY, UNSET_NAME",
        data_dir=tmp_path,
    )
    assert settings.job_secrets() == {"HF_TOKEN": "hf_bot", "WANDB_API_KEY": "wandb-value"}
    names = build_tools(settings).names()
    for tool in ("plan", "hf_jobs", "hf_repo_files", "hf_repo_git", "hf_private_repos"):
        assert tool in names
    assert "sandbox_create" in names and "hf_search" in names


def test_invalid_settings_stop_the_cli_with_a_clear_message():
    env = {**os.environ, "REDIS_URL": "http://nope", "PORT": "99999"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "doctor"], env=env, capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 1
    assert "Invalid settings" in result.stderr
    assert "REDIS_URL" in result.stderr and "PORT" in result.stderr


async def test_embedded_redis_persists_sessions_across_restarts(tmp_path):
    data = tmp_path / "data"
    async with redis_for(None, data) as redis:
        await SessionStore(redis).save(
            Session(key="c:l:t:1", history=[{"role": "user", "content": "x"}])
        )
    assert (data / "appendonlydir").exists()
    async with redis_for(None, data) as redis:
        session = await SessionStore(redis).load("c:l:t:1")
    assert session.history == [{"role": "user", "content": "x"}]


async def test_healthz_reports_redis_and_metrics_are_served(
    redis_url, redis_server, unused_tcp_port
):
    from bot.store.embedded import connect

    redis = connect(redis_url)
    runner = await serve(build_http_app(redis), unused_tcp_port, host="127.0.0.1")
    base = f"http://127.0.0.1:{unused_tcp_port}"
    try:
        async with ClientSession() as http:
            async with http.get(f"{base}/healthz") as resp:
                assert resp.status == 200 and (await resp.json())["ok"] is True
            async with http.get(f"{base}/metrics") as resp:
                assert resp.status == 200
                assert "mib_turns_total" in await resp.text()
            redis_server.stop()
            try:
                async with http.get(f"{base}/healthz") as resp:
                    assert resp.status == 503
            finally:
                redis_server.start()
    finally:
        await runner.cleanup()
        await redis.aclose()


async def test_doctor_prints_one_line_per_check_and_fails_on_any(redis_url):
    async def broken(_settings):
        raise ConnectionError("no route to model\nsecond line")

    async def fine(_settings):
        return "all good"

    settings = Settings(_env_file=None, redis_url=redis_url)
    out = io.StringIO()
    code = await run_doctor(settings, out, {"redis": fine, "llm": broken})
    assert code == 1
    assert out.getvalue().splitlines() == [
        "ok   redis: all good",
        "FAIL llm: ConnectionError: no route to model",
    ]


async def test_doctor_checks_a_real_redis_and_model(redis_url, llm):
    from bot.ops.doctor import check_llm, check_redis
    from tests.standins.llm import text

    llm.script(text("p"))
    settings = Settings(
        _env_file=None, redis_url=redis_url, model="test-model", llm_api_base=llm.base_url
    )
    out = io.StringIO()
    code = await run_doctor(settings, out, {"redis": check_redis, "llm": check_llm})
    assert code == 0, out.getvalue()
    assert "ok   redis" in out.getvalue() and "ok   llm" in out.getvalue()


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"]])
def test_cli_help(argv):
    result = subprocess.run(
        [sys.executable, "-m", "bot", *argv], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0 and "ml-intern-bot" in result.stdout


async def test_a_burst_beyond_the_pool_waits_for_a_connection_instead_of_failing(redis_url):
    client = connect(redis_url, max_connections=2)
    try:
        results = await asyncio.gather(*(client.blpop([f"mib:test:{n}"], 0.05) for n in range(12)))
        assert results == [None] * 12  # each waited its turn on two connections
    finally:
        await client.aclose()
