"""A paper's sections from its arXiv HTML version (LaTeXML: ``ltx_section`` headings).

The abstract (an ``h6`` titled Abstract), sections (``h2``) and subsections
(``h3``/``h4``) become :class:`Section` s of plain text; math keeps its LaTeX
(``alttext``), scripts, styles and navigation are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

HEADINGS = {"h2": 1, "h3": 2, "h4": 3}
SKIPPED = {"script", "style", "nav", "header", "footer", "button"}
BLOCKS = {"p", "div", "li", "tr", "br", "figcaption", "h5", "h6", "table"}


@dataclass
class Section:
    title: str
    level: int
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        text = "".join(self.parts)
        text = re.sub(r"[ \t\r\f\v]+", " ", text)
        return re.sub(r"\s*\n\s*", "\n", text).strip()

    @property
    def number(self) -> str:
        """``3`` or ``3.2`` from a title like ``3.2 Training``; empty when unnumbered."""
        match = re.match(r"^([A-Z]?\d+(?:\.\d+)*)\.?\s", self.title)
        return match.group(1) if match else ""


class _Sections(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.sections: list[Section] = []
        self._heading: Section | None = None
        self._heading_tag = ""
        self._skip = 0
        self._in_title = False
        self._in_math = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = attributes.get("class") or ""
        if tag in SKIPPED:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag == "math":
            self._in_math += 1
            self._write(f" {attributes.get('alttext') or ''} ")
        elif tag in HEADINGS or (tag == "h6" and "ltx_title_abstract" in classes):
            self._heading = Section("", HEADINGS.get(tag, 1))
            self._heading_tag = tag
        elif tag in BLOCKS:
            self._write("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif tag == "title":
            self._in_title = False
        elif tag == "math":
            self._in_math = max(0, self._in_math - 1)
        elif self._heading is not None and tag == self._heading_tag:
            self._heading.title = " ".join("".join(self._heading.parts).split())
            self._heading.parts = []
            self.sections.append(self._heading)
            self._heading = None
        elif tag in BLOCKS:
            self._write("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._in_math:
            self._write(re.sub(r"\s+", " ", data))  # line breaks come from block tags only

    def _write(self, text: str) -> None:
        if self._skip:
            return
        if self._heading is not None:
            self._heading.parts.append(text)
        elif self.sections:
            self.sections[-1].parts.append(text)


def parse_sections(html: str) -> tuple[str, list[Section]]:
    """The page's title and its sections in order (empty sections kept: they head others)."""
    parser = _Sections()
    parser.feed(html)
    parser.close()
    return " ".join(parser.title.split()), parser.sections


def find_section(sections: list[Section], wanted: str) -> Section | None:
    """A section by number (``3``, ``3.2``) or by a word of its title (case-insensitive)."""
    wanted = wanted.strip().rstrip(".")
    for section in sections:
        if section.number and section.number == wanted:
            return section
    lowered = wanted.lower()
    for section in sections:
        if section.title.lower().lstrip("0123456789. ") == lowered:
            return section
    for section in sections:
        if lowered in section.title.lower():
            return section
    return None
