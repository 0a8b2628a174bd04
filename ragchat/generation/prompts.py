"""Prompt templates are files in ``prompts/`` (jinja2, StrictUndefined), rendered through :func:`render`.

A template renders to chat messages: lines ``[system]`` and ``[user]`` open each message. Every template
has a typed input model, so a missing variable fails loudly here rather than as an odd prompt.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import jinja2
from pydantic import BaseModel, ConfigDict

from ragchat.generation.types import Message

PROMPTS_DIR = Path(__file__).resolve().parent.parent.parent / "prompts"
_SECTION = re.compile(r"^\[(system|user|assistant)\][ \t]*$", re.MULTILINE)


class PromptSource(BaseModel):
    model_config = ConfigDict(frozen=True)

    n: int
    label: str
    text: str


class AnswerPromptInput(BaseModel):
    """Input of ``answer_<lang>.j2``."""

    model_config = ConfigDict(frozen=True)

    question: str
    sources: list[PromptSource]


class HistoryTurn(BaseModel):
    model_config = ConfigDict(frozen=True)

    question: str
    answer: str


class CondensePromptInput(BaseModel):
    """Input of ``condense_<lang>.j2``."""

    model_config = ConfigDict(frozen=True)

    history: list[HistoryTurn]
    question: str


@functools.cache
def _environment(directory: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - prompts are plain text, not HTML
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def template_names(directory: Path = PROMPTS_DIR) -> list[str]:
    return sorted(p.name for p in directory.glob("*.j2"))


def render(name: str, data: BaseModel, *, directory: Path = PROMPTS_DIR) -> tuple[Message, ...]:
    """Render template ``name`` with ``data`` into messages (``[system]``/``[user]`` sections)."""
    text = _environment(directory).get_template(name).render(**dict(data))
    parts = _SECTION.split(text)
    if len(parts) < 3:
        raise ValueError(f"prompt template {name} has no [system] or [user] section")
    messages = []
    for role, content in zip(parts[1::2], parts[2::2], strict=True):
        messages.append(Message(role=role, content=content.strip()))  # type: ignore[arg-type]
    return tuple(messages)


def answer_prompt(question: str, lang: str, sources: list[PromptSource]) -> tuple[Message, ...]:
    return render(f"answer_{'zh' if lang == 'zh' else 'en'}.j2", AnswerPromptInput(question=question, sources=sources))


def condense_prompt(history: list[HistoryTurn], question: str, lang: str) -> tuple[Message, ...]:
    return render(
        f"condense_{'zh' if lang == 'zh' else 'en'}.j2", CondensePromptInput(history=history, question=question)
    )
