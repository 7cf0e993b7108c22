"""Session keys: ``<platform>:<team or guild>:<channel>:<thread>``, built and parsed here only."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SessionKey:
    platform: str
    team: str
    channel: str
    thread: str

    def encode(self) -> str:
        for part in (self.platform, self.team, self.channel):
            if ":" in part:
                raise ValueError(f"session key part {part!r} contains ':'")
        return f"{self.platform}:{self.team}:{self.channel}:{self.thread}"

    @classmethod
    def parse(cls, key: str) -> SessionKey:
        parts = key.split(":", 3)
        if len(parts) != 4:
            raise ValueError(f"not a session key: {key!r}")
        return cls(*parts)


def platform_of(key: str) -> str:
    return SessionKey.parse(key).platform
