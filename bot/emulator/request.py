"""The python-telegram-bot transport that talks to an in-process `Emulator` instead of HTTP."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from telegram._utils.types import ODVInput
from telegram.request import BaseRequest, RequestData

from bot.emulator.state import FileMap, JSONDict

if TYPE_CHECKING:
    from bot.emulator.core import Emulator

# parameters that carry JSON objects; a caller may pass them pre-serialised (api_kwargs)
_JSON_PARAMS = {
    "reply_markup",
    "reply_parameters",
    "entities",
    "caption_entities",
    "link_preview_options",
    "results",
    "button",
    "commands",
    "scope",
    "menu_button",
    "allowed_updates",
    "message_ids",
    "media",
}


class EmulatorRequest(BaseRequest):
    """A BaseRequest answering every Bot API call from `emulator`; no network.

    Use one instance for both `ApplicationBuilder.request()` and `.get_updates_request()`.
    `do_request` returns (HTTP status, JSON body bytes) shaped exactly like Telegram's.
    """

    def __init__(self, emulator: Emulator, read_timeout: float | None = 5.0) -> None:
        self._emulator = emulator
        self._read_timeout = read_timeout

    @property
    def read_timeout(self) -> float | None:
        """Default read timeout in seconds (PTB adds the long-poll timeout to it)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Answer the Bot API method named by the URL's last segment (GET = file download).

        Raises UnsupportedMethodError for methods the emulator does not know (PTB reports it
        as NetworkError naming the method).
        """
        if method == "GET":
            try:
                return 200, self._emulator.download(url)
            except KeyError:
                return 404, b'{"ok":false,"error_code":404,"description":"Not Found"}'
        api_method = url.rstrip("/").rsplit("/", 1)[-1]
        params = decode_parameters(request_data)
        files = read_files(request_data)
        status, body = await self._emulator.dispatch(api_method, params, files)
        return status, json.dumps(body).encode("utf-8")


def decode_parameters(request_data: RequestData | None) -> JSONDict:
    """The request's parameters as plain JSON values (objects as dicts, not strings)."""
    if request_data is None:
        return {}
    params: JSONDict = json.loads(json.dumps(request_data.parameters))
    for key, value in params.items():
        if key in _JSON_PARAMS and isinstance(value, str) and value[:1] in "[{":
            params[key] = json.loads(value)
    return params


def read_files(request_data: RequestData | None) -> FileMap:
    """Uploaded files: part name -> (filename, bytes, mime type); file handles are read."""
    if request_data is None or not request_data.contains_files:
        return {}
    files: FileMap = {}
    for name, field in request_data.multipart_data.items():
        filename, content, mime_type = _unpack(field)
        if hasattr(content, "read"):
            content = content.read()
        files[name] = (filename, bytes(content), mime_type)
    return files


def _unpack(field: Any) -> tuple[str, Any, str]:
    """A multipart field tuple is (filename, content) or (filename, content, mime type)."""
    filename, content, *rest = field
    return str(filename or ""), content, str(rest[0]) if rest else "application/octet-stream"
