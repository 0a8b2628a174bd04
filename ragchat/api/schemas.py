"""API models, named by role and kept apart from the domain types (``*Public`` out, ``*Request`` in)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ragchat.domain import Chunk, Document, Hit
from ragchat.generation.types import ChatResult, Citation
from ragchat.jobs import Job
from ragchat.retrieval.retriever import Mode


class ErrorPublic(BaseModel):
    detail: str = Field(description="What went wrong, for a human.")


# -- health -----------------------------------------------------------------------------------------------
class HealthPublic(BaseModel):
    status: Literal["ok"] = "ok"
    embedder: str
    llm_backend: str
    knowledge_bases: int


# -- knowledge bases --------------------------------------------------------------------------------------
class KnowledgeBaseCreate(BaseModel):
    name: str = Field(description="1-64 letters, digits, '_', '-' or '.', starting with a letter or digit.",
                      examples=["notes"])


class KnowledgeBasePublic(BaseModel):
    name: str
    documents: int
    chunks: int
    embedder: str | None


class KnowledgeBasesPublic(BaseModel):
    data: list[KnowledgeBasePublic]
    count: int


# -- documents --------------------------------------------------------------------------------------------
class DocumentPublic(BaseModel):
    id: str
    kb: str
    name: str
    size_bytes: int
    pages: int
    chunks: int
    added_at: float
    warnings: list[str]

    @classmethod
    def of(cls, d: Document) -> DocumentPublic:
        return cls(id=d.id, kb=d.kb, name=d.name, size_bytes=d.size_bytes, pages=d.pages, chunks=d.chunks,
                   added_at=d.added_at, warnings=list(d.warnings))


class DocumentsPublic(BaseModel):
    data: list[DocumentPublic]
    count: int


class ChunkPublic(BaseModel):
    id: int
    position: int
    heading: str = Field(description="Heading path leading to the chunk, ' > '-separated.")
    page: int | None
    page_end: int | None
    text: str

    @classmethod
    def of(cls, c: Chunk) -> ChunkPublic:
        return cls(id=c.id, position=c.position, heading=c.heading, page=c.page, page_end=c.page_end, text=c.text)


class DocumentDetail(BaseModel):
    """A document with its chunks, in order (each with its pages and heading path)."""

    document: DocumentPublic
    chunks: list[ChunkPublic]


class FileResultPublic(BaseModel):
    name: str
    status: str = Field(description="pending, running, added, replaced, unchanged or skipped")
    chunks: int
    reason: str
    warnings: list[str]
    doc_id: str | None


class JobPublic(BaseModel):
    id: str
    kb: str
    state: Literal["queued", "running", "done", "failed"]
    files_total: int
    files_done: int
    chunks_embedded: int = Field(description="Chunks embedded so far, over all files (progress of the file in hand).")
    chunks_done: int = Field(description="Chunks stored by the files finished so far.")
    error: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    files: list[FileResultPublic]

    @classmethod
    def of(cls, job: Job) -> JobPublic:
        return cls(
            id=job.id, kb=job.kb, state=job.state, files_total=len(job.files), files_done=job.files_done,
            chunks_embedded=job.chunks_embedded, chunks_done=job.chunks_done, error=job.error,
            created_at=job.created_at, started_at=job.started_at, finished_at=job.finished_at,
            files=[FileResultPublic(name=f.name, status=f.status, chunks=f.chunks, reason=f.reason,
                                    warnings=list(f.warnings), doc_id=f.doc_id) for f in job.files],
        )


class JobsPublic(BaseModel):
    data: list[JobPublic]
    count: int


class UploadPublic(BaseModel):
    """The job ingesting an upload: finished already for small uploads, queued or running for large ones."""

    job: JobPublic
    background: bool = Field(description="True when the upload is ingested in the background: poll GET /jobs/{id}.")


# -- search -----------------------------------------------------------------------------------------------
class _Question(BaseModel):
    @staticmethod
    def _not_blank(value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value


class SearchRequest(_Question):
    query: str = Field(min_length=1, max_length=4000, examples=["混合检索是怎么融合 BM25 和向量检索结果的？"])
    k: int | None = Field(None, gt=0, le=100, description="Number of hits (default: RAGCHAT_TOP_K).")
    mode: Mode = "hybrid"

    _check = field_validator("query")(_Question._not_blank)


class HitPublic(BaseModel):
    rank: int
    score: float = Field(description="Fused (RRF) score, or the single retriever's score in dense/bm25 mode.")
    dense_score: float | None
    dense_rank: int | None
    bm25_score: float | None
    bm25_rank: int | None
    chunk_id: int
    doc_id: str
    doc_name: str
    page: int | None
    page_end: int | None
    heading: str
    text: str

    @classmethod
    def of(cls, h: Hit) -> HitPublic:
        return cls.model_validate(h.to_dict())


class SearchPublic(BaseModel):
    query: str
    kb: str
    mode: Mode
    hits: list[HitPublic]


# -- chat -------------------------------------------------------------------------------------------------
class ChatRequest(_Question):
    question: str = Field(min_length=1, max_length=4000, examples=["LoRA 的原理是什么？"])
    session_id: str | None = Field(
        None, max_length=128,
        description="Continue a conversation: follow-ups are rewritten into standalone questions. "
        "Omit to start one; the reply carries the id to send next time.",
    )
    k: int | None = Field(None, gt=0, le=50, description="Chunks to retrieve (default: RAGCHAT_TOP_K).")

    _check = field_validator("question")(_Question._not_blank)


class CitationPublic(BaseModel):
    n: int = Field(description="The number the answer cites as [n].")
    doc_id: str
    doc_name: str
    page: int | None
    page_end: int | None
    heading: str
    snippet: str = Field(description="The passage of the chunk the answer rests on.")
    chunk_id: int
    score: float
    dense_score: float | None
    bm25_score: float | None
    rank: int

    @classmethod
    def of(cls, c: Citation) -> CitationPublic:
        return cls.model_validate(c.__dict__)


class RefusalPublic(BaseModel):
    refused: bool
    reason: str
    signals: dict[str, float]


class ChatAnswer(BaseModel):
    answer: str
    citations: list[CitationPublic]
    refused: bool = Field(description="True when the knowledge base had nothing relevant enough: no LLM was called.")
    refusal: RefusalPublic
    question: str
    standalone_question: str = Field(description="The question as retrieved, after rewriting a follow-up.")
    session_id: str | None
    hits: list[HitPublic] = Field(description="The retrieval trace.")
    timings_ms: dict[str, float]

    @classmethod
    def of(cls, r: ChatResult) -> ChatAnswer:
        return cls(
            answer=r.answer, citations=[CitationPublic.of(c) for c in r.citations], refused=r.refused,
            refusal=RefusalPublic(refused=r.refusal.refused, reason=r.refusal.reason, signals=r.refusal.signals),
            question=r.question, standalone_question=r.standalone_question, session_id=r.session_id,
            hits=[HitPublic.of(h) for h in r.hits], timings_ms=r.timings_ms,
        )


# -- OpenAI-compatible ------------------------------------------------------------------------------------
class OpenAIMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type", "text") == "text")
        return self.content or ""


class OpenAIChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(description="The knowledge base to chat with.", examples=["notes"])
    messages: list[OpenAIMessage] = Field(min_length=1)
    stream: bool = False
    temperature: float | None = None
    max_tokens: int | None = None
    user: str | None = None


class OpenAIModelPublic(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "ragchat"


class OpenAIModelsPublic(BaseModel):
    object: Literal["list"] = "list"
    data: list[OpenAIModelPublic]
