"""Widget tokens: an admin creates one per knowledge base and site, for the ``data-token`` of the script tag."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field

from ragchat.api.deps import ServicesDep
from ragchat.api.routes import errors
from ragchat.api.schemas import ErrorPublic
from ragchat.api.security import AdminOnly, TokensDep
from ragchat.tokens import MAX_ORIGINS, MAX_RATE_PER_MINUTE, WidgetToken

router = APIRouter(prefix="/tokens", tags=["widget tokens"], dependencies=[AdminOnly])

AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorPublic, "description": "Admin API key missing or wrong (when RAGCHAT_ADMIN_API_KEY is set)"},
    403: {"model": ErrorPublic, "description": "A widget token was used for an admin endpoint"},
}


class WidgetTokenCreate(BaseModel):
    kb: str = Field(description="The one knowledge base the token may chat with.", examples=["notes"])
    origins: list[str] = Field(
        min_length=1, max_length=MAX_ORIGINS, description="Pages allowed to use it: scheme://host[:port].",
        examples=[["https://www.example.com"]],
    )
    rate_per_minute: int = Field(30, gt=0, le=MAX_RATE_PER_MINUTE, description="Chat requests a minute (429 beyond).")
    name: str = Field("", max_length=200, description="A label for people: where the widget is embedded.")


class WidgetTokenPublic(BaseModel):
    id: str
    kb: str
    origins: list[str]
    rate_per_minute: int
    name: str
    hint: str = Field(description="The token's last characters.")
    created_at: float

    @classmethod
    def of(cls, t: WidgetToken) -> WidgetTokenPublic:
        return cls(id=t.id, kb=t.kb, origins=list(t.origins), rate_per_minute=t.rate_per_minute, name=t.name,
                   hint=t.hint, created_at=t.created_at)


class WidgetTokenCreated(WidgetTokenPublic):
    token: str = Field(description="The secret, for data-token. Shown only now: it is stored hashed.")


class WidgetTokensPublic(BaseModel):
    data: list[WidgetTokenPublic]
    count: int


@router.post(
    "",
    response_model=WidgetTokenCreated,
    status_code=status.HTTP_201_CREATED,
    responses={**AUTH_ERRORS, **errors(404, 422)},
    summary="Create a widget token for one knowledge base and its allowed origins",
)
def create_token(body: WidgetTokenCreate, tokens: TokensDep, services: ServicesDep) -> WidgetTokenCreated:
    kb = services.kb(body.kb)  # 404 for an unknown knowledge base
    token, secret = tokens.create(kb.name, body.origins, rate_per_minute=body.rate_per_minute, name=body.name)
    return WidgetTokenCreated(**WidgetTokenPublic.of(token).model_dump(), token=secret)


@router.get("", response_model=WidgetTokensPublic, responses=AUTH_ERRORS, summary="List widget tokens")
def list_tokens(
    tokens: TokensDep, kb: Annotated[str | None, Query(description="Only this knowledge base's tokens.")] = None
) -> WidgetTokensPublic:
    data = [WidgetTokenPublic.of(t) for t in tokens.tokens(kb)]
    return WidgetTokensPublic(data=data, count=len(data))


@router.get(
    "/{token_id}", response_model=WidgetTokenPublic, responses={**AUTH_ERRORS, **errors(404)}, summary="A widget token"
)
def get_token(token_id: str, tokens: TokensDep) -> WidgetTokenPublic:
    return WidgetTokenPublic.of(tokens.get(token_id))


@router.delete(
    "/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**AUTH_ERRORS, **errors(404)},
    summary="Revoke a widget token (its widgets stop working at once)",
)
def delete_token(token_id: str, tokens: TokensDep) -> Response:
    tokens.delete(token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
