"""OpenAI-compatible chat completions: ``model`` names the knowledge base, so any OpenAI client can chat."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from ragchat.api.deps import PipelineDep, ServicesDep
from ragchat.api.errors import error_type, status_of
from ragchat.api.routes import errors
from ragchat.api.routes.chat import SSE_HEADERS
from ragchat.api.schemas import CitationPublic, OpenAIChatRequest, OpenAIModelPublic, OpenAIModelsPublic
from ragchat.errors import BadInput, RagchatError
from ragchat.generation.chat import ChatPipeline, Prepared
from ragchat.generation.types import ChatResult, Turn

router = APIRouter(prefix="/v1", tags=["openai-compatible"])


def split_messages(body: OpenAIChatRequest) -> tuple[str, list[Turn]]:
    """The last user message is the question; earlier user/assistant pairs are the history."""
    conversation = [m for m in body.messages if m.role in ("user", "assistant")]
    if not conversation or conversation[-1].role != "user":
        raise BadInput("the last message must come from the user")
    question = conversation[-1].text()
    history: list[Turn] = []
    pending: str | None = None
    for m in conversation[:-1]:
        if m.role == "user":
            pending = m.text()
        elif pending is not None:
            history.append(Turn(question=pending, standalone=pending, answer=m.text()))
            pending = None
    return question, history


def _extra(result: ChatResult) -> dict[str, Any]:
    return {
        "refused": result.refused,
        "standalone_question": result.standalone_question,
        "citations": [CitationPublic.of(c).model_dump() for c in result.citations],
    }


def _chunk(cid: str, created: int, model: str, delta: dict[str, Any], finish: str | None = None,
           extra: dict[str, Any] | None = None) -> str:
    body: dict[str, Any] = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if extra is not None:
        body["ragchat"] = extra
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def completion_chunks(pipeline: ChatPipeline, prepared: Prepared, model: str) -> Iterator[str]:
    cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
    try:
        yield _chunk(cid, created, model, {"role": "assistant", "content": ""})
        pieces: list[str] = []
        for piece in pipeline.stream_text(prepared):
            pieces.append(piece)
            yield _chunk(cid, created, model, {"content": piece})
        result = pipeline.finish(prepared, "".join(pieces))
        yield _chunk(cid, created, model, {}, "stop", _extra(result))
    except RagchatError as exc:
        error = {"message": str(exc), "type": error_type(exc), "code": status_of(exc)}
        yield f"data: {json.dumps({'error': error}, ensure_ascii=False)}\n\n"
    except Exception:  # never a traceback in the stream
        error = {"message": "internal error: see the server log", "type": "InternalError", "code": 500}
        yield f"data: {json.dumps({'error': error})}\n\n"
    yield "data: [DONE]\n\n"


@router.get("/models", response_model=OpenAIModelsPublic, summary="Knowledge bases, as OpenAI models")
def list_models(services: ServicesDep) -> OpenAIModelsPublic:
    return OpenAIModelsPublic(data=[OpenAIModelPublic(id=name) for name in services.kbs.names()])


@router.post(
    "/chat/completions",
    responses={
        200: {"description": "A `chat.completion`, or with `stream: true` a `text/event-stream` of "
                             "`chat.completion.chunk`s ending in `data: [DONE]`. The extra `ragchat` field carries "
                             "the citations and whether the question was refused."},
        **errors(404, 422, 502, 503, 504),
    },
    summary="OpenAI-compatible chat completions (model = knowledge base)",
)
def chat_completions(body: OpenAIChatRequest, pipeline: PipelineDep) -> Any:
    question, history = split_messages(body)
    prepared = pipeline.prepare(body.model, question, history=history)
    if body.stream:
        return StreamingResponse(
            completion_chunks(pipeline, prepared, body.model), media_type="text/event-stream", headers=SSE_HEADERS
        )
    result = pipeline.finish(prepared, pipeline.generate(prepared))
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": result.answer}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "ragchat": _extra(result),
    }
