"""The LangChain-tutorial baseline: RecursiveCharacterTextSplitter 1000/200, same embedder, plain FAISS."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

from ragchat.retrieval.embedders import Embedder


def langchain_embeddings(embedder: Embedder) -> object:
    """Our ``Embedder`` as a LangChain ``Embeddings`` (query and passage sides kept apart)."""
    from langchain_core.embeddings import Embeddings

    class _Adapter(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed(texts, kind="passage").tolist()

        def embed_query(self, text: str) -> list[float]:
            return embedder.embed([text], kind="query")[0].tolist()

    return _Adapter()


def load_documents(files: Sequence[Path]) -> list[object]:
    """What the tutorial does: TextLoader for text files, PyMuPDFLoader for PDFs (one Document per page)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # langchain-community announces its sunset
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
        self._build(load_documents(files), embedder, chunk_size, overlap)

    @classmethod
    def from_texts(
        cls, texts: Sequence[tuple[str, str]], embedder: Embedder, chunk_size: int = 1000, overlap: int = 200
    ) -> LangChainBaseline:
        """A baseline over (id, text) documents; ``metadata["source"]`` is the id."""
        from langchain_core.documents import Document

        self = cls.__new__(cls)
        self._build([Document(page_content=t, metadata={"source": i}) for i, t in texts], embedder, chunk_size, overlap)
        return self

    def _build(self, docs: list[object], embedder: Embedder, chunk_size: int, overlap: int) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from langchain_community.vectorstores import FAISS
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=overlap)
        chunks = splitter.split_documents(docs)  # type: ignore[arg-type]
        self.chunks = len(chunks)
        self.store = FAISS.from_documents(chunks, langchain_embeddings(embedder))  # type: ignore[arg-type]

    def search_ids(self, query: str, k: int) -> list[str]:
        return [str(d.metadata.get("source", "")) for d in self.store.similarity_search(query, k=k)]

    def search(self, query: str, k: int) -> list[tuple[str, str]]:
        """(document file name, chunk text) of the top k chunks."""
        docs = self.store.similarity_search(query, k=k)
        return [(Path(str(d.metadata.get("source", ""))).name, d.page_content) for d in docs]
