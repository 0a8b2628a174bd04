"""Faithfulness judges: is a claim supported by the retrieved context?

``OfflineJudge`` needs no LLM. For each claim it finds the context sentences most related to the claim and
to the question, then scores support as a blend of
- lexical support: the share of the claim's content tokens (jieba words for Chinese, words for English,
  stopwords dropped) found in those sentences, and
- semantic support: the best cosine similarity between the claim (read with its question) and a context
  sentence, under the knowledge base's embedding model.
Reading the claim next to its question matters: an answer can copy words from the context and still
answer something else.

``TokenRatioJudge`` is the plain "unsupported-token ratio" baseline the offline judge must beat.
``LLMJudge`` asks a configured chat model for a verdict per claim.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
from pydantic import BaseModel

from ingest.chunking import split_sentences
from ragchat.retrieval.embedders import Embedder
from ragchat.text import word_tokens

if TYPE_CHECKING:
    from ragchat.generation.backends import ChatModel

_CITATION = re.compile(r"\[\d+\]")
_WORDY = re.compile(r"[A-Za-z\u4e00-\u9fff]{2,}")  # a claim says something in words, not just "2.5."


def split_claims(answer: str) -> list[str]:
    """Sentences of an answer, citation markers removed; fragments without a word (numbering, "2.5.") dropped."""
    claims = []
    for line in answer.splitlines():
        for sentence in split_sentences(_CITATION.sub("", line)):
            sentence = sentence.strip(" -*•\t")
            if _WORDY.search(sentence) and word_tokens(sentence):
                claims.append(sentence)
    return claims


@dataclass(frozen=True)
class Verdict:
    claim: str
    support: float  # 0..1, higher = better supported
    supported: bool
    evidence: str  # the context sentence that supports it best


class Judge(Protocol):
    name: str
    threshold: float

    def judge(self, question: str, claims: Sequence[str], context: Sequence[str]) -> list[Verdict]: ...


def _context_sentences(context: Sequence[str]) -> list[str]:
    out: list[str] = []
    for passage in context:
        for line in passage.splitlines():
            out.extend(s.strip() for s in split_sentences(line) if s.strip())
    return out


def token_support(claim_tokens: Sequence[str], context_tokens: set[str]) -> float:
    """Share of the claim's content tokens present in the context (1.0 for a claim with no content token)."""
    if not claim_tokens:
        return 1.0
    return sum(1 for t in claim_tokens if t in context_tokens) / len(claim_tokens)


class TokenRatioJudge:
    """Baseline: support = 1 - share of the claim's tokens that never occur anywhere in the context."""

    name = "token-ratio"

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold

    def judge(self, question: str, claims: Sequence[str], context: Sequence[str]) -> list[Verdict]:
        vocab = set(word_tokens(" ".join(context)))
        verdicts = []
        for claim in claims:
            support = token_support(word_tokens(claim), vocab)
            verdicts.append(Verdict(claim, support, support >= self.threshold, ""))
        return verdicts


class OfflineJudge:
    name = "offline"

    def __init__(
        self, embedder: Embedder, *, threshold: float = 0.5, semantic_weight: float = 0.5, focus: int = 3
    ) -> None:
        if not 0.0 <= semantic_weight <= 1.0:
            raise ValueError(f"semantic_weight must be in [0, 1], got {semantic_weight}")
        self.embedder = embedder
        self.threshold = threshold
        self.semantic_weight = semantic_weight
        self.focus = focus

    def judge(self, question: str, claims: Sequence[str], context: Sequence[str]) -> list[Verdict]:
        sentences = _context_sentences(context)
        if not claims:
            return []
        if not sentences:
            return [Verdict(c, 0.0, False, "") for c in claims]
        sent_vecs = self.embedder.embed(sentences, kind="passage")
        qa_vecs = self.embedder.embed([f"{question} {c}".strip() for c in claims], kind="query")
        q_vec = self.embedder.embed([question], kind="query")[0] if question.strip() else None
        sent_tokens = [set(word_tokens(s)) for s in sentences]
        verdicts = []
        for claim, qa_vec in zip(claims, qa_vecs, strict=True):
            sims = sent_vecs @ qa_vec
            relevance = sims if q_vec is None else sims + sent_vecs @ q_vec
            focus = np.argsort(-relevance)[: self.focus]
            vocab: set[str] = set().union(*(sent_tokens[i] for i in focus))
            lexical = token_support(word_tokens(claim), vocab)
            semantic = float(np.clip(sims.max(), 0.0, 1.0))
            support = self.semantic_weight * semantic + (1 - self.semantic_weight) * lexical
            verdicts.append(Verdict(claim, support, support >= self.threshold, sentences[int(np.argmax(sims))]))
        return verdicts


class JudgePromptInput(BaseModel):
    question: str
    context: list[str]
    claim: str


class LLMJudge:
    """Asks the configured chat model (``RAGCHAT_LLM_*``) for a SUPPORTED / UNSUPPORTED verdict per claim."""

    name = "llm"
    threshold = 0.5

    def __init__(self, model: ChatModel) -> None:
        self.model = model

    def judge(self, question: str, claims: Sequence[str], context: Sequence[str]) -> list[Verdict]:
        from ragchat.generation.prompts import render

        verdicts = []
        for claim in claims:
            messages = render("judge_en.j2", JudgePromptInput(question=question, context=list(context), claim=claim))
            reply = self.model.complete(messages).strip().upper()
            supported = reply.startswith("SUPPORTED")
            verdicts.append(Verdict(claim, 1.0 if supported else 0.0, supported, ""))
        return verdicts
