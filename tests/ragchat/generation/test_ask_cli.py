"""``ragchat ask``: the answer with numbered sources, or JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragchat.cli import app
from ragchat.config import Settings
from ragchat.services import Services

FIXTURES = Path(__file__).parent.parent / "api" / "fixtures"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RAGCHAT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RAGCHAT_EMBEDDER", "fake")
    monkeypatch.setenv("RAGCHAT_LLM_BACKEND", "extractive")
    monkeypatch.setenv("RAGCHAT_CHAT_REFUSE_MIN_DENSE", "0.99")
    monkeypatch.setenv("RAGCHAT_CHAT_REFUSE_MIN_DENSE_CROSS", "0.99")
    monkeypatch.setenv("RAGCHAT_CHAT_REFUSE_MIN_COVERAGE", "0.5")
    monkeypatch.setenv("RAGCHAT_CHAT_REFUSE_MIN_DENSE_WITH_COVERAGE", "0.1")
    from ingest.pipeline import make_ingestor

    services = Services.build(Settings())
    kb = services.kb("default", create=True)
    make_ingestor(kb, Settings(chunk_tokens=256, chunk_overlap=48, embed_batch_size=16, max_file_mb=10)).ingest(
        [FIXTURES]
    )
    services.close()
    return tmp_path


def test_ask_prints_answer_and_numbered_sources(data_dir: Path) -> None:
    result = CliRunner().invoke(app, ["ask", "LoRA 的缺点是什么？"])
    assert result.exit_code == 0, result.output
    assert "低秩假设" in result.output and "[1]" in result.output
    assert "Sources" in result.output and "[1] lora-zh.md · 参数高效微调 > LoRA 的缺点" in result.output


def test_ask_json(data_dir: Path) -> None:
    result = CliRunner().invoke(app, ["ask", "量子纠错码怎么设计？", "--json", "--kb", "default"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["refused"] is True and data["answer"] == "知识库中没有找到与该问题相关的内容。"
    assert data["citations"] == [] and data["hits"]
