"""The browser side: the demo page at ``/`` and the embeddable chat widget at ``/widget.js`` (no build step)."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

router = APIRouter(tags=["web"], include_in_schema=False)

# Short cache so a new release reaches embedding pages quickly, while repeated page views reuse the script.
WIDGET_CACHE = "public, max-age=300"


@lru_cache(maxsize=4)
def asset(name: str) -> str:
    """A file of ``ragchat/web``, read once."""
    return files("ragchat.web").joinpath(name).read_text(encoding="utf-8")


@router.get("/", response_class=HTMLResponse)
def demo_page() -> HTMLResponse:
    return HTMLResponse(asset("index.html"), headers={"Cache-Control": "no-cache"})


@router.get("/widget.js")
def widget_script() -> Response:
    return Response(
        asset("widget.js"),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": WIDGET_CACHE, "X-Content-Type-Options": "nosniff"},
    )
