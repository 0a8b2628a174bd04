"""``ragchat eval ...``: retrieval recall, answer faithfulness and the judge itself, from the command line."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from eval.harness import EvalOutput
from eval.report import compare, write_json, write_markdown
from ragchat.config import Settings

eval_app = typer.Typer(help="Measure retrieval recall and answer hallucination on a dataset.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)

OutOption = Annotated[
    Path | None,
    typer.Option("--out", help="Folder for report.json, report.md and plots (default: eval-reports/KIND-TIME)."),
]
CompareOption = Annotated[Path | None, typer.Option("--compare", help="An earlier report.json to diff against.")]
WorkDirOption = Annotated[
    Path | None,
    typer.Option(
        "--work-dir", help="Cache of temporary knowledge bases and embeddings (default: DATA_DIR/eval-cache)."
    ),
]
EmbedderOption = Annotated[str | None, typer.Option("--embedder", help="Embedder spec (default: RAGCHAT_EMBEDDER).")]


@contextmanager
def _progress() -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=err, transient=True) as progress:

        def start(description: str, total: int) -> Callable[[int], None]:
            task = progress.add_task(description, total=total)
            return lambda n: progress.advance(task, n)

        yield start


def _finish(output: EvalOutput, folder: Path, old: Path | None) -> None:
    markdown = output.markdown
    if old is not None:
        markdown += "\n\n## Compared with an earlier run\n\n" + compare(old, output.report)
    json_path = write_json(output.report, folder)
    md_path = write_markdown(markdown, folder)
    out.print(Markdown(markdown))
    out.print(f"\nwrote {json_path}, {md_path} and plots in {folder}")


def _out_dir(out_dir: Path | None, kind: str) -> Path:
    return out_dir or Path("eval-reports") / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}"


@eval_app.command("retrieval")
def retrieval(
    dataset: Annotated[Path | None, typer.Option("--dataset", help="Evidence-quote JSONL dataset.")] = None,
    kb: Annotated[str | None, typer.Option("--kb", help="Existing knowledge base to evaluate.")] = None,
    corpus: Annotated[
        list[Path] | None, typer.Option("--corpus", help="Folder(s) to build a temporary knowledge base from.")
    ] = None,
    beir: Annotated[
        Path | None, typer.Option("--beir", help="BEIR folder (corpus.jsonl, queries.jsonl, qrels/).")
    ] = None,
    no_baseline: Annotated[bool, typer.Option("--no-baseline", help="Skip the LangChain-tutorial baseline.")] = False,
    embedder: EmbedderOption = None,
    work_dir: WorkDirOption = None,
    out_dir: OutOption = None,
    old: CompareOption = None,
) -> None:
    """Hit@1/3/5/10, Recall@k, MRR@10, nDCG@10 and evidence-within-budget for ours, dense, BM25 and the baseline."""
    from eval.harness import retrieval_on_beir, retrieval_on_dataset

    settings = Settings()
    cache = work_dir or settings.data_dir / "eval-cache"
    folder = _out_dir(out_dir, "retrieval")
    with _progress() as start:
        if beir is not None:
            output = retrieval_on_beir(
                settings,
                beir,
                work_dir=cache,
                embedder_spec=embedder,
                baseline=not no_baseline,
                start=start,
                plot_dir=folder,
            )
        elif dataset is not None:
            output = retrieval_on_dataset(
                settings,
                dataset,
                kb_name=kb,
                corpus=list(corpus or []),
                work_dir=cache,
                embedder_spec=embedder,
                baseline=not no_baseline,
                start=start,
                plot_dir=folder,
            )
        else:
            raise typer.BadParameter("give --dataset PATH (with --kb or --corpus) or --beir DIR")
    _finish(output, folder, old)
