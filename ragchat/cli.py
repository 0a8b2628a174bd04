"""The ``ragchat`` command: thin wrappers over library functions; tables for humans, ``--json`` for scripts."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from eval.cli import eval_app
from ragchat.config import Settings
from ragchat.errors import NotFound, RagchatError
from ragchat.retrieval.retriever import MODES
from ragchat.services import Services

app = typer.Typer(
    help="ragchat: chat with your notes and PDFs. Ingest documents, search them, evaluate retrieval.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
kb_app = typer.Typer(help="Manage knowledge bases.", no_args_is_help=True)
docs_app = typer.Typer(help="Manage the documents of a knowledge base.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")
app.add_typer(docs_app, name="docs")
app.add_typer(eval_app, name="eval")

out = Console()
err = Console(stderr=True)

KbOption = Annotated[str | None, typer.Option("--kb", help="Knowledge base name (default: RAGCHAT_DEFAULT_KB).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "samples"


def _services() -> Services:
    return Services.build(Settings())


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


class _RichProgress:
    """Progress bar over files, with the chunks embedded so far for the file in hand."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("ingest", total=None, chunks=0, file="")

    def start_file(self, path: Path, index: int, total: int) -> None:
        self.progress.update(self.task, total=total, completed=index, file=path.name[:40])

    def embedded(self, chunks: int) -> None:
        self.progress.update(self.task, chunks=self.progress.tasks[self.task].fields["chunks"] + chunks)

    def finish_file(self, outcome: Any) -> None:
        self.progress.advance(self.task)


def run_ingest(services: Services, paths: list[Path], kb_name: str | None, *, show_progress: bool) -> Any:
    from ingest.pipeline import make_ingestor

    settings = services.settings
    kb = services.kb(kb_name, create=True)
    ingestor = make_ingestor(kb, settings)
    if not show_progress:
        return ingestor.ingest(paths)
    columns = [
        TextColumn("[bold]ingest"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files · {task.fields[chunks]} chunks embedded · {task.fields[file]}"),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=err, transient=True) as progress:
        return ingestor.ingest(paths, _RichProgress(progress))


def _print_report(report: Any, kb: str) -> None:
    table = Table(title=f"ingest into '{kb}'", show_lines=False)
    for col in ("status", "file", "chunks", "reason / warnings"):
        table.add_column(col, overflow="fold")
    for o in report.outcomes:
        note = o.reason or "; ".join(o.warnings)
        style = {"skipped": "red", "unchanged": "dim"}.get(o.status, "")
        table.add_row(o.status, Path(o.path).name, str(o.chunks), note, style=style)
    out.print(table)
    out.print(
        f"added {report.count('added')}, replaced {report.count('replaced')}, "
        f"unchanged {report.count('unchanged')}, skipped {report.count('skipped')}; "
        f"{report.chunks} chunks written in {report.seconds:.1f}s"
    )


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (.md .markdown .txt .pdf).")],
    kb: KbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add files and folders to a knowledge base; unchanged files are skipped, changed ones replaced."""
    services = _services()
    name = kb or services.settings.default_kb
    report = run_ingest(services, paths, name, show_progress=not as_json)
    if as_json:
        _print_json({"kb": name, **report.to_dict()})
    else:
        _print_report(report, name)


def _print_hits(hits: list[Any], query: str) -> None:
    table = Table(title=f"search: {query}")
    for col in ("#", "fused", "dense (rank)", "bm25 (rank)", "document", "page", "heading / text"):
        table.add_column(col, overflow="fold")
    for h in hits:
        dense = f"{h.dense_score:.3f} ({h.dense_rank})" if h.dense_rank else "-"
        bm25 = f"{h.bm25_score:.2f} ({h.bm25_rank})" if h.bm25_rank else "-"
        snippet = h.chunk.text.replace("\n", " ")
        snippet = snippet[:160] + ("…" if len(snippet) > 160 else "")
        heading = f"[bold]{h.chunk.heading}[/bold]\n" if h.chunk.heading else ""
        page = "-" if h.chunk.page is None else str(h.chunk.page)
        table.add_row(str(h.rank), f"{h.score:.4f}", dense, bm25, h.chunk.doc_name, page, heading + snippet)
    out.print(table)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for, in Chinese or English.")],
    kb: KbOption = None,
    k: Annotated[int, typer.Option("-k", "--top-k", min=1, max=100, help="Number of hits.")] = 8,
    mode: Annotated[str, typer.Option(help=f"Retriever: {', '.join(MODES)}.")] = "hybrid",
    as_json: JsonOption = False,
) -> None:
    """Search a knowledge base: hybrid dense + BM25 retrieval with the score trace of every hit."""
    if mode not in MODES:
        raise typer.BadParameter(f"mode must be one of {', '.join(MODES)}")
    services = _services()
    hits = services.retriever(kb, mode=mode).search(query, k)  # type: ignore[arg-type]
    if as_json:
        _print_json({"query": query, "kb": kb or services.settings.default_kb, "hits": [h.to_dict() for h in hits]})
    else:
        _print_hits(hits, query)


@kb_app.command("list")
def kb_list(as_json: JsonOption = False) -> None:
    """List knowledge bases with their document and chunk counts."""
    services = _services()
    rows = []
    for name in services.kbs.names():
        store = services.kbs.root / name
        from ragchat.store import Store

        s = Store(store / "kb.sqlite")
        docs, chunks = s.counts()
        rows.append({"name": name, "documents": docs, "chunks": chunks, "embedder": s.get_meta("embedder")})
        s.close()
    if as_json:
        _print_json(rows)
        return
    table = Table(title=f"knowledge bases in {services.settings.data_dir}")
    for col in ("name", "documents", "chunks", "embedder"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r["name"]), str(r["documents"]), str(r["chunks"]), str(r["embedder"] or "-"))
    out.print(table)


@kb_app.command("delete")
def kb_delete(name: Annotated[str, typer.Argument(help="Knowledge base to delete.")]) -> None:
    """Delete a knowledge base and everything in it."""
    services = _services()
    services.kbs.delete(name)
    out.print(f"deleted knowledge base '{name}'")


@docs_app.command("list")
def docs_list(kb: KbOption = None, as_json: JsonOption = False) -> None:
    """List the documents of a knowledge base."""
    services = _services()
    documents = services.kb(kb).store.documents()
    if as_json:
        _print_json([d.__dict__ for d in documents])
        return
    table = Table(title=f"documents in '{kb or services.settings.default_kb}'")
    for col in ("id", "name", "pages", "chunks", "warnings"):
        table.add_column(col, overflow="fold")
    for d in documents:
        table.add_row(d.id, d.name, str(d.pages), str(d.chunks), "; ".join(d.warnings))
    out.print(table)


@docs_app.command("delete")
def docs_delete(
    document: Annotated[str, typer.Argument(help="Document id, or its file name when that is unique.")],
    kb: KbOption = None,
) -> None:
    """Delete a document from the knowledge base (its chunks, vectors and keyword entries)."""
    services = _services()
    knowledge_base = services.kb(kb)
    matches = [d for d in knowledge_base.store.documents() if document in (d.id, d.name)]
    if not matches:
        raise NotFound(f"no document {document!r} in knowledge base {knowledge_base.name!r}")
    if len(matches) > 1:
        raise RagchatError(
            f"{len(matches)} documents are named {document!r}: give the id ({', '.join(d.id for d in matches)})"
        )
    with knowledge_base.writer():
        doc = knowledge_base.delete_document(matches[0].id)
        knowledge_base.save_index()
    out.print(f"deleted {doc.name} ({doc.chunks} chunks)")


@app.command()
def demo(
    query: Annotated[str, typer.Option(help="Sample search to run.")] = "混合检索是怎么融合 BM25 和向量检索结果的？",
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Start the service with the chat widget afterwards.")
    ] = True,
    host: Annotated[str | None, typer.Option(help="Interface to bind (default: RAGCHAT_HOST, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: RAGCHAT_PORT, 8000).")] = None,
) -> None:
    """Build the 'demo' knowledge base from the bundled samples, run a sample search, then serve the widget."""
    services = _services()
    report = run_ingest(services, [SAMPLES_DIR], "demo", show_progress=True)
    _print_report(report, "demo")
    _print_hits(services.retriever("demo").search(query, 3), query)
    services.close()
    if serve_after:
        serve(host=host, port=port, banner="the demo page chats with the 'demo' knowledge base")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default: RAGCHAT_HOST, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: RAGCHAT_PORT, 8000).")] = None,
    banner: Annotated[str, typer.Option(hidden=True)] = "upload documents and chat from the demo page",
) -> None:
    """Serve the HTTP API, the demo page and the chat widget; models and indexes load once at startup."""
    import uvicorn

    from ragchat.api.app import create_app
    from ragchat.api.settings import AppSettings

    settings = AppSettings()
    bind = host or settings.server.host
    chosen = port if port is not None else settings.server.port
    shown = "127.0.0.1" if bind in ("0.0.0.0", "::") else bind
    out.print(
        f"\n[bold]Open http://{shown}:{chosen}/[/bold] ({banner}); API docs at http://{shown}:{chosen}/docs. "
        "Ctrl-C stops the server.",
        highlight=False,
    )
    uvicorn.run(create_app(settings), host=bind, port=chosen, log_level="info")


def _print_answer(result: Any) -> None:
    out.print(result.answer, highlight=False, markup=False)
    if result.refused:
        err.print(f"[dim](refused: {result.refusal.reason})[/dim]", highlight=False)
    if result.citations:
        out.print("\n[bold]Sources[/bold]")
    for c in result.citations:
        page = ""
        if c.page is not None:
            page = f", p. {c.page}" + (f"-{c.page_end}" if c.page_end not in (None, c.page) else "")
        heading = f" · {c.heading}" if c.heading else ""
        out.print(f"[{c.n}] {c.doc_name}{page}{heading}", highlight=False, markup=False)
        out.print(f"    {c.snippet}", style="dim", highlight=False, markup=False)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in Chinese or English.")],
    kb: KbOption = None,
    k: Annotated[int | None, typer.Option("-k", "--top-k", min=1, max=50, help="Chunks to retrieve.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Answer a question from a knowledge base, with numbered sources (RAGCHAT_LLM_* picks the backend)."""
    from ragchat.generation.chat import build_pipeline

    services = _services()
    try:
        result = build_pipeline(services).answer(kb, question, k=k)
    finally:
        services.close()
    if not as_json:
        _print_answer(result)
        return
    _print_json(
        {
            "kb": kb or services.settings.default_kb,
            "question": result.question,
            "answer": result.answer,
            "refused": result.refused,
            "refusal_reason": result.refusal.reason,
            "citations": [c.__dict__ for c in result.citations],
            "hits": [h.to_dict() for h in result.hits],
            "timings_ms": result.timings_ms,
        }
    )


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []})
def bench(ctx: typer.Context) -> None:
    """Benchmarks: ingest vs the LangChain baseline, search latency at 1k-100k chunks, server memory (-h: options)."""
    from eval.bench import run

    run(ctx.args)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except RagchatError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        err.print("interrupted: finished files are kept; run the same command again to finish the job")
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
