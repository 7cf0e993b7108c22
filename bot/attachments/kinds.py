"""What kind a shared file is (text, image, other), and a notebook as its cells' text."""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any, Literal

Kind = Literal["text", "image", "other"]
NOTEBOOK_OUTPUT_CHARS = 300
NOTEBOOK_OUTPUT_LINES = 5
SNIFF_BYTES = 8192

TEXT_EXTENSIONS = frozenset(
    [
        ".log",
        ".txt",
        ".md",
        ".py",
        ".json",
        ".jsonl",
        ".yaml",
        ".yml",
        ".csv",
        ".tsv",
        ".ipynb",
        ".toml",
        ".cfg",
        ".ini",
        ".sh",
    ]
)
TEXT_MIMETYPES = frozenset(
    {
        "application/json",
        "application/x-ndjson",
        "application/jsonl",
        "application/yaml",
        "application/x-yaml",
        "application/toml",
        "application/x-sh",
        "application/x-ipynb+json",
    }
)


def suffix_of(name: str) -> str:
    return PurePosixPath(name.lower()).suffix


def image_type(data: bytes) -> str | None:
    """``image/png``, ``image/jpeg``, ``image/gif`` or ``image/webp`` by the bytes, else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def classify(name: str, mimetype: str | None, data: bytes) -> Kind:
    """``image`` by its bytes; ``text`` by extension, ``text/*`` type or a UTF-8 sniff; else ``other``."""
    if image_type(data):
        return "image"
    if b"\x00" in data[:SNIFF_BYTES]:
        return "other"
    kind = (mimetype or "").split(";")[0].strip().lower()
    if suffix_of(name) in TEXT_EXTENSIONS or kind.startswith("text/") or kind in TEXT_MIMETYPES:
        return "text"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "other"
    return "text"


def notebook_text(data: bytes) -> str | None:
    """A notebook's cells as text with ``# %% [kind] cell N`` markers; None if not a notebook."""
    try:
        notebook = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        return None
    parts = []
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict):
            continue
        kind = str(cell.get("cell_type") or "code")
        lines = [f"# %% [{kind}] cell {number}", _joined(cell.get("source")).rstrip("\n")]
        if kind == "code":
            lines.extend(_outputs_brief(cell.get("outputs")))
        parts.append("\n".join(line for line in lines if line))
    return "\n\n".join(parts) + "\n" if parts else ""


def _joined(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return str(value or "")


def _outputs_brief(outputs: Any) -> list[str]:
    """A code cell's outputs, a few lines at most, each ``# out: …``."""
    texts = []
    for output in outputs if isinstance(outputs, list) else []:
        if not isinstance(output, dict):
            continue
        kind = output.get("output_type")
        if kind == "stream":
            texts.append(_joined(output.get("text")))
        elif kind == "error":
            texts.append(f"{output.get('ename', 'Error')}: {output.get('evalue', '')}")
        elif kind in ("execute_result", "display_data"):
            data = output.get("data") if isinstance(output.get("data"), dict) else {}
            if "text/plain" in data:
                texts.append(_joined(data["text/plain"]))
            elif data:
                texts.append(f"[{next(iter(data))}]")
    lines = "\n".join(t.rstrip("\n") for t in texts if t.strip()).splitlines()
    brief, chars = [], 0
    for line in lines[:NOTEBOOK_OUTPUT_LINES]:
        line = line[: NOTEBOOK_OUTPUT_CHARS - chars]
        brief.append(f"# out: {line}")
        chars += len(line)
        if chars >= NOTEBOOK_OUTPUT_CHARS:
            break
    if len(brief) < len(lines) or chars >= NOTEBOOK_OUTPUT_CHARS:
        brief.append("# out: …")
    return brief
