"""A process killed mid-ingest leaves a usable, consistent knowledge base; re-running finishes the job."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from ingest.pipeline import make_ingestor
from ragchat.config import Settings
from ragchat.kb import KnowledgeBases
from ragchat.retrieval.embedders import HashEmbedder
from ragchat.retrieval.retriever import Retriever
from tests.ingest.test_pipeline import consistent

N_FILES = 60

# The child ingests with an embedder that is slow on purpose, so the kill lands mid-run.
CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from ingest.pipeline import make_ingestor
    from ragchat.config import Settings
    from ragchat.kb import KnowledgeBases
    from ragchat.retrieval.embedders import HashEmbedder

    class Slow(HashEmbedder):
        def embed(self, texts, *, kind):
            time.sleep(0.05)
            return super().embed(texts, kind=kind)

    kb = KnowledgeBases(Path(sys.argv[1]), Slow()).get("notes", create=True)
    settings = Settings(chunk_tokens=64, chunk_overlap=8, embed_batch_size=2, max_file_mb=1)
    make_ingestor(kb, settings).ingest([Path(sys.argv[2])])
    """
)


def _documents(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def test_kill_minus_nine_mid_ingest_leaves_consistent_kb(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(N_FILES):
        body = "\n\n".join(
            f"第{i}篇第{j}段：关于主题{i}的说明，其中提到关键词 topic{i} 和 para{j}。" for j in range(12)
        )
        (corpus / f"note{i:03}.md").write_text(f"# 笔记 {i}\n\n{body}\n", encoding="utf-8")
    data = tmp_path / "data"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(data), str(corpus)], cwd=Path(__file__).parents[2])
    db = data / "kbs" / "notes" / "kb.sqlite"
    deadline = time.monotonic() + 120
    while _documents(db) < 5 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL, "the child finished before it could be killed"

    kb = KnowledgeBases(data, HashEmbedder()).get("notes")
    done = len(kb.store.documents())
    assert 5 <= done < N_FILES
    assert consistent(kb) == sum(d.chunks for d in kb.store.documents())
    assert Retriever(kb).search("topic3 主题3", 3)[0].chunk.doc_name == "note003.md"

    report = make_ingestor(kb, Settings(chunk_tokens=64, chunk_overlap=8, embed_batch_size=2, max_file_mb=1)).ingest(
        [corpus]
    )
    assert report.count("unchanged") == done
    assert report.count("added") == N_FILES - done
    assert len(kb.store.documents()) == N_FILES
    consistent(kb)
