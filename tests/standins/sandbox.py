"""A sandbox backend for tests whose sandboxes do not share the bot's files: the real
sandbox server as a plain subprocess (no isolation) with a workspace of its own, on a
unix socket — as a Space's sandbox is, minus the Hub."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from pathlib import Path

from agent.sandbox.backends import Progress, SandboxRecord, new_token, no_progress
from agent.sandbox.client import SandboxClient
from sandbox_server import SERVER_DIR


class ProcessBackend:
    name = "process"
    shares_host_files = False

    def __init__(self, root: Path) -> None:
        self.root = root
        self.processes: dict[str, asyncio.subprocess.Process] = {}

    def workspace(self, record: SandboxRecord) -> Path:
        return self.root / record.id / "workspace"

    async def start(
        self, session_key: str, hardware: str, progress: Progress = no_progress
    ) -> SandboxRecord:
        sandbox_id = secrets.token_hex(4)
        home = self.root / sandbox_id
        home.mkdir(parents=True)
        record = SandboxRecord(self.name, sandbox_id, hardware, new_token(), "")
        record.url = f"unix://{home / 's.sock'}"
        env = {
            "PATH": os.environ["PATH"],
            "SANDBOX_TOKEN": record.token,
            "SANDBOX_WORKSPACE": str(home / "workspace"),
            "SANDBOX_SOCKET": str(home / "s.sock"),
        }
        self.processes[sandbox_id] = await asyncio.create_subprocess_exec(
            sys.executable, str(SERVER_DIR / "server.py"), env=env
        )
        async with SandboxClient(record.url, record.token) as client:
            for _ in range(400):
                if (home / "s.sock").exists() and await client.healthy(1.0):
                    return record
                await asyncio.sleep(0.025)
        raise RuntimeError("the sandbox server did not start")

    async def attach(self, record: SandboxRecord) -> SandboxClient:
        return SandboxClient(record.url, record.token)

    async def alive(self, record: SandboxRecord) -> bool:
        process = self.processes.get(record.id)
        return process is not None and process.returncode is None

    async def stop(self, record: SandboxRecord) -> None:
        if (process := self.processes.pop(record.id, None)) and process.returncode is None:
            process.kill()
            await process.wait()

    async def stop_idle(self, idle_seconds: float) -> list[str]:
        return []

    async def close(self) -> None:
        for sandbox_id in list(self.processes):
            await self.stop(SandboxRecord(self.name, sandbox_id, "", "", ""))
