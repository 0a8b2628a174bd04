"""The openai backend against a real OpenAI-protocol HTTP server on loopback: replies, streams, failures."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from ragchat.errors import GenerationError, GenerationTimeout
from ragchat.generation.openai_backend import OpenAIChatModel
from ragchat.generation.settings import LLMSettings
from ragchat.generation.types import GenerationInput, Message
from tests.ragchat.fake_openai import REPLY, FakeOpenAIServer

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as srv:
        yield srv


def model(server: FakeOpenAIServer, name: str, timeout: float = 5.0) -> OpenAIChatModel:
    return OpenAIChatModel(LLMSettings(base_url=server.base_url, model=name, timeout_s=timeout, api_key="k"))


REQUEST = GenerationInput(
    question="What is LoRA?", lang="en", sources=(), messages=(Message("system", "rules"), Message("user", "What?"))
)


def test_generate_sends_the_prompt_and_returns_the_reply(server: FakeOpenAIServer) -> None:
    assert model(server, "normal").generate(REQUEST) == REPLY
    sent = server.requests[-1]
    assert sent["model"] == "normal"
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    assert sent["messages"][1]["content"] == "What?"


def test_stream_yields_pieces_in_order(server: FakeOpenAIServer) -> None:
    pieces = list(model(server, "normal").stream(REQUEST))
    assert len(pieces) > 3
    assert "".join(pieces) == REPLY
    assert server.requests[-1]["stream"] is True


@pytest.mark.parametrize("streaming", [False, True])
def test_slow_server_times_out(server: FakeOpenAIServer, streaming: bool) -> None:
    started = time.perf_counter()
    with pytest.raises(GenerationTimeout, match="did not answer within 0.5s"):
        m = model(server, "slow", timeout=0.5)
        list(m.stream(REQUEST)) if streaming else m.generate(REQUEST)
    assert time.perf_counter() - started < 2.5


@pytest.mark.parametrize("streaming", [False, True])
def test_http_500_is_a_generation_error_with_the_body(server: FakeOpenAIServer, streaming: bool) -> None:
    m = model(server, "error500")
    with pytest.raises(GenerationError, match="HTTP 500.*the model crashed") as info:
        list(m.stream(REQUEST)) if streaming else m.generate(REQUEST)
    assert not isinstance(info.value, GenerationTimeout)


@pytest.mark.parametrize("streaming", [False, True])
def test_malformed_json_is_a_generation_error(server: FakeOpenAIServer, streaming: bool) -> None:
    m = model(server, "malformed")
    with pytest.raises(GenerationError, match="malformed reply"):
        list(m.stream(REQUEST)) if streaming else m.generate(REQUEST)


@pytest.mark.parametrize("name", ["drop", "drop-mid-stream"])
def test_dropped_connection_is_a_generation_error(server: FakeOpenAIServer, name: str) -> None:
    with pytest.raises(GenerationError, match="cannot talk to LLM endpoint"):
        list(model(server, name).stream(REQUEST))
    if name == "drop":
        with pytest.raises(GenerationError, match="Server disconnected"):
            model(server, name).generate(REQUEST)


def test_connection_refused_names_the_endpoint() -> None:
    m = OpenAIChatModel(LLMSettings(base_url="http://127.0.0.1:9/v1", model="x", timeout_s=2))
    with pytest.raises(GenerationError, match=r"127\.0\.0\.1:9"):
        m.generate(REQUEST)


def test_empty_answer_is_an_error(server: FakeOpenAIServer) -> None:
    with pytest.raises(GenerationError, match="empty answer"):
        model(server, "empty").generate(REQUEST)
