"""PDF files: one Markdown page per PDF page, in reading order, with headings and tables kept.

pymupdf4llm's layout analysis (PyMuPDF's bundled ONNX layout model) does the heavy lifting: it orders
multi-column pages column by column, marks headings with ``#`` and writes tables as Markdown tables.
It is run with OCR off, so nothing is downloaded and no tesseract is needed.

Around it this module adds what an ingest report needs:

* files that cannot be read fail with a precise :class:`ParseError` (empty, not a PDF, encrypted,
  damaged), checked before any page is parsed;
* each page's text layer is inspected first: pages with none (scans), with only a fragment over a
  full-page image, or with unreadable text (mostly U+FFFD, control or private-use characters) are listed in
  ``ocr_pages`` with a warning instead of being dropped silently;
* if pymupdf4llm fails on the document it is retried page by page, and a page it still fails on
  (or on which it keeps no text) is read with PyMuPDF's own extraction, ordered column by column;
* documents longer than ``layout_max_pages`` use that fast extraction throughout: layout analysis
  costs 0.2-0.5 s of CPU a page (its ONNX image features dominate), the fast path about 5 ms, so a
  600-page book takes seconds instead of minutes.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.parsed import PageText, ParsedDocument
from ingest.pdf_layout import layout_markdown, message
from ragchat.errors import ParseError

if TYPE_CHECKING:
    import pymupdf

logger = logging.getLogger(__name__)

LAYOUT_MAX_PAGES = 100
"""Longer documents skip layout analysis (see the module docstring)."""

MIN_TEXT_CHARS = 20
"""A page with fewer visible characters than this over a page-sized image is a scan, not text."""

SCAN_IMAGE_COVER = 0.5
"""Fraction of the page that images must cover for it to count as a scanned page."""

MAX_BAD_CHAR_RATIO = 0.3
"""A text layer with more unreadable characters than this is garbage (bad font encoding)."""

_HEADER_BYTES = 1024  # PDF readers accept %PDF- anywhere in the first KiB
_BAD_CATEGORIES = frozenset({"Cc", "Co", "Cn", "Cs"})  # control, private use, unassigned, surrogate
_REPEATS = re.compile(r"(.)\1+", re.DOTALL)
_BLANK_LINES = re.compile(r"\n{3,}")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_EMPHASIS = re.compile(r"\*\*|(?<!\w)_|_(?!\w)")
_CJK = "\u2e80-\u2fff\u3000-\u30ff\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_PUNCTUATION = "\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"
_CJK_CHAR = re.compile(f"[{_CJK}]")
_CJK_PAIR = re.compile(f"([{_CJK}]) +(?=([{_CJK}]))")
# Spaces next to full-width punctuation are never wanted; pymupdf4llm puts them at font changes.
_PUNCTUATION_SPACES = re.compile(f"(?<=[{_CJK_PUNCTUATION}]) +(?=\\w)|(?<=\\w) +(?=[{_CJK_PUNCTUATION}])")


@dataclass(frozen=True)
class _Layer:
    """What one page's text layer looks like, from PyMuPDF's span-level extraction."""

    chars: int  # visible (non-whitespace) characters
    bad_ratio: float  # share of U+FFFD/control/private-use/unassigned characters, repeats counted once
    hidden: int  # characters drawn invisibly: the OCR layer of a scanned page
    image_cover: float  # fraction of the page covered by images, 0..1 (only measured when it matters)
    has_drawings: bool  # vector graphics on a page without text, e.g. text converted to outlines
    wraps: frozenset[str]  # CJK character pairs split by a line break (and never by a space) on the page

    @property
    def unreadable(self) -> bool:
        return self.bad_ratio > MAX_BAD_CHAR_RATIO

    @property
    def missing(self) -> bool:
        """No text layer worth reading, yet something is drawn on the page: it needs OCR."""
        if self.chars == 0:
            return self.image_cover > 0 or self.has_drawings
        return self.chars < MIN_TEXT_CHARS and self.image_cover >= SCAN_IMAGE_COVER

    @property
    def has_text(self) -> bool:
        return self.chars > 0 and not self.missing and not self.unreadable

    @property
    def ocr_layer(self) -> bool:
        """Readable text that is an invisible OCR layer over a scan: kept, but worth a warning."""
        return self.image_cover >= SCAN_IMAGE_COVER and self.hidden > 0.9 * self.chars


def parse_pdf(path: Path, *, layout_max_pages: int = LAYOUT_MAX_PAGES) -> ParsedDocument:
    """Parse a PDF into one :class:`PageText` (1-based ``number``, Markdown ``text``) per page with text.

    Raises :class:`ParseError` for an empty, non-PDF, password-protected or damaged file, and when
    no page has a usable text layer ("needs OCR"). Pages without one are listed in ``ocr_pages``.
    Copy-protected PDFs (an owner password only) are read normally.
    """
    if layout_max_pages < 0:
        raise ValueError(f"layout_max_pages must be >= 0, got {layout_max_pages}")
    doc = _open(path)
    try:
        survey = _survey(doc)
        text_pages = survey.where(lambda layer: layer.has_text)
        if not text_pages:
            raise ParseError(survey.no_text_reason())
        warnings = survey.warnings(text_pages)
        use_layout = survey.page_count <= layout_max_pages
        if not use_layout:
            warnings.append(
                f"{survey.page_count} pages, over the limit of {layout_max_pages} for layout analysis: "
                "used fast text extraction (tables are not kept as tables)"
            )
        pages, extraction_warnings = _page_texts(doc, survey, text_pages, use_layout=use_layout)
    finally:
        doc.close()
    if not pages:
        raise ParseError(f"no text found on any of the {survey.page_count} pages")
    ocr_pages = tuple(i + 1 for i in survey.where(lambda layer: layer.missing or layer.unreadable))
    logger.info("parsed %s: %d of %d pages with text", path, len(pages), survey.page_count)
    return ParsedDocument(
        pages=tuple(pages),
        warnings=tuple(warnings + extraction_warnings),
        ocr_pages=ocr_pages,
        page_count=survey.page_count,
    )


def _open(path: Path) -> pymupdf.Document:
    try:
        size = path.stat().st_size
        with path.open("rb") as file:
            head = file.read(_HEADER_BYTES)
    except OSError as exc:
        raise ParseError(f"cannot read file: {exc.strerror or exc}") from exc
    if size == 0:
        raise ParseError("empty file (0 bytes)")
    if b"%PDF-" not in head:
        raise ParseError(f"not a PDF (no %PDF header; starts with {head[:8]!r})")

    import pymupdf

    pymupdf.TOOLS.mupdf_warnings(reset=True)  # MuPDF's log of this open explains a failure
    try:
        doc = pymupdf.open(path, filetype="pdf")
    except Exception as exc:  # FileDataError, RuntimeError or a raw mupdf error, depending on the damage
        log = pymupdf.TOOLS.mupdf_warnings(reset=True)
        errors = [line.strip() for line in dict.fromkeys(log.splitlines()) if "error" in line]
        reason = f"{'; '.join(errors[:3])} (repair failed)" if errors else message(exc)
        raise ParseError(f"malformed PDF: {reason}") from exc
    if doc.needs_pass and not doc.authenticate(""):
        doc.close()
        raise ParseError("encrypted: a password is required")
    if doc.page_count == 0:
        doc.close()
        raise ParseError("malformed PDF: no pages found (the file may be truncated)")
    return doc


# --- inspecting the text layer -------------------------------------------------------------------


@dataclass(frozen=True)
class _Survey:
    """Every page's text layer, measured before any Markdown is made."""

    page_count: int
    layers: dict[int, _Layer]  # by 0-based page index
    broken: dict[int, str]  # pages PyMuPDF cannot read, with the reason
    body_size: float  # the font size most visible text is set in
    repaired: bool  # MuPDF had to repair the file's structure to open it

    def where(self, test: Callable[[_Layer], bool]) -> list[int]:
        return [index for index, layer in self.layers.items() if test(layer)]

    def warnings(self, text_pages: Sequence[int]) -> list[str]:
        count = self.page_count
        missing = self.where(lambda layer: layer.missing)
        garbage = self.where(lambda layer: layer.unreadable and not layer.missing)
        scans = [index for index in text_pages if self.layers[index].ocr_layer]
        warnings = []
        if self.repaired:
            warnings.append("the PDF is damaged and was repaired while opening; some content may be missing")
        if missing:
            warnings.append(f"{_pages(missing, count)} no text layer (needs OCR)")
        if garbage:
            warnings.append(f"{_pages(garbage, count)} an unreadable text layer (needs OCR)")
        if scans:
            warnings.append(
                f"{_pages(scans, count)} a scanned image with an existing OCR text layer, "
                "which may contain recognition errors"
            )
        warnings.extend(f"page {i + 1} of {count} cannot be read: {why}" for i, why in self.broken.items())
        return warnings

    def no_text_reason(self) -> str:
        count = self.page_count
        where = "its only page" if count == 1 else f"any of the {count} pages"
        missing = self.where(lambda layer: layer.missing)
        garbage = self.where(lambda layer: layer.unreadable and not layer.missing)
        first_error = next(iter(self.broken.values()), "")
        if len(self.broken) == count:
            return f"malformed PDF: no page can be read ({first_error})"
        if missing and garbage:
            return f"no usable text layer on {where} (needs OCR)"
        if missing:
            return f"no text layer on {where} (needs OCR)"
        if garbage:
            return f"unreadable text layer on {where} (needs OCR)"
        if self.broken:
            broken = _pages(list(self.broken), count, verb=False)
            return f"malformed PDF: {broken} cannot be read ({first_error}) and the others are blank"
        if self.repaired:
            return "malformed PDF: damaged and repaired, but no page has content (truncated file?)"
        return "its only page is blank" if count == 1 else f"all {count} pages are blank"


def _survey(doc: pymupdf.Document) -> _Survey:
    layers: dict[int, _Layer] = {}
    broken: dict[int, str] = {}
    sizes: Counter[float] = Counter()
    for index in range(doc.page_count):
        try:
            layers[index] = _inspect(doc.load_page(index), sizes)
        except Exception as exc:  # one damaged page must not sink the others
            logger.warning("page %d of %s cannot be read: %s", index + 1, doc.name, exc)
            broken[index] = message(exc)
    body_size = sizes.most_common(1)[0][0] if sizes else 0.0
    return _Survey(doc.page_count, layers, broken, body_size, repaired=bool(doc.is_repaired))


def _inspect(page: pymupdf.Page, sizes: Counter[float]) -> _Layer:
    """Measure the page's text layer; add the font sizes of its visible text to ``sizes``."""
    import pymupdf
    from pymupdf import mupdf

    text = page.get_text("dict", flags=pymupdf.TEXTFLAGS_TEXT)
    painted = mupdf.FZ_STEXT_FILLED | mupdf.FZ_STEXT_STROKED
    chars = hidden = 0
    spans: list[str] = []
    wraps: set[str] = set()  # CJK pairs that meet at a line break
    spaced: set[str] = set()  # CJK pairs separated by a space or a gap on the same line
    previous, previous_box = "", (0.0, 0.0, 0.0, 0.0)
    for block in text["blocks"]:
        for line in block.get("lines", ()):
            line_text = "".join(span["text"] for span in line["spans"]).strip()
            if line_text:
                box = line["bbox"]
                if previous and _CJK_CHAR.match(previous[-1]) and _CJK_CHAR.match(line_text[0]):
                    below = box[1] > (previous_box[1] + previous_box[3]) / 2
                    (wraps if below else spaced).add(previous[-1] + line_text[0])
                spaced.update(a + b for a, b in _CJK_PAIR.findall(line_text))
                previous, previous_box = line_text, box
            for span in line["spans"]:
                visible = sum(1 for c in span["text"] if not c.isspace())
                if not visible:
                    continue
                chars += visible
                spans.append(span["text"])
                flags = span.get("char_flags", painted)  # only newer PyMuPDF reports fill/stroke
                if span.get("alpha") == 0 or span.get("font") == "GlyphLessFont" or not flags & painted:
                    hidden += visible  # render mode 3, transparent, or tesseract's invisible font
                else:
                    sizes[round(span["size"] * 2) / 2] += visible
    image_cover = _image_cover(page) if chars < MIN_TEXT_CHARS or hidden else 0.0
    has_drawings = chars == 0 and image_cover == 0 and bool(page.get_cdrawings())
    bad_ratio = _bad_ratio(" ".join(spans))
    return _Layer(chars, bad_ratio, hidden, image_cover, has_drawings, frozenset(wraps - spaced))


def _image_cover(page: pymupdf.Page) -> float:
    area = abs(page.rect)
    if not area:
        return 0.0
    covered = sum(abs(page.rect & info["bbox"]) for info in page.get_image_info())
    return min(1.0, covered / area)


def _bad_ratio(text: str) -> float:
    """Share of unreadable characters; a run like a row of U+FFFD dot leaders counts once."""
    collapsed = [c for c in _REPEATS.sub(r"\1", text) if not c.isspace()]
    if not collapsed:
        return 0.0
    bad = sum(1 for c in collapsed if c == "\ufffd" or unicodedata.category(c) in _BAD_CATEGORIES)
    return bad / len(collapsed)


# --- Markdown per page -----------------------------------------------------------------------------


def _page_texts(
    doc: pymupdf.Document, survey: _Survey, text_pages: Sequence[int], *, use_layout: bool
) -> tuple[list[PageText], list[str]]:
    """Layout-analysed Markdown for ``text_pages``, plain extraction where that fails or finds nothing."""
    count = survey.page_count
    warnings: list[str] = []
    if use_layout:
        markdown, failures = layout_markdown(doc, text_pages)
        empty = [
            i
            for i in text_pages
            if i not in failures and not markdown.get(i) and survey.layers[i].chars >= MIN_TEXT_CHARS
        ]
        for reason, indices in _group(failures).items():
            where = _pages(indices, count, verb=False)
            warnings.append(f"{where}: layout analysis failed ({reason}); used plain text")
        if empty:
            where = _pages(empty, count, verb=False)
            warnings.append(f"{where}: layout analysis kept no text; used plain text")
        plain = set(empty) | set(failures)
    else:
        markdown, plain = {}, set(text_pages)
    pages = []
    body = survey.body_size
    for index in text_pages:
        if index in plain:
            text = _plain_markdown(doc.load_page(index), body)
        else:
            text = _tidy(markdown.get(index, ""), survey.layers[index].wraps)
        if text:
            pages.append(PageText(number=index + 1, text=text))
    return pages, warnings


def _tidy(markdown: str, wraps: frozenset[str]) -> str:
    """Clean pymupdf4llm's Markdown: drop emphasis inside headings, trailing spaces and blank-line runs.

    pymupdf4llm joins wrapped lines with a space, which splits Chinese words ("距 离"); such a space
    is removed when its two characters are in ``wraps`` (they meet at a line break on the page), so
    spaces the text really has (author or keyword lists) stay.
    """

    def unwrap(match: re.Match[str]) -> str:
        return match.group(1) if match.group(1) + match.group(2) in wraps else match.group(0)

    lines = []
    for line in markdown.split("\n"):
        heading = _HEADING.match(line)
        if heading:
            title = " ".join(_EMPHASIS.sub("", heading.group(2)).split())
            line = f"{heading.group(1)} {title}" if title else ""
        lines.append(_PUNCTUATION_SPACES.sub("", _CJK_PAIR.sub(unwrap, line)).rstrip())
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


# --- plain extraction, column by column -----------------------------------------------------------


def _plain_markdown(page: pymupdf.Page, body_size: float) -> str:
    """PyMuPDF's own text, column by column, larger-than-body lines as headings, page numbers dropped."""
    import pymupdf

    flags = pymupdf.TEXTFLAGS_TEXT & ~pymupdf.TEXT_PRESERVE_LIGATURES
    blocks = [b for b in page.get_text("dict", flags=flags)["blocks"] if b.get("lines")]
    margin = page.rect.height * 0.08
    paragraphs = []
    for block in _column_order(blocks, page.rect):
        lines = ["".join(span["text"] for span in line["spans"]).strip() for line in block["lines"]]
        text = _join_lines(line for line in lines if line)
        in_margin = block["bbox"][3] < page.rect.y0 + margin or block["bbox"][1] > page.rect.y1 - margin
        if not text or (in_margin and text == str(page.number + 1)):  # empty, or a printed page number
            continue
        size = max(span["size"] for line in block["lines"] for span in line["spans"])
        level = _heading_level(size, body_size, text)
        paragraphs.append(f"{'#' * level} {text}" if level else text)
    return "\n\n".join(paragraphs)


def _column_order(blocks: list[dict[str, Any]], rect: pymupdf.Rect) -> list[dict[str, Any]]:
    """Reading order for one- and two-column pages.

    Blocks that cross the page's middle (titles, abstracts, wide figures, single-column text) split
    the page into bands; inside a band the left column is read before the right one.
    """
    middle = (rect.x0 + rect.x1) / 2
    slack = rect.width * 0.02

    def column_key(block: dict[str, Any]) -> tuple[bool, float, float]:
        x0, y0 = block["bbox"][:2]
        return x0 >= middle - slack, y0, x0

    ordered: list[dict[str, Any]] = []
    band: list[dict[str, Any]] = []
    for block in sorted(blocks, key=lambda b: (b["bbox"][1], b["bbox"][0])):
        x0, _, x1, _ = block["bbox"]
        if x0 < middle - slack and x1 > middle + slack:
            ordered.extend(sorted(band, key=column_key))
            band = []
            ordered.append(block)
        else:
            band.append(block)
    ordered.extend(sorted(band, key=column_key))
    return ordered


def _join_lines(lines: Iterable[str]) -> str:
    """Join a block's lines into a paragraph: no space between CJK characters, hyphens mended."""
    text = ""
    for line in lines:
        if not text:
            text = line
        elif _CJK_CHAR.match(text[-1]) and _CJK_CHAR.match(line[0]):
            text += line
        elif text.endswith("-") and text[-2:-1].isalpha() and line[0].islower():
            text = text[:-1] + line
        else:
            text += " " + line
    return text


def _heading_level(size: float, body_size: float, text: str) -> int:
    if not body_size or len(text) > 200:
        return 0
    ratio = size / body_size
    return 1 if ratio >= 1.6 else 2 if ratio >= 1.3 else 3 if ratio >= 1.15 else 0


# --- messages ------------------------------------------------------------------------------------


def _pages(indices: Sequence[int], count: int, *, verb: bool = True) -> str:
    """``[0, 1, 2, 4], 8`` -> ``"pages 1-3, 5 of 8 have"`` (``verb=False`` leaves out "have")."""
    numbers = sorted(i + 1 for i in indices)
    noun = "page" if len(numbers) == 1 else "pages"
    shown = ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in _runs(numbers))
    text = f"{noun} {shown} of {count}"
    if not verb:
        return text
    return f"{text} has" if len(numbers) == 1 else f"{text} have"


def _runs(numbers: Sequence[int]) -> Iterator[tuple[int, int]]:
    start = previous = numbers[0]
    for number in numbers[1:]:
        if number != previous + 1:
            yield start, previous
            start = number
        previous = number
    yield start, previous


def _group(failures: dict[int, str]) -> dict[str, list[int]]:
    grouped: dict[str, list[int]] = {}
    for index, reason in failures.items():
        grouped.setdefault(reason, []).append(index)
    return grouped
