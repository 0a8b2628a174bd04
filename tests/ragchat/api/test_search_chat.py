"""Search trace, chat (answer, citations, refusal, multi-turn), streaming events and error statuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragchat.api.app import create_app
from ragchat.errors import GenerationError, GenerationTimeout
from ragchat.generation.backends import ScriptedChatModel
from tests.ragchat.api.conftest import ZH_DOC, app_settings, upload


def events(text: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_search_returns_the_trace(client: TestClient, kb: str) -> None:
    response = client.post(f"/kbs/{kb}/search", json={"query": "LoRA 的缺点", "k": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["mode"] == "hybrid" and len(body["hits"]) == 3
    top = body["hits"][0]
    assert top["heading"] == "参数高效微调 > LoRA 的缺点" and top["rank"] == 1
    assert {"score", "dense_score", "dense_rank", "bm25_score", "bm25_rank", "text", "doc_id"} <= set(top)
    assert top["dense_rank"] is not None and top["bm25_rank"] is not None
    dense = client.post(f"/kbs/{kb}/search", json={"query": "LoRA", "mode": "dense"}).json()
    assert all(h["bm25_rank"] is None for h in dense["hits"])


def test_search_errors(client: TestClient, kb: str) -> None:
    assert client.post(f"/kbs/{kb}/search", json={"query": "  "}).status_code == 422
    assert client.post(f"/kbs/{kb}/search", json={"query": "x", "mode": "magic"}).status_code == 422
    assert client.post(f"/kbs/{kb}/search", json={"query": "x", "k": 0}).status_code == 422
    assert client.post("/kbs/nope/search", json={"query": "x"}).status_code == 404
    client.post("/kbs", json={"name": "empty"})
    empty = client.post("/kbs/empty/search", json={"query": "x"})
    assert empty.status_code == 503 and "no documents" in empty.json()["detail"]


def test_chat_answers_with_citations(client: TestClient, kb: str) -> None:
    response = client.post(f"/kbs/{kb}/chat", json={"question": "LoRA 的缺点是什么？"})
    assert response.status_code == 200
    body = response.json()
    assert body["refused"] is False and body["refusal"]["refused"] is False
    assert "低秩假设" in body["answer"] and "[1]" in body["answer"]
    citation = body["citations"][0]
    assert citation["n"] == 1 and citation["doc_name"] == "lora-zh.md"
    assert citation["heading"] == "参数高效微调 > LoRA 的缺点"
    assert citation["snippet"] and citation["snippet"] in body["answer"]
    assert citation["dense_score"] is not None and citation["rank"] == 1
    assert body["hits"] and body["session_id"] and body["timings_ms"]["total_ms"] > 0


def test_chat_in_english_cites_english_sources(client: TestClient, kb: str) -> None:
    body = client.post(f"/kbs/{kb}/chat", json={"question": "How does retrieval-augmented generation work?"}).json()
    assert body["refused"] is False
    assert "retrieves relevant passages" in body["answer"]
    assert {c["doc_name"] for c in body["citations"]} == {"rag-en.md"}


def test_unrelated_question_is_refused_without_calling_the_llm(tmp_path: Path) -> None:
    model = ScriptedChatModel()
    with TestClient(create_app(app_settings(tmp_path), chat_model=model)) as client:
        client.post("/kbs", json={"name": "t"})
        upload(client, "t", ZH_DOC)
        body = client.post("/kbs/t/chat", json={"question": "量子计算机的纠错码如何设计？"}).json()
        assert body["refused"] is True
        assert body["answer"] == "知识库中没有找到与该问题相关的内容。"
        assert body["citations"] == [] and body["refusal"]["reason"]
        english = client.post("/kbs/t/chat", json={"question": "Which football club won the 1998 cup?"}).json()
        assert english["refused"] is True and english["answer"].startswith("The knowledge base does not contain")
        assert model.calls == []


def test_multi_turn_follow_up_is_rewritten(client: TestClient, kb: str) -> None:
    first = client.post(f"/kbs/{kb}/chat", json={"question": "什么是LoRA？"}).json()
    session = first["session_id"]
    follow = client.post(f"/kbs/{kb}/chat", json={"question": "那它的缺点呢?", "session_id": session}).json()
    assert follow["standalone_question"] == "LoRA的缺点呢?"
    assert follow["session_id"] == session and follow["refused"] is False
    assert follow["citations"][0]["heading"] == "参数高效微调 > LoRA 的缺点"
    fresh = client.post(f"/kbs/{kb}/chat", json={"question": "那它的缺点呢?"}).json()
    assert fresh["standalone_question"] == "那它的缺点呢?"


def test_multi_turn_with_an_llm_uses_the_condense_prompt(tmp_path: Path) -> None:
    model = ScriptedChatModel(["LoRA 是一种微调方法 {sources}", "LoRA 的缺点是什么？", "LoRA 会限制表达能力 {sources}"])
    with TestClient(create_app(app_settings(tmp_path), chat_model=model)) as client:
        client.post("/kbs", json={"name": "t"})
        upload(client, "t", ZH_DOC)
        body = client.post("/kbs/t/chat", json={"question": "什么是LoRA？", "session_id": "s1"}).json()
        assert body["standalone_question"] == "什么是LoRA？"  # no history yet: nothing to rewrite
        body = client.post("/kbs/t/chat", json={"question": "那它的缺点呢?", "session_id": "s1"}).json()
        kinds = [kind for kind, _ in model.calls]
        assert kinds == ["generate", "complete", "generate"]
        assert body["standalone_question"] == "LoRA 的缺点是什么？"
        assert body["answer"] == "LoRA 会限制表达能力 [1][2][3]"[: len(body["answer"])]
        assert [c["n"] for c in body["citations"]] == list(range(1, len(body["citations"]) + 1))
        prompt = model.calls[-1][1]
        assert prompt[0].role == "system" and "[n]" in prompt[0].content
        assert '<资料 n="1"' in prompt[1].content and "问题：LoRA 的缺点是什么？" in prompt[1].content


def test_stream_sends_sources_then_tokens_then_done(client: TestClient, kb: str) -> None:
    with client.stream("POST", f"/kbs/{kb}/chat/stream", json={"question": "LoRA 的原理是什么？"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = events(response.read().decode())
    names = [name for name, _ in stream]
    assert names[0] == "sources" and names[-1] == "done"
    assert set(names[1:-1]) == {"token"} and len(names) > 3
    sources = stream[0][1]
    assert sources["refused"] is False and sources["sources"][0]["n"] == 1 and sources["hits"]
    done = stream[-1][1]
    assert done["answer"] == "".join(data["text"] for name, data in stream if name == "token")
    assert done["citations"] and done["session_id"] == sources["session_id"]


def test_stream_refusal_and_errors_before_the_stream(client: TestClient, kb: str) -> None:
    with client.stream("POST", f"/kbs/{kb}/chat/stream", json={"question": "量子纠错码怎么设计？"}) as response:
        stream = events(response.read().decode())
    assert [n for n, _ in stream] == ["sources", "token", "done"]
    assert stream[0][1]["refused"] is True and stream[-1][1]["answer"] == "知识库中没有找到与该问题相关的内容。"
    assert client.post("/kbs/nope/chat/stream", json={"question": "x"}).status_code == 404
    assert client.post(f"/kbs/{kb}/chat/stream", json={"question": ""}).status_code == 422


@pytest.mark.parametrize(
    ("error", "status"), [(GenerationError("LLM returned HTTP 500"), 502), (GenerationTimeout("too slow"), 504)]
)
def test_llm_failures_map_to_502_and_504(tmp_path: Path, error: Exception, status: int) -> None:
    model = ScriptedChatModel(error=error)
    with TestClient(create_app(app_settings(tmp_path), chat_model=model)) as client:
        client.post("/kbs", json={"name": "t"})
        upload(client, "t", ZH_DOC)
        response = client.post("/kbs/t/chat", json={"question": "LoRA 的原理是什么？"})
        assert response.status_code == status and response.json()["detail"] == str(error)


def test_failure_after_the_stream_started_ends_it_with_one_error_event(tmp_path: Path) -> None:
    model = ScriptedChatModel(["one two three four"], error=GenerationError("connection dropped"), fail_after=2)
    with TestClient(create_app(app_settings(tmp_path), chat_model=model)) as client:
        client.post("/kbs", json={"name": "t"})
        upload(client, "t", ZH_DOC)
        with client.stream("POST", "/kbs/t/chat/stream", json={"question": "LoRA 的原理是什么？"}) as response:
            assert response.status_code == 200
            stream = events(response.read().decode())
    assert [n for n, _ in stream] == ["sources", "token", "token", "error"]
    assert stream[-1][1] == {"status": 502, "type": "GenerationError", "detail": "connection dropped"}


def test_chat_errors(client: TestClient, kb: str) -> None:
    assert client.post(f"/kbs/{kb}/chat", json={"question": ""}).status_code == 422
    assert client.post(f"/kbs/{kb}/chat", json={"question": "   "}).status_code == 422
    assert client.post(f"/kbs/{kb}/chat", json={}).status_code == 422
    headers = {"content-type": "application/json"}
    assert client.post(f"/kbs/{kb}/chat", content=b"not json", headers=headers).status_code == 422
    assert client.post(f"/kbs/{kb}/chat", json={"question": "x" * 5000}).status_code == 422
    assert client.post("/kbs/nope/chat", json={"question": "LoRA"}).status_code == 404
    assert client.post("/kbs/bad name!/chat", json={"question": "LoRA"}).status_code == 422
    client.post("/kbs", json={"name": "empty"})
    assert client.post("/kbs/empty/chat", json={"question": "LoRA"}).status_code == 503
