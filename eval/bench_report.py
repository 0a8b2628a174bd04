"""Tables and the scaling plot of ``python -m eval.bench`` (query and memory parts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

KB = "bench"


def print_query(result: dict[str, Any], console: Console) -> None:
    table = Table(title=f"POST /kbs/{KB}/search, {result['embedder']}, {result['queries']} distinct queries")
    for col in ("chunks", "clients", "requests", "errors", "p50 ms", "p95 ms", "p99 ms", "req/s", "srv CPU ms/req",
                "RSS MiB", "load"):  # fmt: skip
        table.add_column(col, justify="right")
    for info in result["sizes"]:
        srv = info["server"]
        for run in (srv["single"], srv["concurrent"]):
            table.add_row(
                f"{info['chunks']:,}", str(run["clients"]), str(run["requests"]), str(run["errors"]),
                f"{run['p50_ms']:.1f}", f"{run['p95_ms']:.1f}", f"{run['p99_ms']:.1f}", f"{run['rps']:.1f}",
                f"{run['server_cpu_ms_per_request']:.1f}", f"{srv['rss_mib_after_load']:.0f}", f"{run['load_1m']:.1f}",
            )  # fmt: skip
    console.print(table)
    stages = Table(title="in-process stages, ms p50 / p95 (one search at a time; bm25 = first sight of the query)")
    names = ("embed", "dense", "bm25", "fetch", "search")
    for col in ("chunks", "dense index", *names, "load"):
        stages.add_column(col, justify="right")
    for info in result["sizes"]:
        st = info["stages"]
        cells = [f"{st['ms'][k]['p50']:.1f} / {st['ms'][k]['p95']:.1f}" for k in names]
        stages.add_row(f"{info['chunks']:,}", st["index"], *cells, f"{st['load_1m']:.1f}")
    console.print(stages)
    exact = Table(title="agreement with exact retrieval (brute-force dense, every query term in BM25)")
    keys = list(result["sizes"][0]["stages"]["exactness"])
    for col in ("chunks", *keys):
        exact.add_column(col, justify="right")
    for info in result["sizes"]:
        exact.add_row(f"{info['chunks']:,}", *[f"{info['stages']['exactness'][k]:.3f}" for k in keys])
    console.print(exact)


def print_memory(result: dict[str, Any], console: Console) -> None:
    table = Table(title=f"server memory with {result['size']:,} chunks ({result['embedder']})")
    table.add_column("measure")
    table.add_column("MiB", justify="right")
    rows = [
        ("RSS with a 1-chunk knowledge base, after load (code + model)", result["rss_mib_one_chunk"]),
        ("RSS after start-up (index loaded)", result["rss_mib_after_start"]),
        ("RSS after single + concurrent load", result["rss_mib_after_load"]),
        ("peak RSS (VmHWM)", result["peak_rss_mib"]),
        ("kb.sqlite on disk", result["kb"]["sqlite_mib"]),
        ("FAISS index on disk", result["kb"]["faiss_mib"]),
    ]
    for name, value in rows:
        table.add_row(name, f"{value:.0f}")
    console.print(table)


def plot_scaling(query: dict[str, Any], memory: dict[str, Any] | None, path: Path) -> Path:
    """Latency percentiles (1 and N clients) and server RSS against knowledge-base size, log-x."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [info["chunks"] for info in query["sizes"]]
    fig, (lat, mem) = plt.subplots(1, 2, figsize=(10, 4), dpi=110)
    colours = {"p50_ms": "tab:blue", "p95_ms": "tab:orange", "p99_ms": "tab:red"}
    for key, style in (("single", "-"), ("concurrent", "--")):
        clients = query["sizes"][0]["server"][key]["clients"]
        for pct, colour in colours.items():
            ys = [info["server"][key][pct] for info in query["sizes"]]
            label = f"{pct[:3]}, {clients} client{'s' if clients > 1 else ''}"
            lat.plot(sizes, ys, style, color=colour, marker="o" if key == "single" else "s", label=label)
    for target, text in ((50, "p95 target, 1 client"), (500, "p95 target, 8 clients")):
        lat.axhline(target, color="grey", linestyle=":", linewidth=1)
        lat.annotate(text, (sizes[0], target), textcoords="offset points", xytext=(2, 3), fontsize=7, color="grey")
    lat.set_xscale("log")
    lat.set_yscale("log")
    lat.set_xlabel("chunks in the knowledge base")
    lat.set_ylabel("search latency, ms (HTTP, embedding included)")
    lat.set_title("retrieval latency")
    lat.grid(alpha=0.3, which="both")
    lat.set_ylim(top=4000)
    lat.legend(fontsize=7, ncol=2, loc="upper left")
    mem.plot(sizes, [info["server"]["rss_mib_after_load"] for info in query["sizes"]], "-o", label="server RSS")
    mem.plot(sizes, [info["faiss_mib"] for info in query["sizes"]], "-s", label="FAISS index file")
    mem.plot(sizes, [info["sqlite_mib"] for info in query["sizes"]], "-^", label="kb.sqlite file")
    if memory and "rss_mib_one_chunk" in memory:
        fixed = memory["rss_mib_one_chunk"]
        mem.axhline(fixed, color="grey", linestyle=":", label="server RSS, 1-chunk knowledge base")
    mem.set_xscale("log")
    mem.set_xlabel("chunks in the knowledge base")
    mem.set_ylabel("MiB")
    mem.set_title("memory and disk")
    mem.grid(alpha=0.3, which="both")
    mem.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
