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


@eval_app.command("answers")
def answers(
    dataset: Annotated[Path, typer.Option("--dataset", help="Evidence-quote JSONL dataset.")],
    kb: Annotated[str | None, typer.Option("--kb", help="Existing knowledge base to chat with.")] = None,
    corpus: Annotated[
        list[Path] | None, typer.Option("--corpus", help="Folder(s) to build a temporary knowledge base from.")
    ] = None,
    judge: Annotated[
        str, typer.Option("--judge", help="offline (no LLM), llm (the configured RAGCHAT_LLM_*), or auto.")
    ] = "auto",
    work_dir: WorkDirOption = None,
    out_dir: OutOption = None,
    old: CompareOption = None,
) -> None:
    """Run the real chat pipeline on every item: refusal accuracy, faithfulness, hallucination rate, correctness."""
    from eval.harness import answers_on_dataset

    if judge not in ("offline", "llm", "auto"):
        raise typer.BadParameter("--judge must be offline, llm or auto")
    settings = Settings()
    folder = _out_dir(out_dir, "answers")
    with _progress() as start:
        output = answers_on_dataset(
            settings,
            dataset,
            kb_name=kb,
            corpus=list(corpus or []),
            work_dir=work_dir or settings.data_dir / "eval-cache",
            judge_name=judge,
            start=start,
            plot_dir=folder,
        )
    _finish(output, folder, old)


@eval_app.command("judge")
def judge_cmd(
    dataset: Annotated[Path, typer.Option("--dataset", help="HaluEval-style JSONL: knowledge, question, answers.")],
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N questions.")] = None,
    embedder: EmbedderOption = None,
    work_dir: WorkDirOption = None,
    out_dir: OutOption = None,
    old: CompareOption = None,
) -> None:
    """Measure the offline judge on labelled right vs hallucinated answers (AUROC, precision, recall)."""
    from eval.harness import judge_on_halueval

    settings = Settings()
    folder = _out_dir(out_dir, "judge")
    with _progress() as start:
        output = judge_on_halueval(
            settings,
            dataset,
            work_dir=work_dir or settings.data_dir / "eval-cache",
            embedder_spec=embedder,
            limit=limit,
            start=start,
        )
    _finish(output, folder, old)
