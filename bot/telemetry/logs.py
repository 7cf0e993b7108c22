"""Structured logs: every record carries the session key and turn id it belongs to, redacted."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from bot.output.redact import redact

SESSION: ContextVar[str] = ContextVar("session", default="-")
TURN: ContextVar[str] = ContextVar("turn", default="-")
LOG_FILE = "bot.log"
"""The console's log, in ``DATA_DIR``: the terminal is kept for the chat."""
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s session=%(session)s turn=%(turn)s: %(message)s"


@contextmanager
def log_context(session: str, turn: str) -> Iterator[None]:
    """Tag the records logged inside (and in tasks started inside) with a session and turn."""
    tokens = SESSION.set(session), TURN.set(turn)
    try:
        yield
    finally:
        SESSION.reset(tokens[0])
        TURN.reset(tokens[1])


class ContextFormatter(logging.Formatter):
    """Adds ``session`` and ``turn``; ``json=True`` writes one JSON object a line. Redacts."""

    def __init__(self, *, json_lines: bool = False) -> None:
        super().__init__(TEXT_FORMAT)
        self.json_lines = json_lines

    def format(self, record: logging.LogRecord) -> str:
        record.session, record.turn = SESSION.get(), TURN.get()
        if not self.json_lines:
            return redact(super().format(record))
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "session": record.session,
            "turn": record.turn,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, ensure_ascii=False))


def install(log_format: str = "text") -> None:
    """Use :class:`ContextFormatter` on the root logger's handlers."""
    for handler in logging.getLogger().handlers:
        handler.setFormatter(ContextFormatter(json_lines=log_format == "json"))


def to_file(path: Path) -> None:
    """Write the root logger's records to ``path`` instead of the terminal (appended;
    ``LOG_LEVEL`` still applies, :func:`install` formats them as ``LOG_FORMAT`` says)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if type(h) is logging.StreamHandler]:
        root.removeHandler(handler)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(ContextFormatter())
    root.addHandler(handler)
