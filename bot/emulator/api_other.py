"""Bot API methods about the bot itself, chats and members, queries and polling."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re

from bot.emulator.checks import check_callback_answer, check_reply_markup, format_text
from bot.emulator.errors import ApiError, bad_request, forbidden
from bot.emulator.state import PRESENT, EmulatorState, FileMap, JSONDict, clone, member_json

_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
CALLBACK_ANSWER_SECONDS = 15  # Telegram drops a callback query's answer after this
_QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
_NO_GIFTS = {
    "unlimited_gifts": False,
    "limited_gifts": False,
    "unique_gifts": False,
    "premium_subscription": False,
    "gifts_from_channels": False,
}


class BotMethods(EmulatorState):
    """getMe, close/logOut, commands, menu button, profile texts."""

    def api_get_me(self, params: JSONDict, files: FileMap) -> JSONDict:
        """getMe -> the bot's User."""
        return clone(self.bot_user)

    def api_true(self, params: JSONDict, files: FileMap) -> bool:
        """close, logOut and other calls that only acknowledge -> True."""
        return True

    def api_set_my_commands(self, params: JSONDict, files: FileMap) -> bool:
        """setMyCommands: commands, scope, language_code -> True (checks names/descriptions)."""
        commands = params.get("commands") or []
        if len(commands) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not _COMMAND_NAME.match(str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[_commands_key(params)] = clone(commands)
        return True

    def api_get_my_commands(self, params: JSONDict, files: FileMap) -> list[JSONDict]:
        """getMyCommands: scope, language_code -> the list set for exactly that pair."""
        return clone(self.commands.get(_commands_key(params), []))

    def api_delete_my_commands(self, params: JSONDict, files: FileMap) -> bool:
        """deleteMyCommands: scope, language_code -> True."""
        self.commands.pop(_commands_key(params), None)
        return True

    def my_commands(
        self, scope: JSONDict | None = None, language_code: str = ""
    ) -> list[JSONDict]:
        """The commands set for `scope` (default scope if None) and `language_code`."""
        params = {"scope": scope, "language_code": language_code}
        return clone(self.commands.get(_commands_key(params), []))

    def api_set_chat_menu_button(self, params: JSONDict, files: FileMap) -> bool:
        """setChatMenuButton: chat_id (optional), menu_button -> True."""
        button = params.get("menu_button") or {"type": "default"}
        if "chat_id" in params:
            self.find_chat(params["chat_id"]).menu_button = button
        else:
            self.menu_button = button
        return True

    def api_get_chat_menu_button(self, params: JSONDict, files: FileMap) -> JSONDict:
        """getChatMenuButton: chat_id (optional) -> MenuButton."""
        if "chat_id" in params:
            button = self.find_chat(params["chat_id"]).menu_button
            if button is not None:
                return clone(button)
        return clone(self.menu_button)

    def api_set_profile_text(self, method: str, params: JSONDict) -> bool:
        """setMyName / setMyDescription / setMyShortDescription -> True."""
        field = {"setMyName": "name", "setMyDescription": "description"}.get(
            method, "short_description"
        )
        language = str(params.get("language_code") or "")
        self.profile[f"{field}:{language}"] = str(params.get(field) or "")
        return True

    def api_get_profile_text(self, method: str, params: JSONDict) -> JSONDict:
        """getMyName / getMyDescription / getMyShortDescription -> {field: value}."""
        field = {"getMyName": "name", "getMyDescription": "description"}.get(
            method, "short_description"
        )
        language = str(params.get("language_code") or "")
        return {field: self.profile.get(f"{field}:{language}", "")}


class ChatMethods(EmulatorState):
    """getChat, getChatMember, getChatAdministrators, leaveChat, pins."""

    def api_get_chat(self, params: JSONDict, files: FileMap) -> JSONDict:
        """getChat: chat_id -> ChatFullInfo."""
        state = self.find_chat(params.get("chat_id"))
        info = clone(state.chat)
        info.update(accent_color_id=0, max_reaction_count=11, accepted_gift_types=_NO_GIFTS)
        return info

    def api_get_chat_member(self, params: JSONDict, files: FileMap) -> JSONDict:
        """getChatMember: chat_id, user_id -> ChatMember ("left" for known non-members)."""
        state = self.find_chat(params.get("chat_id"))
        user_id = int(params.get("user_id") or 0)
        if user_id in state.members:
            return clone(state.members[user_id])
        if user_id == self.bot_id:
            return member_json(self.bot_user, "member" if state.type == "private" else "left")
        if user_id not in self.users:
            raise bad_request("user not found")
        status = "member" if state.type == "private" and state.id == user_id else "left"
        return member_json(self.users[user_id], status)

    def api_get_chat_administrators(self, params: JSONDict, files: FileMap) -> list[JSONDict]:
        """getChatAdministrators: chat_id -> the creator and administrators."""
        state = self.find_chat(params.get("chat_id"))
        if state.type == "private":
            raise bad_request("there are no administrators in the private chat")
        if self.bot_status(state) not in PRESENT:
            raise forbidden(f"bot is not a member of the {state.type} chat")
        return [
            clone(member)
            for member in state.members.values()
            if member["status"] in ("creator", "administrator")
        ]

    def api_get_chat_member_count(self, params: JSONDict, files: FileMap) -> int:
        """getChatMemberCount: chat_id -> members the emulator knows (the bot included)."""
        state = self.find_chat(params.get("chat_id"))
        return sum(1 for member in state.members.values() if member["status"] in PRESENT)

    def api_leave_chat(self, params: JSONDict, files: FileMap) -> bool:
        """leaveChat: chat_id -> True; the bot is no longer a member."""
        state = self.find_chat(params.get("chat_id"))
        state.members[self.bot_id] = member_json(self.bot_user, "left")
        return True

    def api_pin(self, params: JSONDict, files: FileMap) -> bool:
        """pinChatMessage / unpinChatMessage: chat_id, message_id -> True."""
        state = self.writable_chat(params.get("chat_id"))
        message_id = params.get("message_id")
        if message_id is not None and int(message_id) not in state.messages:
            raise bad_request("message to pin not found")
        return True


class QueryMethods(EmulatorState):
    """answerCallbackQuery, answerInlineQuery."""

    def api_answer_callback_query(self, params: JSONDict, files: FileMap) -> bool:
        """answerCallbackQuery: callback_query_id, text (<= 200), show_alert -> True.

        A query may be answered once and within CALLBACK_ANSWER_SECONDS of emulated time;
        unknown, answered or expired ids are rejected like Telegram.
        """
        query_id = str(params.get("callback_query_id"))
        sent = self._open_callbacks.get(query_id)
        if sent is None or self.time() - sent > CALLBACK_ANSWER_SECONDS:
            raise bad_request(_QUERY_INVALID)
        check_callback_answer(params.get("text"))
        del self._open_callbacks[query_id]
        self.callback_answers[query_id] = clone(params)
        return True

    def api_answer_inline_query(self, params: JSONDict, files: FileMap) -> bool:
        """answerInlineQuery: inline_query_id, results (<= 50, unique ids) -> True."""
        query_id = str(params.get("inline_query_id"))
        if query_id not in self._open_inline:
            raise bad_request(_QUERY_INVALID)
        results = params.get("results") or []
        if len(results) > 50:
            raise bad_request("RESULTS_TOO_MUCH")
        seen: set[str] = set()
        for result in results:
            _check_inline_result(result, seen)
        self._open_inline.discard(query_id)
        self.inline_answers[query_id] = clone(params)
        return True


class PollingMethods(EmulatorState):
    """getUpdates, webhooks, and the queue that feeds them."""

    def queue(self, update: JSONDict) -> None:
        """Queue an update for getUpdates and wake a waiting long poll."""
        self.pending.append(clone(update))
        if self._wakeup is not None:
            self._wakeup.set()

    async def api_get_updates(self, params: JSONDict, files: FileMap) -> list[JSONDict]:
        """getUpdates: offset (confirms lower ids), limit, timeout (s) -> queued updates.

        With nothing queued it waits up to `timeout` seconds, waking as soon as one is queued.
        409 Conflict while a webhook is set.
        """
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        if offset > 0:
            self.pending = [u for u in self.pending if int(u["update_id"]) >= offset]
        timeout = float(params.get("timeout") or 0)
        if not self.pending and timeout > 0:
            await self._wait_for_update(timeout)
        limit = int(params.get("limit") or 100)
        batch = self.pending[-limit:] if offset < 0 else self.pending[:limit]
        return clone(batch)

    async def _wait_for_update(self, seconds: float) -> None:
        self._wakeup = asyncio.Event()
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await self._wakeup.wait()
        finally:  # also when PTB cancels the poll on shutdown
            self._wakeup = None

    def api_set_webhook(self, params: JSONDict, files: FileMap) -> bool:
        """setWebhook: url, drop_pending_updates -> True."""
        self.webhook_url = str(params.get("url") or "")
        if params.get("drop_pending_updates"):
            self.pending.clear()
        return True

    def api_delete_webhook(self, params: JSONDict, files: FileMap) -> bool:
        """deleteWebhook: drop_pending_updates -> True."""
        self.webhook_url = ""
        if params.get("drop_pending_updates"):
            self.pending.clear()
        return True

    def api_get_webhook_info(self, params: JSONDict, files: FileMap) -> JSONDict:
        """getWebhookInfo -> WebhookInfo (url "" when polling)."""
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self.pending),
        }


def _commands_key(params: JSONDict) -> tuple[str, str]:
    scope = params.get("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")


def _check_inline_result(result: JSONDict, seen: set[str]) -> None:
    """One InlineQueryResult: id 1..64 bytes and unique, markup and message text valid."""
    result_id = str(result.get("id", ""))
    if not 1 <= len(result_id.encode("utf-8")) <= 64:
        raise bad_request("RESULT_ID_INVALID")
    if result_id in seen:
        raise bad_request("RESULT_ID_DUPLICATE")
    seen.add(result_id)
    check_reply_markup(result.get("reply_markup"))
    content = result.get("input_message_content")
    if isinstance(content, dict) and "message_text" in content:
        format_text(content["message_text"], content.get("parse_mode"), content.get("entities"))
