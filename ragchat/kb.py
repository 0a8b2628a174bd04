"""Knowledge bases: named, independent collections under the data directory.

Each lives in ``<data_dir>/kbs/<name>/``: ``kb.sqlite`` (documents, chunks, vectors, FTS5 keyword index)
and ``index-<generation>.faiss``. SQLite is the source of truth; the FAISS file is rebuilt from it whenever
its generation does not match (after a crash between the two writes, say).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import re
import shutil
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from ragchat.domain import ChunkDraft, Document
from ragchat.errors import BadInput, IndexNotReady, ModelMismatch, NotFound
from ragchat.retrieval.embedders import Embedder
from ragchat.retrieval.vector_index import VectorIndex
from ragchat.store import NewDocument, Store, vector_key

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_kb_name(name: str) -> str:
    if not _NAME.match(name):
        raise BadInput(
            f"invalid knowledge base name {name!r}: use 1-64 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit"
        )
    return name


class KnowledgeBase:
    """One knowledge base opened with one embedder. Thread-safe for many readers and one writer."""

    def __init__(self, directory: Path, embedder: Embedder) -> None:
        self.directory = directory
        self.name = directory.name
        self.embedder = embedder
        self.store = Store(directory / "kb.sqlite")
        self._lock = threading.RLock()
        self._index: VectorIndex | None = None
        self._index_generation = -1
        self.check_model()

    # -- model identity --------------------------------------------------------------------------------
    @property
    def model(self) -> str | None:
        return self.store.get_meta("embedder")

    def check_model(self) -> None:
        built_with = self.model
        if built_with is not None and built_with != self.embedder.name:
            raise ModelMismatch(
                f"knowledge base {self.name!r} was built with embedder {built_with!r}, but {self.embedder.name!r} "
                f"is configured. Use the same model (RAGCHAT_EMBEDDER), or re-index: "
                f"'ragchat kb delete {self.name}' then 'ragchat ingest PATH... --kb {self.name}'."
            )

    def _claim_model(self, dim: int) -> None:
        if self.model is None:
            self.store.set_meta("embedder", self.embedder.name)
            self.store.set_meta("dim", str(dim))

    # -- FAISS index, derived from SQLite --------------------------------------------------------------
    def _index_path(self, generation: int) -> Path:
        return self.directory / f"index-{generation}.faiss"

    def vector_index(self) -> VectorIndex:
        """The FAISS index for the current SQLite generation, loaded or rebuilt as needed."""
        with self._lock:
            generation = self.store.generation
            if self._index is not None and self._index_generation == generation:
                return self._index
            path = self._index_path(generation)
            if path.exists():
                self._index = VectorIndex.load(path)
                if self._index.fit_kind():  # a large flat index from an older version: convert it once
                    self._save_index(generation)
            else:
                self._index = self._rebuild_index()
                self._save_index(generation)
            self._index_generation = generation
            return self._index

    def _rebuild_index(self) -> VectorIndex:
        dim = int(self.store.get_meta("dim") or self.embedder.dim or 0)
        if dim <= 0:
            raise IndexNotReady(f"knowledge base {self.name!r} has no vectors yet: ingest documents first")
        index = VectorIndex.build(dim, self.store.all_vectors(), total=self.store.counts()[1])
        logger.info("rebuilt FAISS index of %s: %d vectors (%s)", self.name, len(index), index.kind)
        return index

    def _save_index(self, generation: int) -> None:
        assert self._index is not None
        self._index.save(self._index_path(generation))
        for old in self.directory.glob("index-*.faiss"):
            if old.name != self._index_path(generation).name:
                old.unlink(missing_ok=True)

    def save_index(self) -> None:
        """Persist the in-memory index (called after a batch of writes)."""
        with self._lock:
            if self._index is not None and self._index_generation == self.store.generation:
                self._save_index(self._index_generation)

    # -- writes ----------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def writer(self) -> Iterator[None]:
        """Exclusive write access across processes (an flock on the knowledge base's lock file)."""
        with open(self.directory / ".lock", "a+") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise IndexNotReady(f"knowledge base {self.name!r} is busy: another ingest is writing to it") from exc
            try:
                with self._lock:
                    yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def vector_keys(self, drafts: Sequence[ChunkDraft]) -> list[str]:
        return [vector_key(self.embedder.name, d.index_text) for d in drafts]

    def put_document(self, doc: Document, drafts: Sequence[ChunkDraft], new_vectors: dict[str, np.ndarray]) -> None:
        """Store a document with its chunks (replacing an earlier version) and update the FAISS index."""
        with self._lock:
            self.check_model()
            if new_vectors:
                self._claim_model(next(iter(new_vectors.values())).shape[0])
            index = self.vector_index() if self.store.counts()[1] else None
            removed, ids, vectors = self.store.put_document(doc, drafts, self.vector_keys(drafts), new_vectors)
            self._apply(index, removed, ids, vectors)

    def add_documents(self, items: Sequence[NewDocument]) -> int:
        """Bulk-insert new documents with their vectors in one transaction; returns the chunks added.

        For large loads (benchmarks, migrations). A loaded FAISS index is updated in memory; otherwise the
        next :meth:`vector_index` builds it from SQLite. Callers hold :meth:`writer` and call
        :meth:`save_index` (or :meth:`vector_index`) when done.
        """
        if not items:
            return 0
        dim = int(items[0].vectors.shape[1])
        with self._lock:
            self.check_model()
            stored_dim = int(self.store.get_meta("dim") or dim)
            if dim != stored_dim:
                raise BadInput(f"vectors have dim {dim}, knowledge base {self.name!r} has {stored_dim}")
            self._claim_model(dim)
            loaded = self._index is not None and self._index_generation == self.store.generation
            ids, vectors = self.store.add_documents(items, self.embedder.name)
            self._apply(self._index if loaded else None, np.zeros(0, dtype=np.int64), ids, vectors)
            return len(ids)

    def delete_document(self, doc_id: str) -> Document:
        with self._lock:
            doc = self.store.document(doc_id)
            if doc is None:
                raise NotFound(f"no document {doc_id!r} in knowledge base {self.name!r}")
            index = self.vector_index() if self.store.counts()[1] else None
            removed = self.store.delete_document(doc_id)
            self._apply(index, removed, np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32))
            return doc

    def _apply(self, index: VectorIndex | None, removed: np.ndarray, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Mirror a committed SQLite write in the in-memory index; the file is saved by ``save_index``."""
        if index is None:
            self._index, self._index_generation = None, -1
            return
        index.remove(removed)
        index.add(ids, vectors)
        self._index_generation = self.store.generation

    def close(self) -> None:
        self.store.close()


class KnowledgeBases:
    """The collection of knowledge bases under one data directory."""

    def __init__(self, data_dir: Path, embedder: Embedder) -> None:
        self.root = data_dir / "kbs"
        self.embedder = embedder
        self._open: dict[str, KnowledgeBase] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "kb.sqlite").exists())

    def exists(self, name: str) -> bool:
        return (self.root / check_kb_name(name) / "kb.sqlite").exists()

    def get(self, name: str, *, create: bool = False) -> KnowledgeBase:
        check_kb_name(name)
        with self._lock:
            kb = self._open.get(name)
            if kb is not None:
                return kb
            directory = self.root / name
            if not (directory / "kb.sqlite").exists():
                if not create:
                    raise NotFound(f"no knowledge base named {name!r} (have: {', '.join(self.names()) or 'none'})")
                directory.mkdir(parents=True, exist_ok=True)
            kb = KnowledgeBase(directory, self.embedder)
            self._open[name] = kb
            return kb

    def delete(self, name: str) -> None:
        check_kb_name(name)
        with self._lock:
            directory = self.root / name
            if not (directory / "kb.sqlite").exists():
                raise NotFound(f"no knowledge base named {name!r}")
            with open(directory / ".lock", "a+") as fh:  # not while an ingest (here or elsewhere) writes to it
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError as exc:
                    raise IndexNotReady(f"knowledge base {name!r} is busy: an ingest is writing to it") from exc
                kb = self._open.pop(name, None)
                if kb is not None:
                    kb.close()
                trash = directory.with_name(f".{name}.deleting")
                directory.rename(trash)  # atomic: the knowledge base disappears at once
            shutil.rmtree(trash)

    def close(self) -> None:
        with self._lock:
            for kb in self._open.values():
                kb.close()
            self._open.clear()
