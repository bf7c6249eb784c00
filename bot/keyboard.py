"""`Keyboard`: an inline keyboard built once (per question and language, in a cache) and sent
many times, so its JSON form is worked out once too."""

from __future__ import annotations

import json
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram._utils.types import JSONDict


class Keyboard(InlineKeyboardMarkup):
    """An InlineKeyboardMarkup that computes its JSON form once. python-telegram-bot objects
    are immutable, so this is safe; it saves the attribute walk (`to_dict`) and the JSON
    encoding of every send, together about a tenth of a reply's CPU. The bot's request path
    (pipeline.InboxBot) sends `json_text` as the reply_markup parameter."""

    __slots__ = ("_as_dict", "_json_text")

    def __init__(self, inline_keyboard: Sequence[Sequence[InlineKeyboardButton]]) -> None:
        super().__init__(inline_keyboard)
        # private names stay settable once the object is frozen
        self._as_dict: JSONDict | None = None
        self._json_text: str | None = None

    def to_dict(self, recursive: bool = True) -> JSONDict:
        """The markup as JSON data; the recursive form (what a request sends) is kept. The
        dict is shared: do not change it."""
        if not recursive:
            return super().to_dict(recursive)
        if self._as_dict is None:
            self._as_dict = super().to_dict()
        return self._as_dict

    @property
    def json_text(self) -> str:
        """The markup as the JSON text a Bot API request carries (what PTB would encode)."""
        if self._json_text is None:
            self._json_text = json.dumps(self.to_dict())
        return self._json_text


def with_keyboard_text(data: JSONDict) -> JSONDict:
    """`data` (a Bot API call's parameters) with a Keyboard reply_markup replaced by its JSON
    text, which python-telegram-bot passes on as it is; `data` itself when there is none."""
    markup = data.get("reply_markup")
    if isinstance(markup, Keyboard):
        return {**data, "reply_markup": markup.json_text}
    return data
