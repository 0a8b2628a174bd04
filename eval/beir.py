"""BEIR folders (corpus.jsonl, queries.jsonl, qrels/test.tsv): document-level retrieval evaluation.

Each corpus document becomes one chunk, ``title + " " + text``, the way MTEB embeds them; a document's rank
is that of its best chunk.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.metrics import hit_at, mrr_at, ndcg_graded, recall_docs
from ragchat.domain import ChunkDraft, Document
from ragchat.errors import BadInput
from ragchat.kb import KnowledgeBase
from ragchat.retrieval.embedders import embed_in_batches


@dataclass(frozen=True)
class BeirSet:
    corpus: dict[str, tuple[str, str]]  # id -> (title, text)
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: grade}


def _jsonl(path: Path) -> Iterator[dict[str, object]]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def load_beir(folder: Path, split: str = "test") -> BeirSet:
    needed = [folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels" / f"{split}.tsv"]
    for path in needed:
        if not path.exists():
            raise BadInput(f"not a BEIR folder: {path} is missing")
    corpus = {str(d["_id"]): (str(d.get("title") or ""), str(d.get("text") or "")) for d in _jsonl(needed[0])}
    queries = {str(q["_id"]): str(q["text"]) for q in _jsonl(needed[1])}
    qrels: dict[str, dict[str, int]] = {}
    with open(needed[2], encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            grade = int(row["score"])
            if grade > 0:
                qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = grade
    queries = {qid: text for qid, text in queries.items() if qid in qrels}
    return BeirSet(corpus, queries, qrels)


def doc_text(title: str, text: str) -> str:
    return f"{title} {text}".strip()


def whole_document(title: str, text: str) -> list[ChunkDraft]:
    """One chunk per document, ``title + " " + text``, as MTEB embeds them."""
    return [ChunkDraft(text=doc_text(title, text), heading_path=())]


def index_corpus(
    kb: KnowledgeBase,
    beir: BeirSet,
    *,
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
    cut: Callable[[str, str], list[ChunkDraft]] = whole_document,
) -> int:
    """Index every document as the chunks ``cut(title, text)`` gives; returns the number of chunks.

    Chunks are embedded in length-sorted batches (identical texts once), each document is its own transaction.
    """
    docs, chunks = kb.store.counts()
    if docs == len(beir.corpus):  # indexed by an earlier run
        return chunks
    drafts = {doc_id: cut(title, text) for doc_id, (title, text) in beir.corpus.items()}
    flat = [d for ds in drafts.values() for d in ds]
    keys = kb.vector_keys(flat)
    cached = kb.store.cached_vectors(keys)
    todo = {k: d.index_text for k, d in zip(keys, flat, strict=True) if k not in cached}
    vectors = embed_in_batches(kb.embedder, list(todo.values()), batch_size=batch_size, on_progress=progress)
    fresh = dict(zip(todo, vectors, strict=True))
    now = time.time()
    with kb.writer():
        offset = 0
        for doc_id, ds in drafts.items():
            mine = keys[offset : offset + len(ds)]
            offset += len(ds)
            size = sum(len(d.text) for d in ds)
            doc = Document(doc_id, kb.name, doc_id, f"beir:{doc_id}", mine[0], size, 1, len(ds), now)
            kb.put_document(doc, ds, {k: fresh[k] for k in mine if k in fresh})
        kb.save_index()
    return len(flat)


def score_beir(
    name: str, beir: BeirSet, search: Callable[[str, int], Sequence[str]], depth: int = 100
) -> dict[str, float]:
    """``search(query, k)`` returns document ids best first (duplicates collapse to the best rank)."""
    rows: list[dict[str, float]] = []
    for qid, query in beir.queries.items():
        ranked = list(dict.fromkeys(search(query, depth)))
        gold = beir.qrels[qid]
        rels = [doc in gold for doc in ranked]
        row = {f"hit@{k}": hit_at(rels, k) for k in (1, 3, 5, 10)}
        row["mrr@10"] = mrr_at(rels, 10)
        row["ndcg@10"] = ndcg_graded([gold.get(d, 0) for d in ranked], sorted(gold.values(), reverse=True), 10)
        for k in (10, 100):
            row[f"recall@{k}"] = recall_docs(ranked, set(gold), k)
        rows.append(row)
    metrics = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]} if rows else {}
    metrics["queries"] = float(len(rows))
    return metrics
