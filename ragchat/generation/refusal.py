"""Refusing questions the knowledge base cannot answer, before any LLM is called.

Signals, per retrieved hit (only the top ``window`` hits count):

- ``dense``: cosine similarity of question and chunk (heading included, as embedded). Across languages (an
  English question, a Chinese chunk) the same relevance gives a lower cosine, so a hit in the question's
  language is held to ``min_dense`` and a hit in another language to ``min_dense_cross``;
- ``coverage``: share of the question's content words found in the chunk's *body*, heading excluded. A
  heading that repeats the question over an empty section is not an answer, so it must not count.

Rule: answer when a top hit's dense score reaches its threshold (``min_dense`` in the question's language,
``min_dense_cross`` in another), or when some top hit covers at least ``min_coverage`` of the question's
words while the best dense score reaches ``min_dense_with_coverage``.
The thresholds are calibrated on the dev set by ``python -m eval.calibrate_refusal``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ragchat.domain import Hit
from ragchat.generation.settings import ChatSettings
from ragchat.generation.types import RefusalDecision
from ragchat.text import detect_lang, normalize, word_tokens

REFUSALS = {
    "zh": "知识库中没有找到与该问题相关的内容。",
    "en": "The knowledge base does not contain information relevant to this question.",
}


def refusal_text(lang: str) -> str:
    return REFUSALS["zh" if lang == "zh" else "en"]


def content_words(question: str) -> list[str]:
    """The question's content words (stopwords and punctuation dropped), each once."""
    return list(dict.fromkeys(word_tokens(question)))


def coverage(words: Sequence[str], body: str) -> float:
    """Share of ``words`` that occur in ``body`` (case- and width-insensitive substring match); 0 for no words."""
    if not words:
        return 0.0
    text = normalize(body).lower()
    return sum(1 for w in words if w in text) / len(words)


@dataclass(frozen=True)
class Signals:
    dense: float  # best dense score of a top hit in the question's language (-1: none)
    dense_cross: float  # best dense score of a top hit in another language (-1: none)
    coverage: float
    bm25: float

    @property
    def dense_best(self) -> float:
        return max(self.dense, self.dense_cross)

    def as_dict(self) -> dict[str, float]:
        return {
            "dense": round(self.dense, 4),
            "dense_cross": round(self.dense_cross, 4),
            "coverage": round(self.coverage, 4),
            "bm25": round(self.bm25, 4),
        }


def signals(question: str, hits: Sequence[Hit], window: int) -> Signals:
    top = list(hits[:window])
    words = content_words(question)
    lang = detect_lang(question)
    same = [h.dense_score for h in top if h.dense_score is not None and detect_lang(h.chunk.text) == lang]
    cross = [h.dense_score for h in top if h.dense_score is not None and detect_lang(h.chunk.text) != lang]
    cov = max((coverage(words, h.chunk.text) for h in top), default=0.0)
    bm25 = max((h.bm25_score for h in top if h.bm25_score is not None), default=0.0)
    return Signals(
        dense=float(max(same, default=-1.0)),
        dense_cross=float(max(cross, default=-1.0)),
        coverage=cov,
        bm25=float(bm25),
    )


@dataclass(frozen=True)
class RefusalPolicy:
    min_dense: float
    min_dense_cross: float
    min_coverage: float
    min_dense_with_coverage: float
    window: int = 3

    @classmethod
    def from_settings(cls, settings: ChatSettings) -> RefusalPolicy:
        return cls(
            min_dense=settings.refuse_min_dense,
            min_dense_cross=settings.refuse_min_dense_cross,
            min_coverage=settings.refuse_min_coverage,
            min_dense_with_coverage=settings.refuse_min_dense_with_coverage,
            window=settings.refusal_window,
        )

    def judge(self, s: Signals) -> RefusalDecision:
        if s.dense >= self.min_dense:
            return RefusalDecision(False, f"dense score {s.dense:.3f} >= {self.min_dense}", s.as_dict())
        if s.dense_cross >= self.min_dense_cross:
            return RefusalDecision(
                False, f"cross-language dense score {s.dense_cross:.3f} >= {self.min_dense_cross}", s.as_dict()
            )
        if s.coverage >= self.min_coverage and s.dense_best >= self.min_dense_with_coverage:
            return RefusalDecision(
                False,
                f"{s.coverage:.0%} of the question's words in a top chunk and dense score {s.dense_best:.3f} "
                f">= {self.min_dense_with_coverage}",
                s.as_dict(),
            )
        return RefusalDecision(
            True,
            f"nothing relevant enough: best dense score {s.dense:.3f} (< {self.min_dense}), across languages "
            f"{s.dense_cross:.3f} (< {self.min_dense_cross}), best word coverage {s.coverage:.0%}",
            s.as_dict(),
        )

    def decide(self, question: str, hits: Sequence[Hit]) -> RefusalDecision:
        if not hits:
            return RefusalDecision(True, "retrieval found nothing", {})
        return self.judge(signals(question, hits, self.window))
