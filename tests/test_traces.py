# ruff: noqa: F811
"""Session traces: real agent turns recorded, batched and uploaded to the Hub stand-in."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from huggingface_hub import HfApi

from agent.loop import Agent, Turn
from agent.session import Session
from bot.approvals.actor import Actor
from bot.output.redact import register_secret
from bot.settings import Settings
from bot.telemetry.traces import Tracer, tracer_for
from bot.turns.feedback import Rating
from tests.standins.hub import TOKEN, USER, HubStandIn, hub  # noqa: F401
from tests.standins.llm import text, tool_calls
from tests.support import eventually, hub_bot_settings, make_agent

REPO = f"{USER}/bot-traces"
KEY = "slack:T1:C1:1700000000.000100"
TOKEN_SHAPED = "hf_" + "Ab3" * 12
SECRET = "correct-horse-battery-staple-7731"


def tracer_on(hub: HubStandIn, **options: Any) -> Tracer:
    return Tracer(hub.api(), REPO, model="openai/test-model", **options)


async def traced_turn(
    agent: Agent, tracer: Tracer, session: Session, said: str, turn_id: str, model=None
):
    """One agent turn whose events go to the tracer, as the runner's ``emit`` does."""

    async def emit(event) -> None:
        tracer.record(session.key, turn_id, event)

    await agent.run(session, said, Turn(emit=emit))
    tracer.turn_done(session.key, turn_id, session.history, model)


def traced_settings(hub: HubStandIn, llm, redis_url: str, tmp_path) -> Settings:
    """A bot on the loopback LLM and Hub with session traces on."""
    return hub_bot_settings(hub, llm, redis_url, tmp_path, session_traces_repo=REPO)


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


def ratings(hub: HubStandIn) -> list[dict[str, Any]]:
    """The rating lines in the dataset, oldest file first."""
    files = hub.repo(REPO, "dataset").files()
    commits_in_order = [p for p in _paths_in_commit_order(hub) if p.startswith("feedback/")]
    return [json.loads(line) for p in commits_in_order for line in files[p].decode().splitlines()]


def _paths_in_commit_order(hub: HubStandIn) -> list[str]:
    paths: list[str] = []
    for call in hub.calls("POST", r"/api/datasets/.*/commit/"):
        for line in call.body.decode().splitlines():
            entry = json.loads(line)
            if entry["key"] == "file" and entry["value"]["path"] not in paths:
                paths.append(entry["value"]["path"])
    return paths


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
    await traced_turn(agent, tracer, session, "again", "t2", model="openai/chosen-model")
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
    assert records[1]["model"] == "openai/chosen-model"  # a thread's choice, where it chose


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
    async with asyncio.timeout(30):  # a turn that waited on the hub would wait for ever
        await traced_turn(agent, tracer, Session(key=KEY), "hello", "t1")
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
    with caplog.at_level(logging.WARNING, logger="bot.telemetry.traces"):
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
    with caplog.at_level(logging.WARNING, logger="bot.telemetry.traces"):
        async with asyncio.timeout(30):  # the stalled commit never ends: close gives up
            await tracer.close(within=0.3)
    assert "1 session traces were not uploaded" in caplog.text
    release.set()


async def test_the_buffer_drops_the_oldest_turns_past_its_bound(hub, caplog):
    tracer = tracer_on(hub, batch_size=10, max_pending=3)
    with caplog.at_level(logging.WARNING, logger="bot.telemetry.traces"):
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


async def test_the_runtime_traces_every_turn_it_runs_and_its_ratings(hub, llm, redis_url, tmp_path):
    from bot.runtime import runtime
    from tests.support import RecordingSurface, test_tools

    settings = traced_settings(hub, llm, redis_url, tmp_path)
    llm.script(text("Traced answer."))
    async with runtime(settings, tools=test_tools()) as rt:
        rt.runner.surfaces["slack"] = lambda key, ref: RecordingSurface()
        await rt.runner.submit(KEY, {"kind": "message", "text": "trace me", "user": "U1"})
        await rt.runner.wait_idle()
        turn = (await rt.store.meta(KEY))["turn"]
        await rt.runner.rate(KEY, turn, Actor("U2", name="bob"), "down", "too short")
    (records,) = uploaded(hub).values()  # closing the runtime flushed the tracer
    (record,) = records
    assert record["session_key"] == KEY and record["platform"] == "slack"
    assert [m["content"] for m in record["history"]] == ["trace me", "Traced answer."]
    (rating,) = ratings(hub)
    assert rating["turn_id"] == record["turn_id"] == turn
    assert (rating["by"], rating["rating"], rating["comment"]) == ("U2", "down", "too short")
    assert "turn_complete" in [e["type"] for e in record["events"]]


async def test_ratings_land_beside_the_turns_and_a_waiting_one_is_replaced(hub):
    tracer = tracer_on(hub, batch_size=100)
    finish(tracer, "t1")
    tracer.rated(Rating(KEY, "t1", "up", "U1", at=1_800_000_000.0))
    tracer.rated(Rating(KEY, "t1", "down", "U1", 1_800_000_001.0, comment=f"see {TOKEN_SHAPED}"))
    tracer.rated(Rating(KEY, "t1", "up", "U2", at=1_800_000_002.0))
    assert tracer.waiting == 3  # a turn and two people's ratings

    assert await tracer.flush()

    assert commits(hub) == 1
    assert [r["turn_id"] for f in uploaded(hub).values() for r in f] == ["t1"]
    first = ratings(hub)
    assert [(r["by"], r["rating"]) for r in first] == [("U1", "down"), ("U2", "up")]
    assert first[0] == {
        "session_key": KEY,
        "platform": "slack",
        "turn_id": "t1",
        "rating": "down",
        "by": "U1",
        "at": "2027-01-15T08:00:01+00:00",
        "comment": "see [redacted]",
    }
    card = hub.repo(REPO, "dataset").files()["README.md"].decode()
    assert 'config_name: turns\n  data_files: "traces/**/*.jsonl"' in card
    assert 'config_name: ratings\n  data_files: "feedback/**/*.jsonl"' in card

    tracer.rated(Rating(KEY, "t1", "up", "U1", at=1_800_000_003.0))  # after the upload
    assert await tracer.flush()
    assert [(r["by"], r["rating"]) for r in ratings(hub)][-1] == ("U1", "up")
    assert len(ratings(hub)) == 3, "an uploaded rating stays; the newer one is a new line"
    readme_writes = [p for p in _paths_in_commit_order(hub) if p == "README.md"]
    assert readme_writes == ["README.md"] and commits(hub) == 2


async def test_a_dataset_card_of_its_own_is_left_alone(hub):
    hub.add_repo(REPO, repo_type="dataset", private=True, files={"README.md": "# Our traces"})
    tracer = tracer_on(hub)
    tracer.rated(Rating(KEY, "t1", "up", "U1", at=1_800_000_000.0))
    assert await tracer.flush()
    assert hub.repo(REPO, "dataset").files()["README.md"] == b"# Our traces"
    assert [r["rating"] for r in ratings(hub)] == ["up"]


async def test_closing_during_an_upload_sends_the_batch_once(hub):
    tracer = tracer_on(hub, interval=60, batch_size=1)
    tracer.start()
    release = hub.stall(r"/api/datasets/.*/commit/")
    finish(tracer, "t1")  # a full batch: the flusher uploads it at once
    await eventually(lambda: commits(hub) == 1)  # its commit is on its way, held
    closing = asyncio.create_task(tracer.close())
    await asyncio.sleep(0.2)  # close() waits for the upload under way instead of cutting it
    release.set()
    await closing

    assert commits(hub) == 1
    assert [r["turn_id"] for r in next(iter(uploaded(hub).values()))] == ["t1"]
    assert tracer.waiting == 0
