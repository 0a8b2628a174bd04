from __future__ import annotations

from functools import cache
from pathlib import Path

import pymupdf
import pytest

from ingest.parse_pdf import parse_pdf
from ingest.parsed import ParsedDocument
from ingest.parsing import SUPPORTED_SUFFIXES, parse_file
from ragchat.errors import ParseError

PDFS = Path(__file__).resolve().parents[2].parent / "shared" / "pdfs"
SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def shared_pdf(name: str) -> Path:
    path = PDFS / name
    if not path.exists():
        pytest.skip(f"{path} is not here (../shared/pdfs is only beside the repo in development and CI)")
    return path


@cache
def parsed(name: str) -> ParsedDocument:
    """Each shared PDF is parsed once per test session: layout analysis costs about a second a page."""
    return parse_pdf(shared_pdf(name))


def page_text(doc: ParsedDocument, number: int) -> str:
    [page] = [page for page in doc.pages if page.number == number]
    return page.text


def no_layout_fallback(doc: ParsedDocument) -> bool:
    return not any("layout analysis" in warning for warning in doc.warnings)


# --- reading order --------------------------------------------------------------------------------

# en-arxiv-two-column-page.pdf: the last paragraph of the left column ends "... assuming a 1 ms duration
# burst."; the right column starts with "3.2 Swift" and "The UVOT summed image is presented in Figure 4".
LEFT_BOTTOM = "No new FRBs or repeat bursts from the known FRBs were detected"
RIGHT_TOP = "The UVOT summed image is presented in Figure 4"
LEFT_PARAGRAPH = (
    "We estimate the probability of a chance alignment",
    "This represents the first detection of radio continuum emission associated with the host",
)
RIGHT_COLUMN = ("UVOT", "Swift", "H.E.S.S.", "XRT", "gamma-ray")


def assert_column_by_column(text: str) -> None:
    assert text.index(LEFT_BOTTOM) < text.index(RIGHT_TOP)
    start, end = (text.index(phrase) for phrase in LEFT_PARAGRAPH)
    paragraph = text[start:end]
    assert "\n" not in paragraph, "the left-column paragraph was broken up"
    assert not [word for word in RIGHT_COLUMN if word in paragraph], "right-column text inside it"


def test_two_column_page_is_read_column_by_column() -> None:
    doc = parsed("en-arxiv-two-column-page.pdf")

    assert [page.number for page in doc.pages] == [1]
    assert doc.warnings == ()
    assert_column_by_column(doc.pages[0].text)


def test_layout_analysis_runs_on_onnx_sessions_whose_idle_threads_sleep() -> None:
    import onnxruntime

    parsed("en-arxiv-two-column-page.pdf")  # layout analysis has run at least once

    model = getattr(pymupdf._get_layout, "__self__", None)
    sessions = [s for s in _reachable(model) if isinstance(s, onnxruntime.InferenceSession)]
    assert len(sessions) >= 2  # page-image features and the layout graph network at least
    key = "session.intra_op.allow_spinning"
    assert {s.get_session_options().get_session_config_entry(key) for s in sessions} == {"0"}
    assert onnxruntime.InferenceSession.__init__.__name__ == "__init__"  # the temporary hook is gone


def _reachable(root: object, depth: int = 4) -> list[object]:
    found, stack, seen = [], [(root, 0)], set()
    while stack:
        obj, level = stack.pop()
        if id(obj) in seen or level > depth:
            continue
        seen.add(id(obj))
        found.append(obj)
        if hasattr(obj, "__dict__") and not isinstance(obj, type):
            stack.extend((value, level + 1) for value in vars(obj).values())
    return found


def test_fast_extraction_also_reads_column_by_column() -> None:
    doc = parse_pdf(shared_pdf("en-arxiv-two-column-page.pdf"), layout_max_pages=0)

    assert doc.warnings == (
        "1 pages, over the limit of 0 for layout analysis: used fast text extraction (tables are not kept as tables)",
    )
    assert_column_by_column(doc.pages[0].text)
    assert "significant gamma-ray excess" in doc.pages[0].text  # the "ﬁ" ligature is expanded


def test_layout_failure_falls_back_to_plain_text(monkeypatch: pytest.MonkeyPatch) -> None:
    import pymupdf4llm

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("layout model crashed")

    monkeypatch.setattr(pymupdf4llm, "to_markdown", broken)

    doc = parse_pdf(shared_pdf("en-arxiv-two-column-page.pdf"))

    assert doc.warnings == (
        "page 1 of 1: layout analysis failed (RuntimeError: layout model crashed); used plain text",
    )
    assert_column_by_column(doc.pages[0].text)


# --- headings and tables --------------------------------------------------------------------------


def test_headings_are_markdown_headings() -> None:
    lines = parsed("zh-prospectus-tables.pdf").pages[0].text.splitlines()

    assert "# 第七章企业资信状况" in lines
    assert "## 一、发行人历史信用评级情况" in lines
    assert "## 二、授信情况" in lines
    assert "# 3.3 H.E.S.S." in parsed("en-arxiv-two-column-page.pdf").pages[0].text.splitlines()


def test_chinese_table_is_a_markdown_table() -> None:
    lines = parsed("zh-prospectus-tables.pdf").pages[0].text.splitlines()

    header = lines.index("|序号|金融机构名称|授信总额|已使用情况|剩余额度|")
    assert lines[header + 1] == "|---|---|---|---|---|"
    assert "|3|兴业银行盐城分行|302,600.00|110,600.00|192,000.00|" in lines[header + 2 :]


def test_financial_statement_table_rows() -> None:
    doc = parsed("zh-broker-financial-tables.pdf")

    assert "|负债合计|2,711|5,600|6,868|10,198|11,170|11,184|" in doc.pages[0].text.splitlines()


# --- pages ----------------------------------------------------------------------------------------


def test_copy_protected_pdf_parses_with_page_numbers() -> None:
    path = shared_pdf("en-copy-protected.pdf")
    with pymupdf.open(path) as raw:
        assert raw.metadata["encryption"] == "Standard V4 R4 128-bit AES"  # owner password, no user password

    doc = parsed("en-copy-protected.pdf")

    assert doc.page_count == 2
    assert [page.number for page in doc.pages] == [1, 2]
    assert doc.warnings == ()
    assert "A Unified Toolkit for Deep Learning Based Document Image Analysis" in page_text(doc, 1)
    assert "layout detection [38, 22], table detection [26]" in page_text(doc, 2)
    assert "layout detection [38, 22]" not in page_text(doc, 1)


FIRST = "The introduction explains why the survey was run and who answered it. " * 3
THIRD = "The conclusion lists what the survey found and what should happen next. " * 3


def add_text_page(doc: pymupdf.Document, text: str) -> None:
    page = doc.new_page()
    page.insert_textbox(pymupdf.Rect(72, 200, 523, 400), text, fontsize=11)


def test_pages_without_text_layer_are_listed_not_dropped(tmp_path: Path) -> None:
    path = tmp_path / "mixed.pdf"
    with pymupdf.open() as doc:
        add_text_page(doc, FIRST)
        scan = doc.new_page()
        pixmap = pymupdf.Pixmap(pymupdf.csGRAY, pymupdf.IRect(0, 0, 120, 160), False)
        pixmap.clear_with(200)
        scan.insert_image(scan.rect, pixmap=pixmap)
        add_text_page(doc, THIRD)
        doc.save(path)

    parsed_doc = parse_pdf(path)

    assert parsed_doc.page_count == 3
    assert [(page.number, page.text) for page in parsed_doc.pages] == [(1, FIRST.strip()), (3, THIRD.strip())]
    assert parsed_doc.ocr_pages == (2,)
    assert parsed_doc.warnings == ("page 2 of 3 has no text layer (needs OCR)",)


def garbage_font_pdf(path: Path, *, readable_first_page: bool) -> Path:
    """A PDF whose (last) page's font maps every letter to a private-use code point, like a broken font."""
    cmap = "\n".join(f"<{code:02X}> <{0xE000 + code:04X}>" for code in range(0x41, 0x5B))
    to_unicode = (
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /Broken def /CMapType 2 def\n"
        f"1 begincodespacerange <00> <FF> endcodespacerange\n26 beginbfchar\n{cmap}\nendbfchar\n"
        "endcmap CMapName currentdict /CMap defineresource pop end end"
    )
    with pymupdf.open() as doc:
        if readable_first_page:
            add_text_page(doc, FIRST)
        page = doc.new_page()
        cmap_xref = doc.get_new_xref()
        doc.update_object(cmap_xref, "<<>>")
        doc.update_stream(cmap_xref, to_unicode.encode())
        font_xref = doc.get_new_xref()
        doc.update_object(font_xref, f"<</Type/Font/Subtype/Type1/BaseFont/Helvetica/ToUnicode {cmap_xref} 0 R>>")
        doc.xref_set_key(page.xref, "Resources", f"<</Font<</F1 {font_xref} 0 R>>>>")
        lines = "".join(f"BT /F1 12 Tf 72 {720 - 20 * i} Td (ABCDEFGHIJ KLMNOPQRS TUVWXYZ) Tj ET\n" for i in range(9))
        content_xref = doc.get_new_xref()
        doc.update_object(content_xref, "<<>>")
        doc.update_stream(content_xref, lines.encode())
        doc.xref_set_key(page.xref, "Contents", f"{content_xref} 0 R")
        doc.save(path)
    return path


def test_unreadable_text_layer_needs_ocr(tmp_path: Path) -> None:
    doc = parse_pdf(garbage_font_pdf(tmp_path / "broken-font.pdf", readable_first_page=True))

    assert [page.number for page in doc.pages] == [1]
    assert doc.ocr_pages == (2,)
    assert doc.warnings == ("page 2 of 2 has an unreadable text layer (needs OCR)",)


def test_only_unreadable_text_is_a_parse_error(tmp_path: Path) -> None:
    path = garbage_font_pdf(tmp_path / "all-broken.pdf", readable_first_page=False)

    with pytest.raises(ParseError, match=r"^unreadable text layer on its only page \(needs OCR\)$"):
        parse_pdf(path)


def test_existing_ocr_layer_is_kept_with_a_warning() -> None:
    doc = parsed("en-scanned-garbage-ocr-layer.pdf")

    assert doc.ocr_pages == ()
    assert doc.warnings == (
        "page 1 of 1 has a scanned image with an existing OCR text layer, which may contain recognition errors",
        "page 1 of 1: layout analysis kept no text; used plain text",
    )
    assert "Hawaiian Sugar" in doc.pages[0].text


def test_dot_leaders_decoded_as_replacement_characters_are_not_garbage() -> None:
    # Page 68 lists websites with dot leaders that extract as runs of U+FFFD (25% of its characters).
    doc = parse_pdf(shared_pdf("bad-failure-after-repair.pdf"), layout_max_pages=0)

    assert doc.page_count == 76
    assert [page.number for page in doc.pages] == list(range(1, 77))
    assert doc.ocr_pages == ()
    assert "Useful websites" in page_text(doc, 68)
    assert "Understanding Breast Cancer" in page_text(doc, 1)


# --- files that cannot be read --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("bad-empty.pdf", r"^empty file \(0 bytes\)$"),
        ("bad-not-a-pdf.pdf", r"^not a PDF \(no %PDF header; starts with b'---\\nlayo'\)$"),
        ("bad-encrypted-password.pdf", r"^encrypted: a password is required$"),
        # MuPDF opens this one; its only text is a date stamped on a scanned signature page.
        ("bad-malformed.pdf", r"^no text layer on its only page \(needs OCR\)$"),
        ("zh-image-only-book-8p.pdf", r"^no text layer on any of the 8 pages \(needs OCR\)$"),
        ("en-flattened-no-text.pdf", r"^no text layer on its only page \(needs OCR\)$"),
    ],
)
def test_unreadable_pdfs_raise_parse_error(name: str, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_pdf(shared_pdf(name))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            b"%PDF-1.7\n" + bytes(range(256)) * 8,
            r"^malformed PDF: syntax error: .*cannot find startxref \(repair failed\)$",
        ),
        (b"%PDF-1.4\n%%EOF\n", r"^malformed PDF: .*\(repair failed\)$"),
        (b"\x89PNG\r\n\x1a\n", r"^not a PDF \(no %PDF header; starts with b'\\x89PNG\\r\\n\\x1a\\n'\)$"),
    ],
    ids=["garbage-body", "header-only", "png"],
)
def test_damaged_pdfs_raise_parse_error(tmp_path: Path, data: bytes, reason: str) -> None:
    path = tmp_path / "damaged.pdf"
    path.write_bytes(data)

    with pytest.raises(ParseError, match=reason):
        parse_pdf(path)


def test_truncated_pdf_raises_parse_error(tmp_path: Path) -> None:
    data = shared_pdf("en-copy-protected.pdf").read_bytes()
    path = tmp_path / "truncated.pdf"
    path.write_bytes(data[: len(data) // 3])

    with pytest.raises(ParseError, match=r"^malformed PDF: damaged and repaired, but no page has content"):
        parse_pdf(path)


# --- the sample documents -------------------------------------------------------------------------


def test_sample_pdf_round_trips() -> None:
    doc = parse_pdf(SAMPLES / "vector-search-primer.pdf")

    assert doc.page_count == 2
    assert doc.warnings == ()
    first, second = page_text(doc, 1), page_text(doc, 2)
    assert first.startswith("# Vector Search Primer 向量检索入门\n")
    assert "## 1. Similarity measures 相似度" in first.splitlines()
    table_rows = [line for line in first.splitlines() if line.startswith("|")]
    assert any("余弦相似度" in row and "-1 to 1" in row for row in table_rows)
    assert "找出距离最近的文本块。意思相近的句子" in first  # wrapped CJK lines joined without a space
    assert "IndexFlatIP" in second
    assert "结果与余弦相似度相同" in second
    assert "IndexFlatIP" not in first


def test_every_sample_document_parses_with_text() -> None:
    samples = sorted(path for path in SAMPLES.iterdir() if path.suffix.lower() in SUPPORTED_SUFFIXES)

    assert [path.name for path in samples] == [
        "ragchat-guide-zh.md",
        "ragchat-overview-en.md",
        "vector-search-primer.pdf",
    ]
    for path in samples:
        doc = parse_file(path)
        assert doc.pages, path.name
        assert all(page.text.strip() for page in doc.pages), path.name
        assert doc.ocr_pages == (), path.name
        assert no_layout_fallback(doc), path.name
