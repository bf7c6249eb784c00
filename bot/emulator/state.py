"""What the emulated Telegram knows: users, chats, messages, files, recorded calls.

Everything is plain Bot API JSON (dicts). `EmulatorState` is the base the update builders and
the Bot API method implementations share; `Emulator` (core.py) is the public face.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.emulator.errors import ApiError, bad_request, forbidden

JSONDict = dict[str, Any]


def clone(value: Any) -> Any:
    """A deep copy of Bot API JSON. A JSON round trip: several times faster than
    copy.deepcopy, which dominated the emulator's cost per update."""
    return json.loads(json.dumps(value))


FileMap = dict[str, tuple[str, bytes, str]]  # part name -> (filename, content, mime type)

# keys the emulator keeps on its own copy of a message but never sends to the bot:
# html = the raw text as sent with parse_mode; force_reply / reply_keyboard = non-inline markup
EXTRA_KEYS = ("html", "force_reply", "reply_keyboard")
PRESENT = ("creator", "administrator", "member", "restricted")
_ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
)


@dataclass
class ApiCall:
    """One Bot API request the bot made.

    `params` are JSON-decoded (reply_markup etc. are dicts), `files` maps multipart part names
    to (filename, bytes, mime type); `result` is the JSON result returned (None on failure),
    `error` the failure description (None on success) and `error_code` its HTTP-like code.
    """

    method: str
    params: JSONDict
    files: FileMap = field(default_factory=dict)
    result: Any = None
    error: str | None = None
    error_code: int | None = None
    seq: int = 0  # position in the emulator's lifetime; survives clear_calls()


@dataclass
class StoredFile:
    """An uploaded file; `data` are the bytes as received."""

    file_id: str
    file_unique_id: str
    kind: str  # "document" | "photo"
    filename: str
    data: bytes
    mime_type: str
    file_path: str


@dataclass
class ChatState:
    """One chat: its Chat JSON, its messages by id (in order) and its members by user id."""

    chat: JSONDict
    messages: dict[int, JSONDict] = field(default_factory=dict)
    members: dict[int, JSONDict] = field(default_factory=dict)
    next_message_id: int = 1
    migrated_to: int | None = None
    menu_button: JSONDict | None = None

    @property
    def id(self) -> int:
        """The chat id."""
        return int(self.chat["id"])

    @property
    def type(self) -> str:
        """private, group, supergroup or channel."""
        return str(self.chat["type"])

    def new_message_id(self) -> int:
        """The next message id in this chat (ids grow per chat, as in supergroups)."""
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


def member_json(user: JSONDict, status: str, *, can_post: bool = True) -> JSONDict:
    """A ChatMember dict for `status` (creator, administrator, member, left, kicked)."""
    member: JSONDict = {"status": status, "user": clone(user)}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        member.update(
            {right: True for right in _ADMIN_RIGHTS},
            can_be_edited=False,
            is_anonymous=False,
            can_promote_members=False,
            can_post_stories=False,
            can_edit_stories=False,
            can_delete_stories=False,
            can_post_messages=can_post,
            can_edit_messages=can_post,
        )
    elif status == "kicked":
        member["until_date"] = 0
    elif status not in ("member", "left"):
        raise ValueError(f"unsupported chat member status {status!r}")
    return member


def clean(message: JSONDict) -> JSONDict:
    """A deep copy of an emulator message without the emulator-only keys (valid Bot API)."""
    result = clone(message)
    for key in EXTRA_KEYS:
        result.pop(key, None)
    reply = result.get("reply_to_message")
    if isinstance(reply, dict):
        result["reply_to_message"] = clean(reply)
    return result


class EmulatorState:
    """Shared state and lookups; subclasses add update builders and Bot API methods."""

    def __init__(self, bot_id: int, bot_username: str, bot_name: str) -> None:
        self.bot_user: JSONDict = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
        }
        self.clock: Callable[[], float] = time.time  # replace for fixed message dates
        self.offset = 0.0  # seconds added to the clock by advance()
        self.users: dict[int, JSONDict] = {}
        self.chats: dict[int, ChatState] = {}
        self.calls: list[ApiCall] = []
        self.files: dict[str, StoredFile] = {}
        self.media: dict[str, Any] = {}  # file_id -> Document dict or PhotoSize list
        self.blocked: set[int] = set()
        self.not_started: set[int] = set()
        self.callback_answers: dict[str, JSONDict] = {}  # query id -> answerCallbackQuery params
        self.inline_answers: dict[str, JSONDict] = {}  # query id -> answerInlineQuery params
        self._open_callbacks: dict[str, float] = {}  # query id -> when it was sent (time())
        self.flood: dict[int, list[int]] = {}  # chat id -> retry_after (s) of the next sends
        self._open_inline: set[str] = set()
        self.webhook_url = ""
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}  # (scope JSON, lang) -> list
        self.profile: dict[str, str] = {}  # setMyName/Description/ShortDescription values
        self.menu_button: JSONDict = {"type": "commands"}
        self.pending: list[JSONDict] = []  # updates queued for getUpdates
        self._wakeup: asyncio.Event | None = None
        self._sent: list[JSONDict] = []  # snapshots as sent, in order
        self._bot_messages: set[tuple[int, int]] = set()  # (chat id, message id) the bot sent
        self._ids = itertools.count(1)  # query ids and file ids
        self._update_ids = itertools.count(1)

    # -- small helpers -----------------------------------------------------------------------

    @property
    def bot_id(self) -> int:
        """The bot's user id."""
        return int(self.bot_user["id"])

    def time(self) -> float:
        """The emulated time (Unix seconds): the clock plus what advance() added."""
        return self.clock() + self.offset

    def now(self) -> int:
        """Unix time for message dates."""
        return int(self.time())

    def next_id(self) -> int:
        """A fresh positive number (query ids and file ids share it)."""
        return next(self._ids)

    # -- chats -------------------------------------------------------------------------------

    def register_chat(self, chat: JSONDict) -> ChatState:
        """The state of `chat`, created on first sight (the bot is then a member)."""
        chat_id = int(chat["id"])
        state = self.chats.get(chat_id)
        if state is None:
            state = ChatState(chat=clone(chat))
            self.chats[chat_id] = state
            if state.type != "private":
                status = "administrator" if state.type == "channel" else "member"
                state.members[self.bot_id] = member_json(self.bot_user, status)
        return state

    def find_chat(self, chat_id: object) -> ChatState:
        """The chat for a Bot API chat_id (int, numeric string or "@username").

        A known user's private chat is created on demand (they pressed Start).
        Raises ApiError 400 "chat not found".
        """
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            name = chat_id[1:].lower()
            for state in self.chats.values():
                if str(state.chat.get("username", "")).lower() == name:
                    return state
            raise bad_request("chat not found")
        try:
            number = int(str(chat_id))
        except ValueError:
            raise bad_request("chat not found") from None
        if number in self.chats:
            return self.chats[number]
        if number in self.users:
            return self.register_chat(private_chat_json(self.users[number]))
        raise bad_request("chat not found")

    def bot_status(self, state: ChatState) -> str:
        """The bot's membership status in a group or channel ("left" if unknown)."""
        member = state.members.get(self.bot_id)
        return str(member["status"]) if member else "left"

    def writable_chat(self, chat_id: object) -> ChatState:
        """The chat, if the bot may send there; else the ApiError Telegram gives."""
        state = self.find_chat(chat_id)
        waits = self.flood.get(state.id)
        if waits:
            retry_after = waits.pop(0)
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )
        if state.migrated_to is not None:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": state.migrated_to},
            )
        if state.type == "private":
            self._check_private(state.id)
            return state
        status = self.bot_status(state)
        if status == "kicked":
            raise forbidden(f"bot was kicked from the {state.type} chat")
        if status not in PRESENT:
            raise forbidden(f"bot is not a member of the {state.type} chat")
        member = state.members[self.bot_id]
        if state.type == "channel" and not member.get("can_post_messages"):
            raise bad_request("need administrator rights in the channel chat")
        return state

    def _check_private(self, user_id: int) -> None:
        if user_id in self.blocked:
            raise forbidden("bot was blocked by the user")
        if user_id in self.not_started:
            raise forbidden("bot can't initiate conversation with a user")

    # -- messages ----------------------------------------------------------------------------

    def store_message(self, state: ChatState, message: JSONDict) -> JSONDict:
        """Keep `message` (its message_id already set) as the chat's latest message."""
        state.messages[int(message["message_id"])] = message
        return message

    def find_message(self, chat_id: int, message_id: int) -> JSONDict | None:
        """The current state of a message, or None if unknown or deleted."""
        state = self.chats.get(chat_id)
        return state.messages.get(message_id) if state else None

    def current(self, message: JSONDict | int, chat_id: int | None = None) -> JSONDict:
        """The stored version of `message` (a dict or an id in `chat_id`).

        Raises KeyError when the emulator does not know that message.
        """
        if isinstance(message, dict):
            chat_id = int(message["chat"]["id"])
            message_id = int(message["message_id"])
        else:
            message_id = message
        found = self.find_message(int(chat_id or 0), message_id)
        if found is None:
            raise KeyError(f"no message {message_id} in chat {chat_id}")
        return found

    def attach_reply(self, state: ChatState, message: JSONDict, replied: JSONDict) -> None:
        """Make `message` a reply to `replied`; it joins the thread `replied` is in."""
        message["reply_to_message"] = clean(replied)
        message["reply_to_message"].pop("reply_to_message", None)  # Telegram nests one level
        if "message_thread_id" in replied:
            message["message_thread_id"] = replied["message_thread_id"]
            if replied.get("is_topic_message"):
                message["is_topic_message"] = True
        elif state.type == "supergroup" and not state.chat.get("is_forum"):
            # a reply chain in a plain supergroup is a thread named after its first message
            message["message_thread_id"] = replied["message_id"]

    def is_bot_message(self, message: JSONDict) -> bool:
        """Whether the bot sent `message` (channel posts by the bot count)."""
        key = (int(message["chat"]["id"]), int(message["message_id"]))
        return key in self._bot_messages


def private_chat_json(user: JSONDict) -> JSONDict:
    """The private Chat dict for a User dict (same id)."""
    chat: JSONDict = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
    for key in ("last_name", "username"):
        if user.get(key):
            chat[key] = user[key]
    return chat
