"""`Emulator`: an offline Telegram Bot API for tests and the console.

It answers python-telegram-bot's requests in process with Bot API JSON, records every call
as an `ApiCall`, builds the updates users would cause, and can inject Telegram's failures.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from telegram import Update
from telegram.ext import Application

from bot.emulator.api_messages import MessageMethods
from bot.emulator.api_other import BotMethods, ChatMethods, PollingMethods, QueryMethods
from bot.emulator.errors import ApiError, UnsupportedMethodError
from bot.emulator.request import EmulatorRequest
from bot.emulator.state import ApiCall, FileMap, JSONDict, clone, member_json
from bot.emulator.updates import UpdateBuilders

Handler = Callable[[JSONDict, FileMap], Any]
AnyApplication = Application[Any, Any, Any, Any, Any, Any]
_PROFILE_METHODS = (
    "setMyName",
    "getMyName",
    "setMyDescription",
    "getMyDescription",
    "setMyShortDescription",
    "getMyShortDescription",
)


class Emulator(
    UpdateBuilders, MessageMethods, BotMethods, ChatMethods, QueryMethods, PollingMethods
):
    """An in-process Telegram for one bot.

    Build the application with `ApplicationBuilder().token(...).request(emu.request)
    .get_updates_request(emu.request)`, create people and chats with `user()`, `group()`...,
    feed updates with `process()` (or `queue()` for polling) and inspect `calls`, `sent()`,
    `last_sent()`, `chat_messages()`.

    Bot messages as stored by the emulator carry two extra keys that are never sent to the
    bot: `html`, the text or caption exactly as the bot sent it (the HTML source with
    parse_mode=HTML), and `force_reply` / `reply_keyboard` for non-inline reply markup.
    `text` is what Telegram returns: the plain text with tags removed and entities decoded.
    """

    def __init__(
        self,
        bot_id: int = 7000000001,
        bot_username: str = "beijing_ai_bot",
        bot_name: str = "Beijing AI",
    ) -> None:
        super().__init__(bot_id, bot_username, bot_name)
        self._failures: dict[str, list[ApiError]] = {}
        self._seq = itertools.count()
        self._handlers = self._method_table()
        self.request = EmulatorRequest(self)

    def make_request(self, read_timeout: float | None = 5.0) -> EmulatorRequest:
        """Another BaseRequest bound to this emulator (e.g. with a different read timeout)."""
        return EmulatorRequest(self, read_timeout)

    def _method_table(self) -> dict[str, Handler]:
        table: dict[str, Handler] = {
            "getMe": self.api_get_me,
            "close": self.api_true,
            "logOut": self.api_true,
            "setWebhook": self.api_set_webhook,
            "deleteWebhook": self.api_delete_webhook,
            "getWebhookInfo": self.api_get_webhook_info,
            "setMyCommands": self.api_set_my_commands,
            "getMyCommands": self.api_get_my_commands,
            "deleteMyCommands": self.api_delete_my_commands,
            "setChatMenuButton": self.api_set_chat_menu_button,
            "getChatMenuButton": self.api_get_chat_menu_button,
            "sendMessage": self.api_send_message,
            "sendPhoto": self.api_send_photo,
            "sendDocument": self.api_send_document,
            "sendChatAction": self.api_send_chat_action,
            "editMessageText": self.api_edit_message_text,
            "editMessageCaption": self.api_edit_message_caption,
            "editMessageReplyMarkup": self.api_edit_message_reply_markup,
            "deleteMessage": self.api_delete_message,
            "deleteMessages": self.api_delete_messages,
            "getFile": self.api_get_file,
            "answerCallbackQuery": self.api_answer_callback_query,
            "answerInlineQuery": self.api_answer_inline_query,
            "getChat": self.api_get_chat,
            "getChatMember": self.api_get_chat_member,
            "getChatAdministrators": self.api_get_chat_administrators,
            "getChatMemberCount": self.api_get_chat_member_count,
            "leaveChat": self.api_leave_chat,
            "pinChatMessage": self.api_pin,
            "unpinChatMessage": self.api_pin,
        }
        for name in _PROFILE_METHODS:
            profile = self.api_set_profile_text if name.startswith("set") else None
            table[name] = _bind_profile(profile or self.api_get_profile_text, name)
        return table

    # -- the transport's entry point ---------------------------------------------------------

    async def dispatch(
        self, method: str, params: JSONDict, files: FileMap
    ) -> tuple[int, JSONDict]:
        """Answer one Bot API call: (HTTP status, Telegram-shaped JSON body); records it.

        Raises UnsupportedMethodError for an unknown method (after recording it).
        """
        call = ApiCall(method, clone(params), files, seq=next(self._seq))
        self.calls.append(call)
        try:
            result = await self._answer(method, params, files)
        except ApiError as exc:
            call.error, call.error_code = exc.description, exc.code
            return exc.code, exc.payload()
        except UnsupportedMethodError as exc:
            call.error, call.error_code = str(exc), 404
            raise
        except ConnectionResetError as exc:
            call.error, call.error_code = str(exc), 0
            raise
        call.result = clone(result)
        return 200, {"ok": True, "result": result}

    async def _answer(self, method: str, params: JSONDict, files: FileMap) -> Any:
        failures = self._failures.get(method)
        if failures:
            failure = failures.pop(0)
            if failure.code == 0:
                raise ConnectionResetError(failure.description)
            raise failure
        if method == "getUpdates":
            return await self.api_get_updates(params, files)
        handler = self._handlers.get(method)
        if handler is None:
            raise UnsupportedMethodError(method)
        return handler(params, files)

    # -- driving an Application --------------------------------------------------------------

    async def process(self, app: AnyApplication, update: JSONDict) -> list[ApiCall]:
        """Let an initialized `app` handle one update; returns the calls made meanwhile.

        Calls from handlers running with block=False may land after this returns.
        """
        first = next(self._seq)
        await app.process_update(Update.de_json(clone(update), app.bot))
        made = []
        for call in reversed(self.calls):  # only the newest calls: O(calls made), not O(all)
            if call.seq <= first:
                break
            made.append(call)
        return made[::-1]

    # -- inspection --------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[ApiCall]:
        """The recorded calls of one Bot API method, oldest first."""
        return [call for call in self.calls if call.method == method]

    def failed_calls(self) -> list[ApiCall]:
        """The recorded calls that got an error."""
        return [call for call in self.calls if call.error is not None]

    def sent(self, chat_id: int | None = None) -> list[JSONDict]:
        """Messages the bot sent (sendMessage/sendPhoto/sendDocument), as they were when sent,
        oldest first; only those in `chat_id` if given. Includes the `html` key."""
        return [
            clone(message)
            for message in self._sent
            if chat_id is None or message["chat"]["id"] == chat_id
        ]

    def last_sent(self, chat_id: int) -> JSONDict:
        """The bot's latest message in the chat, as it is now (edits applied).

        Raises LookupError if the bot has no (undeleted) message there.
        """
        state = self.chats.get(chat_id)
        for message in reversed(list(state.messages.values()) if state else []):
            if self.is_bot_message(message):
                return clone(message)
        raise LookupError(f"the bot has no message in chat {chat_id}")

    def chat_messages(self, chat_id: int) -> list[JSONDict]:
        """Every undeleted message in the chat (users' and bot's), current state, in order."""
        state = self.chats.get(chat_id)
        return [clone(m) for m in state.messages.values()] if state else []

    def callback_answer(self, update: JSONDict) -> JSONDict | None:
        """The answerCallbackQuery params for a callback update, or None if unanswered."""
        return self.callback_answers.get(str(update["callback_query"]["id"]))

    def clear_calls(self) -> None:
        """Forget recorded calls and sent() snapshots (chats and messages stay)."""
        self.calls.clear()
        self._sent.clear()

    # -- failure injection -------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        code: int,
        description: str,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls of `method` fail with this Telegram error.

        `description` is the full text ("Too Many Requests: retry after 3"); `retry_after`
        (seconds) makes python-telegram-bot raise RetryAfter. Code 0 drops the connection
        instead: the transport raises ConnectionResetError(description).
        """
        parameters = {"retry_after": retry_after} if retry_after else None
        failures = self._failures.setdefault(method, [])
        failures.extend(ApiError(code, description, parameters) for _ in range(times))

    def flood_chat(self, chat_id: int, retry_after: int = 1, times: int = 1) -> None:
        """Flood control in one chat: the next `times` sends or edits there get 429 "Too Many
        Requests: retry after N" with retry_after = N seconds (PTB raises RetryAfter)."""
        self.flood.setdefault(chat_id, []).extend([retry_after] * times)

    def advance(self, seconds: float) -> None:
        """Move the emulated time forward (message dates, callback-query expiry)."""
        self.offset += seconds

    def block_user(self, user_id: int) -> None:
        """The user blocked the bot: sends to their private chat get 403."""
        self.blocked.add(user_id)

    def unblock_user(self, user_id: int) -> None:
        """The user unblocked (restarted) the bot."""
        self.blocked.discard(user_id)
        self.not_started.discard(user_id)

    def never_started(self, user_id: int) -> None:
        """The user never pressed Start: sends to them get 403 "can't initiate conversation"."""
        self.not_started.add(user_id)

    def set_chat_admin(
        self, chat_id: int, user_id: int, can_post: bool = True, owner: bool = False
    ) -> None:
        """Make a known user (or the bot) an administrator, or the creator, of a chat.

        Raises KeyError for an unknown chat or user.
        """
        state = self.chats[chat_id]
        user = self.bot_user if user_id == self.bot_id else self.users[user_id]
        status = "creator" if owner else "administrator"
        state.members[user_id] = member_json(user, status, can_post=can_post)

    def remove_bot_from(self, chat_id: int, kicked: bool = False) -> None:
        """The bot left (or was kicked from) a group or channel: sends there get 403."""
        status = "kicked" if kicked else "left"
        self.chats[chat_id].members[self.bot_id] = member_json(self.bot_user, status)


def _bind_profile(method: Callable[[str, JSONDict], Any], name: str) -> Handler:
    """A table handler for the set/get profile-text methods, which need the method name."""

    def handler(params: JSONDict, files: FileMap) -> Any:
        return method(name, params)

    return handler
