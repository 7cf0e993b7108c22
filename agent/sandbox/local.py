"""The ``local`` backend: the sandbox server as a child process of the bot, one per session,
under bubblewrap.

Inside: the system's programs read-only, the Python that runs the server read-only, the
session's directory as ``/workspace`` (the only writable place besides a fresh ``/tmp``),
no environment but a few plain variables, its own PID namespace, and no network at all
(``--unshare-net``); with network on, a user-mode network of its own (slirp4netns) that
cannot reach the host's loopback. The bot reaches the server over a unix socket
in a directory of its own, which works across network namespaces; nothing of the bot's
(its files, ``DATA_DIR``, its environment, Redis) is mounted or inherited.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
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
NETWORK_HINT = (
    "SANDBOX_NETWORK=1 needs slirp4netns, which gives a sandbox a network of its own that "
    "cannot reach the host's loopback: sudo apt-get install slirp4netns (or unset "
    "SANDBOX_NETWORK)."
)
SLIRP_DNS = "10.0.2.3"
WORKSPACE = "/workspace"
SOCKET_NAME = "server.sock"
RUN_DIR = "/run/sandbox"


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


@dataclass
class _Child:
    process: asyncio.subprocess.Process
    socket_dir: Path
    token: str
    network: asyncio.subprocess.Process | None = None
    """slirp4netns, when the sandbox has a network."""

    @property
    def url(self) -> str:
        return f"unix://{self.socket_dir / SOCKET_NAME}"


class LocalBackend:
    """Sandboxes as bubblewrapped children; ``root`` holds each session's directory."""

    name = "local"
    shares_host_files = True

    def __init__(self, root: Path, *, network: bool = False) -> None:
        self.root = Path(root)
        self.network = network
        self.children: dict[str, _Child] = {}

    def check(self) -> None:
        """Raise :class:`SandboxUnavailable` when bubblewrap (or slirp4netns for a network)
        is missing."""
        if bwrap_path() is None:
            raise SandboxUnavailable(INSTALL_HINT)
        if self.network and shutil.which("slirp4netns") is None:
            raise SandboxUnavailable(NETWORK_HINT)

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
        info, info_out = os.pipe()  # bwrap writes the sandbox's pid there
        try:
            with (socket_dir / "server.log").open("wb") as log:
                process = await asyncio.create_subprocess_exec(
                    *self.command(workspace, socket_dir, info_fd=info_out),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=log,
                    stderr=log,
                    env=self.environment(),
                    pass_fds=(info_out,),
                )
        finally:
            os.close(info_out)
        await _hand_token(process, token)
        record = SandboxRecord(
            backend=self.name,
            id=f"local-{process.pid}-{socket_dir.name.rsplit('-', 1)[-1]}",
            hardware=hardware,
            token=token,
            url=f"unix://{socket_dir / SOCKET_NAME}",
        )
        child = self.children[record.id] = _Child(process, socket_dir, token)
        try:
            pid = await asyncio.wait_for(asyncio.to_thread(_child_pid, info), STARTUP_SECONDS)
            if pid is None:  # bwrap gave up before starting anything
                await process.wait()
                raise SandboxUnavailable(_failure(socket_dir, process.returncode))
            if self.network:
                child.network = await _connect_network(pid, socket_dir)
            await self._wait_healthy(record, process)
        except BaseException:
            await self.stop(record)
            raise
        return record

    def command(
        self, workspace: Path, socket_dir: Path, *, info_fd: int | None = None
    ) -> list[str]:
        """The bwrap command line that runs the server for ``workspace``; ``info_fd`` gets
        the sandbox's pid (as JSON)."""
        args = [
            bwrap_path() or "bwrap",
            "--die-with-parent",
            "--new-session",
            "--unshare-all",
            "--unshare-user",
        ]
        if info_fd is not None:
            args += ["--info-fd", str(info_fd)]
        args += ["--uid", "1000", "--gid", "1000", "--cap-drop", "ALL"]
        # A fresh /tmp first: the binds below may lie under the host's /tmp (a virtualenv
        # in a checkout there), and a later tmpfs would hide them.
        args += ["--tmpfs", "/tmp"]
        for path in SYSTEM_DIRS:
            if os.path.islink(path):
                args += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                args += ["--ro-bind", path, path]
        for path in ETC_FILES:
            args += ["--ro-bind-try", path, path]
        if self.network:  # slirp4netns answers DNS at 10.0.2.3
            (socket_dir / "resolv.conf").write_text(f"nameserver {SLIRP_DNS}\n")
            args += ["--ro-bind", str(socket_dir / "resolv.conf"), "/etc/resolv.conf"]
        for prefix in sorted({sys.base_prefix, sys.prefix}):
            if not any(prefix.startswith(d + "/") for d in SYSTEM_DIRS):
                args += ["--ro-bind", prefix, prefix]
        args += [
            "--ro-bind", str(SERVER_DIR), "/app",
            "--bind", str(workspace.resolve()), WORKSPACE,
            "--bind", str(socket_dir), RUN_DIR,
            "--proc", "/proc",
            "--dev", "/dev",
            "--chdir", WORKSPACE,
            sys.executable, "/app/server.py",
        ]  # fmt: skip
        return args

    @staticmethod
    def environment() -> dict[str, str]:
        """The server's whole environment (bwrap passes it on): nothing of the bot's, nor
        the server's token, which goes on its stdin (:func:`_hand_token`)."""
        return {
            "PATH": f"/usr/local/bin:/usr/bin:/bin:{Path(sys.executable).parent}",
            "HOME": WORKSPACE,
            "LANG": "C.UTF-8",
            "SANDBOX_WORKSPACE": WORKSPACE,
            "SANDBOX_SOCKET": f"{RUN_DIR}/{SOCKET_NAME}",
        }

    async def _wait_healthy(
        self, record: SandboxRecord, process: asyncio.subprocess.Process
    ) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        async with SandboxClient(record.url, record.token) as client:
            while time.monotonic() < deadline:
                if process.returncode is not None:
                    raise SandboxUnavailable(_failure(_socket(record).parent, process.returncode))
                if _socket(record).exists() and await client.healthy(2.0):
                    return
                await asyncio.sleep(0.02)
        raise SandboxUnavailable(f"The local sandbox did not answer within {STARTUP_SECONDS:g} s.")

    async def attach(self, record: SandboxRecord) -> SandboxClient:
        return SandboxClient(record.url, record.token)

    async def alive(self, record: SandboxRecord) -> bool:
        """Ours: its process runs. Another process's on this host: its server answers."""
        if (child := self.children.get(record.id)) is not None:
            return child.process.returncode is None
        if not _socket(record).exists():
            return False
        async with SandboxClient(record.url, record.token) as client:
            return await client.healthy()

    async def stop(self, record: SandboxRecord) -> None:
        child = self.children.pop(record.id, None)
        if child is None:
            _stop_other(record)
            return
        for process in (child.process, child.network):
            if process is not None and process.returncode is None:
                process.kill()  # bwrap's namespaces end with it: everything inside dies
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(process.wait(), 10)
        shutil.rmtree(child.socket_dir, ignore_errors=True)

    async def stop_idle(self, idle_seconds: float) -> list[str]:
        """Stop this process's sandboxes whose server saw no call for ``idle_seconds`` (from
        whichever worker) and runs no command; their ids."""
        idle = []
        for sandbox_id, child in list(self.children.items()):
            async with SandboxClient(child.url, child.token) as client:
                health = await client.health()
            if health is None or (
                not health.get("running") and health.get("idle_seconds", 0) >= idle_seconds
            ):
                idle.append(sandbox_id)
                await self.stop(SandboxRecord(self.name, sandbox_id, "", "", ""))
        return idle

    async def close(self) -> None:
        for sandbox_id in list(self.children):
            await self.stop(SandboxRecord(self.name, sandbox_id, "", "", ""))


def _child_pid(fd: int) -> int | None:
    """The sandbox's pid from bwrap's ``--info-fd`` (blocking; closes ``fd``); None when
    bwrap wrote none."""
    with os.fdopen(fd, "rb") as info:
        data = info.read()
    try:
        return int(json.loads(data)["child-pid"])
    except (ValueError, KeyError):
        return None


def _failure(socket_dir: Path, code: int | None) -> str:
    """Why a sandbox did not start: bwrap's (or the server's) last words."""
    try:
        said = (socket_dir / "server.log").read_text(errors="replace").strip()
    except OSError:
        said = ""
    return f"The local sandbox did not start (bwrap exit {code}): {said[-500:] or 'no message'}"


async def _hand_token(process: asyncio.subprocess.Process, token: str) -> None:
    """Give the server its token on stdin: not on bwrap's command line (other users of the
    host read those), nor in its environment, which bwrap's init (pid 1 of the sandbox)
    keeps readable to the commands in ``/proc/1/environ``."""
    assert process.stdin is not None
    process.stdin.write(f"{token}\n".encode())
    with contextlib.suppress(ConnectionError):  # bwrap gave up: its log says why
        await process.stdin.drain()
    process.stdin.close()


async def _connect_network(pid: int, socket_dir: Path) -> asyncio.subprocess.Process:
    """A network for the sandbox ``pid``: slirp4netns, user-mode, with no way to the host's
    loopback (``--disable-host-loopback``); returns once its interface is configured."""
    # Held from the start: once bwrap moves the sandbox into a nested user namespace, the
    # network namespace can no longer be joined through its pid.
    netns = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
    ready, ready_out = os.pipe()  # slirp4netns writes "1" there once tap0 is up
    try:
        await _loopback_set_up(pid)
        with (socket_dir / "network.log").open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                "slirp4netns",
                "--configure",
                "--mtu=65520",
                "--disable-host-loopback",
                f"--ready-fd={ready_out}",
                "--netns-type=path",
                f"/proc/self/fd/{netns}",
                "tap0",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(ready_out, netns),
            )
    finally:
        os.close(ready_out)
        os.close(netns)
    try:
        said = await asyncio.wait_for(asyncio.to_thread(_read_closing, ready), STARTUP_SECONDS)
    except TimeoutError:
        said = b""
    if said != b"1":
        process.kill()
        await process.wait()
        log_text = (socket_dir / "network.log").read_text(errors="replace").strip()
        raise SandboxUnavailable(
            f"The local sandbox's network did not start: {log_text[-300:] or 'no message'}"
        )
    return process


async def _loopback_set_up(pid: int) -> None:
    """Wait until bwrap has given the sandbox's loopback its address: slirp4netns brings
    ``lo`` up too, and the kernel then adds 127.0.0.1 itself, so bwrap's own add fails if
    slirp4netns comes first."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        try:
            if "127.0.0.1" in Path(f"/proc/{pid}/net/fib_trie").read_text():
                return
        except PermissionError:
            return  # bwrap has dropped its privileges: its set-up, loopback first, is done
        except OSError:
            pass
        await asyncio.sleep(0.005)
    raise SandboxUnavailable("The local sandbox's loopback was not set up in time.")


def _read_closing(fd: int) -> bytes:
    """One byte from ``fd`` (blocking), then close it."""
    try:
        return os.read(fd, 1)
    finally:
        os.close(fd)


def _socket(record: SandboxRecord) -> Path:
    return Path(record.url.removeprefix("unix://"))


def _stop_other(record: SandboxRecord) -> None:
    """End a sandbox another process of this host started (``ml-intern-bot sandboxes
    --delete``): its bwrap, whose pid the id holds, once its command line names the
    sandbox's own directory (so a reused pid is left alone)."""
    socket_dir = _socket(record).parent
    try:
        pid = int(record.id.split("-")[1])
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (IndexError, ValueError, OSError):
        return
    if str(socket_dir).encode() in command:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(socket_dir, ignore_errors=True)
