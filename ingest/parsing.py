"""Pick the parser for a file by its suffix (case-insensitive)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from ingest.parse_pdf import parse_pdf
from ingest.parse_text import parse_text
from ingest.parsed import ParsedDocument
from ragchat.errors import UnsupportedFile

Parser = Callable[[Path], ParsedDocument]

_PARSERS: dict[str, Parser] = {
    ".md": parse_text,
    ".markdown": parse_text,
    ".txt": parse_text,
    ".pdf": parse_pdf,
}

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_PARSERS)

_PDF_LOCK = threading.Lock()  # PyMuPDF is not thread-safe: ingest jobs for different KBs share the process


def parse_file(path: Path) -> ParsedDocument:
    """Parse ``path`` with the parser for its suffix.

    Raises :class:`UnsupportedFile` for other suffixes and :class:`ParseError` for files of a
    supported type that cannot be read.
    """
    suffix = path.suffix.lower()
    parser = _PARSERS.get(suffix)
    if parser is None:
        shown = f"'{path.suffix}'" if path.suffix else f"without a suffix ('{path.name}')"
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise UnsupportedFile(f"unsupported file type {shown} (supported: {supported})")
    if parser is parse_pdf:
        with _PDF_LOCK:
            return parser(path)
    return parser(path)
