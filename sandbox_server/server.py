"""The sandbox server: runs commands and edits files in one workspace, for one agent session.

Standard library and aiohttp only, so the image builds in seconds. Every endpoint is a
POST under ``/api/`` taking JSON and answering ``{success, output, error}`` (``bash``
adds ``exit_code``, ``duration`` and ``log_path``):

- ``health`` (also: commands running, seconds since the last call); ``bash`` {command, work_dir, timeout, id}; ``kill`` {id} (none: every command)
- ``read`` {path, offset, limit, raw}; ``write`` {path, content | content_b64};
  ``edit`` {path, old_str, new_str, replace_all}; ``exists`` {path}

Every call but ``health`` carries ``X-Sandbox-Authorization: Bearer <SANDBOX_TOKEN>``.
Each command runs in its own process group, killed with it on timeout or ``kill``;
its output is read in chunks, its head and tail kept and the whole written to a log
file in the workspace, so a command printing gigabytes costs no memory.

Environment: ``SANDBOX_TOKEN`` (required; else the first line of stdin),
``SANDBOX_WORKSPACE`` (default: the current directory), ``PORT`` (default 7860) or
``SANDBOX_SOCKET`` (a unix socket path instead).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ctypes
import hmac
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

AUTH_HEADER = "X-Sandbox-Authorization"
PR_SET_DUMPABLE = 4
MAX_LINES_NAMED = 10
"""An edit's answer names the lines of at most this many replacements."""
DEFAULT_TIMEOUT = 240
MAX_TIMEOUT = 1200
HEAD_BYTES = 8_000
TAIL_BYTES = 8_000
"""Of a command's output, the model sees its first and last bytes; the log has all of it."""
MAX_LOG_BYTES = 200_000_000
"""A log stops growing here (the command goes on, its output is dropped)."""
CHUNK = 65_536
DRAIN_SECONDS = 2.0
"""After a command ends, how long output is still read from what it left running."""
KILL_GRACE = 2.0
"""Between SIGTERM and SIGKILL of a command's process group."""
READ_LINES = 2000
MAX_LINE_CHARS = 2000
MAX_RAW_BYTES = 10_000_000
LOG_DIR = ".logs"
MAX_BODY = 64 * 1024 * 1024

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class Refused(Exception):
    """Bad input: the message becomes the answer's ``error``."""


def answer(output: str = "", error: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"success": error is None, "output": output, "error": error, **extra}


class OutputCap:
    """A command's output as it streams: head and tail in memory, the whole in a log file."""

    def __init__(self, log: Path) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.log_path = log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log = log.open("wb")

    def add(self, data: bytes) -> None:
        if self.total < MAX_LOG_BYTES:
            self._log.write(data[: MAX_LOG_BYTES - self.total])
        self.total += len(data)
        room = HEAD_BYTES - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        self.tail += data
        if len(self.tail) > TAIL_BYTES:
            del self.tail[: len(self.tail) - TAIL_BYTES]

    def close(self) -> None:
        self._log.close()

    def text(self, shown_path: str) -> str:
        kept = len(self.head) + len(self.tail)
        head = self.head.decode("utf-8", errors="replace")
        if kept >= self.total:
            return head + self.tail.decode("utf-8", errors="replace")
        tail = self.tail.decode("utf-8", errors="replace")
        return (
            f"{head}\n\n[... {self.total - kept:,} bytes omitted; the whole output "
            f"({self.total:,} bytes) is in {shown_path} ...]\n\n{tail}"
        )


class Sandbox:
    """The workspace and the commands running in it."""

    def __init__(self, workspace: Path, token: str) -> None:
        self.root = workspace.resolve()
        self.token = token
        self.running: dict[str, Command] = {}
        self.last_call = time.monotonic()

    # ── paths ────────────────────────────────────────────────────────────

    def path(self, name: Any, *, field: str = "path") -> Path:
        """``name`` (relative to the workspace, or absolute inside it) resolved; never outside."""
        if not isinstance(name, str) or not name.strip():
            raise Refused(f"'{field}' must be a non-empty string.")
        target = (self.root / name.strip()).resolve()
        if target != self.root and not target.is_relative_to(self.root):
            raise Refused(f"{name!r} is outside the workspace ({self.root}).")
        return target

    def shown(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix() or "."

    # ── commands ─────────────────────────────────────────────────────────

    async def bash(self, body: dict[str, Any]) -> dict[str, Any]:
        command = body.get("command")
        if not isinstance(command, str) or not command.strip():
            raise Refused("'command' must be a non-empty string.")
        work_dir = self.path(body.get("work_dir") or ".", field="work_dir")
        if not work_dir.is_dir():
            raise Refused(f"work_dir {self.shown(work_dir)!r} is not a directory.")
        timeout = body.get("timeout") or DEFAULT_TIMEOUT
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
            raise Refused("'timeout' must be a positive number of seconds.")
        timeout = min(float(timeout), MAX_TIMEOUT)
        run_id = str(body.get("id") or uuid.uuid4().hex)
        label = re.sub(r"[^A-Za-z0-9_-]+", "_", run_id)[:24]
        stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        log = self.root / LOG_DIR / f"{stamp}-{label}.log"
        cap = OutputCap(log)
        started = time.monotonic()
        ended = "cancelled"
        try:
            command_run = Command(command, work_dir, cap)
            self.running[run_id] = command_run
            ended = await command_run.run(timeout)
        finally:
            if self.running.pop(run_id, None) is None and ended == "finished":
                ended = "killed"  # a kill request took it off the list
            cap.close()
        duration = round(time.monotonic() - started, 3)
        code = command_run.process.returncode
        output = cap.text(self.shown(log))
        error = None
        if ended == "timeout":
            error = f"Killed after its timeout of {timeout:g} s."
        elif ended == "killed":
            error = "Killed by a stop request."
        elif code != 0:
            error = f"Exit code {code}."
        return answer(
            output,
            error,
            exit_code=code,
            duration=duration,
            log_path=self.shown(log),
            total_bytes=cap.total,
            cut=cap.total > len(cap.head) + len(cap.tail),
        )

    async def kill(self, body: dict[str, Any]) -> dict[str, Any]:
        wanted = body.get("id")
        ids = [wanted] if wanted else list(self.running)
        processes = [self.running.pop(i) for i in ids if i in self.running]
        await asyncio.gather(*(p.kill() for p in processes))
        return answer(f"Killed {len(processes)} command(s).")

    # ── files ────────────────────────────────────────────────────────────

    async def read(self, body: dict[str, Any]) -> dict[str, Any]:
        """Numbered lines from ``offset`` (1-based), ``limit`` of them, read as a stream (a
        big log costs no memory); ``raw``: the whole text, up to 10 MB."""
        target = self.path(body.get("path"))
        name = self.shown(target)
        if not target.is_file():
            raise Refused(f"No file {name!r}.")
        with target.open("rb") as handle:
            if b"\0" in handle.read(8192):
                raise Refused(f"{name!r} is a binary file, not text.")
        try:
            if body.get("raw"):
                size = target.stat().st_size
                if size > MAX_RAW_BYTES:
                    raise Refused(f"{name!r} is {size:,} bytes, over {MAX_RAW_BYTES:,}.")
                text = (await asyncio.to_thread(target.read_bytes)).decode("utf-8")
                return answer(text, size=size)
            offset = _whole(body.get("offset"), "offset", default=1, least=1)
            limit = _whole(body.get("limit"), "limit", default=READ_LINES, least=1)
            total, lines = await asyncio.to_thread(_lines, target, offset, limit)
        except UnicodeDecodeError:
            raise Refused(f"{name!r} is not UTF-8 text.") from None
        shown = [f"{n:6}\t{line[:MAX_LINE_CHARS]}" for n, line in enumerate(lines, offset)]
        last = offset - 1 + len(shown)
        more = f"\n[Lines {offset}-{last} of {total}: read on with offset={last + 1}.]"
        return answer("\n".join(shown) + (more if last < total else ""), lines=total)

    async def write(self, body: dict[str, Any]) -> dict[str, Any]:
        target = self.path(body.get("path"))
        if target.is_dir():
            raise Refused(f"{self.shown(target)!r} is a directory.")
        if isinstance(body.get("content_b64"), str):
            data = base64.b64decode(body["content_b64"])
        elif isinstance(body.get("content"), str):
            data = body["content"].encode("utf-8")
        else:
            raise Refused("'content' must be a string.")
        await asyncio.to_thread(_write_bytes, target, data)
        return answer(f"Wrote {self.shown(target)} ({len(data):,} bytes).", size=len(data))

    async def edit(self, body: dict[str, Any]) -> dict[str, Any]:
        target = self.path(body.get("path"))
        old, new = body.get("old_str"), body.get("new_str")
        if not isinstance(old, str) or not old:
            raise Refused("'old_str' must be a non-empty string.")
        if not isinstance(new, str):
            raise Refused("'new_str' must be a string.")
        if not target.is_file():
            raise Refused(f"No file {self.shown(target)!r}.")
        try:
            text = (await asyncio.to_thread(target.read_bytes)).decode("utf-8")
        except UnicodeDecodeError:
            raise Refused(f"{self.shown(target)!r} is not UTF-8 text.") from None
        count = text.count(old)
        name = self.shown(target)
        if count == 0:
            raise Refused(f"old_str was not found in {name}: read the file and copy it exactly.")
        if count > 1 and not body.get("replace_all"):
            raise Refused(
                f"old_str appears {count} times in {name}: add surrounding lines to make it "
                "unique, or set replace_all."
            )
        await asyncio.to_thread(_write_bytes, target, text.replace(old, new).encode("utf-8"))
        where = ", ".join(str(n) for n in _lines_of(text, old)[:MAX_LINES_NAMED])
        what = "1 occurrence" if count == 1 else f"{count} occurrences"
        lines = "line" if count == 1 else "lines"
        more = ", …" if count > MAX_LINES_NAMED else ""
        return answer(f"Replaced {what} in {name}, at {lines} {where}{more}.", replaced=count)

    async def exists(self, body: dict[str, Any]) -> dict[str, Any]:
        target = self.path(body.get("path"))
        found = target.exists()
        return answer("yes" if found else "no", exists=found, is_dir=target.is_dir())

    async def health(self, body: dict[str, Any]) -> dict[str, Any]:
        """Also how long since the last call (health aside): idle sandboxes are stopped."""
        idle = round(time.monotonic() - self.last_call, 1)
        return answer("ok", running=len(self.running), idle_seconds=idle)


class Command:
    """One command in its own process group: its exit and its output watched by the event
    loop (a pidfd and the pipe), so what it leaves running cannot hold the answer back."""

    def __init__(self, command: str, work_dir: Path, cap: OutputCap) -> None:
        self.cap = cap
        self.process = subprocess.Popen(
            ["bash", "-c", command],
            cwd=work_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        loop = asyncio.get_running_loop()
        self.exited: asyncio.Future[None] = loop.create_future()
        self.eof: asyncio.Future[None] = loop.create_future()
        self._pidfd = os.pidfd_open(self.process.pid)
        assert self.process.stdout is not None
        self._out = self.process.stdout.fileno()
        os.set_blocking(self._out, False)
        loop.add_reader(self._pidfd, _settle, self.exited)
        loop.add_reader(self._out, self._read)

    def _read(self) -> None:
        try:
            data = os.read(self._out, CHUNK)
        except BlockingIOError:
            return
        if data:
            self.cap.add(data)
        else:
            asyncio.get_running_loop().remove_reader(self._out)
            _settle(self.eof)

    async def run(self, seconds: float) -> str:
        """Wait for the command (killing it after ``seconds``): "finished" or "timeout"."""
        ended = "finished"
        try:
            try:
                await asyncio.wait_for(asyncio.shield(self.exited), seconds)
            except TimeoutError:
                ended = "timeout"
                await self.kill()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.eof), DRAIN_SECONDS)
        finally:
            if not self.exited.done():  # the request was cancelled
                await self.kill()
            self.process.wait()
            loop = asyncio.get_running_loop()
            loop.remove_reader(self._out)
            loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self.process.stdout.close()  # type: ignore[union-attr]
        return ended

    async def kill(self) -> None:
        """SIGTERM the process group, then SIGKILL it: what the command started may ignore
        SIGTERM or outlive the command."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, sig)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.exited), KILL_GRACE)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _whole(value: Any, field: str, *, default: int, least: int) -> int:
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise Refused(f"'{field}' must be a whole number of at least {least}.")
    return value


def _lines(path: Path, offset: int, limit: int) -> tuple[int, list[str]]:
    """(lines in the file, its lines ``offset`` to ``offset + limit - 1``), streaming."""
    kept, total = [], 0
    with path.open("rb") as handle:
        for total, line in enumerate(handle, 1):
            if offset <= total < offset + limit:
                kept.append(line.decode("utf-8").rstrip("\r\n"))
    return total, kept


def _write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def app(sandbox: Sandbox) -> web.Application:
    """The routes; each checks the token (but health) and turns ``Refused`` into an answer."""

    def route(handler: Handler, *, open_: bool = False) -> Any:
        async def serve(request: web.Request) -> web.Response:
            if not open_ and not authorised(request, sandbox.token):
                return web.json_response(answer(error="Unauthorized"), status=401)
            if not open_:
                sandbox.last_call = time.monotonic()
            try:
                body = await request.json() if request.can_read_body else {}
            except ValueError:
                return web.json_response(answer(error="The body is not JSON."), status=400)
            if not isinstance(body, dict):
                return web.json_response(answer(error="The body must be an object."), status=400)
            try:
                return web.json_response(await handler(body))
            except Refused as exc:
                return web.json_response(answer(error=str(exc)))
            except (OSError, ValueError) as exc:  # e.g. a NUL byte in a command or a path
                return web.json_response(answer(error=f"{type(exc).__name__}: {exc}"))

        return serve

    application = web.Application(client_max_size=MAX_BODY)
    application.router.add_route("*", "/api/health", route(sandbox.health, open_=True))
    for name in ("bash", "kill", "read", "write", "edit", "exists"):
        application.router.add_post(f"/api/{name}", route(getattr(sandbox, name)))
    return application


def _lines_of(text: str, part: str) -> list[int]:
    """The line numbers (1-based) where each occurrence of ``part`` in ``text`` starts."""
    found, start = [], text.find(part)
    while start != -1:
        found.append(text.count("\n", 0, start) + 1)
        start = text.find(part, start + len(part))
    return found


def authorised(request: web.Request, token: str) -> bool:
    given = request.headers.get(AUTH_HEADER, "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def hide_from_commands() -> None:
    """Make this process undumpable (Linux): the commands it runs, as the same user, can
    then read neither its ``/proc/<pid>/environ``, which keeps ``SANDBOX_TOKEN`` after
    ``os.environ`` drops it, nor its memory, nor attach to it."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: nothing to hide from
        ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def main() -> None:
    hide_from_commands()
    token = os.environ.pop("SANDBOX_TOKEN", "")  # the commands it runs do not inherit it
    if not token and not sys.stdin.isatty():
        token = sys.stdin.readline().strip()
    if not token:
        sys.exit(
            "SANDBOX_TOKEN is not set (nor given on stdin): the sandbox server will not run "
            "without a token."
        )
    workspace = Path(os.environ.get("SANDBOX_WORKSPACE") or os.getcwd())
    workspace.mkdir(parents=True, exist_ok=True)
    application = app(Sandbox(workspace, token))
    if socket_path := os.environ.get("SANDBOX_SOCKET"):
        web.run_app(application, path=socket_path, print=None)
    else:
        port = int(os.environ.get("PORT", "7860"))
        web.run_app(application, host=os.environ.get("HOST", "0.0.0.0"), port=port, print=None)


if __name__ == "__main__":
    main()
