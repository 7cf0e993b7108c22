"""Real worker processes on one Redis for the fault-injection and scale-out tests.

:class:`Fleet` starts ``python -m tests.fault_worker`` processes, signals them,
and reads back what they showed (``surface.jsonl``) and ran (``tools.jsonl``).
:func:`front_end` is the chat side in the test process: a runner that only
queues, the way a ``web`` process with ``RUN_TURNS=0`` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import multiprocessing
import os
import runpy
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.loop import Agent
from bot.approvals.actor import Actor
from bot.session_key import SessionKey
from bot.store.embedded import connect
from bot.store.sessions import SessionStore
from bot.turns.runner import TurnRunner
from tests.support import RecordingSurface, agent_config, test_tools

ROOT = Path(__file__).resolve().parents[1]
PRELOADED = ["tests.fleet", "adapters.slack.surface", "bot.cli", "bot.ops.worker", "bot.runtime"]
"""What every worker imports (LiteLLM above all: seconds of CPU), imported once by the
fork server each worker is forked from."""
REAP_SECONDS = 10.0
"""How long a SIGKILLed worker's death may take to be known."""
FORKS = multiprocessing.get_context("forkserver")
FORKS.set_forkserver_preload(PRELOADED)
BOT_PROCESSES = pytest.mark.xdist_group("bot processes")
"""A test that starts bot processes: under ``pytest -n`` (``--dist loadgroup``) these
tests run one after another on one pytest worker instead of starving each other of the
cores (a killed worker's taker must get its turn within its lease)."""

ALICE = Actor("U_ALICE")
GPU_JOB = {"operation": "run", "hardware_flavor": "a10g-small", "script": "train()"}


def key(thread: str) -> str:
    return SessionKey("test", "T1", "C1", thread).encode()


async def wait_for(check: Any, within: float = 30.0) -> Any:
    """Poll ``check()`` (sync or async) until it returns something truthy; return that."""
    async with asyncio.timeout(within):
        while True:
            value = check()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value
            await asyncio.sleep(0.02)


class Worker:
    """A ``tests.fault_worker`` process forked from the fork server: the ways of
    ``subprocess.Popen`` the fleet's tests use (``pid``, ``poll``, ``returncode``)."""

    def __init__(self, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.process = FORKS.Process(target=run_worker, args=(env, cwd, log), daemon=True)
        self.process.start()
        self.pid: int = self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.exitcode

    def poll(self) -> int | None:
        return self.returncode

    def send_signal(self, sig: signal.Signals) -> None:
        """Send ``sig``; after SIGKILL, wait until the fork server has seen the death, so
        ``poll()`` says it at once (its exit reaches this process through the server)."""
        os.kill(self.pid, sig)
        if sig == signal.SIGKILL:
            self.process.join(REAP_SECONDS)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
            self.send_signal(signal.SIGKILL)

    def wait(self) -> int | None:
        self.process.join()
        return self.returncode


def run_worker(env: dict[str, str], cwd: Path, log: Path) -> None:
    """In the forked process: the worker's environment, directory and log, then its main."""
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(out, 1)
    os.dup2(out, 2)
    sys.argv = ["tests.fault_worker"]
    runpy.run_module("tests.fault_worker", run_name="__main__")


class Fleet:
    def __init__(self, directory: Path, redis_url: str, llm_url: str, **env: str) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.env = {
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(ROOT),
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "REDIS_URL": redis_url,
            "MODEL": "openai/test-model",
            "LLM_API_BASE": llm_url,
            "LLM_API_KEY": "sk-test",
            "LLM_RETRIES": "0",
            "DATA_DIR": str(directory / "data"),
            "FAULT_DIR": str(directory),
            "TURN_LEASE_SECONDS": "1",
            "SHUTDOWN_GRACE_SECONDS": "5",
            "PORT": "0",
            **env,
        }
        self.procs: list[Worker] = []

    def start(self, n: int = 1, **env: str) -> list[Worker]:
        started = []
        for _ in range(n):
            log = self.dir / f"worker{len(self.procs)}.log"
            proc = Worker({**self.env, **env}, self.dir, log)
            self.procs.append(proc)
            started.append(proc)
        return started

    def signal(self, pid: int, sig: signal.Signals) -> Worker:
        (proc,) = [p for p in self.procs if p.pid == pid]
        proc.send_signal(sig)
        return proc

    async def exit_code(self, proc: Worker) -> int | None:
        await wait_for(lambda: proc.poll() is not None)
        return proc.returncode

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()

    # ── what the workers did ─────────────────────────────────────────────

    def records(self, name: str) -> list[dict[str, Any]]:
        path = self.dir / name
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line]

    def ran(self, session: str | None = None) -> list[dict[str, Any]]:
        """Executions of the ``hf_jobs`` double."""
        return [r for r in self.records("tools.jsonl") if session in (None, r["session"])]

    def shown(self, session: str, call: str | None = None) -> list[dict[str, Any]]:
        return [
            r
            for r in self.records("surface.jsonl")
            if r["key"] == session and call in (None, r["call"])
        ]

    def notices(self, session: str) -> list[str]:
        return [r["text"] for r in self.shown(session, "notice")]

    def messages(self, session: str) -> dict[str, str]:
        """Each answer message as it finally reads (deleted ones are gone)."""
        texts: dict[str, str] = {}
        for r in self.shown(session):
            if r["call"] in ("post", "edit"):
                texts[r["ref"]] = r["text"]
            elif r["call"] == "delete":
                texts.pop(r["ref"], None)
        return texts

    def approvals(self, session: str) -> list[dict[str, Any]]:
        return [r["event"] for r in self.shown(session, "approval")]


def front_end(llm: Any, redis_url: str) -> tuple[TurnRunner, RecordingSurface]:
    """A runner that queues inputs and decides approvals but runs no turn."""
    surface = RecordingSurface()
    store = SessionStore(connect(redis_url))
    agent = Agent(agent_config(llm), test_tools())
    return TurnRunner(agent, store, {"test": lambda k, r: surface}, consume=False), surface


async def close_front_end(runner: TurnRunner) -> None:
    await runner.close()
    await runner.store.redis.aclose()
