"""``find_hf_api``: the Hub's HTTP endpoints from its OpenAPI spec, with a curl example each."""

from __future__ import annotations

import json
import re
from typing import Any

from agent.tools.http import HttpClient
from agent.tools.hub_common import int_arg, text_arg
from agent.tools.registry import Tool, ToolContext

SPEC_PATH = "/.well-known/openapi.json"
SPEC_TTL = 86_400.0
METHODS = ("get", "post", "put", "patch", "delete")
MAX_DESCRIPTION = 400
WORD = re.compile(r"[a-z0-9]+")


class HubApiSpec:
    """Searches the OpenAPI spec served by ``hub_url`` (cached a day)."""

    def __init__(self, http: HttpClient, hub_url: str) -> None:
        self.http = http
        self.hub_url = hub_url.rstrip("/")

    async def find(self, args: dict[str, Any], ctx: ToolContext) -> str:
        query = text_arg(args, "query")
        spec = await self.http.get_json(self.hub_url + SPEC_PATH, cache_ttl=SPEC_TTL)
        words = set(WORD.findall(query.lower()))
        scored = [
            (score, path, method, op)
            for path, method, op in _operations(spec)
            if (score := _score(words, path, method, op)) > 0
        ]
        scored.sort(key=lambda item: -item[0])
        found = scored[: int_arg(args, "limit", 5, 15)]
        if not found:
            return f"No Hub API endpoint matches {query!r}. Try other words (e.g. 'repo files')."
        return "\n\n".join(self._describe(spec, path, method, op) for _, path, method, op in found)

    def _describe(self, spec: dict[str, Any], path: str, method: str, op: dict[str, Any]) -> str:
        lines = [f"{method.upper()} {path}" + (f" — {op['summary']}" if op.get("summary") else "")]
        description = " ".join(str(op.get("description") or "").split())
        if description:
            lines.append(description[:MAX_DESCRIPTION])
        params = [_resolve(spec, p) for p in op.get("parameters", [])]
        for param in params:
            schema = _resolve(spec, param.get("schema") or {})
            required = ", required" if param.get("required") else ""
            doc = " ".join(str(param.get("description") or "").split())[:150]
            lines.append(
                f"  - {param.get('name')} ({param.get('in')}, {schema.get('type', '?')}{required})"
                + (f": {doc}" if doc else "")
            )
        body = _body_schema(spec, op)
        for name, prop in (body.get("properties") or {}).items():
            required = ", required" if name in body.get("required", []) else ""
            lines.append(f"  - {name} (body, {_resolve(spec, prop).get('type', '?')}{required})")
        lines.append(self._curl(path, method, params, body))
        return "\n".join(lines)

    def _curl(
        self, path: str, method: str, params: list[dict[str, Any]], body: dict[str, Any]
    ) -> str:
        query = "&".join(
            f"{p['name']}=..." for p in params if p.get("in") == "query" and p.get("required")
        )
        url = self.hub_url + path + (f"?{query}" if query else "")
        parts = []
        if method != "get":
            parts.append(f"-X {method.upper()}")
        parts.append('-H "Authorization: Bearer $HF_TOKEN"')
        fields = body.get("required") or list(body.get("properties") or {})[:3]
        if fields:
            example = json.dumps({name: "..." for name in fields})
            parts.append(f"-H 'Content-Type: application/json' -d '{example}'")
        parts.append(f'"{url}"')
        return "  example: curl " + " ".join(parts)

    def tool(self) -> Tool:
        return Tool(
            name="find_hf_api",
            description=(
                "Find Hugging Face Hub HTTP API endpoints (from the Hub's OpenAPI spec) matching "
                "a query: method, path, parameters and a curl example. For what no other tool does."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "e.g. 'list repo commits'."},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 15},
                },
                "required": ["query"],
            },
            handler=self.find,
            read_only=True,
        )


def _operations(spec: Any) -> list[tuple[str, str, dict[str, Any]]]:
    paths = spec.get("paths") if isinstance(spec, dict) else None
    if not isinstance(paths, dict):
        return []
    return [
        (path, method, op)
        for path, item in paths.items()
        if isinstance(item, dict)
        for method, op in item.items()
        if method in METHODS and isinstance(op, dict)
    ]


def _score(words: set[str], path: str, method: str, op: dict[str, Any]) -> float:
    """Query words found in the path and summary count most, in the description least."""
    fields = (
        (3.0, f"{path} {method} {op.get('operationId', '')}"),
        (2.0, f"{op.get('summary', '')} {' '.join(map(str, op.get('tags', [])))}"),
        (0.5, str(op.get("description", ""))),
    )
    score = 0.0
    for weight, text in fields:
        found = set(WORD.findall(text.lower()))
        score += weight * sum(1 for word in words if word in found or f"{word}s" in found)
    return score


def _resolve(spec: dict[str, Any], item: Any) -> dict[str, Any]:
    """``item`` with a local ``$ref`` (``#/components/...``) followed, a few levels deep."""
    for _ in range(5):
        if not isinstance(item, dict) or "$ref" not in item:
            break
        target: Any = spec
        for part in str(item["$ref"]).lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        item = target
    return item if isinstance(item, dict) else {}


def _body_schema(spec: dict[str, Any], op: dict[str, Any]) -> dict[str, Any]:
    body = _resolve(spec, op.get("requestBody") or {})
    content = body.get("content") or {}
    media = content.get("application/json") or next(iter(content.values()), {})
    return _resolve(spec, media.get("schema") or {})
