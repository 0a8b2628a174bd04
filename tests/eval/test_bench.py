"""The benchmark and the performance paths it exercises: bulk insert, grown knowledge bases, the keyword
budget, the IVF index, and ``python -m eval.bench all`` end to end on tiny sizes (fake embedder, real SQLite,
FAISS and a real uvicorn server on loopback)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from eval.bench_server import Server, search_load
from eval.synthetic import Grower, clauses, grow, load_seed
from ragchat.domain import ChunkDraft, Document
from ragchat.kb import KnowledgeBases
from ragchat.retrieval.embedders import HashEmbedder
from ragchat.retrieval.retriever import Retriever
from ragchat.retrieval.vector_index import VectorIndex
from ragchat.store import NewDocument, Store

DOCS = {
    "rag.md": "# 混合检索\n\n混合检索把 BM25 的关键词排名和向量检索的排名用 RRF 融合。"
    "向量检索擅长语义，关键词检索擅长精确匹配。\n\n"
    "# 分块\n\n分块时按标题切分章节，长章节再按句子切分，相邻块之间保留重叠。每个块记录标题路径。\n",
    "lora.md": "# LoRA\n\nLoRA freezes the pretrained weights and trains two small low-rank matrices beside them. "
    "The model keeps its weights, the adapters are small.\n\n# QLoRA\n\nQLoRA quantises the frozen base model "
    "to 4-bit NormalFloat and trains LoRA adapters on top. The model fits on one GPU.\n",
}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def kbs(tmp_path: Path) -> KnowledgeBases:
    return KnowledgeBases(tmp_path / "data", HashEmbedder())


def _doc(source: str, chunks: int) -> Document:
    return Document(source[:16], "t", Path(source).name, source, "h", 0, 0, chunks, 0.0)


def test_add_documents_is_one_transaction_and_searchable(kbs: KnowledgeBases) -> None:
    kb = kbs.get("t", create=True)
    emb = HashEmbedder()
    texts = ["LoRA trains low-rank matrices", "混合检索用 RRF 融合排名", "FAISS stores dense vectors"]
    items = [
        NewDocument(_doc(f"src-{i}", 1), [ChunkDraft(t)], emb.embed([t], kind="passage")) for i, t in enumerate(texts)
    ]
    assert kb.add_documents(items) == 3
    assert kb.store.counts() == (3, 3) and len(kb.vector_index()) == 3
    assert Retriever(kb).search("low-rank LoRA", 1)[0].chunk.text == texts[0]
    generation = kb.store.generation
    with pytest.raises(sqlite3.IntegrityError):  # a source already there fails the whole batch
        kb.add_documents(
            [NewDocument(_doc("src-new", 1), [ChunkDraft("x")], emb.embed(["x"], kind="passage")), items[0]]
        )
    assert kb.store.counts() == (3, 3) and kb.store.generation == generation
    with pytest.raises(ValueError, match="2 drafts but 1 vectors"):
        NewDocument(_doc("bad", 2), [ChunkDraft("a"), ChunkDraft("b")], emb.embed(["a"], kind="passage"))


def test_counts_are_cached_per_generation(kbs: KnowledgeBases) -> None:
    kb = kbs.get("t", create=True)
    emb = HashEmbedder()
    kb.put_document(
        _doc("a", 1),
        [ChunkDraft("one")],
        dict(zip(kb.vector_keys([ChunkDraft("one")]), emb.embed(["one"], kind="passage"), strict=True)),
    )
    assert kb.store.counts() == (1, 1)
    kb.put_document(
        _doc("b", 1),
        [ChunkDraft("two")],
        dict(zip(kb.vector_keys([ChunkDraft("two")]), emb.embed(["two"], kind="passage"), strict=True)),
    )
    assert kb.store.counts() == (2, 2)
    other = Store(kb.store.path)  # a write from another connection (another process) is seen too
    other.delete_document(kb.store.documents()[0].id)
    other.close()
    assert kb.store.counts() == (1, 1)


def test_keyword_budget_keeps_the_rarest_terms(tmp_path: Path) -> None:
    store = Store(tmp_path / "kb.sqlite")
    common = [f"model text {i} rare{i}" for i in range(40)]
    vecs = np.ones((1, 4), dtype=np.float32)
    store.add_documents([NewDocument(_doc(f"d{i}", 1), [ChunkDraft(t)], vecs) for i, t in enumerate(common)], "m")
    assert store.doc_freqs(["model", "rare3", "nothing"], cap=None) == {"model": 40, "rare3": 1, "nothing": 0}
    assert store.doc_freqs(["model"], cap=10) == {"model": 10}
    # "model" and "text" match every chunk (idf ~0) and blow the budget: only the rare term is searched
    assert store.selective_terms(["model", "text", "rare3", "nothing"], budget=5) == ["rare3"]
    assert [h.chunk_id for h in store.keyword_search(["model", "rare3"], 5)] == [
        h.chunk_id for h in store.keyword_search(["rare3"], 5)
    ]
    assert len(store.keyword_search(["model", "rare3"], 50, budget=None)) == 40  # no budget: every match
    assert store.selective_terms(["model", "text"], budget=5) == ["model"]  # only common terms: keep one
    store.close()


def test_vector_index_turns_ivf_above_the_threshold(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((1500, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(1500, dtype=np.int64) * 7 + 3
    index = VectorIndex(32, exact_max=1000)
    index.add(ids[:900], vectors[:900])
    assert index.kind == "flat"
    index.add(ids[900:], vectors[900:])
    assert index.approximate and index.kind.startswith("ivf") and len(index) == 1500
    exact = np.argsort(-(vectors @ vectors[5]))[:10]
    assert len({i for i, _ in index.search(vectors[5], 10)} & set(ids[exact].tolist())) >= 9
    index.remove(ids[:100])
    assert len(index) == 1400 and ids[5] not in {i for i, _ in index.search(vectors[5], 10)}
    index.save(tmp_path / "i.faiss")
    loaded = VectorIndex.load(tmp_path / "i.faiss", exact_max=1000)
    assert loaded.kind == index.kind and loaded.search(vectors[200], 3) == index.search(vectors[200], 3)
    built = VectorIndex.build(
        32, [(ids[i : i + 256], vectors[i : i + 256]) for i in range(0, 1500, 256)], total=1500, exact_max=1000
    )
    assert built.approximate and len(built) == 1500


def test_grown_knowledge_bases_nest_and_vary(kbs: KnowledgeBases, corpus: Path) -> None:
    from ingest.pipeline import make_ingestor
    from ragchat.config import Settings

    seed_kb = kbs.get("seed", create=True)
    make_ingestor(seed_kb, Settings(chunk_tokens=40, chunk_overlap=8, embed_batch_size=8, max_file_mb=1)).ingest(
        [corpus]
    )
    seed = load_seed(seed_kb.store.path)
    assert len(seed) >= 4
    small, large = kbs.get("small", create=True), kbs.get("large", create=True)
    assert grow(small, seed, len(seed) + 3) == len(seed) + 3
    assert grow(large, seed, 3 * len(seed)) == 3 * len(seed)
    assert large.store.counts()[1] == len(large.vector_index()) == 3 * len(seed)
    texts = lambda kb: {r[0] for r in kb.store.conn.execute("SELECT text FROM chunks")}  # noqa: E731
    assert texts(small) <= texts(large)  # each size holds the smaller ones
    names = {d.name for d in large.store.documents()}
    assert {"rag.md", "rag~v1.md", "rag~v2.md"} <= names
    variant = Grower(seed).variant(0, 1)
    assert abs(float(np.linalg.norm(variant.vector)) - 1) < 1e-5
    assert 0.9 < float(variant.vector @ variant.seed.vector) < 0.999  # a perturbed copy of its real chunk
    fts = large.store.conn.execute("SELECT COUNT(*) FROM chunks_fts").fetchone()[0]
    assert fts == 3 * len(seed)
    assert clauses("一句。二句，three. four") == ["一句。", "二句，", "three.", " four"]


@pytest.mark.server
@pytest.mark.slow
def test_bench_all_end_to_end(tmp_path: Path, corpus: Path) -> None:
    from eval.bench import run

    dataset = tmp_path / "qa.jsonl"
    dataset.write_text(json.dumps({"query": "LoRA 低秩矩阵"}) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    run(
        ["all", "--sizes", "30", "90", "--out", str(out), "--corpus", str(corpus), "--pdfs", "--dataset", str(dataset),
         "--work-dir", str(tmp_path / "work"), "--embedder", "fake", "--requests", "12", "--clients", "3",
         "--repeat", "2"]
    )  # fmt: skip
    ingest = json.loads((out / "ingest.json").read_text())
    assert [(r["system"], r["phase"], r["round"]) for r in ingest["runs"]] == [
        ("ragchat", "first", 0), ("ragchat", "again", 0), ("baseline", "first", 0),
        ("baseline", "first", 1), ("ragchat", "first", 1),
    ]  # fmt: skip
    runs = {(r["system"], r["phase"]): r for r in ingest["runs"]}
    assert runs["ragchat", "first"]["chunks"] > 0 and runs["baseline", "first"]["chunks"] > 0
    assert runs["ragchat", "again"]["embedded_texts"] == 0  # unchanged files are not embedded again
    ragchat_walls = sorted(r["wall_s"] for r in ingest["runs"] if r["system"] == "ragchat" and r["phase"] == "first")
    assert ingest["median_first_wall_s"]["ragchat"] == pytest.approx(sum(ragchat_walls) / 2, abs=1e-3)
    query = json.loads((out / "query.json").read_text())
    assert [s["chunks"] for s in query["sizes"]] == [30, 90]
    for size in query["sizes"]:
        assert size["server"]["single"]["errors"] == size["server"]["concurrent"]["errors"] == 0
        assert size["server"]["concurrent"]["clients"] == 3 and size["server"]["rss_mib_after_load"] > 0
        assert size["stages"]["exactness"]["dense_recall@10"] == 1.0  # flat index: exact
    memory = json.loads((out / "memory.json").read_text())
    assert memory["size"] == 90 and memory["peak_rss_mib"] >= memory["rss_mib_after_start"] > 0
    assert (out / "scaling.png").stat().st_size > 1000


@pytest.mark.server
def test_search_load_counts_errors(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    with Server(tmp_path / "data", embedder="fake", log=tmp_path / "server.log") as server:
        result = search_load(server, "missing", ["a", "b"], clients=2, requests=4)
    assert result.errors == 4 and "HTTP 404" in result.error_samples[0]


def test_embed_rates_cut_the_same_text_into_longer_passages(corpus: Path) -> None:
    from eval.bench_ingest import embed_rates

    rows = embed_rates([corpus], "fake", lengths=(16, 64), tokens=400)
    assert [r["target_tokens"] for r in rows] == [16, 64]
    assert rows[0]["passages"] > rows[1]["passages"] and rows[0]["mean_tokens"] < rows[1]["mean_tokens"]
    assert all(r["tokens_per_s"] > 0 for r in rows)
