"""The one policy for Bot API answers: what is retried, what is benign, what is counted.

`PolicyRequest` wraps the transport (a python-telegram-bot `BaseRequest`: HTTPX in
production, the emulator in tests) and applies, for every Bot API call:

* transient failures (5xx answers, a dropped or timed-out connection): a few retries with
  exponential back-off and jitter, then one WARNING line naming the method, and the error;
* `ChatMigrated` (a late update from a group that became a supergroup): the call is repeated
  once with the new chat id, and `on_migrated(old, new)` re-keys the bot's data;
* an answer to a callback query that is too old or already answered: benign — logged as one
  INFO line and reported to the bot as done, so the handler's action still happens;
* "message is not modified": benign (the message already shows that content).

Flood control (429 with retry_after) is left to PTB's AIORateLimiter; `Forbidden`, bad requests
and the rest pass through unchanged for the error handler (bot.handlers.errors).

`counts()` reports how often each kind happened in this process (metrics read it).
`result_unused()` marks the sends and edits whose caller ignores the returned Message, so
none is built from Telegram's answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import Any

from telegram.error import BadRequest, NetworkError, TelegramError
from telegram.request import BaseRequest, RequestData
from telegram.request._requestparameter import RequestParameter

logger = logging.getLogger(__name__)

_counter: Counter[str] = Counter()
# callback queries answered lately, oldest first (a dict as an ordered set)
_answered: dict[str, None] = {}
_ANSWERED_KEPT = 10_000

# kinds counted by count(): one per expected Telegram condition
KINDS = (
    "transient_retried",
    "transient_gave_up",
    "chat_migrated",
    "query_expired",
    "not_modified",
    "edit_target_missing",
    "file_id_refused",
    "forbidden",
    "flood_control",
)

# Set by `result_unused()`: see there
_RESULT_UNUSED: ContextVar[bool] = ContextVar("result_unused", default=False)

QUERY_EXPIRED = "query is too old"
NOT_MODIFIED = "message is not modified"
EDIT_TARGET_MISSING = "message to edit not found"
_BENIGN_EDITS = ("editMessageText", "editMessageCaption", "editMessageReplyMarkup")


@contextlib.contextmanager
def result_unused() -> Iterator[None]:
    """Within this block, the caller ignores the Message Telegram returns for a send or an
    edit: the bot's request path (pipeline.InboxBot) then hands python-telegram-bot `True`
    instead of the JSON, so no Message object is built from it (about a tenth of a reply's
    CPU). Everything else about the call (policy, journal, errors) is unchanged."""
    token = _RESULT_UNUSED.set(True)
    try:
        yield
    finally:
        _RESULT_UNUSED.reset(token)


def is_result_unused() -> bool:
    """True inside `result_unused()`."""
    return _RESULT_UNUSED.get()


# the method of the latest failed call in the current task (an update's or a job's)
_failed_method: ContextVar[str] = ContextVar("failed_method", default="-")

Migrated = Callable[[int, int], Awaitable[None]]


def count(kind: str, n: int = 1) -> None:
    """Count one occurrence of an expected Telegram condition (see KINDS)."""
    _counter[kind] += n


def counts() -> dict[str, int]:
    """How often each kind of expected Telegram condition happened since start-up."""
    return {kind: _counter.get(kind, 0) for kind in KINDS}


def answered(query_id: str) -> bool:
    """Whether this process has answered (or found expired) callback query `query_id`:
    Telegram takes one answer per query, so a later apology must be a message instead."""
    return query_id in _answered


def _remember_answer(query_id: str) -> None:
    _answered[query_id] = None
    if len(_answered) > _ANSWERED_KEPT:
        del _answered[next(iter(_answered))]


def failed_method() -> str:
    """The Bot API method whose call failed last in this task (the update or job being
    handled), for the error handler's log line; "-" when none did."""
    return _failed_method.get()


def reason(error: BaseException) -> str:
    """A short, single-line reason for a log line (Telegram's description, no traceback)."""
    text = error.message if isinstance(error, TelegramError) else str(error)
    return text.splitlines()[0] if text else type(error).__name__


def file_refused(error: BadRequest) -> bool:
    """Whether Telegram refused a file_id we sent (unknown, expired or of another bot)."""
    text = error.message.lower()
    return "file identifier" in text or "file_reference" in text or "file_id" in text


def is_expected(error: BaseException) -> bool:
    """Whether `error` is an ordinary Telegram condition rather than a bug of ours:
    network failures and 5xx (after retries), Forbidden, flood control, and the bad
    requests that depend on what readers and Telegram did meanwhile."""
    if isinstance(error, BadRequest):  # (a NetworkError subclass in PTB: checked first)
        text = error.message.lower()
        return any(
            marker in text
            for marker in (
                QUERY_EXPIRED,
                NOT_MODIFIED,
                EDIT_TARGET_MISSING,
                "message to be replied not found",
                "wrong file identifier",
                "chat not found",
                "message can't be edited",
                "group chat was upgraded",
            )
        )
    # Forbidden, NetworkError (TimedOut, 5xx), RetryAfter, ChatMigrated, Conflict
    return isinstance(error, TelegramError)


# Start-up calls are not retried: an unreachable or refusing Bot API must stop start-up at
# once with one line (PTB's updater has its own back-off for getUpdates).
UNRETRIED = frozenset({"getMe", "getUpdates", "setWebhook", "deleteWebhook", "logOut", "close"})


class PolicyRequest(BaseRequest):
    """A BaseRequest that applies the Bot API policy around another BaseRequest.

    `retries` extra attempts after a transient failure, waiting `backoff` × 2^attempt seconds
    plus up to 50 % jitter; `on_migrated(old_chat_id, new_chat_id)` is awaited before a call
    is repeated in the supergroup a group became.
    """

    def __init__(
        self,
        inner: BaseRequest,
        *,
        retries: int = 3,
        backoff: float = 0.5,
        on_migrated: Migrated | None = None,
    ) -> None:
        self._inner = inner
        self.retries = retries
        self.backoff = backoff
        self.on_migrated = on_migrated

    @property
    def inner(self) -> BaseRequest:
        """The wrapped transport (aiohttp, httpx or the emulator)."""
        return self._inner

    @property
    def read_timeout(self) -> float | None:
        """The wrapped transport's default read timeout (seconds)."""
        return self._inner.read_timeout

    async def initialize(self) -> None:
        """Initialize the wrapped transport."""
        await self._inner.initialize()

    async def shutdown(self) -> None:
        """Shut the wrapped transport down."""
        await self._inner.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """One Bot API call with the policy applied; returns (HTTP status, JSON body)."""
        api_method = url.rstrip("/").rsplit("/", 1)[-1]
        timeouts = {
            "read_timeout": read_timeout,
            "write_timeout": write_timeout,
            "connect_timeout": connect_timeout,
            "pool_timeout": pool_timeout,
        }
        if method == "GET" or api_method in UNRETRIED:  # file downloads, start-up checks
            return await self._inner.do_request(url, method, request_data, **timeouts)
        try:
            code, body = await self._with_retries(url, api_method, request_data, timeouts)
        except Exception:
            _failed_method.set(api_method)
            raise
        if code == 400:
            answer = _parse(body)
            migrated = (answer.get("parameters") or {}).get("migrate_to_chat_id")
            if migrated and request_data is not None:
                new_chat = int(migrated)
                code, body = await self._migrated(
                    url, api_method, request_data, new_chat, timeouts
                )
            else:
                code, body = self._benign(api_method, answer, code, body)
        if code >= 300:
            _failed_method.set(api_method)
        elif api_method == "answerCallbackQuery" and request_data is not None:
            _remember_answer(str(request_data.parameters.get("callback_query_id")))
        return code, body

    async def _with_retries(
        self, url: str, api_method: str, request_data: RequestData | None, timeouts: Any
    ) -> tuple[int, bytes]:
        """The call, repeated after 5xx answers and network failures (not after 4xx)."""
        attempt = 0
        while True:
            try:
                code, body = await self._inner.do_request(url, "POST", request_data, **timeouts)
            except BadRequest:
                raise
            except (NetworkError, OSError, TimeoutError) as exc:
                if attempt >= self.retries:
                    self._give_up(api_method, attempt, reason(exc))
                    raise
            else:
                if code < 500:
                    return code, body
                if attempt >= self.retries:
                    self._give_up(api_method, attempt, _describe(code, body))
                    return code, body
            count("transient_retried")
            delay = self.backoff * 2**attempt
            await asyncio.sleep(delay + random.uniform(0, delay / 2))  # jitter
            attempt += 1

    @staticmethod
    def _give_up(api_method: str, attempt: int, failure: str) -> None:
        count("transient_gave_up")
        logger.warning("%s failed after %d attempts: %s", api_method, attempt + 1, failure)

    async def _migrated(
        self,
        url: str,
        api_method: str,
        request_data: RequestData,
        new_chat_id: int,
        timeouts: Any,
    ) -> tuple[int, bytes]:
        """Repeat the call once in the supergroup; the bot's data moves there first."""
        old = request_data.parameters.get("chat_id")
        count("chat_migrated")
        logger.info(
            "%s: chat %s became supergroup %s, sending there", api_method, old, new_chat_id
        )
        if self.on_migrated is not None and isinstance(old, int | str):
            with contextlib.suppress(ValueError):  # an @username is not a group's id
                await self.on_migrated(int(old), new_chat_id)
        parameters = [
            RequestParameter("chat_id", new_chat_id, None) if p.name == "chat_id" else p
            for p in request_data._parameters  # the only way to re-address
        ]
        return await self._with_retries(url, api_method, RequestData(parameters), timeouts)

    def _benign(self, api_method: str, answer: dict[str, Any], code: int, body: bytes) -> Any:
        """Answers that mean the desired state already holds: reported to the bot as done."""
        description = str(answer.get("description") or "")
        lowered = description.lower()
        if api_method == "answerCallbackQuery" and QUERY_EXPIRED in lowered:
            count("query_expired")
            logger.info("answerCallbackQuery: %s", description)
            return 200, b'{"ok":true,"result":true}'
        if api_method in _BENIGN_EDITS and NOT_MODIFIED in lowered:
            count("not_modified")
            logger.debug("%s: %s", api_method, description)
            return 200, b'{"ok":true,"result":true}'
        return code, body


def _parse(body: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(body)
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _describe(code: int, body: bytes) -> str:
    return str(_parse(body).get("description") or f"HTTP {code}")
