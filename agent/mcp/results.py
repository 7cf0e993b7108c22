"""An MCP tool result as the model reads it: text, with other content described."""

from __future__ import annotations

import base64
import json

from mcp import types

from agent.tools.registry import ToolResult


def _size(data: str) -> int:
    """Bytes of a base64 payload."""
    return len(base64.b64decode(data))


def render_block(block: types.ContentBlock) -> str:
    """One content block as text; images and audio are described, not inlined."""
    if isinstance(block, types.TextContent):
        return block.text
    if isinstance(block, types.ImageContent | types.AudioContent):
        return f"[{block.type} {block.mime_type}, {_size(block.data)} bytes: not shown]"
    if isinstance(block, types.ResourceLink):
        return f"[resource {block.name}: {block.uri}]"
    if isinstance(block, types.EmbeddedResource):
        resource = block.resource
        if isinstance(resource, types.TextResourceContents):
            return f"[resource {resource.uri}]\n{resource.text}"
        size = _size(resource.blob)
        return f"[resource {resource.uri} ({resource.mime_type or 'binary'}, {size} bytes)]"
    return f"[{getattr(block, 'type', 'unknown')} content]"


def render_result(result: types.CallToolResult) -> ToolResult:
    """The whole result; ``is_error`` makes a failed tool result (the size bound is the registry's)."""
    parts = [render_block(block) for block in result.content]
    if not parts and result.structured_content is not None:
        parts = [json.dumps(result.structured_content, ensure_ascii=False)]
    text = "\n".join(parts) or "(no output)"
    return ToolResult(f"ERROR: {text}" if result.is_error else text, not result.is_error)
