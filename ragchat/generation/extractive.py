"""The default backend, no LLM needed: the answer is composed of the retrieved sentences that best answer
the question, each group followed by the [n] of its source.

Sentences are scored by the share of the question's content words (jieba) and character bigrams they
contain, plus their chunk's retrieval scores (so an English question over Chinese notes still quotes the
best chunk). Optionally (``sentence_embeddings=True``) the best few candidates are also compared with the
question by the knowledge base's embedder; it is off by default because every embedded sentence costs
tens of milliseconds on CPU, which the chat latency budget cannot afford.
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
_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])|(?<=\.)(?=\s|$)")
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
    out: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if not line or _TABLE_RULE.match(line) or line.startswith(("```", "~~~")):
            continue
        for sentence in _SENTENCE_END.split(line):
            cleaned = _MD_NOISE.sub("", sentence).strip().strip("|").strip()
            if len(cleaned) >= _MIN_CHARS:
                out.append(cleaned)
    return out


def _bigrams(text: str) -> set[str]:
    squashed = re.sub(r"[\W_]+", "", normalize(text).lower())
    return {squashed[i : i + 2] for i in range(len(squashed) - 1)}


def _lexical(words: Sequence[str], grams: set[str], sentence: str) -> float:
    """Half the share of the question's words in the sentence, half the share of its character bigrams."""
    text = normalize(sentence).lower()
    word_share = sum(1 for w in words if w in text) / len(words) if words else 0.0
    gram_share = len(grams & _bigrams(sentence)) / len(grams) if grams else 0.0
    return 0.5 * word_share + 0.5 * gram_share


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
        max_candidates: int = 8,
        min_relative: float = 0.6,
        dense_weight: float = 0.6,
        sentence_embeddings: bool = False,
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
        self.sentence_embeddings = sentence_embeddings

    # -- selection -------------------------------------------------------------------------------------
    def select(self, question: str, lang: str, sources: Sequence[Source]) -> list[Candidate]:
        """The sentences to quote, in answer order (by source, then by position in the chunk)."""
        words = list(dict.fromkeys(word_tokens(question)))
        grams = _bigrams(question)
        pool: list[Candidate] = []
        for i, source in enumerate(sources):
            # the chunk's own relevance, and a little for earlier sentences, break ties between sentences
            chunk_prior = 0.15 * max(source.hit.dense_score or 0.0, 0.0) + 0.1 / (1 + i)
            for j, sentence in enumerate(split_into_sentences(source.hit.chunk.text)):
                same_lang = 0.05 if detect_lang(sentence) == lang else 0.0
                score = _lexical(words, grams, sentence) + chunk_prior + same_lang + 0.02 / (1 + j)
                pool.append(Candidate(i, j, sentence, score, score))
        if not pool:
            return []
        pool.sort(key=lambda c: -c.lexical)
        shortlist = self._dedupe(pool, self.max_candidates)
        if self.sentence_embeddings:
            shortlist = self._rescore(question, shortlist)
        best = shortlist[0].score
        chosen = [c for c in shortlist[: self.max_sentences] if c.score >= self.min_relative * best]
        return sorted(chosen, key=lambda c: (c.source, c.position))

    def _rescore(self, question: str, shortlist: list[Candidate]) -> list[Candidate]:
        """Add the embedding similarity of each candidate to the question (costly: one vector per sentence)."""
        qvec = self.embedder.embed([question], kind="query")[0]
        dense = self.embedder.embed([c.text for c in shortlist], kind="passage") @ qvec
        scored = [
            Candidate(c.source, c.position, c.text, c.lexical, self.dense_weight * float(d) + c.lexical)
            for c, d in zip(shortlist, np.asarray(dense, dtype=np.float32), strict=True)
        ]
        scored.sort(key=lambda c: -c.score)
        return scored

    @staticmethod
    def _dedupe(candidates: Sequence[Candidate], limit: int) -> list[Candidate]:
        kept: list[Candidate] = []
        for c in candidates:
            if not any(_same(c.text, k.text) for k in kept):
                kept.append(c)
                if len(kept) == limit:
                    break
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
