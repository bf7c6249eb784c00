"""Bot API input checks with Telegram's error texts: message text, captions, keyboards."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.emulator.entities import EntityParseError, parse_html, utf16_len
from bot.emulator.errors import bad_request

JSONDict = dict[str, Any]

TEXT_LIMIT = 4096  # UTF-16 units after entity parsing
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64  # bytes
CALLBACK_ANSWER_LIMIT = 200  # characters
MAX_BUTTONS = 100
_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "web_app",
    "login_url",
    "callback_game",
    "pay",
)
_URL_SCHEMES = ("http://", "https://", "tg://")


@dataclass
class Formatted:
    """A text after parse_mode: `text` plain, `entities` in UTF-16 units, `raw` as sent."""

    text: str
    entities: list[JSONDict]
    raw: str


def format_text(
    raw: object,
    parse_mode: object,
    entities: object,
    *,
    caption: bool = False,
) -> Formatted:
    """Apply `parse_mode` to a message text or caption and check Telegram's limits.

    Only HTML is parsed; Markdown/MarkdownV2 texts are kept as they are (not validated).
    Raises ApiError 400: can't parse entities, message text is empty, message is too long,
    message caption is too long, unsupported parse_mode.
    """
    source = "" if raw is None else str(raw)
    mode = str(parse_mode or "").lower()
    if mode == "html":
        try:
            plain, found = parse_html(source)
        except EntityParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
    elif mode in ("", "markdown", "markdownv2"):
        plain = source
        found = list(entities) if isinstance(entities, list) else []
    else:
        raise bad_request("unsupported parse_mode")
    _check_length(plain, caption)
    return Formatted(plain, found, source)


def _check_length(plain: str, caption: bool) -> None:
    if caption:
        if utf16_len(plain) > CAPTION_LIMIT:
            raise bad_request("message caption is too long")
        return
    if not plain.strip():
        raise bad_request("message text is empty")
    if utf16_len(plain) > TEXT_LIMIT:
        raise bad_request("message is too long")


def check_reply_markup(markup: object) -> str | None:
    """Validate a reply_markup dict; returns its kind or None when absent.

    Kinds: inline_keyboard, keyboard, remove_keyboard, force_reply. Raises ApiError 400
    (BUTTON_DATA_INVALID for callback_data over 64 bytes or empty, a bad button URL, a button
    without an action, more than 100 buttons, an unknown markup).
    """
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        _check_inline_keyboard(markup["inline_keyboard"])
        return "inline_keyboard"
    if "keyboard" in markup:
        _check_rows(markup["keyboard"])
        return "keyboard"
    for kind in ("remove_keyboard", "force_reply"):
        if markup.get(kind) is True:
            return kind
    raise bad_request("can't parse reply keyboard markup JSON object")


def _check_rows(rows: object) -> list[Any]:
    """The buttons of a keyboard; a keyboard is a list of rows (lists)."""
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request("can't parse reply keyboard markup JSON object")
    buttons = [button for row in rows for button in row]
    if len(buttons) > MAX_BUTTONS:
        raise bad_request("reply markup is too long")
    return buttons


def _check_inline_keyboard(rows: object) -> None:
    for button in _check_rows(rows):
        if not isinstance(button, dict) or not str(button.get("text", "")).strip():
            raise bad_request("can't parse inline keyboard button: Text must be non-empty")
        actions = [key for key in _BUTTON_ACTIONS if key in button]
        if not actions:
            raise bad_request('can\'t parse inline keyboard button: Field "url" must be set')
        if "callback_data" in button:
            data = str(button["callback_data"]).encode("utf-8")
            if not 1 <= len(data) <= CALLBACK_DATA_LIMIT:
                raise bad_request("BUTTON_DATA_INVALID")
        if "url" in button and not str(button["url"]).startswith(_URL_SCHEMES):
            url = button["url"]
            raise bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")


def normalized_markup(markup: object) -> JSONDict | None:
    """An inline markup as stored on a message: an empty keyboard counts as none."""
    if isinstance(markup, dict) and markup.get("inline_keyboard"):
        return markup
    return None


def check_callback_answer(text: object) -> None:
    """answerCallbackQuery text: at most 200 characters (ApiError 400 otherwise)."""
    if text is not None and len(str(text)) > CALLBACK_ANSWER_LIMIT:
        raise bad_request("MESSAGE_TOO_LONG")
