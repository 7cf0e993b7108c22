"""Redis key names: pinned byte for byte, and built only in bot/store/redis_keys.py.

Data written by an older version must be found after an upgrade, so every key
string here is spelled out by hand; a change to one is a storage migration.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from agent.session import Session
from agent.tools.registry import ToolContext
from bot.approvals.actor import Actor
from bot.approvals.audit import AuditEntry, AuditLog
from bot.approvals.budget import Budgets
from bot.store import redis_keys as rk
from bot.store.sessions import SessionStore
from bot.telemetry.logs import log_context
from bot.turns.admission import Admission
from bot.turns.feedback import FeedbackLog, Rating
from bot.turns.limits import TurnLimits
from bot.turns.models import ModelChoices, ModelPicker
from bot.turns.once import OnceTools

ROOT = Path(__file__).resolve().parent.parent
KEY = "slack:T01:C02:1700000000.000100"
DM = "discord:dm:123:123"
LINE = "job:65f1c0ffee"

PINNED = [
    (rk.session(KEY), "mib:session:slack:T01:C02:1700000000.000100"),
    (rk.session(DM), "mib:session:discord:dm:123:123"),
    (rk.meta(KEY), "mib:meta:slack:T01:C02:1700000000.000100"),
    (rk.lines(KEY), "mib:lines:slack:T01:C02:1700000000.000100"),
    (rk.inbox(KEY), "mib:inbox:slack:T01:C02:1700000000.000100"),
    (rk.current(KEY), "mib:current:slack:T01:C02:1700000000.000100"),
    (rk.lock(KEY), "mib:lock:slack:T01:C02:1700000000.000100"),
    (rk.expiring("slack"), "mib:expiring:slack"),
    (
        rk.ran(KEY, rk.tool_call("a1b2c3d4e5f6", 3, "call_1", "b6fb923854f73b9e")),
        "mib:ran:slack:T01:C02:1700000000.000100:a1b2c3d4e5f6:3:call_1:b6fb923854f73b9e",
    ),
    (rk.approval("appr-7f3a"), "mib:approval:appr-7f3a"),
    (rk.decisions("appr-7f3a"), "mib:decisions:appr-7f3a"),
    (rk.votes("appr-7f3a"), "mib:votes:appr-7f3a"),
    (rk.BACKGROUND, "mib:background"),
    (rk.resumed(KEY, LINE), "mib:resumed:slack:T01:C02:1700000000.000100:job:65f1c0ffee"),
    (rk.seen(rk.platform_event("slack", "Ev0123ABC")), "mib:seen:slack:Ev0123ABC"),
    (rk.seen(rk.platform_event("discord", 1234567890123)), "mib:seen:discord:1234567890123"),
    (rk.seen("Ev-from-an-input"), "mib:seen:Ev-from-an-input"),
    (rk.TURNS, "mib:turns"),
    (rk.AUDIT, "mib:audit"),
    (rk.FEEDBACK, "mib:feedback"),
    (rk.rated(KEY), "mib:rated:slack:T01:C02:1700000000.000100"),
    (rk.budget(KEY), "mib:budget:slack:T01:C02:1700000000.000100"),
    (rk.thread_model(KEY), "mib:model:slack:T01:C02:1700000000.000100"),
    (rk.channel_model(rk.channel_of(KEY)), "mib:channel_model:slack:T01:C02"),
    (rk.rate_user("U0ALICE"), "mib:rate:user:U0ALICE"),
    (rk.rate_channel(rk.channel_of(KEY)), "mib:rate:channel:slack:T01:C02"),
    (rk.rate_channel(rk.channel_of(DM)), "mib:rate:channel:discord:dm:123"),
    (rk.CONTROL, "mib:control"),
    (rk.PENDING, "mib:pending"),
    (rk.reminded("appr-7f3a"), "mib:reminded:appr-7f3a"),
    (rk.announced("appr-7f3a"), "mib:announced:appr-7f3a"),
    (rk.RUNNING_JOBS, "mib:running_jobs"),
    (rk.job("65f1c0ffee"), "mib:job:65f1c0ffee"),
    (rk.BUDGETS, "mib:budgets"),
    (rk.CHANGES, "mib:changes"),
    (rk.HOME_VIEWERS, "mib:home:viewers"),
    (rk.home_round(42), "mib:home:round:42"),
    (rk.SANDBOXES, "mib:sandboxes"),
    (rk.SANDBOX_USED, "mib:sandbox:used"),
    (rk.SANDBOX_WARM, "mib:sandbox:warm"),
    (rk.SANDBOX_WARMING, "mib:sandbox:warming"),
    (rk.SANDBOX_SWEEP, "mib:sandbox:sweep"),
    (rk.SANDBOX_ORPHANS, "mib:sandbox:orphans"),
    (rk.viewing("T01", "U02"), "mib:viewing:T01:U02"),
]


@pytest.mark.parametrize(("built", "expected"), PINNED, ids=[e for _, e in PINNED])
def test_each_key_is_the_same_string_as_before(built, expected):
    assert built == expected


def test_names_that_go_with_the_keys_are_pinned_too():
    assert rk.TURNS_GROUP == "workers"
    assert rk.PENDING_PREFIXES == ("mib:inbox:", "mib:current:")
    assert rk.session_data(KEY) == (
        "mib:session:slack:T01:C02:1700000000.000100",
        "mib:meta:slack:T01:C02:1700000000.000100",
        "mib:lines:slack:T01:C02:1700000000.000100",
    )
    field = rk.background_field(KEY, LINE)
    assert field == "slack:T01:C02:1700000000.000100\x1fjob:65f1c0ffee"
    assert rk.parse_background_field(field) == (KEY, LINE)
    assert rk.tool_call("t", -1, "0", "d") == "t:-1:0:d"


def test_the_docstring_lists_every_key():
    doc = rk.__doc__ or ""
    for _, expected in PINNED:
        pattern = re.sub(r"slack:T01:C02:1700000000\.000100", "<session>", expected)
        kind = ":".join(pattern.split(":")[:2])
        assert f"``{kind}" in doc, kind
    assert "bot.session_key" in doc  # and how session keys differ from Redis keys


def test_the_tool_call_key_of_once_tools_is_unchanged():
    session = Session(KEY, history=[{"role": "assistant", "tool_calls": [{"id": "call_1"}]}])
    with log_context(KEY, "a1b2c3d4e5f6"):
        call = OnceTools._key({"operation": "ps"}, ToolContext(session, tool_call_id="call_1"))
    assert call == "a1b2c3d4e5f6:0:call_1:b6fb923854f73b9e"


# ── the modules write exactly these keys ────────────────────────────────────


async def test_the_modules_write_these_exact_keys_with_the_documented_ttls(redis):
    from adapters.slack.frontend import dedupe

    store = SessionStore(redis, ttl_seconds=3600)
    await store.save(Session(KEY), model="m")
    await store.set_line_ref(KEY, LINE, "1700000001.000200")
    await store.push_input(KEY, {"kind": "message", "text": "one"})
    await store.push_input(KEY, {"kind": "message", "text": "two"})
    await store.take_input(KEY)
    assert await store.acquire_lock(KEY, 30_000)
    assert await store.claim_tool_call(KEY, "a1b2c3d4e5f6:3:call_1:b6fb923854f73b9e")
    tools = [
        {"tool_call_id": "c1", "tool": "hf_jobs", "arguments": {}},
        {"tool_call_id": "c2", "tool": "hf_jobs", "arguments": {}},
    ]
    await store.open_approval(KEY, "appr-7f3a", tools, "U0ALICE", required={"c1": 2})
    assert await store.decide("appr-7f3a", "c1", {"approved": True, "by": "U0LEAD"}) == "vote"
    assert await store.decide("appr-7f3a", "c2", {"approved": False, "by": "U0LEAD"}) == "recorded"
    await store.keep_background(KEY, LINE, {"tool": "hf_jobs", "job_id": "65f1c0ffee"})
    assert await store.claim_background(KEY, LINE, 60)
    assert await store.first_seen("Ev-from-an-input")

    async def nothing():
        return None

    await dedupe(store)({"event_id": "Ev0123ABC"}, nothing)
    await Budgets(redis, ttl_seconds=3600).set_cap(KEY, 5.0)
    await AuditLog(redis).append(
        AuditEntry.of_decision(KEY, "appr-7f3a", tools[1], {"approved": False, "by": "U0LEAD"})
    )
    admission = Admission(store, TurnLimits(redis, per_user=5, per_channel=5))
    assert await admission.refusal(DM, {"text": "hi", "user": "U0ALICE"}) is None
    await FeedbackLog(redis, ttl_seconds=3600).record(Rating.now(KEY, "t1", Actor("U0BOB"), "up"))
    models = ModelPicker(redis, ModelChoices.parse("big=m/big", "m"), ttl_seconds=3600)
    await models.choose(KEY, "big")
    await models.choose(KEY, "big", channel=True)

    written = {k.decode(): (await redis.type(k)).decode() for k in await redis.keys("*")}
    assert written == {
        "mib:session:slack:T01:C02:1700000000.000100": "string",
        "mib:meta:slack:T01:C02:1700000000.000100": "hash",
        "mib:lines:slack:T01:C02:1700000000.000100": "hash",
        "mib:inbox:slack:T01:C02:1700000000.000100": "list",
        "mib:current:slack:T01:C02:1700000000.000100": "list",
        "mib:lock:slack:T01:C02:1700000000.000100": "string",
        "mib:expiring:slack": "zset",
        "mib:ran:slack:T01:C02:1700000000.000100:a1b2c3d4e5f6:3:call_1:b6fb923854f73b9e": "string",
        "mib:approval:appr-7f3a": "hash",
        "mib:decisions:appr-7f3a": "hash",
        "mib:votes:appr-7f3a": "hash",
        "mib:background": "hash",
        "mib:resumed:slack:T01:C02:1700000000.000100:job:65f1c0ffee": "string",
        "mib:seen:Ev-from-an-input": "string",
        "mib:seen:slack:Ev0123ABC": "string",
        "mib:turns": "stream",
        "mib:audit": "stream",
        "mib:feedback": "stream",
        "mib:rated:slack:T01:C02:1700000000.000100": "hash",
        "mib:budget:slack:T01:C02:1700000000.000100": "hash",
        "mib:rate:user:U0ALICE": "string",
        "mib:rate:channel:discord:dm:123": "string",
        "mib:model:slack:T01:C02:1700000000.000100": "string",
        "mib:channel_model:slack:T01:C02": "string",
        "mib:pending": "zset",
        "mib:budgets": "set",
        "mib:changes": "string",
    }
    assert await redis.hkeys("mib:background") == [
        b"slack:T01:C02:1700000000.000100\x1fjob:65f1c0ffee"
    ]
    no_ttl = {
        "mib:current:slack:T01:C02:1700000000.000100",
        "mib:background",
        "mib:turns",
        "mib:audit",
        "mib:channel_model:slack:T01:C02",
        "mib:pending",
        "mib:expiring:slack",
        "mib:budgets",
        "mib:changes",
        "mib:feedback",
    }
    for key in written:
        ttl = await redis.ttl(key)
        assert (ttl == -1) if key in no_ttl else (ttl > 0), (key, ttl)


async def test_data_stored_under_the_old_names_is_found_after_an_upgrade(redis):
    """What an older version left in Redis, written here with its literal key names."""
    await redis.set(
        "mib:session:slack:T01:C02:1700000000.000100",
        '{"key": "slack:T01:C02:1700000000.000100", "history": [{"role": "user", "content": "hi"}]}',
    )
    await redis.hset("mib:meta:slack:T01:C02:1700000000.000100", "model", '"m"')
    await redis.rpush("mib:inbox:slack:T01:C02:1700000000.000100", '{"turn_id": "t1", "text": "a"}')
    await redis.rpush("mib:current:discord:dm:123:123", '{"turn_id": "t0", "text": "b"}')
    await redis.hset("mib:budget:slack:T01:C02:1700000000.000100", mapping={"cap": 5, "spent": 1})
    await redis.hset(
        "mib:approval:appr-old",
        mapping={
            "session_key": KEY,
            "requester": "U0ALICE",
            "status": "open",
            "ids": '["c1"]',
            "tools": '[{"tool_call_id": "c1", "tool": "hf_jobs", "arguments": {}}]',
            "required": "{}",
            "platform_ref": "{}",
        },
    )
    await redis.hset("mib:background", f"{KEY}\x1f{LINE}", '{"tool": "hf_jobs"}')
    await redis.hset("mib:lines:slack:T01:C02:1700000000.000100", LINE, "ref-1")
    await redis.set("mib:seen:slack:Ev0123ABC", 1)

    store = SessionStore(redis)
    session = await store.load(KEY)
    assert session is not None and session.history == [{"role": "user", "content": "hi"}]
    assert await store.meta(KEY) == {"model": "m"}
    assert await store.pending_keys() == {KEY, DM}
    assert await store.current_input(DM) == {"turn_id": "t0", "text": "b"}
    assert (await store.take_input(KEY))["turn_id"] == "t1"
    budget = await Budgets(redis, ttl_seconds=3600).get(KEY)
    assert budget is not None and (budget.cap, budget.spent) == (5.0, 1.0)
    assert await store.decide("appr-old", "c1", {"approved": True}) == "complete"
    assert await store.background() == [(KEY, LINE, {"tool": "hf_jobs"})]
    assert await store.line_ref(KEY, LINE) == "ref-1"
    assert not await store.first_seen(rk.platform_event("slack", "Ev0123ABC"))


# ── no module spells a key itself ───────────────────────────────────────────

KINDS = sorted({expected.split(":")[1] for _, expected in PINNED})
"""session, meta, lines, inbox, ... : the word after ``mib:`` of every key."""
KEY_LITERAL = re.compile(rf"(?<![\w-])mib:(?:{'|'.join(KINDS)})(?![\w-])")


def key_literals(source: str) -> list[tuple[int, str]]:
    """String constants (f-string parts included, docstrings not) that spell a Redis key.

    Also a bare ``"mib"``: the prefix itself, from which keys could be joined.
    """
    tree = ast.parse(source)
    docstrings = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and (node.value == "mib" or KEY_LITERAL.search(node.value))
    ]


def test_the_literal_finder_finds_keys_and_nothing_else():
    source = '''
"""Docs may say mib:turns."""
PREFIX = "mib"
A = f"mib:budget:{key}"
B = "mib:turns"
C = ("KEYS", "mib:inbox:*")
D = f"mib:{verb}:{approval_id}:{n}"
E = "mib:stop"
F = "mib:approve:x:1"
G = "mib_turns_total"
H = "mib:sessions"
def f():
    """mib:lock:<key> too."""
'''
    assert sorted(line for line, _ in key_literals(source)) == [3, 4, 5, 6]
    assert {"session", "inbox", "turns", "rate", "control", "audit"} <= set(KINDS)


def test_no_module_but_redis_keys_spells_a_redis_key():
    sources = [
        path
        for top in ("bot", "adapters", "agent")
        for path in sorted((ROOT / top).rglob("*.py"))
        if path != ROOT / "bot" / "store" / "redis_keys.py"
    ]
    assert len(sources) > 50
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text!r}"
        for path in sources
        for line, text in key_literals(path.read_text())
    ]
    assert not found, "build these with bot/store/redis_keys.py:\n" + "\n".join(found)
