"""One router module per resource."""

from __future__ import annotations

from typing import Any

from ragchat.api.schemas import ErrorPublic


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the error statuses a route can answer with."""
    text = {
        404: "Unknown knowledge base, document or job",
        409: "Knowledge base built with another embedding model",
        413: "Upload too large",
        415: "Unsupported file type",
        422: "Invalid input",
        502: "The LLM failed (connection, HTTP error, malformed reply)",
        503: "Index busy (an ingest is writing) or empty",
        504: "The LLM did not answer in time",
    }
    return {code: {"model": ErrorPublic, "description": text[code]} for code in codes}
