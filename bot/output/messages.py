"""What the runtime says in a chat, in one place.

Every sentence the turn runtime shows people (refusals at the door, restarts and
takeovers, how a turn ended, the stream renderer's notices) and the tool results it
writes in the model's place are named here, so they read the same on every platform
and change in one spot. Not here: the model's own answers, and the wording of the
cards the bot draws, which lives with them (approval cards, click refusals and budget
replies in ``bot.approvals``, job cards in ``bot.jobs``).
"""

from __future__ import annotations

# ── refused before a turn ────────────────────────────────────────────

STORE_DOWN = "⚠️ I can't reach my session store (Redis) right now. Please try again in a minute."
"""Redis is unreachable when an input, a click or a command comes in (every front end)."""


def too_long(size: int, limit: int) -> str:
    """A message over the input limit."""
    return (
        f"⚠️ That message is too long ({size:,} characters; the limit is {limit:,}). "
        "Please shorten it or attach it as a file."
    )


def slow_down(seconds: float) -> str:
    """A person or channel over its turns-per-minute limit."""
    return f"⏳ Too many requests: please wait {seconds:.0f}s before starting another one."


# ── during a turn ────────────────────────────────────────────────────

STORE_LOST = (
    "⚠️ I lost my session store (Redis) in the middle of this; I'll carry on when it is back."
)
HANDED_BACK = "♻️ Restarting: another worker carries on with this in a moment."
"""This process is shutting down mid-turn; the input stays queued for another worker."""
STALE_APPROVAL = "That approval is no longer pending (a newer message or decision came first)."


def went_wrong(exc: BaseException) -> str:
    """A turn ended by a bug or an unexpected error (the history is saved)."""
    return (
        f"Something went wrong on my side ({type(exc).__name__}). "
        "The conversation is saved; send your message again."
    )


def unknown_request(kind: str) -> str:
    """An input of a kind this version does not know (e.g. queued by a newer one)."""
    return f"Unknown request {kind!r}."


# ── carrying on a turn a dead worker left ────────────────────────────

RESTARTED = (
    "Interrupted by a restart of the bot before this tool call finished; it was not retried."
)
"""The result given to a tool call that was running when its worker died (the model reads it)."""
NOT_RUN_AGAIN = "stopped by a restart of the bot; not run again"
"""The end of the line of a tool call that was running when its worker died."""
INTERRUPTED = "⚠️ _interrupted — continued below_"
"""The last line of an answer a dead worker was streaming, where the worker taking the turn
over can't go on writing in it (a native stream): the answer follows in a new message."""
TAKEN_OVER = "♻️ I was restarted in the middle of this; picking up where I left off."
GIVEN_UP = "♻️ I was restarted several times in the middle of this and stopped. Send your message again to retry."

# ── tool results written in the tool's place (the model reads them) ──

ALREADY_STARTED = (
    "ERROR: this tool call was already started once, before a restart of the bot; it was "
    "NOT run again. Check its effect (e.g. list jobs or repo files; for a command, the "
    "files it writes and its log under .logs/ in the sandbox) before retrying."
)
NOT_RUN_STORE_DOWN = f"ERROR: not run: {STORE_DOWN}"
"""A tool call not run because the store could not record it first."""

# ── approvals ────────────────────────────────────────────────────────

BUDGET_FORBIDDEN = "🔒 Only someone who may approve here can set a budget."


def auto_decided(summary: str, tool: str) -> str:
    """One line per call the rules or the budget decided without a card."""
    return f"{summary}: `{tool}`"


# ── the model a thread answers with ──────────────────────────────────

MODEL_SOURCES = {
    "thread": "this thread's choice",
    "channel": "this channel's default",
    "default": "the bot's default (MODEL)",
}
"""Where a session's model comes from, as ``status`` and ``model`` say it."""
MODEL_FORBIDDEN = (
    "🔒 Only someone who may approve here can change this channel's default model. "
    "Inside a thread, `model <label>` changes that thread's model."
)


def model_name(model: str, label: str | None) -> str:
    """A model as people see it: its label and LiteLLM name, or the name alone."""
    return f"`{label}` (`{model}`)" if label else f"`{model}`"


def only_one_model(model: str) -> str:
    """A ``model`` command when ``MODELS`` is unset."""
    return (
        f"🧠 I answer with `{model}` (MODEL) only: no other model is set up to choose from. "
        "Whoever runs me can offer a choice with MODELS (label=model pairs)."
    )


def model_now(name: str, source: str, labels: list[str], channel_wide: bool) -> str:
    """``model`` alone: the model now, where it comes from, and the choices."""
    where = "Threads in this channel answer" if channel_wide else "This thread answers"
    choices = ", ".join(f"`{label}`" for label in labels)
    return (
        f"🧠 {where} with {name}: {MODEL_SOURCES[source]}. Choices: {choices}. "
        "Say `model <label>` to switch, `model default` to drop the choice."
    )


def model_chosen(name: str, channel_wide: bool) -> str:
    """``model <label>`` done."""
    if channel_wide:
        return (
            f"🧠 This channel's default model is now {name}: its threads answer with it "
            "unless they chose their own."
        )
    return f"🧠 This thread answers with {name} from its next message."


def model_dropped(name: str, channel_wide: bool) -> str:
    """``model default`` done: what answers now."""
    if channel_wide:
        return f"🧠 This channel has no default model now: its threads answer with {name}."
    return f"🧠 This thread follows its channel again: it answers with {name}."


def unknown_model(typed: str, labels: list[str]) -> str:
    """``model <label>`` with a label ``MODELS`` does not have."""
    choices = ", ".join(f"`{label}`" for label in labels)
    return f"There's no model `{typed}` here. Choose one of: {choices} (or `default`)."


# ── the stream renderer ──────────────────────────────────────────────

STATE_ICONS = {
    "running": "⏳",
    "done": "✅",
    "failed": "❌",
    "approved": "👍",
    "rejected": "🚫",
    "expired": "⌛",
    "abandoned": "⏭️",
    "interrupted": "⏹️",
}
"""The icon of a tool call's line, by its state."""
STOPPED = "⏹️ Stopped."
CUT_OFF = "✂️ Cut off at the model's output limit — say *continue* for the rest."
WAITING_FOR_APPROVAL = "⏸️ Waiting for approval…"
"""The placeholder's last words when the turn pauses on an approval card."""
DONE = "✔️ Done."
"""The placeholder's last words when no answer text took it (e.g. only tool calls)."""


# ── feedback on answers ──────────────────────────────────────────────

FEEDBACK_THANKS = "Thanks for the feedback: it is on record for the team."
"""The reply, only to them, to someone who rated an answer or said what went wrong."""
WHAT_WENT_WRONG = "What went wrong?"
"""The title of the form a 👎 opens."""
WHAT_WENT_WRONG_LABEL = "What was wrong, or what did you expect?"
"""The form's one text box (Discord allows 45 characters)."""
WHAT_WENT_WRONG_HINT = "Your 👎 is recorded already; this note goes with it."
WHAT_WENT_WRONG_SEND, WHAT_WENT_WRONG_SKIP = "Send", "Skip"
"""The form's buttons, where the platform lets them be named (Slack)."""

# ── the thread's working status (where the platform shows one) ──────

THINKING_STATUS = "is thinking…"
"""Shown after the bot's name while the model works on an answer."""
THINKING_LOADING = ("Thinking…", "Reading the thread…", "Working out the next step…")
"""Lines the platform rotates under a thinking status."""


def running_status(tools: list[str]) -> str:
    """The status while tools run: ``is running hf_jobs…``."""
    return f"is running {', '.join(tools)}…"


def running_loading(tools: list[str]) -> tuple[str, ...]:
    return tuple(f"running {tool}…" for tool in tools)


STOP_CONTROL = "_Working on it — stop me here, or say_ `stop`."
"""The small message carrying the Stop button while a natively streamed answer is written."""


def plan_title(done: int, total: int, now: str | None) -> str:
    """The title of the plan's steps: how far it is, and what is being done."""
    title = f"Plan · {done} of {total} done"
    return f"{title} · now: {now}" if now else title


def error_notice(error: str) -> str:
    """A turn that ended on an error (the error is already worded for people)."""
    return f"⚠️ {error}"


def compacted(old_tokens: int, new_tokens: int) -> str:
    return f"🗜️ Compacted the conversation ({old_tokens:,} → {new_tokens:,} tokens)."


def undid(removed: int) -> str:
    what = f"{removed} message(s)" if removed else "nothing to undo"
    return f"↩️ Undid the last turn ({what})."


def viewing_channel(channel_id: str, name: str = "") -> str:
    """Told to the agent with a message from Slack's assistant pane or Messages tab: where
    the person is (the channel's name, where known; never its messages)."""
    where = f"#{name} (<#{channel_id}>)" if name else f"<#{channel_id}>"
    return f"(Context from Slack: the person is viewing channel {where} beside this chat.)"


# ── job cards: the Logs and Cancel buttons ───────────────────────────

JOB_UNKNOWN = "I have no record of that job any more (it ended long ago, or was never watched)."
NO_HUB = "I can't reach the Hub for that: no HF_TOKEN is set."


def logs_header(job_id: str, lines: int) -> str:
    return f"📜 Last {lines} log lines of job {job_id}:"


def logs_posted(job_id: str) -> str:
    """Told to the person who clicked Logs."""
    return f"📜 Posted the last log lines of job {job_id} in its thread."


def nothing_logged(job_id: str) -> str:
    return f"📜 Job {job_id} has not logged anything yet."


def logs_failed(job_id: str, error: str) -> str:
    return f"⚠️ Could not read the logs of job {job_id}: {error}"


def cancel_requested(job_id: str, name: str) -> str:
    return f"🛑 Cancellation of job {job_id} requested by {name}."


def cancel_refused(owner: str, others: str | None) -> str:
    """Someone the rules do not let cancel a job clicked Cancel; ``others`` also may."""
    started = f"<@{owner}> (who started it)" if owner else "the person who started it"
    return f"🔒 You can't cancel this job: only {started}{f' or {others}' if others else ''} can."


def cancel_failed(job_id: str, error: str) -> str:
    return f"⚠️ Could not cancel job {job_id}: {error}"


# ── approvals left waiting: reminders, expiry, DMs ───────────────────


def reminder(tools: str, waited: str) -> str:
    """Posted once in the thread when an approval has waited ``APPROVAL_REMIND_AFTER``."""
    return f"⏰ Still waiting for a decision on {tools} (asked {waited} ago)."


ANYONE_HERE = "anyone in this channel may decide"


def expired_feedback(waited: str) -> str:
    """What the agent reads, after its own words, about calls whose approval expired."""
    return f"Nobody approved or rejected it within {waited}."


def approval_dm(tools: str, requester: str) -> str:
    """The opt-in DM to an approver when an approval waits for them."""
    return f"⏸️ An approval waits for you: {tools}, asked by <@{requester}>."
