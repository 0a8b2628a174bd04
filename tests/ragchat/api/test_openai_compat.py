"""The OpenAI-compatible endpoint, and the openai backend wired into the app against a fake LLM server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ragchat.api.app import create_app
from ragchat.generation.settings import LLMSettings
from tests.ragchat.api.conftest import ZH_DOC, app_settings, upload
from tests.ragchat.fake_openai import REPLY, FakeOpenAIServer


def test_completions_answer_from_the_knowledge_base(client: TestClient, kb: str) -> None:
    body = {
        "model": kb,
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "LoRA 的缺点是什么？"}],
    }
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    data = response.json()
    assert data["object"] == "chat.completion" and data["model"] == kb
    message = data["choices"][0]["message"]
    assert message["role"] == "assistant" and "低秩假设" in message["content"]
    assert data["choices"][0]["finish_reason"] == "stop"
    assert data["ragchat"]["refused"] is False and data["ragchat"]["citations"][0]["doc_name"] == "lora-zh.md"
    assert client.get("/v1/models").json()["data"] == [
        {"id": kb, "object": "model", "created": 0, "owned_by": "ragchat"}
    ]


def test_completions_use_the_history_for_follow_ups(client: TestClient, kb: str) -> None:
    messages = [
        {"role": "user", "content": "什么是LoRA？"},
        {"role": "assistant", "content": "LoRA 是一种参数高效微调方法。"},
        {"role": "user", "content": "那它的缺点呢?"},
    ]
    data = client.post("/v1/chat/completions", json={"model": kb, "messages": messages}).json()
    assert data["ragchat"]["standalone_question"] == "LoRA的缺点呢?"


def test_completions_stream(client: TestClient, kb: str) -> None:
    body = {"model": kb, "stream": True, "messages": [{"role": "user", "content": "LoRA 的原理是什么？"}]}
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        lines = [line for line in response.read().decode().split("\n\n") if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert "LoRA" in text and "[1]" in text and chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["ragchat"]["citations"]


def test_completions_errors_use_the_openai_shape(client: TestClient, kb: str) -> None:
    question = [{"role": "user", "content": "x"}]
    unknown = client.post("/v1/chat/completions", json={"model": "nope", "messages": question})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == unknown.json()["detail"]
    last_assistant = {"model": kb, "messages": [{"role": "assistant", "content": "hi"}]}
    assert client.post("/v1/chat/completions", json=last_assistant).status_code == 422
    assert client.post("/v1/chat/completions", json={"model": kb, "messages": []}).status_code == 422
    empty = {"model": kb, "messages": [{"role": "user", "content": " "}]}
    assert client.post("/v1/chat/completions", json=empty).status_code == 422


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


def openai_client(tmp_path: Path, llm: FakeOpenAIServer, model: str) -> TestClient:
    settings = app_settings(tmp_path)
    settings.llm = LLMSettings(backend="openai", base_url=llm.base_url, model=model, timeout_s=0.5)
    return TestClient(create_app(settings))


@pytest.mark.server
def test_openai_backend_answers_through_the_app(tmp_path: Path, llm: FakeOpenAIServer) -> None:
    with openai_client(tmp_path, llm, "normal") as client:
        client.post("/kbs", json={"name": "t"})
        upload(client, "t", ZH_DOC)
        body = client.post("/kbs/t/chat", json={"question": "LoRA 的原理是什么？"}).json()
        assert body["answer"] == REPLY and [c["n"] for c in body["citations"]] == [1]
        prompt = llm.requests[-1]["messages"]
        assert prompt[0]["role"] == "system" and "LoRA 在冻结的预训练权重" in prompt[1]["content"]
        with client.stream("POST", "/kbs/t/chat/stream", json={"question": "LoRA 的原理是什么？"}) as response:
            text = response.read().decode()
        assert text.count("event: token") > 3 and "event: done" in text


@pytest.mark.server
@pytest.mark.parametrize(
    ("model", "status", "detail"),
    [
        ("slow", 504, "did not answer within 0.5s"),
        ("error500", 502, "returned HTTP 500"),
        ("malformed", 502, "malformed reply"),
        ("drop", 502, "cannot talk to LLM endpoint"),
    ],
)
def test_llm_failures_become_502_and_504(
    tmp_path: Path, llm: FakeOpenAIServer, model: str, status: int, detail: str
) -> None:
    with openai_client(tmp_path, llm, model) as client:
        client.post("/kbs", json={"name": "t"})
        upload(client, "t", ZH_DOC)
        response = client.post("/kbs/t/chat", json={"question": "LoRA 的原理是什么？"})
        assert response.status_code == status and detail in response.json()["detail"]
        v1 = client.post(
            "/v1/chat/completions",
            json={"model": "t", "messages": [{"role": "user", "content": "LoRA 的原理是什么？"}]},
        )
        assert v1.status_code == status and detail in v1.json()["error"]["message"]


@pytest.mark.server
def test_llm_dropping_mid_stream_ends_with_an_error_event(tmp_path: Path, llm: FakeOpenAIServer) -> None:
    with openai_client(tmp_path, llm, "drop-mid-stream") as client:
        client.post("/kbs", json={"name": "t"})
        upload(client, "t", ZH_DOC)
        with client.stream("POST", "/kbs/t/chat/stream", json={"question": "LoRA 的原理是什么？"}) as response:
            blocks = response.read().decode().strip().split("\n\n")
        assert blocks[0].startswith("event: sources") and blocks[1].startswith("event: token")
        assert blocks[-1].startswith("event: error") and "event: done" not in "".join(blocks)
        error = json.loads(blocks[-1].split("data: ", 1)[1])
        assert error["status"] == 502 and "cannot talk to LLM endpoint" in error["detail"]
        body = {"model": "t", "stream": True, "messages": [{"role": "user", "content": "LoRA 的原理是什么？"}]}
        with client.stream("POST", "/v1/chat/completions", json=body) as response:
            lines = response.read().decode().strip().split("\n\n")
        assert lines[-1] == "data: [DONE]" and '"error"' in lines[-2]
