"""Builders for people, chats and incoming updates (what users do), as Bot API JSON dicts.

Every update builder stores the message it carries, so the bot's later replies, edits and
callback queries can refer to it, and returns a fresh Update dict with a growing update_id.
"""

from __future__ import annotations

from bot.emulator.entities import command_entities
from bot.emulator.state import (
    PRESENT,
    ChatState,
    EmulatorState,
    JSONDict,
    clean,
    clone,
    member_json,
    private_chat_json,
)

# Telegram's service accounts that appear as `from` of anonymous or forwarded posts
_ANONYMOUS_ADMIN = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}
_TELEGRAM = {"id": 777000, "is_bot": False, "first_name": "Telegram"}


class UpdateBuilders(EmulatorState):
    """People, chats and the updates they cause."""

    # -- people and chats --------------------------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str,
        language_code: str | None = None,
        username: str | None = None,
        last_name: str | None = None,
        is_bot: bool = False,
        started: bool = True,
    ) -> JSONDict:
        """A User dict, remembered so the bot may message them (as if they pressed Start);
        with `started=False` the bot may not, until they write to it in private."""
        user: JSONDict = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
        optional = {"last_name": last_name, "username": username, "language_code": language_code}
        user.update({key: value for key, value in optional.items() if value})
        self.users[user_id] = user
        if not started:
            self.not_started.add(user_id)
        return clone(user)

    def private_chat(self, user: JSONDict) -> JSONDict:
        """The private Chat dict with `user` (id == user id)."""
        return clone(self.register_chat(private_chat_json(user)).chat)

    def group(
        self,
        chat_id: int,
        title: str,
        supergroup: bool = False,
        forum: bool = False,
        username: str | None = None,
    ) -> JSONDict:
        """A group (or supergroup, optionally a forum) Chat dict; the bot is a member."""
        chat: JSONDict = {
            "id": chat_id,
            "type": "supergroup" if supergroup or forum else "group",
            "title": title,
        }
        if username:
            chat["username"] = username
        if forum:
            chat["is_forum"] = True
        return clone(self.register_chat(chat).chat)

    def channel(self, chat_id: int, title: str, username: str | None = None) -> JSONDict:
        """A channel Chat dict; the bot is an administrator allowed to post."""
        chat: JSONDict = {"id": chat_id, "type": "channel", "title": title}
        if username:
            chat["username"] = username
        return clone(self.register_chat(chat).chat)

    # -- messages ----------------------------------------------------------------------------

    def message(
        self,
        user: JSONDict | None,
        chat: JSONDict,
        text: str,
        reply_to: JSONDict | int | None = None,
        thread_id: int | None = None,
        is_topic: bool = False,
        sender_chat: JSONDict | None = None,
        is_automatic_forward: bool = False,
        forward_origin_chat: JSONDict | None = None,
        forward_origin_message_id: int = 1,
    ) -> JSONDict:
        """A `message` update: `user` writes `text` in `chat`.

        `/commands` get bot_command entities. `reply_to` is a message dict or an id in `chat`
        (KeyError if unknown). The message joins `thread_id` if given, else the thread of the
        message it replies to. `user=None` with `sender_chat` is an anonymous admin. A forward
        from a channel names the channel post `forward_origin_message_id`.
        """
        state = self.register_chat(chat)
        message = self._new_message(state, user, sender_chat)
        message["text"] = text
        entities = command_entities(text)
        if entities:
            message["entities"] = entities
        if reply_to is not None:
            self.attach_reply(state, message, self.current(reply_to, state.id))
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            if is_topic:
                message["is_topic_message"] = True
        if is_automatic_forward:
            message["is_automatic_forward"] = True
        if forward_origin_chat is not None:
            origin = self._forward_origin(forward_origin_chat, forward_origin_message_id)
            message["forward_origin"] = origin
        return self._update("message", self.store_message(state, message))

    def channel_post(self, channel: JSONDict, text: str) -> JSONDict:
        """A `channel_post` update: a post in `channel` (no `from`, sender_chat = channel)."""
        state = self.register_chat(channel)
        message = self._new_message(state, None, state.chat)
        message["text"] = text
        entities = command_entities(text)
        if entities:
            message["entities"] = entities
        return self._update("channel_post", self.store_message(state, message))

    def edited_message(self, message: JSONDict, new_text: str) -> JSONDict:
        """An `edited_message` (or `edited_channel_post`) update with the new text stored."""
        stored = self.current(message)
        stored["text"] = new_text
        stored.pop("entities", None)
        entities = command_entities(new_text)
        if entities:
            stored["entities"] = entities
        stored["edit_date"] = self.now()
        kind = "edited_channel_post" if stored["chat"]["type"] == "channel" else "edited_message"
        return self._update(kind, stored)

    def _new_message(
        self, state: ChatState, user: JSONDict | None, sender_chat: JSONDict | None
    ) -> JSONDict:
        """A message skeleton from `user` in `state`'s chat; registers the author."""
        message: JSONDict = {
            "message_id": state.new_message_id(),
            "date": self.now(),
            "chat": clone(state.chat),
        }
        if user is None and sender_chat is not None and state.type != "channel":
            user = _ANONYMOUS_ADMIN if sender_chat["id"] == state.id else _TELEGRAM
        if user is not None:
            message["from"] = clone(user)
            self.users.setdefault(int(user["id"]), clone(user))
            if state.type == "private":  # writing to the bot starts it
                self.not_started.discard(int(user["id"]))
            if state.type in ("group", "supergroup"):
                state.members.setdefault(int(user["id"]), member_json(user, "member"))
        if sender_chat is not None:
            message["sender_chat"] = clone(sender_chat)
        return message

    def _forward_origin(self, origin: JSONDict, message_id: int = 1) -> JSONDict:
        """A MessageOrigin for a message forwarded from `origin` (a chat)."""
        if origin.get("type") == "channel":
            return {
                "type": "channel",
                "chat": origin,
                "message_id": message_id,
                "date": self.now(),
            }
        return {"type": "chat", "sender_chat": origin, "date": self.now()}

    # -- queries -----------------------------------------------------------------------------

    def callback(
        self, user: JSONDict, message: JSONDict | None, data: str, inline_message_id: str = ""
    ) -> JSONDict:
        """A `callback_query` update: `user` pressed a button with `data` under `message`.

        The query carries the message's current state (after the bot's edits). Pass
        `message=None` and `inline_message_id` for a button under an inline-mode message.
        """
        query_id = str(4_000_000_000_000 + self.next_id())
        query: JSONDict = {"id": query_id, "from": clone(user), "data": data}
        if message is not None:
            stored = self.current(message)
            query["message"] = clean(stored)
            query["chat_instance"] = str(-(10**12) + int(stored["chat"]["id"]))
        else:
            query["inline_message_id"] = inline_message_id
            query["chat_instance"] = "0"
        self._open_callbacks[query_id] = self.time()
        return self._update("callback_query", query)

    def press(self, user: JSONDict, message: JSONDict, button: str | int) -> JSONDict:
        """A callback update for pressing the inline button labelled `button` (exact text) or
        the `button`-th one (1-based, rows read left to right) on `message`.

        Raises KeyError if there is no such callback button.
        """
        stored = self.current(message)
        buttons = [
            item
            for row in stored.get("reply_markup", {}).get("inline_keyboard", [])
            for item in row
        ]
        for number, item in enumerate(buttons, start=1):
            if button in (item["text"], number) and "callback_data" in item:
                return self.callback(user, stored, item["callback_data"])
        raise KeyError(f"no callback button {button!r} on message {stored['message_id']}")

    def inline_query(
        self, user: JSONDict, query: str, offset: str = "", chat_type: str = "private"
    ) -> JSONDict:
        """An `inline_query` update: `user` typed `@bot query`."""
        query_id = str(5_000_000_000_000 + self.next_id())
        self._open_inline.add(query_id)
        body: JSONDict = {
            "id": query_id,
            "from": clone(user),
            "query": query,
            "offset": offset,
            "chat_type": chat_type,
        }
        return self._update("inline_query", body)

    # -- membership --------------------------------------------------------------------------

    def my_chat_member(
        self,
        chat: JSONDict,
        by: JSONDict,
        new_status: str,
        old_status: str | None = None,
        can_post: bool = True,
    ) -> JSONDict:
        """A `my_chat_member` update: `by` changed the bot's status in `chat`.

        Statuses: creator, administrator, member, left, kicked. The bot's membership changes
        accordingly (sending to a chat it left fails with 403). `old_status` defaults to the
        bot's current status.
        """
        state = self.register_chat(chat)
        old = old_status or self.bot_status(state)
        new = member_json(self.bot_user, new_status, can_post=can_post)
        state.members[self.bot_id] = new
        return self._member_update("my_chat_member", state, by, self.bot_user, old, new)

    def chat_member_update(
        self,
        chat: JSONDict,
        user: JSONDict,
        new_status: str,
        old_status: str | None = None,
        by: JSONDict | None = None,
    ) -> JSONDict:
        """A `chat_member` update: `user`'s status in `chat` changed (by `by`, default self)."""
        state = self.register_chat(chat)
        previous = state.members.get(int(user["id"]))
        old = old_status or (str(previous["status"]) if previous else "left")
        new = member_json(user, new_status)
        state.members[int(user["id"])] = new
        return self._member_update("chat_member", state, by or user, user, old, new)

    def _member_update(
        self, kind: str, state: ChatState, by: JSONDict, user: JSONDict, old: str, new: JSONDict
    ) -> JSONDict:
        body: JSONDict = {
            "chat": clone(state.chat),
            "from": clone(by),
            "date": self.now(),
            "old_chat_member": member_json(user, old),
            "new_chat_member": new,
        }
        return self._update(kind, body)

    def migrate(
        self, group: JSONDict, new_supergroup_id: int, by: JSONDict | None = None
    ) -> list[JSONDict]:
        """A group becomes a supergroup: returns the two `message` updates Telegram sends,
        migrate_to_chat_id in the old group, then migrate_from_chat_id in the new supergroup.

        Members move over; sending to the old id then fails with ChatMigrated.
        """
        old = self.register_chat(group)
        author = by or _ANONYMOUS_ADMIN
        new_chat: JSONDict = {"id": new_supergroup_id, "type": "supergroup"}
        new_chat["title"] = old.chat.get("title", "")
        new = self.register_chat(new_chat)
        new.members.update(clone(old.members))
        to_message = self._new_message(old, author, None)
        to_message["migrate_to_chat_id"] = new_supergroup_id
        first = self._update("message", self.store_message(old, to_message))
        old.migrated_to = new_supergroup_id
        from_message = self._new_message(new, author, None)
        from_message["migrate_from_chat_id"] = old.id
        return [first, self._update("message", self.store_message(new, from_message))]

    # -- plumbing ----------------------------------------------------------------------------

    def _update(self, kind: str, body: JSONDict) -> JSONDict:
        """An Update dict carrying a copy of `body` (clean of emulator-only keys)."""
        payload = clean(body) if "message_id" in body else clone(body)
        return {"update_id": next(self._update_ids), kind: payload}

    def bot_present(self, chat_id: int) -> bool:
        """Whether the bot is currently a member (or admin) of the chat."""
        state = self.chats.get(chat_id)
        return state is not None and self.bot_status(state) in PRESENT
