"""The Space endpoints of the Hub stand-in (mixed into :class:`tests.standins.hub.HubStandIn`).

A Space is created with ``create_repo(repo_type="space", space_sdk=…, space_hardware=…,
space_secrets=[…])``; secrets can be added (``add_space_secret``) before or after. A
commit holding a ``Dockerfile`` and ``server.py`` starts a build: the runtime's stage is
``BUILDING`` for ``space_build_seconds``, then ``RUNNING`` (or ``BUILD_ERROR`` while
``fail_builds`` > 0). On ``RUNNING`` the committed ``server.py`` runs as a real
subprocess on a free loopback port, its environment the Space's secrets and ``PORT``.
``space_info``'s ``host`` is the stand-in's gateway to it (``/spaces-app/<repo id>``),
which, like the Hub's for a private Space, answers 404 to a request without the HF token
as a bearer. Deleting the Space (``delete_repo``) kills its server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

if TYPE_CHECKING:
    from tests.standins.hub import Repo

APP_FILES = ("Dockerfile", "server.py")
FORWARDED = {"content-type", "x-sandbox-authorization"}
"""Headers the gateway passes to a Space's server (not the HF token)."""


@dataclass
class Space:
    """A Space's runtime as the stand-in keeps it."""

    hardware: str = "cpu-basic"
    secrets: dict[str, str] = field(default_factory=dict)
    stage: str = "NO_APP_FILE"
    build_started: float = 0.0
    fails: bool = False
    process: asyncio.subprocess.Process | None = None
    port: int = 0
    folder: Path | None = None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SpacesMixin:
    """Space state and handlers; :class:`HubStandIn` routes to them."""

    repos: dict[tuple[str, str], Repo]
    url: str

    def _spaces_init(self) -> None:
        self._gateway: aiohttp.ClientSession | None = None
        self.spaces: dict[str, Space] = {}
        self.space_build_seconds = 0.1
        """How long a Space builds before it runs."""
        self.fail_builds = 0
        """The next this many builds end in ``BUILD_ERROR``."""

    def _space_routes(self) -> list[tuple[str, str, Any]]:
        space = r"/api/spaces/(?P<repo_id>[^/]+/[^/]+)"
        return [
            ("DELETE", r"/api/repos/delete", self._delete_repo),
            ("GET", space + r"/runtime", self._space_runtime),
            ("POST DELETE", space + r"/secrets", self._space_secrets),
            ("GET POST", r"/spaces-app/(?P<repo_id>[^/]+/[^/]+)/(?P<tail>.*)", self._space_app),
        ]

    # ── hooks from the repo handlers ─────────────────────────────────────

    def _space_created(self, repo_id: str, payload: dict[str, Any]) -> None:
        secrets = {s["key"]: s["value"] for s in payload.get("secrets") or []}
        self.spaces[repo_id] = Space(
            hardware=payload.get("hardware") or "cpu-basic", secrets=secrets
        )

    async def _space_committed(self, repo_id: str, files: dict[str, bytes]) -> None:
        space = self.spaces.get(repo_id)
        if space is None or not all(name in files for name in APP_FILES):
            return
        await self._stop_app(space)
        space.stage, space.build_started = "BUILDING", time.monotonic()
        space.fails = self.fail_builds > 0
        self.fail_builds = max(0, self.fail_builds - 1)

    async def _space_fields(self, repo_id: str) -> dict[str, Any]:
        """What ``space_info`` adds for a Space: its runtime and, once running, ``host``."""
        space = self.spaces.get(repo_id)
        if space is None:
            return {}
        await self._advance(repo_id, space)
        fields: dict[str, Any] = {"runtime": self._runtime_json(space)}
        if space.stage == "RUNNING":
            fields["host"] = f"{self.url}/spaces-app/{repo_id}"
            fields["subdomain"] = repo_id.replace("/", "-")
        return fields

    async def close_spaces(self) -> None:
        for space in self.spaces.values():
            await self._stop_app(space)
        if self._gateway is not None:
            await self._gateway.close()

    async def crash_app(self, repo_id: str) -> None:
        """The Space's server dies; its runtime still says RUNNING (as a hung app's would)."""
        await self._stop_app(self.spaces[repo_id])

    def app_url(self, repo_id: str) -> str:
        """The Space's server itself, past the gateway (for tests of the server's own checks)."""
        return f"http://127.0.0.1:{self.spaces[repo_id].port}"

    # ── handlers ─────────────────────────────────────────────────────────

    async def _space_runtime(self, request: web.Request, repo_id: str) -> web.Response:
        self._repo(request, "spaces", repo_id)  # type: ignore[attr-defined]
        space = self.spaces[repo_id]
        await self._advance(repo_id, space)
        return web.json_response(self._runtime_json(space))

    async def _space_secrets(self, request: web.Request, repo_id: str) -> web.Response:
        self._repo(request, "spaces", repo_id, write=True)  # type: ignore[attr-defined]
        payload = await request.json()
        if request.method == "POST":
            self.spaces[repo_id].secrets[payload["key"]] = payload.get("value") or ""
        else:
            self.spaces[repo_id].secrets.pop(payload["key"], None)
        return web.json_response({})

    async def _space_app(self, request: web.Request, repo_id: str, tail: str) -> web.Response:
        """The gateway: a running Space's server, for requests with the HF token."""
        from tests.standins.hub import TOKEN  # hub.py imports this module

        space = self.spaces.get(repo_id)
        authorized = request.headers.get("Authorization") == f"Bearer {TOKEN}"
        if space is None or space.stage != "RUNNING" or not authorized:
            return web.Response(status=404, text="404 Not Found", content_type="text/html")
        if self._gateway is None:
            self._gateway = aiohttp.ClientSession()
        headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARDED}
        try:
            async with self._gateway.request(
                request.method,
                f"{self.app_url(repo_id)}/{tail}",
                data=await request.read(),
                headers=headers,
            ) as answer:
                body = await answer.read()
                kind = answer.content_type
                return web.Response(status=answer.status, body=body, content_type=kind)
        except aiohttp.ClientError:
            return web.Response(status=502, text="502 Bad Gateway", content_type="text/html")

    async def _delete_repo(self, request: web.Request) -> web.Response:
        payload = await request.json()
        namespace = payload.get("organization") or self._user(request, required=True)  # type: ignore[attr-defined]
        self._writable(request, namespace)  # type: ignore[attr-defined]
        repo_type = payload.get("type") or "model"
        repo_id = f"{namespace}/{payload['name']}"
        if self.repos.pop((repo_type, repo_id), None) is None:
            return web.json_response(
                {"error": "Repository not found"},
                status=404,
                headers={"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"},
            )
        if repo_type == "space" and (space := self.spaces.pop(repo_id, None)) is not None:
            await self._stop_app(space)
        return web.json_response({})

    # ── the runtime ──────────────────────────────────────────────────────

    @staticmethod
    def _runtime_json(space: Space) -> dict[str, Any]:
        return {
            "stage": space.stage,
            "hardware": {"current": space.hardware if space.stage == "RUNNING" else None,
                         "requested": space.hardware},
            "storage": None,
            "gcTimeout": None,
        }  # fmt: skip

    async def _advance(self, repo_id: str, space: Space) -> None:
        """Move a build on by elapsed time; start the app when it runs."""
        if space.stage != "BUILDING":
            return
        if time.monotonic() - space.build_started < self.space_build_seconds:
            return
        if space.fails:
            space.stage = "BUILD_ERROR"
            return
        space.stage = "RUNNING"
        await self._start_app(repo_id, space)

    async def _start_app(self, repo_id: str, space: Space) -> None:
        repo = self.repos[("space", repo_id)]
        folder = Path(tempfile.mkdtemp(prefix="hub-space-"))
        for name, content in repo.files().items():
            (folder / "app" / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / "app" / name).write_bytes(content)
        space.port, space.folder = free_port(), folder
        environ = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOST": "127.0.0.1",
            "PORT": str(space.port),
            "SANDBOX_WORKSPACE": str(folder / "workspace"),
            **space.secrets,
        }
        space.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "server.py",
            cwd=folder / "app",
            env=environ,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )

    @staticmethod
    async def _stop_app(space: Space) -> None:
        if space.process is not None and space.process.returncode is None:
            space.process.kill()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(space.process.wait(), 10)
        space.process = None
        if space.folder is not None:
            shutil.rmtree(space.folder, ignore_errors=True)
            space.folder = None
