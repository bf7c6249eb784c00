"""Settings, read once at start-up from the environment and `.env` (pydantic-settings).

Rules, the same for every setting: an empty value (``NAME=`` in `.env`) means "not set", so
an optional setting takes its default; a required one (BOT_TOKEN for `run`) is reported as
missing. Every invalid setting is reported on one line that names it (`load_settings`), and
nothing here touches the network.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

TELEGRAM_API = "https://api.telegram.org/bot"
TELEGRAM_FILES = "https://api.telegram.org/file/bot"

# BotFather's tokens: the bot's numeric id, a colon, then 35 URL-safe characters.
TOKEN_RE = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{30,}$")
# The value shipped in older `.env.example` files: anyone could recompute the pseudonyms.
SALT_PLACEHOLDERS = frozenset({"change-me", "changeme", "change_me"})


class SettingsError(Exception):
    """One or more settings are missing or invalid; one line per setting, each naming it."""


class Settings(BaseSettings):
    """Every setting of the bot; see `.env.example` for one line on each."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    bot_token: SecretStr | None = None
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    database_url: str = "sqlite:///data/bot.sqlite3"
    telegram_api_base_url: str = TELEGRAM_API
    telegram_file_base_url: str = TELEGRAM_FILES
    default_language: Literal["ru", "en"] = "ru"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    results_reveal_min: int = Field(default=10, ge=0)
    # empty: not set yet; the application then uses a random secret kept in the database
    # (see bot.app.with_stored_secrets), so this is never empty once the store is open
    export_salt: SecretStr = SecretStr("")
    export_allow_full: bool = False
    channel_id: str | None = None
    tally_interval_seconds: float = Field(default=5.0, gt=0)
    admin_alert_chat_id: int | None = None
    results_cache_seconds: float = Field(default=30.0, ge=0)
    chart_redraw_min_changes: int = Field(default=500, ge=1)
    http_transport: Literal["aiohttp", "httpx"] = "aiohttp"
    pending_ttl_minutes: float = Field(default=30.0, gt=0)
    display_timezone: str = "Europe/Moscow"
    revisions_per_minute: int = Field(default=5, ge=0)

    # the update pipeline (bot/pipeline.py): updates handled at once, updates held in memory
    # (the rest waits in the inbox and at Telegram), Bot API messages per second overall
    max_concurrent_updates: int = Field(default=256, ge=1, le=1024)
    max_pending_updates: int = Field(default=1000, ge=1)
    rate_limit_overall_per_second: float = Field(default=30.0, gt=0)
    rate_limiter: bool = True
    shutdown_timeout_seconds: float = Field(default=8.0, gt=0)
    # webhook mode (`run --webhook`) and the HTTP server for /healthz and /metrics
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8080, ge=1, le=65535)
    http_port: int | None = Field(default=None, ge=1, le=65535)

    @property
    def pending_ttl(self) -> timedelta:
        """How long a pending step (an exact-% or reason prompt, a channel-comment offer)
        or a /newquestion draft stays answerable: PENDING_TTL_MINUTES."""
        return timedelta(minutes=self.pending_ttl_minutes)

    @field_validator("bot_token", mode="before")
    @classmethod
    def _token_shape(cls, value: object) -> object:
        """Empty is unset; otherwise `<digits>:<30+ URL-safe characters>` (checked locally)."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str) or not TOKEN_RE.match(value.strip()):
            # the value itself is never repeated: it may be a real token with a typo
            raise ValueError(
                "not a bot token: expected the form 123456789:AA... as given by @BotFather"
            )
        return value.strip()

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
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("default_language", "http_transport", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _sqlite_only(cls, value: str) -> str:
        path = value.removeprefix("sqlite:///")
        if not value.startswith("sqlite:///") or not path.strip():
            raise ValueError("only sqlite:///PATH is supported, e.g. sqlite:///data/bot.sqlite3")
        return value

    @field_validator("telegram_api_base_url", "telegram_file_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must start with http:// or https://, e.g. " + TELEGRAM_API)
        return value

    @field_validator("export_salt", mode="before")
    @classmethod
    def _salt(cls, value: object) -> object:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is None:
            return ""
        if isinstance(value, str) and value.strip().lower() in SALT_PLACEHOLDERS:
            raise ValueError(
                "the example placeholder is not a secret: leave EXPORT_SALT empty (a random "
                "one is generated and kept in the database) or set a long random value"
            )
        return value

    @field_validator("display_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("use an IANA time zone name, e.g. Europe/Moscow or UTC") from None
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
    """Read the settings from the environment and `.env`.

    Raises SettingsError whose message has one line per bad setting, each of the form
    "Invalid setting NAME: reason" (never the value: it may be a secret).
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except (OSError, UnicodeDecodeError) as exc:  # .env is a folder, unreadable, not UTF-8
        raise SettingsError(f"Cannot read the settings file .env: {exc}") from None
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = str(error["loc"][0]).upper() if error["loc"] else "settings"
            reason = str(error["msg"]).removeprefix("Value error, ")
            lines.append(f"Invalid setting {name}: {reason}")
        raise SettingsError("\n".join(dict.fromkeys(lines))) from None
