"""Widget tokens: public credentials that let a web page chat with one knowledge base, and nothing else.

A token is scoped to one knowledge base, a list of allowed origins (``https://shop.example``) and a request
rate. The secret is shown once, at creation; only its SHA-256 is stored, in ``<data_dir>/tokens.sqlite``.
Rates are enforced per token by an in-memory token bucket (:class:`RateLimiter`): they reset when the
server restarts and are per process.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ragchat.errors import BadInput, NotFound

SCHEMA_VERSION = 1
TOKEN_PREFIX = "rcw_"
MAX_ORIGINS = 50
MAX_RATE_PER_MINUTE = 10_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    hint TEXT NOT NULL,
    kb TEXT NOT NULL,
    origins TEXT NOT NULL,
    rate_per_minute INTEGER NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS tokens_kb ON tokens(kb);
"""

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_origin(origin: str) -> str:
    """``scheme://host[:port]`` in lower case, default port dropped, as browsers send it in ``Origin``."""
    raw = origin.strip()
    parts = urlsplit(raw)
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        raise BadInput(f"an origin is http(s)://host[:port], got {origin!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise BadInput(f"an origin has no path, query or user part, got {origin!r}")
    try:
        port = parts.port
    except ValueError as exc:
        raise BadInput(f"bad port in origin {origin!r}") from exc
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != _DEFAULT_PORTS[scheme] else "")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def looks_like_token(credential: str) -> bool:
    return credential.startswith(TOKEN_PREFIX)


@dataclass(frozen=True)
class WidgetToken:
    id: str
    kb: str
    origins: tuple[str, ...]
    rate_per_minute: int
    name: str
    hint: str  # the secret's last characters, to tell tokens apart in a list
    created_at: float

    def allows_origin(self, origin: str | None) -> bool:
        if not origin:
            return False
        try:
            return normalize_origin(origin) in self.origins
        except BadInput:
            return False


class TokenStore:
    """Tokens in SQLite. Safe to share between threads (one connection behind a lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            self._db.close()
            raise BadInput(f"{path} has token schema {version}; this ragchat reads up to {SCHEMA_VERSION}: upgrade")
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @classmethod
    def open(cls, data_dir: Path) -> TokenStore:
        data_dir.mkdir(parents=True, exist_ok=True)
        return cls(data_dir / "tokens.sqlite")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- admin ---------------------------------------------------------------------------------------------
    def create(
        self, kb: str, origins: Sequence[str], *, rate_per_minute: int = 30, name: str = ""
    ) -> tuple[WidgetToken, str]:
        """A new token and its secret (the only time the secret is available)."""
        if not 0 < rate_per_minute <= MAX_RATE_PER_MINUTE:
            raise BadInput(f"rate_per_minute must be 1-{MAX_RATE_PER_MINUTE}, got {rate_per_minute}")
        cleaned = list(dict.fromkeys(normalize_origin(o) for o in origins))
        if not cleaned:
            raise BadInput("a widget token needs at least one allowed origin, e.g. https://www.example.com")
        if len(cleaned) > MAX_ORIGINS:
            raise BadInput(f"at most {MAX_ORIGINS} origins per token, got {len(cleaned)}")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(24)
        token = WidgetToken(
            id=uuid.uuid4().hex[:12], kb=kb, origins=tuple(cleaned), rate_per_minute=rate_per_minute,
            name=name.strip(), hint=secret[-4:], created_at=time.time(),
        )
        with self._lock:
            self._db.execute(
                "INSERT INTO tokens (id, secret_hash, hint, kb, origins, rate_per_minute, name, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (token.id, hash_secret(secret), token.hint, kb, json.dumps(cleaned), rate_per_minute, token.name,
                 token.created_at),
            )
        return token, secret

    def tokens(self, kb: str | None = None) -> list[WidgetToken]:
        """Every token, or those of ``kb``, oldest first."""
        where, args = ("", ()) if kb is None else (" WHERE kb = ?", (kb,))
        with self._lock:
            rows = self._db.execute(f"SELECT * FROM tokens{where} ORDER BY created_at, id", args).fetchall()
        return [_token(r) for r in rows]

    def get(self, token_id: str) -> WidgetToken:
        with self._lock:
            row = self._db.execute("SELECT * FROM tokens WHERE id = ?", (token_id,)).fetchone()
        if row is None:
            raise NotFound(f"no widget token {token_id!r}")
        return _token(row)

    def delete(self, token_id: str) -> None:
        with self._lock:
            deleted = self._db.execute("DELETE FROM tokens WHERE id = ?", (token_id,)).rowcount
        if not deleted:
            raise NotFound(f"no widget token {token_id!r}")

    # -- requests ------------------------------------------------------------------------------------------
    def verify(self, secret: str) -> WidgetToken | None:
        """The token whose secret this is, or None."""
        if not looks_like_token(secret):
            return None
        with self._lock:
            row = self._db.execute("SELECT * FROM tokens WHERE secret_hash = ?", (hash_secret(secret),)).fetchone()
        return None if row is None else _token(row)

    def origins_for(self, kb: str) -> frozenset[str]:
        """Every origin some token of ``kb`` allows (what a CORS preflight, which carries no token, can check)."""
        with self._lock:
            rows = self._db.execute("SELECT origins FROM tokens WHERE kb = ?", (kb,)).fetchall()
        return frozenset(o for r in rows for o in json.loads(r["origins"]))


def _token(row: sqlite3.Row) -> WidgetToken:
    return WidgetToken(
        id=row["id"], kb=row["kb"], origins=tuple(json.loads(row["origins"])), rate_per_minute=row["rate_per_minute"],
        name=row["name"], hint=row["hint"], created_at=row["created_at"],
    )


class RateLimiter:
    """Token buckets, one per key: ``rate`` requests a minute, bursts up to ``rate``. In memory, thread safe."""

    def __init__(self, *, max_keys: int = 100_000) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()
        self._max_keys = max_keys

    def acquire(self, key: str, rate_per_minute: int, *, now: float | None = None) -> float:
        """Take one request from ``key``'s bucket: 0.0 when allowed, else the seconds to wait before retrying."""
        if rate_per_minute <= 0:
            raise ValueError(f"rate_per_minute must be > 0, got {rate_per_minute}")
        now = time.monotonic() if now is None else now
        per_second = rate_per_minute / 60.0
        with self._lock:
            tokens, at = self._buckets.get(key, (float(rate_per_minute), now))
            tokens = min(float(rate_per_minute), tokens + (now - at) * per_second)
            if tokens >= 1.0:
                self._store(key, tokens - 1.0, now)
                return 0.0
            self._store(key, tokens, now)
            return (1.0 - tokens) / per_second

    def _store(self, key: str, tokens: float, at: float) -> None:
        if key not in self._buckets and len(self._buckets) >= self._max_keys:
            self._buckets.pop(next(iter(self._buckets)))  # oldest key first: dicts keep insertion order
        self._buckets[key] = (tokens, at)
