from __future__ import annotations

from fastapi import APIRouter, Response, status

from ragchat.api.deps import KbName, KnowledgeBaseDep, ServicesDep
from ragchat.api.routes import errors
from ragchat.api.schemas import KnowledgeBaseCreate, KnowledgeBasePublic, KnowledgeBasesPublic
from ragchat.kb import KnowledgeBase, check_kb_name

router = APIRouter(prefix="/kbs", tags=["knowledge bases"])


def _public(kb: KnowledgeBase) -> KnowledgeBasePublic:
    documents, chunks = kb.store.counts()
    return KnowledgeBasePublic(name=kb.name, documents=documents, chunks=chunks, embedder=kb.model)


@router.get("", response_model=KnowledgeBasesPublic, summary="List knowledge bases")
def list_kbs(services: ServicesDep) -> KnowledgeBasesPublic:
    data = [_public(services.kbs.get(name)) for name in services.kbs.names()]
    return KnowledgeBasesPublic(data=data, count=len(data))


@router.post(
    "",
    response_model=KnowledgeBasePublic,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": KnowledgeBasePublic, "description": "It existed already"}, **errors(409, 422)},
    summary="Create a knowledge base (idempotent)",
)
def create_kb(body: KnowledgeBaseCreate, services: ServicesDep, response: Response) -> KnowledgeBasePublic:
    name = check_kb_name(body.name)
    if services.kbs.exists(name):
        response.status_code = status.HTTP_200_OK
    return _public(services.kbs.get(name, create=True))


@router.get("/{kb}", response_model=KnowledgeBasePublic, responses=errors(404), summary="Inspect a knowledge base")
def get_kb(kb: KnowledgeBaseDep) -> KnowledgeBasePublic:
    return _public(kb)


@router.delete(
    "/{kb}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404, 503),
    summary="Delete a knowledge base and everything in it",
)
def delete_kb(kb: KbName, services: ServicesDep) -> Response:
    services.kbs.delete(kb)  # 404 when unknown, 503 while an ingest writes to it
    return Response(status_code=status.HTTP_204_NO_CONTENT)
