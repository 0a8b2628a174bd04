from __future__ import annotations

import itertools

import pytest

from ingest.chunking import Chunker, mostly_cjk, split_sentences, to_blocks
from ingest.parsed import PageText, ParsedDocument


def count_chars(text: str) -> int:
    """A token counter for tests: one token per character (plus 2 'special tokens', like a real model)."""
    return len(text) + 2


def doc(text: str, page: int | None = None) -> ParsedDocument:
    return ParsedDocument(pages=(PageText(page, text),))


def test_sentence_split_keeps_chinese_and_english_punctuation() -> None:
    parts = split_sentences("第一句。第二句！第三句？English one. English two! Done; 第四句；end")
    assert parts == ["第一句。", "第二句！", "第三句？", "English one.", " English two!", " Done;", " 第四句；", "end"]


def test_decimal_points_and_versions_are_not_sentence_ends() -> None:
    assert split_sentences("Python 3.11 is used. It works.") == ["Python 3.11 is used.", " It works."]


def test_markdown_and_numbered_headings_build_paths() -> None:
    text = (
        "# 2.5 基于LLM+向量库的文档对话 面\n\n"
        "### 2.5.1 为什么需要文档对话?\n\n因为模型没有私有知识。\n\n"
        "### 2.5.2 基于LLM+向量库的文档对话 思路是怎么样?\n\n先加载文件，再切分文本。\n"
    )
    drafts = Chunker(count_chars, max_tokens=200, overlap_tokens=10).chunk(doc(text))
    assert [d.heading for d in drafts] == [
        "2.5 基于LLM+向量库的文档对话 面 > 2.5.1 为什么需要文档对话?",
        "2.5 基于LLM+向量库的文档对话 面 > 2.5.2 基于LLM+向量库的文档对话 思路是怎么样?",
    ]
    assert drafts[1].text == "先加载文件，再切分文本。"
    assert drafts[1].index_text.startswith("2.5 基于LLM+向量库的文档对话 面 > 2.5.2")


def test_q_items_and_chinese_enumerations_are_headings() -> None:
    text = (
        "# LLM\n\n- Q30 **什么是幻觉?**\n    - 模型生成与事实不符的内容。\n\n"
        "一、数据选取原则\n\n数据要多样。\n\n二、数据选取方法\n\n按主题抽样。\n"
    )
    drafts = Chunker(count_chars, max_tokens=200, overlap_tokens=0).chunk(doc(text))
    headings = [d.heading for d in drafts]
    assert "LLM > Q30 什么是幻觉?" in headings
    assert "LLM > 一、数据选取原则" in headings
    assert "LLM > 二、数据选取方法" in headings  # a sibling replaces, it does not nest


def test_heading_without_body_makes_no_chunk_but_leads_to_children() -> None:
    text = "# 第一章\n\n## 1.1 小节\n\n正文内容在这里。\n"
    drafts = Chunker(count_chars, max_tokens=200, overlap_tokens=0).chunk(doc(text))
    assert len(drafts) == 1
    assert drafts[0].heading == "第一章 > 1.1 小节"


def test_table_of_contents_of_questions_is_dropped() -> None:
    toc = "\n".join(f"  {i}. 问题{i}是什么?" for i in range(1, 6))
    body = "\n\n".join(f"问题{i}是什么?\n\n答案{i}：这是第{i}个答案的正文。" for i in range(1, 6))
    blocks = to_blocks(doc(f"目录\n\n{toc}\n\n{body}"))
    texts = [b.text for b in blocks]
    assert not any("1. 问题1是什么?" in t for t in texts)
    assert "答案3：这是第3个答案的正文。" in texts


def test_long_section_splits_on_sentences_with_overlap_and_never_mid_word() -> None:
    sentences = [f"Sentence number {i} talks about retrieval." for i in range(30)]
    drafts = Chunker(count_chars, max_tokens=200, overlap_tokens=60).chunk(doc("# Intro\n\n" + " ".join(sentences)))
    assert len(drafts) > 3
    for d in drafts:
        assert d.tokens <= 200
        assert d.text.startswith("Sentence number") and d.text.endswith("retrieval.")
    # neighbours share their boundary sentence
    for a, b in zip(drafts, drafts[1:], strict=False):
        assert a.text.split(".")[-2].strip() + "." in b.text


def test_overlong_sentence_is_cut_at_word_boundaries() -> None:
    words = " ".join(f"word{i}" for i in range(200))
    drafts = Chunker(count_chars, max_tokens=100, overlap_tokens=0).chunk(doc(words))
    joined = " ".join(d.text for d in drafts).split()
    assert joined == words.split()


def test_code_block_and_table_kept_whole_when_they_fit() -> None:
    code = "```python\ndef f():\n    return 1\n\n\ndef g():\n    return 2\n```"
    table = "| a | b |\n|---|---|\n| 1 | 2 |"
    drafts = Chunker(count_chars, max_tokens=60, overlap_tokens=0).chunk(doc(f"# T\n\n{code}\n\n{table}"))
    assert any(code in d.text for d in drafts)
    assert any(table in d.text for d in drafts)


def test_pages_are_tracked_per_chunk() -> None:
    parsed = ParsedDocument(
        pages=(PageText(1, "# Title\n\nFirst page text."), PageText(2, "Second page text."), PageText(3, "x " * 150)),
        page_count=3,
    )
    drafts = Chunker(count_chars, max_tokens=120, overlap_tokens=0).chunk(parsed)
    assert drafts[0].page == 1 and drafts[0].page_end == 2
    assert drafts[-1].page == 3


def test_bad_parameters_are_rejected_with_the_value() -> None:
    with pytest.raises(ValueError, match="overlap_tokens"):
        Chunker(count_chars, max_tokens=50, overlap_tokens=50)


def test_english_full_stop_before_chinese_text_ends_a_sentence() -> None:
    assert split_sentences("微调成本低.LoRA的原理") == ["微调成本低.", "LoRA的原理"]
    assert split_sentences("设计.通过引入低秩矩阵") == ["设计.", "通过引入低秩矩阵"]


def test_bold_label_line_is_a_heading_so_an_otherwise_empty_section_makes_no_chunk() -> None:
    text = (
        "## 2.6 PEFT\n\n### 2.6.3 LoRA 的特点是什么?\n\n  - **QLoRA篇**\n\n### 2.6.4 QLoRA 的思路是怎么样的?\n\n"
        "### 2.6.7 Prefix 是什么?\n\n**收集数据**：\n\n先收集领域语料。\n"
    )
    drafts = Chunker(count_chars, max_tokens=200, overlap_tokens=0).chunk(doc(text))
    assert [(d.heading, d.text) for d in drafts] == [("2.6 PEFT > 2.6.7 Prefix 是什么? > 收集数据", "先收集领域语料。")]


@pytest.mark.parametrize(
    ("text", "cjk"),
    [
        ("LoRA 微调的基本原理是冻结预训练权重，只训练低秩矩阵 A 和 B。", True),
        ("Dense passage retrieval encodes questions and passages; 李明 and 王芳 proposed it.", False),
        ("안녕하세요. 표와 텍스트가 있는 문서입니다.", True),
        ("3.14 + 2.71 = 5.85; 1, 2, 3.", True),  # no words and no CJK characters: either pair would do
    ],
)
def test_script_is_decided_by_cjk_characters_against_words(text: str, cjk: bool) -> None:
    assert mostly_cjk(text) is cjk


def test_english_documents_are_cut_with_the_alphabetic_budget() -> None:
    chunker = Chunker(
        count_chars, max_tokens=120, overlap_tokens=20, alphabetic_max_tokens=60, alphabetic_overlap_tokens=0
    )
    english = " ".join(f"Sentence number {i} is here." for i in range(20))
    chinese = "".join(f"这是第{i}个句子，讲向量检索。" for i in range(20))

    en = chunker.chunk(doc(english))
    zh = chunker.chunk(doc(chinese))

    assert max(d.tokens for d in en) <= 60 < max(d.tokens for d in zh) <= 120
    assert all(b.text.split(".")[0] not in a.text for a, b in itertools.pairwise(en))  # alphabetic: no overlap
    assert all(b.text.startswith(a.text.split("。")[-2] + "。") for a, b in itertools.pairwise(zh))
    assert chunker.signature == "heading-aware v3 CJK 120/20, alphabetic 60/0 tokens"
    assert Chunker(count_chars, 120, 20).signature == "heading-aware v3 120/20 tokens"
