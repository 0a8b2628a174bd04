"""Reports: every eval writes ``report.json``, ``report.md`` and PNG plots; ``--compare`` diffs two runs."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from ragchat.errors import BadInput


def write_json(report: dict[str, object], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.json"
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def write_markdown(markdown: str, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.md"
    path.write_text(markdown + "\n", encoding="utf-8")
    return path


def plot_lines(path: Path, title: str, xs: Sequence[str], series: Mapping[str, Sequence[float]], ylabel: str) -> Path:
    """One line per series over categorical xs (e.g. Hit@k per pipeline), saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    for name, ys in series.items():
        ax.plot(list(xs), list(ys), marker="o", label=name)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_bars(path: Path, title: str, values: dict[str, float], ylabel: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    names = list(values)
    ax.bar(range(len(names)), [values[n] for n in names], color="#4C72B0")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.02)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _flatten(report: object, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a report, keyed by path; pipelines are keyed by name rather than position."""
    out: dict[str, float] = {}
    if isinstance(report, dict):
        for key, value in report.items():
            if key in ("misses", "items"):
                continue
            out.update(_flatten(value, f"{prefix}{key}."))
    elif isinstance(report, list):
        for i, value in enumerate(report):
            name = value.get("name") if isinstance(value, dict) else None
            out.update(_flatten(value, f"{prefix}{name or i}."))
    elif isinstance(report, int | float) and not isinstance(report, bool):
        out[prefix.rstrip(".")] = float(report)
    return out


def compare(old_path: Path, new: dict[str, object]) -> str:
    """Markdown table of every numeric figure that changed between an earlier report and this one."""
    try:
        old = json.loads(old_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BadInput(f"cannot read the report to compare with ({old_path}): {exc}") from exc
    before, after = _flatten(old), _flatten(new)
    keys = [k for k in after if k in before and abs(after[k] - before[k]) > 1e-9 and ".by_" not in k]
    if not keys:
        return f"No figure changed since {old_path}."
    lines = [f"Changes since {old_path}:", "", "| figure | before | after | change |", "|---|---|---|---|"]
    for key in keys:
        lines.append(f"| {key} | {before[key]:.4f} | {after[key]:.4f} | {after[key] - before[key]:+.4f} |")
    return "\n".join(lines)
