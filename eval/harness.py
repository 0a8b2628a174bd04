"""The eval runs behind ``ragchat eval``: each returns a JSON-able report and its Markdown summary."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from eval.datasets import load_qa
from eval.embed_cache import CachedEmbedder
from eval.report import plot_lines
from eval.retrieval import (
    BASELINE,
    HIT_KS,
    OURS,
    PIPELINE_MODES,
    PipelineResult,
    baseline_search,
    build_corpus_kb,
    compare_table,
    kb_pipelines,
    score_pipeline,
)
from ragchat.config import Settings
from ragchat.errors import BadInput
from ragchat.kb import KnowledgeBases
from ragchat.retrieval.embedders import Embedder, make_embedder
from ragchat.retrieval.retriever import Retriever
from ragchat.services import Services, retrieval_config

logger = logging.getLogger(__name__)

QA_COLUMNS = ("hit@1", "hit@3", "hit@5", "hit@10", "recall@10", "mrr@10", "ndcg@10", "within@1500", "within@3000")
BEIR_COLUMNS = ("hit@1", "hit@10", "recall@10", "recall@100", "mrr@10", "ndcg@10")
Tick = Callable[[int], None]
StartTask = Callable[[str, int], Tick]


@dataclass
class EvalOutput:
    report: dict[str, object]
    markdown: str


def eval_embedder(settings: Settings, spec: str | None, work_dir: Path) -> Embedder:
    """The configured embedder, with vectors cached under ``work_dir`` so repeated runs are cheap."""
    return CachedEmbedder(make_embedder(spec or settings.embedder), work_dir / "embeddings.sqlite")


def _source_files(kb_docs: list[str]) -> list[Path]:
    return [Path(s) for s in kb_docs if Path(s).exists()]


def retrieval_on_dataset(
    settings: Settings,
    dataset: Path,
    *,
    kb_name: str | None,
    corpus: list[Path],
    work_dir: Path,
    embedder_spec: str | None,
    baseline: bool,
    start: StartTask,
    plot_dir: Path | None,
) -> EvalOutput:
    items = load_qa(dataset)
    embedder = eval_embedder(settings, embedder_spec, work_dir)
    if kb_name:
        kb = KnowledgeBases(settings.data_dir, embedder).get(kb_name)
        files = corpus or _source_files([d.source for d in kb.store.documents()])
    elif corpus:
        tick = start("building knowledge base", 1)
        kb = build_corpus_kb(corpus, work_dir, embedder, settings)
        tick(1)
        from ingest.pipeline import discover

        files = discover(corpus)
    else:
        raise BadInput("give --kb NAME (an existing knowledge base) or --corpus DIR (to build one)")
    pipelines = kb_pipelines(kb, settings)
    results: list[PipelineResult] = []
    for name, search in pipelines.items():
        res = score_pipeline(name, items, search, start(name, len(items)))
        res.chunks = kb.store.counts()[1]
        results.append(res)
    if baseline:
        if not files:
            raise BadInput("the baseline needs the source files: give --corpus DIR (or use --no-baseline)")
        tick = start("langchain baseline (split + embed)", 1)
        search, chunks = baseline_search(files, embedder)
        tick(1)
        res = score_pipeline(BASELINE, items, search, start(BASELINE, len(items)))
        res.chunks = chunks
        results.append(res)
    report: dict[str, object] = {
        "kind": "retrieval",
        "dataset": str(dataset),
        "embedder": embedder.name,
        "items": len(items),
        "skipped_unanswerable": sum(1 for i in items if not i.answerable),
        "settings": {
            k: getattr(settings, k)
            for k in (
                "chunk_tokens",
                "chunk_overlap",
                "alphabetic_chunk_tokens",
                "alphabetic_chunk_overlap",
                "top_k",
                "rrf_k",
                "dense_weight",
                "bm25_weight",
            )
        },
        "pipelines": [r.to_dict() for r in results],
    }
    md = [
        f"# Retrieval eval: {dataset.name}",
        "",
        f"Embedder `{embedder.name}`; {report['items']} items, {report['skipped_unanswerable']} unanswerable skipped; "
        f"chunking {settings.chunk_tokens}/{settings.chunk_overlap} tokens (CJK), "
        f"{settings.alphabetic_chunk_tokens}/{settings.alphabetic_chunk_overlap} (alphabetic); RRF k={settings.rrf_k}, "
        f"weights dense {settings.dense_weight} / BM25 {settings.bm25_weight}.",
        "",
        compare_table(report["pipelines"], QA_COLUMNS),  # type: ignore[arg-type]
    ]
    ours = results[0]
    for title, groups in (("type", ours.by_type), ("lang", ours.by_lang)):
        md += [
            "",
            f"## {OURS} by {title}",
            "",
            f"| {title} | n | hit@1 | hit@5 | mrr@10 | within@1500 |",
            "|---|---|---|---|---|---|",
        ]
        for key, m in groups.items():
            cells = " | ".join(f"{m[c]:.3f}" for c in ("hit@1", "hit@5", "mrr@10", "within@1500"))
            md.append(f"| {key} | {int(m['queries'])} | {cells} |")
    md += ["", f"## Misses of {OURS} (no relevant chunk in the top 10)", ""]
    md += [f"- `{m['id']}` {m['query']} → retrieved {m['retrieved']}" for m in ours.misses] or ["(none)"]
    if plot_dir is not None:
        series = {r.name: [r.metrics[f"hit@{k}"] for k in HIT_KS] for r in results}
        png = plot_lines(
            plot_dir / "hit_at_k.png", f"Hit@k on {dataset.name}", [f"@{k}" for k in HIT_KS], series, "Hit@k"
        )
        md += ["", f"![Hit@k per pipeline]({png.name})"]
    return EvalOutput(report, "\n".join(md))


def retrieval_on_beir(
    settings: Settings,
    folder: Path,
    *,
    work_dir: Path,
    embedder_spec: str | None,
    baseline: bool,
    start: StartTask,
    plot_dir: Path | None,
) -> EvalOutput:
    from eval.beir import index_corpus, load_beir, score_beir

    beir = load_beir(folder)
    embedder = eval_embedder(settings, embedder_spec, work_dir)
    safe = embedder.name.replace("/", "_")
    kb = KnowledgeBases(work_dir / f"beir-{folder.name}-{safe}", embedder).get("beir", create=True)
    index_corpus(kb, beir, batch_size=settings.embed_batch_size, progress=start("embedding corpus", len(beir.corpus)))
    results: list[dict[str, object]] = []
    depth = 100  # BEIR scores documents at depth 100 (recall@100)
    deep = settings.model_copy(update={"dense_candidates": depth, "bm25_candidates": depth})
    for name, mode in PIPELINE_MODES.items():
        retriever = Retriever(kb, retrieval_config(deep, mode=mode, top_k=depth))
        tick = start(name, len(beir.queries))

        def search(query: str, k: int, retriever: Retriever = retriever, tick: Tick = tick) -> list[str]:
            tick(1)
            return [h.chunk.doc_id for h in retriever.search(query, k)]

        started = time.perf_counter()
        metrics = score_beir(name, beir, search, depth)
        metrics["seconds"] = time.perf_counter() - started
        results.append({"name": name, "chunks": len(beir.corpus), "metrics": metrics})
    if baseline:
        from eval.baseline import LangChainBaseline

        tick = start("langchain baseline (split + embed)", 1)
        base = LangChainBaseline.from_texts([(i, f"{t} {x}".strip()) for i, (t, x) in beir.corpus.items()], embedder)
        tick(1)
        results.append(
            {"name": BASELINE, "chunks": base.chunks, "metrics": score_beir(BASELINE, beir, base.search_ids, depth)}
        )
    report: dict[str, object] = {
        "kind": "retrieval-beir",
        "dataset": str(folder),
        "embedder": embedder.name,
        "pipelines": results,
    }
    md = [
        f"# Retrieval eval: BEIR {folder.name}",
        "",
        f"Embedder `{embedder.name}`; {len(beir.queries)} test queries, {len(beir.corpus)} documents (one chunk each: "
        "title + text). Document-level relevance from qrels; nDCG@10 as pytrec_eval computes it.",
        "",
        compare_table(results, BEIR_COLUMNS),
    ]
    if plot_dir is not None:
        series = {str(r["name"]): [r["metrics"][f"hit@{k}"] for k in (1, 10)] for r in results}  # type: ignore[index]
        png = plot_lines(plot_dir / "hit_at_k.png", f"Hit@k on {folder.name}", ["@1", "@10"], series, "Hit@k")
        md += ["", f"![Hit@k per pipeline]({png.name})"]
    return EvalOutput(report, "\n".join(md))


def _answer_services(
    settings: Settings, kb_name: str | None, corpus: list[Path], work_dir: Path, embedder: Embedder, start: StartTask
) -> tuple[Services, str]:
    if kb_name:
        return Services(settings, embedder, KnowledgeBases(settings.data_dir, embedder)), kb_name
    if not corpus:
        raise BadInput("give --kb NAME (an existing knowledge base) or --corpus DIR (to build one)")
    tick = start("building knowledge base", 1)
    kb = build_corpus_kb(corpus, work_dir, embedder, settings)
    tick(1)
    return Services(settings, embedder, KnowledgeBases(kb.directory.parent.parent, embedder)), kb.name


def answers_on_dataset(
    settings: Settings,
    dataset: Path,
    *,
    kb_name: str | None,
    corpus: list[Path],
    work_dir: Path,
    judge_name: str,
    start: StartTask,
    plot_dir: Path | None,
) -> EvalOutput:
    from eval.answers import evaluate_answers, faithfulness_by_type, summarize
    from eval.judge import LLMJudge, OfflineJudge
    from eval.report import plot_bars
    from ragchat.generation.chat import build_pipeline
    from ragchat.generation.settings import LLMSettings

    items = load_qa(dataset)
    embedder = eval_embedder(settings, None, work_dir)
    services, kb = _answer_services(settings, kb_name, corpus, work_dir, embedder, start)
    llm = LLMSettings()
    pipeline = build_pipeline(services, llm=llm)
    if judge_name == "llm" and llm.backend != "openai":
        raise BadInput("--judge llm needs an LLM: set RAGCHAT_LLM_BACKEND=openai and RAGCHAT_LLM_BASE_URL")
    use_llm = judge_name == "llm" or (judge_name == "auto" and llm.backend == "openai")
    judge = LLMJudge(pipeline.model) if use_llm else OfflineJudge(embedder)

    def answer(question: str) -> tuple[str, bool, list[str]]:
        prepared = pipeline.prepare(kb, question)
        result = pipeline.finish(prepared, pipeline.generate(prepared))
        return result.answer, result.refused, [s.hit.chunk.text for s in prepared.sources]

    results = evaluate_answers(items, answer, judge, embedder, start("answering", len(items)))
    summary = summarize(results)
    by_type = faithfulness_by_type(results)
    report: dict[str, object] = {
        "kind": "answers",
        "dataset": str(dataset),
        "kb": kb,
        "backend": llm.backend,
        "judge": judge.name,
        "judge_threshold": judge.threshold,
        "embedder": embedder.name,
        "summary": summary,
        "faithfulness_by_type": by_type,
        "items": [r.to_dict() for r in results],
    }

    def fmt(value: object) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    md = [
        f"# Answer eval: {dataset.name}",
        "",
        f"Backend `{llm.backend}`, judge `{judge.name}` (threshold {judge.threshold}), embedder `{embedder.name}`.",
        "",
        "| figure | value |",
        "|---|---|",
        *[f"| {k} | {fmt(v)} |" for k, v in summary.items()],
        "",
        "## Faithfulness by item type",
        "",
        "| type | faithfulness |",
        "|---|---|",
        *[f"| {t} | {v:.3f} |" for t, v in by_type.items()],
        "",
        "## Per item",
        "",
        "| id | type | refused | claims | faithfulness | F1 | flagged claims |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        flagged = "; ".join(c[:60] for c in r.unsupported_claims) or "-"
        wrong = (
            " (should answer)"
            if r.refused and r.answerable
            else " (should refuse)"
            if not r.refused and not r.answerable
            else ""
        )
        md.append(
            f"| {r.id} | {r.type} | {r.refused}{wrong} | {r.claims} | {fmt(r.faithfulness)} | {fmt(r.f1)} | {flagged} |"
        )
    if plot_dir is not None and by_type:
        png = plot_bars(plot_dir / "faithfulness_by_type.png", "Faithfulness per item type", by_type, "faithfulness")
        md += ["", f"![Faithfulness per item type]({png.name})"]
    return EvalOutput(report, "\n".join(md))


def judge_on_halueval(
    settings: Settings, dataset: Path, *, work_dir: Path, embedder_spec: str | None, limit: int | None, start: StartTask
) -> EvalOutput:
    """The offline judge against labelled right vs hallucinated answers, beside the token-ratio baseline."""
    import json

    from eval.judge import Judge, OfflineJudge, TokenRatioJudge
    from eval.metrics import auroc, precision_recall

    if not dataset.exists():
        raise BadInput(f"dataset not found: {dataset}")
    rows = [json.loads(line) for line in dataset.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = rows[:limit] if limit else rows
    embedder = eval_embedder(settings, embedder_spec, work_dir)
    judges: list[Judge] = [OfflineJudge(embedder), TokenRatioJudge()]
    tick = start("judging", len(rows))
    scores: dict[str, list[float]] = {j.name: [] for j in judges}
    labels: list[bool] = []  # True = hallucinated
    for row in rows:
        for answer, hallucinated in ((row["right_answer"], False), (row["hallucinated_answer"], True)):
            labels.append(hallucinated)
            for j in judges:
                verdict = j.judge(row["question"], [answer], [row["knowledge"]])[0]
                scores[j.name].append(verdict.support)
        tick(1)
    results = []
    for j in judges:
        flagged = [s < j.threshold for s in scores[j.name]]
        precision, recall = precision_recall(flagged, labels)
        results.append(
            {
                "name": j.name,
                "auroc": auroc([-s for s in scores[j.name]], labels),
                "threshold": j.threshold,
                "precision": precision,
                "recall": recall,
            }
        )
    report: dict[str, object] = {
        "kind": "judge",
        "dataset": str(dataset),
        "pairs": len(rows),
        "embedder": embedder.name,
        "judges": results,
    }
    md = [
        f"# Judge eval: {dataset.name}",
        "",
        f"{len(rows)} questions, each with a right and a hallucinated answer; positive class = hallucinated "
        f"(flagged when support < threshold). Embedder `{embedder.name}`.",
        "",
        "| judge | AUROC | threshold | precision | recall |",
        "|---|---|---|---|---|",
        *[
            f"| {r['name']} | {r['auroc']:.3f} | {r['threshold']} | {r['precision']:.3f} | {r['recall']:.3f} |"
            for r in results
        ],
    ]
    return EvalOutput(report, "\n".join(md))
