from __future__ import annotations

from fastapi import APIRouter

from ragchat.api.deps import ContextDep
from ragchat.api.schemas import HealthPublic

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthPublic, summary="Liveness and what is loaded")
def health(ctx: ContextDep) -> HealthPublic:
    return HealthPublic(
        embedder=ctx.services.embedder.name,
        llm_backend=ctx.pipeline.model.name,
        knowledge_bases=len(ctx.services.kbs.names()),
    )
