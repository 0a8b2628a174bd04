"""Text normalisation, language detection and keyword tokenisation (jieba for Chinese, words for English)."""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Iterator

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORDLIKE = re.compile(r"[\w\u3400-\u4dbf\u4e00-\u9fff]", re.UNICODE)
_SPACES = re.compile(r"[ \t\u3000\xa0]+")

# Function words that carry no retrieval signal. Kept small on purpose: BM25's idf handles the rest.
ZH_STOPWORDS = frozenset(
    "的 了 是 在 和 与 及 或 等 也 就 都 而 及其 并 被 把 对 于 为 以 之 其 这 那 这个 那个 这些 那些 "
    "什么 怎么 怎么样 怎样 如何 哪些 哪个 哪 吗 呢 吧 啊 呀 么 嘛 有 有哪些 是什么 为什么 为何 "
    "一个 一种 一些 可以 能 会 要 我 你 他 她 它 我们 你们 他们 它们 请 请问 一下 介绍 说说 讲讲 "
    "多少 几 个 种 中 上 下 里 后 前 时 时候 还 又 很 更 最 所 所以 因为 如果 但是 但 然后 "
    "吗？ 呢？ ？ ， 。 、 ： ； ！".split()
)
EN_STOPWORDS = frozenset(
    "a about above after again against all am an and any are aren't as at be because been before being "
    "below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down "
    "during each few for from further had hadn't has hasn't have haven't having he he'd he'll he's her here "
    "here's hers herself him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself "
    "let's me more most mustn't my myself no nor not of off on once only or other ought our ours ourselves "
    "out over own same shan't she she'd she'll she's should shouldn't so some such than that that's the their "
    "theirs them themselves then there there's these they they'd they'll they're they've this those through "
    "to too under until up very was wasn't we we'd we'll we're we've were weren't what what's when when's "
    "where where's which while who who's whom why why's with won't would wouldn't you you'd you'll you're "
    "you've your yours yourself yourselves s t will just don should now".split()
)
STOPWORDS = ZH_STOPWORDS | EN_STOPWORDS


def normalize(text: str) -> str:
    """NFKC-fold text (full-width letters, Kangxi radicals such as '⼤' -> '大') and tidy spaces."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text))


def cjk_ratio(text: str) -> float:
    letters = [ch for ch in text if ch.isalnum()]
    if not letters:
        return 0.0
    return sum(1 for ch in letters if _CJK.match(ch)) / len(letters)


def detect_lang(text: str) -> str:
    """'zh' when the text has a meaningful share of Chinese characters, else 'en'."""
    return "zh" if cjk_ratio(text) >= 0.15 else "en"


@functools.cache
def _jieba() -> object:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def _raw_tokens(text: str) -> Iterator[str]:
    jieba = _jieba()
    for token in jieba.cut_for_search(normalize(text).lower()):  # type: ignore[attr-defined]
        token = token.strip()
        if token and _WORDLIKE.search(token) and token not in STOPWORDS:
            yield token


def keyword_tokens(text: str) -> list[str]:
    """Tokens for BM25: jieba search-mode words for Chinese, words for English, stopwords dropped."""
    return list(_raw_tokens(text))


def word_tokens(text: str) -> list[str]:
    """Tokens for overlap measures (no search-mode sub-words), stopwords dropped."""
    jieba = _jieba()
    out = []
    for token in jieba.cut(normalize(text).lower()):  # type: ignore[attr-defined]
        token = token.strip()
        if token and _WORDLIKE.search(token) and token not in STOPWORDS:
            out.append(token)
    return out
