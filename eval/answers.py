"""Answer evaluation: runs the real chat pipeline on every item and scores refusals, faithfulness, correctness.

- refusal accuracy: refusal rate on unanswerable items, false-refusal rate on answerable ones;
- faithfulness: each answer is split into claims (sentences) judged supported or not by the context the
  answer was generated from; faithfulness = supported / total claims; an answer with any unsupported claim is
  a hallucination. Refused answers have no claims and are not judged;
- correctness against the reference answer: token F1 (jieba words for Chinese) and embedding cosine.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from eval.datasets import QAItem
from eval.judge import Judge, split_claims
from ragchat.retrieval.embedders import Embedder
from ragchat.text import word_tokens


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD-style token F1 over content words (jieba for Chinese); 0 when either side has no word."""
    pred, ref = Counter(word_tokens(prediction)), Counter(word_tokens(reference))
    common = sum((pred & ref).values())
    if not pred or not ref or not common:
        return 0.0
    precision, recall = common / sum(pred.values()), common / sum(ref.values())
    return 2 * precision * recall / (precision + recall)


@dataclass
class ItemResult:
    id: str
    type: str
    lang: str
    query: str
    answerable: bool
    answer: str
    refused: bool
    claims: int = 0
    supported: int = 0
    unsupported_claims: list[str] = field(default_factory=list)
    f1: float | None = None
    similarity: float | None = None

    @property
    def faithfulness(self) -> float | None:
        return self.supported / self.claims if self.claims else None

    def to_dict(self) -> dict[str, object]:
        return asdict(self) | {"faithfulness": self.faithfulness}


Answerer = Callable[[str], tuple[str, bool, list[str]]]  # question -> (answer, refused, context passages)


def evaluate_answers(
    items: Sequence[QAItem],
    answer: Answerer,
    judge: Judge,
    embedder: Embedder,
    progress: Callable[[int], None] | None = None,
) -> list[ItemResult]:
    results = []
    for item in items:
        text, refused, context = answer(item.query)
        result = ItemResult(item.id, item.type, item.lang, item.query, item.answerable, text, refused)
        if not refused:
            claims = split_claims(text)
            verdicts = judge.judge(item.query, claims, context)
            result.claims = len(verdicts)
            result.supported = sum(v.supported for v in verdicts)
            result.unsupported_claims = [v.claim for v in verdicts if not v.supported]
            if item.answerable and item.answer:
                result.f1 = token_f1(text, item.answer)
                vecs = embedder.embed([text, item.answer], kind="passage")
                result.similarity = float(np.dot(vecs[0], vecs[1]))
        results.append(result)
        if progress:
            progress(1)
    return results


def _rate(values: Sequence[bool]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize(results: Sequence[ItemResult]) -> dict[str, float | int | None]:
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    judged = [r for r in results if not r.refused and r.claims]
    f1s = [r.f1 for r in results if r.f1 is not None]
    sims = [r.similarity for r in results if r.similarity is not None]
    claims = sum(r.claims for r in judged)
    return {
        "items": len(results),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "refused_unanswerable": sum(r.refused for r in unanswerable),
        "refused_answerable": sum(r.refused for r in answerable),
        "refusal_rate_unanswerable": _rate([r.refused for r in unanswerable]),
        "false_refusal_rate": _rate([r.refused for r in answerable]),
        "answers_judged": len(judged),
        "claims": claims,
        "faithfulness": sum(r.supported for r in judged) / claims if claims else None,
        "hallucination_rate": _rate([r.supported < r.claims for r in judged]),
        "token_f1": float(np.mean(f1s)) if f1s else None,
        "embedding_similarity": float(np.mean(sims)) if sims else None,
    }


def faithfulness_by_type(results: Sequence[ItemResult]) -> dict[str, float]:
    out = {}
    for t in sorted({r.type for r in results}):
        judged = [r for r in results if r.type == t and r.claims]
        claims = sum(r.claims for r in judged)
        if claims:
            out[t] = sum(r.supported for r in judged) / claims
    return out
