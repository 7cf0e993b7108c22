"""The ``local`` backend: the sandbox server as a child process of the bot, one per session,
under bubblewrap.

Inside: the system's programs read-only, the Python that runs the server read-only, the
session's directory as ``/workspace`` (the only writable place besides a fresh ``/tmp``),
no environment but a few plain variables, its own PID namespace, and no network at all
(``--unshare-net``) unless network is on. The bot reaches the server over a unix socket
in a directory of its own, which works across network namespaces; nothing of the bot's
(its files, ``DATA_DIR``, its environment, Redis) is mounted or inherited.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from agent.sandbox.backends import (
    Progress,
    SandboxRecord,
    SandboxUnavailable,
    new_token,
    no_progress,
)
from agent.sandbox.client import SandboxClient
from agent.sandbox.files import session_dirname
from sandbox_server import SERVER_DIR

logger = logging.getLogger(__name__)

INSTALL_HINT = (
    "The local sandbox needs bubblewrap: install it (sudo apt-get install bubblewrap, "
    "sudo dnf install bubblewrap) or set SANDBOX=off."
)
STARTUP_SECONDS = 20.0
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64")
ETC_FILES = (
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
    "/etc/hosts",
    "/etc/resolv.conf",
)
"""Of ``/etc``, only what programs need to run (and to reach the internet when allowed)."""
WORKSPACE = "/workspace"
RUN_DIR = "/run/sandbox"


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


@dataclass
class _Child:
    process: asyncio.subprocess.Process
    socket_dir: Path
    last_used: float = field(default_factory=time.monotonic)


class LocalBackend:
    """Sandboxes as bubblewrapped children; ``root`` holds each session's directory."""

    name = "local"

    def __init__(self, root: Path, *, network: bool = False) -> None:
        self.root = Path(root)
        self.network = network
        self.children: dict[str, _Child] = {}

    def check(self) -> None:
        """Raise :class:`SandboxUnavailable` when bubblewrap is missing."""
        if bwrap_path() is None:
            raise SandboxUnavailable(INSTALL_HINT)

    def workspace(self, session_key: str) -> Path:
        return self.root / session_dirname(session_key)

    async def start(
        self, session_key: str, hardware: str, progress: Progress = no_progress
    ) -> SandboxRecord:
        self.check()
        if hardware != "cpu-basic":
            raise SandboxUnavailable(
                f"The local sandbox runs on the bot's own host: hardware {hardware!r} needs "
                "the space backend (SANDBOX=space with HF_TOKEN). Use cpu-basic here."
            )
        workspace = self.workspace(session_key)
        workspace.mkdir(parents=True, exist_ok=True)
        socket_dir = Path(tempfile.mkdtemp(prefix="mib-sandbox-"))
        token = new_token()
        with (socket_dir / "server.log").open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                *self.command(workspace, socket_dir, token),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            )
        record = SandboxRecord(
            backend=self.name,
            id=f"local-{process.pid}-{socket_dir.name.rsplit('-', 1)[-1]}",
            hardware=hardware,
            token=token,
            url=f"unix://{socket_dir / 'server.sock'}",
        )
        self.children[record.id] = _Child(process, socket_dir)
        try:
            await self._wait_healthy(record, process)
        except BaseException:
            await self.stop(record)
            raise
        return record

    def command(self, workspace: Path, socket_dir: Path, token: str) -> list[str]:
        """The bwrap command line that runs the server for ``workspace``."""
        args = ["bwrap", "--die-with-parent", "--new-session", "--unshare-all", "--unshare-user"]
        args += ["--uid", "1000", "--gid", "1000", "--cap-drop", "ALL"]
        if self.network:
            args.append("--share-net")
        for path in SYSTEM_DIRS:
            if os.path.islink(path):
                args += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                args += ["--ro-bind", path, path]
        for path in ETC_FILES:
            args += ["--ro-bind-try", path, path]
        for prefix in sorted({sys.base_prefix, sys.prefix}):
            if not any(prefix.startswith(d + "/") for d in SYSTEM_DIRS):
                args += ["--ro-bind", prefix, prefix]
        python_bin = str(Path(sys.executable).parent)
        args += [
            "--ro-bind", str(SERVER_DIR), "/app",
            "--bind", str(workspace.resolve()), WORKSPACE,
            "--bind", str(socket_dir), RUN_DIR,
            "--proc", "/proc",
            "--dev", "/dev",
            "--tmpfs", "/tmp",
            "--clearenv",
            "--setenv", "PATH", f"/usr/local/bin:/usr/bin:/bin:{python_bin}",
            "--setenv", "HOME", WORKSPACE,
            "--setenv", "LANG", "C.UTF-8",
            "--setenv", "SANDBOX_WORKSPACE", WORKSPACE,
            "--setenv", "SANDBOX_SOCKET", f"{RUN_DIR}/server.sock",
            "--setenv", "SANDBOX_TOKEN", token,
            "--chdir", WORKSPACE,
            sys.executable, "/app/server.py",
        ]  # fmt: skip
        return args

    async def _wait_healthy(
        self, record: SandboxRecord, process: asyncio.subprocess.Process
    ) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        async with SandboxClient(record.url, record.token) as client:
            while time.monotonic() < deadline:
                if process.returncode is not None:
                    log = Path(record.url.removeprefix("unix://")).with_name("server.log")
                    problem = log.read_text(errors="replace").strip()
                    raise SandboxUnavailable(
                        f"The local sandbox did not start (bwrap exit {process.returncode}): "
                        f"{problem[-500:] or 'no message'}"
                    )
                if Path(record.url.removeprefix("unix://")).exists() and await client.healthy(2.0):
                    return
                await asyncio.sleep(0.02)
        raise SandboxUnavailable(f"The local sandbox did not answer within {STARTUP_SECONDS:g} s.")

    async def attach(self, record: SandboxRecord) -> SandboxClient:
        if (child := self.children.get(record.id)) is not None:
            child.last_used = time.monotonic()
        return SandboxClient(record.url, record.token)

    async def alive(self, record: SandboxRecord) -> bool:
        child = self.children.get(record.id)
        if child is None or child.process.returncode is not None:
            return False  # another process's (or a restarted bot's): not reachable from here
        async with SandboxClient(record.url, record.token) as client:
            return await client.healthy()

    async def stop(self, record: SandboxRecord) -> None:
        child = self.children.pop(record.id, None)
        if child is None:
            return
        if child.process.returncode is None:
            child.process.kill()  # bwrap's namespace ends with it: everything inside dies
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(child.process.wait(), 10)
        shutil.rmtree(child.socket_dir, ignore_errors=True)

    async def stop_idle(self, idle_seconds: float) -> list[str]:
        """Stop the sandboxes not used for ``idle_seconds``; their ids."""
        now = time.monotonic()
        idle = [i for i, c in self.children.items() if now - c.last_used > idle_seconds]
        for sandbox_id in idle:
            await self.stop(SandboxRecord(self.name, sandbox_id, "", "", ""))
        return idle

    async def close(self) -> None:
        for sandbox_id in list(self.children):
            await self.stop(SandboxRecord(self.name, sandbox_id, "", "", ""))
