"""Weighted reciprocal-rank fusion."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def weighted_rrf(rankings: Mapping[str, Sequence[int]], weights: Mapping[str, float], k: int) -> dict[int, float]:
    """score(d) = sum over rankers r of weight_r / (k + rank_r(d)), ranks 1-based; absent = no contribution.

    >>> weighted_rrf({"a": [7, 8], "b": [8]}, {"a": 1.0, "b": 1.0}, k=60)[8] == 1 / 62 + 1 / 61
    True
    """
    if k <= 0:
        raise ValueError(f"k must be > 0, got {k}")
    scores: dict[int, float] = {}
    for name, ranking in rankings.items():
        weight = weights.get(name, 1.0)
        if weight == 0:
            continue
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return scores
