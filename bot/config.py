"""Settings, read once at start-up from the environment and `.env` (pydantic-settings)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

TELEGRAM_API = "https://api.telegram.org/bot"
TELEGRAM_FILES = "https://api.telegram.org/file/bot"


class SettingsError(Exception):
    """A setting is missing or invalid; the message names it in one line."""


class Settings(BaseSettings):
    """Every setting of the bot; see `.env.example` for one line on each."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr | None = None
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    database_url: str = "sqlite:///data/bot.sqlite3"
    telegram_api_base_url: str = TELEGRAM_API
    telegram_file_base_url: str = TELEGRAM_FILES
    default_language: Literal["ru", "en"] = "ru"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    results_reveal_min: int = Field(default=10, ge=0)
    export_salt: SecretStr = SecretStr("change-me")
    export_allow_full: bool = False
    channel_id: str | None = None
    tally_interval_seconds: float = Field(default=5.0, gt=0)
    # the update pipeline (bot/pipeline.py): updates handled at once, updates held in memory
    # (the rest waits in the inbox and at Telegram), Bot API messages per second overall
    max_concurrent_updates: int = Field(default=64, ge=1, le=1024)
    max_pending_updates: int = Field(default=1000, ge=1)
    rate_limit_overall_per_second: float = Field(default=30.0, gt=0)
    shutdown_timeout_seconds: float = Field(default=8.0, gt=0)
    # webhook mode (`run --webhook`) and the HTTP server for /healthz and /metrics
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8080, ge=1, le=65535)
    http_port: int | None = Field(default=None, ge=1, le=65535)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        """Accept `1,2, 3` (the environment's form) as well as a list."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, int):
            return [value]
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _sqlite_only(cls, value: str) -> str:
        if not value.startswith("sqlite:///"):
            raise ValueError("only sqlite:///PATH is supported, e.g. sqlite:///data/bot.sqlite3")
        return value

    @field_validator("channel_id")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not (value.startswith("@") or value.lstrip("-").isdigit()):
            raise ValueError("use the channel's @username or its numeric id, e.g. -100123")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("use the public https:// URL Telegram posts updates to")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()):
            raise ValueError("use 1-256 characters A-Z, a-z, 0-9, _ and - (Telegram's rule)")
        return value

    @field_validator("http_port", mode="before")
    @classmethod
    def _empty_port(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def database_path(self) -> Path:
        """The SQLite file; a relative path is relative to the working directory."""
        return Path(self.database_url.removeprefix("sqlite:///"))

    def is_admin(self, user_id: int | None) -> bool:
        """True when `user_id` is listed in ADMIN_IDS."""
        return user_id is not None and user_id in self.admin_ids


def load_settings(**overrides: object) -> Settings:
    """Read the settings; raises SettingsError with one line naming the bad setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]).upper() if error["loc"] else "settings"
        raise SettingsError(f"Invalid setting {name}: {error['msg']}") from None
