"""The HTTP transport to the Bot API on aiohttp: a python-telegram-bot `BaseRequest`.

PTB's default transport (httpx) spends most of a small bot's CPU in its own layers (httpx,
httpcore, h11, anyio); aiohttp's C-accelerated client does the same work in far less.
HTTP_TRANSPORT=httpx switches back to PTB's own `HTTPXRequest`.

Timeouts (seconds, None for none) map onto aiohttp's as follows: `connect_timeout` is the
socket connect, `pool_timeout + connect_timeout` waiting for a pooled connection and
connecting, `read_timeout` the wait for each read of the answer; aiohttp has no write
timeout, so `write_timeout` (the media one for uploads) counts towards an overall limit of
all four together. Expiry raises telegram.error.TimedOut; any other failure of the
connection raises telegram.error.NetworkError naming aiohttp's error class.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

# a long poll gets its own connection; sends share a pool of this many
SEND_POOL_SIZE = 256


class AiohttpRequest(BaseRequest):
    """A `BaseRequest` on one aiohttp ClientSession (created in `initialize`, closed in
    `shutdown`; a shut-down request can be initialized again).

    Args:
        connection_pool_size: connections kept open to the Bot API host at most.
        read_timeout, write_timeout, connect_timeout, pool_timeout: defaults in seconds
            (None: no limit) for calls that do not pass their own; PTB's defaults.
        media_write_timeout: the write timeout of uploads (multipart requests).
    """

    __slots__ = ("_defaults", "_media_write_timeout", "_pool_size", "_session")

    def __init__(
        self,
        connection_pool_size: int = 1,
        *,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._defaults = {
            "read": read_timeout,
            "write": write_timeout,
            "connect": connect_timeout,
            "pool": pool_timeout,
        }
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout in seconds (PTB adds it to a long poll's timeout)."""
        return self._defaults["read"]

    async def initialize(self) -> None:
        """Open the session (idempotent)."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=0)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None),
                headers={"User-Agent": self.USER_AGENT},
                skip_auto_headers=("Accept-Encoding",),
            )

    async def shutdown(self) -> None:
        """Close the session and its connections (idempotent)."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    def _timeout(self, given: ODVInput[float], name: str, upload: bool) -> float | None:
        if isinstance(given, DefaultValue):
            if name == "write" and upload:
                return self._media_write_timeout
            return self._defaults[name]
        return given

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
        """Send one request; returns (HTTP status, body). See the module for timeouts and
        errors. Raises RuntimeError when not initialized."""
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized")
        upload = bool(request_data and request_data.contains_files)
        read = self._timeout(read_timeout, "read", upload)
        write = self._timeout(write_timeout, "write", upload)
        connect = self._timeout(connect_timeout, "connect", upload)
        pool = self._timeout(pool_timeout, "pool", upload)
        parts = (read, write, connect, pool)
        timeout = aiohttp.ClientTimeout(
            total=None if None in parts else sum(p for p in parts if p is not None),
            connect=None if connect is None or pool is None else connect + pool,
            sock_connect=connect,
            sock_read=read,
        )
        kwargs: dict[str, Any] = {}
        if request_data is not None:
            if upload:
                form = aiohttp.FormData(quote_fields=False)
                for name, value in request_data.json_parameters.items():
                    form.add_field(name, value)
                for name, (filename, content, mime) in request_data.multipart_data.items():
                    form.add_field(name, content, filename=filename, content_type=mime)
                kwargs["data"] = form
            elif request_data.parameters:
                kwargs["data"] = request_data.url_encoded_parameters().encode()
                kwargs["headers"] = {"Content-Type": "application/x-www-form-urlencoded"}
        try:
            async with session.request(method, url, timeout=timeout, **kwargs) as response:
                return response.status, await response.read()
        except TimeoutError as exc:  # aiohttp's connect and read timeouts are TimeoutErrors
            raise TimedOut(f"Timed out ({type(exc).__name__})") from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
