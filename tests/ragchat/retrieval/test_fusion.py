from __future__ import annotations

import pytest

from ragchat.retrieval.fusion import weighted_rrf


def test_rrf_sums_weighted_reciprocal_ranks() -> None:
    scores = weighted_rrf({"dense": [1, 2, 3], "bm25": [3, 1]}, {"dense": 1.0, "bm25": 0.5}, k=60)
    assert scores[1] == pytest.approx(1 / 61 + 0.5 / 62)
    assert scores[2] == pytest.approx(1 / 62)
    assert scores[3] == pytest.approx(1 / 63 + 0.5 / 61)
    assert max(scores, key=scores.__getitem__) == 1


def test_zero_weight_ranker_is_ignored_and_bad_k_rejected() -> None:
    assert weighted_rrf({"a": [1], "b": [2]}, {"a": 1.0, "b": 0.0}, k=1) == {1: 0.5}
    with pytest.raises(ValueError, match="got 0"):
        weighted_rrf({"a": [1]}, {}, k=0)
