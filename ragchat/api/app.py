"""The FastAPI app factory. Models and indexes load once, in the lifespan, never at import."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from ragchat.api import errors, security
from ragchat.api.deps import AppContext
from ragchat.api.routes import (
    chat,
    documents,
    health,
    jobs,
    knowledge_bases,
    openai_compat,
    search,
    tokens,
    web,
)
from ragchat.api.schemas import ErrorPublic
from ragchat.api.settings import AppSettings
from ragchat.config import Settings
from ragchat.errors import RagchatError
from ragchat.generation.backends import ChatModel
from ragchat.generation.chat import build_pipeline
from ragchat.jobs import JobManager
from ragchat.services import Services
from ragchat.tokens import RateLimiter, TokenStore

logger = logging.getLogger(__name__)

DESCRIPTION = """
Chat with your notes and PDFs: knowledge bases of documents, hybrid (dense + BM25) retrieval with its
score trace, grounded answers with citations, refusal when nothing relevant is found, and an
OpenAI-compatible endpoint (`model` = knowledge base).

Errors are `{"detail": "..."}` with status 404 (unknown knowledge base, document or job), 413 (upload too
large), 415 (unsupported file type), 422 (invalid input), 503 (index busy or empty), 502/504 (the LLM failed
or timed out).
"""


def warm_up(services: Services) -> None:
    """Load the embedding model and every knowledge base's vector index now, not on the first request."""
    warm = getattr(services.embedder, "warm_up", None)
    if callable(warm):
        warm()
    for name in services.kbs.names():
        try:
            kb = services.kbs.get(name)
            if kb.store.counts()[1]:
                kb.vector_index()
        except RagchatError as exc:  # one broken knowledge base must not keep the others offline
            logger.warning("knowledge base %s not loaded: %s", name, exc)


def create_app(
    settings: Settings | AppSettings | None = None,
    *,
    services: Services | None = None,
    chat_model: ChatModel | None = None,
) -> FastAPI:
    """Build the app. ``services`` and ``chat_model`` replace the ones built from settings (tests, embedding)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        cfg = AppSettings.of(services.settings if services is not None and settings is None else settings)
        owned = services is None
        svc = services if services is not None else Services.build(cfg.core)
        warm_up(svc)
        pipeline = build_pipeline(svc, llm=cfg.llm, chat=cfg.chat, model=chat_model)
        widget_tokens = TokenStore.open(cfg.core.data_dir)
        job_manager = JobManager()
        job_manager.start()
        logger.info("ragchat ready: embedder %s, backend %s", svc.embedder.name, pipeline.model.name)
        try:
            yield {
                "ctx": AppContext(settings=cfg, services=svc, pipeline=pipeline, jobs=job_manager),
                "tokens": widget_tokens,
                "rate_limiter": RateLimiter(),
            }
        finally:
            job_manager.close()
            widget_tokens.close()
            if owned:
                svc.close()

    app = FastAPI(
        title="ragchat",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        responses={422: {"model": ErrorPublic, "description": "Invalid input"}},
    )
    errors.install(app)
    app.add_middleware(security.WidgetCORSMiddleware)
    for module in (health, web, chat, tokens):  # chat and tokens check the admin key (or a widget token) themselves
        app.include_router(module.router)
    for module in (knowledge_bases, documents, jobs, search, openai_compat):
        app.include_router(module.router, dependencies=[security.AdminOnly])  # open when no admin key is set
    return app
