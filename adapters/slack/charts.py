"""A job's metrics as Slack draws them natively: ``data_visualization`` line charts and a
``data_table`` of the last values, within Slack's limits.

Slack takes at most 2 charts a message, 6 series a chart and 20 categories (points) a
series, with titles and axis labels of at most 50 characters and category labels of at
most 20; past them it answers ``invalid_blocks``. Long series are downsampled evenly
(first and last point kept). Losses go in one chart and the other metrics in the
second, as their scales differ; each series takes the x values of its chart's longest
one (the last value at or before each).
"""

from __future__ import annotations

from typing import Any

from bot.jobs.logmetrics import Metrics

MAX_CHARTS = 2
MAX_SERIES = 6
MAX_POINTS = 20
LABEL_CHARS = 20
TITLE_CHARS = 50
MAX_ROWS = 100
"""Rows of a ``data_table`` besides its header."""

Points = list[tuple[float, float]]


def downsample(points: Points, most: int = MAX_POINTS) -> Points:
    """At most ``most`` of ``points``, evenly spread, the first and last kept."""
    if len(points) <= most:
        return list(points)
    step = (len(points) - 1) / (most - 1)
    return [points[round(i * step)] for i in range(most)]


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def number(value: float) -> str:
    return f"{value:.4g}"


def line_chart(title: str, metrics: Metrics, names: list[str]) -> dict[str, Any]:
    """One ``data_visualization`` line chart of the series ``names`` (≤ 6)."""
    names = names[:MAX_SERIES]
    longest = max(names, key=lambda name: len(metrics.series[name]))
    xs = [x for x, _ in downsample(metrics.series[longest])]
    labels = [clip(f"{metrics.x_name} {number(x)}", LABEL_CHARS) for x in xs]
    series = []
    for name in names:
        points = metrics.series[name]
        data = []
        for x, label in zip(xs, labels, strict=True):
            before = [value for at, value in points if at <= x]
            if before:
                data.append({"label": label, "value": before[-1]})
        series.append({"name": clip(name, LABEL_CHARS), "data": data})
    return {
        "type": "data_visualization",
        "title": clip(title, TITLE_CHARS),
        "chart": {
            "type": "line",
            "series": series,
            "axis_config": {
                "categories": labels,
                "x_label": clip(metrics.x_name, TITLE_CHARS),
                "y_label": clip(", ".join(names), TITLE_CHARS),
            },
        },
    }


def last_values(metrics: Metrics) -> dict[str, Any]:
    """A ``data_table`` of each metric's last value."""
    header = [{"type": "raw_text", "text": "metric"}, {"type": "raw_text", "text": "last"}]
    rows = [
        [{"type": "raw_text", "text": name}, {"type": "raw_text", "text": number(value)}]
        for name, value in list(metrics.latest().items())[:MAX_ROWS]
    ]
    return {"type": "data_table", "caption": "Last values", "rows": [header, *rows]}


def metric_blocks(metrics: Metrics) -> list[dict[str, Any]]:
    """The charts (losses, then the rest) of the metrics with two points or more, and the
    table of last values; none without metrics."""
    if not metrics:
        return []
    drawn = [name for name in metrics.names if len(metrics.series[name]) > 1]
    losses = [name for name in drawn if "loss" in name.lower()]
    others = [name for name in drawn if name not in losses]
    groups = [(f"Loss by {metrics.x_name}", losses), (f"Metrics by {metrics.x_name}", others)]
    charts = [line_chart(title, metrics, names) for title, names in groups if names]
    return [*charts[:MAX_CHARTS], last_values(metrics)]
