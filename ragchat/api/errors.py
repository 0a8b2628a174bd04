"""RagchatError -> HTTP status, mapped once for the whole app; every error body is ``{"detail": "..."}``.

Routes under ``/v1`` (the OpenAI-compatible API) also get OpenAI's ``{"error": {...}}`` shape, so OpenAI
clients show the message.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ragchat.errors import (
    BadInput,
    GenerationError,
    GenerationTimeout,
    IndexNotReady,
    ModelMismatch,
    NotFound,
    ParseError,
    RagchatError,
    TooLarge,
    UnsupportedFile,
)

logger = logging.getLogger(__name__)


UploadTooLarge = TooLarge  # the name the routes use


# Most specific first: the first match wins.
STATUS: tuple[tuple[type[RagchatError], int], ...] = (
    (NotFound, 404),
    (UploadTooLarge, 413),
    (UnsupportedFile, 415),
    (ParseError, 422),
    (BadInput, 422),
    (ModelMismatch, 409),
    (IndexNotReady, 503),
    (GenerationTimeout, 504),
    (GenerationError, 502),
)


def status_of(exc: RagchatError) -> int:
    return next((code for cls, code in STATUS if isinstance(exc, cls)), 400)


def error_type(exc: BaseException) -> str:
    return type(exc).__name__


def _body(request: Request, status: int, detail: str, kind: str) -> dict[str, object]:
    body: dict[str, object] = {"detail": detail}
    if request.url.path.startswith("/v1/"):
        body["error"] = {"message": detail, "type": kind, "code": status}
    return body


async def _ragchat_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RagchatError)
    status = status_of(exc)
    if status >= 500:
        logger.warning("%s %s -> %d: %s", request.method, request.url.path, status, exc)
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse(_body(request, status, str(exc), error_type(exc)), status_code=status, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
    detail = "; ".join(parts) or "invalid request"
    body = _body(request, 422, detail, "invalid_request_error")
    body["errors"] = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
    return JSONResponse(body, status_code=422)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RagchatError, _ragchat_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
