"""The terminal as a :class:`bot.platforms.Platform`: the fallback when no chat is configured."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapters.console.frontend import ConsoleFrontEnd
    from bot.runtime import Runtime
    from bot.settings import Settings


class Console:
    name = "console"
    install_command = None

    def configured(self, settings: Settings) -> bool:
        """Never started for credentials: ``run`` falls back to it when no chat is configured."""
        return False

    def front_end(self, rt: Runtime) -> ConsoleFrontEnd:
        from adapters.console.frontend import ConsoleFrontEnd
        from bot.telemetry.logs import LOG_FILE

        return ConsoleFrontEnd(rt.runner, out=sys.stdout, log_path=rt.settings.data_dir / LOG_FILE)

    async def worker_surfaces(self, rt: Runtime) -> None:
        """The terminal's turns run in its own process: workers render none."""
        return None

    async def check_auth(self, settings: Settings) -> str:
        return "the terminal needs no credentials"

    def install_text(self, settings: Settings) -> str:
        return ""


PLATFORM = Console()
