"""Retrieval metrics as small pure functions over ranked relevance flags.

Policy: every query counts; a query whose ranking holds no relevant item scores 0 (as BEIR/MTEB do).
Unanswerable items (no gold) are skipped by the caller and reported as a count, not scored.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence


def hit_at(rels: Sequence[bool], k: int) -> float:
    """1.0 when any of the first k results is relevant."""
    return 1.0 if any(rels[:k]) else 0.0


def mrr_at(rels: Sequence[bool], k: int) -> float:
    """Reciprocal rank of the first relevant result within the first k, else 0."""
    for i, rel in enumerate(rels[:k], start=1):
        if rel:
            return 1.0 / i
    return 0.0


def recall_at(found: Sequence[set[int]], n_gold: int, k: int) -> float:
    """Share of the gold items (e.g. evidence quotes) covered by the first k results; 0 when n_gold is 0."""
    if n_gold <= 0:
        return 0.0
    covered: set[int] = set().union(*found[:k]) if found[:k] else set()
    return len(covered) / n_gold


def ndcg_at(rels: Sequence[bool], n_relevant: int, k: int) -> float:
    """Binary-gain nDCG@k; the ideal ranking puts min(n_relevant, k) relevant results first."""
    ideal = min(n_relevant, k)
    if ideal <= 0:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 1) for i, rel in enumerate(rels[:k], start=1) if rel)
    idcg = sum(1.0 / math.log2(i + 1) for i in range(1, ideal + 1))
    return dcg / idcg


def evidence_within_budget(pieces: Sequence[tuple[str, str]], budget: int, is_hit: Callable[[str, str], bool]) -> float:
    """Concatenate ranked (doc, text) results, cut at ``budget`` characters; 1.0 when a gold quote lies inside.

    ``is_hit(doc, text)`` tells whether a (possibly truncated) result text holds a gold quote; big chunks
    cannot win by size because only the first ``budget`` characters of the ranking are read.
    """
    left = budget
    for doc, text in pieces:
        if left <= 0:
            break
        if is_hit(doc, text[:left]):
            return 1.0
        left -= len(text)
    return 0.0


def ndcg_graded(gains: Sequence[int], ideal_gains: Sequence[int], k: int) -> float:
    """nDCG@k with graded relevance (linear gains, as pytrec_eval computes it for BEIR/MTEB)."""
    ideal = sum(g / math.log2(i + 1) for i, g in enumerate(sorted(ideal_gains, reverse=True)[:k], start=1))
    if ideal <= 0:
        return 0.0
    return sum(g / math.log2(i + 1) for i, g in enumerate(gains[:k], start=1)) / ideal


def recall_docs(ranked: Sequence[str], gold: set[str], k: int) -> float:
    """Share of the relevant documents found in the first k; 0 when there are none."""
    if not gold:
        return 0.0
    return len(gold.intersection(ranked[:k])) / len(gold)


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Area under the ROC curve: probability that a random positive outscores a random negative (ties 1/2).

    Raises ValueError when either class is missing, where AUROC is undefined.
    """
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        raise ValueError("AUROC needs at least one positive and one negative example")
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):  # average ranks over ties
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for m in range(i, j + 1):
            ranks[order[m]] = (i + j) / 2 + 1
        i = j + 1
    rank_sum = sum(r for r, y in zip(ranks, labels, strict=True) if y)
    return (rank_sum - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


def precision_recall(predicted: Sequence[bool], labels: Sequence[bool]) -> tuple[float, float]:
    """(precision, recall) of the positive class; 0.0 where undefined (no predicted / no actual positives)."""
    tp = sum(1 for p, y in zip(predicted, labels, strict=True) if p and y)
    pp = sum(predicted)
    ap = sum(labels)
    return (tp / pp if pp else 0.0, tp / ap if ap else 0.0)
