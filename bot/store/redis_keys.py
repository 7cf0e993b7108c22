"""Every Redis key name the bot uses, built here and nowhere else.

The strings are a storage format: Redis data written by an older version must be
found by a newer one, so a key's bytes never change (``tests/test_redis_keys.py``
pins each one, and fails if a module elsewhere spells a key itself).

A *session key* (:mod:`bot.session_key`, ``<platform>:<team>:<channel>:<thread>``)
names a conversation and is not itself a Redis key: the keys below embed it as
their ``<session>`` part, e.g. ``mib:session:slack:T1:C1:1700000000.000100``.

Placeholders: ``<session>`` a session key; ``<approval>`` an approval id (shown
on its card); ``<line>`` a status line's key (``job:<job id>``, made in
``agent/tools/job_watch.py``); ``<call>`` a tool call's idempotency key
(:func:`tool_call`); ``<event>`` a platform event (:func:`platform_event`, e.g.
``slack:Ev0123``) or an input's own ``event_id``; ``<user>`` a platform user id;
``<platform>`` a session key's first part (``slack``, ``discord``, ...);
``<channel>`` the ``<platform>:<team>:<channel>`` of a session key
(:func:`channel_of`); ``<job>`` an HF Job id; ``<version>`` a value of
:data:`CHANGES`. "Session TTL" is ``session_ttl_days`` (default 30 days),
the ``ttl_seconds`` of :class:`~bot.store.sessions.SessionStore` and
:class:`~bot.approvals.budget.Budgets`.

================================  =======  ===================================================  ==============================  =======================================
Key                               Type     Holds                                                Owner (writes it)               TTL
================================  =======  ===================================================  ==============================  =======================================
``mib:session:<session>``         string   the session (history, pending, state) as JSON        bot/store/sessions.py           session TTL, renewed on every save
``mib:meta:<session>``            hash     session metadata (last_activity, ...), JSON values   bot/store/sessions.py           session TTL, renewed on every save
                                           (field ``visible``: below)
``mib:lines:<session>``           hash     ``<line>`` -> platform ref of its status line        bot/store/sessions.py           session TTL, renewed on every write
``mib:inbox:<session>``           list     inputs (JSON) waiting for their turn, in order       bot/store/sessions.py           session TTL, renewed on every push
``mib:current:<session>``         list     the input (JSON) being run, until it ends            bot/store/sessions.py           none (LMOVEd from the inbox);
                                                                                                                                deleted by ``finish``
``mib:lock:<session>``            string   the turn lock: its holder's token                    bot/store/sessions.py           the turn lease (``turn_lease_seconds``,
                                                                                                                                30 s), renewed while held
``mib:ran:<session>:<call>``      string   when a tool call started (its run-once claim)        bot/store/sessions.py           ``IDEMPOTENCY_TTL`` (1 day)
``mib:approval:<approval>``       hash     an approval: session_key, requester, status,         bot/store/approvals.py          session TTL, set when opened
                                           ids, tools, required, platform_ref
``mib:decisions:<approval>``      hash     tool call id -> decision JSON                        bot/store/approvals.py (Lua)    the approval's TTL, copied on each decision
``mib:votes:<approval>``          hash     tool call id -> JSON list of its approvers so far    bot/store/approvals.py (Lua)    the approval's TTL, copied on each vote
``mib:background``                hash     ``<session>\\x1f<line>`` (:func:`background_field`)  bot/store/sessions.py           none; a field is removed when its
                                           -> JSON of work to resume after a restart                                            work ends
``mib:resumed:<session>:<line>``  string   ``1``: a process resumed this work                   bot/store/sessions.py           ``RESUME_CLAIM_SECONDS`` (60 s, passed
                                                                                                                                by bot/turns/runner.py)
``mib:expiring:<platform>``       zset     session key -> when its session expires (epoch s):   bot/store/sessions.py adds,     none; a member leaves when its session
                                           the live sessions of a platform, for the sweep that  bot/turns/expiry.py claims      is deleted, or claimed once expired
                                           closes the platform's own session of an expired one
``mib:seen:<event>``              string   ``1``: this platform event was taken once            bot/store/sessions.py           ``first_seen``'s ``ttl_seconds`` (1 h)
``mib:turns``                     stream   ``{key: <session>}``: this session has input;        bot/store/sessions.py           none; entries are XDELed when acked
                                           consumer group ``workers`` (:data:`TURNS_GROUP`)
``mib:audit``                     stream   one entry per decided tool call, JSON fields         bot/approvals/audit.py          none; trimmed to ~``MAX_ENTRIES`` (1e6)
``mib:feedback``                  stream   one entry per person per rated turn (up / down,      bot/turns/feedback.py (Lua)     none; trimmed to ~``MAX_ENTRIES`` (1e6)
                                           what went wrong), JSON fields; a new rating
                                           replaces the person's entry (XDEL + XADD)
``mib:rated:<session>``           hash     ``<turn>:<user>`` -> that rating's entry id in       bot/turns/feedback.py (Lua)     session TTL, renewed on every rating
                                           ``mib:feedback``
``mib:budget:<session>``          hash     auto-approve budget: cap, spent (USD)                bot/approvals/budget.py         session TTL, set by ``set_cap``
``mib:model:<session>``           string   the label of the model the thread chose              bot/turns/models.py             session TTL, renewed when a turn reads it
``mib:channel_model:<channel>``   string   the label of the channel's default model             bot/turns/models.py             none: kept until changed
``mib:rate:user:<user>``          string   turn starts by the user in this window               bot/turns/limits.py (Lua)       the window (60 s), from the first count
``mib:rate:channel:<channel>``    string   turn starts in the channel in this window            bot/turns/limits.py (Lua)       the window (60 s), from the first count
``mib:pending``                   zset     approval id -> when it opened (epoch s): the open    bot/store/approvals.py adds,    none; a member leaves when its
                                           approvals, for the inbox and the sweeper             prunes                          approval is found closed
``mib:reminded:<approval>``       string   ``1``: the approval's reminder was posted            bot/approvals/expiry.py         session TTL
``mib:announced:<approval>``      string   ``1``: the approvers were sent their DMs             bot/approvals/expiry.py         session TTL
``mib:running_jobs``              set      ids of the jobs being watched                        bot/jobs/room.py                none; a member leaves when its job ends
``mib:job:<job>``                 string   a job's card facts (JSON): session, namespace,       bot/jobs/room.py                session TTL, renewed on every write
                                           requester, the Hub's snapshot
``mib:budgets``                   set      session keys that have an auto-approve budget        bot/approvals/budget.py         none; pruned when the budget is gone
``mib:changes``                   string   a counter bumped when approvals, jobs or budgets     bot/store/approvals.py,         none
                                           change                                               bot/jobs/room.py, budget.py
``mib:home:viewers``              zset     ``<team>:<user>`` -> when they opened App Home       adapters/slack/home.py          none; entries past a day are removed
``mib:home:round:<version>``      string   ``1``: one process redraws App Homes for this        adapters/slack/home.py          60 s
                                           :data:`CHANGES` value
``mib:sandboxes``                 hash     sandbox id -> JSON: backend, hardware, session       bot/sandboxes.py                none; a field is removed when its
                                           (``""``: warm), created, paid_until                                                  sandbox is ended
``mib:sandbox:used``              zset     sandbox id -> when last used (epoch s): idle         bot/sandboxes.py                none; as ``mib:sandboxes``
                                           teardown
``mib:sandbox:warm``              list     records (JSON, with token) of ready cpu-basic        bot/sandboxes.py                none; LPOPped when handed out
                                           sandboxes to hand out (``SANDBOX_WARM``)
``mib:sandbox:warming``           string   ``1``: one process is filling the warm pool          bot/sandboxes.py                ``WARMING_SECONDS`` (900 s)
``mib:sandbox:sweep``             string   ``1``: one process sweeps the index (idle, unpaid)   bot/sandboxes.py                ``SWEEP_SECONDS`` (300 s); deleted
                                                                                                                                when the sweep ends
``mib:sandbox:orphans``           string   ``1``: one process swept orphan Spaces this hour     bot/sandboxes.py                ``ORPHAN_SWEEP_SECONDS`` (3600 s)
``mib:viewing:<team>:<user>``     string   the channel a person views beside the bot's          adapters/slack/messages_tab.py  a day, set again on every change
                                           Messages tab (JSON: id, name)
``mib:control``                   pub/sub  ``{"stop": <session>}`` messages: a channel,         bot/turns/runner.py publishes,  nothing is stored
                                           not a key                                            bot/turns/queue.py listens
================================  =======  ===================================================  ==============================  =======================================

Fields of ``mib:meta:<session>`` (JSON values): ``last_activity``, ``status`` (``running``,
``idle``, ``awaiting_approval``), ``requester``, ``running_tools``, ``turn`` (the turn id
last saved), ``takeovers`` (of that turn), ``usage`` and ``usage_total`` (the model use of
that turn and of the thread: :meth:`agent.usage.Usage.to_dict`), and ``visible``: what the running turn shows
in its thread (:class:`bot.output.visible.Visible`: ``turn``, ``mode`` ``edit`` or
``stream``, ``refs`` of its last answer's messages, ``chars`` and ``text`` of the last
one, ``whole``, ``placeholder``, ``status``, ``controls``), written by bot/turns/turn.py
at the renderer's edit cadence (once per flush that changed it) and read by the worker
taking the turn over. The turn writes its fields only while it holds ``mib:lock:<session>``
(the fenced Lua scripts in bot/store/lua.py).

Readers besides the owners: bot/ops/http.py (``XLEN mib:turns`` for
``/metrics``), ``SessionStore.pending_keys`` (SCAN ``mib:inbox:*`` and
``mib:current:*``, :data:`PENDING_PREFIXES`).

Lua scripts: every script (in bot/store/lua.py, bot/approvals/budget.py,
bot/turns/limits.py, bot/turns/feedback.py) receives its keys through ``KEYS[]``, built here; none
builds a key name itself. The decide script writes ``mib:decisions:<approval>``
and ``mib:votes:<approval>`` (``KEYS[2]``, ``KEYS[3]``) and copies the approval
hash's TTL onto both.
"""

from __future__ import annotations

from bot.session_key import SessionKey

PREFIX = "mib"
"""The namespace of every key; a Redis shared with other programs sees only ``mib:*``."""

TURNS = f"{PREFIX}:turns"
"""The turn stream."""
TURNS_GROUP = "workers"
"""The consumer group of :data:`TURNS` (a group name, not a key)."""
AUDIT = f"{PREFIX}:audit"
"""The audit stream."""
FEEDBACK = f"{PREFIX}:feedback"
"""The stream of people's ratings of turns."""
BACKGROUND = f"{PREFIX}:background"
"""The hash of background work to resume after a restart."""
CONTROL = f"{PREFIX}:control"
"""The pub/sub channel of stop requests (not a key: nothing is stored)."""

BACKGROUND_SEPARATOR = "\x1f"
"""Between the session key and the line key in a :data:`BACKGROUND` field."""


def _k(*parts: str) -> str:
    return ":".join((PREFIX, *parts))


# ── per session ──────────────────────────────────────────────────────────


def session(key: str) -> str:
    """The session's JSON."""
    return _k("session", key)


def meta(key: str) -> str:
    """The session's metadata hash."""
    return _k("meta", key)


def lines(key: str) -> str:
    """The session's status lines: line key -> platform ref."""
    return _k("lines", key)


def inbox(key: str) -> str:
    """Inputs of the session waiting for their turn."""
    return _k("inbox", key)


def current(key: str) -> str:
    """The input of the session being run."""
    return _k("current", key)


def lock(key: str) -> str:
    """The session's turn lock."""
    return _k("lock", key)


def session_data(key: str) -> tuple[str, ...]:
    """The keys that make up a session's state, deleted together when it is deleted."""
    return session(key), meta(key), lines(key)


def expiring(platform: str) -> str:
    """The live sessions of ``platform`` by when they expire."""
    return _k("expiring", platform)


PENDING_PREFIXES = (inbox(""), current(""))
"""``mib:inbox:`` and ``mib:current:``: what follows is the session key of pending input."""


# ── tool calls: each runs at most once ───────────────────────────────────


def tool_call(turn_id: str, place: int, tool_call_id: str, args_digest: str) -> str:
    """The ``<call>`` part of :func:`ran`: unique per turn, history place, call and arguments."""
    return f"{turn_id}:{place}:{tool_call_id}:{args_digest}"


def ran(key: str, call: str) -> str:
    """A tool call's run-once claim; ``call`` is :func:`tool_call`."""
    return _k("ran", key, call)


# ── approvals ────────────────────────────────────────────────────────────


def approval(approval_id: str) -> str:
    return _k("approval", approval_id)


def decisions(approval_id: str) -> str:
    return _k("decisions", approval_id)


def votes(approval_id: str) -> str:
    return _k("votes", approval_id)


def budget(key: str) -> str:
    """The session's auto-approve budget."""
    return _k("budget", key)


# ── the model a session answers with ────────────────────────────────────


def thread_model(key: str) -> str:
    """The label of the model the session's thread chose."""
    return _k("model", key)


def channel_model(channel: str) -> str:
    """The label of ``channel``'s (:func:`channel_of`) default model."""
    return _k("channel_model", channel)


# ── ratings of turns ─────────────────────────────────────────────────────


def rated(key: str) -> str:
    """The session's ratings: ``<turn>:<user>`` -> its entry id in :data:`FEEDBACK`."""
    return _k("rated", key)


# ── background work and status lines ────────────────────────────────────


def background_field(key: str, line: str) -> str:
    """The field of :data:`BACKGROUND` for the work behind status line ``line`` of ``key``."""
    return f"{key}{BACKGROUND_SEPARATOR}{line}"


def parse_background_field(field: str) -> tuple[str, str]:
    """``(session key, line key)`` of a :func:`background_field`."""
    key, line = field.split(BACKGROUND_SEPARATOR, 1)
    return key, line


def resumed(key: str, line: str) -> str:
    """Claimed by the one process that resumes the work behind ``line`` after a restart."""
    return _k("resumed", key, line)


# ── dedupe of redelivered platform events ────────────────────────────────


def platform_event(platform: str, event_id: str | int) -> str:
    """The ``<event>`` part of :func:`seen` for an event of ``platform`` (``slack:Ev01``)."""
    return f"{platform}:{event_id}"


def seen(event: str) -> str:
    """Set the first time ``event`` is taken; a redelivery finds it."""
    return _k("seen", event)


# ── turn-start limits ────────────────────────────────────────────────────


def channel_of(session_key: str) -> str:
    """The ``<channel>`` of :func:`rate_channel` for a session: ``<platform>:<team>:<channel>``."""
    parsed = SessionKey.parse(session_key)
    return f"{parsed.platform}:{parsed.team}:{parsed.channel}"


def rate_user(user: str) -> str:
    """Turn starts of ``user`` in the current window."""
    return _k("rate", "user", user)


def rate_channel(channel: str) -> str:
    """Turn starts in ``channel`` (:func:`channel_of`) in the current window."""
    return _k("rate", "channel", channel)


# ── the inbox: open approvals, running jobs, budgets, App Home ───────────

PENDING = f"{PREFIX}:pending"
"""Open approvals by when they opened: what waits for people, and for the sweeper."""
RUNNING_JOBS = f"{PREFIX}:running_jobs"
"""Ids of the jobs being watched."""
BUDGETS = f"{PREFIX}:budgets"
"""Session keys with an auto-approve budget."""
CHANGES = f"{PREFIX}:changes"
"""Bumped whenever an approval or a job that the inbox shows changes."""
HOME_VIEWERS = _k("home", "viewers")
"""Who opened Slack's App Home, and when."""
SANDBOXES = f"{PREFIX}:sandboxes"
"""The bot's sandboxes (every backend's): what to list, tear down, and not call orphans."""
SANDBOX_USED = _k("sandbox", "used")
"""When each sandbox was last used."""
SANDBOX_WARM = _k("sandbox", "warm")
"""Ready sandboxes waiting for a session's first use."""
SANDBOX_WARMING = _k("sandbox", "warming")
"""Claimed by the one process filling the warm pool."""
SANDBOX_SWEEP = _k("sandbox", "sweep")
"""Claimed by the one process sweeping the index for idle and unpaid sandboxes."""
SANDBOX_ORPHANS = _k("sandbox", "orphans")
"""Claimed by the one process that sweeps orphan Spaces this hour."""


def reminded(approval_id: str) -> str:
    """Claimed by the one process that posts the approval's reminder."""
    return _k("reminded", approval_id)


def announced(approval_id: str) -> str:
    """Claimed by the one process that DMs the approval's approvers."""
    return _k("announced", approval_id)


def job(job_id: str) -> str:
    """A job's card facts."""
    return _k("job", job_id)


def viewing(team: str, user: str) -> str:
    """The channel ``user`` of Slack workspace ``team`` views beside the bot's Messages tab."""
    return _k("viewing", team, user)


def home_round(version: int) -> str:
    """Claimed by the one process that redraws App Homes for :data:`CHANGES` at ``version``."""
    return _k("home", "round", str(version))
