"""Rewriting a follow-up question ("那它的缺点呢?") into a standalone one before retrieval.

With an LLM backend the ``condense_<lang>.j2`` prompt does it. Without one, a rule does: a question that
refers back (它, 这个, "it", ...) or is too short to stand alone gets the previous question's topic put in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ragchat.generation.backends import ChatModel
from ragchat.generation.prompts import HistoryTurn, condense_prompt
from ragchat.generation.types import Turn
from ragchat.text import detect_lang, word_tokens

_ZH_PRONOUN = re.compile(r"(它们|它|他们|这个|那个|这种|那种|这些|那些|该方法|该模型|其)")
_EN_PRONOUN = re.compile(r"\b(it|its|they|them|their|this|that|these|those)\b", re.IGNORECASE)
_ZH_LEAD = re.compile(r"^(那么|那|还有|然后|所以|另外|再问一下)[，,\s]*")
_EN_LEAD = re.compile(r"^(and|so|then|also|what about|how about)\b[,\s]*", re.IGNORECASE)
_ZH_QUESTION = re.compile(
    r"(请问|请介绍一下|请介绍|介绍一下|简述|什么是|是什么|有哪些|是怎样的|如何|怎么|为什么|吗|呢)"
)
_EN_QUESTION = re.compile(
    r"^(what|how|why|which|who|when|where)\s+(is|are|was|were|does|do|did|can)\s+(an?\s+|the\s+)?|"
    r"^(explain|describe|tell me about)\s+(an?\s+|the\s+)?",
    re.IGNORECASE,
)
_TRAILING = re.compile(r"[\s?？。.!！]+$")
_MIN_WORDS = 3


def topic_of(question: str) -> str:
    """What a question is about: the question with its question words and punctuation removed."""
    zh = detect_lang(question) == "zh"
    topic = _ZH_QUESTION.sub("", question) if zh else _EN_QUESTION.sub("", question.strip())
    return _TRAILING.sub("", topic).strip(" ，,：:的")


def needs_context(question: str) -> bool:
    if detect_lang(question) == "zh":
        refers = bool(_ZH_PRONOUN.search(question)) or bool(_ZH_LEAD.match(question))
    else:
        refers = bool(_EN_PRONOUN.search(question)) or bool(_EN_LEAD.match(question))
    return refers or len(word_tokens(question)) < _MIN_WORDS


def rule_condense(question: str, history: Sequence[Turn]) -> str:
    """The fallback without an LLM: substitute the previous topic for the pronoun, or prefix it."""
    question = question.strip()
    if not history or not needs_context(question):
        return question
    topic = topic_of(history[-1].standalone)
    if not topic:
        return question
    if detect_lang(question) == "zh":
        rest = _ZH_LEAD.sub("", question)
        if re.search(r"(它|它们|其)的?", rest) and "的" in topic:  # "那它的缺点呢" after "LoRA 的优点": the entity
            topic = topic.split("的", 1)[0].strip() or topic
        replaced, count = _ZH_PRONOUN.subn(topic, rest, count=1)
        return replaced if count else f"{topic}{'' if rest.startswith('的') else ' '}{rest}"
    rest = _EN_LEAD.sub("", question)
    replaced, count = _EN_PRONOUN.subn(
        lambda m: f"{topic}'s" if m.group(1).lower() in ("its", "their") else topic, rest, count=1
    )
    return replaced if count else f"{rest.rstrip('?')} of {topic}?"


def condense(question: str, history: Sequence[Turn], model: ChatModel) -> str:
    """A standalone version of ``question`` given the session ``history`` (oldest first)."""
    question = question.strip()
    if not history:
        return question
    if not model.free_text:
        return rule_condense(question, history)
    turns = [HistoryTurn(question=t.question, answer=t.answer[:600]) for t in history]
    rewritten = model.complete(condense_prompt(turns, question, detect_lang(question))).strip().strip('"“”')
    first_line = rewritten.splitlines()[0].strip() if rewritten else ""
    return first_line or rule_condense(question, history)
