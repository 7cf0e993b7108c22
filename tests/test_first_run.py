"""A first run with no model credentials explains itself: the console at start, doctor,
and a chat message, each naming what to set; nothing is retried or reported as a 5xx."""

import io
import subprocess
import sys
from pathlib import Path

from adapters.console.frontend import ConsoleFrontEnd
from agent.config import AgentConfig
from agent.loop import Agent
from agent.model import credential_problem
from bot.ops.doctor import check_llm, run_doctor
from bot.store.embedded import connect
from bot.store.sessions import SessionStore
from bot.turns.runner import TurnRunner
from tests.support import test_tools
from tests.test_console import Keyboard
from tests.test_slack import make_bot as make_bot  # noqa: F401
from tests.test_slack import slack as slack  # noqa: F401

ROUTER_MODEL = "huggingface/novita/moonshotai/kimi-k2.5"
NAMES = ("INFERENCE_TOKEN", "HF_TOKEN", "LLM_API_BASE")


def no_credentials():
    """The default kind of model (the HF router) with no token and no endpoint override."""
    return AgentConfig(model=ROUTER_MODEL, llm_retries=2)


def names_what_to_set(text: str) -> bool:
    return ROUTER_MODEL in text and all(name in text for name in NAMES)


async def test_the_console_says_at_start_and_on_a_message_what_is_missing(llm, redis_url):
    redis = connect(redis_url)
    runner = TurnRunner(Agent(no_credentials(), test_tools()), SessionStore(redis), {})
    out = io.StringIO()
    asked = len(llm.requests)
    try:
        await ConsoleFrontEnd(runner, out=out, read_line=Keyboard("hello", None)).run()
    finally:
        await runner.close()
        await redis.aclose()
    title, warning, *rest = out.getvalue().splitlines()
    assert f"model {ROUTER_MODEL}" in title and names_what_to_set(warning)
    answer = "\n".join(rest)
    assert (
        names_what_to_set(answer) and "500" not in answer and "provider had an error" not in answer
    )
    assert len(llm.requests) == asked  # nothing was sent, nothing retried


async def test_doctor_explains_the_missing_credential(llm, redis_url, slack, tmp_path):
    from tests.test_slack import settings_for

    settings = settings_for(
        llm, redis_url, slack, tmp_path, model=ROUTER_MODEL, llm_api_base=None, llm_api_key=None
    )
    out = io.StringIO()
    assert await run_doctor(settings, out, {"llm": check_llm}) == 1
    line = out.getvalue()
    assert line.startswith("FAIL llm: PermissionError: No credential is set")
    assert names_what_to_set(line) and "OPENAI_API_KEY" not in line


async def test_a_chat_message_gets_the_same_explanation(make_bot, llm):
    bot = await make_bot(model=ROUTER_MODEL, llm_api_base=None, llm_api_key=None)
    asked = len(llm.requests)
    event = await bot.send.mention("hello?")

    def thread() -> str:
        return "\n".join(m.shown() for m in bot.thread(event["ts"]))

    await bot.settle(lambda: "No credential" in thread())
    told = thread()
    expected = credential_problem(bot.rt.runner.agent.config)
    assert expected is not None and names_what_to_set(expected)
    assert expected.split(":")[0] in told and "INFERENCE_TOKEN" in told
    assert len(llm.requests) == asked


def test_commands_that_run_no_turns_never_import_litellm(tmp_path):
    """manifest, invite and --help answer at once: LiteLLM (~3 s) loads only where turns run."""
    check = (
        "import contextlib, io, sys\n"
        "from bot.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['manifest', 'slack'])\n"
        "    with contextlib.suppress(SystemExit):\n"
        "        main(['--help'])\n"
        "print('litellm' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", check],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(Path(__file__).parents[1]),
        },
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
