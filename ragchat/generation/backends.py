"""The ``ChatModel`` seam: one narrow protocol for every answer backend, and the factory choosing one.

A backend answers a :class:`GenerationInput` in one piece (``generate``) or as a stream of text pieces
(``stream``). Backends that are real language models also ``complete`` free-form prompts (used to rewrite
follow-up questions); the extractive backend cannot, and says so with ``free_text = False``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from ragchat.generation.settings import LLMSettings
from ragchat.generation.types import GenerationInput, Message
from ragchat.retrieval.embedders import Embedder


class ChatModel(Protocol):
    name: str
    free_text: bool

    def generate(self, request: GenerationInput) -> str: ...

    def stream(self, request: GenerationInput) -> Iterator[str]: ...

    def complete(self, messages: Sequence[Message]) -> str: ...


def make_chat_model(settings: LLMSettings, embedder: Embedder) -> ChatModel:
    """The backend named by ``settings.backend``; nothing is loaded or contacted here."""
    if settings.backend == "openai":
        from ragchat.generation.openai_backend import OpenAIChatModel

        return OpenAIChatModel(settings)
    from ragchat.generation.extractive import ExtractiveChatModel

    return ExtractiveChatModel(embedder)


class ScriptedChatModel:
    """A real, deterministic backend for tests: answers with scripted replies, citing every source.

    ``replies`` are used in turn (the last one repeats); ``{sources}`` in a reply becomes ``[1][2]...``.
    ``fail_after`` pieces into a stream it raises ``error`` (to test errors after a stream started).
    """

    name = "scripted"
    free_text = True

    def __init__(
        self, replies: Sequence[str] = ("Scripted answer {sources}.",), *, error: Exception | None = None,
        fail_after: int | None = None,
    ) -> None:
        self.replies = list(replies) or ["{sources}"]
        self.error = error
        self.fail_after = fail_after
        self.calls: list[tuple[str, tuple[Message, ...]]] = []

    def _next(self, request_sources: str) -> str:
        reply = self.replies[min(len(self.calls) - 1, len(self.replies) - 1)]
        return reply.replace("{sources}", request_sources)

    def generate(self, request: GenerationInput) -> str:
        self.calls.append(("generate", request.messages))
        if self.error is not None and self.fail_after is None:
            raise self.error
        return self._next("".join(f"[{s.n}]" for s in request.sources))

    def stream(self, request: GenerationInput) -> Iterator[str]:
        self.calls.append(("stream", request.messages))
        text = self._next("".join(f"[{s.n}]" for s in request.sources))
        for i, word in enumerate(text.split(" ")):
            if self.error is not None and i >= (self.fail_after or 0):
                raise self.error
            yield word if i == 0 else " " + word

    def complete(self, messages: Sequence[Message]) -> str:
        self.calls.append(("complete", tuple(messages)))
        if self.error is not None and self.fail_after is None:
            raise self.error
        return self._next("")
