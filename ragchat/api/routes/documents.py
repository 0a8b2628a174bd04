from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Annotated, BinaryIO

from fastapi import APIRouter, File, Query, Response, UploadFile, status

from ragchat.api.deps import JobsDep, KnowledgeBaseDep, ServicesDep, SettingsDep
from ragchat.api.errors import UploadTooLarge
from ragchat.api.routes import errors
from ragchat.api.schemas import ChunkPublic, DocumentDetail, DocumentPublic, DocumentsPublic, JobPublic, UploadPublic
from ragchat.errors import BadInput, NotFound, UnsupportedFile
from ragchat.jobs import Job, Work
from ragchat.kb import KnowledgeBase
from ragchat.services import Services

router = APIRouter(prefix="/kbs/{kb}/documents", tags=["documents"])

UPLOAD_SOURCE = "upload:"  # a document's identity across versions is its uploaded file name


def _supported_suffixes() -> frozenset[str]:
    from ingest.parsing import SUPPORTED_SUFFIXES

    return frozenset(SUPPORTED_SUFFIXES)


def _save(stream: BinaryIO, target: Path, limit: int) -> int:
    """Copy an upload to disk, stopping with 413 as soon as it passes ``limit`` bytes."""
    size = 0
    with open(target, "wb") as out:
        while block := stream.read(1 << 20):
            size += len(block)
            if size > limit:
                raise UploadTooLarge(
                    f"{target.name} is larger than the upload limit of {limit / 2**20:g} MB (RAGCHAT_MAX_UPLOAD_MB)"
                )
            out.write(block)
    return size


def _file_names(files: list[UploadFile], max_files: int) -> list[str]:
    if not files:
        raise BadInput("no files in the upload")
    if len(files) > max_files:
        raise BadInput(f"too many files in one upload: {len(files)} > {max_files}")
    names = [Path(f.filename or "").name for f in files]
    if any(not n for n in names):
        raise BadInput("every uploaded file needs a file name")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise BadInput(f"the same file name appears twice in one upload: {', '.join(duplicates)}")
    supported = _supported_suffixes()
    unsupported = [n for n in names if Path(n).suffix.lower() not in supported]
    if unsupported:
        raise UnsupportedFile(
            f"unsupported file type: {', '.join(unsupported)} (supported: {', '.join(sorted(supported))})"
        )
    return names


def ingest_work(services: Services, kb: KnowledgeBase, files: list[tuple[Path, str, str]]) -> Work:
    """The job body: ingest ``files`` into ``kb``, reporting progress on the job."""

    def work(job: Job) -> None:
        from ingest.pipeline import make_ingestor

        s = services.settings
        ingestor = make_ingestor(kb, s)
        ingestor.ingest_files(files, job)

    return work


@router.get("", response_model=DocumentsPublic, responses=errors(404), summary="List the documents")
def list_documents(kb: KnowledgeBaseDep) -> DocumentsPublic:
    data = [DocumentPublic.of(d) for d in kb.store.documents()]
    return DocumentsPublic(data=data, count=len(data))


@router.post(
    "",
    response_model=UploadPublic,
    status_code=status.HTTP_202_ACCEPTED,
    responses={201: {"model": UploadPublic, "description": "Ingested before the reply"}, **errors(404, 413, 415, 422,
                                                                                                   503)},
    summary="Upload one or many files",
    description="Files are identified by name: uploading the same file again changes nothing, a changed file "
    "replaces the old version. Small uploads are ingested before the reply (201); larger ones, or any with "
    "`background=true`, return 202 at once with a job to poll at `GET /jobs/{id}`.",
)
def upload_documents(
    kb: KnowledgeBaseDep,
    files: Annotated[list[UploadFile], File(description="Files: .md, .markdown, .txt, .pdf")],
    services: ServicesDep,
    settings: SettingsDep,
    jobs: JobsDep,
    response: Response,
    background: Annotated[
        bool | None, Query(description="Force (true) or refuse (false) background ingestion; default by size.")
    ] = None,
) -> UploadPublic:
    server = settings.server
    names = _file_names(files, server.max_upload_files)
    folder = services.settings.data_dir / "uploads" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    try:
        limit = int(server.max_upload_mb * 2**20)
        total = sum(_save(f.file, folder / name, limit) for f, name in zip(files, names, strict=True))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    triples = [(folder / name, UPLOAD_SOURCE + name, name) for name in names]
    work = ingest_work(services, kb, triples)
    in_background = background if background is not None else total > server.sync_upload_kb * 1024
    if in_background:
        job = jobs.submit(kb.name, names, work, cleanup=folder)
        return UploadPublic(job=JobPublic.of(job.snapshot()), background=True)
    job = jobs.run_now(kb.name, names, work, cleanup=folder)
    response.status_code = status.HTTP_201_CREATED
    return UploadPublic(job=JobPublic.of(job), background=False)


@router.get(
    "/{doc_id}",
    response_model=DocumentDetail,
    responses=errors(404),
    summary="A document with its chunks (pages and heading paths)",
)
def get_document(doc_id: str, kb: KnowledgeBaseDep) -> DocumentDetail:
    doc = kb.store.document(doc_id)
    if doc is None:
        raise NotFound(f"no document {doc_id!r} in knowledge base {kb.name!r}")
    return DocumentDetail(
        document=DocumentPublic.of(doc), chunks=[ChunkPublic.of(c) for c in kb.store.chunks_of(doc_id)]
    )


@router.delete(
    "/{doc_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404, 503),
    summary="Delete a document (its chunks, vectors and keyword entries)",
)
def delete_document(doc_id: str, kb: KnowledgeBaseDep) -> Response:
    if kb.store.document(doc_id) is None:
        raise NotFound(f"no document {doc_id!r} in knowledge base {kb.name!r}")
    with kb.writer():
        kb.delete_document(doc_id)
        kb.save_index()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
