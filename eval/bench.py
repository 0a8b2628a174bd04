"""Performance benchmark: ingest, retrieval latency, server memory, and how they scale.

    python -m eval.bench [ingest|query|memory|all] [--sizes 1000 10000 100000] [--out DIR]
                         [--corpus DIR] [--pdfs DIR] [--work-dir DIR] [--embedder SPEC]

``ragchat bench ...`` is the same command. Each part prints a table and writes JSON to ``--out``:

* ``ingest``  -> ``ingest.json``: ragchat vs the LangChain-tutorial baseline (same embedder), each in a fresh
  process; wall and CPU time, chunks/s, peak RSS; then the re-ingest of the unchanged corpus.
* ``query``   -> ``query.json``: ``POST /kbs/bench/search`` latency p50/p95/p99 (query embedding included, no
  LLM), requests/s and errors against a real ``ragchat serve`` on loopback, one client and 8 concurrent
  clients, at every size; plus an in-process breakdown (embed, dense, BM25, fetch) and the recall of the
  approximate dense index against exact search.
* ``memory``  -> ``memory.json``: resident memory of the server holding the largest knowledge base.
* ``scaling`` -> ``scaling.png``: latency and memory from the smallest size to the largest (made by ``all``,
  and by ``query``/``memory`` from whatever JSON is in ``--out``).

Knowledge bases larger than the real corpus are grown from its real chunks: see ``eval/synthetic.py``.
Every figure comes with the 1-minute load average at the time, because this machine is shared.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

SHARED = Path(__file__).resolve().parents[2] / "shared"
DEFAULT_CORPUS = SHARED / "corpus" / "llm-notes"
DEFAULT_PDFS = SHARED / "pdfs"
DEFAULT_DATASET = SHARED / "eval" / "seeds_qa_dev.jsonl"
DEFAULT_SIZES = (1_000, 10_000, 100_000)
PARTS = ("ingest", "query", "memory", "all")

out = Console()
err = Console(stderr=True)


def write_json(data: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


# -- ingest ---------------------------------------------------------------------------------------------------
def ingest_part(args: argparse.Namespace) -> dict[str, Any]:
    from eval.bench_ingest import run_ingest_bench
    from eval.bench_query import environment

    paths = args.sources
    env_before = environment()
    runs = run_ingest_bench(
        paths,
        args.work_dir,
        embedder=args.embedder,
        threads=args.threads,
        repeat=args.repeat,
        on_run=lambda r: err.print(
            f"  {r.system} {r.phase} (round {r.round + 1}): {r.wall_s:.1f}s, {r.chunks} chunks, load {r.load_1m}"
        ),
    )
    first = {
        system: statistics.median(r.wall_s for r in runs if r.system == system and r.phase == "first")
        for system in {r.system for r in runs if r.phase == "first"}
    }
    again = next((r for r in runs if r.phase == "again"), None)
    result: dict[str, Any] = {
        "paths": [str(p) for p in paths],
        "embedder": args.embedder,
        "environment_before": env_before,
        "environment_after": environment(),
        "runs": [r.to_dict() for r in runs],
    }
    result["median_first_wall_s"] = {system: round(wall, 3) for system, wall in sorted(first.items())}
    if "ragchat" in first and "baseline" in first:
        result["ragchat_vs_baseline_wall"] = round(first["ragchat"] / first["baseline"], 3)  # medians
    if "ragchat" in first and again is not None:
        result["reingest_fraction"] = round(again.wall_s / first["ragchat"], 5)
    write_json(result, args.out / "ingest.json")
    print_ingest(result)
    return result


def print_ingest(result: dict[str, Any]) -> None:
    table = Table(title=f"ingest: {', '.join(Path(p).name for p in result['paths'])} ({result['embedder']})")
    for col in ("system", "run", "round", "files", "skipped", "chunks", "wall s", "CPU s", "embed s", "chunks/s",
                "peak RSS MiB", "load"):  # fmt: skip
        table.add_column(col, justify="left" if col in ("system", "run") else "right")
    for r in result["runs"]:
        table.add_row(
            r["system"], r["phase"], str(r.get("round", 0) + 1), str(r["files"]), str(r["skipped"]), str(r["chunks"]),
            f"{r['wall_s']:.1f}",
            f"{r['cpu_s']:.1f}", f"{r['embed_s']:.1f}", f"{r['chunks_per_s']:.1f}" if r["phase"] == "first" else "-",
            f"{r['peak_rss_mib']:.0f}", f"{r['load_1m']:.1f}",
        )  # fmt: skip
    out.print(table)
    if "ragchat_vs_baseline_wall" in result:
        ratio = result["ragchat_vs_baseline_wall"]
        out.print(f"ragchat / baseline wall time (medians of the first ingests): {ratio:.2f}")
    if "reingest_fraction" in result:
        out.print(f"re-ingest of the unchanged corpus: {100 * result['reingest_fraction']:.2f}% of the first ingest")


# -- query, memory, scaling -----------------------------------------------------------------------------------
def query_part(args: argparse.Namespace) -> dict[str, Any]:
    from eval.bench_query import run_query_bench
    from eval.bench_report import print_query

    result = run_query_bench(
        sizes=args.sizes,
        work_dir=args.work_dir,
        sources=args.sources,
        dataset=args.dataset,
        embedder=args.embedder,
        clients=args.clients,
        requests=args.requests,
        progress=lambda message: err.print(f"  {message}"),
    )
    write_json(result, args.out / "query.json")
    print_query(result, out)
    return result


def memory_part(args: argparse.Namespace) -> dict[str, Any]:
    from eval.bench_query import run_memory_bench
    from eval.bench_report import print_memory

    result = run_memory_bench(
        size=max(args.sizes),
        work_dir=args.work_dir,
        sources=args.sources,
        dataset=args.dataset,
        embedder=args.embedder,
        progress=lambda message: err.print(f"  {message}"),
    )
    write_json(result, args.out / "memory.json")
    print_memory(result, out)
    return result


def scaling_part(args: argparse.Namespace) -> Path | None:
    from eval.bench_report import plot_scaling

    query = read_json(args.out / "query.json")
    if not query:
        return None
    path = plot_scaling(query, read_json(args.out / "memory.json"), args.out / "scaling.png")
    out.print(f"wrote {path}")
    return path


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    from ragchat.config import Settings

    parser = argparse.ArgumentParser(prog="python -m eval.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("part", nargs="?", choices=PARTS, default="all")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES), help="Knowledge base sizes.")
    parser.add_argument("--out", type=Path, default=Path("bench-reports") / time.strftime("%Y%m%d-%H%M%S"))
    parser.add_argument("--corpus", type=Path, nargs="*", default=[DEFAULT_CORPUS], help="Notes folder(s) or files.")
    parser.add_argument("--pdfs", type=Path, nargs="*", default=[DEFAULT_PDFS], help="PDF folder(s); none: --pdfs.")
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="Questions for the query mix.")
    parser.add_argument("--work-dir", type=Path, default=None, help="Knowledge bases (default: DATA_DIR/bench-cache).")
    parser.add_argument("--embedder", default=None, help="Embedder spec (default: RAGCHAT_EMBEDDER).")
    parser.add_argument("--threads", type=int, default=None, help="Ingest embedding threads (default: setting).")
    parser.add_argument("--clients", type=int, default=8, help="Concurrent clients of the second query run.")
    parser.add_argument("--requests", type=int, default=400, help="Requests per query run.")
    parser.add_argument(
        "--repeat", type=int, default=1, help="Ingest: first ingests per system, alternating (A B, B A, ...)."
    )
    args = parser.parse_args(argv)
    settings = Settings()
    args.work_dir = args.work_dir or settings.data_dir / "bench-cache"
    args.embedder = args.embedder or settings.embedder
    args.threads = settings.embed_threads if args.threads is None else args.threads
    for size in args.sizes:
        if size <= 0:
            parser.error(f"sizes must be > 0, got {size}")
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1, got {args.repeat}")
    args.sizes = sorted(set(args.sizes))
    args.sources = [*args.corpus, *args.pdfs]
    if not args.sources:
        parser.error("give at least one --corpus or --pdfs path")
    return args


def run(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.part in ("ingest", "all"):
        ingest_part(args)
    if args.part in ("query", "all"):
        query_part(args)
    if args.part in ("memory", "all"):
        memory_part(args)
    if args.part in ("query", "memory", "all"):
        scaling_part(args)
    out.print(f"results in {args.out}")


if __name__ == "__main__":
    run()
