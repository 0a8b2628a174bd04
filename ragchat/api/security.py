"""Who may call what: the admin API key, widget tokens (knowledge base, origin, rate), and CORS for widgets.

- No ``RAGCHAT_ADMIN_API_KEY``: the API is open, for local use. A widget token that is presented is still
  checked in full.
- With one: every endpoint but ``/health``, ``/``, ``/widget.js`` and chat needs ``Authorization: Bearer
  <admin key>`` (or ``X-API-Key: <admin key>``).
- Chat (``/kbs/{kb}/chat`` and ``/kbs/{kb}/chat/stream``) takes the admin key or a widget token of that
  knowledge base, sent by a page on one of the token's origins, within the token's rate (429 beyond it).

Browsers ask before sending a widget's cross-origin request (a CORS preflight, which carries no token), so
the preflight is answered for the origins that some token of that knowledge base allows; the request itself
is then checked against its own token.
"""

from __future__ import annotations

import hmac
import math
import re
from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, HTTPException, Request, status
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragchat.api.deps import KbName, SettingsDep
from ragchat.api.settings import AppSettings
from ragchat.errors import BadInput
from ragchat.tokens import RateLimiter, TokenStore, WidgetToken, looks_like_token, normalize_origin

CHAT_PATH = re.compile(r"^/kbs/([^/]+)/chat(?:/stream)?/?$")
PREFLIGHT_MAX_AGE = "600"


def get_tokens(request: Request) -> TokenStore:
    return request.state.tokens  # type: ignore[no-any-return]


def get_rate_limiter(request: Request) -> RateLimiter:
    return request.state.rate_limiter  # type: ignore[no-any-return]


TokensDep = Annotated[TokenStore, Depends(get_tokens)]
RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]


def credential(request: Request) -> str | None:
    """The bearer credential of a request (``Authorization: Bearer ...`` or ``X-API-Key``), if any."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-api-key", "").strip() or None


def admin_key(settings: AppSettings) -> str | None:
    key = settings.server.admin_api_key
    return (key.get_secret_value() if key is not None else "") or None


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


def require_admin(request: Request, settings: SettingsDep) -> None:
    """Nothing when no admin key is configured; else the request must carry it (401 otherwise)."""
    key = admin_key(settings)
    if key is None:
        return
    given = credential(request)
    if given is None:
        raise _unauthorized("this endpoint needs the admin API key: Authorization: Bearer <RAGCHAT_ADMIN_API_KEY>")
    if looks_like_token(given):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a widget token can only chat with its knowledge base")
    if not hmac.compare_digest(given.encode(), key.encode()):
        raise _unauthorized("wrong admin API key")


def require_chat_access(
    kb: KbName, request: Request, settings: SettingsDep, tokens: TokensDep, limiter: RateLimiterDep
) -> WidgetToken | None:
    """The widget token a chat request uses, checked for knowledge base, origin and rate; None for the admin."""
    given = credential(request)
    if given is None or not looks_like_token(given):
        require_admin(request, settings)
        return None
    token = tokens.verify(given)
    if token is None:
        raise _unauthorized("unknown or revoked widget token")
    if token.kb != kb:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"this widget token is for knowledge base {token.kb!r}, not {kb!r}"
        )
    origin = request.headers.get("origin")
    if not origin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a widget token is only accepted from a web page (no Origin)")
    if not token.allows_origin(origin):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"origin {origin} is not allowed to use this widget token")
    wait = limiter.acquire(token.id, token.rate_per_minute)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"this widget token allows {token.rate_per_minute} requests a minute: retry in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )
    return token


AdminOnly = Depends(require_admin)
ChatAccess = Depends(require_chat_access)


class WidgetCORSMiddleware:
    """CORS for the chat endpoints only, for the origins the knowledge base's widget tokens allow.

    A pure ASGI middleware, so streamed answers pass through unbuffered. Other endpoints get no CORS
    headers: the admin API is meant for the same origin (the demo page) or for servers.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = CHAT_PATH.match(scope["path"]) if scope["type"] == "http" else None
        origin = Headers(scope=scope).get("origin") if match else None
        if match is None or origin is None:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        allowed = self._allowed(scope, unquote(match[1]), origin)
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(allowed, origin, headers)(scope, receive, send)
            return
        if not allowed:
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out["Access-Control-Allow-Origin"] = origin
                out["Access-Control-Expose-Headers"] = "Retry-After"
                out.add_vary_header("Origin")
            await send(message)

        await self.app(scope, receive, send_with_cors)

    @staticmethod
    def _allowed(scope: Scope, kb: str, origin: str) -> bool:
        tokens: TokenStore | None = scope.get("state", {}).get("tokens")
        if tokens is None:
            return False
        try:
            return normalize_origin(origin) in tokens.origins_for(kb)
        except BadInput:
            return False

    @staticmethod
    def _preflight(allowed: bool, origin: str, headers: Headers) -> Response:
        if not allowed:
            return JSONResponse(
                {"detail": f"origin {origin} is not allowed to chat with this knowledge base"},
                status_code=status.HTTP_403_FORBIDDEN, headers={"Vary": "Origin"},
            )
        out = {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "Authorization, Content-Type",
            "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
            "Vary": "Origin",
        }
        if headers.get("access-control-request-private-network") == "true":
            out["Access-Control-Allow-Private-Network"] = "true"  # a public page embedding a LAN server
        return Response(status_code=status.HTTP_204_NO_CONTENT, headers=out)
