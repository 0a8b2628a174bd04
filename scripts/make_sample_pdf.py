"""Write samples/vector-search-primer.pdf: a 2-page English/Chinese PDF with headings and a table.

Run from anywhere: ``python scripts/make_sample_pdf.py``. The output is committed; re-running the script
rewrites it byte for byte (fixed dates, no new document id). Chinese text is set in MuPDF's built-in CJK
fallback font, subset so the file stays small.
"""

from __future__ import annotations

import logging
from pathlib import Path

logger = logging.getLogger(__name__)

OUTPUT = Path(__file__).resolve().parent.parent / "samples" / "vector-search-primer.pdf"

STYLE = """
<style>
body { font-size: 11pt; line-height: 1.35; }
h1 { font-size: 22pt; margin-bottom: 8pt; }
h2 { font-size: 15pt; margin-top: 14pt; margin-bottom: 6pt; }
p { margin-bottom: 6pt; }
table { border-collapse: collapse; margin-top: 6pt; }
td, th { border: 1px solid black; padding: 3pt 6pt; }
</style>
"""

PAGE_1 = (
    "<h1>Vector Search Primer 向量检索入门</h1>"
    "<p>Vector search finds the chunks of text whose embeddings lie closest to the embedding of a question. "
    "An embedding model turns every chunk into a list of numbers, so that texts with similar meaning end up "
    "near each other even when they share no words.</p>"
    "<p>向量检索先用嵌入模型把每个文本块变成一组数字（向量），"
    "提问时再把问题也变成向量，找出距离最近的文本块。"
    "意思相近的句子即使用词完全不同，它们的向量也会靠得很近。</p>"
    "<h2>1. Similarity measures 相似度</h2>"
    "<p>Three measures are common. ragchat normalises every vector to length 1, so the inner product it "
    "computes equals the cosine similarity. 向量归一化之后，内积就等于余弦相似度。</p>"
    "<table>"
    "<tr><th>Measure 名称</th><th>Formula 公式</th><th>Range 取值范围</th></tr>"
    "<tr><td>Cosine similarity 余弦相似度</td><td>dot(a, b) / (norm(a) * norm(b))</td><td>-1 to 1</td></tr>"
    "<tr><td>Inner product 内积</td><td>dot(a, b)</td><td>unbounded 无界</td></tr>"
    "<tr><td>Euclidean distance 欧氏距离</td><td>norm(a - b)</td><td>0 or more 非负</td></tr>"
    "</table>"
)

PAGE_2 = (
    "<h2>2. Exact and approximate indexes 精确索引与近似索引</h2>"
    "<p>A flat index compares the question with every stored vector. It is exact, and for a few hundred "
    "thousand vectors it is fast enough on a CPU. Approximate indexes such as HNSW (a graph of neighbours) "
    "or IVF (vectors grouped into clusters) visit only part of the collection: they are much faster on "
    "millions of vectors but may miss a few true neighbours.</p>"
    "<p>ragchat 使用 FAISS 的 IndexFlatIP 精确索引：向量先做 L2 归一化，再按内积检索，"
    "结果与余弦相似度相同。个人知识库通常只有几万个文本块，精确检索已经足够快，也不会漏掉结果。</p>"
    "<h2>3. Why vectors are not enough 为什么还需要 BM25</h2>"
    "<p>Embeddings blur exact strings: an error code such as ERR_4031 or a part number looks much like any "
    "other code to the model. Keyword search with BM25 matches such strings exactly, so ragchat runs both "
    "searches and fuses the two rankings with reciprocal rank fusion (RRF, k = 60).</p>"
    "<p>向量检索擅长理解意思，BM25 擅长精确匹配关键词；"
    "两者用倒数排名融合（RRF）合并，取长补短。</p>"
)

FIXED_DATE = "D:20250101000000Z"


def build(output: Path = OUTPUT) -> Path:
    """Write the sample PDF to ``output`` and return the path."""
    import pymupdf

    doc = pymupdf.open()
    for html in (PAGE_1, PAGE_2):
        page = doc.new_page(width=595, height=842)  # A4
        spare_height, scale = page.insert_htmlbox(pymupdf.Rect(56, 56, 539, 786), STYLE + html)
        if spare_height < 0 or scale < 1:
            raise RuntimeError(f"sample text does not fit on page {page.number + 1} (scale {scale:.2f})")
    doc.set_metadata(
        {
            "title": "Vector Search Primer 向量检索入门",
            "author": "ragchat",
            "subject": "Sample document for the ragchat demo",
            "creator": "samples/make_sample_pdf.py",
            "producer": "PyMuPDF",
            "creationDate": FIXED_DATE,
            "modDate": FIXED_DATE,
        }
    )
    doc.subset_fonts()
    doc.save(output, garbage=4, deflate=True, no_new_id=True)
    doc.close()
    return output


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    path = build()
    logger.info("wrote %s (%d bytes)", path, path.stat().st_size)
