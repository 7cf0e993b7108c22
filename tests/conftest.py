"""The test rig: a real redis-server for the session, the loopback LLM per test."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import functools  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import redis as redis_sync  # noqa: E402

from agent.llm import close_open_clients
from tests.closing import bounded, closed, watchdog  # noqa: E402
from tests.standins.llm import LLMStandIn  # noqa: E402

WATCHDOG_SECONDS = 60.0
"""When a test still runs after this, its event loop's tasks are dumped (see watchdog)."""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    with watchdog(item.nodeid, WATCHDOG_SECONDS):
        return (yield)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class TLSFiles:
    """A CA and a server certificate for 127.0.0.1 made by the openssl command."""

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def make(cls, directory: Path) -> TLSFiles:
        run = functools.partial(subprocess.run, check=True, capture_output=True, cwd=directory)
        key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
        run(f"openssl req -x509 {key} -days 1 -subj /CN=ca -keyout ca.key -out ca.pem".split())
        run(f"openssl req {key} -subj /CN=127.0.0.1 -keyout server.key -out server.csr".split())
        (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
        sign = "-CA ca.pem -CAkey ca.key -CAcreateserial -extfile san.ext"
        run(f"openssl x509 -req -in server.csr -days 1 {sign} -out server.pem".split())
        return cls(directory / "ca.pem", directory / "server.pem", directory / "server.key")


class RedisServer:
    """A redis-server process a test owns; restartable on the same port (and data when durable).

    ``password`` turns on AUTH, ``tls`` serves only TLS, ``durable`` keeps an
    fsynced append-only file so a restart loses nothing, like a managed Redis.
    """

    def __init__(
        self,
        binary: str,
        directory: Path,
        *,
        password: str | None = None,
        tls: TLSFiles | None = None,
        durable: bool = False,
        db: int = 0,
    ) -> None:
        self.binary = binary
        self.dir = directory
        self.port = free_port()
        self.password = password
        self.tls = tls
        self.durable = durable
        auth = f":{password}@" if password else ""
        scheme, query = ("rediss", f"?ssl_ca_certs={tls.ca}") if tls else ("redis", "")
        self.url = f"{scheme}://{auth}127.0.0.1:{self.port}/{db}{query}"
        self.proc: subprocess.Popen | None = None

    def _args(self) -> list[str]:
        args = ["--bind", "127.0.0.1", "--dir", str(self.dir), "--save", "", "--daemonize", "no"]
        if self.tls:
            args += ["--port", "0", "--tls-port", str(self.port), "--tls-auth-clients", "no",
                     "--tls-cert-file", str(self.tls.cert), "--tls-key-file", str(self.tls.key),
                     "--tls-ca-cert-file", str(self.tls.ca)]  # fmt: skip
        else:
            args += ["--port", str(self.port)]
        if self.password:
            args += ["--requirepass", self.password]
        durable = ["--appendonly", "yes", "--appendfsync", "always"]
        return args + (durable if self.durable else ["--appendonly", "no"])

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, *self._args()], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = redis_sync.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis_sync.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server did not start: {self._args()}") from None
                time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    @property
    def running(self) -> bool:
        return bool(self.proc and self.proc.poll() is None)


def redis_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: run `make test`, which installs it")
    return binary


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    binary = redis_binary()
    server = RedisServer(binary, tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_factory(tmp_path):
    """Makes extra redis-servers (password, TLS, durable) that the test owns."""
    binary = redis_binary()
    servers: list[RedisServer] = []

    def make(**options) -> RedisServer:
        directory = tmp_path / f"redis{len(servers)}"
        directory.mkdir()
        server = RedisServer(binary, directory, **options)
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def redis_url(redis_server):
    if not redis_server.running:
        redis_server.start()
    client = redis_sync.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture
async def redis(redis_url):
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    yield client
    await closed("the Redis client", client.aclose())


@pytest.fixture(params=[pytest.param("auto", id="openai"), pytest.param("litellm", id="litellm")])
def llm_client(request) -> str:
    """``AgentConfig.llm_client`` for both stream paths: ``auto`` streams the loopback
    OpenAI-compatible server through the ``openai`` client, ``litellm`` through LiteLLM."""
    return request.param


@pytest.fixture
async def llm():
    async with bounded("the LLM stand-in", LLMStandIn()) as server:
        yield server
        await close_open_clients()  # of agents a test made and dropped
