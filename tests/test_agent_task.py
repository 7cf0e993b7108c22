# ruff: noqa: F811
# (tests take the imported stand-in fixtures as arguments, which F811 sees as redefinitions)
"""One whole ML task through the agent, in a Slack thread: "fine-tune a small model with DPO
on my preference dataset". The model (scripted on the LLM stand-in) researches, inspects the
dataset, writes train.py (a syntax error first), runs it in the local sandbox, fixes a real
error, shows a pre-flight checklist and submits the script as a job once a person approves.

Asserted: what the model was GIVEN at each step (the LLM stand-in records every request),
and what the person sees in the thread. Every tool is the runtime's own (``build_tools``),
on the Hub, dataset viewer, GitHub, Slack and LLM stand-ins; commands run under bubblewrap.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from adapters.slack.frontend import SlackFrontEnd
from agent.sandbox.backends import STATE_KEY, SandboxRecord
from bot.ops.http import build_http_app, serve
from bot.runtime import runtime
from tests.standins.github import GitHubStandIn
from tests.standins.hub import TOKEN, USER, hub  # noqa: F401
from tests.standins.llm import text, tool_calls
from tests.standins.research import research  # noqa: F401
from tests.standins.slack import SlackSender, SlackStandIn
from tests.support import eventually
from tests.test_hf_jobs import inline_script
from tests.test_sandbox_local import bwrap_problem
from tests.test_slack import SECRET, SlackBot, settings_for

pytestmark = pytest.mark.skipif(bwrap_problem() is not None, reason=str(bwrap_problem()))

REPO = Path(__file__).resolve().parents[1]
SLACK_TOKEN = "xoxb-e2e-secret-slack-token"
HF_SECRET = TOKEN  # the Hub stand-in's token: the bot's HF_TOKEN

SYNTAX_ERROR = "import argparse\n\ndef main(:\n    pass\n"
BROKEN = """\
import argparse
import json

parser = argparse.ArgumentParser()
parser.add_argument("--max_steps", type=int, default=100)
args = parser.parse_args()

rows = [{"prompt": "Say hi", "chosen": "Hi!", "rejected": "Go away."}]


def pair(row):
    return row["prompt"], row["response"], row["rejected"]


for step in range(args.max_steps):
    prompt, chosen, rejected = pair(rows[step % len(rows)])
    print(json.dumps({"step": step + 1, "loss": round(0.69 / (step + 1), 3)}))
print("training done")
"""
FIXED = BROKEN.replace('row["response"]', 'row["chosen"]')
RUN = ("bash", {"command": "python train.py --max_steps 2", "timeout": 60})
CHECKLIST = (
    "Pre-flight checklist:\n"
    "- dataset org/prefs: prompt / chosen / rejected (DPO preference format)\n"
    "- train.py ran 2 steps in the sandbox: exit 0\n"
    "- hardware a10g-small, timeout 1h\n"
    "Submitting it as a job now."
)
JOB = {
    "operation": "uv",
    "script": "sandbox:train.py",
    "hardware_flavor": "a10g-small",
    "timeout": "1h",
}


@pytest.fixture
async def slack():
    async with SlackStandIn() as server:
        yield server


@pytest.fixture
async def github():
    async with GitHubStandIn() as server:
        yield server


@pytest.fixture
async def bot(llm, redis_url, slack, hub, research, github, tmp_path, monkeypatch):
    """The bot as `ml-intern-bot slack` runs it, with every built-in tool (none given)."""
    monkeypatch.setenv("HF_TOKEN", HF_SECRET)  # the bot's environment holds its secrets
    monkeypatch.setenv("SLACK_BOT_TOKEN", SLACK_TOKEN)
    settings = settings_for(
        llm,
        redis_url,
        slack,
        tmp_path / "data",
        slack_bot_token=SLACK_TOKEN,
        hf_token=HF_SECRET,
        hf_endpoint=hub.url,
        datasets_server_url=research.viewer_url,
        github_api_url=github.url,
        sandbox="local",
        slack_rate_budget=False,  # pacing is tests/test_slack_thread.py's
    )
    lifespan = runtime(settings)
    rt = await lifespan.__aenter__()
    adapter = SlackFrontEnd(rt)
    http = build_http_app(rt.redis)
    adapter.mount(http)
    site = await serve(http, 0, host="127.0.0.1")
    port = site.addresses[0][1]
    yield SlackBot(rt, slack, SlackSender(f"http://127.0.0.1:{port}/slack/events", SECRET))
    await site.cleanup()
    await lifespan.__aexit__(None, None, None)


def given(llm, call_id: str) -> str:
    """The tool result the model was given for ``call_id`` (from the last request holding it)."""
    for request in reversed(llm.requests):
        for message in request["messages"]:
            if message.get("role") == "tool" and message.get("tool_call_id") == call_id:
                return message["content"]
    raise AssertionError(f"no request gave the model a result for {call_id}")


def call(name: str, args: dict[str, Any], call_id: str, content: str = ""):
    return tool_calls((name, args, call_id), content=content)


async def test_a_dpo_fine_tune_from_research_to_an_approved_job(bot, llm, hub):
    llm.script(
        call("research", {"task": "How to fine-tune with DPO in TRL: a current example"}, "r1"),
        call("github_find_examples", {"library": "trl", "keyword": "dpo"}, "gh1"),  # research's
        text("TRL's DPOTrainer with DPOConfig; example: examples/scripts/dpo.py."),
        call("hf_inspect_dataset", {"dataset": "org/prefs"}, "ds1"),
        call("write", {"path": "train.py", "content": SYNTAX_ERROR}, "w1"),
        call("write", {"path": "train.py", "content": BROKEN}, "w2"),
        call(*RUN, "b1"),
        call(
            "edit",
            {"path": "train.py", "old_str": 'row["response"]', "new_str": 'row["chosen"]'},
            "e1",
        ),
        call(*RUN, "b2"),
        call("hf_jobs", JOB, "j1", content=CHECKLIST),
    )
    thread, card = await bot.pause_on("fine-tune a small model with DPO on my preference dataset")

    # the system prompt names the tools present, and what a job asks first
    system = llm.requests[0]["messages"][0]
    assert system["role"] == "system"
    for tool in ("research", "hf_inspect_dataset", "bash", "write", "edit", "hf_jobs"):
        assert f"- `{tool}`: " in system["content"]
    assert "pre-flight checklist" in system["content"]
    offered = {t["function"]["name"] for t in llm.requests[0]["tools"]}
    assert {"research", "hf_inspect_dataset", "bash", "write", "edit", "hf_jobs"} <= offered

    # research: its sub-agent read GitHub's examples and gave back a summary, not the pages
    found = given(llm, "gh1")
    assert "examples/scripts/dpo.py" in found
    summary = given(llm, "r1")
    assert summary.startswith("TRL's DPOTrainer with DPOConfig")
    assert summary.endswith("[research: 1 tool call, 2 model calls, 37 tokens]")
    # the dataset: its columns, and the trainer they fit
    dataset = given(llm, "ds1")
    assert "prompt: string\n  chosen: string\n  rejected: string" in dataset
    assert dataset.splitlines()[0] == (
        "org/prefs — training format: preference pairs (with 'prompt' + 'chosen'/'rejected'): "
        "DPOTrainer (also RewardTrainer, ORPOTrainer, CPOTrainer)."
    )  # the fact that matters first: it is what the thread's tool line shows
    assert "default/train: 1,200 rows" in dataset
    # a script that does not compile is refused, with where and why
    assert given(llm, "w1") == (
        "ERROR: train.py was NOT saved: SyntaxError at line 3, column 10: invalid syntax\n"
        "    def main(:\n"
        "             ^"
    )
    wrote = f"Wrote train.py ({len(BROKEN)} bytes)."
    assert given(llm, "w2") == (
        f"{wrote}\nRun it with bash, or submit it with hf_jobs 'sandbox:train.py'."
    )
    # a real Python error: exit code, duration, the traceback's end, where the whole log is
    failed = given(llm, "b1")
    assert re.match(r"exit code 1 · \d+\.\d\d s\nTraceback", failed)
    assert 'File "/workspace/train.py", line 12, in pair' in failed
    *_, error, log = failed.splitlines()
    assert error == "KeyError: 'response'"
    assert re.fullmatch(r"\[full output: \.logs/\S+-b1\.log\]", log)
    assert given(llm, "e1") == "Replaced 1 occurrence in train.py, at line 12."
    passed = given(llm, "b2")
    assert re.match(r"exit code 0 · \d+\.\d\d s\n", passed)
    assert '{"step": 2, "loss": 0.345}\ntraining done' in passed

    # the thread so far: one line per tool call, the checklist, the card with script and cost
    seen = bot.seen(thread)
    lines = [line for line in seen if line.startswith(("✅", "❌"))]
    assert [line.splitlines()[0] for line in lines] == [
        "✅ `research` done — TRL's DPOTrainer with DPOConfig; example: examples/scripts/dpo.py.",
        "✅ `hf_inspect_dataset` done — " + dataset.splitlines()[0],
        "❌ `write` failed — train.py was NOT saved: SyntaxError at line 3, column 10: invalid syntax",
        f"✅ `write` done — {wrote}",  # the hint for the model stays with the model
        "❌ `bash` failed — `python train.py --max_steps 2` → " + failed.splitlines()[0],
        "✅ `edit` done — Replaced 1 occurrence in train.py, at line 12.",
        "✅ `bash` done — `python train.py --max_steps 2` → " + passed.splitlines()[0],
    ]
    assert lines[4].splitlines()[1:] == [
        '&gt; File "/workspace/train.py", line 12, in pair',
        '&gt; return row["prompt"], row["response"], row["rejected"]',
        "&gt; KeyError: 'response'",
    ]  # the traceback's end, without Python's ~~~^^^ markers
    assert "Pre-flight checklist:" in bot.answer(thread)
    assert "• hardware a10g-small, timeout 1h" in bot.answer(thread)
    (shown,) = [b["text"]["text"] for b in card.blocks if b["type"] == "section"][1:]
    assert shown.startswith(
        "*1. `hf_jobs`*  ·  operation: `uv`  ·  hardware_flavor: `a10g-small`  ·  timeout: `1h`"
        "  ·  script_file: `sandbox:train.py`\n```"
    )  # the file it was read from, then its text
    assert 'row["chosen"]' in shown  # the script as the sandbox holds it, fixed
    notes = [e["text"] for b in card.blocks if b["type"] == "context" for e in b["elements"]]
    assert "Decides: <@U0ALICE> · est. up to $1.00" in notes
    assert not hub.calls("POST", rf"^/api/jobs/{USER}$")  # nothing runs before the click

    # approved: the job runs the tested script, and the model is told where to follow it
    llm.script(text("Submitted: the job trains on a10g-small; I will post its loss here."))
    await bot.send.click(card, card.button_ids()[0])
    await bot.settle(lambda: "I will post its loss" in bot.answer(thread))
    (posted,) = hub.calls("POST", rf"^/api/jobs/{USER}$")
    assert inline_script(posted.json()["command"]) == FIXED
    submitted = given(llm, "j1")
    assert re.match(r"Job \w+ submitted on a10g-small \(stage SCHEDULING\)\.\nPage: ", submitted)
    assert f"{hub.url}/jobs/{USER}/" in submitted and "hf_jobs logs job_id=" in submitted
    after = bot.seen(thread)
    assert any(line.startswith("✅ `hf_jobs` done — Job ") for line in after)
    assert "Submitted: the job trains on a10g-small; I will post its loss here." in after
    # the person gets the job's card: its state, price and page
    page = f"{hub.url}/jobs/{USER}/"
    await eventually(lambda: any(page in line for line in bot.seen(thread)))
    (job_card,) = [m for m in bot.thread(thread) if page in "\n".join(m.seen())]
    assert "a10g-small" in job_card.shown() and "$1.00/h" in job_card.shown()


async def test_model_written_code_cannot_reach_the_bots_secrets_files_or_redis(
    bot, llm, redis_url, tmp_path
):
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "notes.txt").write_text("DATA-DIR-MARKER\n")
    port = redis_url.rsplit(":", 1)[1].split("/")[0]
    ping = (
        f"import socket; s = socket.create_connection(('127.0.0.1', {port}), 2); "
        "s.sendall(b'PING\\r\\n'); print(s.recv(64))"
    )
    command = "; ".join(
        [
            "env",
            "cat /proc/[0-9]*/environ | tr '\\0' '\\n'",
            f"cat {REPO}/bot/settings.py {REPO}/README.md",
            f"ls {data}; cat {data}/notes.txt",
            f'python3 -c "{ping}"',
            f"exec 3<>/dev/tcp/127.0.0.1/{port} && printf 'PING\\r\\n' >&3 && head -c 64 <&3",
        ]
    )
    llm.script(call("bash", {"command": command, "timeout": 30}, "x1"), text("Checked."))
    event = await bot.send.mention("run this for me")
    thread = event["ts"]
    await bot.settle(lambda: "Checked." in bot.answer(thread))

    result = given(llm, "x1")
    session = await bot.rt.store.load(f"slack:T0TEAM:C0CHAN:{thread}")
    sandbox_token = SandboxRecord.from_json(session.state[STATE_KEY]).token
    shown = "\n".join(bot.seen(thread))
    for secret in (HF_SECRET, SLACK_TOKEN, "sk-test", sandbox_token, "DATA-DIR-MARKER", "PONG"):
        assert secret not in result and secret not in shown, secret
    assert "HOME=/workspace" in result  # the environment it has: the sandbox's own
    assert "/environ: Permission denied" in result  # the server's: hidden
    assert f"{REPO}/bot/settings.py: No such file or directory" in result
    assert "class Settings" not in result and "# ml-intern-bot" not in result
    assert f"ls: cannot access '{data}': No such file or directory" in result
    assert "ConnectionRefusedError" in result or "Network is unreachable" in result
    assert result.startswith("exit code 1 · ")
