"""The LangChain-tutorial baseline: RecursiveCharacterTextSplitter 1000/200, same embedder, plain FAISS."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ragchat.retrieval.embedders import Embedder


class LangChainEmbeddings:
    """Adapts our ``Embedder`` to LangChain's ``Embeddings`` interface (query/passage sides kept)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed(texts, kind="passage").tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed([text], kind="query")[0].tolist()


def load_documents(files: Sequence[Path]) -> list[object]:
    """What the tutorial does: TextLoader for text files, PyMuPDFLoader for PDFs (one Document per page)."""
    from langchain_community.document_loaders import PyMuPDFLoader, TextLoader

    docs: list[object] = []
    for path in files:
        try:
            if path.suffix.lower() == ".pdf":
                docs.extend(PyMuPDFLoader(str(path)).load())
            else:
                docs.extend(TextLoader(str(path), encoding="utf-8", autodetect_encoding=True).load())
        except Exception:  # noqa: BLE001 - the tutorial pipeline has no per-file handling; we skip broken files
            continue
    return docs


class LangChainBaseline:
    def __init__(self, files: Sequence[Path], embedder: Embedder, chunk_size: int = 1000, overlap: int = 200) -> None:
        from langchain_community.vectorstores import FAISS
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=overlap)
        chunks = splitter.split_documents(load_documents(files))  # type: ignore[arg-type]
        self.chunks = len(chunks)
        self.store = FAISS.from_documents(chunks, LangChainEmbeddings(embedder))  # type: ignore[arg-type]

    def search(self, query: str, k: int) -> list[tuple[str, str]]:
        """(document file name, chunk text) of the top k chunks."""
        docs = self.store.similarity_search(query, k=k)
        return [(Path(str(d.metadata.get("source", ""))).name, d.page_content) for d in docs]
