"""The SQLite half of a knowledge base: documents, chunks, cached vectors and the FTS5 keyword index.

SQLite is the source of truth. One document is written (or replaced, or deleted) in one transaction, so a
crash leaves either the old or the new version, never a mix. The FAISS index is derived from the vectors
stored here and tagged with the ``generation`` counter this module bumps on every write.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ragchat.domain import Chunk, ChunkDraft, Document, sha256_hex
from ragchat.text import keyword_tokens

SCHEMA_VERSION = 2

# Statements that bring a database from version N to N + 1, applied in one transaction on open.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: ("ALTER TABLE documents ADD COLUMN chunking TEXT NOT NULL DEFAULT ''",),
}
_DOC_COLUMNS = "id, name, source, file_hash, size_bytes, pages, chunks, added_at, warnings, chunking"

KEYWORD_POSTINGS_BUDGET = 5000
"""Most FTS5 rows one keyword search may score (the sum of its terms' document frequencies).

FTS5 scores every row that matches any term of an OR-query, ~1-3 us a row on this 2-core machine, and
a term such as "模型" can match most of a large knowledge base. :meth:`Store.keyword_search` therefore keeps
the query's rarest terms up to this budget and drops the commonest, whose BM25 weight (idf) is smallest;
terms matching more than half of all chunks have an idf FTS5 clamps to ~0 and are always dropped (they
only decide membership), and the rarest term is always kept."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    source TEXT NOT NULL UNIQUE,
    file_hash TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    pages INTEGER NOT NULL,
    chunks INTEGER NOT NULL,
    added_at REAL NOT NULL,
    warnings TEXT NOT NULL DEFAULT '[]',
    chunking TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    text TEXT NOT NULL,
    heading TEXT NOT NULL,
    page INTEGER,
    page_end INTEGER,
    tokens INTEGER NOT NULL,
    vector_key TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id, position);
CREATE INDEX IF NOT EXISTS chunks_vector ON chunks(vector_key);
CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    tokens, tokenize = 'porter unicode61 remove_diacritics 2'
);
"""


def chunk_id(doc_id: str, position: int, text: str) -> int:
    """Content-hash id that fits FAISS's int64: the same chunk of the same document keeps its id."""
    return int(sha256_hex(doc_id, str(position), text)[:15], 16)


def vector_key(model: str, index_text: str) -> str:
    return sha256_hex(model, index_text)


def fts_query(tokens: Iterable[str]) -> str:
    """An FTS5 OR-query of quoted terms (quotes make every token a literal, whatever it contains)."""
    unique = dict.fromkeys(tokens)
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in unique)


@dataclass(frozen=True)
class KeywordHit:
    chunk_id: int
    score: float


@dataclass(frozen=True)
class NewDocument:
    """A document to bulk-insert with its chunks and their vectors (one row per draft).

    ``keywords`` optionally gives each chunk's keyword tokens already joined by spaces (what
    :func:`keyword_tokens` makes of its ``index_text``), so large synthetic loads can tokenise once and reuse.
    """

    doc: Document
    drafts: Sequence[ChunkDraft]
    vectors: np.ndarray
    keywords: Sequence[str] | None = None

    def __post_init__(self) -> None:
        if len(self.vectors) != len(self.drafts):
            raise ValueError(f"{len(self.drafts)} drafts but {len(self.vectors)} vectors for {self.doc.source!r}")
        if self.keywords is not None and len(self.keywords) != len(self.drafts):
            raise ValueError(f"{len(self.drafts)} drafts but {len(self.keywords)} keyword rows for {self.doc.source!r}")


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self._counts: tuple[int, tuple[int, int]] | None = None  # (generation, counts)
        self._doc_freqs: tuple[int, dict[str, int]] = (-1, {})  # (generation, capped FTS5 doc frequencies)
        with self.transaction():
            fresh = not self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'documents'").fetchone()
            if not fresh:
                self._migrate()
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self.conn.execute(statement)
            if self.get_meta("schema_version") is None:
                self.set_meta("schema_version", str(SCHEMA_VERSION))
                self.set_meta("generation", "0")
                self.set_meta("created_at", str(time.time()))
        version = int(self.get_meta("schema_version") or 0)
        if version != SCHEMA_VERSION:
            raise RuntimeError(f"{path}: schema version {version}, this ragchat reads {SCHEMA_VERSION}")

    def _migrate(self) -> None:
        version = int(self.get_meta("schema_version") or 0)
        while version in _MIGRATIONS:
            for statement in _MIGRATIONS[version]:
                self.conn.execute(statement)
            version += 1
            self.set_meta("schema_version", str(version))

    def close(self) -> None:
        self.conn.close()

    # -- transactions and meta -------------------------------------------------------------------------
    def transaction(self) -> _Transaction:
        return _Transaction(self.conn)

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    @property
    def generation(self) -> int:
        return int(self.get_meta("generation") or 0)

    def _bump_generation(self) -> None:
        self.set_meta("generation", str(self.generation + 1))

    # -- documents -------------------------------------------------------------------------------------
    def document_by_source(self, source: str) -> Document | None:
        row = self.conn.execute(f"SELECT {_DOC_COLUMNS} FROM documents WHERE source = ?", (source,)).fetchone()
        return None if row is None else self._document(row)

    def document(self, doc_id: str) -> Document | None:
        row = self.conn.execute(f"SELECT {_DOC_COLUMNS} FROM documents WHERE id = ?", (doc_id,)).fetchone()
        return None if row is None else self._document(row)

    def documents(self) -> list[Document]:
        rows = self.conn.execute(f"SELECT {_DOC_COLUMNS} FROM documents ORDER BY name, source").fetchall()
        return [self._document(r) for r in rows]

    def counts(self) -> tuple[int, int]:
        """(documents, chunks). Cached per generation: COUNT(*) scans an index, ~10 ms at 100k chunks."""
        generation = self.generation  # read first: a write committed meanwhile only makes the cache miss later
        cached = self._counts
        if cached is not None and cached[0] == generation:
            return cached[1]
        docs = self.conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        chunks = self.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        counts = (int(docs), int(chunks))
        if not self.conn.in_transaction:  # uncommitted counts must not outlive a rollback
            self._counts = (generation, counts)
        return counts

    def _document(self, row: Sequence[object]) -> Document:
        doc_id, name, source, file_hash, size, pages, chunks, added_at, warnings, chunking = row
        return Document(
            id=str(doc_id),
            kb=self.path.parent.name,
            name=str(name),
            source=str(source),
            file_hash=str(file_hash),
            size_bytes=int(size),  # type: ignore[call-overload]
            pages=int(pages),  # type: ignore[call-overload]
            chunks=int(chunks),  # type: ignore[call-overload]
            added_at=float(added_at),  # type: ignore[arg-type]
            warnings=tuple(json.loads(str(warnings))),
            chunking=str(chunking),
        )

    def cached_vectors(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 500):
            part = list(keys[start : start + 500])
            marks = ",".join("?" * len(part))
            for key, blob in self.conn.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", part):
                out[key] = np.frombuffer(blob, dtype=np.float32)
        return out

    def chunk_ids_of(self, doc_id: str) -> np.ndarray:
        rows = self.conn.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,)).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def put_document(
        self,
        doc: Document,
        drafts: Sequence[ChunkDraft],
        keys: Sequence[str],
        new_vectors: dict[str, np.ndarray],
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Write ``doc`` and its chunks, replacing any earlier version from the same source, atomically.

        Returns (removed chunk ids, added chunk ids, their vectors) for the caller's FAISS index.
        """
        with self.transaction():
            old = self.document_by_source(doc.source)
            old_keys = self._vector_keys_of(old.id) if old is not None else []
            removed = self._delete_rows(old.id) if old is not None else np.zeros(0, dtype=np.int64)
            self._insert_document(doc, len(drafts))
            self.conn.executemany(
                "INSERT OR IGNORE INTO vectors(key, vector) VALUES (?, ?)",
                [(k, v.astype(np.float32).tobytes()) for k, v in new_vectors.items()],
            )
            ids = np.array([chunk_id(doc.id, i, d.text) for i, d in enumerate(drafts)], dtype=np.int64)
            self.conn.executemany(
                "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (int(cid), doc.id, i, d.text, d.heading, d.page, d.page_end, d.tokens, k)
                    for i, (cid, d, k) in enumerate(zip(ids, drafts, keys, strict=True))
                ],
            )
            self.conn.executemany(
                "INSERT INTO chunks_fts(rowid, tokens) VALUES (?, ?)",
                [(int(cid), " ".join(keyword_tokens(d.index_text))) for cid, d in zip(ids, drafts, strict=True)],
            )
            self._drop_orphan_vectors(old_keys)
            self._bump_generation()
            vectors = self.cached_vectors(list(keys))
            matrix = np.stack([vectors[k] for k in keys]) if keys else np.zeros((0, 0), dtype=np.float32)
        return removed, ids, matrix

    def add_documents(self, items: Sequence[NewDocument], model: str) -> tuple[np.ndarray, np.ndarray]:
        """Insert many new documents in one transaction (all or none); the bulk path for large loads.

        Unlike :meth:`put_document` it does not replace: a source already stored fails the whole batch
        with ``sqlite3.IntegrityError``. Vector keys are computed here for ``model``. Returns (chunk ids,
        vectors) in insertion order for the caller's FAISS index.
        """
        ids: list[int] = []
        vectors: list[np.ndarray] = []
        with self.transaction():
            for item in items:
                doc, drafts = item.doc, item.drafts
                self._insert_document(doc, len(drafts))
                keys = [vector_key(model, d.index_text) for d in drafts]
                matrix = np.ascontiguousarray(item.vectors, dtype=np.float32)
                self.conn.executemany(
                    "INSERT OR IGNORE INTO vectors(key, vector) VALUES (?, ?)",
                    [(k, v.tobytes()) for k, v in zip(keys, matrix, strict=True)],
                )
                doc_ids = [chunk_id(doc.id, i, d.text) for i, d in enumerate(drafts)]
                self.conn.executemany(
                    "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (cid, doc.id, i, d.text, d.heading, d.page, d.page_end, d.tokens, k)
                        for i, (cid, d, k) in enumerate(zip(doc_ids, drafts, keys, strict=True))
                    ],
                )
                keywords = item.keywords or [" ".join(keyword_tokens(d.index_text)) for d in drafts]
                self.conn.executemany(
                    "INSERT INTO chunks_fts(rowid, tokens) VALUES (?, ?)", list(zip(doc_ids, keywords, strict=True))
                )
                ids.extend(doc_ids)
                vectors.append(matrix)
            if ids:
                self._bump_generation()
        if not vectors:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        return np.array(ids, dtype=np.int64), np.concatenate(vectors)

    def delete_document(self, doc_id: str) -> np.ndarray:
        with self.transaction():
            old_keys = self._vector_keys_of(doc_id)
            removed = self._delete_rows(doc_id)
            self._drop_orphan_vectors(old_keys)
            self._bump_generation()
        return removed

    def _delete_rows(self, doc_id: str) -> np.ndarray:
        ids = self.chunk_ids_of(doc_id)
        self.conn.executemany("DELETE FROM chunks_fts WHERE rowid = ?", [(int(i),) for i in ids])
        self.conn.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
        self.conn.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
        return ids

    def _insert_document(self, doc: Document, chunks: int) -> None:
        self.conn.execute(
            f"INSERT INTO documents ({_DOC_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                doc.id,
                doc.name,
                doc.source,
                doc.file_hash,
                doc.size_bytes,
                doc.pages,
                chunks,
                doc.added_at,
                json.dumps(list(doc.warnings), ensure_ascii=False),
                doc.chunking,
            ),
        )

    def _vector_keys_of(self, doc_id: str) -> list[str]:
        rows = self.conn.execute("SELECT DISTINCT vector_key FROM chunks WHERE doc_id = ?", (doc_id,))
        return [str(r[0]) for r in rows]

    def _drop_orphan_vectors(self, keys: Sequence[str]) -> None:
        """Delete the cached vectors of ``keys`` that no chunk uses any more (keys shared by chunks stay)."""
        self.conn.executemany(
            "DELETE FROM vectors WHERE key = ? AND NOT EXISTS (SELECT 1 FROM chunks WHERE vector_key = ?)",
            [(k, k) for k in keys],
        )

    # -- reading chunks --------------------------------------------------------------------------------
    def all_vectors(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) in batches, for rebuilding the FAISS index."""
        cursor = self.conn.execute(
            "SELECT c.id, v.vector FROM chunks c JOIN vectors v ON v.key = c.vector_key ORDER BY c.id"
        )
        while rows := cursor.fetchmany(4096):
            ids = np.array([r[0] for r in rows], dtype=np.int64)
            vecs = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
            yield ids, vecs

    def chunks_by_id(self, ids: Sequence[int]) -> dict[int, Chunk]:
        out: dict[int, Chunk] = {}
        for start in range(0, len(ids), 500):
            part = [int(i) for i in ids[start : start + 500]]
            marks = ",".join("?" * len(part))
            rows = self.conn.execute(
                "SELECT c.id, c.doc_id, d.name, c.position, c.text, c.heading, c.page, c.page_end "
                f"FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE c.id IN ({marks})",
                part,
            )
            for row in rows:
                out[int(row[0])] = Chunk(*row)
        return out

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        rows = self.conn.execute(
            "SELECT c.id, c.doc_id, d.name, c.position, c.text, c.heading, c.page, c.page_end "
            "FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE c.doc_id = ? ORDER BY c.position",
            (doc_id,),
        )
        return [Chunk(*row) for row in rows]

    def keyword_search(
        self, tokens: Sequence[str], k: int, *, budget: int | None = KEYWORD_POSTINGS_BUDGET
    ) -> list[KeywordHit]:
        """BM25 over the FTS5 index (SQLite's bm25() is negative: smaller is better; we flip the sign).

        With a ``budget`` only the query's rarest terms are searched (see :data:`KEYWORD_POSTINGS_BUDGET`);
        ``budget=None`` searches them all.
        """
        terms = list(dict.fromkeys(tokens))
        if not terms or k <= 0:
            return []
        if budget is not None and len(terms) > 1:
            terms = self.selective_terms(terms, budget)
            if not terms:
                return []
        rows = self.conn.execute(
            "SELECT rowid, bm25(chunks_fts) AS s FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY s LIMIT ?",
            (fts_query(terms), k),
        ).fetchall()
        return [KeywordHit(int(r[0]), -float(r[1])) for r in rows]

    def selective_terms(self, terms: Sequence[str], budget: int = KEYWORD_POSTINGS_BUDGET) -> list[str]:
        """The rarest ``terms`` whose document frequencies add up to at most ``budget`` (at least the rarest
        one), without terms that match no chunk or more than half of them; in the order given."""
        half = self.counts()[1] / 2
        freqs = self.doc_freqs(terms, cap=budget + 1)
        if all(f > budget for f in freqs.values() if f > 0):  # only common terms: find the least common exactly
            freqs = self.doc_freqs(terms, cap=None)
        kept: set[str] = set()
        total = 0
        for term in sorted((t for t in terms if freqs[t] > 0), key=lambda t: (freqs[t], t)):
            if kept and (total + freqs[term] > budget or freqs[term] > half):
                break
            kept.add(term)
            total += freqs[term]
        return [t for t in terms if t in kept]

    def doc_freqs(self, terms: Sequence[str], *, cap: int | None) -> dict[str, int]:
        """How many chunks each term matches in FTS5 (its own tokenizer and stemming), counted up to ``cap``
        (``None``: exactly).

        Counting a single term's rows is cheap (~0.05 us a row, a few hundred us at a cap of 5000) and the
        counts are cached until the next write.
        """
        limit = -1 if cap is None else cap  # LIMIT -1: no limit
        generation = self.generation
        cached_generation, cache = self._doc_freqs
        if cached_generation != generation or len(cache) > 100_000:
            cache = {}
            self._doc_freqs = (generation, cache)
        out: dict[str, int] = {}
        for term in terms:
            key = f"{limit}\x1f{term}"
            value = cache.get(key)
            if value is None:
                value = int(
                    self.conn.execute(
                        "SELECT COUNT(*) FROM (SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)",
                        (fts_query([term]), limit),
                    ).fetchone()[0]
                )
                if not self.conn.in_transaction:
                    cache[key] = value
            out[term] = value
        return out


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception (including KeyboardInterrupt)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.depth_owner = False

    def __enter__(self) -> sqlite3.Connection:
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN IMMEDIATE")
            self.depth_owner = True
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if not self.depth_owner:
            return
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
