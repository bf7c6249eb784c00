"""Settings, read once at start-up from the environment and `.env` (pydantic-settings)."""

from __future__ import annotations

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
    results_cache_seconds: float = Field(default=30.0, ge=0)
    chart_redraw_min_changes: int = Field(default=50, ge=1)
    http_transport: Literal["aiohttp", "httpx"] = "aiohttp"
    rate_limiter: bool = True

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

    @field_validator("http_transport", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

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
