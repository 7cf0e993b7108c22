"""bot/'s floors: every import points down (type-only and in-function imports included).

:data:`FLOORS` is the one list of ``bot/``'s floors, from the bottom up (ARCHITECTURE.md
draws it). A module may import modules on its own floor or below, never above, and no
import circle may form anywhere, within a floor either. Every import a module's source
names counts: at the top, under ``if TYPE_CHECKING:`` and inside functions.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[1] / "bot"

FLOORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "ground",
        (
            "bot.__init__",
            "bot.session_key",
            "bot.clock",
            "bot.output.messages",
            "bot.output.views",
            "bot.output.redact",
            "bot.approvals.actor",
            "bot.approvals.costs",
            "bot.approvals.rules",
            "bot.attachments",
            "bot.jobs.card",
            "bot.jobs.logmetrics",
        ),
    ),
    (
        "store",
        (
            "bot.store",
            "bot.approvals.audit",
            "bot.approvals.budget",
            "bot.turns.models",
            "bot.turns.limits",
            "bot.turns.feedback",
        ),
    ),
    ("settings", ("bot.settings",)),
    ("telemetry", ("bot.telemetry",)),
    ("surface", ("bot.platform",)),
    ("output", ("bot.output",)),
    ("approvals, jobs and sandboxes", ("bot.approvals", "bot.jobs", "bot.sandboxes")),
    ("turns", ("bot.turns",)),
    ("runtime", ("bot.runtime",)),
    ("platforms", ("bot.platforms",)),
    ("commands", ("bot.ops", "bot.cli", "bot.__main__")),
)
"""Bottom first: each floor's modules, named exactly or by their package. A module
belongs to the floor of its longest entry (``bot.output.messages`` is on the ground,
the rest of ``bot.output`` on its own floor). The root package is ``bot.__init__``."""


def module_name(path: Path) -> str:
    """``bot/store/sessions.py`` → ``bot.store.sessions``; a package's ``__init__`` is the
    package (``bot.store``), except the root's, ``bot.__init__``."""
    parts = list(path.relative_to(BOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 2:
        parts.pop()
    return ".".join(parts)


def package_of(path: Path) -> str:
    """The package a module's relative imports start from."""
    return ".".join(path.relative_to(BOT.parent).parent.parts)


def bot_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(BOT.rglob("*.py"))}


def imports_of(source: str, name: str, package: str, known: set[str]) -> set[str]:
    """The ``known`` modules ``source`` (module ``name`` in ``package``) imports, wherever
    the import sits.

    ``from bot.store import redis_keys`` imports ``bot.store.redis_keys`` when that is a
    module, else (a name defined in it) ``bot.store``.
    """
    here = package.split(".")
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                found.add(f"{module}.{alias.name}" if f"{module}.{alias.name}" in known else module)
    return (found & known) - {name}


def import_graph() -> dict[str, set[str]]:
    modules = bot_modules()
    known = set(modules)
    return {
        name: imports_of(path.read_text(), name, package_of(path), known)
        for name, path in modules.items()
    }


def floor_of(module: str) -> int:
    """The index in :data:`FLOORS` of ``module``'s floor (its longest matching entry)."""
    matches = [
        (len(entry), n)
        for n, (_, entries) in enumerate(FLOORS)
        for entry in entries
        if module == entry or module.startswith(entry + ".")
    ]
    if not matches:
        raise LookupError(f"{module} is on no floor: add it to FLOORS in {__name__}")
    return max(matches)[1]


def upward(graph: dict[str, set[str]]) -> list[str]:
    """Every import of a module on a higher floor than the importer, in words."""
    return [
        f"{module} ({FLOORS[floor_of(module)][0]}) imports {target} ({FLOORS[floor_of(target)][0]})"
        for module, targets in sorted(graph.items())
        for target in sorted(targets)
        if floor_of(target) > floor_of(module)
    ]


def circle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle of ``graph`` (its modules, in order), or none."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return []


# ── the checks themselves catch what they should ─────────────────────────────

KNOWN = {"bot.store", "bot.store.redis_keys", "bot.turns.runner", "bot.platform"}


def test_type_only_and_in_function_imports_count():
    source = (
        "from typing import TYPE_CHECKING\n"
        "from bot.store import redis_keys\n"
        "if TYPE_CHECKING:\n"
        "    from bot.turns.runner import TurnRunner\n"
        "def later():\n"
        "    import bot.platform\n"
    )
    found = imports_of(source, "bot.approvals.expiry", "bot.approvals", KNOWN)
    assert found == {"bot.store.redis_keys", "bot.turns.runner", "bot.platform"}


def test_relative_imports_and_names_of_a_package_resolve():
    source = "from . import redis_keys\nfrom ..store import THING\n"
    found = imports_of(source, "bot.store.sessions", "bot.store", KNOWN)
    assert found == {"bot.store.redis_keys", "bot.store"}


def test_an_upward_import_and_a_circle_are_found():
    graph = {"bot.platform": {"bot.turns.runner"}, "bot.turns.runner": {"bot.platform"}}
    assert upward(graph) == ["bot.platform (surface) imports bot.turns.runner (turns)"]
    assert set(circle(graph)) == {"bot.platform", "bot.turns.runner"}


def test_a_module_on_no_floor_is_named():
    with pytest.raises(LookupError, match="bot.nowhere is on no floor"):
        floor_of("bot.nowhere")


# ── bot/ as it is ────────────────────────────────────────────────────────────


def test_every_bot_module_is_on_a_floor():
    graph = import_graph()
    assert "bot.turns.runner" in graph and "bot.store.sessions" in graph["bot.turns.runner"]
    for module in graph:
        floor_of(module)


def test_every_import_in_bot_points_down():
    assert upward(import_graph()) == []


def test_bot_has_no_import_circle():
    assert circle(import_graph()) == []
