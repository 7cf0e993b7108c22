"""The ``space`` backend: one private Docker Space per session, built from the project's own
sandbox server (``sandbox_server/``: its Dockerfile and server.py) in one commit.

Before the build the Space gets its secrets: ``SANDBOX_TOKEN`` (32 random bytes, which
the server compares in constant time) and the secrets the bot may pass to jobs
(``JOB_SECRET_NAMES``). The backend waits for the runtime stage ``RUNNING``, then for
the server's health; the server's URL is the Space's ``host``. Every call carries the
bot's HF token as a bearer (the Space is private) and the sandbox token.

Spaces outlive the process that made them: a restarted bot reattaches from the session's
record, and the bot's Redis index (``bot/sandboxes.py``) deletes idle and orphaned ones.
HfApi's calls block, so each runs in a thread.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import HfHubHTTPError

from agent.sandbox.backends import Progress, SandboxRecord, SandboxUnavailable, no_progress
from agent.sandbox.client import SandboxClient
from sandbox_server import SERVER_DIR

logger = logging.getLogger(__name__)

NAME_PREFIX = "mib-sandbox-"
"""Every sandbox Space is ``<owner>/mib-sandbox-<8 hex>``: the orphan sweep finds them by it."""
TOKEN_SECRET = "SANDBOX_TOKEN"
FAILED_STAGES = frozenset({"BUILD_ERROR", "RUNTIME_ERROR", "CONFIG_ERROR"})
STAGE_WORDS = {
    "NO_APP_FILE": "waiting for the build",  # just after the commit, before the build queues
    "BUILDING": "building",
    "RUNNING_BUILDING": "building",
    "APP_STARTING": "starting",
    "RUNNING_APP_STARTING": "starting",
}
RUNNING_SECONDS = 600.0
"""How long a Space may take to build and run."""
HEALTH_SECONDS = 180.0
"""How long its server may take to answer once the Space runs."""
SPACE_README = """---
title: ml-intern-bot sandbox
sdk: docker
app_port: 7860
pinned: false
---

The execution sandbox of one ml-intern-bot conversation. It is deleted when the
conversation is done with it.
"""


def is_sandbox_space(repo_id: str) -> bool:
    return repo_id.rpartition("/")[2].startswith(NAME_PREFIX)


class SpaceBackend:
    """Sandboxes as private Docker Spaces of the bot's HF account (or ``namespace``)."""

    name = "space"
    shares_host_files = False
    """A Space keeps its own files: the session's shared files are copied in."""

    def __init__(
        self,
        api: HfApi,
        *,
        secrets: Mapping[str, str] | None = None,
        namespace: str | None = None,
        poll_seconds: float = 1.0,
    ) -> None:
        self.api = api
        self.secrets = dict(secrets or {})
        self._namespace = namespace
        self.poll_seconds = poll_seconds

    @property
    def hub_token(self) -> str | None:
        return self.api.token if isinstance(self.api.token, str) else None

    async def _hub(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(functools.partial(method, *args, **kwargs))

    async def namespace(self) -> str:
        """Where the Spaces are made: the token's own account unless given."""
        if self._namespace is None:
            self._namespace = str((await self._hub(self.api.whoami))["name"])
        return self._namespace

    async def start(
        self, session_key: str, hardware: str, progress: Progress = no_progress
    ) -> SandboxRecord:
        repo_id = f"{await self.namespace()}/{NAME_PREFIX}{secrets.token_hex(4)}"
        token = secrets.token_hex(32)
        say = functools.partial(_say, progress, repo_id)
        await say(f"creating ({hardware})")
        try:
            await self._create(repo_id, hardware, token)
            host = await self._wait_running(repo_id, say)
            record = SandboxRecord(self.name, repo_id, hardware, token=token, url=host)
            await self._wait_healthy(record, say)
        except BaseException:  # a failed or stopped start leaves no Space behind
            await asyncio.shield(self._delete(repo_id))
            raise
        await say("running")
        return record

    async def _create(self, repo_id: str, hardware: str, token: str) -> None:
        """The private Space with its secrets, then its files in one commit (the build)."""
        space_secrets = [{"key": TOKEN_SECRET, "value": token}]
        space_secrets += [{"key": k, "value": v} for k, v in self.secrets.items()]
        try:
            await self._hub(
                self.api.create_repo,
                repo_id,
                repo_type="space",
                space_sdk="docker",
                private=True,
                space_hardware=hardware,
                space_secrets=space_secrets,
            )
            files = {
                "README.md": SPACE_README.encode(),
                "Dockerfile": (SERVER_DIR / "Dockerfile").read_bytes(),
                "server.py": (SERVER_DIR / "server.py").read_bytes(),
            }
            await self._hub(
                self.api.create_commit,
                repo_id,
                repo_type="space",
                operations=[CommitOperationAdd(path, content) for path, content in files.items()],
                commit_message="The ml-intern-bot sandbox server",
            )
        except HfHubHTTPError as exc:
            raise SandboxUnavailable(
                f"The sandbox Space could not be created: {_reason(exc)}"
            ) from None

    async def _wait_running(self, repo_id: str, progress: Progress) -> str:
        """Poll the runtime until ``RUNNING``; the Space's host."""
        deadline, shown = time.monotonic() + RUNNING_SECONDS, ""
        while time.monotonic() < deadline:
            try:
                stage = (await self._hub(self.api.get_space_runtime, repo_id)).stage
            except HfHubHTTPError as exc:
                raise SandboxUnavailable(
                    f"The sandbox Space {repo_id} could not be followed: {_reason(exc)}. "
                    "The next call starts a fresh one."
                ) from None
            if stage in FAILED_STAGES:
                raise SandboxUnavailable(
                    f"The sandbox Space {repo_id} failed ({stage}) and was deleted. The next "
                    "call starts a fresh one."
                )
            if stage == "RUNNING":
                info = await self._hub(self.api.space_info, repo_id)
                if info.host:
                    return str(info.host)
            word = STAGE_WORDS.get(stage, stage.lower())
            if word != shown:
                shown = word
                await progress(word)
            await asyncio.sleep(self.poll_seconds)
        raise SandboxUnavailable(
            f"The sandbox Space {repo_id} was not running after {RUNNING_SECONDS:g} s and was "
            "deleted. The next call starts a fresh one."
        )

    async def _wait_healthy(self, record: SandboxRecord, progress: Progress) -> None:
        await progress("waiting for the sandbox server")
        deadline = time.monotonic() + HEALTH_SECONDS
        async with await self.attach(record) as client:
            while time.monotonic() < deadline:
                if await client.healthy(5.0):
                    return
                await asyncio.sleep(min(self.poll_seconds, 0.2))
        raise SandboxUnavailable(
            f"The sandbox Space {record.id} runs but its server did not answer within "
            f"{HEALTH_SECONDS:g} s; it was deleted. The next call starts a fresh one."
        )

    async def attach(self, record: SandboxRecord) -> SandboxClient:
        return SandboxClient(record.url, record.token, hub_token=self.hub_token)

    async def alive(self, record: SandboxRecord) -> bool:
        """True without asking: a Space that is gone shows in the next call's answer
        (:class:`~agent.sandbox.client.SandboxGone`: a clear error, and a fresh sandbox on
        the call after), which costs no round trip on every call as a check here would."""
        return True

    async def healthy(self, record: SandboxRecord) -> bool:
        """Whether the sandbox answers now (a warm one before it is handed out)."""
        async with await self.attach(record) as client:
            return await client.healthy(5.0)

    async def stop(self, record: SandboxRecord) -> None:
        await self._delete(record.id)

    async def _delete(self, repo_id: str) -> None:
        try:
            await self._hub(self.api.delete_repo, repo_id, repo_type="space", missing_ok=True)
        except HfHubHTTPError as exc:
            logger.warning("could not delete the sandbox Space %s: %s", repo_id, _reason(exc))

    async def stop_idle(self, idle_seconds: float) -> list[str]:
        """Nothing here: idle Spaces are found in the bot's index, by any process."""
        return []

    async def close(self) -> None:
        """Nothing to stop: the Spaces outlive this process, and a restarted bot reattaches."""

    async def own_spaces(self) -> list[tuple[str, float]]:
        """The sandbox Spaces of the namespace: id and when created (epoch seconds)."""
        namespace = await self.namespace()

        def listed() -> list[tuple[str, float]]:
            spaces = self.api.list_spaces(
                author=namespace, search=NAME_PREFIX, expand=["createdAt"]
            )
            now = time.time()  # of an age unknown: as if just made (never swept)
            return [
                (s.id, s.created_at.timestamp() if s.created_at else now)
                for s in spaces
                if is_sandbox_space(s.id)
            ]

        return await asyncio.to_thread(listed)


async def _say(progress: Progress, repo_id: str, stage: str) -> None:
    await progress(f"sandbox Space {repo_id}: {stage}")


def _reason(exc: HfHubHTTPError) -> str:
    status = exc.response.status_code if exc.response is not None else None
    message = exc.server_message or str(exc).splitlines()[0]
    return f"HTTP {status}: {message}" if status else message
