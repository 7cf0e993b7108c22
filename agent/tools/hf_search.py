"""``hf_search``: find models, datasets, Spaces and papers; inspect a dataset; read a model card."""

from __future__ import annotations

import json
from typing import Any

from huggingface_hub import HfApi, constants
from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

from agent.tools.hub_common import (
    REPO_ID,
    dispatch,
    int_arg,
    limit_schema,
    operation_schema,
    optional_text,
    read_repo_text,
    repo_url,
    take,
    text_arg,
)
from agent.tools.hub_errors import call_hub
from agent.tools.registry import Tool, ToolContext, ToolError, truncate

SORTS = ("downloads", "likes", "trending_score", "created_at", "last_modified")
MAX_CARD_CHARS = 12_000
MAX_CELL_CHARS = 300
VIEWER_TIMEOUT = 15.0


PUBLIC_HUB = "https://huggingface.co"


def default_viewer_endpoint(api: HfApi) -> str | None:
    """The public dataset viewer for the public Hub; none for any other endpoint."""
    return constants.DATASETS_SERVER_ENDPOINT if api.endpoint == PUBLIC_HUB else None


def compact(number: int | None) -> str:
    if number is None:
        return "?"
    for unit, size in (("B", 10**9), ("M", 10**6), ("k", 10**3)):
        if number >= size:
            return f"{number / size:.1f}{unit}"
    return str(number)


def repo_line(info: Any, *extra: str | None) -> str:
    """``id · extras · ↓downloads ♥likes`` for a model, dataset or Space."""
    details = [part for part in extra if part]
    stats = f"♥{compact(info.likes)}"
    if getattr(info, "downloads", None) is not None:
        stats = f"↓{compact(info.downloads)} {stats}"
    return " · ".join([info.id, *details, stats])


class SearchTool:
    """Hub search and reading; the dataset viewer lives at ``viewer_endpoint`` (optional)."""

    def __init__(self, api: HfApi, viewer_endpoint: str | None) -> None:
        self.api = api
        self.viewer_endpoint = viewer_endpoint.rstrip("/") if viewer_endpoint else None
        self.operations = {
            "models": self._models,
            "datasets": self._datasets,
            "spaces": self._spaces,
            "papers": self._papers,
            "dataset_info": self._dataset_info,
            "model_card": self._model_card,
        }

    # ── listings ─────────────────────────────────────────────────────────

    def _listing(self, args: dict[str, Any]) -> dict[str, Any]:
        sort = optional_text(args, "sort") or "downloads"
        if sort not in SORTS:
            raise ToolError(f"sort must be one of {', '.join(SORTS)}.")
        return {
            "search": optional_text(args, "query"),
            "author": optional_text(args, "author"),
            "sort": sort,
        }

    async def _models(self, args: dict[str, Any], ctx: ToolContext) -> str:
        models = await call_hub(
            take,
            self.api.list_models,
            int_arg(args, "limit", 10, 50),
            pipeline_tag=optional_text(args, "task"),
            filter=optional_text(args, "library"),
            **self._listing(args),
        )
        lines = [repo_line(m, m.pipeline_tag, m.library_name) for m in models]
        return "\n".join(lines) or "No models match."

    async def _datasets(self, args: dict[str, Any], ctx: ToolContext) -> str:
        datasets = await call_hub(
            take,
            self.api.list_datasets,
            int_arg(args, "limit", 10, 50),
            task_categories=optional_text(args, "task"),
            **self._listing(args),
        )
        lines = [
            repo_line(d, _tag(d.tags, "task_categories"), _tag(d.tags, "size_categories"))
            for d in datasets
        ]
        return "\n".join(lines) or "No datasets match."

    async def _spaces(self, args: dict[str, Any], ctx: ToolContext) -> str:
        listing = self._listing(args)
        if listing["sort"] == "downloads":
            listing["sort"] = "likes"  # Spaces have no downloads
        spaces = await call_hub(
            take, self.api.list_spaces, int_arg(args, "limit", 10, 50), **listing
        )
        lines = [repo_line(s, s.sdk) for s in spaces]
        return "\n".join(lines) or "No Spaces match."

    async def _papers(self, args: dict[str, Any], ctx: ToolContext) -> str:
        limit = int_arg(args, "limit", 10, 50)
        papers = await call_hub(
            take, self.api.list_papers, limit, query=text_arg(args, "query"), limit=limit
        )
        lines = [
            f"{p.id} · {p.title} · ▲{p.upvotes or 0} · {self.api.endpoint}/papers/{p.id}"
            for p in papers
        ]
        return "\n".join(lines) or "No papers match."

    # ── reading ──────────────────────────────────────────────────────────

    async def _model_card(self, args: dict[str, Any], ctx: ToolContext) -> str:
        repo_id = text_arg(args, "repo_id")
        info = await call_hub(self.api.model_info, repo_id)
        card = info.card_data or {}
        summary = repo_line(
            info,
            info.pipeline_tag,
            info.library_name,
            f"license: {card.get('license')}" if card.get("license") else None,
            f"gated: {info.gated}" if info.gated else None,
        )
        try:
            text = await read_repo_text(self.api, repo_id, "README.md")
        except ToolError as exc:
            text = f"(no model card: {exc})"
        return f"{summary}\n{repo_url(self.api, repo_id)}\n\n{truncate(text, MAX_CARD_CHARS)}"

    async def _dataset_info(self, args: dict[str, Any], ctx: ToolContext) -> str:
        repo_id = text_arg(args, "repo_id")
        info = await call_hub(self.api.dataset_info, repo_id)
        files = [s.rfilename for s in info.siblings or []]
        lines = [
            repo_line(info, f"gated: {info.gated}" if info.gated else None),
            repo_url(self.api, repo_id, "dataset"),
            f"tags: {', '.join(info.tags[:15])}" if info.tags else "",
            f"files ({len(files)}): {', '.join(files[:15])}" + (" ..." if len(files) > 15 else ""),
        ]
        try:
            lines.append(await self._viewer(repo_id, args))
        except ToolError as exc:
            lines.append(f"Dataset viewer unavailable ({exc}); read the files with hf_repo_files.")
        return "\n".join(line for line in lines if line)

    async def _viewer(self, repo_id: str, args: dict[str, Any]) -> str:
        """Splits, features and first rows from the dataset viewer API."""
        if self.viewer_endpoint is None:
            raise ToolError("no viewer endpoint configured")
        splits = (await self._viewer_get("splits", dataset=repo_id)).get("splits", [])
        if not splits:
            raise ToolError("no splits reported")
        config = optional_text(args, "config") or splits[0]["config"]
        names = [s["split"] for s in splits if s["config"] == config]
        split = optional_text(args, "split") or (names[0] if names else "train")
        rows = await self._viewer_get("first-rows", dataset=repo_id, config=config, split=split)
        features = ", ".join(
            f"{f['name']}: {_feature_type(f.get('type'))}" for f in rows.get("features", [])
        )
        count = int_arg(args, "rows", 3, 20)
        shown = [
            json.dumps({k: _cell(v) for k, v in r["row"].items()}, ensure_ascii=False)
            for r in rows.get("rows", [])[:count]
        ]
        configs = sorted({s["config"] for s in splits})
        return "\n".join(
            [
                f"configs: {', '.join(configs)}",
                f"splits of {config}: {', '.join(names)}",
                f"features: {features}",
                f"first rows of {config}/{split}:",
                *shown,
            ]
        )

    async def _viewer_get(self, route: str, **params: str) -> dict[str, Any]:
        return await call_hub(self._viewer_request, route, params)

    def _viewer_request(self, route: str, params: dict[str, str]) -> dict[str, Any]:
        response = get_session().get(
            f"{self.viewer_endpoint}/{route}",
            params=params,
            headers=build_hf_headers(token=self.api.token),
            timeout=VIEWER_TIMEOUT,
        )
        hf_raise_for_status(response)
        return response.json()

    def tool(self) -> Tool:
        return Tool(
            name="hf_search",
            description=(
                "Search the Hugging Face Hub and read about what you find: models, datasets, "
                "spaces (filters: query, author, task, library; sort by downloads, likes, "
                "trending_score, created_at, last_modified), papers (query); dataset_info "
                "(splits, features and a few rows of a dataset); model_card (a model's summary "
                "and README). Check a dataset's format with dataset_info before training on it."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "operation": operation_schema(self.operations, "What to do."),
                    "query": {"type": "string", "description": "Search words."},
                    "author": {"type": "string", "description": "Only this user or org."},
                    "task": {
                        "type": "string",
                        "description": "models/datasets: task, e.g. text-generation.",
                    },
                    "library": {
                        "type": "string",
                        "description": "models: library, e.g. transformers, peft, gguf.",
                    },
                    "sort": {"type": "string", "enum": list(SORTS), "description": "Order."},
                    "limit": limit_schema(10, 50),
                    "repo_id": REPO_ID,
                    "config": {"type": "string", "description": "dataset_info: the config."},
                    "split": {"type": "string", "description": "dataset_info: the split."},
                    "rows": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 20,
                        "description": "dataset_info: rows to show (default 3).",
                    },
                },
                "required": ["operation"],
            },
            handler=dispatch("hf_search", self.operations),
            read_only=True,
        )


def _tag(tags: list[str] | None, prefix: str) -> str | None:
    values = [t.split(":", 1)[1] for t in tags or [] if t.startswith(f"{prefix}:")]
    return ", ".join(values) or None


def _feature_type(feature: Any) -> str:
    if isinstance(feature, dict):
        return str(feature.get("dtype") or feature.get("_type") or "?")
    if isinstance(feature, list):
        return f"list[{_feature_type(feature[0]) if feature else '?'}]"
    return "?"


def _cell(value: Any) -> Any:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) <= MAX_CELL_CHARS:
        return value
    return text[:MAX_CELL_CHARS] + "…"
