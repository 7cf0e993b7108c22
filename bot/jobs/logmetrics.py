"""Training metrics read out of an HF Job's log lines.

Three shapes are recognised on a line, whatever noise surrounds them:

* a JSON object: ``{"step": 10, "loss": 1.23, "lr": 3e-5}``;
* a Python dict repr, as the HF Trainer prints it:
  ``{'loss': 1.234, 'grad_norm': 0.5, 'learning_rate': 2e-05, 'epoch': 0.1}``
  (read with :func:`ast.literal_eval`, never ``eval``);
* ``key=value`` pairs (``step=10 loss=1.23 acc=0.91``), ``key: value`` pairs
  separated by spaces or commas (``loss: 1.23, acc: 0.91``), and
  ``step 3/100`` / ``Epoch 2/5`` / ``iter 100:`` counters;
* a known metric name (:data:`METRIC_NAMES`, perhaps after a split such as
  ``train`` or ``val``) and its value after a space, as nanoGPT
  (``iter 100: loss 2.3456, time 12.34ms, mfu 31.20%``) and llm.c
  (``step 1/74 | train loss 4.2 | lr 1.00e-05 | ...``) print them: the value
  (with a unit such as ``%`` or ``ms``) ends the line or comes before a
  separator or the next metric, so prose (``loss of 3 files``, ``loss 3 files``)
  gives nothing. ``val loss`` is read as ``val_loss``.

Only finite numbers are metrics (NaN and infinities are skipped). The x axis is
the first of :data:`X_KEYS` that most points carry (a line without it takes the
last value seen, so ``Epoch 2/5`` on its own line dates the metrics after it);
without one it is the order the metric lines appeared in (:data:`ORDER_X`).

Work is bounded: a line is read in at most :data:`MAX_SEGMENTS` progress-bar
segments of :data:`MAX_SEGMENT_CHARS` characters, at most ``max_lines`` (the
last ones) are read, at most :data:`MAX_SERIES` metrics are kept, and each
series is thinned as it grows, to ``max_points`` points in the end (the
first and the last always kept).
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

X_KEYS = ("step", "global_step", "epoch")
"""Keys that count progress rather than measure it, most preferred first."""
STEP_NAMES = {"iter": "step", "iteration": "step"}
"""Other names of a step (nanoGPT prints ``iter 100:`` and ``step 250:`` for one count)."""
METRIC_NAMES = (
    "loss", "lr", "learning_rate", "acc", "accuracy", "ppl", "perplexity", "grad_norm",
    "norm", "mfu", "time", "dt", "f1", "bleu", "wer", "reward", "kl", "entropy",
)  # fmt: skip
"""Metrics also read as ``name value`` (a space between, no ``=`` or ``:``)."""
SPLITS = ("train", "training", "val", "valid", "validation", "eval", "test")
"""Words before a metric name that name its data split: ``val loss`` is ``val_loss``."""
ORDER_X = "entry"
"""The x name when no line carries a progress key: metric lines counted from 1."""
IGNORED_KEYS = frozenset(
    {"timestamp", "ts", "pid", "port", "rank", "local_rank", "world_size", "seed"}
    | {"debug", "info", "warning", "warn", "error", "critical"}  # 'WARNING: 3 retries'
)
"""Numbers that logs print but that are not training metrics (compared in lower case)."""
MAX_POINTS = 500
MAX_LINES = 200_000
MAX_SERIES = 32
MAX_SEGMENTS = 8
"""Progress bars rewrite a line with ``\\r``: only its last segments are read."""
MAX_SEGMENT_CHARS = 4000
MAX_KEY_CHARS = 64
MAX_NESTING = 2
"""``{"eval": {"loss": 1}}`` gives ``eval/loss``; deeper dicts are not read."""

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf(?:inity)?)\b"
_PAIR = re.compile(
    r"(?<![\w./-])(?P<q>['\"]?)(?P<key>[A-Za-z_][\w./-]*)(?P=q)"
    r"(?:\s*=\s*|\s*:\s+)"  # 'loss=1.2', 'loss = 1.2', 'loss: 1.2' (not 'host:8080')
    rf"(?P<value>{_NUMBER})(?![\w.%/:])",
    re.IGNORECASE,
)
_COUNTERS = "|".join((*X_KEYS, *STEP_NAMES))
_COUNTER = re.compile(
    rf"(?<![\w./-])(?P<key>{_COUNTERS})\s*[=:]?\s*"
    r"(?P<value>\d+(?:\.\d+)?)\s*/\s*\d+(?![\w.])",
    re.IGNORECASE,
)
"""``step 3/100``, ``Epoch 2/5``: the first number is the x value."""
_BARE_COUNTER = re.compile(
    rf"^\W*(?P<key>{_COUNTERS})\s+(?P<value>\d+)(?![\w./])",
    re.IGNORECASE,
)
"""``step 12 loss=0.3`` / ``Epoch 3 ...`` / ``iter 100: ...`` at the start of a line."""
_SPLIT = "|".join(SPLITS)
_METRIC = "|".join(METRIC_NAMES)
_SPACED = re.compile(
    rf"(?<![\w./-])(?:(?P<split>{_SPLIT})[ _])?(?P<name>{_METRIC})\s+(?P<value>{_NUMBER})"
    r"(?:\s?(?:%|ms|s)(?!\w))?(?:\s*\([^()]*\))?"  # '31.20%', '12.34ms', '4.2 (+nanz)'
    rf"(?=\s*(?:[,;|)\]]|$)|\s+(?:(?:{_SPLIT})[ _])?(?:{_METRIC}|{_COUNTERS})\b)",
    re.IGNORECASE,
)
"""``loss 2.3456,`` / ``train loss 4.2 |`` / ``loss 2.3 acc 0.9``: a known metric, its value,
then a separator, the line's end or the next metric."""
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class Metrics:
    """Metric series read from a log: ``series[name]`` is ``[(x, value), ...]`` in log order."""

    x_name: str
    series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    lines_read: int = 0

    def __bool__(self) -> bool:
        return any(self.series.values())

    @property
    def names(self) -> list[str]:
        return [name for name, points in self.series.items() if points]

    def latest(self) -> dict[str, float]:
        """The last value of each metric."""
        return {name: points[-1][1] for name, points in self.series.items() if points}


def parse_metrics(
    lines: Iterable[str] | str,
    *,
    max_points: int = MAX_POINTS,
    max_lines: int = MAX_LINES,
) -> Metrics:
    """The metrics in ``lines`` (a log's lines, or its whole text)."""
    if max_points < 2:
        raise ValueError("max_points must be at least 2")
    collector = _Collector(max_points)
    read = 0
    for line in _last(lines, max_lines):
        read += 1
        for record in parse_line(line):
            collector.add(record)
    return collector.metrics(read)


def parse_line(line: str) -> Iterator[dict[str, float]]:
    """The numeric ``key -> value`` records on one log line (one per progress-bar segment)."""
    segments = line.rsplit("\r", MAX_SEGMENTS)[-MAX_SEGMENTS:]
    for segment in segments:
        text = _ANSI.sub("", segment[:MAX_SEGMENT_CHARS]).strip()
        if text:
            record = parse_segment(text)
            if record:
                yield record


def parse_segment(text: str) -> dict[str, float]:
    """The numbers of one line of text without ``\\r``: a dict or JSON object, else pairs."""
    start, end = text.find("{"), text.rfind("}")
    mapping = _mapping(text[start : end + 1]) if 0 <= start < end else None
    if mapping is None:
        record = _pairs(text)
    else:
        record = _pairs(text[:start])
        _flatten(mapping, "", record, 1)
    return {key: value for key, value in record.items() if key.lower() not in IGNORED_KEYS}


def _last(lines: Iterable[str] | str, count: int) -> Iterable[str]:
    if isinstance(lines, str):
        lines = lines.split("\n")
    if isinstance(lines, Sequence):
        return lines[-count:] if len(lines) > count else lines
    return deque(lines, maxlen=count)


def _mapping(text: str) -> Mapping[str, Any] | None:
    """``text`` read as a JSON object or a Python dict literal; None if it is neither."""
    try:
        value = json.loads(text)
    except RecursionError:  # nested too deep for json: for the parser too
        return None
    except ValueError:
        try:
            value = ast.literal_eval(text)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return None
    return value if isinstance(value, dict) else None


def _flatten(mapping: Mapping[Any, Any], prefix: str, into: dict[str, float], depth: int) -> None:
    for key, value in mapping.items():
        if not isinstance(key, str) or not key or len(key) > MAX_KEY_CHARS:
            continue
        name = f"{prefix}{key}"
        if not prefix:
            name = _progress_key(name)
        if isinstance(value, dict):
            if depth < MAX_NESTING:
                _flatten(value, f"{name}/", into, depth + 1)
            continue
        number = _number(value)
        if number is not None:
            into[name] = number


def _pairs(text: str) -> dict[str, float]:
    record: dict[str, float] = {}
    if _DIGIT.search(text) is None:
        return record
    for pattern in (_BARE_COUNTER, _COUNTER):
        for match in pattern.finditer(text):
            record[_progress_key(match["key"])] = float(match["value"])
    for match in _SPACED.finditer(text):
        number = _number(match["value"])
        if number is not None:
            name = match["name"].lower()
            record[f"{match['split'].lower()}_{name}" if match["split"] else name] = number
    for match in _PAIR.finditer(text):
        key = match["key"]
        if len(key) <= MAX_KEY_CHARS:
            number = _number(match["value"])
            if number is not None:
                record[_progress_key(key)] = number
    return record


def _progress_key(key: str) -> str:
    """``key`` as :data:`X_KEYS` spells it if it counts progress (``Iter`` is ``step``)."""
    lower = key.lower()
    return STEP_NAMES.get(lower, lower) if lower in X_KEYS or lower in STEP_NAMES else key


def _number(value: Any) -> float | None:
    """A finite float from an int, float or numeric string; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


class _Collector:
    """Series built a record at a time, in bounded memory."""

    def __init__(self, max_points: int) -> None:
        self.max_points = max_points
        self.entries = 0
        self.current: dict[str, float] = {}
        """The last value seen of each progress key."""
        self.series: dict[str, _Series] = {}

    def add(self, record: dict[str, float]) -> None:
        for key in X_KEYS:
            if key in record:
                self.current[key] = record[key]
        values = [(name, value) for name, value in record.items() if name not in X_KEYS]
        if not values:
            return
        self.entries += 1
        xs = (float(self.entries), *(self.current.get(key, math.nan) for key in X_KEYS))
        for name, value in values:
            series = self.series.get(name)
            if series is None:
                if len(self.series) >= MAX_SERIES:
                    continue
                series = self.series[name] = _Series(self.max_points)
            series.add(xs, value)

    def metrics(self, lines_read: int) -> Metrics:
        kept = {name: series.points() for name, series in self.series.items()}
        total = sum(len(points) for points in kept.values())
        x_index, x_name = 0, ORDER_X
        for index, key in enumerate(X_KEYS, start=1):
            carried = sum(not math.isnan(xs[index]) for points in kept.values() for xs, _ in points)
            if total and carried * 2 >= total:
                x_index, x_name = index, key
                break
        series = {
            name: [(xs[x_index], value) for xs, value in points if not math.isnan(xs[x_index])]
            for name, points in kept.items()
        }
        return Metrics(x_name=x_name, series=series, lines_read=lines_read)


class _Series:
    """Every ``stride``-th point, the stride doubling whenever ``2 * cap`` are kept; and the last."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.kept: list[tuple[tuple[float, ...], float]] = []
        self.stride = 1
        self.seen = 0
        self.last: tuple[tuple[float, ...], float] | None = None

    def add(self, xs: tuple[float, ...], value: float) -> None:
        point = (xs, value)
        self.last = point
        if self.seen % self.stride == 0:
            self.kept.append(point)
            if len(self.kept) >= 2 * self.cap:
                self.kept = self.kept[::2]
                self.stride *= 2
        self.seen += 1

    def points(self) -> list[tuple[tuple[float, ...], float]]:
        points = list(self.kept)
        if self.last is not None and (not points or points[-1] is not self.last):
            points.append(self.last)
        if len(points) <= self.cap:
            return points
        step = (len(points) - 1) / (self.cap - 1)
        return [points[round(i * step)] for i in range(self.cap)]
