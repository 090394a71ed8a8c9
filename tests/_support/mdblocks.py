"""The fenced code blocks of a Markdown page, with the marker comment before each.

Used by tests/test_docs.py, whose docstring says what the markers mean.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import attrs

_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")
_MARKER = re.compile(r"^<!--\s*(?P<body>.*?)\s*-->$")


@attrs.frozen
class Block:
    """One fenced block: its page, the line its fence opens on, its language and text."""

    page: Path
    line: int
    lang: str
    text: str
    marker: str | None  # the comment on the line before the fence, without ``<!--``/``-->``

    @property
    def where(self) -> str:
        return f"{self.page.name}:{self.line}"

    @property
    def kind(self) -> str:
        """``run``, ``fragment``, ``file`` or ``unknown`` (a marker this module does not know)."""
        if self.marker is None:
            return "run"
        head = self.marker.split(":", 1)[0].strip()
        return head if head in ("fragment", "file") else "unknown"

    @property
    def file(self) -> str:
        """The file name of a ``<!-- file: NAME -->`` block."""
        assert self.kind == "file", self
        return self.marker.split(":", 1)[1].strip()  # type: ignore[union-attr]


def blocks(page: Path) -> list[Block]:
    """Every fenced block of ``page``, in order (fences inside tabs and lists included)."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opened = _OPEN.match(lines[i])
        if opened is None:
            i += 1
            continue
        indent, fence = opened["indent"], opened["fence"]
        lang = (opened["info"].split() or [""])[0].lower()
        previous = lines[i - 1].strip() if i else ""
        marked = _MARKER.match(previous)
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            stripped = lines[j].strip()
            if stripped.startswith(fence[0] * len(fence)) and set(stripped) == {fence[0]}:
                break
            body.append(lines[j])
            j += 1
        text = textwrap.dedent("\n".join(body)) if indent else "\n".join(body)
        found.append(Block(page, i + 1, lang, text + "\n", marked["body"] if marked else None))
        i = j + 1
    return found


def page_markers(page: Path, name: str) -> list[str]:
    """The values of every ``<!-- name: VALUE -->`` comment alone on a line of ``page``."""
    pattern = re.compile(rf"^[ \t]*<!--\s*{re.escape(name)}:\s*(.*?)\s*-->[ \t]*$", re.MULTILINE)
    return pattern.findall(page.read_text(encoding="utf-8"))
