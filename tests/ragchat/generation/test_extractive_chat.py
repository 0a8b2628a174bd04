"""The extractive backend and the pipeline's pure parts: packing to a token budget, citation numbers."""

from __future__ import annotations

import pytest

from ragchat.domain import Chunk, Hit
from ragchat.generation.chat import cited_numbers, pack_sources, snippet
from ragchat.generation.extractive import ExtractiveChatModel, split_into_sentences
from ragchat.generation.types import GenerationInput, Source
from ragchat.retrieval.embedders import HashEmbedder


def hit(text: str, rank: int = 1, heading: str = "h") -> Hit:
    chunk = Chunk(id=rank, doc_id="d", doc_name="n.md", position=rank, text=text, heading=heading, page=3, page_end=3)
    return Hit(chunk=chunk, score=1 / rank, rank=rank, dense_score=0.9, dense_rank=rank)


def test_pack_sources_keeps_best_first_within_budget() -> None:
    hits = [hit("a" * 100, 1), hit("b" * 1000, 2), hit("c" * 50, 3)]
    sources = pack_sources(hits, budget=200, count_tokens=len)
    assert [s.hit.chunk.text[0] for s in sources] == ["a", "c"]
    assert [s.n for s in sources] == [1, 2]
    [only] = pack_sources([hit("x" * 1000)], budget=100, count_tokens=len)
    assert len(only.hit.chunk.text) <= 100


def test_cited_numbers_and_snippets() -> None:
    assert cited_numbers("A [2] and [1][2], not [9].", available=3) == [1, 2]
    assert snippet("First sentence here. Second one is quoted.", "x Second one is quoted. [1]") == (
        "Second one is quoted."
    )


def test_split_into_sentences_drops_markdown_noise() -> None:
    text = "## 标题\n- **LoRA** 冻结原权重。只训练低秩矩阵！\n| --- | --- |\n```python\nok\n```\nshort"
    assert split_into_sentences(text) == ["LoRA 冻结原权重。", "只训练低秩矩阵！"]


@pytest.fixture
def model() -> ExtractiveChatModel:
    return ExtractiveChatModel(HashEmbedder(), max_sentences=2)


def test_extractive_answer_quotes_best_sentences_with_citations(model: ExtractiveChatModel) -> None:
    sources = (
        Source(1, hit("LoRA 冻结预训练权重。LoRA 的缺点是低秩假设会限制表达能力。天气很好今天出门。", 1)),
        Source(2, hit("全参数微调更新所有参数，显存占用大。", 2)),
    )
    request = GenerationInput(question="LoRA 的缺点是什么？", lang="zh", sources=sources, messages=())
    answer = model.generate(request)
    assert "低秩假设会限制表达能力。" in answer and answer.rstrip().endswith("]")
    assert "[1]" in answer and "天气" not in answer
    assert "".join(model.stream(request)) == answer


def test_extractive_english_question_on_chinese_sources_says_so(model: ExtractiveChatModel) -> None:
    sources = (Source(1, hit("LoRA 的缺点是低秩假设会限制表达能力。", 1)),)
    answer = model.generate(GenerationInput(question="LoRA drawbacks?", lang="en", sources=sources, messages=()))
    assert answer.startswith("The sources say") and answer.endswith("[1]")
    english = (Source(1, hit("LoRA trains low-rank matrices. The base weights stay frozen.", 1)),)
    answer = model.generate(GenerationInput(question="How does LoRA train?", lang="en", sources=english, messages=()))
    assert answer.startswith("LoRA trains low-rank matrices.") and answer.endswith("[1]")
