"""The default backend, no LLM needed: the answer is composed of the retrieved sentences that best answer
the question, each group followed by the [n] of its source.

Sentences are scored by embedding similarity to the question (the knowledge base's own embedder, so
English questions find Chinese sentences) plus the share of the question's content words they contain.
Only the best few lexical candidates are embedded, which keeps a chat well under the latency budget.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ragchat.generation.types import GenerationInput, Message, Source
from ragchat.retrieval.embedders import Embedder
from ragchat.text import detect_lang, normalize, word_tokens

_MD_NOISE = re.compile(r"\*\*|__|`|^#+\s*|^\s*[-*+>]\s+|^\s*\d+[.)、]\s+", re.MULTILINE)
_TABLE_RULE = re.compile(r"^[\s|:\-]+$")
_MIN_CHARS = 8
_PIECE_CHARS = 12


@dataclass(frozen=True)
class Candidate:
    source: int  # index into request.sources
    position: int  # order inside its chunk
    text: str
    lexical: float
    score: float = 0.0


def split_into_sentences(text: str) -> list[str]:
    """Lines, then sentences (Chinese and English ends), markdown decoration removed, short bits dropped."""
    from ingest.chunking import split_sentences

    out: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if not line or _TABLE_RULE.match(line) or line.startswith(("```", "~~~")):
            continue
        for sentence in split_sentences(line):
            cleaned = _MD_NOISE.sub("", sentence).strip().strip("|").strip()
            if len(cleaned) >= _MIN_CHARS:
                out.append(cleaned)
    return out


def _lexical(words: Sequence[str], sentence: str) -> float:
    if not words:
        return 0.0
    text = normalize(sentence).lower()
    return sum(1 for w in words if w in text) / len(words)


def _same(a: str, b: str) -> bool:
    """Near-duplicates: one contains the other once spaces and case are ignored (overlapping chunks)."""
    x, y = re.sub(r"\s+", "", a.lower()), re.sub(r"\s+", "", b.lower())
    return x in y or y in x


class ExtractiveChatModel:
    name = "extractive"
    free_text = False

    def __init__(
        self,
        embedder: Embedder,
        *,
        max_sentences: int = 4,
        max_candidates: int = 12,
        min_relative: float = 0.75,
        dense_weight: float = 0.6,
    ) -> None:
        if max_sentences <= 0:
            raise ValueError(f"max_sentences must be > 0, got {max_sentences}")
        if max_candidates < max_sentences:
            raise ValueError(f"max_candidates ({max_candidates}) must be >= max_sentences ({max_sentences})")
        self.embedder = embedder
        self.max_sentences = max_sentences
        self.max_candidates = max_candidates
        self.min_relative = min_relative
        self.dense_weight = dense_weight

    # -- selection -------------------------------------------------------------------------------------
    def select(self, question: str, lang: str, sources: Sequence[Source]) -> list[Candidate]:
        """The sentences to quote, in answer order (by source, then by position in the chunk)."""
        words = list(dict.fromkeys(word_tokens(question)))
        pool: list[Candidate] = []
        for i, source in enumerate(sources):
            prior = 0.1 / (1 + i)  # better-ranked chunks break ties
            for j, sentence in enumerate(split_into_sentences(source.hit.chunk.text)):
                same_lang = 0.05 if detect_lang(sentence) == lang else 0.0
                pool.append(Candidate(i, j, sentence, _lexical(words, sentence) + prior + same_lang))
        if not pool:
            return []
        pool.sort(key=lambda c: -c.lexical)
        shortlist = self._dedupe(pool)[: self.max_candidates]
        vecs = self.embedder.embed([question, *(c.text for c in shortlist)], kind="query")
        dense = vecs[1:] @ vecs[0]
        scored = [
            Candidate(c.source, c.position, c.text, c.lexical, self.dense_weight * float(d) + c.lexical)
            for c, d in zip(shortlist, np.asarray(dense, dtype=np.float32), strict=True)
        ]
        scored.sort(key=lambda c: -c.score)
        best = scored[0].score
        chosen = [c for c in scored[: self.max_sentences] if c.score >= self.min_relative * best]
        return sorted(chosen, key=lambda c: (c.source, c.position))

    @staticmethod
    def _dedupe(candidates: Sequence[Candidate]) -> list[Candidate]:
        kept: list[Candidate] = []
        for c in candidates:
            if not any(_same(c.text, k.text) for k in kept):
                kept.append(c)
        return kept

    # -- composition -----------------------------------------------------------------------------------
    def compose(self, request: GenerationInput) -> str:
        chosen = self.select(request.question, request.lang, request.sources)
        if not chosen:
            return ""
        zh = request.lang == "zh"
        parts: list[str] = []
        for index in dict.fromkeys(c.source for c in chosen):
            n = request.sources[index].n
            sentences = [c.text for c in chosen if c.source == index]
            glue = "" if zh else " "
            body = glue.join(s if zh or s.endswith((".", "!", "?", "。", "！", "？")) else s + "." for s in sentences)
            parts.append(f"{body}[{n}]" if zh else f"{body} [{n}]")
        lead = ""
        if not zh and all(detect_lang(c.text) != "en" for c in chosen):
            lead = "The sources say (quoted in their original language): "
        return lead + ("\n" if zh else "\n").join(parts)

    def generate(self, request: GenerationInput) -> str:
        return self.compose(request)

    def stream(self, request: GenerationInput) -> Iterator[str]:
        text = self.compose(request)
        for start in range(0, len(text), _PIECE_CHARS):
            yield text[start : start + _PIECE_CHARS]

    def complete(self, messages: Sequence[Message]) -> str:
        raise NotImplementedError("the extractive backend cannot write free text; check free_text first")
