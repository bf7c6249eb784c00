"""Logging set up once by the entry point, with the bot token kept out of every line."""

from __future__ import annotations

import logging
import re
from pathlib import Path

# Bot API URLs carry the token as /bot<id>:<secret>/; match that shape whatever the token.
TOKEN_IN_URL = re.compile(r"(/(?:file/)?bot)\d+:[A-Za-z0-9_-]+")
TOKEN_SHAPE = re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}\b")


class RedactTokenFilter(logging.Filter):
    """Replaces the token (the configured one, and anything shaped like one) with `***`."""

    def __init__(self, token: str | None) -> None:
        super().__init__()
        self._token = token

    def redact(self, text: str) -> str:
        """`text` with every token occurrence replaced."""
        if self._token:
            text = text.replace(self._token, "***")
        text = TOKEN_IN_URL.sub(r"\1***", text)
        return TOKEN_SHAPE.sub("***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, redacted, so arguments cannot bring the token back."""
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        record.msg, record.args = self.redact(message), None
        return True


def _not_a_bootstrap_failure(record: logging.LogRecord) -> bool:
    """False for PTB's traceback when its start-up calls fail (token rejected, API
    unreachable): the entry point reports those itself, in one line."""
    return "(Bootstrap" not in str(record.msg) + str(record.args)


def setup_logging(level: str, token: str | None, file: Path | None = None) -> None:
    """Log to stderr (or append to `file`, its folder created; stderr when that fails) at
    `level`, the token redacted; chatty libraries at WARNING."""
    handler: logging.Handler = logging.StreamHandler()
    if file is not None:
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(file, encoding="utf-8")
        except OSError:
            pass  # an unwritable folder: stderr, as without a file
    handler.addFilter(RedactTokenFilter(token))
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    if level != "DEBUG":
        logging.getLogger("telegram.ext").addFilter(_not_a_bootstrap_failure)
    # httpx logs URLs (with the token) at INFO; aiosqlite every statement at DEBUG
    for noisy in ("httpx", "httpcore", "apscheduler", "aiosqlite", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
