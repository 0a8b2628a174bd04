"""Fixtures: an app on the fast fake embedder in a temporary data dir, started with its lifespan."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ragchat.api.app import create_app
from ragchat.api.settings import AppSettings, ServerSettings
from ragchat.config import Settings
from ragchat.generation.settings import ChatSettings, LLMSettings

FIXTURES = Path(__file__).parent / "fixtures"
ZH_DOC = FIXTURES / "lora-zh.md"
EN_DOC = FIXTURES / "rag-en.md"

# The hash embedder's cosines are not the real model's: word coverage decides refusal in these tests.
FAKE_CHAT = ChatSettings(
    refuse_min_dense=0.99, refuse_min_dense_cross=0.99, refuse_min_coverage=0.5, refuse_min_dense_with_coverage=0.1
)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("RAGCHAT_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def app_settings(data_dir: Path, **server: object) -> AppSettings:
    return AppSettings(
        core=Settings(data_dir=data_dir, embedder="fake", top_k=4),
        server=ServerSettings(**server),  # type: ignore[arg-type]
        llm=LLMSettings(),
        chat=FAKE_CHAT,
    )


@pytest.fixture
def settings(tmp_path: Path) -> AppSettings:
    return app_settings(tmp_path)


@pytest.fixture
def client(settings: AppSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def upload(client: TestClient, kb: str, *paths: Path, **params: object) -> dict:
    files = [("files", (p.name, p.read_bytes(), "text/markdown")) for p in paths]
    response = client.post(f"/kbs/{kb}/documents", files=files, params=params)
    assert response.status_code in (201, 202), response.text
    return response.json()


@pytest.fixture
def kb(client: TestClient) -> str:
    assert client.post("/kbs", json={"name": "t"}).status_code == 201
    upload(client, "t", ZH_DOC, EN_DOC)
    return "t"
