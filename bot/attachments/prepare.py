"""Turn downloaded files into the user message the model reads, and save them in the sandbox.

Each file is one of three kinds (:func:`classify`):

* **text** (a known extension such as ``.log``/``.py``/``.csv``/``.ipynb``, a
  ``text/*`` type, or bytes that are UTF-8): saved in the session's sandbox, and
  an excerpt inlined in the message: a log's first and last lines, a table's
  first rows, a notebook's cells (outputs shortened), else the head. All files
  of one message share :data:`INLINE_BUDGET` characters.
* **image** (PNG, JPEG, GIF or WebP, by its bytes): an ``image_url`` part with a
  ``data:`` URL when the model can see images, else a line naming it. Saved too.
* **other**: saved in the sandbox and named to the agent.

Nothing is dropped silently: a file that could not be read, saved or shown is
named in the message (so the agent knows) and, where the person should know,
in :attr:`Ingested.notices` (lines for the thread).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Literal

import aiohttp

from agent.sandbox.files import SANDBOX_PREFIX, Sandbox
from agent.session import Session
from agent.tools.registry import ToolError
from bot.attachments.fetch import (
    Fetched,
    FetchFailed,
    SharedFile,
    display_name,
    fetch,
    format_size,
)
from bot.attachments.kinds import (
    Kind,
    classify,
    image_type,
    notebook_text,
    suffix_of,
)

logger = logging.getLogger(__name__)

INLINE_BUDGET = 12_000
"""Characters of file text inlined in one message, shared by all its files."""
MAX_IMAGE_BYTES = 5_000_000
"""Larger images are not sent to the model (providers refuse them); they are named instead."""
LOG_HEAD_SHARE = 1 / 3
"""Of a log's share of the budget, this much goes to its first lines, the rest to its last."""
MAX_NAME_CHARS = 120

LOG_EXTENSIONS = frozenset({".log", ".txt"})
TABLE_EXTENSIONS = frozenset({".csv", ".tsv"})
Content = str | list[dict[str, Any]]


@dataclass(frozen=True)
class Ingested:
    """What one message with shared files becomes."""

    content: Content
    """The user message's content: a string, or (with images) a text part then image parts."""
    notices: list[str] = field(default_factory=list)
    """Lines for the thread: files that could not be read, saved or shown to the model."""
    saved: list[str] = field(default_factory=list)
    """Sandbox paths the files were saved as, in the order they were shared."""


def model_sees_images(model: str) -> bool:
    """Whether LiteLLM's (local) model map says ``model`` takes images; False if unknown.

    Pass the model name as configured (``MODEL``, e.g. ``huggingface/novita/…``),
    not the ``openai/…`` name it resolves to for the HF router.
    """
    from agent.llm import litellm  # sets LITELLM_LOCAL_MODEL_COST_MAP and quiets LiteLLM

    try:
        return bool(litellm.supports_vision(model))
    except Exception:  # an unknown provider or a malformed name
        return False


async def ingest(
    text: str,
    files: Sequence[SharedFile],
    *,
    sandbox: Sandbox,
    session: Session,
    vision: bool,
    max_bytes: int,
    http: aiohttp.ClientSession | None = None,
    budget: int = INLINE_BUDGET,
) -> Ingested:
    """Download ``files`` and build the user message for ``text`` with them.

    Creates the session's sandbox when a file is saved (``session.state`` changes:
    persist the session afterwards, as a turn does). ``vision`` says whether the
    model takes image parts (:func:`model_sees_images`); ``max_bytes`` caps each
    download (``MAX_ATTACHMENT_BYTES``); ``http`` is used for downloads (a
    temporary session is opened when it is None).
    """
    if not files:
        return Ingested(text)
    results = await _fetch_all(files, max_bytes, http)
    taken: set[str] = set()
    items = [
        _Item.of(result, sandbox_name(result.name, taken))
        for result in results
        if isinstance(result, Fetched)
    ]
    if items:
        await asyncio.to_thread(_save_all, sandbox, session, items)
    _allocate(budget, [item for item in items if item.kind == "text"])

    by_file = iter(items)
    blocks: list[str] = []
    images: list[dict[str, Any]] = []
    notices: list[str] = []
    for result in results:
        if isinstance(result, FetchFailed):
            blocks.append(
                f"[Shared file `{display_name(result.name)}` could not be read: "
                f"{result.reason.rstrip('.')}. The user was told.]"
            )
            notices.append(result.line())
            continue
        item = next(by_file)
        blocks.append(item.render(vision, images))
        notices.extend(item.notices(vision))
    message = "\n\n".join([text.strip(), *blocks]) if text.strip() else "\n\n".join(blocks)
    content: Content = [{"type": "text", "text": message}, *images] if images else message
    return Ingested(content, notices, [item.name for item in items if item.saved])


async def _fetch_all(
    files: Sequence[SharedFile], max_bytes: int, http: aiohttp.ClientSession | None
) -> list[Fetched | FetchFailed]:
    if http is None:
        async with aiohttp.ClientSession() as temporary:
            return await _fetch_all(files, max_bytes, temporary)

    async def one(file: SharedFile) -> Fetched | FetchFailed:
        try:
            return await fetch(file, max_bytes=max_bytes, session=http)
        except Exception as exc:  # a file must never cost the message
            logger.warning("fetching a shared file failed: %r", exc)
            return FetchFailed(file, "error", f"it could not be downloaded ({type(exc).__name__})")

    return list(await asyncio.gather(*(one(f) for f in files)))


def sandbox_name(name: str, taken: set[str]) -> str:
    """A safe file name for the sandbox, unique within ``taken`` (which it joins)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch if ch.isprintable() else "_" for ch in base).strip().lstrip(".")
    base = base or "file"
    stem, ext = _split_name(base)
    if len(base) > MAX_NAME_CHARS:
        ext = ext[:20]
        stem = stem[: MAX_NAME_CHARS - len(ext)]
        base = stem + ext
    candidate, number = base, 2
    while candidate.lower() in taken:
        candidate, number = f"{stem} ({number}){ext}", number + 1
    taken.add(candidate.lower())
    return candidate


def _split_name(name: str) -> tuple[str, str]:
    suffix = PurePosixPath(name).suffix
    return (name[: -len(suffix)], suffix) if suffix else (name, "")


# ── one file ─────────────────────────────────────────────────────────────


@dataclass
class _Item:
    """A downloaded file on its way into the message."""

    fetched: Fetched
    name: str
    kind: Kind
    payload: bytes
    """What the sandbox gets: the bytes, or for text that was not UTF-8, its UTF-8 version."""
    text: str = ""
    style: Literal["log", "table", "notebook", "head"] = "head"
    repaired: bool = False
    share: int = 0
    saved: bool = False
    replaced: bool = False
    save_problem: str | None = None

    @classmethod
    def of(cls, fetched: Fetched, name: str) -> _Item:
        data = fetched.data
        kind = classify(fetched.name, fetched.mimetype, data)
        if kind != "text":
            return cls(fetched, name, kind, data)
        try:
            text, repaired = data.decode("utf-8-sig"), False
        except UnicodeDecodeError:
            text, repaired = data.decode("utf-8", "replace"), True
        payload = text.encode("utf-8") if repaired else data
        suffix = suffix_of(fetched.name)
        style: Literal["log", "table", "notebook", "head"] = "head"
        if suffix == ".ipynb" and (cells := notebook_text(data)) is not None:
            text, style = cells, "notebook"
        elif suffix in LOG_EXTENSIONS:
            style = "log"
        elif suffix in TABLE_EXTENSIONS:
            style = "table"
        return cls(fetched, name, kind, payload, text, style, repaired)

    @property
    def shown_name(self) -> str:
        return display_name(self.fetched.name)

    @property
    def size(self) -> str:
        return format_size(len(self.fetched.data))

    def where(self) -> str:
        """Where the full file is, for the agent."""
        if not self.saved:
            return (
                f"It could not be saved in the sandbox ({(self.save_problem or '').rstrip('.')})."
            )
        note = f" It replaced an earlier sandbox file `{self.name}`." if self.replaced else ""
        if self.kind != "text":
            return f"It is saved in the sandbox as `{SANDBOX_PREFIX}{self.name}`.{note}"
        return (
            f"The full file is in the sandbox as `{SANDBOX_PREFIX}{self.name}`: read it with "
            f"the read tool (offset and limit pick the lines), or pass it "
            f"to a job.{note}"
        )

    def render(self, vision: bool, images: list[dict[str, Any]]) -> str:
        """This file's block of the message text; an image may add its part to ``images``."""
        if self.kind == "text":
            return self._render_text()
        if self.kind == "image":
            mime = image_type(self.fetched.data) or "image/png"
            if vision and len(self.fetched.data) <= MAX_IMAGE_BYTES:
                images.append(_image_part(mime, self.fetched.data))
                return (
                    f"[Shared image `{self.shown_name}` ({self.size}), image {len(images)} "
                    f"below. {self.where()}]"
                )
            if vision:
                return (
                    f"[Shared image `{self.shown_name}` ({self.size}): too large to show the "
                    f"model (the limit is {format_size(MAX_IMAGE_BYTES)}). {self.where()}]"
                )
            return (
                f"[Shared: an image the model cannot see: {self.shown_name} ({self.size}). "
                f"{self.where()}]"
            )
        kind = self.fetched.mimetype or "binary"
        return (
            f"[Shared file `{self.shown_name}` ({self.size}, {kind}): not text, so not shown "
            f"here. {self.where()}]"
        )

    def notices(self, vision: bool) -> list[str]:
        """Lines for the thread about this file (none when all went well)."""
        name = self.shown_name
        lines = []
        if self.kind == "image" and not vision:
            lines.append(
                f"📎 `{name}`: this model can't see images, so the agent knows only its name."
            )
        elif self.kind == "image" and len(self.fetched.data) > MAX_IMAGE_BYTES:
            lines.append(
                f"📎 `{name}` is {self.size}, too large to show the model (the limit is "
                f"{format_size(MAX_IMAGE_BYTES)}); the agent knows only its name."
            )
        if not self.saved:
            rest = "; the agent sees only an excerpt" if self.kind == "text" else ""
            lines.append(
                f"📎 `{name}` couldn't be saved in the sandbox "
                f"({(self.save_problem or '').rstrip('.')}){rest}."
            )
        return lines

    def _render_text(self) -> str:
        text, share = self.text, self.share
        lines = _count_lines(text)
        if self.style == "notebook":
            cells = len(re.findall(r"^# %% \[", text, re.MULTILINE))
            facts = f"{self.size}, {cells:,} cell{'s' if cells != 1 else ''}"
        else:
            facts = f"{self.size}, {lines:,} line{'s' if lines != 1 else ''}"
        if self.repaired:
            facts += ", not UTF-8: bad bytes replaced"
        header = f"[Shared file `{self.shown_name}` ({facts}). {self.where()}"
        if not text.strip():
            return f"{header} It is empty.]"
        if share <= 0:
            return f"{header} There is no room left in this message to show it.]"
        if len(text) <= share:
            what = "Its cells (outputs shortened)" if self.style == "notebook" else "Its full text"
            return f"{header} {what}:]\n{_fenced(text)}"
        if self.style == "log":
            head = _head(text, int(share * LOG_HEAD_SHARE))
            rest = text[len(head) :]
            tail = _tail(rest, share - len(head))
            skipped = _count_lines(rest[: len(rest) - len(tail)])
            head_n, tail_n = _count_lines(head), _count_lines(tail)
            body = f"{head.rstrip(chr(10))}\n[… {skipped:,} lines left out …]\n{tail}"
            what = f"Its first {head_n:,} and last {tail_n:,} lines"
            return f"{header} {what}:]\n{_fenced(body)}"
        head = _head(text, share)
        if self.style == "table":
            what = f"Its first {_count_lines(head):,} of {lines:,} rows"
        elif self.style == "notebook":
            what = f"The first {len(head):,} of {len(text):,} characters of its cells"
        else:
            what = f"Its first {len(head):,} of {len(text):,} characters"
        return f"{header} {what}:]\n{_fenced(head.rstrip(chr(10)) + chr(10) + '[… the rest is left out …]')}"


def _save_all(sandbox: Sandbox, session: Session, items: list[_Item]) -> None:
    """Write every item into the session's sandbox, creating it (blocking)."""
    try:
        sandbox.create(session)
    except OSError as exc:
        for item in items:
            item.save_problem = f"the sandbox could not be created: {exc.strerror or exc}"
        return
    for item in items:
        try:
            item.replaced = sandbox.path(session, item.name).is_file()
            sandbox.write_bytes(session, item.name, item.payload)
            item.saved = True
        except ToolError as exc:
            item.save_problem = str(exc)
        except OSError as exc:
            item.save_problem = f"writing it failed: {exc.strerror or exc}"


def _allocate(budget: int, items: list[_Item]) -> None:
    """Share ``budget`` characters: small files whole, the rest split evenly between the others."""
    left, waiting = max(budget, 0), len(items)
    for item in sorted(items, key=lambda i: len(i.text)):
        item.share = min(len(item.text), left // waiting)
        left -= item.share
        waiting -= 1


def _image_part(mime: str, data: bytes) -> dict[str, Any]:
    url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return {"type": "image_url", "image_url": {"url": url}}


def _head(text: str, limit: int) -> str:
    """At most ``limit`` characters from the start, ending at a line end when one is near."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit)
    return text[: cut + 1] if cut >= limit // 2 else text[:limit]


def _tail(text: str, limit: int) -> str:
    """At most ``limit`` characters from the end, starting at a line start when one is near."""
    if len(text) <= limit:
        return text
    start = len(text) - limit
    cut = text.find("\n", start)
    return text[cut + 1 :] if 0 <= cut < start + limit // 2 else text[start:]


def _count_lines(text: str) -> int:
    return text.count("\n") + (0 if not text or text.endswith("\n") else 1)


def _fenced(text: str) -> str:
    """``text`` in a code fence longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text.rstrip(chr(10))}\n{fence}"
