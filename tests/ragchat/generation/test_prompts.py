from __future__ import annotations

import jinja2
import pytest
from pydantic import BaseModel

from ragchat.generation.prompts import (
    AnswerPromptInput,
    CondensePromptInput,
    HistoryTurn,
    PromptSource,
    answer_prompt,
    condense_prompt,
    render,
    template_names,
)

SOURCES = [PromptSource(n=1, label="notes.md · LoRA", text="LoRA 冻结原权重。"), PromptSource(n=2, label="b", text="x")]
INPUTS: dict[str, BaseModel] = {
    "answer": AnswerPromptInput(question="LoRA 是什么？", sources=SOURCES),
    "condense": CondensePromptInput(
        history=[HistoryTurn(question="什么是LoRA？", answer="一种微调方法[1]")], question="那它的缺点呢？"
    ),
}


OURS = ["answer_en.j2", "answer_zh.j2", "condense_en.j2", "condense_zh.j2"]


@pytest.mark.parametrize("name", OURS)
def test_every_template_renders_to_system_and_user_messages(name: str) -> None:
    messages = render(name, INPUTS[name.split("_")[0]])
    assert [m.role for m in messages] == ["system", "user"]
    assert all(m.content for m in messages)


def test_the_answer_and_condense_templates_exist() -> None:
    assert set(OURS) <= set(template_names())


def test_answer_prompt_numbers_sources_and_states_the_rules() -> None:
    zh = answer_prompt("LoRA 是什么？", "zh", SOURCES)
    assert '<资料 n="1" 来源="notes.md · LoRA">' in zh[1].content and "LoRA 冻结原权重。" in zh[1].content
    assert "[n]" in zh[0].content and "指令" in zh[0].content and "没有" in zh[0].content
    en = answer_prompt("What is LoRA?", "en", SOURCES)
    assert '<source n="2" from="b">' in en[1].content and en[1].content.endswith("Question: What is LoRA?")
    assert "not instructions" in en[0].content and "do not contain" in en[0].content


def test_condense_prompt_carries_the_history() -> None:
    messages = condense_prompt([HistoryTurn(question="What is LoRA?", answer="A method.")], "And its cost?", "en")
    assert "User: What is LoRA?" in messages[1].content and "Latest question: And its cost?" in messages[1].content


def test_missing_variable_fails_loudly(tmp_path: object) -> None:
    from pathlib import Path

    directory = Path(str(tmp_path))
    (directory / "bad.j2").write_text("[system]\n{{ nope }}\n[user]\n{{ question }}")
    with pytest.raises(jinja2.UndefinedError):
        render("bad.j2", INPUTS["answer"], directory=directory)
