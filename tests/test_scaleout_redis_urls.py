"""Redis URLs of a managed service: password, database number and TLS (``rediss://``)."""

import shutil
import socket
import subprocess

import pytest
import redis as redis_sync

from agent.loop import Agent
from bot.store.embedded import connect
from bot.store.sessions import SessionStore
from bot.turns.runner import TurnRunner
from tests.conftest import TLSFiles
from tests.fleet import key
from tests.standins.llm import text
from tests.support import RecordingSurface, agent_config, test_tools


def redis_has_tls() -> bool:
    binary = shutil.which("redis-server")
    if binary is None or shutil.which("openssl") is None:
        return False
    libraries = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    return "libssl" in libraries


def plain_ping(port: int) -> bytes:
    """What the server answers a PING without a password or TLS."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"PING\r\n")
        try:
            return sock.recv(200)
        except ConnectionResetError:
            return b""


async def run_a_turn(llm, url: str) -> None:
    redis = connect(url)
    surface = RecordingSurface()
    runner = TurnRunner(
        Agent(agent_config(llm), test_tools()), SessionStore(redis), {"test": lambda k, r: surface}
    )
    try:
        llm.script(text("Stored far away."))
        await runner.submit(key("managed"), {"kind": "message", "text": "hi", "user": "U1"})
        await runner.wait_idle()
        assert surface.transcript() == "Stored far away."
    finally:
        await runner.close()
        await redis.aclose()


async def test_a_password_and_a_database_number(llm, redis_factory):
    server = redis_factory(password="s3cret-pass", db=3)

    await run_a_turn(llm, server.url)

    with redis_sync.Redis.from_url(server.url) as client:
        assert client.exists(f"mib:session:{key('managed')}")
        client.execute_command("SELECT", 0)
        assert not client.exists(f"mib:session:{key('managed')}")
    assert plain_ping(server.port).startswith(b"-NOAUTH")


@pytest.mark.skipif(not redis_has_tls(), reason="redis-server built without TLS, or no openssl")
async def test_tls_with_a_password(llm, redis_factory, tmp_path):
    server = redis_factory(tls=TLSFiles.make(tmp_path), password="tls-pass", db=2)
    assert server.url.startswith("rediss://")

    await run_a_turn(llm, server.url)

    with redis_sync.Redis.from_url(server.url) as client:
        assert client.exists(f"mib:session:{key('managed')}")
    assert plain_ping(server.port) == b""  # plain text: the connection is just closed
