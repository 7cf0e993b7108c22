"""Ratings of turns in the ``mib:feedback`` stream, and ``ml-intern-bot audit --feedback``."""

from __future__ import annotations

import asyncio
import json

import pytest

from bot.approvals.actor import Actor
from bot.cli import main
from bot.turns.feedback import FeedbackLog, Rating

KEY = "discord:800:801:802"
OTHER = "slack:T1:C1:1700000000.000100"


def rating(by: str, value: str, *, key: str = KEY, turn: str = "t1", **extra) -> Rating:
    return Rating.now(key, turn, Actor(by, name=f"{by.lower()}-name"), value, **extra)


async def test_a_second_rating_by_the_same_person_replaces_the_first(redis):
    log = FeedbackLog(redis, ttl_seconds=3600)
    first = await log.record(rating("U1", "up"))
    await log.record(rating("U2", "up"))
    again = await log.record(rating("U1", "down", comment="  wrong file  "))
    await log.record(rating("U1", "up", turn="t2"))  # another turn is another rating

    stored = await log.read(thread=KEY)
    assert [(r.by, r.turn_id, r.rating, r.comment) for r in stored] == [
        ("U2", "t1", "up", ""),
        ("U1", "t1", "down", "wrong file"),
        ("U1", "t2", "up", ""),
    ]
    assert first.id not in [r.id for r in stored] and stored[1].id == again.id
    assert stored[1].by_name == "u1-name"
    assert await redis.xlen("mib:feedback") == 3
    assert 0 < await redis.ttl(f"mib:rated:{KEY}") <= 3600


async def test_concurrent_clicks_of_one_person_leave_one_entry(redis):
    log = FeedbackLog(redis, ttl_seconds=3600)
    await asyncio.gather(*(log.record(rating("U1", ("up", "down")[n % 2])) for n in range(20)))
    (only,) = await log.read()
    assert only.by == "U1"


async def test_reading_filters_by_thread_and_time(redis):
    log = FeedbackLog(redis, ttl_seconds=3600)
    await log.record(rating("U1", "up"))
    await log.record(rating("U1", "down", key=OTHER))
    assert [r.session_key for r in await log.read(thread=OTHER)] == [OTHER]
    assert len(await log.read()) == 2
    assert await log.read(since=4_000_000_000) == []


async def test_a_rating_is_up_or_down(redis):
    with pytest.raises(ValueError, match="up"):
        await FeedbackLog(redis, ttl_seconds=60).record(rating("U1", "meh"))


async def test_audit_feedback_lists_the_ratings(redis, redis_url, monkeypatch, capsys):
    log = FeedbackLog(redis, ttl_seconds=3600)
    await log.record(rating("U1", "up"))
    await log.record(rating("U2", "down", key=OTHER, comment="it ignored\nthe batch size"))
    monkeypatch.setenv("REDIS_URL", redis_url)

    assert await asyncio.to_thread(main, ["audit", "--feedback"]) == 0
    table = capsys.readouterr().out.strip().splitlines()
    assert len(table) == 2
    assert (
        "👍 up" in table[0] and "u1-name" in table[0] and KEY in table[0] and "turn t1" in table[0]
    )
    assert "👎 down" in table[1] and "“it ignored the batch size”" in table[1]

    argv = ["audit", "--feedback", "--thread", OTHER, "--since", "1h", "--json"]
    assert await asyncio.to_thread(main, argv) == 0
    (line,) = capsys.readouterr().out.strip().splitlines()
    entry = json.loads(line)
    assert (entry["by"], entry["rating"], entry["session_key"]) == ("U2", "down", OTHER)
    assert entry["comment"] == "it ignored\nthe batch size" and entry["turn_id"] == "t1"

    assert await asyncio.to_thread(main, ["audit", "--feedback", "--thread", "slack:T:C:none"]) == 0
    assert "no ratings" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["audit", "--feedback", "--approval", "appr-1"])  # decisions or ratings, not both
