"""Chat latency of the default configuration (extractive backend: retrieval included, no LLM).

    python -m eval.bench_chat [--data-dir DIR] [--kb notes] [-n 50] [--threads N]

Loads the notes knowledge base once (as the server's lifespan does), warms up, then answers ``n`` dev-set
questions one after another through the full chat pipeline (retrieve, refuse?, pack, compose, cite) and
prints p50/p95/p99 of the end-to-end time with the per-stage medians. ``--threads`` sets OMP_NUM_THREADS
for the embedding engine (it must be set before the model loads); the default, 1, is what a server on this
2-core machine should use too.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Sequence
from pathlib import Path


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def main(argv: Sequence[str] | None = None) -> None:
    from eval.calibrate_refusal import DEFAULT_CORPUS, DEFAULT_DATASET, ensure_kb, load_items

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="default: RAGCHAT_DATA_DIR")
    parser.add_argument("--kb", default="notes")
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("-n", type=int, default=50, help="Questions to time (the dev set is cycled).")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="OMP_NUM_THREADS for the embedder (default 1: one short query gains nothing from more threads, "
        "and on a busy 2-core machine OpenMP's spinning threads make the tail latency several times worse; "
        "0 leaves the environment alone).",
    )
    args = parser.parse_args(argv)
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)

    from ragchat.config import Settings
    from ragchat.generation.chat import build_pipeline
    from ragchat.generation.settings import LLMSettings
    from ragchat.services import Services

    services = Services.build(Settings(data_dir=args.data_dir) if args.data_dir else Settings())
    ensure_kb(services, args.kb, DEFAULT_CORPUS)
    started = time.perf_counter()
    warm = getattr(services.embedder, "warm_up", None)
    if callable(warm):
        warm()
    services.kb(args.kb).vector_index()
    pipeline = build_pipeline(services, llm=LLMSettings(backend="extractive"))
    load_s = time.perf_counter() - started

    questions = [i.query for i in load_items(args.dataset)]
    for q in questions[:3]:  # warm-up: jieba dictionary, first FAISS search, code paths
        pipeline.answer(args.kb, q)

    totals: list[float] = []
    stages: dict[str, list[float]] = {}
    refused = 0
    for i in range(args.n):
        t0 = time.perf_counter()
        result = pipeline.answer(args.kb, questions[i % len(questions)])
        totals.append((time.perf_counter() - t0) * 1000)
        refused += result.refused
        for key, value in result.timings_ms.items():
            stages.setdefault(key, []).append(value)

    print(f"chat latency, {args.n} questions, kb {args.kb!r}, backend extractive, embedder {services.embedder.name}")
    print(
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, cpus={os.cpu_count()}, "
        f"load {load_s:.1f}s, refused {refused}/{args.n}"
    )
    print(
        f"p50 {percentile(totals, 50):.1f} ms   p95 {percentile(totals, 95):.1f} ms   "
        f"p99 {percentile(totals, 99):.1f} ms   mean {statistics.fmean(totals):.1f} ms   max {max(totals):.1f} ms"
    )
    print("stage medians: " + ", ".join(f"{k} {statistics.median(v):.1f}" for k, v in stages.items()))
    services.close()


if __name__ == "__main__":
    main()
