"""The app on a real uvicorn server on loopback, driven by plain HTTP and by the official openai client."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from ragchat.api.app import create_app
from tests.ragchat.api.conftest import EN_DOC, ZH_DOC, app_settings

pytestmark = pytest.mark.server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        create_app(app_settings(tmp_path)),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws="none",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_upload_and_chat_over_real_http(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as http:
        assert http.get("/health").json()["status"] == "ok"
        assert http.post("/kbs", json={"name": "t"}).status_code == 201
        files = [("files", (p.name, p.read_bytes(), "text/markdown")) for p in (ZH_DOC, EN_DOC)]
        job = http.post("/kbs/t/documents", files=files, params={"background": True}).json()["job"]
        deadline = time.monotonic() + 20
        while http.get(f"/jobs/{job['id']}").json()["state"] != "done":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with http.stream("POST", "/kbs/t/chat/stream", json={"question": "LoRA 的缺点是什么？"}) as response:
            assert response.status_code == 200
            names = [line.removeprefix("event: ") for line in response.iter_lines() if line.startswith("event: ")]
        assert names[0] == "sources" and names[-1] == "done" and "token" in names
        assert http.post("/kbs/t/chat", json={"question": ""}).status_code == 422


def test_official_openai_client_chats_with_a_knowledge_base(base_url: str) -> None:
    import openai

    with httpx.Client(base_url=base_url, timeout=30) as http:
        http.post("/kbs", json={"name": "notes"})
        files = [("files", (ZH_DOC.name, ZH_DOC.read_bytes(), "text/markdown"))]
        assert http.post("/kbs/notes/documents", files=files).status_code == 201
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0)
    try:
        reply = client.chat.completions.create(model="notes", messages=[{"role": "user", "content": "LoRA 的缺点？"}])
        assert "低秩假设" in (reply.choices[0].message.content or "")
        stream = client.chat.completions.create(
            model="notes", messages=[{"role": "user", "content": "LoRA 的缺点？"}], stream=True
        )
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
        assert "低秩假设" in text
        assert [m.id for m in client.models.list()] == ["notes"]
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    finally:
        client.close()
