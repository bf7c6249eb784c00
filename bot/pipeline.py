"""How updates enter the bot and move through it: the durable inbox, polling through it, a
bounded queue, and concurrent handling in per-chat order.

- `accept(store, bot, raw_updates)`: the one intake, for polling and the webhook alike. The
  batch is stored in the inbox in one transaction before anything else happens; known
  update_ids are skipped (a redelivered update is a no-op); updates this python-telegram-bot
  cannot build are logged in one line, marked handled and skipped.
- `InboxBot`: PTB's ExtBot whose `get_updates` fetches raw JSON and passes it through
  `accept`; PTB's Updater only asks for the next offset (which tells Telegram the batch
  arrived) after `get_updates` has returned, so every acknowledged update is already stored.
- `UpdateQueue`: the Application's bounded update queue; taking an update from it also takes
  one of `max_pending` slots, given back when the update is handled, so the in-memory backlog
  is bounded and the rest waits in the inbox (and at Telegram).
- `ChatOrderedProcessor`: PTB's BaseUpdateProcessor: updates of one chat, and of one user,
  run in arrival order; others run alongside, at most `max_concurrent` at a time. An update
  waiting for its chat holds no concurrency slot. Each update is marked handled in the inbox
  right after its handlers finish.
- Replies are journaled: while an update from the inbox is handled (`Handling`, a context
  variable), every Bot API call that answers it (to its chat, its callback query, its inline
  query) is written to the inbox's journal the moment Telegram's result arrives. When a
  crash makes the next start handle the update again, those calls are not sent again: the
  journaled result is returned. A reader can get a reply twice only when the process dies
  between Telegram accepting a call and that journal write.
- `LeanApplication`: PTB's Application, without the per-chat and per-user bookkeeping it
  keeps for a persistence when there is none.
- `ChatFloodRateLimiter`: PTB's AIORateLimiter, except that a flood-control answer (429,
  RetryAfter) for one chat delays only that chat's requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dtm
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import JSONDict, ODVInput
from telegram.error import NetworkError, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, Application, BaseUpdateProcessor, ExtBot, Job

from bot import metrics
from bot.keyboard import with_keyboard_text
from bot.store.inbox import InboxRow
from bot.telegram_policy import is_result_unused

if TYPE_CHECKING:
    from bot.store import Store

logger = logging.getLogger(__name__)

OnHandled = Callable[[Update], Awaitable[None]]
# seconds for the acknowledging getUpdates at shutdown
ACK_TIMEOUT = 1.0
# Bot API calls that change nothing at Telegram (getMe, getFile, ...): never journaled
_READS = "get"


@dataclass
class Handling:
    """The update being handled in this task (the `HANDLING` context variable): where its
    answers go (chat id, callback query id, inline query id, inline message id), how many
    answering calls were made so far, and the calls an earlier run journaled
    ({seq: (method, result)}, see bot.store.inbox)."""

    update_id: int
    chat_id: int | None
    query_ids: frozenset[str]
    replay: dict[int, tuple[str, Any]] = field(default_factory=dict)
    seq: int = 0

    def answers(self, endpoint: str, data: JSONDict) -> bool:
        """True when the call `endpoint` with `data` answers this update."""
        if endpoint.startswith(_READS):
            return False
        chat = data.get("chat_id")
        if chat is not None and self.chat_id is not None and str(chat) == str(self.chat_id):
            return True
        return any(
            str(data[key]) in self.query_ids
            for key in ("callback_query_id", "inline_query_id", "inline_message_id")
            if data.get(key) is not None
        )


HANDLING: contextvars.ContextVar[Handling | None] = contextvars.ContextVar(
    "handling", default=None
)


def handling(update: Update, replay: dict[int, tuple[str, Any]]) -> Handling:
    """The Handling of `update`, with the calls journaled by an earlier run."""
    chat = update.effective_chat
    ids = set()
    if update.callback_query is not None:
        ids.add(update.callback_query.id)
        if update.callback_query.inline_message_id:
            ids.add(update.callback_query.inline_message_id)
    if update.inline_query is not None:
        ids.add(update.inline_query.id)
    return Handling(update.update_id, chat.id if chat else None, frozenset(ids), replay)


def update_kind(raw: JSONDict) -> str:
    """The update's type: its one field besides update_id ("message", "callback_query", ...)."""
    return next((key for key in raw if key != "update_id"), "unknown")


async def accept(store: Store, bot: ExtBot[Any], raw_updates: Sequence[JSONDict]) -> list[Update]:
    """Store a batch of updates (Telegram's JSON objects) in the inbox, in one transaction,
    and return the new ones as `Update` objects, in the order given.

    Already known update_ids (a redelivery) are skipped. An update that has no integer
    update_id, or that this python-telegram-bot version cannot build, is logged in one line
    (update id and kind), marked handled when stored, and skipped. Raises what the store
    raises (aiosqlite/sqlite3 errors) when the batch cannot be stored: nothing is returned
    then, so the caller must not acknowledge the batch.
    """
    rows: dict[int, InboxRow] = {}
    for raw in raw_updates:
        update_id = raw.get("update_id") if isinstance(raw, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            kind = update_kind(raw) if isinstance(raw, dict) else type(raw).__name__
            logger.warning("Skipped an update without an update_id (%s)", kind)
            continue
        text = json.dumps(raw, ensure_ascii=False, separators=(",", ":"))
        rows.setdefault(update_id, InboxRow(update_id, update_kind(raw), text))
    fresh = await store.inbox.add_new(list(rows.values()))
    for update_id in fresh:
        metrics.UPDATES.labels(rows[update_id].kind).inc()
    updates, unreadable = [], []
    for update_id, row in rows.items():
        if update_id not in fresh:
            continue
        update = parse(row, bot)
        if update is None:
            unreadable.append(update_id)
        else:
            updates.append(update)
    if unreadable:
        await store.inbox.mark_handled(unreadable)
    return updates


def parse(row: InboxRow, bot: ExtBot[Any]) -> Update | None:
    """Build the Update of a stored row, or log one line and return None when this
    python-telegram-bot version cannot build it."""
    try:
        update = Update.de_json(json.loads(row.raw), bot)
    except Exception as exc:  # any failure inside PTB's de_json: the update is unreadable
        logger.warning(
            "Skipped update %s (%s): python-telegram-bot cannot read it (%s: %s)",
            row.update_id,
            row.kind,
            type(exc).__name__,
            str(exc)[:120],
        )
        return None
    bot.insert_callback_data(update)
    return update


@dataclass
class PollState:
    """InboxBot's mutable part: the store once open (None: plain PTB polling), the next
    offset to ask for, time.monotonic() of the first and the latest successful getUpdates,
    and whether
    the runner is stopping (the next call only acknowledges)."""

    store: Store | None = None
    next_offset: int = 0
    last_poll: float | None = None
    first_poll: float | None = None
    stopping: bool = False


class InboxBot(ExtBot[Any]):
    """ExtBot whose `get_updates` goes through the durable inbox once `inbox.store` is set.

    It asks Telegram for raw JSON (one getUpdates call), stores the batch with `accept`
    and returns only the new, readable updates. Its offset is never behind the highest
    update_id received, so a batch of only known or unreadable updates is still
    acknowledged at the next call. `last_poll` is the time.monotonic() of the latest
    successful getUpdates (None before the first).
    """

    __slots__ = ("inbox",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        with self._unfrozen():
            self.inbox = PollState()

    @property
    def last_poll(self) -> float | None:
        """time.monotonic() of the latest successful getUpdates; until the first one
        returns, of the first call; None before polling began."""
        return self.inbox.last_poll or self.inbox.first_poll

    async def get_updates(
        self,
        offset: int | None = None,
        limit: int | None = None,
        timeout: int | dtm.timedelta | None = None,  # noqa: ASYNC109 - PTB's signature
        allowed_updates: Sequence[str] | None = None,
        *,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
        api_kwargs: JSONDict | None = None,
    ) -> tuple[Update, ...]:
        """getUpdates through the inbox: see the class.

        Raises TelegramError as PTB does; NetworkError when the batch cannot be stored (the
        Updater then backs off and asks again with the same offset).
        """
        state = self.inbox
        if state.store is None:
            return await super().get_updates(
                offset,
                limit,
                timeout,
                allowed_updates,
                read_timeout=read_timeout,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
                api_kwargs=api_kwargs,
            )
        if state.first_poll is None:
            state.first_poll = time.monotonic()
        if offset is not None and offset >= 0:
            offset = max(offset, state.next_offset)
        seconds = timeout.total_seconds() if isinstance(timeout, dtm.timedelta) else timeout
        base = (
            read_timeout
            if isinstance(read_timeout, int | float)
            else self._request[0].read_timeout
        )
        data: JSONDict = {
            "timeout": seconds,
            "offset": offset,
            "limit": limit,
            "allowed_updates": allowed_updates,
        }
        if state.stopping:
            # the Updater's last call, only to acknowledge: everything is stored already, so
            # it gets a short timeout and a failure costs nothing but a redelivery
            data["timeout"], base, seconds = 0, ACK_TIMEOUT, 0
        try:
            raw = await self._post(
                "getUpdates",
                data,
                read_timeout=(base or 0) + (seconds or 0),
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=ACK_TIMEOUT if state.stopping else pool_timeout,
                api_kwargs=api_kwargs,
            )
        except TelegramError as exc:
            if not state.stopping:
                raise
            logger.info("Last acknowledgement not sent (%s): stored updates may come again", exc)
            return ()
        batch: list[JSONDict] = raw if isinstance(raw, list) else []
        try:
            updates = await accept(state.store, self, batch)
        except Exception as exc:  # the store failed: nothing is acknowledged, poll again
            raise NetworkError(f"cannot store updates in the inbox ({exc})") from exc
        state.last_poll = time.monotonic()
        ids = [u["update_id"] for u in batch if isinstance(u.get("update_id"), int)]
        if ids:
            state.next_offset = max(state.next_offset, max(ids) + 1)
        return tuple(updates)

    async def _do_post(
        self,
        endpoint: str,
        data: JSONDict,
        *,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
    ) -> bool | JSONDict | list[JSONDict]:
        """PTB's request path, counting failures (metrics.API_ERRORS) and chart sends.

        A call that answers the update being handled (see `Handling`) is journaled in the
        inbox as soon as Telegram's result arrives; when an earlier run journaled the same
        call (same place in the sequence, same method), its result is returned and nothing
        is sent. Inside `telegram_policy.result_unused()` a sent or edited message comes
        back as True (journaled so), and python-telegram-bot builds no Message from it.
        """
        timeouts = {
            "read_timeout": read_timeout,
            "write_timeout": write_timeout,
            "connect_timeout": connect_timeout,
            "pool_timeout": pool_timeout,
        }
        data = with_keyboard_text(data)
        current = HANDLING.get()
        store = self.inbox.store
        # inside telegram_policy.result_unused(): PTB gets True, so it builds no Message
        unused = is_result_unused()
        result: bool | JSONDict | list[JSONDict]
        if current is None or store is None or not current.answers(endpoint, data):
            result = await self._post_counted(endpoint, data, **timeouts)
            return True if unused and isinstance(result, dict) else result
        seq = current.seq
        current.seq += 1
        earlier = current.replay.get(seq)
        if earlier is not None and earlier[0] == endpoint:
            logger.info(
                "Update %s: %s sent before the restart, not again", current.update_id, endpoint
            )
            result = earlier[1]
            return result
        result = await self._post_counted(endpoint, data, **timeouts)
        if unused and isinstance(result, dict):
            result = True
        store.inbox.record_sent(current.update_id, seq, endpoint, result)
        # let the other answers that arrived with this one be journaled before any of
        # their handlers goes on
        await asyncio.sleep(0)
        return result

    async def _post_counted(
        self,
        endpoint: str,
        data: JSONDict,
        *,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
    ) -> bool | JSONDict | list[JSONDict]:
        """ExtBot's _do_post, counting failures and chart sends."""
        try:
            result = await super()._do_post(
                endpoint,
                data,
                read_timeout=read_timeout,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
            )
        except TelegramError as exc:
            metrics.API_ERRORS.labels(endpoint, type(exc).__name__).inc()
            raise
        if endpoint == "sendPhoto":
            metrics.CHART_SENDS.inc()
        return result


class LeanApplication(Application[Any, Any, Any, Any, Any, Any]):
    """PTB's Application that keeps no ids for a persistence when it has none.

    PTB notes the id of the chat and of the user of every handled update (and of every job,
    and every dropped user_data or chat_data entry) for its persistence's next run, which
    empties those sets; without a persistence that run never comes, so each chat and user
    ever seen would stay in memory (about 330 bytes a new reader). With a persistence it
    behaves as PTB's Application.
    """

    def _mark_for_persistence_update(
        self, *, update: object | None = None, job: Job[Any] | None = None
    ) -> None:
        if self.persistence is not None:
            super()._mark_for_persistence_update(update=update, job=job)

    def drop_user_data(self, user_id: int) -> None:
        """Drop `user_id`'s user_data entry (PTB's), noting nothing for a persistence when
        there is none."""
        super().drop_user_data(user_id)
        if self.persistence is None:
            self._user_ids_to_be_deleted_in_persistence.discard(user_id)

    def drop_chat_data(self, chat_id: int) -> None:
        """Drop `chat_id`'s chat_data entry (PTB's), noting nothing for a persistence when
        there is none."""
        super().drop_chat_data(chat_id)
        if self.persistence is None:
            self._chat_ids_to_be_deleted_in_persistence.discard(chat_id)


class UpdateQueue(asyncio.Queue[object]):
    """The Application's update queue, bounded twice: at most `maxsize` items waiting, and
    taking an Update out also takes one of the processor's `max_pending` slots (waiting
    until one is free), so the Application never holds more than that many updates."""

    def __init__(self, maxsize: int, slots: asyncio.Semaphore) -> None:
        super().__init__(maxsize)
        self._slots = slots

    async def get(self) -> object:
        """The next item; for an Update, once a processing slot is free."""
        item = await super().get()
        if isinstance(item, Update):
            await self._slots.acquire()
        return item

    def drop_waiting(self) -> int:
        """Remove every waiting item (they stay in the inbox); returns how many."""
        dropped = 0
        while not self.empty():
            self.get_nowait()
            self.task_done()
            dropped += 1
        return dropped


def order_keys(update: object) -> tuple[tuple[str, int], ...]:
    """What an update must wait for: its chat and its user ("c", id) / ("u", id)."""
    if not isinstance(update, Update):
        return ()
    keys = []
    if update.effective_chat is not None:
        keys.append(("c", update.effective_chat.id))
    if update.effective_user is not None:
        keys.append(("u", update.effective_user.id))
    return tuple(keys)


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Concurrent handling with per-chat and per-user arrival order (see the module).

    `max_concurrent` updates run at once; `max_pending` bounds the updates held in memory
    (running or waiting for their chat), see UpdateQueue. `on_handled` is awaited after
    an update's handlers have finished (the inbox's done mark). After `stop_taking()` an
    update that has not started yet is not started: it stays unhandled in the inbox.
    """

    def __init__(self, max_concurrent: int, max_pending: int) -> None:
        # PTB's own semaphore never waits: `slots` (taken by UpdateQueue) is the bound
        super().__init__(max_pending)
        self.max_running = max_concurrent
        self.slots = asyncio.Semaphore(max_pending)
        self._running = asyncio.Semaphore(max_concurrent)
        self._tails: dict[tuple[str, int], asyncio.Future[None]] = {}
        self._active: set[asyncio.Task[Any]] = set()
        self.on_handled: OnHandled | None = None
        self.taking = True

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for the earlier updates of the same chat and user, then run `coroutine`
        within the concurrency bound, then mark the update handled."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        keys = order_keys(update)
        before = {id(f): f for k in keys if (f := self._tails.get(k)) is not None}
        for key in keys:
            self._tails[key] = done
        try:
            if before:
                await asyncio.wait(before.values())
            if not self.taking:
                _close(coroutine)
                return
            async with self._running:
                if not self.taking:
                    _close(coroutine)
                    return
                task = asyncio.current_task()
                if task is not None:
                    self._active.add(task)
                token = await _begin(update)
                try:
                    with metrics.HANDLER_SECONDS.time():
                        await coroutine
                        if self.on_handled is not None and isinstance(update, Update):
                            await self.on_handled(update)
                finally:
                    if token is not None:
                        HANDLING.reset(token)
                    if task is not None:
                        self._active.discard(task)
        finally:
            done.set_result(None)
            for key in keys:
                if self._tails.get(key) is done:
                    del self._tails[key]
            if isinstance(update, Update):
                self.slots.release()

    def stop_taking(self) -> None:
        """Start no more updates; those running go on."""
        self.taking = False

    @property
    def running_count(self) -> int:
        """How many updates' handlers are running now."""
        return len(self._active)

    def cancel_running(self) -> int:
        """Cancel the handlers still running (shutdown budget spent); returns how many."""
        for task in self._active:
            task.cancel()
        return len(self._active)

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""


async def _begin(update: object) -> contextvars.Token[Handling | None] | None:
    """Make `update` the one being handled in this task when it came through the inbox
    (its bot is an InboxBot with the store open); returns the token to reset, or None.
    Never raises: when the journal cannot be read, the update is handled with nothing to
    replay (one line logged)."""
    if not isinstance(update, Update):
        return None
    try:
        bot = update.get_bot()
    except RuntimeError:  # built without a bot
        return None
    if not isinstance(bot, InboxBot) or bot.inbox.store is None:
        return None
    try:
        replay = await bot.inbox.store.inbox.sent_before(update.update_id)
    except Exception as exc:  # the inbox is unreadable: handle it anyway, replaying nothing
        logger.warning("Update %s: journal unreadable (%s)", update.update_id, exc)
        replay = {}
    return HANDLING.set(handling(update, replay))


def _close(coroutine: Awaitable[Any]) -> None:
    """Drop a handler coroutine that will not run (no 'never awaited' warning)."""
    if isinstance(coroutine, Coroutine):
        coroutine.close()


class ChatFloodRateLimiter(AIORateLimiter):
    """PTB's AIORateLimiter (overall and per-group rates), with flood control per chat.

    A RetryAfter (429) answer to a request with a chat_id makes that chat's requests wait
    the given time and retries up to `max_retries` times; requests for other chats go on.
    Other requests keep AIORateLimiter's behaviour. After the last retry the RetryAfter is
    raised to the handler (the error handler logs one line).
    """

    def __init__(self, overall_max_rate: float, max_retries: int = 3) -> None:
        super().__init__(overall_max_rate=overall_max_rate, max_retries=max_retries)
        self._retries = max_retries
        self._chat_ready: dict[int | str, float] = {}

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        """Run one Bot API request within the rates; see the class for RetryAfter."""
        chat_id = data.get("chat_id")
        if chat_id is None or data.get("allow_paid_broadcast"):
            return await super().process_request(
                callback, args, kwargs, endpoint, data, rate_limit_args
            )
        with contextlib.suppress(ValueError, TypeError):
            chat_id = int(chat_id)
        group: int | str | bool = (isinstance(chat_id, int) and chat_id < 0) or isinstance(
            chat_id, str
        )
        group = chat_id if group else False
        retries = rate_limit_args or self._retries
        for attempt in range(retries + 1):
            wait = self._chat_ready.get(chat_id, 0.0) - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                # PTB's own rate limiting (overall, per group) around the request
                return await self._run_request(
                    chat=True,
                    group=group,
                    allow_paid_broadcast=False,
                    callback=callback,
                    args=args,
                    kwargs=kwargs,
                )
            except RetryAfter as exc:
                if attempt == retries:
                    raise
                seconds = exc.retry_after
                delay = seconds.total_seconds() if isinstance(seconds, dtm.timedelta) else seconds
                logger.info("Flood control for one chat: waiting %.1f s", delay)
                ready = time.monotonic() + delay + 0.1
                self._chat_ready[chat_id] = max(self._chat_ready.get(chat_id, 0.0), ready)
            finally:
                now = time.monotonic()
                if len(self._chat_ready) > 1024:
                    for key in [k for k, v in self._chat_ready.items() if v < now]:
                        del self._chat_ready[key]
        raise AssertionError("unreachable")  # pragma: no cover
