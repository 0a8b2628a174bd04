"""Knowledge bases, uploads (sync and background jobs), re-upload semantics, inspection and deletion."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from ragchat.api.app import create_app
from ragchat.retrieval.embedders import HashEmbedder, Kind
from ragchat.services import Services
from tests.ragchat.api.conftest import EN_DOC, ZH_DOC, app_settings, upload


def test_health_docs_and_openapi(client: TestClient) -> None:
    assert client.get("/health").json() == {
        "status": "ok",
        "embedder": "fake/hash-64",
        "llm_backend": "extractive",
        "knowledge_bases": 0,
    }
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    expected = {
        "/health",
        "/kbs",
        "/kbs/{kb}",
        "/kbs/{kb}/documents",
        "/kbs/{kb}/documents/{doc_id}",
        "/jobs",
        "/jobs/{job_id}",
        "/kbs/{kb}/search",
        "/kbs/{kb}/chat",
        "/kbs/{kb}/chat/stream",
        "/v1/models",
        "/v1/chat/completions",
    }
    assert expected <= set(spec["paths"])
    upload_responses = spec["paths"]["/kbs/{kb}/documents"]["post"]["responses"]
    assert {"201", "202", "404", "413", "415", "422", "503"} <= set(upload_responses)
    assert {"502", "503", "504"} <= set(spec["paths"]["/kbs/{kb}/chat"]["post"]["responses"])


def test_knowledge_base_lifecycle(client: TestClient) -> None:
    assert client.post("/kbs", json={"name": "notes"}).status_code == 201
    assert client.post("/kbs", json={"name": "notes"}).status_code == 200
    assert client.get("/kbs").json() == {
        "data": [{"name": "notes", "documents": 0, "chunks": 0, "embedder": None}],
        "count": 1,
    }
    assert client.get("/kbs/notes").json()["documents"] == 0
    bad = client.post("/kbs", json={"name": "../etc"})
    assert bad.status_code == 422 and "invalid knowledge base name" in bad.json()["detail"]
    assert client.delete("/kbs/notes").status_code == 204
    assert client.get("/kbs/notes").status_code == 404
    assert client.delete("/kbs/notes").status_code == 404


def test_upload_inspect_and_reupload(client: TestClient, kb: str) -> None:
    docs = client.get(f"/kbs/{kb}/documents").json()
    assert docs["count"] == 2 and {d["name"] for d in docs["data"]} == {"lora-zh.md", "rag-en.md"}
    zh = next(d for d in docs["data"] if d["name"] == "lora-zh.md")
    detail = client.get(f"/kbs/{kb}/documents/{zh['id']}").json()
    assert detail["document"]["chunks"] == len(detail["chunks"]) >= 3
    headings = [c["heading"] for c in detail["chunks"]]
    assert "参数高效微调 > LoRA 的缺点" in headings
    assert all(c["page"] is None for c in detail["chunks"])

    again = upload(client, kb, ZH_DOC)
    assert again["background"] is False
    assert [f["status"] for f in again["job"]["files"]] == ["unchanged"]
    assert client.get(f"/kbs/{kb}").json()["documents"] == 2


def test_changed_file_replaces_the_old_version(client: TestClient, kb: str, tmp_path: Path) -> None:
    changed = tmp_path / "rag-en.md"
    changed.write_text(EN_DOC.read_text() + "\n## Reranking\n\nA cross-encoder reranks the fused candidates.\n")
    result = upload(client, kb, changed)
    [file] = result["job"]["files"]
    assert file["status"] == "replaced"
    docs = client.get(f"/kbs/{kb}/documents").json()
    assert docs["count"] == 2
    chunks = client.get(f"/kbs/{kb}/documents/{file['doc_id']}").json()["chunks"]
    assert any("cross-encoder" in c["text"] for c in chunks)


def test_pdf_upload_keeps_pages(client: TestClient, tmp_path: Path) -> None:
    import pymupdf

    pdf = tmp_path / "primer.pdf"
    document = pymupdf.open()
    for number in (1, 2):
        page = document.new_page()
        page.insert_text((72, 72), f"Page {number}: vector search finds nearest neighbours by cosine similarity.")
    document.save(pdf)
    document.close()
    client.post("/kbs", json={"name": "pdfs"})
    [file] = upload(client, "pdfs", pdf)["job"]["files"]
    assert file["status"] == "added", file
    chunks = client.get(f"/kbs/pdfs/documents/{file['doc_id']}").json()["chunks"]
    assert {c["page"] for c in chunks} <= {1, 2} and chunks[0]["page"] == 1


def test_delete_document(client: TestClient, kb: str) -> None:
    doc = next(d for d in client.get(f"/kbs/{kb}/documents").json()["data"] if d["name"] == "rag-en.md")
    assert client.delete(f"/kbs/{kb}/documents/{doc['id']}").status_code == 204
    assert client.get(f"/kbs/{kb}/documents/{doc['id']}").status_code == 404
    assert client.delete(f"/kbs/{kb}/documents/{doc['id']}").status_code == 404
    hits = client.post(f"/kbs/{kb}/search", json={"query": "retrieval augmented generation"}).json()["hits"]
    assert all(h["doc_name"] != "rag-en.md" for h in hits)


def test_upload_errors(client: TestClient, kb: str, tmp_path: Path) -> None:
    unknown = client.post("/kbs/nope/documents", files=[("files", ("a.md", b"# a\n\ntext", "text/markdown"))])
    assert unknown.status_code == 404 and "no knowledge base named 'nope'" in unknown.json()["detail"]
    exe = client.post(f"/kbs/{kb}/documents", files=[("files", ("tool.exe", b"MZ\x00", "application/octet-stream"))])
    assert exe.status_code == 415 and "tool.exe" in exe.json()["detail"] and ".pdf" in exe.json()["detail"]
    assert client.post(f"/kbs/{kb}/documents").status_code == 422
    same = [("files", ("a.md", b"x", "text/markdown")), ("files", ("a.md", b"y", "text/markdown"))]
    assert client.post(f"/kbs/{kb}/documents", files=same).status_code == 422
    assert client.get(f"/kbs/{kb}/documents/nope").status_code == 404
    assert client.get("/jobs/nope").status_code == 404


def test_oversized_upload_is_413(tmp_path: Path) -> None:
    with TestClient(create_app(app_settings(tmp_path, max_upload_mb=0.001))) as client:
        client.post("/kbs", json={"name": "t"})
        big = client.post("/kbs/t/documents", files=[("files", ("big.md", b"word " * 1000, "text/markdown"))])
        assert big.status_code == 413
        assert "big.md is larger than the upload limit" in big.json()["detail"]
        assert not any((tmp_path / "uploads").iterdir())


class GatedEmbedder(HashEmbedder):
    """Passages wait for ``gate``: a test can look at a job while it is running."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.waiting = threading.Event()

    def embed(self, texts: Sequence[str], *, kind: Kind) -> np.ndarray:
        if kind == "passage":
            self.waiting.set()
            assert self.gate.wait(20)
        return super().embed(texts, kind=kind)


def test_background_job_reports_progress_and_errors(tmp_path: Path) -> None:
    settings = app_settings(tmp_path)
    embedder = GatedEmbedder()
    services = Services.build(settings.core, embedder=embedder)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"this is not a pdf")
    try:
        with TestClient(create_app(settings, services=services)) as client:
            client.post("/kbs", json={"name": "t"})
            accepted = upload(client, "t", ZH_DOC, broken, EN_DOC, background=True)
            assert accepted["background"] is True
            job_id = accepted["job"]["id"]
            assert accepted["job"]["state"] in ("queued", "running") and accepted["job"]["files_total"] == 3

            assert embedder.waiting.wait(20)
            running = client.get(f"/jobs/{job_id}").json()
            assert running["state"] == "running" and running["files_done"] == 0
            assert running["files"][0]["status"] == "running"
            # the knowledge base is being written: other writers get 503
            busy = client.post("/kbs/t/documents", files=[("files", ("x.md", b"# x\n\nbusy text", "text/markdown"))])
            assert busy.status_code == 503 and "busy" in busy.json()["detail"]
            assert client.delete("/kbs/t").status_code == 503

            embedder.gate.set()
            deadline = time.monotonic() + 30
            while (job := client.get(f"/jobs/{job_id}").json())["state"] in ("queued", "running"):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert job["state"] == "done" and job["files_done"] == 3
            statuses = {f["name"]: f for f in job["files"]}
            assert statuses["lora-zh.md"]["status"] == "added" and statuses["lora-zh.md"]["chunks"] > 0
            assert statuses["broken.pdf"]["status"] == "skipped" and statuses["broken.pdf"]["reason"]
            assert statuses["rag-en.md"]["status"] == "added"
            assert job["chunks_done"] == job["chunks_embedded"] > 0
            assert client.get("/jobs").json()["count"] >= 2
            assert client.get("/kbs/t").json()["documents"] == 2
    finally:
        embedder.gate.set()
        services.close()
