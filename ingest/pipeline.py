"""parse -> chunk -> embed -> store, one file at a time: idempotent, per-file fault tolerant, resumable.

Each file is committed in its own SQLite transaction, so an interrupted run keeps every file it finished
and re-running it does the rest (finished files are recognised by their content hash).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from ingest.chunking import Chunker
from ingest.parsing import SUPPORTED_SUFFIXES, parse_file
from ragchat.config import Settings
from ragchat.domain import Document, sha256_hex
from ragchat.errors import BadInput, RagchatError
from ragchat.kb import KnowledgeBase
from ragchat.retrieval.embedders import embed_in_batches

logger = logging.getLogger(__name__)

Status = Literal["added", "replaced", "unchanged", "skipped"]
_SAVE_EVERY_SECONDS = 30.0


@dataclass(frozen=True)
class FileOutcome:
    path: str
    status: Status
    chunks: int = 0
    reason: str = ""
    warnings: tuple[str, ...] = ()
    doc_id: str | None = None


@dataclass
class IngestReport:
    outcomes: list[FileOutcome] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def chunks(self) -> int:
        return sum(o.chunks for o in self.outcomes if o.status in ("added", "replaced"))

    def to_dict(self) -> dict[str, object]:
        return {
            "added": self.count("added"),
            "replaced": self.count("replaced"),
            "unchanged": self.count("unchanged"),
            "skipped": self.count("skipped"),
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
            "files": [o.__dict__ for o in self.outcomes],
        }


class ProgressSink(Protocol):
    def start_file(self, path: Path, index: int, total: int) -> None: ...

    def embedded(self, chunks: int) -> None: ...

    def finish_file(self, outcome: FileOutcome) -> None: ...


class _Quiet:
    def start_file(self, path: Path, index: int, total: int) -> None:
        pass

    def embedded(self, chunks: int) -> None:
        pass

    def finish_file(self, outcome: FileOutcome) -> None:
        pass


def discover(paths: Iterable[Path]) -> list[Path]:
    """Files under ``paths`` (folders recursively, hidden entries skipped), sorted, each once.

    Unsupported files are kept so the report can say they were skipped; a missing path is an error.
    """
    found: dict[Path, None] = {}
    for path in paths:
        if not path.exists():
            raise BadInput(f"no such file or directory: {path}")
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        found[Path(root, name).resolve()] = None
        else:
            found[path.resolve()] = None
    return list(found)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def document_id(kb: str, source: str) -> str:
    return sha256_hex(kb, source)[:16]


class Ingestor:
    def __init__(
        self, kb: KnowledgeBase, chunker: Chunker, *, batch_size: int = 16, max_file_mb: float = 100.0
    ) -> None:
        self.kb = kb
        self.chunker = chunker
        self.batch_size = batch_size
        self.max_bytes = int(max_file_mb * 1024 * 1024)

    def ingest(self, paths: Sequence[Path], progress: ProgressSink | None = None) -> IngestReport:
        """Ingest files and folders; every file gets an outcome, none stops the batch."""
        files = discover(paths)
        return self.ingest_files([(f, str(f), f.name) for f in files], progress)

    def ingest_files(
        self, files: Sequence[tuple[Path, str, str]], progress: ProgressSink | None = None
    ) -> IngestReport:
        """Ingest (path, source, display name) triples; ``source`` identifies a document across versions."""
        sink = progress or _Quiet()
        report = IngestReport()
        started = time.perf_counter()
        last_save = started
        with self.kb.writer():
            try:
                for i, (path, source, name) in enumerate(files):
                    sink.start_file(path, i, len(files))
                    outcome = self._one(path, source, name, sink)
                    report.outcomes.append(outcome)
                    sink.finish_file(outcome)
                    if time.perf_counter() - last_save > _SAVE_EVERY_SECONDS:
                        self.kb.save_index()
                        last_save = time.perf_counter()
            finally:
                self.kb.save_index()
        report.seconds = time.perf_counter() - started
        logger.info("ingested %d files into %s in %.1fs", len(files), self.kb.name, report.seconds)
        return report

    def _one(self, path: Path, source: str, name: str, sink: ProgressSink) -> FileOutcome:
        shown = str(path)
        try:
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
                return FileOutcome(shown, "skipped", reason=f"unsupported file type '{path.suffix}' ({supported})")
            size = path.stat().st_size
            if size > self.max_bytes:
                return FileOutcome(
                    shown, "skipped", reason=f"too large: {size / 2**20:.1f} MB > {self.max_bytes / 2**20:.0f} MB"
                )
            digest = file_sha256(path)
            existing = self.kb.store.document_by_source(source)
            if existing is not None and existing.file_hash == digest and existing.chunking == self.chunker.signature:
                return FileOutcome(shown, "unchanged", chunks=existing.chunks, doc_id=existing.id)
            parsed = parse_file(path)
            drafts = self.chunker.chunk(parsed)
            if not drafts:
                return FileOutcome(shown, "skipped", reason="no text to index", warnings=parsed.warnings)
            keys = self.kb.vector_keys(drafts)
            cached = self.kb.store.cached_vectors(keys)
            todo = {k: d.index_text for k, d in zip(keys, drafts, strict=True) if k not in cached}
            vectors = embed_in_batches(
                self.kb.embedder, list(todo.values()), batch_size=self.batch_size, on_progress=sink.embedded
            )
            new_vectors: dict[str, np.ndarray] = dict(zip(todo, vectors, strict=True))
            doc = Document(
                id=document_id(self.kb.name, source),
                kb=self.kb.name,
                name=name,
                source=source,
                file_hash=digest,
                size_bytes=size,
                pages=parsed.page_count,
                chunks=len(drafts),
                added_at=time.time(),
                warnings=parsed.warnings,
                chunking=self.chunker.signature,
            )
            self.kb.put_document(doc, drafts, new_vectors)
            status: Status = "replaced" if existing is not None else "added"
            return FileOutcome(shown, status, chunks=len(drafts), warnings=parsed.warnings, doc_id=doc.id)
        except RagchatError as exc:
            if isinstance(exc, BadInput):
                return FileOutcome(shown, "skipped", reason=str(exc))
            raise
        except (OSError, ValueError, RuntimeError) as exc:
            logger.exception("failed to ingest %s", path)
            return FileOutcome(shown, "skipped", reason=f"{type(exc).__name__}: {exc}")


def make_ingestor(kb: KnowledgeBase, settings: Settings) -> Ingestor:
    """The ingestor the settings describe: chunk size and overlap in the embedder's tokens, batch and file limits."""
    chunker = Chunker(kb.embedder.count_tokens, max_tokens=settings.chunk_tokens, overlap_tokens=settings.chunk_overlap)
    return Ingestor(kb, chunker, batch_size=settings.embed_batch_size, max_file_mb=settings.max_file_mb)
