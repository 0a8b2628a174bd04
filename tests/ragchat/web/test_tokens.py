"""The token store (hashed secrets in SQLite, scope, origins) and the per-token rate limiter."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragchat.errors import BadInput, NotFound
from ragchat.tokens import RateLimiter, TokenStore, normalize_origin


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://Shop.Example", "https://shop.example"),
        ("HTTPS://shop.example:443/", "https://shop.example"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://localhost:80", "http://localhost"),
        ("http://[::1]:3000", "http://[::1]:3000"),
    ],
)
def test_origins_are_normalized_as_browsers_send_them(given: str, expected: str) -> None:
    assert normalize_origin(given) == expected


@pytest.mark.parametrize(
    "bad", ["shop.example", "ftp://shop.example", "https://shop.example/page", "https://x.example?q=1", "https://", "*"]
)
def test_bad_origins_are_refused_with_the_value(bad: str) -> None:
    with pytest.raises(BadInput, match="origin"):
        normalize_origin(bad)


def test_tokens_are_stored_hashed_and_survive_a_restart(tmp_path: Path) -> None:
    store = TokenStore.open(tmp_path)
    token, secret = store.create(
        "notes", ["https://shop.example", "https://SHOP.example/"], rate_per_minute=5, name="shop"
    )
    assert secret.startswith("rcw_") and len(secret) > 30
    assert token.origins == ("https://shop.example",) and token.hint == secret[-4:]
    store.close()
    assert secret.encode() not in (tmp_path / "tokens.sqlite").read_bytes()

    store = TokenStore.open(tmp_path)
    try:
        assert store.verify(secret) == token
        assert store.verify(secret + "x") is None and store.verify("not-a-token") is None
        assert store.tokens() == [token] and store.tokens("other") == []
        assert store.get(token.id) == token
        assert store.origins_for("notes") == {"https://shop.example"} and store.origins_for("other") == set()
        assert token.allows_origin("https://shop.example:443")
        assert not token.allows_origin("https://evil.example") and not token.allows_origin(None)
        store.delete(token.id)
        assert store.verify(secret) is None
        with pytest.raises(NotFound):
            store.delete(token.id)
        with pytest.raises(NotFound):
            store.get(token.id)
    finally:
        store.close()


def test_a_token_needs_origins_and_a_sane_rate(tmp_path: Path) -> None:
    store = TokenStore.open(tmp_path)
    try:
        with pytest.raises(BadInput, match="at least one allowed origin"):
            store.create("notes", [])
        with pytest.raises(BadInput, match="rate_per_minute"):
            store.create("notes", ["https://shop.example"], rate_per_minute=0)
        assert store.tokens() == []
    finally:
        store.close()


def test_rate_limiter_allows_a_burst_then_refills_over_the_minute() -> None:
    limiter = RateLimiter()
    assert [limiter.acquire("a", 2, now=100.0) for _ in range(2)] == [0.0, 0.0]
    assert limiter.acquire("a", 2, now=100.0) == pytest.approx(30.0)  # 2 a minute: one every 30 s
    assert limiter.acquire("b", 2, now=100.0) == 0.0  # buckets are per token
    assert limiter.acquire("a", 2, now=115.0) == pytest.approx(15.0)
    assert limiter.acquire("a", 2, now=130.0) == 0.0
    assert limiter.acquire("a", 2, now=1000.0) == 0.0  # refills up to the burst, not beyond
    assert limiter.acquire("a", 2, now=1000.0) == 0.0
    assert limiter.acquire("a", 2, now=1000.0) > 0


def test_rate_limiter_forgets_the_oldest_keys_beyond_its_bound() -> None:
    limiter = RateLimiter(max_keys=2)
    limiter.acquire("a", 1, now=0.0)
    limiter.acquire("b", 1, now=0.0)
    limiter.acquire("c", 1, now=0.0)
    assert limiter.acquire("a", 1, now=0.0) == 0.0  # "a" was dropped, so it starts with a full bucket
    assert limiter.acquire("c", 1, now=0.0) > 0
