"""parse -> chunk -> embed -> store, file by file: idempotent, per-file fault tolerant, resumable.

Each file is committed in its own SQLite transaction, so an interrupted run keeps every file it finished
and re-running it does the rest (finished files are recognised by their content hash).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from ingest.chunking import Chunker
from ingest.parsed import ParsedDocument
from ingest.parsing import SUPPORTED_SUFFIXES, parse_file
from ragchat.config import Settings
from ragchat.domain import ChunkDraft, Document, sha256_hex
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
        """Ingest (path, source, display name) triples; ``source`` identifies a document across versions.

        The next file is parsed and chunked on a worker thread while this one is embedded and stored. Layout
        analysis uses both cores poorly (1.4x one core) and the embedder leaves no core idle, so together
        they finish sooner than one after the other. Only this thread touches the knowledge base.
        """
        sink = progress or _Quiet()
        report = IngestReport()
        started = time.perf_counter()
        last_save = started
        queue: deque[_Planned] = deque()
        pending = iter(files)
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ragchat-parse")
        with self.kb.writer():
            try:
                for i in range(len(files)):
                    while len(queue) < 2 and (item := next(pending, None)) is not None:
                        queue.append(self._plan(*item, pool))
                    planned = queue.popleft()
                    sink.start_file(planned.path, i, len(files))
                    outcome = planned.outcome or self._guarded(planned.path, lambda p=planned: self._finish(p, sink))
                    assert outcome is not None  # _finish always has an outcome
                    report.outcomes.append(outcome)
                    sink.finish_file(outcome)
                    if time.perf_counter() - last_save > _SAVE_EVERY_SECONDS:
                        self.kb.save_index()
                        last_save = time.perf_counter()
            finally:
                pool.shutdown(wait=False, cancel_futures=True)
                self.kb.save_index()
        report.seconds = time.perf_counter() - started
        logger.info("ingested %d files into %s in %.1fs", len(files), self.kb.name, report.seconds)
        return report

    def _plan(self, path: Path, source: str, name: str, pool: ThreadPoolExecutor) -> _Planned:
        """Decide what a file needs without parsing it; if it needs parsing, start that on ``pool``."""
        planned = _Planned(path, source, name)
        planned.outcome = self._guarded(path, lambda: self._check(planned))
        if planned.outcome is None:
            planned.cut = pool.submit(self._cut, path)
        return planned

    def _check(self, planned: _Planned) -> FileOutcome | None:
        """The outcome of a file that will not be parsed (unsupported, too large, unchanged), else None."""
        path, shown = planned.path, str(planned.path)
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
            return FileOutcome(shown, "skipped", reason=f"unsupported file type '{path.suffix}' ({supported})")
        planned.size = path.stat().st_size
        if planned.size > self.max_bytes:
            return FileOutcome(
                shown, "skipped", reason=f"too large: {planned.size / 2**20:.1f} MB > {self.max_bytes / 2**20:.0f} MB"
            )
        planned.digest = file_sha256(path)
        existing = self.kb.store.document_by_source(planned.source)
        if (
            existing is not None
            and existing.file_hash == planned.digest
            and existing.chunking == self.chunker.signature
        ):
            return FileOutcome(shown, "unchanged", chunks=existing.chunks, doc_id=existing.id)
        return None

    def _cut(self, path: Path) -> tuple[ParsedDocument, list[ChunkDraft]]:
        """Parse and chunk (on the worker thread: no knowledge-base access here)."""
        parsed = parse_file(path)
        return parsed, self.chunker.chunk(parsed)

    def _finish(self, planned: _Planned, sink: ProgressSink) -> FileOutcome:
        """Embed and store a parsed file (on the ingest thread)."""
        assert planned.cut is not None
        shown = str(planned.path)
        parsed, drafts = planned.cut.result()
        if not drafts:
            return FileOutcome(shown, "skipped", reason="no text to index", warnings=parsed.warnings)
        keys = self.kb.vector_keys(drafts)
        cached = self.kb.store.cached_vectors(keys)
        todo = {k: d.index_text for k, d in zip(keys, drafts, strict=True) if k not in cached}
        vectors = embed_in_batches(
            self.kb.embedder, list(todo.values()), batch_size=self.batch_size, on_progress=sink.embedded
        )
        new_vectors: dict[str, np.ndarray] = dict(zip(todo, vectors, strict=True))
        existing = self.kb.store.document_by_source(planned.source)
        doc = Document(
            id=document_id(self.kb.name, planned.source),
            kb=self.kb.name,
            name=planned.name,
            source=planned.source,
            file_hash=planned.digest,
            size_bytes=planned.size,
            pages=parsed.page_count,
            chunks=len(drafts),
            added_at=time.time(),
            warnings=parsed.warnings,
            chunking=self.chunker.signature,
        )
        self.kb.put_document(doc, drafts, new_vectors)
        status: Status = "replaced" if existing is not None else "added"
        return FileOutcome(shown, status, chunks=len(drafts), warnings=parsed.warnings, doc_id=doc.id)

    @staticmethod
    def _guarded(path: Path, step: Callable[[], FileOutcome | None]) -> FileOutcome | None:
        """Run one step for a file; a bad file becomes a "skipped" outcome instead of stopping the batch."""
        try:
            return step()
        except RagchatError as exc:
            if isinstance(exc, BadInput):
                return FileOutcome(str(path), "skipped", reason=str(exc))
            raise
        except (OSError, ValueError, RuntimeError) as exc:
            logger.exception("failed to ingest %s", path)
            return FileOutcome(str(path), "skipped", reason=f"{type(exc).__name__}: {exc}")


@dataclass
class _Planned:
    """A file on its way through the pipeline."""

    path: Path
    source: str
    name: str
    outcome: FileOutcome | None = None  # decided without parsing
    size: int = 0
    digest: str = ""
    cut: Future[tuple[ParsedDocument, list[ChunkDraft]]] | None = None


def make_ingestor(kb: KnowledgeBase, settings: Settings) -> Ingestor:
    """The ingestor the settings describe: chunk sizes and overlaps (CJK and alphabetic), batch and file limits."""
    chunker = Chunker(
        kb.embedder.count_tokens,
        max_tokens=settings.chunk_tokens,
        overlap_tokens=settings.chunk_overlap,
        alphabetic_max_tokens=settings.alphabetic_chunk_tokens,
        alphabetic_overlap_tokens=settings.alphabetic_chunk_overlap,
    )
    return Ingestor(kb, chunker, batch_size=settings.embed_batch_size, max_file_mb=settings.max_file_mb)
