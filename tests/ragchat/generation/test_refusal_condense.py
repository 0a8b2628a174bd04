from __future__ import annotations

from ragchat.domain import Chunk, Hit
from ragchat.generation.backends import ScriptedChatModel
from ragchat.generation.condense import condense, rule_condense
from ragchat.generation.refusal import RefusalPolicy, coverage, refusal_text, signals
from ragchat.generation.types import Turn

POLICY = RefusalPolicy(min_dense=0.9, min_dense_cross=0.8, min_coverage=0.5, min_dense_with_coverage=0.8)


def hit(text: str, dense: float, heading: str = "") -> Hit:
    chunk = Chunk(id=1, doc_id="d", doc_name="n.md", position=0, text=text, heading=heading, page=None, page_end=None)
    return Hit(chunk=chunk, score=0.03, rank=1, dense_score=dense, dense_rank=1, bm25_score=2.0, bm25_rank=1)


def test_coverage_ignores_the_heading() -> None:
    question = "大模型幻觉的原因"
    body_only = hit("这一节是空的。", 0.85, heading="大模型幻觉的原因是什么")
    assert signals(question, [body_only], 3).coverage == 0.0
    assert POLICY.decide(question, [body_only]).refused
    answered = hit("大模型产生幻觉的原因包括训练数据噪声。", 0.85)
    assert coverage(["幻觉", "原因"], answered.chunk.text) == 1.0
    assert not POLICY.decide(question, [answered]).refused


def test_high_dense_score_answers_without_word_overlap() -> None:
    assert not POLICY.decide("LoRA 怎么工作？", [hit("冻结原始权重，训练低秩矩阵。", 0.93)]).refused


def test_cross_language_hits_have_their_own_threshold() -> None:
    question = "How does LoRA work?"
    assert not POLICY.decide(question, [hit("它冻结原始权重，只训练两个低秩矩阵。", 0.82)]).refused
    assert POLICY.decide(question, [hit("It freezes the weights and trains two small matrices.", 0.82)]).refused
    s = signals(question, [hit("它冻结原始权重。", 0.82)], 3)
    assert s.dense == -1.0 and s.dense_cross == 0.82


def test_nothing_retrieved_is_refused_with_reason() -> None:
    decision = POLICY.decide("anything", [])
    assert decision.refused and decision.reason


def test_refusal_text_follows_the_language() -> None:
    assert refusal_text("zh") == "知识库中没有找到与该问题相关的内容。"
    assert refusal_text("en").startswith("The knowledge base does not contain")


def test_rule_condense_resolves_pronouns() -> None:
    history = [Turn("什么是LoRA？", "什么是LoRA？", "LoRA 是一种微调方法。")]
    assert rule_condense("那它的缺点呢?", history) == "LoRA的缺点呢?"
    assert rule_condense("QLoRA 和全参数微调相比有什么区别？", history) == "QLoRA 和全参数微调相比有什么区别？"
    history_en = [Turn("What is LoRA?", "What is LoRA?", "A method.")]
    assert rule_condense("What are its drawbacks?", history_en) == "What are LoRA's drawbacks?"
    assert rule_condense("anything", []) == "anything"


def test_condense_uses_the_llm_when_there_is_one() -> None:
    model = ScriptedChatModel(["LoRA 的缺点是什么？\n(rewritten)"])
    history = [Turn("什么是LoRA？", "什么是LoRA？", "一种方法")]
    assert condense("那它的缺点呢?", history, model) == "LoRA 的缺点是什么？"
    kind, messages = model.calls[0]
    assert kind == "complete" and "什么是LoRA？" in messages[-1].content
    assert condense("first question", [], model) == "first question"
