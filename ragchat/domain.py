"""Domain types: small frozen dataclasses with content-hash ids."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


def sha256_hex(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8") if isinstance(part, str) else part)
        h.update(b"\x1f")
    return h.hexdigest()


@dataclass(frozen=True)
class ChunkDraft:
    """A chunk as the chunker makes it, before it is stored.

    ``text`` is what the user sees and cites; ``heading_path`` leads to it and is embedded and
    keyword-indexed together with it (see :attr:`index_text`).
    """

    text: str
    heading_path: tuple[str, ...] = ()
    page: int | None = None
    page_end: int | None = None
    tokens: int = 0

    @property
    def heading(self) -> str:
        return " > ".join(self.heading_path)

    @property
    def index_text(self) -> str:
        return f"{self.heading}\n{self.text}" if self.heading_path else self.text


@dataclass(frozen=True)
class Document:
    id: str
    kb: str
    name: str
    source: str
    file_hash: str
    size_bytes: int
    pages: int
    chunks: int
    added_at: float
    warnings: tuple[str, ...] = ()
    chunking: str = ""  # the chunker and settings that cut it: re-ingesting with others re-chunks the file


@dataclass(frozen=True)
class Chunk:
    id: int
    doc_id: str
    doc_name: str
    position: int
    text: str
    heading: str
    page: int | None
    page_end: int | None


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with the trace of how it got there (ranks are 1-based, None = not retrieved)."""

    chunk: Chunk
    score: float
    rank: int
    dense_score: float | None = None
    dense_rank: int | None = None
    bm25_score: float | None = None
    bm25_rank: int | None = None
    extra: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        c = self.chunk
        return {
            "rank": self.rank,
            "score": self.score,
            "dense_score": self.dense_score,
            "dense_rank": self.dense_rank,
            "bm25_score": self.bm25_score,
            "bm25_rank": self.bm25_rank,
            "chunk_id": c.id,
            "doc_id": c.doc_id,
            "doc_name": c.doc_name,
            "page": c.page,
            "page_end": c.page_end,
            "heading": c.heading,
            "text": c.text,
        }
