"""The ragchat command end to end in a subprocess (fake embedder for speed; real SQLite/FAISS)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def ragchat(*args: str, data: Path, embedder: str = "fake") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAGCHAT_DATA_DIR": str(data), "RAGCHAT_EMBEDDER": embedder, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "ragchat", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "rag.md").write_text("# 混合检索\n\n混合检索用 RRF 融合 BM25 与向量检索的排名。\n", encoding="utf-8")
    (folder / "faiss.md").write_text("# FAISS\n\nFAISS stores dense vectors for similarity search.\n", encoding="utf-8")
    (folder / "broken.pdf").write_text("this is not a pdf", encoding="utf-8")
    return folder


def test_ingest_search_docs_and_kb_commands(tmp_path: Path, corpus: Path) -> None:
    data = tmp_path / "data"
    first = ragchat("ingest", str(corpus), "--kb", "t", "--json", data=data)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert (report["added"], report["skipped"]) == (2, 1)
    broken = next(f for f in report["files"] if f["path"].endswith("broken.pdf"))
    assert broken["status"] == "skipped" and broken["reason"]

    table = ragchat("ingest", str(corpus), "--kb", "t", data=data)
    assert "unchanged 2" in table.stdout and "broken.pdf" in table.stdout

    found = json.loads(ragchat("search", "RRF 融合", "--kb", "t", "-k", "1", "--json", data=data).stdout)
    hit = found["hits"][0]
    assert hit["doc_name"] == "rag.md" and hit["heading"] == "混合检索" and hit["bm25_rank"] == 1
    assert {"score", "dense_score", "dense_rank", "bm25_score", "page", "text"} <= hit.keys()

    human = ragchat("search", "similarity search", "--kb", "t", "-k", "2", data=data)
    assert human.returncode == 0 and "faiss.md" in human.stdout

    kbs = json.loads(ragchat("kb", "list", "--json", data=data).stdout)
    assert kbs == [{"name": "t", "documents": 2, "chunks": 2, "embedder": "fake/hash-64"}]

    assert ragchat("docs", "delete", "rag.md", "--kb", "t", data=data).returncode == 0
    docs = json.loads(ragchat("docs", "list", "--kb", "t", "--json", data=data).stdout)
    assert [d["name"] for d in docs] == ["faiss.md"]

    assert ragchat("kb", "delete", "t", data=data).returncode == 0
    assert json.loads(ragchat("kb", "list", "--json", data=data).stdout) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("search", "anything", "--kb", "nope"), "no knowledge base named 'nope'"),
        (("ingest", "/no/such/path", "--kb", "x"), "no such file or directory: /no/such/path"),
        (("kb", "delete", "nope"), "no knowledge base named 'nope'"),
        (("search", "   ", "--kb", "x", "--json"), "query must not be empty"),
    ],
)
def test_errors_are_one_clear_line_and_nonzero_exit(
    tmp_path: Path, corpus: Path, args: tuple[str, ...], message: str
) -> None:
    data = tmp_path / "data"
    ragchat("ingest", str(corpus), "--kb", "x", "--json", data=data)
    result = ragchat(*args, data=data)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_model_mismatch_is_reported_with_how_to_reindex(tmp_path: Path, corpus: Path) -> None:
    data = tmp_path / "data"
    ragchat("ingest", str(corpus), "--kb", "m", "--json", data=data)
    result = ragchat("search", "FAISS", "--kb", "m", data=data, embedder="minilm")
    assert result.returncode == 1
    assert "built with embedder 'fake/hash-64'" in result.stderr and "re-index" in result.stderr
