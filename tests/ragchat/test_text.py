from __future__ import annotations

from ragchat.text import detect_lang, keyword_tokens, normalize


def test_normalize_folds_kangxi_radicals_and_fullwidth() -> None:
    assert normalize("⼤模型ＬＬＭ") == "大模型LLM"


def test_keyword_tokens_segment_chinese_and_drop_stopwords() -> None:
    tokens = keyword_tokens("什么是大模型的幻觉？")
    assert "幻觉" in tokens and "模型" in tokens
    assert "什么" not in tokens and "的" not in tokens and "？" not in tokens


def test_keyword_tokens_lowercase_english_and_drop_stopwords() -> None:
    assert keyword_tokens("What is the Transformer architecture?") == ["transformer", "architecture"]


def test_detect_lang() -> None:
    assert detect_lang("那它的缺点呢?") == "zh"
    assert detect_lang("How does LoRA work?") == "en"
    assert detect_lang("LoRA 的原理是什么") == "zh"
