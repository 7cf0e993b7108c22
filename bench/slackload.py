"""Signed Slack mention events, built ahead and POSTed at a set rate on one connection pool."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from aiohttp import ClientSession, TCPConnector

from tests.standins.slack import BOT_USER, SlackSender


@dataclass(frozen=True)
class Mention:
    channel: str
    ts: str
    body: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Sent:
    mention: Mention
    at: float
    acked: float
    status: int

    @property
    def latency(self) -> float:
        return self.acked - self.at


def mentions(sender: SlackSender, n: int, prefix: str, say: str = "hello") -> list[Mention]:
    """``n`` signed ``app_mention`` events, each in its own channel ``<prefix><i>``."""
    out = []
    stamp = str(int(time.time()))
    for i in range(n):
        channel, ts = f"{prefix}{i:05d}", f"1700000000.{i:06d}"
        event = {
            "type": "app_mention",
            "user": "U0BENCH",
            "text": f"<@{BOT_USER}> {say} {i}",
            "ts": ts,
            "channel": channel,
            "event_ts": ts,
        }
        body = sender.event_body(event)
        headers = {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": sender.verifier.generate_signature(timestamp=stamp, body=body),
        }
        out.append(Mention(channel, ts, body, headers))
    return out


async def post_all(url: str, batch: list[Mention], rate: float | None = None) -> list[Sent]:
    """POST every mention: open loop at ``rate`` per second (None: all at once)."""
    sent: list[Sent] = []
    async with ClientSession(connector=TCPConnector(limit=0)) as http:

        async def one(mention: Mention) -> None:
            at = time.monotonic()
            async with http.post(url, data=mention.body, headers=mention.headers) as response:
                await response.read()
            sent.append(Sent(mention, at, time.monotonic(), response.status))

        start = time.monotonic()
        tasks = []
        for i, mention in enumerate(batch):
            if rate:
                await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            tasks.append(asyncio.create_task(one(mention)))
        await asyncio.gather(*tasks)
    return sent
