"""In-process background jobs: uploads ingested by one worker thread, with progress per file.

The worker runs jobs one at a time, in order (ingestion is CPU-bound and a knowledge base takes one writer
at a time anyway). A job's state is read while it runs through :meth:`Job.snapshot`, under its lock.
The work itself is a function passed in, so this module knows nothing of parsing or chunking.
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from ragchat.errors import NotFound, RagchatError

logger = logging.getLogger(__name__)

JobState = Literal["queued", "running", "done", "failed"]


@dataclass(frozen=True)
class FileProgress:
    name: str
    status: str = "pending"  # pending | running | added | replaced | unchanged | skipped
    chunks: int = 0
    reason: str = ""
    warnings: tuple[str, ...] = ()
    doc_id: str | None = None


@dataclass
class Job:
    id: str
    kb: str
    files: list[FileProgress]
    state: JobState = "queued"
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    chunks_embedded: int = 0
    error: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def snapshot(self) -> Job:
        with self._lock:
            return replace(self, files=list(self.files), _lock=threading.Lock())

    @property
    def files_done(self) -> int:
        return sum(1 for f in self.files if f.status not in ("pending", "running"))

    @property
    def chunks_done(self) -> int:
        return sum(f.chunks for f in self.files if f.status in ("added", "replaced"))

    # -- the ProgressSink protocol of the ingest pipeline ----------------------------------------------
    def start_file(self, path: Path, index: int, total: int) -> None:
        with self._lock:
            if index < len(self.files):
                self.files[index] = replace(self.files[index], status="running")

    def embedded(self, chunks: int) -> None:
        with self._lock:
            self.chunks_embedded += chunks

    def finish_file(self, outcome: Any) -> None:
        with self._lock:
            index = next((i for i, f in enumerate(self.files) if f.status == "running"), None)
            if index is None:
                return
            self.files[index] = replace(
                self.files[index],
                status=outcome.status,
                chunks=outcome.chunks,
                reason=outcome.reason,
                warnings=tuple(outcome.warnings),
                doc_id=outcome.doc_id,
            )


Work = Callable[[Job], None]


class JobManager:
    """Queue of jobs run by one daemon thread; the last ``keep`` jobs stay queryable."""

    def __init__(self, *, keep: int = 200) -> None:
        self.keep = keep
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._queue: queue.Queue[tuple[Job, Work, Path | None] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ragchat-jobs", daemon=True)
            self._thread.start()

    def submit(self, kb: str, names: Sequence[str], work: Work, *, cleanup: Path | None = None) -> Job:
        """Queue ``work(job)``; ``cleanup`` (a temporary folder) is removed when the job ends, however it ends."""
        job = self._register(kb, names)
        self.start()
        self._queue.put((job, work, cleanup))
        return job

    def _register(self, kb: str, names: Sequence[str]) -> Job:
        job = Job(id=uuid.uuid4().hex[:16], kb=kb, files=[FileProgress(name) for name in names])
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > self.keep:
                oldest = next(iter(self._jobs.values()))
                if oldest.state in ("queued", "running"):
                    break
                self._jobs.popitem(last=False)
        return job

    def run_now(self, kb: str, names: Sequence[str], work: Work, *, cleanup: Path | None = None) -> Job:
        """Run ``work(job)`` in the calling thread (small uploads); the job is kept like a background one.

        A RagchatError (the knowledge base is busy, say) propagates after the job is marked failed.
        """
        job = self._register(kb, names)
        self._execute(job, work, cleanup, reraise=True)
        return job.snapshot()

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"no job {job_id!r}")
        return job.snapshot()

    def all(self) -> list[Job]:
        with self._lock:
            jobs = list(self._jobs.values())
        return [j.snapshot() for j in reversed(jobs)]

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            self._execute(*item, reraise=False)

    @staticmethod
    def _execute(job: Job, work: Work, cleanup: Path | None, *, reraise: bool) -> None:
        with job._lock:
            job.state, job.started_at = "running", time.time()
        failure: RagchatError | None = None
        try:
            work(job)
            state: JobState = "done"
            error = None
        except RagchatError as exc:
            state, error, failure = "failed", str(exc), exc
        except Exception as exc:  # a job must never kill the worker; the error is reported on the job
            logger.exception("job %s failed", job.id)
            state, error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            if cleanup is not None:
                shutil.rmtree(cleanup, ignore_errors=True)
        with job._lock:
            job.state, job.error, job.finished_at = state, error, time.time()
            if error is not None:
                job.files = [
                    replace(f, status="skipped", reason=f.reason or error) if f.status in ("pending", "running")
                    else f
                    for f in job.files
                ]
        if reraise and failure is not None:
            raise failure

    def close(self, timeout: float = 10.0) -> None:
        """Stop after the running job (queued ones are dropped)."""
        if self._thread is None:
            return
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None and item[2] is not None:
                shutil.rmtree(item[2], ignore_errors=True)
        self._queue.put(None)
        self._thread.join(timeout)
        self._thread = None
