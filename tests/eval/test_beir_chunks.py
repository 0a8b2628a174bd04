"""The chunk-size sweep on a BEIR folder: real chunker, real knowledge bases, the default embedder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.beir import load_beir
from eval.beir_chunks import main, subset

LONG = " ".join(
    f"Statins lower LDL cholesterol in trial {i}, and patients on them had fewer strokes over five years."
    for i in range(12)
)
CORPUS = [
    {"_id": "d1", "title": "Statins and stroke", "text": LONG},
    {"_id": "d2", "title": "Vitamin D", "text": "Vitamin D deficiency is linked to bone loss in older adults."},
    {"_id": "d3", "title": "Sleep", "text": "Short sleep impairs memory consolidation in students."},
    {"_id": "d4", "title": "Coffee", "text": "Coffee intake was not associated with mortality."},
]


@pytest.fixture
def beir(tmp_path: Path) -> Path:
    folder = tmp_path / "tiny"
    (folder / "qrels").mkdir(parents=True)
    queries = [{"_id": "q1", "text": "Do statins reduce strokes?"}, {"_id": "q2", "text": "vitamin D and bone loss"}]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(c) for c in CORPUS), encoding="utf-8")
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries), encoding="utf-8")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n", encoding="utf-8")
    return folder


def test_subset_keeps_every_needed_document(beir: Path) -> None:
    small = subset(load_beir(beir), docs=3, seed=1)
    assert {"d1", "d2"} <= set(small.corpus) and len(small.corpus) == 3
    assert subset(load_beir(beir), docs=0).corpus.keys() == {"d1", "d2", "d3", "d4"}


def test_sweep_chunks_each_setting_and_ranks_documents_by_their_best_chunk(beir: Path, tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    main(
        [
            "--beir",
            str(beir),
            "--chunks",
            "96/16",
            "48/8",
            "--docs",
            "0",
            "--work-dir",
            str(tmp_path / "w"),
            "--out",
            str(out),
        ]
    )

    rows = {row["setting"]: row for row in json.loads(out.read_text(encoding="utf-8"))["rows"]}
    assert rows["48/8"]["chunks"] > rows["96/16"]["chunks"] > len(CORPUS)  # the long abstract is split
    for row in rows.values():
        assert row["hit@1"] == pytest.approx(1.0)
        assert row["queries"] == 2
