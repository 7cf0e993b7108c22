"""Writes a run's results: latest.json, a short Markdown table (latest.md) and latest.png."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.figure import Figure

MARK = {True: "✅ met", False: "❌ missed", None: "—"}


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value)
    return "n/a" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def markdown(figures: list[Figure], run: dict[str, Any]) -> str:
    machine = run["machine"]
    lines = [
        f"Run {run['started']} of `{run['code']}` ({run['scale']} scale, {run['seconds']:.0f} s) on "
        f"{machine['cpus']} × {machine['cpu_model']}, {machine['mem_total_mb']} MB; "
        f"load average before {machine['load_avg']}, after {run['load_avg_after']}.",
        "",
        "| # | figure | status | target | goal | measured | |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for number, fig in enumerate(figures, start=1):
        targets = fig.targets or [None]
        for i, target in enumerate(targets):
            row = [str(number), fig.title if i == 0 else "", fig.status if i == 0 else ""]
            row += (
                [target.what, target.goal, _value(target.value), MARK[target.met]]
                if target
                else ["(no target)", "", "", ""]
            )
            lines.append("| " + " | ".join(row) + " |")
    notes = [f"- {fig.title}: {note}" for fig in figures for note in fig.notes]
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def plot(figures: list[Figure], path: Path) -> str | None:
    """Edit times per thread (seconds after its first chunk); None if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install -e '.[bench]'): no plot"
    rows: list[tuple[str, list[float]]] = []
    for fig in figures:
        for group, threads in fig.results.get("plot", {}).items():
            rows += [(f"{group} #{i + 1}", edits) for i, edits in enumerate(threads)]
    if not rows:
        return "no edit timings to plot"
    height = max(3.0, 0.3 * len(rows))
    figure, axes = plt.subplots(figsize=(10, height))
    axes.eventplot([edits for _, edits in rows], lineoffsets=range(len(rows)), linelengths=0.7)
    axes.set_yticks(range(len(rows)), [label for label, _ in rows], fontsize=7)
    axes.invert_yaxis()
    axes.set_xlabel("seconds after the thread's first LLM chunk")
    axes.set_title("Message writes per thread (one tick per accepted edit)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return None


def write(figures: list[Figure], run: dict[str, Any], directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    if problem := plot(figures, directory / "latest.png"):
        run["notes"] = [*run.get("notes", []), problem]
    data = {"run": run, "figures": [asdict(f) for f in figures]}
    for fig in data["figures"]:
        fig["results"].pop("plot", None)  # the PNG has them
    (directory / "latest.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    (directory / "latest.md").write_text(markdown(figures, run))
