"""Wiring from settings: the one place that builds the embedder, the knowledge bases and retrievers."""

from __future__ import annotations

from dataclasses import dataclass

from ragchat.config import Settings
from ragchat.kb import KnowledgeBase, KnowledgeBases
from ragchat.retrieval.embedders import Embedder, make_embedder
from ragchat.retrieval.retriever import Mode, RetrievalConfig, Retriever


def retrieval_config(settings: Settings, *, mode: Mode = "hybrid", top_k: int | None = None) -> RetrievalConfig:
    return RetrievalConfig(
        top_k=top_k or settings.top_k,
        dense_candidates=settings.dense_candidates,
        bm25_candidates=settings.bm25_candidates,
        rrf_k=settings.rrf_k,
        dense_weight=settings.dense_weight,
        bm25_weight=settings.bm25_weight,
        mode=mode,
    )


@dataclass
class Services:
    settings: Settings
    embedder: Embedder
    kbs: KnowledgeBases

    @classmethod
    def build(cls, settings: Settings, embedder: Embedder | None = None) -> Services:
        embedder = embedder or make_embedder(settings.embedder, threads=settings.embed_threads)
        return cls(settings, embedder, KnowledgeBases(settings.data_dir, embedder))

    def kb(self, name: str | None = None, *, create: bool = False) -> KnowledgeBase:
        return self.kbs.get(name or self.settings.default_kb, create=create)

    def retriever(self, name: str | None = None, *, mode: Mode = "hybrid") -> Retriever:
        return Retriever(self.kb(name), retrieval_config(self.settings, mode=mode))

    def close(self) -> None:
        self.kbs.close()
