"""A persistent embedding cache for evaluation runs: the same text under the same model is embedded once."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ragchat.domain import sha256_hex
from ragchat.retrieval.embedders import Embedder, Kind


class CachedEmbedder:
    """Wraps an embedder; caches passage and query vectors in SQLite keyed by (model, kind, text hash)."""

    def __init__(self, inner: Embedder, path: Path) -> None:
        self.inner = inner
        self.name = inner.name
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False)
        self._conn.execute("CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:  # type: ignore[override]
        return self.inner.dim

    def embed(self, texts: Sequence[str], *, kind: Kind) -> np.ndarray:
        keys = [sha256_hex(self.name, kind, t) for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                part = keys[start : start + 500]
                marks = ",".join("?" * len(part))
                for key, blob in self._conn.execute(f"SELECT key, vector FROM cache WHERE key IN ({marks})", part):
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        todo = [i for i, k in enumerate(keys) if k not in found]
        if todo:
            vecs = self.inner.embed([texts[i] for i in todo], kind=kind)
            with self._lock:
                self._conn.executemany(
                    "INSERT OR REPLACE INTO cache VALUES (?, ?)",
                    [(keys[i], vecs[j].astype(np.float32).tobytes()) for j, i in enumerate(todo)],
                )
                self._conn.commit()
            for j, i in enumerate(todo):
                found[keys[i]] = vecs[j]
        if not keys:
            return np.zeros((0, self.inner.dim), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)
