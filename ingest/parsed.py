"""What a parser hands to the chunker: the text of each page, plus what could not be read."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PageText:
    """Markdown text of one page. ``number`` is 1-based for PDFs and ``None`` for text files."""

    number: int | None
    text: str


@dataclass(frozen=True)
class ParsedDocument:
    """A parsed file: its pages in reading order and per-file warnings for the ingest report.

    ``ocr_pages`` lists the 1-based page numbers that have no usable text layer (they need OCR);
    their text is not in ``pages``.
    """

    pages: tuple[PageText, ...]
    warnings: tuple[str, ...] = field(default=())
    ocr_pages: tuple[int, ...] = field(default=())
    page_count: int = 1
