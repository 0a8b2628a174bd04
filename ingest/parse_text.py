"""Plain text and Markdown files: decode (UTF-8, else GB18030), normalise newlines, one page."""

from __future__ import annotations

import codecs
import logging
from pathlib import Path

from ingest.parsed import PageText, ParsedDocument
from ragchat.errors import ParseError

logger = logging.getLogger(__name__)

TEXT_SUFFIXES = frozenset({".md", ".markdown", ".txt"})

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def parse_text(path: Path) -> ParsedDocument:
    """Read a ``.md``/``.markdown``/``.txt`` file as a single page of text (``number=None``).

    UTF-8 is tried first (a BOM is stripped), then GB18030, the superset of GBK/GB2312 that
    Chinese Windows editors write; a file in neither raises :class:`ParseError` with the offending
    byte. A UTF-16 file is read when it starts with a BOM. Empty and whitespace-only files raise
    :class:`ParseError`. ``\\r\\n`` and ``\\r`` line breaks become ``\\n``.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ParseError(f"cannot read file: {exc.strerror or exc}") from exc
    if not data:
        raise ParseError("empty file (0 bytes)")
    text, warnings = _decode(data)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ParseError(f"empty file (only whitespace in {len(data)} bytes)")
    logger.debug("parsed %s: %d characters", path, len(text))
    return ParsedDocument(pages=(PageText(number=None, text=text),), warnings=warnings, page_count=1)


def _decode(data: bytes) -> tuple[str, tuple[str, ...]]:
    """Return the text and any warning about how it was decoded."""
    if data.startswith(codecs.BOM_UTF8):
        return _strict(data, "utf-8-sig"), ()
    if data.startswith(_UTF16_BOMS):
        return _strict(data, "utf-16"), ("decoded as UTF-16 (byte order mark)",)
    if b"\x00" in data:
        offset = data.index(b"\x00")
        raise ParseError(f"binary data, not text (NUL byte at offset {offset})")
    try:
        return data.decode("utf-8"), ()
    except UnicodeDecodeError as utf8_error:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError as gb_error:
            raise ParseError(
                "cannot decode text: not UTF-8 "
                f"({_describe(utf8_error)}) and not GB18030 ({_describe(gb_error)})"
            ) from gb_error
        logger.info("not valid UTF-8 (%s); decoded as GB18030", _describe(utf8_error))
        return text, (f"decoded as GB18030: not valid UTF-8 ({_describe(utf8_error)})",)


def _strict(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ParseError(
            f"cannot decode text as {encoding} despite its byte order mark ({_describe(exc)})"
        ) from exc


def _describe(error: UnicodeDecodeError) -> str:
    return f"byte 0x{error.object[error.start]:02x} at offset {error.start}: {error.reason}"
