"""Test-wide guards: no network by accident, every data dir under tmp_path, shared paths."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SAMPLES = ROOT / "samples"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("RAGCHAT_DATA_DIR", str(tmp_path / "data"))
    for var in ("RAGCHAT_EMBEDDER", "RAGCHAT_DEFAULT_KB", "RAGCHAT_LLM_BACKEND", "RAGCHAT_LLM_BASE_URL"):
        monkeypatch.delenv(var, raising=False)


def shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not here (../shared is only beside the repo in development and CI)")
    return path
