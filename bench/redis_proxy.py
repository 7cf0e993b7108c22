"""A loopback TCP proxy in front of redis-server that counts round trips.

A client sends a request (one command, or a whole pipeline) and waits for the
answer before its next one on that connection, so each burst of bytes from a
client is one round trip.
"""

from __future__ import annotations

import asyncio
import contextlib

CHUNK = 65536


class CountingProxy:
    def __init__(self, port: int) -> None:
        self.upstream_port = port
        self.round_trips = 0
        self.url = ""
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> CountingProxy:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"redis://127.0.0.1:{port}/0"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        await asyncio.gather(
            self._pipe(reader, up_writer, count=True),
            self._pipe(up_reader, writer, count=False),
            return_exceptions=True,
        )

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, count: bool
    ) -> None:
        try:
            while data := await reader.read(CHUNK):
                if count:
                    self.round_trips += 1
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()
