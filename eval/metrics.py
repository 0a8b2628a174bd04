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


def evidence_within_budget(
    pieces: Sequence[tuple[str, str]], budget: int, is_hit: Callable[[str, str], bool]
) -> float:
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
