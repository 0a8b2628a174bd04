"""The chat pipeline: condense -> retrieve -> refuse? -> pack context to the token budget -> generate -> cite.

``prepare`` does everything up to generation, so callers (the streaming endpoint) can report bad input or
a missing knowledge base as a plain HTTP error before any event is sent; ``answer`` and ``stream`` finish.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from ragchat.domain import Hit
from ragchat.errors import BadInput, IndexNotReady
from ragchat.generation.backends import ChatModel
from ragchat.generation.condense import condense
from ragchat.generation.prompts import PromptSource, answer_prompt
from ragchat.generation.refusal import RefusalPolicy, refusal_text
from ragchat.generation.sessions import SessionStore
from ragchat.generation.settings import ChatSettings, LLMSettings
from ragchat.generation.types import ChatResult, Citation, GenerationInput, RefusalDecision, Source, Turn
from ragchat.services import Services
from ragchat.text import detect_lang, word_tokens

_CITE = re.compile(r"\[(\d{1,3})\]")
_SNIPPET_CHARS = 300
MAX_QUESTION_CHARS = 4000


def pack_sources(hits: Sequence[Hit], budget: int, count_tokens: Callable[[str], int]) -> list[Source]:
    """Best hits first, each whole, while they fit in ``budget`` tokens (one that does not fit is skipped).

    The best hit is always kept, cut to the budget if it alone is too long, so there is something to answer from.
    """
    sources: list[Source] = []
    used = 0
    for hit in hits:
        cost = count_tokens(hit.chunk.heading + "\n" + hit.chunk.text) + 8
        if used + cost > budget:
            if sources:
                continue
            ratio = max(budget, 1) / cost
            chunk = hit.chunk
            cut = type(chunk)(**{**chunk.__dict__, "text": chunk.text[: max(1, int(len(chunk.text) * ratio))]})
            hit = Hit(**{**hit.__dict__, "chunk": cut})
            cost = budget
        sources.append(Source(n=len(sources) + 1, hit=hit))
        used += cost
    return sources


def cited_numbers(answer: str, available: int) -> list[int]:
    """The [n] markers in ``answer`` that name one of the ``available`` sources, each once, in order."""
    seen = dict.fromkeys(int(m) for m in _CITE.findall(answer))
    return sorted(n for n in seen if 1 <= n <= available)


def snippet(text: str, answer: str) -> str:
    """The passage of ``text`` that the answer quotes, or else the sentence sharing most words with it."""
    from ragchat.generation.extractive import split_into_sentences

    sentences = split_into_sentences(text) or [text.strip()]
    quoted = [s for s in sentences if s in answer]
    if quoted:
        out = " ".join(quoted) if detect_lang(answer) != "zh" else "".join(quoted)
    else:
        words = set(word_tokens(answer))
        out = max(sentences, key=lambda s: len(words & set(word_tokens(s))))
    return out if len(out) <= _SNIPPET_CHARS else out[: _SNIPPET_CHARS - 1] + "…"


def make_citation(source: Source, answer: str) -> Citation:
    hit, chunk = source.hit, source.hit.chunk
    return Citation(
        n=source.n,
        doc_id=chunk.doc_id,
        doc_name=chunk.doc_name,
        page=chunk.page,
        page_end=chunk.page_end,
        heading=chunk.heading,
        snippet=snippet(chunk.text, answer),
        chunk_id=chunk.id,
        score=hit.score,
        dense_score=hit.dense_score,
        bm25_score=hit.bm25_score,
        rank=hit.rank,
    )


@dataclass
class Prepared:
    """A question ready to be answered: retrieval done, refusal decided, sources packed, prompt rendered."""

    kb: str
    question: str
    standalone: str
    lang: str
    hits: list[Hit]
    decision: RefusalDecision
    sources: list[Source]
    request: GenerationInput | None
    session_id: str | None
    started: float
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def refused(self) -> bool:
        return self.decision.refused


class ChatPipeline:
    def __init__(
        self,
        services: Services,
        model: ChatModel,
        *,
        chat: ChatSettings | None = None,
        llm: LLMSettings | None = None,
        sessions: SessionStore | None = None,
    ) -> None:
        self.services = services
        self.model = model
        self.chat_settings = chat or ChatSettings()
        self.llm_settings = llm or LLMSettings()
        self.policy = RefusalPolicy.from_settings(self.chat_settings)
        self.sessions = sessions or SessionStore(
            max_sessions=self.chat_settings.max_sessions, max_turns=self.chat_settings.history_turns
        )

    # -- before generation -----------------------------------------------------------------------------
    def prepare(
        self,
        kb: str | None,
        question: str,
        *,
        session_id: str | None = None,
        history: Sequence[Turn] | None = None,
        k: int | None = None,
    ) -> Prepared:
        started = time.perf_counter()
        question = question.strip()
        if not question:
            raise BadInput("question must not be empty")
        if len(question) > MAX_QUESTION_CHARS:
            raise BadInput(f"question is too long: {len(question)} characters > {MAX_QUESTION_CHARS}")
        if session_id is not None:
            SessionStore.check_id(session_id)
        knowledge_base = self.services.kb(kb)
        if knowledge_base.store.counts()[1] == 0:
            raise IndexNotReady(f"knowledge base {knowledge_base.name!r} has no documents yet: upload some first")
        turns = list(history) if history is not None else (self.sessions.history(session_id) if session_id else [])

        t0 = time.perf_counter()
        standalone = condense(question, turns, self.model)
        t1 = time.perf_counter()
        hits = self.services.retriever(knowledge_base.name).search(standalone, k)
        t2 = time.perf_counter()
        decision = self.policy.decide(standalone, hits)
        lang = detect_lang(question)
        sources: list[Source] = []
        request = None
        if not decision.refused:
            sources = pack_sources(hits, self.llm_settings.context_budget, self.services.embedder.count_tokens)
            messages = (
                answer_prompt(
                    standalone,
                    lang,
                    [PromptSource(n=s.n, label=s.label, text=s.hit.chunk.text) for s in sources],
                )
                if self.model.free_text
                else ()
            )
            request = GenerationInput(question=standalone, lang=lang, sources=tuple(sources), messages=messages)
        timings = {"condense_ms": (t1 - t0) * 1000, "retrieve_ms": (t2 - t1) * 1000}
        return Prepared(
            kb=knowledge_base.name,
            question=question,
            standalone=standalone,
            lang=lang,
            hits=hits,
            decision=decision,
            sources=sources,
            request=request,
            session_id=session_id,
            started=started,
            timings_ms=timings,
        )

    # -- generation ------------------------------------------------------------------------------------
    def generate(self, prepared: Prepared) -> str:
        if prepared.request is None:
            return refusal_text(prepared.lang)
        t0 = time.perf_counter()
        text = self.model.generate(prepared.request).strip()
        prepared.timings_ms["generate_ms"] = (time.perf_counter() - t0) * 1000
        return text or refusal_text(prepared.lang)

    def stream_text(self, prepared: Prepared) -> Iterator[str]:
        """Answer pieces as the backend produces them (the refusal in one piece)."""
        if prepared.request is None:
            yield refusal_text(prepared.lang)
            return
        t0 = time.perf_counter()
        yield from self.model.stream(prepared.request)
        prepared.timings_ms["generate_ms"] = (time.perf_counter() - t0) * 1000

    def finish(self, prepared: Prepared, answer: str) -> ChatResult:
        """Citations for the [n] the answer uses; the turn is remembered in its session."""
        answer = answer.strip() or refusal_text(prepared.lang)
        by_n = {s.n: s for s in prepared.sources}
        citations = [make_citation(by_n[n], answer) for n in cited_numbers(answer, len(prepared.sources))]
        if prepared.session_id is not None:
            self.sessions.append(prepared.session_id, Turn(prepared.question, prepared.standalone, answer))
        prepared.timings_ms["total_ms"] = (time.perf_counter() - prepared.started) * 1000
        return ChatResult(
            question=prepared.question,
            standalone_question=prepared.standalone,
            answer=answer,
            refused=prepared.refused,
            refusal=prepared.decision,
            citations=citations,
            hits=prepared.hits,
            session_id=prepared.session_id,
            timings_ms={k: round(v, 2) for k, v in prepared.timings_ms.items()},
        )

    def answer(
        self,
        kb: str | None,
        question: str,
        *,
        session_id: str | None = None,
        history: Sequence[Turn] | None = None,
        k: int | None = None,
    ) -> ChatResult:
        prepared = self.prepare(kb, question, session_id=session_id, history=history, k=k)
        return self.finish(prepared, self.generate(prepared))


def build_pipeline(services: Services, *, llm: LLMSettings | None = None, chat: ChatSettings | None = None,
                   model: ChatModel | None = None) -> ChatPipeline:
    """The pipeline for ``services`` with the backend chosen by ``llm`` (or the given ``model``)."""
    from ragchat.generation.backends import make_chat_model
    from ragchat.generation.extractive import ExtractiveChatModel

    llm = llm or LLMSettings()
    chat = chat or ChatSettings()
    if model is None:
        model = make_chat_model(llm, services.embedder)
        if isinstance(model, ExtractiveChatModel):
            model.max_sentences = chat.answer_sentences
    return ChatPipeline(services, model, chat=chat, llm=llm)
