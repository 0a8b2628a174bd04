"""pymupdf4llm's layout analysis for :mod:`ingest.parse_pdf`: Markdown per page, failures isolated per page.

PyMuPDF's layout model (ONNX) is rebuilt once so that ONNX Runtime's idle worker threads sleep instead of
spinning (see :func:`idle_layout_threads`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pymupdf

logger = logging.getLogger(__name__)


def layout_markdown(doc: pymupdf.Document, indices: Sequence[int]) -> tuple[dict[int, str], dict[int, str]]:
    """Markdown by 0-based page index, and the failure reason for each page pymupdf4llm could not do."""
    try:
        import pymupdf4llm
    except Exception as exc:  # ImportError, or its version check against PyMuPDF
        logger.warning("pymupdf4llm is unavailable, using plain text extraction: %s", exc)
        return {}, dict.fromkeys(indices, f"pymupdf4llm unavailable: {message(exc)}")
    idle_layout_threads()
    try:
        return _to_markdown(pymupdf4llm, doc, indices), {}
    except Exception as exc:  # any bug deep in the layout code: isolate the page(s) it trips on
        logger.warning("layout analysis failed on %s (%s); retrying page by page", doc.name, exc)
    markdown: dict[int, str] = {}
    failures: dict[int, str] = {}
    for index in indices:
        try:
            markdown.update(_to_markdown(pymupdf4llm, doc, [index]))
        except Exception as exc:
            failures[index] = message(exc)
    return markdown, failures


_layout_rebuilt = False
_layout_rebuild_lock = threading.Lock()


def idle_layout_threads() -> None:
    """Rebuild PyMuPDF's layout model (once) with ONNX Runtime worker threads that sleep when idle.

    ``import pymupdf`` builds the model with ONNX Runtime's defaults, whose idle worker threads spin. On the
    four longest test PDFs that burned 50 CPU-s for 26.7 s of layout analysis; sleeping threads do the same
    work in 35 CPU-s and 23.3 s, and leave the cores to the embedder and to chat queries in the meantime.
    Rebuilding takes about a second; if PyMuPDF's internals ever differ, the default model is kept.
    """
    global _layout_rebuilt
    with _layout_rebuild_lock:
        if _layout_rebuilt:
            return
        _layout_rebuilt = True
        try:
            import onnxruntime
            import pymupdf
            from pymupdf.layout import DocumentLayoutAnalyzer

            session_init = onnxruntime.InferenceSession.__init__

            def sleeping_session(self: Any, path: Any, sess_options: Any = None, *args: Any, **kwargs: Any) -> None:
                options = sess_options or onnxruntime.SessionOptions()
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                session_init(self, path, options, *args, **kwargs)

            onnxruntime.InferenceSession.__init__ = sleeping_session  # type: ignore[method-assign]
            try:
                model = DocumentLayoutAnalyzer.get_model()
            finally:
                onnxruntime.InferenceSession.__init__ = session_init  # type: ignore[method-assign]
            pymupdf._get_layout = model.predict
        except Exception as exc:
            logger.info("kept PyMuPDF's default layout model (%s)", message(exc))


def _to_markdown(pymupdf4llm: Any, doc: pymupdf.Document, indices: Sequence[int]) -> dict[int, str]:
    chunks = pymupdf4llm.to_markdown(
        doc,
        pages=list(indices),
        page_chunks=True,
        use_ocr=False,  # never OCR: no tesseract/RapidOCR lookup, no model download
        force_ocr=False,
        header=False,  # running heads and page numbers would repeat in every chunk
        footer=False,
        write_images=False,
        embed_images=False,
        show_progress=False,
    )
    return {chunk["metadata"]["page_number"] - 1: chunk["text"] for chunk in chunks}


def message(exc: BaseException) -> str:
    """``Type: text`` on one line, for warnings and reasons."""
    text = " ".join(str(exc).split()) or "no details"
    return f"{type(exc).__name__}: {text}"
