"""The eval harness end to end on a small dataset, with the real default embedder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragchat.cli import app

pytestmark = pytest.mark.model

DOCS = {
    "rag.md": "# 混合检索\n\n混合检索把 BM25 的关键词排名和向量检索的排名用 RRF 融合，兼顾精确匹配与语义相似。\n\n"
    "# 分块\n\n分块时按标题切分章节，长章节再按句子切分，相邻块之间保留重叠。\n",
    "lora.md": "# LoRA\n\nLoRA freezes the pretrained weights and trains two small low-rank matrices beside them.\n\n"
    "# QLoRA\n\nQLoRA quantises the frozen base model to 4-bit NormalFloat and trains LoRA adapters on top.\n",
}
ITEMS = [
    {
        "id": "a",
        "lang": "zh",
        "type": "paraphrase",
        "query": "混合检索如何融合两种排名?",
        "answer": "用 RRF 融合。",
        "evidence": [{"doc": "rag.md", "quote": "用 RRF 融合"}],
    },
    {
        "id": "b",
        "lang": "en",
        "type": "keyword",
        "query": "low-rank matrices frozen weights",
        "answer": "LoRA.",
        "evidence": [{"doc": "lora.md", "quote": "trains two small low-rank matrices"}],
    },
    {
        "id": "c",
        "lang": "zh",
        "type": "paraphrase",
        "query": "相邻的块会重叠吗",
        "answer": "会。",
        "evidence": [{"doc": "rag.md", "quote": "相邻块之间保留重叠"}],
    },
    {
        "id": "d",
        "lang": "en",
        "type": "unanswerable",
        "query": "Who won the 1998 World Cup?",
        "answer": "",
        "evidence": [],
    },
]


@pytest.fixture
def dataset(tmp_path: Path) -> tuple[Path, Path]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in DOCS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(json.dumps(i, ensure_ascii=False) for i in ITEMS), encoding="utf-8")
    return path, corpus


def test_eval_retrieval_writes_reports_plots_and_compares(tmp_path: Path, dataset: tuple[Path, Path]) -> None:
    path, corpus = dataset
    out = tmp_path / "run1"
    args = ["eval", "retrieval", "--dataset", str(path), "--corpus", str(corpus), "--work-dir", str(tmp_path / "w")]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    names = [p["name"] for p in report["pipelines"]]
    assert names == ["ours (hybrid)", "dense-only", "bm25-only", "langchain baseline"]
    assert report["skipped_unanswerable"] == 1
    ours = report["pipelines"][0]
    assert ours["metrics"]["queries"] == 3
    assert ours["metrics"]["hit@10"] == 1.0 and ours["metrics"]["mrr@10"] >= 2 / 3
    assert set(ours["by_lang"]) == {"zh", "en"} and set(ours["by_type"]) == {"paraphrase", "keyword"}
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| ours / baseline |" in md and "hit_at_k.png" in md
    assert (out / "hit_at_k.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    again = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "run2"), "--compare", str(out / "report.json")])
    assert again.exit_code == 0, again.output
    assert "No figure changed" in (tmp_path / "run2" / "report.md").read_text(encoding="utf-8")


def test_eval_retrieval_on_a_beir_folder(tmp_path: Path) -> None:
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    corpus = [
        {"_id": "d1", "title": "Aspirin", "text": "Aspirin reduces the risk of heart attack."},
        {"_id": "d2", "title": "Vitamin D", "text": "Vitamin D deficiency is linked to bone loss."},
        {"_id": "d3", "title": "Sleep", "text": "Short sleep impairs memory consolidation."},
    ]
    queries = [{"_id": "q1", "text": "aspirin heart attack risk"}, {"_id": "q2", "text": "bone loss vitamin"}]
    (beir / "corpus.jsonl").write_text("\n".join(json.dumps(c) for c in corpus), encoding="utf-8")
    (beir / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries), encoding="utf-8")
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["eval", "retrieval", "--beir", str(beir), "--work-dir", str(tmp_path / "w"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    for pipeline in report["pipelines"]:
        assert pipeline["metrics"]["ndcg@10"] == pytest.approx(1.0), pipeline["name"]


def test_eval_needs_a_dataset_or_beir(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["eval", "retrieval", "--out", str(tmp_path / "o")])
    assert result.exit_code != 0
