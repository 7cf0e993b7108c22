"""An aiohttp client of the sandbox server (``sandbox_server/server.py``)."""

from __future__ import annotations

from typing import Any

import aiohttp

from agent.tools.registry import ToolError

AUTH_HEADER = "X-Sandbox-Authorization"
CALL_MARGIN = 30.0
"""Seconds a call may take beyond the command's own timeout."""
FILE_CALL_TIMEOUT = 60.0


class SandboxGone(ToolError):
    """The sandbox did not answer: it stopped, or its host is gone."""


class SandboxClient:
    """Calls one sandbox server: over TCP (``http(s)://``) or a unix socket (``unix://``).

    ``hub_token`` is sent as a bearer (a private Space's gateway wants it); the sandbox's
    own token goes in ``X-Sandbox-Authorization``. Server errors come back as answers;
    transport errors raise :class:`SandboxGone`.
    """

    def __init__(self, url: str, token: str, *, hub_token: str | None = None) -> None:
        self.url = url
        headers = {AUTH_HEADER: f"Bearer {token}"}
        if hub_token:
            headers["Authorization"] = f"Bearer {hub_token}"
        if url.startswith("unix://"):
            connector: aiohttp.BaseConnector = aiohttp.UnixConnector(path=url[len("unix://") :])
            self.base = "http://sandbox"
        else:
            connector = aiohttp.TCPConnector()
            self.base = url.rstrip("/")
        self._http = aiohttp.ClientSession(connector=connector, headers=headers)

    async def call(
        self,
        endpoint: str,
        body: dict[str, Any] | None = None,
        *,
        seconds: float = FILE_CALL_TIMEOUT,
    ) -> dict[str, Any]:
        """POST ``/api/<endpoint>``: the server's answer ``{success, output, error, ...}``."""
        try:
            async with self._http.post(
                f"{self.base}/api/{endpoint}",
                json=body or {},
                timeout=aiohttp.ClientTimeout(total=seconds),
            ) as response:
                if response.status == 401:
                    raise ToolError("The sandbox refused this bot's token (401).")
                if response.status >= 400 and response.content_type != "application/json":
                    raise SandboxGone(
                        f"The sandbox answered HTTP {response.status} to {endpoint}; it may "
                        "have stopped. The next call starts a fresh one."
                    )
                answer = await response.json()
        except TimeoutError:
            raise ToolError(
                f"The sandbox did not answer {endpoint} within {seconds:g} s."
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise SandboxGone(
                f"The sandbox could not be reached ({type(exc).__name__}); it may have stopped. "
                "The next call starts a fresh one."
            ) from None
        if not isinstance(answer, dict):
            raise ToolError(f"The sandbox answered {endpoint} with something unexpected.")
        return answer

    async def checked(self, endpoint: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """Like :meth:`call`, but a refusal (``success`` false) raises its error as a ToolError."""
        answer = await self.call(endpoint, body)
        if not answer.get("success"):
            raise ToolError(str(answer.get("error") or f"{endpoint} failed"))
        return answer

    async def health(self, seconds: float = 5.0) -> dict[str, Any] | None:
        """The server's health answer (commands running, seconds idle); None: no answer."""
        try:
            answer = await self.call("health", seconds=seconds)
        except ToolError:
            return None
        return answer if answer.get("success") else None

    async def healthy(self, seconds: float = 5.0) -> bool:
        return await self.health(seconds) is not None

    async def bash(
        self, command: str, *, work_dir: str | None, seconds: float, run_id: str
    ) -> dict[str, Any]:
        """Run ``command``, killed after ``seconds``; ``run_id`` lets :meth:`kill` stop it."""
        body = {"command": command, "work_dir": work_dir, "timeout": seconds, "id": run_id}
        return await self.call("bash", body, seconds=seconds + CALL_MARGIN)

    async def kill(self, run_id: str | None = None) -> None:
        await self.call("kill", {"id": run_id} if run_id else {}, seconds=10.0)

    async def read_text(self, path: str) -> str:
        """A whole text file (a job's script)."""
        return str((await self.checked("read", {"path": path, "raw": True}))["output"])

    async def close(self) -> None:
        await self._http.close()

    async def __aenter__(self) -> SandboxClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
