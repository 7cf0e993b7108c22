"""An MCP tool result as the model reads it (text, other content described), and the
images it carries as attachments for people."""

from __future__ import annotations

import base64
import json

from mcp import types

from agent.tools.registry import ToolResult

MAX_ATTACHMENT_BYTES = 8 * 2**20
"""Larger images are described only (chat platforms cap uploads around this size)."""
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}


def _size(data: str) -> int:
    """Bytes of a base64 payload."""
    return len(base64.b64decode(data))


def render_block(block: types.ContentBlock) -> str:
    """One content block as text; images and audio are described, not inlined."""
    if isinstance(block, types.TextContent):
        return block.text
    if isinstance(block, types.ImageContent):
        size = _size(block.data)
        shown = "attached for people" if size <= MAX_ATTACHMENT_BYTES else "too large to attach"
        return f"[image {block.mime_type}, {size} bytes: {shown}]"
    if isinstance(block, types.AudioContent):
        return f"[audio {block.mime_type}, {_size(block.data)} bytes: not shown]"
    if isinstance(block, types.ResourceLink):
        return f"[resource {block.name}: {block.uri}]"
    if isinstance(block, types.EmbeddedResource):
        resource = block.resource
        if isinstance(resource, types.TextResourceContents):
            return f"[resource {resource.uri}]\n{resource.text}"
        size = _size(resource.blob)
        return f"[resource {resource.uri} ({resource.mime_type or 'binary'}, {size} bytes)]"
    return f"[{getattr(block, 'type', 'unknown')} content]"


def attachments(result: types.CallToolResult) -> list[dict[str, str]]:
    """The result's images, as files to show people (not too large ones)."""
    images = [b for b in result.content if isinstance(b, types.ImageContent)]
    return [
        {
            "filename": f"image-{n}.{EXTENSIONS.get(image.mime_type, 'bin')}",
            "mime_type": image.mime_type,
            "data": image.data,
        }
        for n, image in enumerate(images, 1)
        if _size(image.data) <= MAX_ATTACHMENT_BYTES
    ]


def render_result(result: types.CallToolResult) -> ToolResult:
    """The whole result; ``is_error`` makes a failed tool result (the size bound is the registry's)."""
    parts = [render_block(block) for block in result.content]
    if not parts and result.structured_content is not None:
        parts = [json.dumps(result.structured_content, ensure_ascii=False)]
    text = "\n".join(parts) or "(no output)"
    return ToolResult(
        f"ERROR: {text}" if result.is_error else text,
        not result.is_error,
        tuple(attachments(result)),
    )
