"""Value types of answer generation: messages, numbered sources, citations and the chat result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ragchat.domain import Hit

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class Source:
    """A retrieved chunk as shown to the model: ``n`` is its 1-based citation number."""

    n: int
    hit: Hit

    @property
    def label(self) -> str:
        c = self.hit.chunk
        parts = [c.doc_name]
        if c.page is not None:
            parts.append(f"p. {c.page}" if c.page_end in (None, c.page) else f"pp. {c.page}-{c.page_end}")
        if c.heading:
            parts.append(c.heading)
        return " · ".join(parts)


@dataclass(frozen=True)
class GenerationInput:
    """What a backend answers from: the (standalone) question, its language, the sources and the rendered prompt."""

    question: str
    lang: str
    sources: tuple[Source, ...]
    messages: tuple[Message, ...]


@dataclass(frozen=True)
class Turn:
    question: str
    standalone: str
    answer: str


@dataclass(frozen=True)
class Citation:
    n: int
    doc_id: str
    doc_name: str
    page: int | None
    page_end: int | None
    heading: str
    snippet: str
    chunk_id: int
    score: float
    dense_score: float | None
    bm25_score: float | None
    rank: int


@dataclass(frozen=True)
class RefusalDecision:
    refused: bool
    reason: str
    signals: dict[str, float] = field(default_factory=dict)


@dataclass
class ChatResult:
    question: str
    standalone_question: str
    answer: str
    refused: bool
    refusal: RefusalDecision
    citations: list[Citation]
    hits: list[Hit]
    session_id: str | None
    timings_ms: dict[str, float] = field(default_factory=dict)
