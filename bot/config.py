"""Settings, read from the environment and from ``.env`` (see ``.env.example``)."""

from __future__ import annotations

import stat
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.i18n.languages import SPOKEN_LANGUAGES


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
    telegram_chat_burst: int = Field(default=3, ge=1)  # sends one chat may take at once

    # WeChat Official Account (the channel starts when WECHAT_APP_ID is set)
    wechat_app_id: str | None = None
    wechat_app_secret: SecretStr | None = None
    wechat_token: SecretStr | None = None
    wechat_aes_key: SecretStr | None = None  # EncodingAESKey: 43 characters
    wechat_safe_mode: bool = True  # messages encrypted with the EncodingAESKey
    wechat_customer_service: bool = False  # the account may send customer-service messages
    wechat_menus: bool = False  # and menu messages (msgmenu: certified accounts only)
    wechat_base_url: str = "https://api.weixin.qq.com"
    wechat_listen: str = "127.0.0.1"
    wechat_port: int = Field(default=8081, ge=1, le=65535)
    wechat_path: str = "/wechat"

    # Storage
    database_url: str = "sqlite+aiosqlite:///data/trialbot.db"
    data_encryption_key: SecretStr | None = None  # the single key of older set-ups
    # comma-separated, newest first; the newest encrypts, every one listed still decrypts
    data_encryption_keys: SecretStr | None = None
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
    # WeCom group robot (群机器人): cards, reminders and digests also go there when the key is set
    wecom_robot_key: SecretStr | None = None  # the key=... of the robot's webhook address
    wecom_base_url: str = "https://qyapi.weixin.qq.com"
    wecom_per_minute: int = Field(default=18, ge=1, le=20)  # WeCom allows 20 a minute per robot
    wecom_window_seconds: float = Field(default=60.0, gt=0)  # the "minute" (tests shorten it)
    # spoken languages the team can call in, offered to the patient in this order
    call_languages: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(SPOKEN_LANGUAGES)
    )

    # Web console for the study team (bot/web): served when WEB_PORT is set
    web_listen: str = "127.0.0.1"
    web_port: int | None = Field(default=None, ge=1, le=65535)
    web_base_url: str | None = None  # https://… makes the session cookie Secure
    web_session_hours: int = Field(default=12, ge=1)
    team_timezone: str = "Asia/Shanghai"  # the hospital's time zone, for times in the console

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

    @field_validator("call_languages", mode="before")
    @classmethod
    def _split_languages(cls, value: Any) -> Any:
        """Accept ``"cmn, yue, en"`` from the environment as well as a list."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("call_languages")
    @classmethod
    def _known_languages(cls, value: list[str]) -> list[str]:
        unknown = [code for code in value if code not in SPOKEN_LANGUAGES]
        if unknown or not value:
            known = ", ".join(SPOKEN_LANGUAGES)
            raise ValueError(f"CALL_LANGUAGES must be one or more of {known}; got {unknown}")
        return value

    def encryption_keys(self) -> list[str]:
        """DATA_ENCRYPTION_KEYS (newest first), else the one DATA_ENCRYPTION_KEY, else []."""
        for setting in (self.data_encryption_keys, self.data_encryption_key):
            if setting is not None:
                keys = [k.strip() for k in setting.get_secret_value().split(",")]
                if any(keys):
                    return [k for k in keys if k]
        return []

    def webhook_refusal(self) -> str | None:
        """Why webhook mode (WEBHOOK_URL set) must not start, or None when it may."""
        if not self.webhook_url:
            return None
        if not self.webhook_url.lower().startswith("https://"):
            return "WEBHOOK_URL must start with https:// (Telegram sends updates only there)."
        if self.webhook_secret is None or not self.webhook_secret.get_secret_value().strip():
            return (
                "WEBHOOK_SECRET is not set: without it anyone could post forged updates. "
                "Set WEBHOOK_SECRET to a long random string (A-Z, a-z, 0-9, _ and -)."
            )
        return None

    @field_validator("log_level")
    @classmethod
    def _upper_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level


def dotenv_warning(path: Path = Path(".env")) -> str | None:
    """A warning when ``path`` (holding the token and the keys) is readable by other users."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return (
            f"{path} can be read by other users of this computer (mode {stat.S_IMODE(mode):04o}); "
            f"it holds the bot token and the encryption keys: run `chmod 600 {path}`."
        )
    return None


@cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
