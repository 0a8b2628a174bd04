"""Settings of the HTTP server (``RAGCHAT_*``), and the bundle of every settings object the app reads."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from ragchat.config import Settings
from ragchat.generation.settings import ChatSettings, LLMSettings


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAGCHAT_", extra="ignore")

    host: str = Field("127.0.0.1", description="Interface `ragchat serve` binds to.")
    port: int = Field(8000, ge=0, le=65535)
    max_upload_mb: float = Field(50.0, gt=0, description="Largest file one upload may contain (413 above).")
    max_upload_files: int = Field(100, gt=0, description="Most files in one upload request.")
    sync_upload_kb: int = Field(
        256, ge=0, description="Uploads up to this total size are ingested before the reply; larger ones as a job."
    )
    admin_api_key: SecretStr | None = Field(
        None,
        description="When set, every endpoint but /health, /, /widget.js and widget-token chat needs it as "
        "`Authorization: Bearer <key>`. Unset: the API is open (local use).",
    )


@dataclass
class AppSettings:
    core: Settings = field(default_factory=Settings)  # type: ignore[arg-type]
    server: ServerSettings = field(default_factory=ServerSettings)  # type: ignore[arg-type]
    llm: LLMSettings = field(default_factory=LLMSettings)  # type: ignore[arg-type]
    chat: ChatSettings = field(default_factory=ChatSettings)  # type: ignore[arg-type]

    @classmethod
    def of(cls, settings: Settings | AppSettings | None) -> AppSettings:
        """Wrap plain core settings (the rest read from the environment), or read everything from it."""
        if isinstance(settings, AppSettings):
            return settings
        return cls(core=settings) if settings is not None else cls()
