"""Which model answers a session: ``MODELS``' labels, a thread's choice, a channel's default.

``MODELS`` (:meth:`ModelChoices.parse`) is an allowlist of LiteLLM model names, each
with a short label: ``kimi=huggingface/novita/moonshotai/kimi-k2.5,qwen=…``. A thread
may choose one of them (kept with the session, for the session TTL), and a channel
may have a default that its threads use unless they chose their own. A turn answers
with :meth:`ModelPicker.chosen`: the thread's choice, else the channel's default,
else ``MODEL``. Who may change what is the front ends' and :mod:`bot.turns.commands`'
business; this module only stores and resolves.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from redis.asyncio import Redis

from bot.store import redis_keys

DEFAULT = "default"
"""Not a label: ``model default`` drops a choice (the thread follows its channel again)."""
LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
SETTING = "MODELS"

Source = Literal["thread", "channel", "default"]


@dataclass(frozen=True)
class ModelChoices:
    """``MODEL`` and the labelled models of ``MODELS`` (empty: no choice is offered)."""

    default: str
    labels: Mapping[str, str] = field(default_factory=dict)
    """Label -> LiteLLM model name, in the order ``MODELS`` gives them."""

    @classmethod
    def parse(cls, text: str, default: str) -> ModelChoices:
        """``label=model,label=model`` (spaces around parts ignored); a clear ValueError
        naming the entry when one is malformed, reserved or repeated."""
        labels: dict[str, str] = {}
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            label, sep, model = (s.strip() for s in part.partition("="))
            if not sep or not label or not model:
                raise ValueError(
                    f"{SETTING} entry {part!r} is not label=model "
                    "(e.g. kimi=huggingface/novita/moonshotai/kimi-k2.5)"
                )
            if not LABEL.match(label):
                raise ValueError(
                    f"{SETTING} label {label!r}: use letters, digits, '.', '_' or '-' "
                    "(at most 40, no spaces)"
                )
            if label.lower() == DEFAULT:
                raise ValueError(f"{SETTING} label {label!r} is reserved: choose another")
            if any(label.lower() == known.lower() for known in labels):
                raise ValueError(f"{SETTING} label {label!r} is given twice")
            labels[label] = model
        return cls(default, labels)

    @property
    def offered(self) -> bool:
        """Whether there is a choice at all (``MODELS`` is set)."""
        return bool(self.labels)

    def label(self, typed: str) -> str | None:
        """The label as configured for ``typed`` (any case); None if there is none."""
        wanted = typed.strip().strip("`").lower()
        return next((label for label in self.labels if label.lower() == wanted), None)

    def label_of(self, model: str) -> str | None:
        """The first label of ``model``; None if it has none."""
        return next((label for label, name in self.labels.items() if name == model), None)


@dataclass(frozen=True)
class Chosen:
    """The model a session answers with, its label (if any), and where the choice comes from."""

    model: str
    label: str | None
    source: Source


class ModelPicker:
    """Thread choices and channel defaults in Redis, resolved against ``choices``."""

    def __init__(self, redis: Redis, choices: ModelChoices, *, ttl_seconds: int) -> None:
        self.redis = redis
        self.choices = choices
        self.ttl = ttl_seconds

    async def chosen(self, key: str) -> Chosen:
        """The model of session ``key`` now (a label no longer in ``MODELS`` is ignored).

        Reading a thread's choice renews it for another session TTL, as a save renews
        the session.
        """
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.getex(redis_keys.thread_model(key), ex=self.ttl)
            pipe.get(redis_keys.channel_model(redis_keys.channel_of(key)))
            thread, channel = await pipe.execute()
        for raw, source in ((thread, "thread"), (channel, "channel")):
            label = self.choices.label(raw.decode()) if raw else None
            if label is not None:
                return Chosen(self.choices.labels[label], label, source)  # type: ignore[arg-type]
        default = self.choices.default
        return Chosen(default, self.choices.label_of(default), "default")

    async def choose(self, key: str, label: str | None, *, channel: bool = False) -> None:
        """Set (``label``) or drop (None) the choice of session ``key``'s thread, or of its
        channel when ``channel``."""
        if channel:
            name = redis_keys.channel_model(redis_keys.channel_of(key))
            await (self.redis.set(name, label) if label else self.redis.delete(name))
        elif label:
            await self.redis.set(redis_keys.thread_model(key), label, ex=self.ttl)
        else:
            await self.redis.delete(redis_keys.thread_model(key))
