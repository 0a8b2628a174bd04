"""Fixtures: the app on the fast hash embedder in a temporary data dir, open or with an admin key."""

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

ADMIN_KEY = "admin-secret-for-tests"
SHOP = "https://shop.example"

# The hash embedder's cosines are not the real model's: word coverage decides refusal in these tests
# (the same thresholds as tests/ragchat/api), so an unrelated question is refused and a related one answered.
FAKE_CHAT = ChatSettings(
    refuse_min_dense=0.99, refuse_min_dense_cross=0.99, refuse_min_coverage=0.5, refuse_min_dense_with_coverage=0.1
)

GARDEN = """# Garden handbook

## Watering tomatoes

Tomatoes need deep watering twice a week in summer. Water at the base of the plant in the early morning.

## Pruning tomatoes

Remove the suckers that grow between the main stem and the branches. Pruning keeps the plant airy and less
prone to disease.
"""

BIRDS = """# Bird notes

## Robins

Robins sing at dawn and eat worms from the lawn after rain.
"""


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("RAGCHAT_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def web_settings(data_dir: Path, *, admin_key: str | None = None) -> AppSettings:
    return AppSettings(
        core=Settings(data_dir=data_dir, embedder="fake", top_k=4),
        server=ServerSettings(admin_api_key=admin_key),  # type: ignore[arg-type]
        llm=LLMSettings(backend="extractive"),
        chat=FAKE_CHAT,
    )


def admin(key: str = ADMIN_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def add_document(client: TestClient, kb: str, name: str, text: str, headers: dict[str, str] | None = None) -> None:
    headers = headers or {}
    assert client.post("/kbs", json={"name": kb}, headers=headers).status_code in (200, 201)
    files = [("files", (name, text.encode(), "text/markdown"))]
    response = client.post(f"/kbs/{kb}/documents", files=files, headers=headers)
    assert response.status_code == 201, response.text


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """An open server (no admin key) with knowledge bases 'garden' and 'birds'."""
    with TestClient(create_app(web_settings(tmp_path))) as c:
        add_document(c, "garden", "garden.md", GARDEN)
        add_document(c, "birds", "birds.md", BIRDS)
        yield c


@pytest.fixture
def admin_client(tmp_path: Path) -> Iterator[TestClient]:
    """A server with an admin key and the knowledge base 'garden'."""
    with TestClient(create_app(web_settings(tmp_path, admin_key=ADMIN_KEY))) as c:
        add_document(c, "garden", "garden.md", GARDEN, admin())
        yield c
