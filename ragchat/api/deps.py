"""Dependencies as ``Annotated`` aliases: route signatures read as prose, tests swap backends in create_app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request

from ragchat.api.settings import AppSettings
from ragchat.generation.chat import ChatPipeline
from ragchat.jobs import JobManager
from ragchat.kb import KnowledgeBase
from ragchat.services import Services


@dataclass
class AppContext:
    """What the lifespan loads once and every request shares."""

    settings: AppSettings
    services: Services
    pipeline: ChatPipeline
    jobs: JobManager


def get_context(request: Request) -> AppContext:
    return request.state.ctx  # type: ignore[no-any-return]


ContextDep = Annotated[AppContext, Depends(get_context)]


def get_settings(ctx: ContextDep) -> AppSettings:
    return ctx.settings


def get_services(ctx: ContextDep) -> Services:
    return ctx.services


def get_pipeline(ctx: ContextDep) -> ChatPipeline:
    return ctx.pipeline


def get_jobs(ctx: ContextDep) -> JobManager:
    return ctx.jobs


SettingsDep = Annotated[AppSettings, Depends(get_settings)]
ServicesDep = Annotated[Services, Depends(get_services)]
PipelineDep = Annotated[ChatPipeline, Depends(get_pipeline)]
JobsDep = Annotated[JobManager, Depends(get_jobs)]

KbName = Annotated[str, Path(description="Knowledge base name.", examples=["notes"])]


def get_kb(kb: KbName, services: ServicesDep) -> KnowledgeBase:
    """The named knowledge base; 404 when it does not exist."""
    return services.kb(kb)


KnowledgeBaseDep = Annotated[KnowledgeBase, Depends(get_kb)]
