"""The terminal's share of the logs: warnings and errors, each shown once, between turns.

In the console every log record goes to ``DATA_DIR/bot.log`` (:func:`bot.telemetry.logs.to_file`);
:class:`ScreenLog` also takes the warnings and errors and holds them until the front end
is about to prompt, so a line of log never lands inside a streamed reply. A message is
shown once per run, and not at all when the screen already said it in other words (the
model-credential problem printed at start is not repeated when a turn logs it).
"""

from __future__ import annotations

import logging
import threading

from bot.output.redact import redact

ICONS = {logging.WARNING: "⚠️", logging.ERROR: "❌", logging.CRITICAL: "❌"}
MAX_HELD = 20
"""Lines shown at one prompt at the most; the rest are only counted (all are in the log)."""
MAX_SHOWN = 1000
"""Messages remembered as shown (the oldest forgotten first): a long run stays bounded."""


class ScreenLog(logging.Handler):
    """A log handler for the screen: :meth:`take` the lines to print before a prompt."""

    def __init__(self, level: int = logging.WARNING) -> None:
        super().__init__(level)
        self._held: list[str] = []
        self._more = 0  # lines past MAX_HELD since the last prompt
        self._shown: dict[str, None] = {}  # the messages shown, oldest first
        self._said: list[str] = []  # what the console printed itself, which logs may quote
        self._taking = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = redact(record.getMessage())
        except Exception:
            self.handleError(record)
            return
        icon = ICONS.get(record.levelno, ICONS[logging.ERROR])
        with self._taking:
            if message in self._shown or any(said in message for said in self._said):
                return
            self._shown[message] = None
            if len(self._shown) > MAX_SHOWN:
                del self._shown[next(iter(self._shown))]
            if len(self._held) < MAX_HELD:
                self._held.append(f"{icon} {message}")
            else:
                self._more += 1

    def said(self, text: str) -> None:
        """``text`` is on the screen already: a record quoting it is not shown."""
        if text:
            with self._taking:
                self._said.append(text)

    def take(self) -> list[str]:
        """The lines held since the last call, in the order they were logged."""
        with self._taking:
            held, self._held, more, self._more = self._held, [], self._more, 0
        return [*held, f"… and {more} more in the log"] if more else held
