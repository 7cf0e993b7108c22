"""The platforms registry: every chat platform installed, as the command line wires it.

A :class:`Platform` is one adapter package as ``run``, ``worker`` and ``doctor`` see it:
is it configured, its front end, the surfaces a worker renders with, an auth check, an
install helper. :func:`platforms` finds every installed platform through the
``ml_intern_bot.platforms`` entry-point group (``pyproject.toml``), so ``bot/`` never
imports an adapter by name. It sits above :mod:`bot.runtime`, which a platform's front
end is built from; the thread-level contract it renders through is :mod:`bot.platform`.

Adding a platform is one package implementing :class:`Platform` (and a
:class:`~bot.platform.Surface`) plus one entry-point line; ARCHITECTURE.md lists the steps.
"""

from __future__ import annotations

import functools
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from aiohttp import web

    from bot.platform import SurfaceFactory
    from bot.runtime import Runtime
    from bot.settings import Settings

ENTRY_POINTS = "ml_intern_bot.platforms"


@runtime_checkable
class FrontEnd(Protocol):
    """A running chat front end: adds its HTTP routes, then runs until cancelled."""

    def mount(self, http: web.Application) -> None: ...
    async def run(self) -> None: ...


@runtime_checkable
class Platform(Protocol):
    """One chat platform, as ``run``, ``worker``, ``doctor``, ``manifest`` and ``invite`` use it.

    ``name`` is the first part of its session keys. ``install_command`` is the
    command-line verb that prints its install helper (``manifest`` for Slack's app
    manifest, ``invite`` for Discord's install URL), or None.
    """

    name: str
    install_command: str | None

    def configured(self, settings: Settings) -> bool:
        """Its credentials are set: ``run`` starts it."""
        ...

    def front_end(self, rt: Runtime) -> FrontEnd:
        """The front end that takes the platform's events (and registers its surfaces)."""
        ...

    async def worker_surfaces(self, rt: Runtime) -> SurfaceFactory | None:
        """For ``worker``: surfaces without an event listener; None when not configured."""
        ...

    async def check_auth(self, settings: Settings) -> str:
        """For ``doctor``: who the credentials log in as; raises when they are refused."""
        ...

    def install_text(self, settings: Settings) -> str:
        """What ``ml-intern-bot <install_command> <name>`` prints."""
        ...


@functools.cache
def platforms() -> dict[str, Platform]:
    """Every installed platform by name, from the ``ml_intern_bot.platforms`` entry points."""
    found: dict[str, Platform] = {}
    for entry in entry_points(group=ENTRY_POINTS):
        platform = entry.load()
        if not isinstance(platform, Platform):
            raise TypeError(f"entry point {entry.value} is not a Platform")
        found[platform.name] = platform
    return dict(sorted(found.items()))


def configured_platforms(settings: Settings) -> list[Platform]:
    """The platforms whose credentials are set (the console never is: it is the fallback)."""
    return [p for p in platforms().values() if p.configured(settings)]
