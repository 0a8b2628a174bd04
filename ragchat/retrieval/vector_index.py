"""FAISS inner-product index over L2-normalised vectors, ids = chunk ids; saved with ``faiss.write_index``.

Up to ``EXACT_MAX_VECTORS`` the index is exact (``IndexFlatIP``). Past that, a flat scan costs more than
embedding the query on a small CPU (100k x 384 floats is 150 MB to stream per query: ~50 ms on a busy
2-core machine), so the index converts itself into an inverted-file index (``IndexIVFFlat``, k-means
lists, ``nlist = 2 * sqrt(n)``) that scans ``nprobe`` lists per query. Measured with ``python -m
eval.bench query`` at 100k chunks: recall@10 against the exact search 0.99 for ~3 ms instead of ~15-50.
Both kinds add and remove by id, so ingest updates them in place; the lists are trained once, when the
index crosses the threshold or is rebuilt from SQLite.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

EXACT_MAX_VECTORS = 20_000
"""Above this many vectors the index is approximate (IVF)."""

PROBE_SHARE = 0.15
"""Share of the IVF lists scanned per query (at least ``MIN_NPROBE``): at 100k chunks x 384 dims, 95 of 632
lists give recall@10 0.99 and recall@50 0.99 against exact search, for ~3 ms instead of ~15-50."""
MIN_NPROBE = 48
TRAIN_POINTS_PER_LIST = 64
TRAIN_ITERATIONS = 10


def ivf_lists(n: int) -> int:
    """Number of IVF lists for ``n`` vectors: ~2 sqrt(n)."""
    return max(1, round(2 * math.sqrt(n)))


def ivf_probes(nlist: int) -> int:
    """Lists scanned per query; set on every load, so a changed policy applies to saved indexes too."""
    return min(nlist, max(MIN_NPROBE, round(PROBE_SHARE * nlist)))


def _trained_ivf(dim: int, total: int, sample: np.ndarray) -> Any:
    import faiss

    nlist = min(ivf_lists(total), len(sample))  # k-means needs at least one point per list
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.cp.niter = TRAIN_ITERATIONS
    ivf.cp.min_points_per_centroid = 1  # quiet: a small sample is fine for coarse lists
    ivf.train(np.ascontiguousarray(sample, dtype=np.float32))
    ivf.nprobe = ivf_probes(nlist)
    return ivf


class VectorIndex:
    """Inner-product search (cosine on normalised vectors) with stable int64 ids: exact up to
    ``exact_max`` vectors, inverted-file (approximate) above."""

    def __init__(self, dim: int, *, exact_max: int = EXACT_MAX_VECTORS) -> None:
        import faiss

        if dim <= 0:
            raise ValueError(f"dim must be > 0, got {dim}")
        if exact_max <= 0:
            raise ValueError(f"exact_max must be > 0, got {exact_max}")
        self.dim = dim
        self.exact_max = exact_max
        self._index: Any = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @classmethod
    def load(cls, path: Path, *, exact_max: int = EXACT_MAX_VECTORS) -> VectorIndex:
        import faiss

        index = faiss.read_index(str(path))
        self = cls.__new__(cls)
        self.dim = index.d
        self.exact_max = exact_max
        self._index = index
        if self.approximate:
            self._index.nprobe = ivf_probes(self._index.nlist)
        return self

    def save(self, path: Path) -> None:
        """Write to a temporary file and rename it into place: a reader never sees half a file."""
        import faiss

        tmp = path.with_name(path.name + ".tmp")
        faiss.write_index(self._index, str(tmp))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def approximate(self) -> bool:
        import faiss

        return isinstance(self._index, faiss.IndexIVF)

    @property
    def kind(self) -> str:
        """'flat', or 'ivf<nlist>/nprobe<nprobe>'."""
        if not self.approximate:
            return "flat"
        return f"ivf{self._index.nlist}/nprobe{self._index.nprobe}"

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape[1] != self.dim:
            raise ValueError(f"vectors have dim {vectors.shape[1]}, index has {self.dim}")
        self._index.add_with_ids(vectors, np.ascontiguousarray(ids, dtype=np.int64))
        self.fit_kind()

    def fit_kind(self) -> bool:
        """Turn a flat index over the threshold into an IVF one trained on (a sample of) its own vectors;
        True if it changed (an index file written by an older version, say). An IVF index stays IVF."""
        if self.approximate or len(self) <= self.exact_max:
            return False
        import faiss

        ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        vectors = self._index.index.reconstruct_n(0, len(ids))
        sample = np.random.default_rng(0).permutation(len(ids))[: ivf_lists(len(ids)) * TRAIN_POINTS_PER_LIST]
        self._index = _trained_ivf(self.dim, len(ids), vectors[np.sort(sample)])
        self._index.add_with_ids(vectors, ids)
        return True

    @classmethod
    def build(
        cls,
        dim: int,
        batches: Iterable[tuple[np.ndarray, np.ndarray]],
        *,
        total: int,
        exact_max: int = EXACT_MAX_VECTORS,
    ) -> VectorIndex:
        """An index over ``total`` vectors arriving in (ids, vectors) batches, in random order (chunk ids are
        content hashes). Above ``exact_max`` the IVF lists are sized for ``total`` and trained on the first
        batches, so the whole set is never held twice."""
        self = cls(dim, exact_max=exact_max)
        if total <= exact_max:
            for ids, vectors in batches:
                self.add(ids, vectors)
            return self
        want = ivf_lists(total) * TRAIN_POINTS_PER_LIST
        head: list[tuple[np.ndarray, np.ndarray]] = []
        iterator = iter(batches)
        for ids, vectors in iterator:
            head.append((ids, np.ascontiguousarray(vectors, dtype=np.float32)))
            if sum(len(i) for i, _ in head) >= want:
                break
        if not head:
            return self
        self._index = _trained_ivf(dim, total, np.concatenate([v for _, v in head])[:want])
        for ids, vectors in head:
            self.add(ids, vectors)
        for ids, vectors in iterator:
            self.add(ids, vectors)
        return self

    def remove(self, ids: np.ndarray) -> None:
        if len(ids) == 0:
            return
        import faiss

        self._index.remove_ids(faiss.IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64)))

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Top ``k`` (id, score). Runs on the calling thread alone: concurrency comes from concurrent requests,
        and an OpenMP team per single-vector query only adds wake-up latency on a busy machine."""
        if len(self) == 0 or k <= 0:
            return []
        import faiss

        faiss.omp_set_num_threads(1)  # per calling thread (OpenMP's nthreads-var is thread-local)
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, self.dim)
        scores, ids = self._index.search(q, min(k, len(self)))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]
