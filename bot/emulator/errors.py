"""Errors of the emulator: Bot API failures it answers with, and misuse it refuses."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A Bot API failure: answered as `{"ok": false, "error_code", "description"}`.

    `description` is Telegram's full text ("Bad Request: ...", "Forbidden: ..."); `parameters`
    is the optional ResponseParameters dict (retry_after, migrate_to_chat_id).
    """

    def __init__(
        self, code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        """The JSON body Telegram would send for this failure."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(reason: str) -> ApiError:
    """A 400 with Telegram's "Bad Request: " prefix."""
    return ApiError(400, f"Bad Request: {reason}")


def forbidden(reason: str) -> ApiError:
    """A 403 with Telegram's "Forbidden: " prefix."""
    return ApiError(403, f"Forbidden: {reason}")


class UnsupportedMethodError(NotImplementedError):
    """The bot called a Bot API method the emulator does not answer.

    Raised from `do_request`, so python-telegram-bot reports it as NetworkError whose message
    names the method; the call is still recorded with this text as its error.
    """

    def __init__(self, method: str) -> None:
        super().__init__(f"Bot API method {method!r} is not supported by the emulator")
        self.method = method
