"""A PNG chart of a job's metrics: one small plot per metric, drawn off-screen.

matplotlib is imported only when a chart is drawn, and only its object API is
used (a :class:`~matplotlib.figure.Figure` on a
:class:`~matplotlib.backends.backend_agg.FigureCanvasAgg`): pyplot, its global
figure registry and the process-wide backend are never touched.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from bot.jobs.logmetrics import Metrics

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_PLOTS = 6
MARKERS_UP_TO = 60
"""Series with at most this many points show a marker on each."""
MAX_NOTE_CHARS = 160
DPI = 100


def plotted(metrics: Metrics, max_plots: int = MAX_PLOTS) -> tuple[list[str], list[str]]:
    """The metrics given a plot and those left out.

    Metrics with two points or more come first, each group in log order.
    """
    names = metrics.names
    ordered = [n for n in names if len(metrics.series[n]) > 1]
    ordered += [n for n in names if len(metrics.series[n]) <= 1]
    return ordered[:max_plots], ordered[max_plots:]


def build_figure(metrics: Metrics, title: str, *, max_plots: int = MAX_PLOTS) -> Figure:
    """The chart as a Figure (not yet drawn): ``title`` on top, a note naming what is left out."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    shown, left_out = plotted(metrics, max_plots)
    if not shown:
        raise ValueError("no metrics to plot")
    columns = 1 if len(shown) == 1 else 2
    rows = -(-len(shown) // columns)
    figure = Figure(figsize=(5.0 * columns, 2.8 * rows + 0.9), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle(title)
    axes = figure.subplots(rows, columns, squeeze=False).flatten()
    for ax, name in zip(axes, shown, strict=False):
        points = metrics.series[name]
        xs = [x for x, _ in points]
        ys = [y for _, y in points]
        marker = "o" if len(points) <= MARKERS_UP_TO else None
        ax.plot(xs, ys, marker=marker, markersize=3, linewidth=1.2)
        ax.set_title(f"{name}: {ys[-1]:.4g}", fontsize="medium")
        ax.set_xlabel(metrics.x_name)
        ax.set_ylabel(name)
        ax.grid(True, alpha=0.3)
    for ax in axes[len(shown) :]:
        ax.set_visible(False)
    if left_out:
        note = f"+{len(left_out)} more not shown: " + ", ".join(left_out)
        if len(note) > MAX_NOTE_CHARS:
            note = note[: MAX_NOTE_CHARS - 1] + "…"
        figure.supxlabel(note, fontsize="small", color="dimgray")
    return figure


def axis_labels(figure: Figure) -> list[tuple[str, str]]:
    """``(x label, y label)`` of each visible plot of ``figure``, in order."""
    return [(ax.get_xlabel(), ax.get_ylabel()) for ax in figure.axes if ax.get_visible()]


def figure_png(figure: Figure, description: str | None = None) -> bytes:
    """``figure`` drawn as PNG bytes (no software version in the metadata); ``description``
    goes in the PNG's Description text, for readers that can't see the picture."""
    buffer = io.BytesIO()
    metadata = {"Software": None, "Title": figure.get_suptitle() or None}
    if description:
        metadata["Description"] = description
    figure.savefig(buffer, format="png", metadata=metadata)
    return buffer.getvalue()


def render_chart(metrics: Metrics, title: str, *, max_plots: int = MAX_PLOTS) -> bytes:
    """A PNG of ``metrics``, one plot per metric (at most ``max_plots``), titled ``title``.

    Raises ValueError when there is nothing to plot: check ``bool(metrics)`` first.
    """
    return figure_png(build_figure(metrics, title, max_plots=max_plots))
