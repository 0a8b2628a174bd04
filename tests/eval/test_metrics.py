"""Each metric pinned on hand-computed cases, including empty and all-miss rankings."""

from __future__ import annotations

import math

import pytest

from eval.datasets import Evidence, QAItem
from eval.metrics import evidence_within_budget, hit_at, mrr_at, ndcg_at, recall_at

F, T = False, True


def test_hit_and_mrr() -> None:
    rels = [F, F, T, F, T]
    assert (hit_at(rels, 1), hit_at(rels, 2), hit_at(rels, 3)) == (0.0, 0.0, 1.0)
    assert mrr_at(rels, 10) == pytest.approx(1 / 3)
    assert mrr_at(rels, 2) == 0.0
    assert hit_at([], 5) == 0.0 and mrr_at([], 10) == 0.0
    assert mrr_at([F] * 10, 10) == 0.0


def test_recall_counts_distinct_gold_items_covered() -> None:
    found = [set(), {0}, {0, 1}, {2}]
    assert recall_at(found, 4, 2) == 0.25
    assert recall_at(found, 4, 3) == 0.5
    assert recall_at(found, 4, 10) == 0.75
    assert recall_at([], 3, 10) == 0.0
    assert recall_at(found, 0, 10) == 0.0


def test_ndcg_binary_gain() -> None:
    # relevant at ranks 1 and 3, two relevant in total: (1 + 1/log2(4)) / (1 + 1/log2(3))
    assert ndcg_at([T, F, T], 2, 10) == pytest.approx((1 + 0.5) / (1 + 1 / math.log2(3)))
    assert ndcg_at([T, T], 2, 10) == pytest.approx(1.0)
    assert ndcg_at([F, F], 2, 10) == 0.0
    assert ndcg_at([T], 0, 10) == 0.0


def test_evidence_within_budget_reads_only_the_first_characters() -> None:
    item = QAItem("q", "zh", "t", "问", "答", (Evidence("a.md", "关键 证据"),))
    ranked = [("b.md", "x" * 1400), ("a.md", "y" * 90 + "关键证据")]
    assert evidence_within_budget(ranked, 1500, item.relevant) == 1.0
    assert evidence_within_budget(ranked, 1493, item.relevant) == 0.0  # the quote is cut
    assert evidence_within_budget([("a.md", "z" * 2000 + "关键证据")], 1500, item.relevant) == 0.0
    assert evidence_within_budget([], 1500, item.relevant) == 0.0


def test_relevance_needs_the_right_document_and_ignores_whitespace() -> None:
    item = QAItem("q", "zh", "t", "问", "答", (Evidence("a.md", "前缀 语言模型"),))
    assert item.relevant("a.md", "……前缀语言\n模型可以……")
    assert not item.relevant("b.md", "前缀语言模型")
