"""``hf_inspect_dataset``: a dataset as the dataset viewer API (datasets-server) reports it.

Valid or not (``/is-valid``), configs and splits with rows and sizes (``/splits``,
``/size``), features with types (``/info``), a few sample rows with long cells cut
(``/first-rows``), the parquet files (``/parquet``), and the TRL training format
the columns show. A part the viewer cannot give is reported, the rest still shown.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from agent.tools.dataset_formats import cut_cell, feature_type, training_format
from agent.tools.http import HttpClient, HttpError
from agent.tools.hub_common import human_size, int_arg, optional_text, text_arg
from agent.tools.registry import Tool, ToolContext, ToolError

MAX_PARQUET_FILES = 10
MAX_SPLITS = 30


class InspectDatasetTool:
    """Reads the dataset viewer API at ``viewer_url`` (``DATASETS_SERVER_URL``)."""

    def __init__(self, http: HttpClient, viewer_url: str) -> None:
        self.http = http
        self.viewer_url = viewer_url.rstrip("/")

    async def _get(self, route: str, **params: str) -> dict[str, Any]:
        found = await self.http.get_json(f"{self.viewer_url}/{route}", params=params)
        if not isinstance(found, dict):
            raise ToolError(f"the viewer's /{route} answer is not an object")
        return found

    async def inspect(self, args: dict[str, Any], ctx: ToolContext) -> str:
        dataset = text_arg(args, "dataset")
        try:
            valid = await self._get("is-valid", dataset=dataset)
        except HttpError as exc:
            if exc.status in (401, 403, 404):
                raise ToolError(
                    f"Dataset {dataset!r} not found ({exc.status}), or private or gated and the "
                    "bot's token cannot read it. Check the id (org/name) with hf_search."
                ) from None
            raise
        if not any(valid.get(k) for k in ("viewer", "preview")):
            return (
                f"{dataset}: the dataset viewer cannot read it (not valid for viewer or preview). "
                "It may be private, gated, script-based or still being processed; read its "
                "files with hf_repo_files."
            )
        splits_answer, size_answer = await asyncio.gather(
            self._get("splits", dataset=dataset), _attempt(self._get("size", dataset=dataset))
        )
        splits = [s for s in splits_answer.get("splits", []) if isinstance(s, dict)]
        if not splits:
            raise ToolError(f"The viewer reports no splits for {dataset}.")
        config = optional_text(args, "config") or splits[0]["config"]
        names = [s["split"] for s in splits if s.get("config") == config]
        if not names:
            configs = sorted({s["config"] for s in splits})
            raise ToolError(f"No config {config!r} in {dataset}. Configs: {', '.join(configs)}.")
        split = optional_text(args, "split") or names[0]
        info, rows, parquet = await asyncio.gather(
            _attempt(self._get("info", dataset=dataset, config=config)),
            _attempt(self._get("first-rows", dataset=dataset, config=config, split=split)),
            _attempt(self._get("parquet", dataset=dataset)),
        )
        features = _features(info, rows)
        # the format first: what the thread's tool line shows of the check
        fit = f" — training format: {training_format(features)}" if features else ""
        lines = [
            f"{dataset}{fit}",
            f"viewer: yes, search: {'yes' if valid.get('search') else 'no'}",
        ]
        lines += _splits(splits[:MAX_SPLITS], size_answer)
        if len(splits) > MAX_SPLITS:
            lines.append(f"  … and {len(splits) - MAX_SPLITS} more (ask for one with config)")
        lines.append(f"\nfeatures of {config}:")
        lines += [f"  {name}: {feature_type(kind)}" for name, kind in features.items()] or [
            f"  unavailable ({_reason(info)})"
        ]
        lines.append(f"\nfirst rows of {config}/{split}:")
        lines += _rows(rows, int_arg(args, "rows", 3, 10))
        lines.append("\nparquet files:")
        lines += _parquet(parquet)
        return "\n".join(lines)

    def tool(self) -> Tool:
        return Tool(
            name="hf_inspect_dataset",
            description=(
                "Check a Hub dataset before training on it: whether the viewer can read it, "
                "configs and splits with row counts and sizes, features and their types, a few "
                "sample rows, its parquet files, and the training format the columns show "
                "(chat messages, prompt/completion, chosen/rejected, text) with the TRL "
                "trainer that takes it."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "dataset": {
                        "type": "string",
                        "description": "The dataset id, e.g. 'org/name'.",
                    },
                    "config": {"type": "string", "description": "Config (default: the first)."},
                    "split": {"type": "string", "description": "Split for sample rows."},
                    "rows": {"type": "integer", "minimum": 1, "maximum": 10},
                },
                "required": ["dataset"],
            },
            handler=self.inspect,
            read_only=True,
        )


async def _attempt(call: Any) -> dict[str, Any] | ToolError:
    """The answer, or the ToolError saying why not (one missing part spoils nothing else)."""
    try:
        return await call
    except ToolError as exc:
        return exc


def _reason(answer: dict[str, Any] | ToolError) -> str:
    return str(answer) if isinstance(answer, ToolError) else "not reported"


def _splits(splits: list[dict[str, Any]], size: dict[str, Any] | ToolError) -> list[str]:
    sizes = {}
    if isinstance(size, dict):
        for entry in size.get("size", {}).get("splits", []):
            sizes[(entry.get("config"), entry.get("split"))] = entry
    lines = ["configs and splits:"]
    for s in splits:
        entry = sizes.get((s["config"], s["split"]))
        facts = ""
        if entry:
            rows = entry.get("num_rows")
            parquet = entry.get("num_bytes_parquet_files")
            facts = f": {rows:,} rows" if isinstance(rows, int) else ""
            facts += f", {human_size(parquet)} parquet" if isinstance(parquet, int) else ""
        lines.append(f"  {s['config']}/{s['split']}{facts}")
    if isinstance(size, ToolError):
        lines.append(f"  (sizes unavailable: {size})")
    return lines


def _features(info: dict[str, Any] | ToolError, rows: dict[str, Any] | ToolError) -> dict[str, Any]:
    """Column → datasets feature, from /info, else from /first-rows."""
    if isinstance(info, dict):
        features = info.get("dataset_info", {}).get("features")
        if isinstance(features, dict) and features:
            return features
    if isinstance(rows, dict):
        return {f["name"]: f.get("type") for f in rows.get("features", []) if "name" in f}
    return {}


def _rows(rows: dict[str, Any] | ToolError, count: int) -> list[str]:
    if isinstance(rows, ToolError):
        return [f"  unavailable ({rows})"]
    shown = [
        "  " + json.dumps({k: cut_cell(v) for k, v in r.get("row", {}).items()}, ensure_ascii=False)
        for r in rows.get("rows", [])[:count]
    ]
    return shown or ["  (no rows)"]


def _parquet(parquet: dict[str, Any] | ToolError) -> list[str]:
    if isinstance(parquet, ToolError):
        return [f"  unavailable ({parquet})"]
    files = parquet.get("parquet_files", [])
    lines = [
        f"  {f.get('config')}/{f.get('split')}: {f.get('url')} ({human_size(f.get('size') or 0)})"
        for f in files[:MAX_PARQUET_FILES]
    ]
    if len(files) > MAX_PARQUET_FILES:
        lines.append(f"  … and {len(files) - MAX_PARQUET_FILES} more")
    return lines or ["  none"]
