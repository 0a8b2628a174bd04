from __future__ import annotations

from fastapi import APIRouter

from ragchat.api.deps import KnowledgeBaseDep, ServicesDep
from ragchat.api.routes import errors
from ragchat.api.schemas import HitPublic, SearchPublic, SearchRequest
from ragchat.errors import IndexNotReady

router = APIRouter(prefix="/kbs/{kb}", tags=["search"])


@router.post(
    "/search",
    response_model=SearchPublic,
    responses=errors(404, 409, 422, 503),
    summary="Retrieval trace alone: hits with dense, BM25 and fused scores and ranks",
)
def search(body: SearchRequest, kb: KnowledgeBaseDep, services: ServicesDep) -> SearchPublic:
    if kb.store.counts()[1] == 0:
        raise IndexNotReady(f"knowledge base {kb.name!r} has no documents yet: upload some first")
    hits = services.retriever(kb.name, mode=body.mode).search(body.query, body.k)
    return SearchPublic(query=body.query, kb=kb.name, mode=body.mode, hits=[HitPublic.of(h) for h in hits])
