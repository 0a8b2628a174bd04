"""A small error hierarchy, mapped once at each edge (HTTP status, CLI exit code)."""

from __future__ import annotations


class RagchatError(Exception):
    """Base of every error ragchat raises on purpose; its message is meant for the user."""


class NotFound(RagchatError):
    """A knowledge base, document or job that does not exist."""


class BadInput(RagchatError):
    """Input the user can fix: a bad query, setting or file."""


class UnsupportedFile(BadInput):
    """A file type ragchat does not read."""


class ParseError(BadInput):
    """A file of a supported type that cannot be read (empty, encrypted, broken)."""


class TooLarge(BadInput):
    """A file or upload over the configured size limit."""


class ModelMismatch(RagchatError):
    """A knowledge base used with another embedding model than the one that built it."""


class IndexNotReady(RagchatError):
    """The index is busy or not built yet."""


class GenerationError(RagchatError):
    """The LLM backend failed: connection, status or malformed reply."""


class GenerationTimeout(GenerationError):
    """The LLM backend did not answer in time."""
