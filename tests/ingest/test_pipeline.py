"""Incremental, idempotent ingest into a real knowledge base (SQLite + FTS5 + FAISS), with a fake embedder."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from ingest.pipeline import Ingestor, make_ingestor
from ragchat.config import Settings
from ragchat.errors import ModelMismatch, NotFound
from ragchat.kb import KnowledgeBase, KnowledgeBases
from ragchat.retrieval.embedders import HashEmbedder
from ragchat.retrieval.retriever import Retriever

NOTE_A = (
    "# 向量检索\n\n向量检索把文本变成向量，用余弦相似度找最近的段落。\n\n"
    "## FAISS\n\nFAISS 是 Facebook 开源的向量索引库。\n"
)
NOTE_B = "# BM25\n\nBM25 is a keyword ranking function based on term frequency and inverse document frequency.\n"


class OtherEmbedder(HashEmbedder):
    name = "fake/other-model"


def make(tmp_path: Path, embedder: HashEmbedder | None = None) -> tuple[KnowledgeBases, KnowledgeBase, Ingestor]:
    kbs = KnowledgeBases(tmp_path / "data", embedder or HashEmbedder())
    kb = kbs.get("notes", create=True)
    return kbs, kb, make_ingestor(kb, Settings(chunk_tokens=64, chunk_overlap=8, embed_batch_size=4, max_file_mb=1))


def consistent(kb: KnowledgeBase) -> int:
    """Assert the three stores agree and return the chunk count."""
    conn = kb.store.conn
    chunks = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    fts = conn.execute("SELECT COUNT(*) FROM chunks_fts").fetchone()[0]
    per_doc = dict(conn.execute("SELECT doc_id, COUNT(*) FROM chunks GROUP BY doc_id").fetchall())
    docs = dict(conn.execute("SELECT id, chunks FROM documents").fetchall())
    assert fts == chunks
    assert per_doc == {k: v for k, v in docs.items() if v}
    orphans = conn.execute("SELECT COUNT(*) FROM chunks WHERE vector_key NOT IN (SELECT key FROM vectors)")
    assert orphans.fetchone()[0] == 0
    assert len(kb.vector_index()) == chunks
    return int(chunks)


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.md").write_text(NOTE_A, encoding="utf-8")
    (folder / "b.txt").write_text(NOTE_B, encoding="utf-8")
    (folder / "c.docx").write_bytes(b"PK\x03\x04")
    return folder


def test_ingest_reports_added_and_skipped_and_search_finds_both_languages(tmp_path: Path, notes: Path) -> None:
    _, kb, ingestor = make(tmp_path)
    report = ingestor.ingest([notes])
    assert {Path(o.path).name: o.status for o in report.outcomes} == {
        "a.md": "added",
        "b.txt": "added",
        "c.docx": "skipped",
    }
    assert "unsupported file type '.docx'" in report.outcomes[-1].reason
    assert consistent(kb) == report.chunks > 0
    retriever = Retriever(kb)
    top = retriever.search("FAISS 向量索引", 3)[0]
    assert top.chunk.doc_name == "a.md" and top.chunk.heading == "向量检索 > FAISS"
    assert top.bm25_rank == 1 and top.dense_rank is not None and top.rank == 1
    assert retriever.search("inverse document frequency", 1)[0].chunk.doc_name == "b.txt"


def test_reingest_unchanged_is_a_noop_and_keeps_ids(tmp_path: Path, notes: Path) -> None:
    _, kb, ingestor = make(tmp_path)
    ingestor.ingest([notes])
    ids_before = kb.store.conn.execute("SELECT id FROM chunks ORDER BY id").fetchall()
    generation = kb.store.generation
    report = ingestor.ingest([notes])
    assert [o.status for o in report.outcomes] == ["unchanged", "unchanged", "skipped"]
    assert kb.store.generation == generation
    assert kb.store.conn.execute("SELECT id FROM chunks ORDER BY id").fetchall() == ids_before


def test_changed_file_replaces_its_chunks_and_reuses_unchanged_vectors(
    tmp_path: Path, notes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, kb, ingestor = make(tmp_path)
    ingestor.ingest([notes])
    embedded: list[str] = []
    original = kb.embedder.embed

    def spy(texts: list[str], *, kind: str) -> np.ndarray:
        embedded.extend(texts)
        return original(texts, kind=kind)  # type: ignore[arg-type]

    monkeypatch.setattr(kb.embedder, "embed", spy)
    (notes / "a.md").write_text(NOTE_A + "\n## HNSW\n\nHNSW 是一种图索引。\n", encoding="utf-8")
    report = ingestor.ingest([notes / "a.md"])
    assert report.outcomes[0].status == "replaced"
    assert len(embedded) == 1 and "HNSW" in embedded[0]  # only the new chunk was embedded
    consistent(kb)
    assert len(kb.store.documents()) == 2
    assert Retriever(kb).search("HNSW 图索引", 1)[0].chunk.heading == "向量检索 > HNSW"


def test_delete_removes_document_from_all_three_stores(tmp_path: Path, notes: Path) -> None:
    _, kb, ingestor = make(tmp_path)
    ingestor.ingest([notes])
    doc = next(d for d in kb.store.documents() if d.name == "a.md")
    with kb.writer():
        kb.delete_document(doc.id)
        kb.save_index()
    assert consistent(kb) == kb.store.documents()[0].chunks
    assert all(h.chunk.doc_name == "b.txt" for h in Retriever(kb).search("FAISS 向量", 5))
    with pytest.raises(NotFound):
        kb.delete_document(doc.id)
    # a fresh process sees the same state from disk
    reopened = KnowledgeBases(tmp_path / "data", HashEmbedder()).get("notes")
    assert consistent(reopened) == consistent(kb)


def test_knowledge_base_refuses_another_embedding_model(tmp_path: Path, notes: Path) -> None:
    make(tmp_path)[2].ingest([notes])
    with pytest.raises(ModelMismatch, match=r"built with embedder 'fake/hash-64'.*ragchat kb delete notes"):
        KnowledgeBases(tmp_path / "data", OtherEmbedder()).get("notes")


def test_missing_faiss_file_is_rebuilt_from_sqlite(tmp_path: Path, notes: Path) -> None:
    _, kb, ingestor = make(tmp_path)
    ingestor.ingest([notes])
    for f in kb.directory.glob("index-*.faiss"):
        f.write_bytes(b"")  # a torn write would be a .tmp file; even a missing or stale file must not matter
        f.unlink()
    reopened = KnowledgeBases(tmp_path / "data", HashEmbedder()).get("notes")
    assert consistent(reopened) > 0
    assert list(reopened.directory.glob("index-*.faiss"))


def test_kb_names_are_validated_and_kbs_are_independent(tmp_path: Path, notes: Path) -> None:
    kbs, kb, ingestor = make(tmp_path)
    ingestor.ingest([notes])
    other = kbs.get("other", create=True)
    assert other.store.counts() == (0, 0)
    assert Retriever(other).search("FAISS", 3) == []
    with pytest.raises(Exception, match="invalid knowledge base name"):
        kbs.get("../escape", create=True)
    kbs.delete("other")
    assert kbs.names() == ["notes"]


def test_new_chunk_settings_rechunk_unchanged_files(tmp_path: Path, notes: Path) -> None:
    kbs, kb, ingestor = make(tmp_path)
    ingestor.ingest([notes])
    finer = make_ingestor(kb, Settings(chunk_tokens=32, chunk_overlap=4, embed_batch_size=4, max_file_mb=1))
    report = finer.ingest([notes])
    assert [o.status for o in report.outcomes] == ["replaced", "replaced", "skipped"]
    assert {d.chunking for d in kb.store.documents()} == {finer.chunker.signature}
    assert [o.status for o in finer.ingest([notes]).outcomes] == ["unchanged", "unchanged", "skipped"]
    consistent(kb)


def test_a_version_1_database_is_migrated_in_place(tmp_path: Path, notes: Path) -> None:
    import sqlite3

    _, kb, ingestor = make(tmp_path)
    ingestor.ingest([notes])
    kb.close()
    db = kb.directory / "kb.sqlite"
    with sqlite3.connect(db) as conn:  # what a database written by schema version 1 looks like
        conn.execute("ALTER TABLE documents DROP COLUMN chunking")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    reopened = KnowledgeBases(tmp_path / "data", HashEmbedder()).get("notes")
    assert reopened.store.get_meta("schema_version") == "2"
    assert {d.chunking for d in reopened.store.documents()} == {""}
    assert consistent(reopened) > 0


def test_a_knowledge_base_being_written_cannot_be_deleted(tmp_path: Path, notes: Path) -> None:
    from ragchat.errors import IndexNotReady

    kbs, kb, ingestor = make(tmp_path)
    ingestor.ingest([notes])
    with kb.writer(), pytest.raises(IndexNotReady, match="busy"):
        KnowledgeBases(tmp_path / "data", HashEmbedder()).delete("notes")
    kbs.delete("notes")
    assert kbs.names() == []


class GatedEmbedder(HashEmbedder):
    """Embeds only once the next file's parse has started, so a sequential ingest would wait forever."""

    def __init__(self, started: threading.Event) -> None:
        super().__init__()
        self.started = started
        self.overlapped: list[bool] = []

    def embed(self, texts, *, kind):  # type: ignore[no-untyped-def]
        if kind == "passage" and not self.overlapped:
            self.overlapped.append(self.started.wait(timeout=10))
        return super().embed(texts, kind=kind)


def test_the_next_file_is_parsed_while_this_one_is_embedded(
    tmp_path: Path, notes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ingest.pipeline as pipeline

    started = threading.Event()
    parser_threads: set[str] = set()
    real_parse = pipeline.parse_file

    def parse_file(path: Path):  # type: ignore[no-untyped-def]
        parser_threads.add(threading.current_thread().name)
        if path.name == "b.txt":
            started.set()
        return real_parse(path)

    monkeypatch.setattr(pipeline, "parse_file", parse_file)
    embedder = GatedEmbedder(started)
    _, kb, ingestor = make(tmp_path, embedder)
    paths = [notes / "a.md", notes / "b.txt", notes / "gone.md", notes / "c.docx"]
    report = ingestor.ingest_files([(p, str(p), p.name) for p in paths])  # gone.md vanished after discovery

    assert embedder.overlapped == [True]  # a.md's embedding began after b.txt's parse had started
    assert all(name.startswith("ragchat-parse") for name in parser_threads)
    assert [o.status for o in report.outcomes] == ["added", "added", "skipped", "skipped"]
    assert "FileNotFoundError" in report.outcomes[2].reason
    assert consistent(kb) == report.chunks


def test_each_pair_of_chunk_settings_is_validated_and_reaches_the_chunker(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r"alphabetic_chunk_overlap \(64\) must be smaller than alphabetic_chunk_tokens"
    ):
        Settings(alphabetic_chunk_tokens=64, alphabetic_chunk_overlap=64)
    _, kb, _ = make(tmp_path)
    chunker = make_ingestor(kb, Settings(chunk_tokens=300, chunk_overlap=30, alphabetic_chunk_tokens=200)).chunker
    assert (chunker.cjk.max_tokens, chunker.cjk.overlap_tokens) == (300, 30)
    assert (chunker.alphabetic.max_tokens, chunker.alphabetic.overlap_tokens) == (200, 48)
