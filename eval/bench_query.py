"""Retrieval latency and server memory at growing knowledge-base sizes (``python -m eval.bench query|memory``).

For every size N a knowledge base is grown from the seed (``eval/synthetic.py``) under
``WORK/query-N/`` and reused while its recipe is unchanged. Then, per size:

1. **in-process breakdown**: the stages of one hybrid search timed apart (query embedding, dense FAISS
   search, BM25 tokenise + FTS5, fetching the hits) through the same objects the server uses;
2. **server**: ``ragchat serve`` on loopback with only that knowledge base, warmed up, then ``requests``
   searches from one client and ``requests`` from ``clients`` concurrent clients; p50/p95/p99, requests/s,
   errors, server CPU per request, and the server's RSS after start-up and after the load.

The seed is the knowledge base the ingest part built (``WORK/ingest-ragchat``, the notes and the PDFs,
real vectors); when it is missing the corpus and PDFs are ingested into ``WORK/seed`` first.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eval.bench_chat import percentile
from eval.bench_server import Server, search_load
from eval.synthetic import DROP, NOISE, SHUFFLE_SEED, SeedChunk, clauses, grow, load_seed

KB = "bench"
RECIPE_VERSION = 1
Progress = Callable[[str], None]


def _quiet(message: str) -> None:
    pass


# -- the seed and the grown knowledge bases --------------------------------------------------------------------
def seed_sqlite(work_dir: Path, sources: Sequence[Path], embedder: str, progress: Progress) -> Path:
    """The seed knowledge base's SQLite file: the ingest part's, or a fresh ingest of corpus + PDFs."""
    for candidate in (work_dir / "ingest-ragchat", work_dir / "seed"):
        path = candidate / "kbs" / KB / "kb.sqlite"
        if path.exists() and _chunk_count(path) > 0:
            return path
    from ingest.pipeline import make_ingestor
    from ragchat.config import Settings
    from ragchat.services import Services

    progress(f"no seed knowledge base yet: ingesting {', '.join(map(str, sources))} (embedder {embedder})")
    settings = Settings(data_dir=work_dir / "seed", embedder=embedder)
    services = Services.build(settings)
    try:
        make_ingestor(services.kb(KB, create=True), settings).ingest(list(sources))
    finally:
        services.close()
    return work_dir / "seed" / "kbs" / KB / "kb.sqlite"


def _chunk_count(sqlite_path: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        conn.close()


def _recipe(seed_path: Path, seed: Sequence[SeedChunk], size: int, embedder: str) -> str:
    return json.dumps(
        {"version": RECIPE_VERSION, "seed": str(seed_path), "seed_chunks": len(seed), "size": size,
         "embedder": embedder, "drop": DROP, "noise": NOISE, "shuffle": SHUFFLE_SEED},
        sort_keys=True,
    )  # fmt: skip


def ensure_sized_kb(
    work_dir: Path, size: int, seed_path: Path, seed: Sequence[SeedChunk], embedder: str, progress: Progress
) -> tuple[Path, dict[str, Any]]:
    """``WORK/query-SIZE`` holding knowledge base ``bench`` of ``size`` chunks; built unless already there."""
    from ragchat.kb import KnowledgeBases
    from ragchat.retrieval.embedders import make_embedder

    data_dir = work_dir / f"query-{size}"
    recipe = _recipe(seed_path, seed, size, embedder)
    kbs = KnowledgeBases(data_dir, make_embedder(embedder, threads=1))
    try:
        if kbs.exists(KB) and kbs.get(KB).store.get_meta("bench_recipe") == recipe:
            build_s = float(kbs.get(KB).store.get_meta("bench_build_s") or 0)
        else:
            kbs.close()
            shutil.rmtree(data_dir, ignore_errors=True)
            kbs = KnowledgeBases(data_dir, make_embedder(embedder, threads=1))
            progress(f"growing a {size:,}-chunk knowledge base from {len(seed):,} real chunks")
            started = time.perf_counter()
            kb = kbs.get(KB, create=True)
            grow(kb, seed, size)
            build_s = time.perf_counter() - started
            kb.store.set_meta("bench_build_s", f"{build_s:.2f}")
            kb.store.set_meta("bench_recipe", recipe)
    finally:
        kbs.close()  # checkpoints the WAL, so the file sizes below are the database's own
    kb_dir = data_dir / "kbs" / KB
    info = {
        "chunks": size,
        "real_chunks": min(size, len(seed)),
        "build_s": round(build_s, 1),
        "sqlite_mib": round(sum(p.stat().st_size for p in kb_dir.glob("kb.sqlite*")) / 2**20, 1),
        "faiss_mib": round(sum(p.stat().st_size for p in kb_dir.glob("index-*.faiss")) / 2**20, 1),
    }
    return data_dir, info


# -- the queries -----------------------------------------------------------------------------------------------
_MARKUP = re.compile(r"[#*`>|\[\]_]+")


def query_pool(seed: Sequence[SeedChunk], dataset: Path | None, *, extra: int = 70) -> list[str]:
    """The dataset's questions plus ``extra`` clauses (10-80 characters) of random real chunks, shuffled.

    The clauses stand for keyword-heavy queries that match many chunks: the hard case for BM25.
    """
    questions: list[str] = []
    if dataset is not None and dataset.exists():
        lines = dataset.read_text(encoding="utf-8").splitlines()
        questions = [str(json.loads(line)["query"]) for line in lines if line.strip()]
    rng = random.Random(SHUFFLE_SEED)
    picked: list[str] = []
    for _ in range(extra * 50):
        if len(picked) >= extra:
            break
        chunk = seed[rng.randrange(len(seed))]
        pieces = [" ".join(_MARKUP.sub(" ", p).split()) for p in clauses(chunk.text)]
        pieces = [p for p in pieces if 10 <= len(p) <= 80]
        if pieces:
            picked.append(rng.choice(pieces))
    queries = questions + picked
    rng.shuffle(queries)
    return queries


# -- in-process breakdown and the cost of the shortcuts ------------------------------------------------------
def _pcts(values: Sequence[float]) -> dict[str, float]:
    return {"p50": round(percentile(values, 50), 2), "p95": round(percentile(values, 95), 2)}


def stage_timings(data_dir: Path, embedder: str, queries: Sequence[str], *, limit: int = 100) -> dict[str, Any]:
    """Each stage of a hybrid search timed apart (ms) through the objects the server uses, in a fresh process
    state (so the keyword-frequency cache starts cold: ``bm25`` is the first time a query is seen, ``search``
    the second); then how far the approximate parts move the results from exact retrieval."""
    from ragchat.config import Settings
    from ragchat.services import Services
    from ragchat.text import keyword_tokens

    settings = Settings(data_dir=data_dir, embedder=embedder, embed_threads=1)
    services = Services.build(settings)
    try:
        kb = services.kb(KB)
        retriever = services.retriever(KB)
        cfg = retriever.config
        index = kb.vector_index()
        services.embedder.embed(["warm-up"], kind="query")
        stages: dict[str, list[float]] = {k: [] for k in ("embed", "dense", "bm25", "fetch", "search")}
        for q in list(queries)[:limit]:
            t0 = time.perf_counter()
            qvec = services.embedder.embed([q], kind="query")[0]
            t1 = time.perf_counter()
            dense = index.search(qvec, cfg.dense_candidates)
            t2 = time.perf_counter()
            sparse = kb.store.keyword_search(keyword_tokens(q), cfg.bm25_candidates)
            t3 = time.perf_counter()
            kb.store.chunks_by_id([cid for cid, _ in dense[: cfg.top_k]] + [h.chunk_id for h in sparse[:4]])
            t4 = time.perf_counter()
            retriever.search(q)
            t5 = time.perf_counter()
            for key, (a, b) in zip(stages, ((t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5)), strict=True):
                stages[key].append((b - a) * 1000)
        return {
            "queries": len(stages["search"]),
            "index": index.kind,
            "ms": {k: _pcts(v) for k, v in stages.items()},
            "exactness": exactness(services, retriever, list(queries)[:limit]),
            "load_1m": round(os.getloadavg()[0], 2),
        }
    finally:
        services.close()


def exactness(services: Any, retriever: Any, queries: Sequence[str]) -> dict[str, float]:
    """Agreement with exact retrieval, averaged over ``queries``:

    * ``dense_recall@10``/``@50``: the dense index's top 10/50 against a brute-force scan of every vector;
    * ``bm25_overlap@50``: the keyword search's top 50 (rarest terms within the budget) against FTS5 over
      every query term;
    * ``hybrid_overlap@k``: the final top k against the same fusion of the two exact lists.

    Chunks are compared by content (their vector key): grown knowledge bases hold chunks with identical
    text, whose exact ties any index may break either way.
    """
    import numpy as np

    from ragchat.retrieval.fusion import weighted_rrf
    from ragchat.text import keyword_tokens

    kb, cfg = retriever.kb, retriever.config
    content = dict(kb.store.conn.execute("SELECT id, vector_key FROM chunks").fetchall())
    ids, vectors = zip(*kb.store.all_vectors(), strict=True)
    all_ids, matrix = np.concatenate(ids), np.concatenate(vectors)
    index = kb.vector_index()

    def overlap(got: Sequence[int], want: Sequence[int]) -> float:
        want_keys = {content[c] for c in want}
        return len({content[c] for c in got} & want_keys) / len(want_keys) if want_keys else 1.0

    sums = {"dense_recall@10": 0.0, "dense_recall@50": 0.0, "bm25_overlap@50": 0.0, f"hybrid_overlap@{cfg.top_k}": 0.0}
    for q in queries:
        qvec = services.embedder.embed([q], kind="query")[0]
        exact_dense = [int(i) for i in all_ids[np.argsort(-(matrix @ qvec), kind="stable")[: cfg.dense_candidates]]]
        dense = [cid for cid, _ in index.search(qvec, cfg.dense_candidates)]
        tokens = keyword_tokens(q)
        sparse = [h.chunk_id for h in kb.store.keyword_search(tokens, cfg.bm25_candidates)]
        exact_sparse = [h.chunk_id for h in kb.store.keyword_search(tokens, cfg.bm25_candidates, budget=None)]
        weights = {"dense": cfg.dense_weight, "bm25": cfg.bm25_weight}
        fused = weighted_rrf({"dense": exact_dense, "bm25": exact_sparse}, weights, cfg.rrf_k)
        exact_top = [cid for cid, _ in sorted(fused.items(), key=lambda x: (-x[1], x[0]))[: cfg.top_k]]
        sums["dense_recall@10"] += overlap(dense[:10], exact_dense[:10])
        sums["dense_recall@50"] += overlap(dense, exact_dense)
        sums["bm25_overlap@50"] += overlap(sparse, exact_sparse)
        sums[f"hybrid_overlap@{cfg.top_k}"] += overlap([h.chunk.id for h in retriever.search(q)], exact_top)
    return {k: round(v / max(1, len(queries)), 3) for k, v in sums.items()}


# -- the runs --------------------------------------------------------------------------------------------------
def environment() -> dict[str, object]:
    """What the figures depend on: CPUs, load average, time."""
    return {"cpus": os.cpu_count(), "load_1m_5m_15m": [round(x, 2) for x in os.getloadavg()],
            "time": time.strftime("%Y-%m-%d %H:%M:%S")}  # fmt: skip


def serve_and_load(
    data_dir: Path, embedder: str, queries: Sequence[str], *, clients: int, requests: int, log: Path
) -> dict[str, Any]:
    """Start a server on ``data_dir``, warm it up, then one client and ``clients`` clients, ``requests`` each."""
    with Server(data_dir, embedder=embedder, log=log) as server:
        warm = search_load(server, KB, queries, clients=1, requests=min(20, len(queries)))
        after_start = server.memory()
        single = search_load(server, KB, queries, clients=1, requests=requests)
        concurrent = search_load(server, KB, queries, clients=clients, requests=requests, offset=requests)
        after_load = server.memory()
        return {
            "startup_s": round(server.startup_s, 2),
            "warmup_errors": warm.errors,
            "rss_mib_after_start": round(after_start["VmRSS"], 1),
            "rss_mib_after_load": round(after_load["VmRSS"], 1),
            "peak_rss_mib": round(after_load["VmHWM"], 1),
            "single": single.summary(),
            "concurrent": concurrent.summary(),
        }


def run_query_bench(
    *,
    sizes: Sequence[int],
    work_dir: Path,
    sources: Sequence[Path],
    dataset: Path | None,
    embedder: str,
    clients: int = 8,
    requests: int = 400,
    progress: Progress = _quiet,
) -> dict[str, Any]:
    seed_path = seed_sqlite(work_dir, sources, embedder, progress)
    seed = load_seed(seed_path)
    queries = query_pool(seed, dataset)
    result: dict[str, Any] = {
        "environment_before": environment(),
        "embedder": embedder,
        "seed": {"path": str(seed_path), "chunks": len(seed), "documents": len({c.doc_source for c in seed})},
        "synthetic": {"drop": DROP, "noise": NOISE},
        "queries": len(queries),
        "clients": clients,
        "requests_per_run": requests,
        "sizes": [],
    }
    for size in sizes:
        data_dir, info = ensure_sized_kb(work_dir, size, seed_path, seed, embedder, progress)
        progress(f"{size:,} chunks: timing the stages in-process")
        info["stages"] = stage_timings(data_dir, embedder, queries)
        progress(f"{size:,} chunks: {requests} searches from 1 client, then from {clients} clients")
        info["server"] = serve_and_load(
            data_dir, embedder, queries, clients=clients, requests=requests, log=work_dir / f"server-{size}.log"
        )
        single, conc = info["server"]["single"], info["server"]["concurrent"]
        progress(
            f"{size:,} chunks: p95 {single['p95_ms']} ms (1 client), {conc['p95_ms']} ms ({clients} clients), "
            f"{conc['errors']} errors, RSS {info['server']['rss_mib_after_load']} MiB, load {conc['load_1m']}"
        )
        result["sizes"].append(info)
    result["environment_after"] = environment()
    return result


def run_memory_bench(
    *,
    size: int,
    work_dir: Path,
    sources: Sequence[Path],
    dataset: Path | None,
    embedder: str,
    requests: int = 200,
    clients: int = 8,
    progress: Progress = _quiet,
) -> dict[str, Any]:
    """Server RSS with a one-chunk knowledge base (code, model and runtime: the fixed cost), then with the
    ``size``-chunk one; each after start-up and after ``requests`` searches from one client and from
    ``clients`` clients (the model file is mmapped, so it counts once its pages have been used)."""
    seed_path = seed_sqlite(work_dir, sources, embedder, progress)
    seed = load_seed(seed_path)
    queries = query_pool(seed, dataset)
    data_dir, info = ensure_sized_kb(work_dir, size, seed_path, seed, embedder, progress)
    tiny_dir, _ = ensure_sized_kb(work_dir, 1, seed_path, seed, embedder, progress)
    progress("server RSS with a one-chunk knowledge base")
    tiny = serve_and_load(
        tiny_dir, embedder, queries, clients=clients, requests=requests, log=work_dir / "server-memory-1.log"
    )
    progress(f"server RSS with {size:,} chunks")
    loaded = serve_and_load(
        data_dir, embedder, queries, clients=clients, requests=requests, log=work_dir / f"server-memory-{size}.log"
    )
    return {
        "environment": environment(),
        "embedder": embedder,
        "size": size,
        "kb": info,
        "rss_mib_one_chunk": tiny["rss_mib_after_load"],
        **{k: loaded[k] for k in ("startup_s", "rss_mib_after_start", "rss_mib_after_load", "peak_rss_mib")},
        "requests": {"single": loaded["single"], "concurrent": loaded["concurrent"]},
    }
