"""Retrieval evaluation: ours (hybrid), dense-only, BM25-only and the LangChain-tutorial baseline, one run.

Evidence-quote datasets are scored per chunk (a chunk is relevant when it comes from an evidence document and
contains one of its quotes); BEIR folders per document (a document ranks where its best chunk ranks).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.datasets import QAItem
from eval.metrics import evidence_within_budget, hit_at, mrr_at, ndcg_at, recall_at
from ragchat.config import Settings
from ragchat.kb import KnowledgeBase, KnowledgeBases
from ragchat.retrieval.embedders import Embedder
from ragchat.retrieval.retriever import Mode, Retriever
from ragchat.services import retrieval_config

logger = logging.getLogger(__name__)

DEPTH = 10
BUDGETS = (1500, 3000)
HIT_KS = (1, 3, 5, 10)
OURS = "ours (hybrid)"
BASELINE = "langchain baseline"
PIPELINE_MODES: dict[str, Mode] = {OURS: "hybrid", "dense-only": "dense", "bm25-only": "bm25"}
Search = Callable[[str, int], list[tuple[str, str]]]  # query, k -> [(doc name, chunk text)] best first
Progress = Callable[[int], None]


@dataclass
class PipelineResult:
    name: str
    metrics: dict[str, float]
    by_type: dict[str, dict[str, float]] = field(default_factory=dict)
    by_lang: dict[str, dict[str, float]] = field(default_factory=dict)
    misses: list[dict[str, object]] = field(default_factory=list)
    chunks: int = 0

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "chunks": self.chunks,
            "metrics": self.metrics,
            "by_type": self.by_type,
            "by_lang": self.by_lang,
            "misses": self.misses,
        }


def _mean(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    if not rows:
        return {"queries": 0.0}
    out = {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}
    out["queries"] = float(len(rows))
    return out


def item_metrics(item: QAItem, ranked: Sequence[tuple[str, str]]) -> dict[str, float]:
    rels = [item.relevant(doc, text) for doc, text in ranked]
    found = [item.matched_quotes(doc, text) for doc, text in ranked]
    row = {f"hit@{k}": hit_at(rels, k) for k in HIT_KS}
    row["recall@5"] = recall_at(found, len(item.evidence), 5)
    row["recall@10"] = recall_at(found, len(item.evidence), 10)
    row["mrr@10"] = mrr_at(rels, 10)
    row["ndcg@10"] = ndcg_at(rels, len(item.evidence), 10)
    for budget in BUDGETS:
        row[f"within@{budget}"] = evidence_within_budget(ranked, budget, item.relevant)
    return row


def score_pipeline(
    name: str, items: Sequence[QAItem], search: Search, progress: Progress | None = None
) -> PipelineResult:
    """Every answerable item through ``search``; unanswerable items are skipped (and counted by the caller)."""
    rows: list[tuple[QAItem, dict[str, float]]] = []
    misses: list[dict[str, object]] = []
    for item in items:
        if progress:
            progress(1)
        if not item.answerable:
            continue
        ranked = search(item.query, DEPTH)
        row = item_metrics(item, ranked)
        rows.append((item, row))
        if not row["hit@10"]:
            misses.append(
                {
                    "id": item.id,
                    "query": item.query,
                    "gold": [f"{e.doc}: {e.quote}" for e in item.evidence],
                    "retrieved": [f"{doc}: {text[:80]}" for doc, text in ranked[:3]],
                }
            )
    by_type = {t: _mean([r for i, r in rows if i.type == t]) for t in sorted({i.type for i, _ in rows})}
    by_lang = {lang: _mean([r for i, r in rows if i.lang == lang]) for lang in sorted({i.lang for i, _ in rows})}
    return PipelineResult(name, _mean([r for _, r in rows]), by_type, by_lang, misses)


def kb_search(retriever: Retriever) -> Search:
    def search(query: str, k: int) -> list[tuple[str, str]]:
        return [(h.chunk.doc_name, h.chunk.text) for h in retriever.search(query, k)]

    return search


def kb_pipelines(kb: KnowledgeBase, settings: Settings) -> dict[str, Search]:
    return {
        name: kb_search(Retriever(kb, retrieval_config(settings, mode=mode, top_k=DEPTH)))
        for name, mode in PIPELINE_MODES.items()
    }


def build_corpus_kb(
    corpus: Sequence[Path], work_dir: Path, embedder: Embedder, settings: Settings, progress: Progress | None = None
) -> KnowledgeBase:
    """A knowledge base of ``corpus`` under ``work_dir`` (reused across runs: unchanged files are not redone)."""
    from ingest.pipeline import make_ingestor

    tag = "-".join(
        str(n)
        for n in (
            settings.chunk_tokens,
            settings.chunk_overlap,
            settings.alphabetic_chunk_tokens,
            settings.alphabetic_chunk_overlap,
        )
    )
    kb = KnowledgeBases(work_dir / f"kb-{tag}", embedder).get("eval", create=True)
    ingestor = make_ingestor(kb, settings)
    started = time.perf_counter()
    report = ingestor.ingest(list(corpus))
    logger.info(
        "eval kb %s: %s in %.0fs",
        tag,
        report.to_dict() | {"files": len(report.outcomes)},
        time.perf_counter() - started,
    )
    return kb


def baseline_search(files: Sequence[Path], embedder: Embedder) -> tuple[Search, int]:
    from eval.baseline import LangChainBaseline

    baseline = LangChainBaseline(files, embedder)
    return baseline.search, baseline.chunks


def compare_table(pipelines: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """Markdown table of ``columns`` per pipeline, plus ours / baseline ratios when both are present."""
    lines = ["| pipeline | chunks | " + " | ".join(columns) + " |", "|---" * (len(columns) + 2) + "|"]
    by_name = {str(p["name"]): p["metrics"] for p in pipelines}
    for p in pipelines:
        metrics: dict[str, float] = p["metrics"]  # type: ignore[assignment]
        lines.append(
            f"| {p['name']} | {p['chunks']} | " + " | ".join(f"{metrics.get(c, 0.0):.3f}" for c in columns) + " |"
        )
    ours, base = by_name.get(OURS), by_name.get(BASELINE)
    if ours and base:
        cells = [f"{ours[c] / base[c]:.2f}x" if base.get(c) else "-" for c in columns]  # type: ignore[index]
        lines.append("| ours / baseline | | " + " | ".join(cells) + " |")
    return "\n".join(lines)
