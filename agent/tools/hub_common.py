"""Shared pieces of the Hub tools: argument readers, schema fragments, dispatch, file reading."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Awaitable, Callable, Iterable, Mapping
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

from huggingface_hub import HfApi, constants
from huggingface_hub.hf_api import RepoFolder

from agent.tools.hub_errors import call_hub
from agent.tools.registry import ToolContext, ToolError, ToolHandler, ToolResult

T = TypeVar("T")

REPO_TYPES = ("model", "dataset", "space")
MAX_READ_BYTES = 200_000
"""Largest repo file the tools read into the conversation."""

Operation = Callable[[dict[str, Any], ToolContext], Awaitable["ToolResult | str"]]

# ── JSON-schema fragments ────────────────────────────────────────────────

REPO_ID = {
    "type": "string",
    "description": "Repository id 'namespace/name', e.g. 'my-org/my-model'.",
}
REPO_TYPE = {
    "type": "string",
    "enum": list(REPO_TYPES),
    "description": "Kind of repository. Default: model.",
}
REVISION = {
    "type": "string",
    "description": "Branch, tag, commit or 'refs/pr/N'. Default: main.",
}


def limit_schema(default: int, maximum: int) -> dict[str, Any]:
    return {
        "type": "integer",
        "minimum": 1,
        "maximum": maximum,
        "description": f"How many results to show (default {default}, at most {maximum}).",
    }


def operation_schema(operations: Mapping[str, Any], description: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(operations), "description": description}


# ── argument readers ─────────────────────────────────────────────────────


def text_arg(
    args: dict[str, Any], name: str, default: str | None = None, *, strip: bool = True
) -> str:
    """A non-blank string argument; required unless a default is given."""
    value = args.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if default is None:
            raise missing(args, name)
        return default
    if not isinstance(value, str):
        raise ToolError(f"'{name}' must be a string.")
    return value.strip() if strip else value


def optional_text(args: dict[str, Any], name: str) -> str | None:
    return text_arg(args, name, "") or None


def int_arg(args: dict[str, Any], name: str, default: int | None, maximum: int) -> int:
    """An integer argument clamped to ``1..maximum``; required when ``default`` is None."""
    value = args.get(name, default)
    if value is None:
        raise missing(args, name)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ToolError(f"'{name}' must be an integer.") from None
    return max(1, min(number, maximum))


def missing(args: dict[str, Any], name: str) -> ToolError:
    operation = args.get("operation")
    where = f" for operation '{operation}'" if operation else ""
    return ToolError(f"'{name}' is required{where}.")


def list_arg(args: dict[str, Any], name: str) -> list[str]:
    """A list of strings; absent means empty."""
    value = args.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ToolError(f"'{name}' must be a list of strings.")
    return value


def dict_arg(args: dict[str, Any], name: str) -> dict[str, str]:
    """An object of string values; absent means empty."""
    value = args.get(name) or {}
    if not isinstance(value, dict):
        raise ToolError(f"'{name}' must be an object of string values.")
    return {str(k): str(v) for k, v in value.items()}


def take(fn: Callable[..., Iterable[T]], limit: int, /, **kwargs: Any) -> list[T]:
    """The first ``limit`` items of a paginated ``HfApi`` listing (blocking)."""
    return list(islice(fn(**kwargs), limit))


def repo_type_arg(args: dict[str, Any]) -> str:
    repo_type = text_arg(args, "repo_type", "model")
    if repo_type not in REPO_TYPES:
        raise ToolError(f"repo_type must be one of {', '.join(REPO_TYPES)}, not {repo_type!r}.")
    return repo_type


# ── dispatch ─────────────────────────────────────────────────────────────


def dispatch(tool: str, operations: Mapping[str, Operation]) -> ToolHandler:
    """A handler that routes on ``args['operation']``."""

    async def handle(args: dict[str, Any], ctx: ToolContext) -> ToolResult | str:
        name = str(args.get("operation", "")).strip()
        operation = operations.get(name)
        if operation is None:
            known = ", ".join(repr(op) for op in operations)
            raise ToolError(f"{tool}: unknown operation {name!r}. Use one of: {known}.")
        return await operation(args, ctx)

    return handle


# ── repos ────────────────────────────────────────────────────────────────


def repo_url(api: HfApi, repo_id: str, repo_type: str = "model") -> str:
    prefix = constants.REPO_TYPES_URL_PREFIXES.get(repo_type, "")
    return f"{api.endpoint}/{prefix}{repo_id}"


def human_size(size: int) -> str:
    """``512 B``, ``1.5 KB``, ``2.0 MB``, ``3.1 GB`` (powers of 1000)."""
    exponent = min(int(math.log10(size)) // 3, 3) if size > 0 else 0
    if exponent == 0:
        return f"{size} B"
    return f"{size / 1000**exponent:.1f} {('KB', 'MB', 'GB')[exponent - 1]}"


async def read_repo_text(
    api: HfApi,
    repo_id: str,
    path: str,
    *,
    repo_type: str = "model",
    revision: str | None = None,
    max_bytes: int = MAX_READ_BYTES,
) -> str:
    """A text file of a repo, refused when missing, a folder, too large or binary."""
    where = f"{repo_type} '{repo_id}'" + (f" at {revision}" if revision else "")
    infos = await call_hub(
        api.get_paths_info, repo_id, [path], repo_type=repo_type, revision=revision
    )
    if not infos:
        raise ToolError(f"No file '{path}' in {where}. List files with hf_repo_files list.")
    if isinstance(infos[0], RepoFolder):
        raise ToolError(f"'{path}' is a folder in {where}; list it with hf_repo_files list.")
    if infos[0].size > max_bytes:
        raise ToolError(
            f"'{path}' is {human_size(infos[0].size)}, over the {human_size(max_bytes)} read limit. "
            "Inspect it inside a job instead."
        )
    data = await call_hub(
        _download_bytes, api, repo_id, path, repo_type=repo_type, revision=revision
    )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ToolError(f"'{path}' is a binary file ({human_size(len(data))}).") from None


def _download_bytes(
    api: HfApi, repo_id: str, path: str, *, repo_type: str, revision: str | None
) -> bytes:
    """Download one file into a throw-away cache and return its bytes."""
    with tempfile.TemporaryDirectory(prefix="mib-hub-") as cache:
        local = api.hf_hub_download(
            repo_id, path, repo_type=repo_type, revision=revision, cache_dir=cache
        )
        return Path(local).read_bytes()
