"""Heading-aware chunking measured in embedder tokens.

1. Lines become blocks: headings, paragraphs, fenced code, tables (each block remembers its page).
2. Headings (lines that are only a bold label too) open sections; each section's chunks carry the heading
   path that leads to them. A heading with no body of its own produces no chunk: it only leads to its
   sub-sections (headings must lead to content, not compete with it).
3. Tables of contents, runs of short lines that reappear later in the document as headings, are dropped:
   on these notes they are exactly the questions users ask and would outrank the sections that answer them.
4. Each section's blocks are packed into chunks of at most ``max_tokens``; a block that is too long is split
   on sentence boundaries (``。！？；`` and ``.!?``), a sentence that is too long at word boundaries; code
   blocks and tables stay whole when they fit. Neighbouring chunks of a section overlap by up to
   ``overlap_tokens`` worth of whole sentences.
5. The size and overlap depend on the document's script: a document with more words (runs of letters in
   alphabetic scripts) than CJK characters is cut with the alphabetic pair, any other with the CJK pair.
   Measured on Chinese notes, 384/64 tokens retrieved best; on English abstracts, 256/48.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from ingest.parsed import ParsedDocument
from ragchat.domain import ChunkDraft

TokenCounter = Callable[[str], int]

CHUNKER_VERSION = 3
"""Bumped whenever the chunker cuts the same text differently: stored files are then re-chunked on ingest."""

_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
_Q_ITEM = re.compile(r"^\s*[-*+]\s+(Q\d+\s*[:：.]?\s*\*\*.+?\*\*.*)$")
_NUMBERED = re.compile(r"^\s*((?:\d+\.){1,4}\d*)\s*\S")
_BOLD_LABEL = re.compile(r"^\s*(?:[-*+]\s+)?\*\*([^*]{1,40}?)\*\*\s*[:：]?\s*$")
_ZH_ENUM = re.compile(r"^\s*[一二三四五六七八九十]{1,3}[、.．]\s*\S")
_FENCE = re.compile(r"^\s*(```|~~~)")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_LIST_PREFIX = re.compile(r"^\s*(?:[-*+]|\d+[.)、]|\(?\d+\)|[一二三四五六七八九十]+、)\s*")
# A full stop ends a sentence before a space, the end, or Chinese text, and always right after Chinese text.
_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])|(?<=[\u4e00-\u9fff]\.)|(?<=\.)(?=\s|$|[\u4e00-\u9fff])")
_WS = re.compile(r"\s+")
_CJK_CHARS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"  # kana, hanzi, hangul
_CJK = re.compile(f"[{_CJK_CHARS}]")
_WORD = re.compile(f"[^\\W\\d_{_CJK_CHARS}]+")  # a run of letters that are not CJK

# Levels: Markdown 1-6 (or their numbering depth); 一、 style 7; Q-items and question lines 8; a line that
# is nothing but a bold label ("- **QLoRA篇**") 9.
_LEVEL_ZH_ENUM = 7
_LEVEL_QUESTION = 8
_LEVEL_LABEL = 9
_MAX_HEADING_CHARS = 80
_MAX_TOC_ENTRY_CHARS = 40


@dataclass(frozen=True)
class Block:
    kind: str  # "heading" | "text" | "code" | "table"
    text: str
    page: int | None
    level: int = 0


def _squash(text: str) -> str:
    return _WS.sub("", _LIST_PREFIX.sub("", text)).strip("*#?？:：").lower()


def _heading_level(line: str, next_is_blank: bool, prev_is_blank: bool) -> tuple[int, str] | None:
    m = _MD_HEADING.match(line)
    if m:
        title = m.group(2).strip()
        numbering = _NUMBERED.match(title)
        level = len(m.group(1))
        if numbering:  # "### 2.5.1 ..." under "## 2.5 ...": the numbering says the depth better
            level = max(level, numbering.group(1).rstrip(".").count(".") + 1)
        return min(level, 6), title
    stripped = line.strip()
    if len(stripped) > _MAX_HEADING_CHARS:
        return None
    m = _Q_ITEM.match(line)
    if m:
        return _LEVEL_QUESTION, m.group(1).replace("**", "").strip()
    m = _BOLD_LABEL.match(line)
    if m:
        return _LEVEL_LABEL, m.group(1).strip()
    if not (prev_is_blank and next_is_blank):
        return None
    if _ZH_ENUM.match(stripped):
        return _LEVEL_ZH_ENUM, stripped
    if stripped.endswith(("?", "？")) and not stripped.startswith(("-", "*", "|", ">")) and len(stripped) <= 60:
        return _LEVEL_QUESTION, stripped
    return None


def to_blocks(doc: ParsedDocument) -> list[Block]:
    lines: list[tuple[str, int | None]] = []
    for page_text in doc.pages:
        number = page_text.number
        lines.extend((line.rstrip(), number) for line in page_text.text.replace("\r\n", "\n").split("\n"))
        lines.append(("", number))
    blocks: list[Block] = []
    para: list[str] = []
    para_page: int | None = None

    def flush() -> None:
        nonlocal para, para_page
        text = "\n".join(para).strip()
        if text:
            blocks.append(Block("text", text, para_page))
        para, para_page = [], None

    i = 0
    while i < len(lines):
        line, page = lines[i]
        if _FENCE.match(line):
            flush()
            fence = _FENCE.match(line).group(1)  # type: ignore[union-attr]
            code = [line]
            i += 1
            while i < len(lines) and not lines[i][0].strip().startswith(fence):
                code.append(lines[i][0])
                i += 1
            if i < len(lines):
                code.append(lines[i][0])
            blocks.append(Block("code", "\n".join(code), page))
            i += 1
            continue
        if _TABLE_ROW.match(line):
            flush()
            rows = []
            while i < len(lines) and _TABLE_ROW.match(lines[i][0]):
                rows.append(lines[i][0])
                i += 1
            blocks.append(Block("table", "\n".join(rows), page))
            continue
        if not line.strip():
            flush()
            i += 1
            continue
        prev_blank = i == 0 or not lines[i - 1][0].strip()
        next_blank = i + 1 >= len(lines) or not lines[i + 1][0].strip()
        heading = _heading_level(line, next_blank, prev_blank)
        if heading is not None:
            flush()
            blocks.append(Block("heading", heading[1], page, heading[0]))
        else:
            if not para:
                para_page = page
            para.append(line)
        i += 1
    flush()
    return _drop_tables_of_contents(blocks)


def _is_short(block: Block) -> bool:
    return block.kind == "text" and all(len(ln.strip()) <= _MAX_HEADING_CHARS for ln in block.text.split("\n"))


def _listed(line: str, seen: dict[str, int]) -> bool:
    """A line that looks like a table-of-contents entry: a question, or a numbered item repeated elsewhere."""
    line = line.strip()
    prefix = _LIST_PREFIX.match(line)
    repeated = seen.get(_squash(line), 0) >= 2 and len(line) <= _MAX_TOC_ENTRY_CHARS
    return line.endswith(("?", "？")) or (repeated and prefix is not None and prefix.end() > 0)


def _drop_tables_of_contents(blocks: list[Block]) -> list[Block]:
    """Drop runs of short lines that are mostly questions or reappear elsewhere: a table of contents.

    A list of questions with no answers between them is what these notes use as a table of contents; its
    lines are exactly what users ask, so indexed they would outrank (or stand in for) real answers.
    """
    seen: dict[str, int] = {}
    for block in blocks:
        for line in block.text.split("\n") if block.kind in ("text", "heading") else ():
            key = _squash(line)
            if key:
                seen[key] = seen.get(key, 0) + 1
    out: list[Block] = []
    i = 0
    while i < len(blocks):
        if not _is_short(blocks[i]):
            out.append(blocks[i])
            i += 1
            continue
        j = i
        while j < len(blocks) and _is_short(blocks[j]):
            j += 1
        run = blocks[i:j]
        marks = [[_listed(ln, seen) for ln in b.text.split("\n") if _squash(ln)] for b in run]
        flat = [m for ms in marks for m in ms]
        if len(flat) >= 3 and sum(flat) / len(flat) >= 0.6:
            out.extend(b for b, ms in zip(run, marks, strict=True) if not ms or sum(ms) / len(ms) < 0.5)
        else:
            out.extend(run)
        i = j
    return out


def split_sentences(text: str) -> list[str]:
    """Split on Chinese and English sentence ends, keeping the punctuation with its sentence."""
    parts = [p for p in _SENTENCE_END.split(text) if p and p.strip()]
    return parts or [text]


def _split_words(text: str, max_tokens: int, count: TokenCounter) -> list[str]:
    """Last resort for an over-long sentence: cut at spaces (English) or between characters (CJK)."""
    pieces = re.findall(r"\S+\s*|\s+", text) if " " in text else list(text)
    out, current = [], ""
    for piece in pieces:
        if current and count(current + piece) > max_tokens:
            out.append(current)
            current = ""
        current += piece
    if current.strip():
        out.append(current)
    return out


@dataclass(frozen=True)
class _Unit:
    text: str
    page: int | None
    tokens: int
    joiner: str  # what goes before it when it follows another unit


def mostly_cjk(text: str) -> bool:
    """True when ``text`` has at least as many CJK characters as words in alphabetic scripts.

    A CJK character and a word are each about one unit of meaning, so Chinese notes full of English terms
    count as CJK and an English paper quoting a few Chinese names does not.
    """
    return len(_CJK.findall(text)) >= len(_WORD.findall(text))


@dataclass(frozen=True)
class Budget:
    max_tokens: int
    overlap_tokens: int

    def __post_init__(self) -> None:
        if self.max_tokens < 16:
            raise ValueError(f"max_tokens must be >= 16, got {self.max_tokens}")
        if not 0 <= self.overlap_tokens < self.max_tokens:
            raise ValueError(f"overlap_tokens must be in [0, max_tokens), got {self.overlap_tokens}")


class Chunker:
    """Cuts a parsed document into chunks; ``alphabetic_*`` (default: the same) apply to non-CJK documents."""

    def __init__(
        self,
        count_tokens: TokenCounter,
        max_tokens: int = 256,
        overlap_tokens: int = 48,
        *,
        alphabetic_max_tokens: int | None = None,
        alphabetic_overlap_tokens: int | None = None,
    ) -> None:
        self.cjk = Budget(max_tokens, overlap_tokens)
        self.alphabetic = Budget(
            max_tokens if alphabetic_max_tokens is None else alphabetic_max_tokens,
            overlap_tokens if alphabetic_overlap_tokens is None else alphabetic_overlap_tokens,
        )
        base = count_tokens("")
        self._count = lambda text: max(1, count_tokens(text) - base)

    @property
    def signature(self) -> str:
        """What decides how a file is cut, recorded with each document."""
        cjk, alpha = self.cjk, self.alphabetic
        sizes = f"{cjk.max_tokens}/{cjk.overlap_tokens}"
        if alpha != cjk:
            sizes = f"CJK {sizes}, alphabetic {alpha.max_tokens}/{alpha.overlap_tokens}"
        return f"heading-aware v{CHUNKER_VERSION} {sizes} tokens"

    def budget_for(self, doc: ParsedDocument) -> Budget:
        return self.cjk if mostly_cjk("\n".join(page.text for page in doc.pages)) else self.alphabetic

    def chunk(self, doc: ParsedDocument) -> list[ChunkDraft]:
        budget = self.budget_for(doc)
        drafts: list[ChunkDraft] = []
        for path, blocks in self._sections(to_blocks(doc)):
            drafts.extend(self._pack(path, blocks, budget))
        return drafts

    def _sections(self, blocks: Sequence[Block]) -> Iterator[tuple[tuple[str, ...], list[Block]]]:
        stack: list[tuple[int, str]] = []
        body: list[Block] = []
        for block in blocks:
            if block.kind == "heading":
                if body:
                    yield tuple(t for _, t in stack), body
                    body = []
                while stack and stack[-1][0] >= block.level:
                    stack.pop()
                stack.append((block.level, block.text))
            else:
                body.append(block)
        if body:
            yield tuple(t for _, t in stack), body

    def _units(self, blocks: Sequence[Block], limit: int) -> Iterator[_Unit]:
        for block in blocks:
            tokens = self._count(block.text)
            if tokens <= limit:
                yield _Unit(block.text, block.page, tokens, "\n\n")
                continue
            if block.kind in ("code", "table"):  # too big to keep whole: split by lines
                pieces = block.text.split("\n")
                joiner = "\n"
            else:
                pieces = split_sentences(block.text)
                joiner = ""
            first = True
            for piece in pieces:
                sub = [piece] if self._count(piece) <= limit else _split_words(piece, limit, self._count)
                for s in sub:
                    if s.strip():
                        yield _Unit(s, block.page, self._count(s), "\n\n" if first else joiner)
                        first = False

    def _pack(self, path: tuple[str, ...], blocks: Sequence[Block], budget: Budget) -> Iterator[ChunkDraft]:
        current: list[_Unit] = []
        size = 0
        fresh = 0  # units in ``current`` that are not overlap carried from the previous chunk
        for unit in self._units(blocks, budget.max_tokens):
            if current and size + unit.tokens > budget.max_tokens:
                yield self._draft(path, current)
                current = self._overlap(current, unit.tokens, budget)
                size = sum(u.tokens for u in current)
                fresh = 0
            current.append(unit)
            size += unit.tokens
            fresh += 1
        if current and fresh:
            yield self._draft(path, current)

    @staticmethod
    def _overlap(previous: list[_Unit], incoming: int, budget: Budget) -> list[_Unit]:
        room = min(budget.overlap_tokens, budget.max_tokens - incoming)
        carried: list[_Unit] = []
        for unit in reversed(previous):
            if unit.tokens > room:
                break
            carried.insert(0, unit)
            room -= unit.tokens
        return carried

    @staticmethod
    def _draft(path: tuple[str, ...], units: Sequence[_Unit]) -> ChunkDraft:
        text = units[0].text.strip("\n")
        for unit in units[1:]:
            text += unit.joiner + unit.text if unit.joiner else unit.text
        pages = [u.page for u in units if u.page is not None]
        return ChunkDraft(
            text=text.strip(),
            heading_path=path,
            page=min(pages) if pages else None,
            page_end=max(pages) if pages else None,
            tokens=sum(u.tokens for u in units),
        )
