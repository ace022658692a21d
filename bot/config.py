"""Settings, read from the environment and from ``.env`` (see ``.env.example``)."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting of the bot. Names are the upper-case environment variables."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,  # `NAME=` in .env means "use the default"
        extra="ignore",
    )

    # Telegram
    telegram_bot_token: SecretStr | None = None
    telegram_base_url: str = "https://api.telegram.org/bot"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    telegram_max_rate: float = Field(default=30.0, gt=0)  # messages per second, all chats

    # Storage
    database_url: str = "sqlite+aiosqlite:///data/trialbot.db"
    data_encryption_key: SecretStr | None = None
    retention_days: int = Field(default=30, ge=1)  # abandoned conversations
    # finished screenings that did not become referrals (ineligible, declined);
    # unset: RETENTION_DAYS
    finished_retention_days: int | None = Field(default=None, ge=1)
    # referrals; unset: kept as long as the study needs them (until the team erases them)
    referral_retention_days: int | None = Field(default=None, ge=1)

    # Study team and handoff
    study_team_chat_id: int | None = None
    team_language: str = "zh-Hans"
    coordinator_user_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    handoff_reminder_hours: int = Field(default=24, ge=1)
    handoff_email: str | None = None
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    contact_promise_days: int = Field(default=2, ge=0)

    # Conversation
    flow: str = "nct06751199"
    flood_burst: int = Field(default=15, ge=1)  # messages one person may send at once
    flood_rate: float = Field(default=1.0, gt=0)  # and per second after that
    flood_queue: int = Field(default=24, ge=1)  # waiting beyond this is a flood: text set aside
    log_level: str = "INFO"

    @field_validator("coordinator_user_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        """Accept ``"123, 456"`` from the environment as well as a list."""
        if isinstance(value, int):
            return [value]
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("log_level")
    @classmethod
    def _upper_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level


@cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
