from __future__ import annotations

from fastapi import APIRouter

from ragchat.api.deps import JobsDep
from ragchat.api.routes import errors
from ragchat.api.schemas import JobPublic, JobsPublic

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.get("", response_model=JobsPublic, summary="Recent ingest jobs, newest first")
def list_jobs(jobs: JobsDep) -> JobsPublic:
    data = [JobPublic.of(j) for j in jobs.all()]
    return JobsPublic(data=data, count=len(data))


@router.get("/{job_id}", response_model=JobPublic, responses=errors(404), summary="Progress of an ingest job")
def get_job(job_id: str, jobs: JobsDep) -> JobPublic:
    return JobPublic.of(jobs.get(job_id))
