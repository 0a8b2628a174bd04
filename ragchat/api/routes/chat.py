"""Chat with a knowledge base: one JSON answer, or Server-Sent Events (sources, tokens, done | error)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from ragchat.api.deps import KnowledgeBaseDep, PipelineDep
from ragchat.api.errors import error_type, status_of
from ragchat.api.routes import errors
from ragchat.api.schemas import ChatAnswer, ChatRequest, CitationPublic, HitPublic, RefusalPublic
from ragchat.api.security import ChatAccess
from ragchat.errors import RagchatError
from ragchat.generation.chat import ChatPipeline, Prepared, make_citation
from ragchat.generation.sessions import SessionStore

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/kbs/{kb}", tags=["chat"])

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

STREAM_DOC = """Server-Sent Events, in this order:

1. `sources`: `{session_id, question, standalone_question, refused, refusal, sources: [Citation], hits: [Hit]}`
   (the numbered sources the answer may cite, and the retrieval trace);
2. `token` (repeated): `{"text": "..."}`, pieces of the answer;
3. `done`: the full `ChatAnswer` (answer, the citations it uses, timings).

Errors found before the stream starts (unknown knowledge base, empty question, empty index) are plain HTTP
errors. A failure after it started ends it with one `error` event: `{"status": 502, "type": "...", "detail": "..."}`.
"""


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def error_event(exc: BaseException) -> str:
    if isinstance(exc, RagchatError):
        return sse("error", {"status": status_of(exc), "type": error_type(exc), "detail": str(exc)})
    logger.exception("chat stream failed", exc_info=exc)
    return sse("error", {"status": 500, "type": "InternalError", "detail": "internal error: see the server log"})


def chat_events(pipeline: ChatPipeline, prepared: Prepared) -> Iterator[str]:
    try:
        yield sse(
            "sources",
            {
                "session_id": prepared.session_id,
                "question": prepared.question,
                "standalone_question": prepared.standalone,
                "refused": prepared.refused,
                "refusal": RefusalPublic(refused=prepared.refused, reason=prepared.decision.reason,
                                         signals=prepared.decision.signals).model_dump(),
                "sources": [CitationPublic.of(make_citation(s, "")).model_dump() for s in prepared.sources],
                "hits": [HitPublic.of(h).model_dump() for h in prepared.hits],
            },
        )
        pieces: list[str] = []
        for piece in pipeline.stream_text(prepared):
            pieces.append(piece)
            yield sse("token", {"text": piece})
        result = pipeline.finish(prepared, "".join(pieces))
        yield sse("done", ChatAnswer.of(result).model_dump())
    except Exception as exc:  # the stream has started: one typed error event ends it
        yield error_event(exc)


def _prepare(pipeline: ChatPipeline, kb: str, body: ChatRequest) -> Prepared:
    session_id = body.session_id or SessionStore.new_id()
    return pipeline.prepare(kb, body.question, session_id=session_id, k=body.k)


@router.post(
    "/chat",
    response_model=ChatAnswer,
    responses=errors(404, 409, 422, 502, 503, 504),
    summary="Ask a question: answer, citations, refusal and retrieval trace",
    dependencies=[ChatAccess],  # the admin key (when set) or a widget token for this kb, origin and rate
)
def chat(body: ChatRequest, kb: KnowledgeBaseDep, pipeline: PipelineDep) -> ChatAnswer:
    prepared = _prepare(pipeline, kb.name, body)
    return ChatAnswer.of(pipeline.finish(prepared, pipeline.generate(prepared)))


@router.post(
    "/chat/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": STREAM_DOC}, **errors(404, 409, 422, 503)},
    summary="Ask a question, streamed as Server-Sent Events",
    description=STREAM_DOC,
    dependencies=[ChatAccess],
)
def chat_stream(body: ChatRequest, kb: KnowledgeBaseDep, pipeline: PipelineDep) -> StreamingResponse:
    prepared = _prepare(pipeline, kb.name, body)
    return StreamingResponse(chat_events(pipeline, prepared), media_type="text/event-stream", headers=SSE_HEADERS)
