# ruff: noqa: F811
"""Session traces: real agent turns recorded, batched and uploaded to the Hub stand-in."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from datetime import UTC, datetime
from typing import Any

from huggingface_hub import HfApi

from agent.loop import Agent, Turn
from agent.session import Session
from bot.ops.traces import Tracer, tracer_for
from bot.output.redact import register_secret
from bot.settings import Settings
from tests.standins.hub import TOKEN, USER, HubStandIn, hub  # noqa: F401
from tests.standins.llm import text, tool_calls
from tests.support import eventually, make_agent

REPO = f"{USER}/bot-traces"
KEY = "slack:T1:C1:1700000000.000100"
TOKEN_SHAPED = "hf_" + "Ab3" * 12
SECRET = "correct-horse-battery-staple-7731"


def tracer_on(hub: HubStandIn, **options: Any) -> Tracer:
    return Tracer(hub.api(), REPO, model="openai/test-model", **options)


async def traced_turn(agent: Agent, tracer: Tracer, session: Session, said: str, turn_id: str):
    """One agent turn whose events go to the tracer, as the runner's ``emit`` does."""

    async def emit(event) -> None:
        tracer.record(session.key, turn_id, event)

    await agent.run(session, said, Turn(emit=emit))
    tracer.turn_done(session.key, turn_id, session.history)


def finish(tracer: Tracer, *turn_ids: str) -> None:
    """Turns with no events, only a history (quick filler for batches)."""
    for turn_id in turn_ids:
        tracer.turn_done(KEY, turn_id, [{"role": "user", "content": f"turn {turn_id}"}])


def uploaded(hub: HubStandIn) -> dict[str, list[dict[str, Any]]]:
    """The trace files in the dataset, parsed, by path."""
    files = hub.repo(REPO, "dataset").files()
    return {
        path: [json.loads(line) for line in content.decode().splitlines()]
        for path, content in files.items()
        if path.startswith("traces/")
    }


def commits(hub: HubStandIn) -> int:
    return len(hub.calls("POST", r"/api/datasets/.*/commit/"))


def landed(hub: HubStandIn) -> bool:
    return ("dataset", REPO) in hub.repos and bool(uploaded(hub))


async def test_a_batch_of_turns_lands_as_one_commit_in_a_private_dataset(hub, llm):
    agent = make_agent(llm)
    tracer = tracer_on(hub, interval=60, batch_size=3)
    tracer.start()
    session = Session(key=KEY)
    llm.script(tool_calls(("echo", {"text": "hi"})), text("Echoed."), text("Second."))
    await traced_turn(agent, tracer, session, "echo hi", "t1")
    await traced_turn(agent, tracer, session, "again", "t2")
    finish(tracer, "t3")  # the third waiting turn triggers the upload, long before 60 s

    await eventually(lambda: landed(hub), within=5)
    await tracer.close()

    repo = hub.repo(REPO, "dataset")
    assert repo.private
    assert len(hub.calls("POST", "/api/repos/create")) == 1
    assert commits(hub) == 1
    [(path, records)] = uploaded(hub).items()
    assert re.fullmatch(rf"traces/{datetime.now(UTC):%Y-%m-%d}/[0-9a-f]{{32}}\.jsonl", path)
    assert [r["turn_id"] for r in records] == ["t1", "t2", "t3"]
    first = records[0]
    assert first["session_key"] == KEY and first["platform"] == "slack"
    assert first["model"] == "openai/test-model"
    assert first["started_at"] <= first["ended_at"]
    types = [e["type"] for e in first["events"]]
    assert types[0] == "processing" and types[-1] == "turn_complete"
    assert {"tool_call", "tool_output", "assistant_chunk"} <= set(types)
    answer = [e["content"] for e in first["events"] if e["type"] == "assistant_chunk"]
    assert answer == ["Echoed."]  # streamed chunks kept as one event
    assert [m["role"] for m in first["history"]] == ["user", "assistant", "tool", "assistant"]
    assert len(records[1]["history"]) == 6  # the session's history at the end of that turn


async def test_tokens_and_registered_secrets_are_redacted_in_the_upload(hub, llm):
    register_secret(SECRET)
    agent = make_agent(llm)
    tracer = tracer_on(hub)
    session = Session(key=KEY)
    llm.script(
        tool_calls(("echo", {"text": TOKEN_SHAPED})),
        text(f"Your password is {SECRET}, keep it safe.", chunk_size=4),
    )
    await traced_turn(agent, tracer, session, f"store {TOKEN_SHAPED} and {SECRET}", "t1")

    assert await tracer.flush()

    content = hub.repo(REPO, "dataset").files()
    body = "".join(c.decode() for p, c in content.items() if p.startswith("traces/"))
    assert TOKEN_SHAPED not in body and SECRET not in body
    assert SECRET[:12] not in body  # not even a piece of it from a split chunk
    [line] = body.splitlines()
    record = json.loads(line)
    assert record["history"][0]["content"] == "store [redacted] and [redacted]"
    call = next(e for e in record["events"] if e["type"] == "tool_call")
    assert call["arguments"] == {"text": "[redacted]"}
    answer = next(e for e in record["events"] if e["type"] == "assistant_chunk")
    assert answer["content"] == "Your password is [redacted], keep it safe."
    assert session.history[0]["content"] == f"store {TOKEN_SHAPED} and {SECRET}"  # untouched


async def test_record_never_waits_on_a_stalled_hub(hub, llm):
    agent = make_agent(llm)
    tracer = tracer_on(hub, interval=60, batch_size=1)
    tracer.start()
    release = hub.stall(r"/commit/")
    finish(tracer, "t0")  # its upload starts and hangs on the stalled commit
    await eventually(lambda: hub.calls("POST", r"/commit/"), within=5)

    llm.script(text("Still answering."))
    started = time.monotonic()
    await traced_turn(agent, tracer, Session(key=KEY), "hello", "t1")
    assert time.monotonic() - started < 2
    assert not uploaded(hub)  # the turn finished while the first upload still hung

    release.set()
    await eventually(
        lambda: {r["turn_id"] for f in uploaded(hub).values() for r in f} == {"t0", "t1"}
    )
    await tracer.close()


async def test_a_failing_hub_is_retried_with_backoff_and_the_batch_lands_once(hub, caplog):
    hub.fail(r"/api/repos/create", 500, times=1)
    hub.fail(r"/commit/", 500, times=2)
    tracer = tracer_on(hub, interval=0.05, batch_size=2)
    tracer.start()
    with caplog.at_level(logging.WARNING, logger="bot.ops.traces"):
        finish(tracer, "t1", "t2")
        await eventually(lambda: landed(hub), within=5)
    await tracer.close()

    [records] = uploaded(hub).values()
    assert [r["turn_id"] for r in records] == ["t1", "t2"]
    attempts = [r.getMessage() for r in caplog.records if "could not upload" in r.getMessage()]
    assert len(attempts) == 3 and "attempt 3" in attempts[-1]
    assert tracer.waiting == 0


async def test_an_unreachable_hub_keeps_the_traces_until_it_is_back(hub):
    tracer = tracer_on(hub)
    port = hub.port
    await hub.close()
    finish(tracer, "t1", "t2")

    assert not await tracer.flush()
    assert tracer.waiting == 2

    await hub.start(port)
    assert await tracer.flush()
    [records] = uploaded(hub).values()
    assert [r["turn_id"] for r in records] == ["t1", "t2"]


async def test_close_flushes_what_is_left(hub):
    tracer = tracer_on(hub, interval=60, batch_size=100)
    tracer.start()
    finish(tracer, "t1", "t2")
    await asyncio.sleep(0.05)
    assert not hub.calls("POST", r"/commit/")  # neither interval nor batch size reached

    await tracer.close()

    assert commits(hub) == 1
    assert [r["turn_id"] for r in next(iter(uploaded(hub).values()))] == ["t1", "t2"]


async def test_close_gives_up_after_its_timeout(hub, caplog):
    tracer = tracer_on(hub)
    release = hub.stall(r"/commit/")
    finish(tracer, "t1")
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="bot.ops.traces"):
        await tracer.close(within=0.3)
    assert time.monotonic() - started < 2
    assert "1 session traces were not uploaded" in caplog.text
    release.set()


async def test_the_buffer_drops_the_oldest_turns_past_its_bound(hub, caplog):
    tracer = tracer_on(hub, batch_size=10, max_pending=3)
    with caplog.at_level(logging.WARNING, logger="bot.ops.traces"):
        finish(tracer, "t1", "t2", "t3", "t4", "t5")
    assert tracer.waiting == 3 and tracer.dropped == 2
    assert "dropped 1 session traces" in caplog.text

    assert await tracer.flush()
    [records] = uploaded(hub).values()
    assert [r["turn_id"] for r in records] == ["t3", "t4", "t5"]


def test_the_traces_settings_configure_the_tracer(monkeypatch):
    monkeypatch.setenv("SESSION_TRACES_REPO", "org/traces")
    monkeypatch.setenv("SESSION_TRACES_BATCH_SIZE", "5")
    api = HfApi(endpoint="http://127.0.0.1:1")
    tracer = tracer_for(Settings(_env_file=None, model="openai/m"), api)
    assert tracer is not None and tracer.api is api
    assert (tracer.repo_id, tracer.model) == ("org/traces", "openai/m")
    assert (tracer.batch_size, tracer.interval) == (5, 60)

    monkeypatch.delenv("SESSION_TRACES_REPO")
    assert tracer_for(Settings(_env_file=None), api) is None


async def test_the_runtime_traces_every_turn_it_runs(hub, llm, redis_url, tmp_path):
    from bot.runtime import runtime
    from tests.support import RecordingSurface, test_tools

    settings = Settings(
        _env_file=None,
        redis_url=redis_url,
        data_dir=tmp_path,
        model="openai/test-model",
        llm_api_base=llm.base_url,
        llm_api_key="sk-test",
        llm_retries=0,
        hf_endpoint=hub.url,
        hf_token=TOKEN,
        session_traces_repo=REPO,
    )
    llm.script(text("Traced answer."))
    async with runtime(settings, tools=test_tools()) as rt:
        rt.runner.surfaces["slack"] = lambda key, ref: RecordingSurface()
        await rt.runner.submit(KEY, {"kind": "message", "text": "trace me", "user": "U1"})
        await rt.runner.wait_idle()
    (records,) = uploaded(hub).values()  # closing the runtime flushed the tracer
    (record,) = records
    assert record["session_key"] == KEY and record["platform"] == "slack"
    assert [m["content"] for m in record["history"]] == ["trace me", "Traced answer."]
    assert "turn_complete" in [e["type"] for e in record["events"]]
