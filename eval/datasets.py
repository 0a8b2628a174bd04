"""Evidence-quote datasets: one JSON item per line, gold defined by quotes so any chunking can be scored."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ragchat.errors import BadInput

_WS = re.compile(r"\s+")


def squash(text: str) -> str:
    """Remove all whitespace: quotes are compared with chunk text this way."""
    return _WS.sub("", text)


@dataclass(frozen=True)
class Evidence:
    doc: str
    quote: str


@dataclass(frozen=True)
class QAItem:
    id: str
    lang: str
    type: str
    query: str
    answer: str
    evidence: tuple[Evidence, ...]

    @property
    def answerable(self) -> bool:
        return bool(self.evidence)

    def relevant(self, doc_name: str, text: str) -> bool:
        """A chunk is relevant when it comes from an evidence document and contains one of its quotes."""
        flat = squash(text)
        return any(e.doc == doc_name and squash(e.quote) in flat for e in self.evidence)

    def matched_quotes(self, doc_name: str, text: str) -> set[int]:
        flat = squash(text)
        return {i for i, e in enumerate(self.evidence) if e.doc == doc_name and squash(e.quote) in flat}


def load_qa(path: Path) -> list[QAItem]:
    if not path.exists():
        raise BadInput(f"dataset not found: {path}")
    items = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            evidence = tuple(Evidence(str(e["doc"]), str(e["quote"])) for e in raw.get("evidence", []))
            items.append(
                QAItem(
                    id=str(raw["id"]),
                    lang=str(raw.get("lang", "")),
                    type=str(raw.get("type", "")),
                    query=str(raw["query"]),
                    answer=str(raw.get("answer", "")),
                    evidence=evidence,
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise BadInput(f"{path}:{lineno}: not a valid dataset item ({exc})") from exc
    if not items:
        raise BadInput(f"dataset {path} has no items")
    return items
