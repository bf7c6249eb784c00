"""Bot API methods that send, edit and delete messages, and upload or fetch files."""

from __future__ import annotations

import mimetypes
from typing import Any

from bot.emulator.checks import (
    Formatted,
    check_reply_markup,
    format_text,
    normalized_markup,
)
from bot.emulator.errors import ApiError, bad_request
from bot.emulator.state import (
    ChatState,
    EmulatorState,
    FileMap,
    JSONDict,
    StoredFile,
    clean,
    clone,
)

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}
DOCUMENT_LIMIT = 50 * 1024 * 1024  # bytes a bot may upload
_FILE_ID_PREFIX = {"document": "BQACAgIAAxkBAAI", "photo": "AgACAgIAAxkBAAI"}
_SENDER_FIELDS = ("id", "is_bot", "first_name", "username")
_PHOTO_THUMB = 320  # px, the small size Telegram adds next to the original


class MessageMethods(EmulatorState):
    """sendMessage, sendPhoto, sendDocument, edit*, deleteMessage(s), sendChatAction, getFile."""

    # -- sending -----------------------------------------------------------------------------

    def api_send_message(self, params: JSONDict, files: FileMap) -> JSONDict:
        """sendMessage: chat_id, text, parse_mode, entities, reply_markup, reply_parameters,
        message_thread_id -> Message."""
        state = self.writable_chat(params.get("chat_id"))
        text = format_text(params.get("text"), params.get("parse_mode"), params.get("entities"))
        message = self._outgoing(state, params)
        _set_text(message, "text", "entities", text)
        return self._deliver(state, message, text.raw)

    def api_send_photo(self, params: JSONDict, files: FileMap) -> JSONDict:
        """sendPhoto: photo (upload, attach:// or file_id), caption... -> Message."""
        return self._send_media("photo", params, files)

    def api_send_document(self, params: JSONDict, files: FileMap) -> JSONDict:
        """sendDocument: document (upload, attach:// or file_id), caption... -> Message."""
        return self._send_media("document", params, files)

    def api_send_chat_action(self, params: JSONDict, files: FileMap) -> bool:
        """sendChatAction: chat_id, action -> True."""
        self.writable_chat(params.get("chat_id"))
        if params.get("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    def _send_media(self, kind: str, params: JSONDict, files: FileMap) -> JSONDict:
        state = self.writable_chat(params.get("chat_id"))
        caption = format_text(
            params.get("caption"),
            params.get("parse_mode"),
            params.get("caption_entities"),
            caption=True,
        )
        stored = self._input_file(kind, params.get(kind), files)
        message = self._outgoing(state, params)
        message[kind] = clone(self.media[stored.file_id])
        if caption.text:
            _set_text(message, "caption", "caption_entities", caption)
        return self._deliver(state, message, caption.raw)

    def _outgoing(self, state: ChatState, params: JSONDict) -> JSONDict:
        """A new bot message in `state`: author, reply, thread and reply markup from params.

        Everything is checked before the message id is taken, so failures leave no gap.
        """
        markup = params.get("reply_markup")
        kind = check_reply_markup(markup)
        replied = self._replied(state, params)
        message: JSONDict = {
            "message_id": state.new_message_id(),
            "date": self.now(),
            "chat": clone(state.chat),
        }
        if state.type == "channel":
            message["sender_chat"] = clone(state.chat)
        else:
            # a message's `from` carries only the basic User fields, not getMe's extras
            message["from"] = {key: self.bot_user[key] for key in _SENDER_FIELDS}
        if replied is not None:
            self.attach_reply(state, message, replied)
        thread = params.get("message_thread_id")
        if thread is not None:
            message["message_thread_id"] = int(thread)
            if state.chat.get("is_forum"):
                message["is_topic_message"] = True
        if kind == "inline_keyboard" and normalized_markup(markup):
            message["reply_markup"] = markup
        elif kind == "force_reply":
            message["force_reply"] = markup
        elif kind == "keyboard":
            message["reply_keyboard"] = markup
        return message

    def _replied(self, state: ChatState, params: JSONDict) -> JSONDict | None:
        """The message a send replies to (reply_parameters or legacy reply_to_message_id)."""
        reply = params.get("reply_parameters")
        if not isinstance(reply, dict):
            legacy = params.get("reply_to_message_id")
            reply = {"message_id": legacy} if legacy is not None else None
        if reply is None:
            return None
        replied = self.find_message(state.id, int(reply["message_id"]))
        lenient = reply.get("allow_sending_without_reply") or params.get(
            "allow_sending_without_reply"
        )
        if replied is None and not lenient:
            raise bad_request("message to be replied not found")
        return replied

    def _deliver(self, state: ChatState, message: JSONDict, raw: str) -> JSONDict:
        """Store a bot message (keeping the raw text as `html`) and return its Bot API form."""
        if raw:
            message["html"] = raw
        self.store_message(state, message)
        self._bot_messages.add((state.id, int(message["message_id"])))
        self._sent.append(clone(message))
        return clean(message)

    # -- editing -----------------------------------------------------------------------------

    def api_edit_message_text(self, params: JSONDict, files: FileMap) -> JSONDict | bool:
        """editMessageText: (chat_id, message_id | inline_message_id), text, parse_mode,
        reply_markup -> Message (True for inline messages). Omitting reply_markup removes the
        keyboard, as in Telegram."""
        text = format_text(params.get("text"), params.get("parse_mode"), params.get("entities"))
        markup = _inline_markup(params)
        if params.get("inline_message_id"):
            return True
        message = self._editable(params)
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        _check_modified(message, "text", "entities", text, markup)
        _set_text(message, "text", "entities", text)
        message["html"] = text.raw
        return self._edited(message, markup)

    def api_edit_message_caption(self, params: JSONDict, files: FileMap) -> JSONDict | bool:
        """editMessageCaption: like editMessageText for the caption of a photo or document."""
        caption = format_text(
            params.get("caption"),
            params.get("parse_mode"),
            params.get("caption_entities"),
            caption=True,
        )
        markup = _inline_markup(params)
        if params.get("inline_message_id"):
            return True
        message = self._editable(params)
        if "text" in message:
            raise bad_request("there is no caption in the message to edit")
        _check_modified(message, "caption", "caption_entities", caption, markup)
        _set_text(message, "caption", "caption_entities", caption)
        if caption.raw:
            message["html"] = caption.raw
        else:
            message.pop("html", None)
        return self._edited(message, markup)

    def api_edit_message_reply_markup(self, params: JSONDict, files: FileMap) -> JSONDict | bool:
        """editMessageReplyMarkup: replace (or, if omitted, remove) the inline keyboard."""
        markup = _inline_markup(params)
        if params.get("inline_message_id"):
            return True
        message = self._editable(params)
        if normalized_markup(message.get("reply_markup")) == markup:
            raise bad_request(NOT_MODIFIED)
        return self._edited(message, markup)

    def _editable(self, params: JSONDict) -> JSONDict:
        """The stored bot message that params point at; ApiError 400 if missing or foreign."""
        state = self.writable_chat(params.get("chat_id"))
        message = state.messages.get(int(params.get("message_id") or 0))
        if message is None:
            raise bad_request("message to edit not found")
        if not self.is_bot_message(message):
            raise bad_request("message can't be edited")
        return message

    def _edited(self, message: JSONDict, markup: JSONDict | None) -> JSONDict:
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        message["edit_date"] = self.now()
        return clean(message)

    # -- deleting ----------------------------------------------------------------------------

    def api_delete_message(self, params: JSONDict, files: FileMap) -> bool:
        """deleteMessage: chat_id, message_id -> True; ApiError 400 if missing or not allowed."""
        state = self.find_chat(params.get("chat_id"))
        message_id = int(params.get("message_id") or 0)
        message = state.messages.get(message_id)
        if message is None:
            raise bad_request("message to delete not found")
        if not self._may_delete(state, message):
            raise bad_request("message can't be deleted")
        del state.messages[message_id]
        return True

    def api_delete_messages(self, params: JSONDict, files: FileMap) -> bool:
        """deleteMessages: chat_id, message_ids -> True; unknown ids are skipped."""
        state = self.find_chat(params.get("chat_id"))
        for message_id in params.get("message_ids") or []:
            message = state.messages.get(int(message_id))
            if message is not None and self._may_delete(state, message):
                del state.messages[int(message_id)]
        return True

    def _may_delete(self, state: ChatState, message: JSONDict) -> bool:
        """Bots delete their own messages anywhere, others' in private chats or as admins."""
        if self.is_bot_message(message) or state.type == "private":
            return True
        member = state.members.get(self.bot_id, {})
        return member.get("status") == "administrator" and bool(member.get("can_delete_messages"))

    # -- files -------------------------------------------------------------------------------

    def api_get_file(self, params: JSONDict, files: FileMap) -> JSONDict:
        """getFile: file_id -> File with file_path (downloadable through the emulator)."""
        stored = self.files.get(str(params.get("file_id")))
        if stored is None:
            raise bad_request("wrong file_id or the file is temporarily unavailable")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }

    def download(self, url: str) -> bytes:
        """The bytes behind a file URL (base file URL + file_path); KeyError if unknown."""
        for stored in self.files.values():
            if url.endswith("/" + stored.file_path):
                return stored.data
        raise KeyError(f"no file at {url}")

    def _input_file(self, kind: str, value: object, files: FileMap) -> StoredFile:
        """Resolve a photo/document parameter: an upload, attach://name, a file_id or a URL."""
        if value is None or (isinstance(value, str) and value.startswith("attach://")):
            part = kind if value is None else str(value).removeprefix("attach://")
            if part not in files:
                raise bad_request(f"there is no {kind} in the request")
            filename, data, mime_type = files[part]
            return self._new_file(kind, filename, data, mime_type)
        text = str(value)
        if text in self.files:
            known = self.files[text]
            if known.kind != kind:
                raise bad_request(f"can't use file of type {known.kind.title()} as {kind.title()}")
            return known
        if text.startswith(("http://", "https://")):
            name = text.rsplit("/", 1)[-1] or kind
            mime_type = mimetypes.guess_type(name)[0] or ""
            return self._new_file(kind, name, b"", mime_type, from_url=True)
        raise bad_request("wrong file identifier/HTTP URL specified")

    def _new_file(
        self, kind: str, filename: str, data: bytes, mime_type: str, from_url: bool = False
    ) -> StoredFile:
        """Keep an upload and describe it as a Document dict or a list of PhotoSize dicts.

        A file "fetched" from a URL has no bytes offline; an empty upload is refused.
        """
        if not data and not from_url:
            raise bad_request("file must be non-empty")
        if len(data) > DOCUMENT_LIMIT:
            raise ApiError(413, "Request Entity Too Large")
        stored = self._register_file(kind, filename, data, mime_type)
        if kind == "document":
            media: Any = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_name": filename,
                "mime_type": mime_type or "application/octet-stream",
                "file_size": len(data),
            }
        else:
            media = self._photo_sizes(stored)
        self.media[stored.file_id] = media
        return stored

    def _register_file(self, kind: str, filename: str, data: bytes, mime_type: str) -> StoredFile:
        number = self.next_id()
        suffix = mimetypes.guess_extension(mime_type or "") or ""
        stored = StoredFile(
            file_id=f"{_FILE_ID_PREFIX[kind]}{number:010d}",
            file_unique_id=f"AgAD{number:06d}",
            kind=kind,
            filename=filename,
            data=data,
            mime_type=mime_type,
            file_path=f"{kind}s/file_{number}{suffix}",
        )
        self.files[stored.file_id] = stored
        return stored

    def _photo_sizes(self, stored: StoredFile) -> list[JSONDict]:
        """PhotoSize list, small to large; a big picture also gets a 320 px thumbnail."""
        width, height = image_size(stored.data)
        sizes = []
        if max(width, height) > _PHOTO_THUMB:
            scale = _PHOTO_THUMB / max(width, height)
            thumb = self._register_file("photo", stored.filename, stored.data, stored.mime_type)
            sizes.append(_photo_size(thumb, round(width * scale), round(height * scale)))
        sizes.append(_photo_size(stored, width, height))
        for size in sizes:
            self.media[size["file_id"]] = sizes
        return sizes


def _photo_size(stored: StoredFile, width: int, height: int) -> JSONDict:
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "width": width,
        "height": height,
        "file_size": len(stored.data),
    }


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels of a PNG or GIF; (800, 600) for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    return 800, 600


def _set_text(message: JSONDict, field: str, entities_field: str, text: Formatted) -> None:
    """Put a formatted text or caption (and its entities, if any) on a message."""
    message[field] = text.text
    if text.entities:
        message[entities_field] = text.entities
    else:
        message.pop(entities_field, None)
    if not text.text:
        message.pop(field, None)


def _inline_markup(params: JSONDict) -> JSONDict | None:
    """The reply_markup of an edit: only an inline keyboard is allowed."""
    markup = params.get("reply_markup")
    if check_reply_markup(markup) not in (None, "inline_keyboard"):
        raise bad_request("inline keyboard expected")
    return normalized_markup(markup)


def _check_modified(
    message: JSONDict, field: str, entities_field: str, text: Formatted, markup: JSONDict | None
) -> None:
    """Telegram refuses an edit that changes neither the text, its entities nor the keyboard."""
    same_text = message.get(field, "") == text.text
    same_entities = message.get(entities_field, []) == text.entities
    same_markup = normalized_markup(message.get("reply_markup")) == markup
    if same_text and same_entities and same_markup:
        raise bad_request(NOT_MODIFIED)
