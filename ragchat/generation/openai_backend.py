"""Any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp server) through LangChain's
``ChatOpenAI``, streaming included.

Every failure becomes a :class:`GenerationError` (or :class:`GenerationTimeout`) whose message says what
went wrong and where: timeouts, refused or dropped connections, 4xx/5xx replies, malformed or empty replies.
``langchain_openai`` is imported lazily, on the first request.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from ragchat.errors import GenerationError, GenerationTimeout
from ragchat.generation.settings import LLMSettings
from ragchat.generation.types import GenerationInput, Message

logger = logging.getLogger(__name__)
_BODY_CHARS = 300


def _to_langchain(messages: Sequence[Message]) -> list[Any]:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    return [kinds[m.role](content=m.content) for m in messages]


def _text(content: object) -> str:
    """Text of a LangChain message content (a string, or a list of content blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        blocks = [b for b in content if isinstance(b, str | dict)]
        return "".join(b if isinstance(b, str) else str(b.get("text", "")) for b in blocks)
    raise GenerationError(f"malformed reply from the LLM: unexpected content of type {type(content).__name__}")


class OpenAIChatModel:
    free_text = True

    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings
        self.name = f"openai/{settings.model}"
        self._client: Any = None
        self._lock = threading.Lock()

    def _chat(self) -> Any:
        with self._lock:
            if self._client is None:
                from langchain_openai import ChatOpenAI

                s = self.settings
                self._client = ChatOpenAI(
                    model=s.model,
                    base_url=s.base_url,
                    api_key=s.api_key,  # type: ignore[arg-type]
                    timeout=s.timeout_s,
                    max_retries=0,
                    temperature=s.temperature,
                    max_tokens=s.max_answer_tokens,  # type: ignore[call-arg]
                )
            return self._client

    def _error(self, exc: BaseException) -> GenerationError:
        """Translate whatever the client raised into a clear GenerationError naming the endpoint."""
        import httpx
        import openai

        where = f"LLM endpoint {self.settings.base_url} (model {self.settings.model!r})"
        if isinstance(exc, GenerationError):
            return exc
        if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException):
            return GenerationTimeout(f"{where} did not answer within {self.settings.timeout_s:g}s")
        if isinstance(exc, openai.APIStatusError):
            body = exc.response.text[:_BODY_CHARS] if exc.response is not None else ""
            return GenerationError(f"{where} returned HTTP {exc.status_code}: {body or exc.message}")
        if isinstance(exc, openai.APIConnectionError | httpx.TransportError):
            cause: BaseException = exc
            while cause.__cause__ is not None or cause.__context__ is not None:
                cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
            return GenerationError(f"cannot talk to {where}: {type(cause).__name__}: {cause}")
        if isinstance(exc, openai.APIResponseValidationError | json.JSONDecodeError | ValueError | KeyError
                      | TypeError | AttributeError):
            return GenerationError(f"malformed reply from {where}: {type(exc).__name__}: {exc}")
        if isinstance(exc, openai.OpenAIError):
            return GenerationError(f"{where} failed: {type(exc).__name__}: {exc}")
        return GenerationError(f"{where} failed unexpectedly: {type(exc).__name__}: {exc}")

    def complete(self, messages: Sequence[Message]) -> str:
        try:
            reply = self._chat().invoke(_to_langchain(messages))
            text = _text(reply.content)
        except Exception as exc:  # every client failure is translated, never leaked
            raise self._error(exc) from exc
        if not text.strip():
            raise GenerationError(f"LLM endpoint {self.settings.base_url} returned an empty answer")
        return text

    def generate(self, request: GenerationInput) -> str:
        return self.complete(request.messages)

    def stream(self, request: GenerationInput) -> Iterator[str]:
        produced = False
        try:
            for piece in self._chat().stream(_to_langchain(request.messages)):
                text = _text(piece.content)
                if text:
                    produced = True
                    yield text
        except GeneratorExit:
            raise
        except Exception as exc:
            raise self._error(exc) from exc
        if not produced:
            raise GenerationError(f"LLM endpoint {self.settings.base_url} streamed an empty answer")
