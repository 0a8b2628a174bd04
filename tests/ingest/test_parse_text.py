from __future__ import annotations

from pathlib import Path

import pytest

from ingest.parse_text import parse_text
from ingest.parsing import SUPPORTED_SUFFIXES, parse_file
from ragchat.errors import BadInput, ParseError, UnsupportedFile

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_utf8_markdown_is_one_page_without_a_number(tmp_path: Path) -> None:
    path = write(tmp_path, "note.md", "# 标题\n\n混合检索 hybrid search\n".encode())

    doc = parse_text(path)

    assert [(page.number, page.text) for page in doc.pages] == [(None, "# 标题\n\n混合检索 hybrid search\n")]
    assert doc.page_count == 1
    assert doc.warnings == ()
    assert doc.ocr_pages == ()


def test_utf8_bom_is_stripped_and_newlines_normalised(tmp_path: Path) -> None:
    path = write(tmp_path, "bom.txt", b"\xef\xbb\xbf# Title\r\nline one\r\nline two\rline three\n")

    text = parse_text(path).pages[0].text

    assert text == "# Title\nline one\nline two\nline three\n"


def test_gb18030_file_is_decoded_with_a_warning(tmp_path: Path) -> None:
    # "𠀀" (U+20000) exists in GB18030 but not in GBK, so this really exercises GB18030.
    original = "第一章 分块策略\n中文文本按句号断句。𠀀\n"
    path = write(tmp_path, "gb.txt", original.encode("gb18030"))

    doc = parse_text(path)

    assert doc.pages[0].text == original
    assert len(doc.warnings) == 1
    assert doc.warnings[0].startswith("decoded as GB18030: not valid UTF-8 (byte 0xb5 at offset 0")


def test_gbk_file_decodes_through_gb18030(tmp_path: Path) -> None:
    path = write(tmp_path, "gbk.md", "## 向量检索\n余弦相似度\n".encode("gbk"))

    assert parse_text(path).pages[0].text == "## 向量检索\n余弦相似度\n"


def test_utf16_with_bom_is_decoded(tmp_path: Path) -> None:
    path = write(tmp_path, "notepad.txt", "Unicode 文本\r\n".encode("utf-16"))

    doc = parse_text(path)

    assert doc.pages[0].text == "Unicode 文本\n"
    assert doc.warnings == ("decoded as UTF-16 (byte order mark)",)


def test_neither_utf8_nor_gb18030_names_the_bad_bytes(tmp_path: Path) -> None:
    path = write(tmp_path, "latin.txt", b"caf\xe9 \x80\xff")

    with pytest.raises(ParseError) as caught:
        parse_text(path)

    message = str(caught.value)
    assert message.startswith("cannot decode text: not UTF-8 (byte 0xe9 at offset 3")
    assert "and not GB18030 (byte 0x" in message


def test_binary_file_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

    with pytest.raises(ParseError, match=r"^binary data, not text \(NUL byte at offset 8\)$"):
        parse_text(path)


def test_empty_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match=r"^empty file \(0 bytes\)$"):
        parse_text(write(tmp_path, "empty.md", b""))


def test_whitespace_only_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match=r"^empty file \(only whitespace in 6 bytes\)$"):
        parse_text(write(tmp_path, "blank.md", b" \r\n\t\n "))


def test_missing_file_is_a_parse_error(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="^cannot read file: No such file or directory$"):
        parse_text(tmp_path / "gone.md")


def test_supported_suffixes() -> None:
    assert frozenset({".md", ".markdown", ".txt", ".pdf"}) == SUPPORTED_SUFFIXES


def test_dispatch_ignores_suffix_case(tmp_path: Path) -> None:
    path = write(tmp_path, "README.MARKDOWN", b"# Upper case suffix\n")

    assert parse_file(path).pages[0].text == "# Upper case suffix\n"


def test_unsupported_suffix_is_named_with_the_supported_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "report.docx", b"PK\x03\x04")

    with pytest.raises(UnsupportedFile) as caught:
        parse_file(path)

    assert str(caught.value) == "unsupported file type '.docx' (supported: .markdown, .md, .pdf, .txt)"
    assert isinstance(caught.value, BadInput)


def test_file_without_suffix_is_unsupported(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFile, match=r"^unsupported file type without a suffix \('Makefile'\)"):
        parse_file(write(tmp_path, "Makefile", b"all:\n"))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ragchat-guide-zh.md", "## 混合检索与 RRF"),
        ("ragchat-guide-zh.md", "默认 k = 20，向量检索的权重 w 是 1.0，BM25 的权重是 0.3"),
        ("ragchat-overview-en.md", "| `RAGCHAT_RRF_K` | 20 | smoothing constant of reciprocal rank fusion |"),
        ("ragchat-overview-en.md", 'ragchat search "how does RRF work" --kb notes -k 5\n```'),
    ],
)
def test_markdown_samples_parse(name: str, expected: str) -> None:
    doc = parse_file(SAMPLES / name)

    assert doc.warnings == ()
    assert expected in doc.pages[0].text
