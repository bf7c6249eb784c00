"""Telegram-style text formatting for the emulator.

`parse_html` checks a `parse_mode=HTML` text the way the Bot API does and returns the plain text
plus MessageEntity dicts; `command_entities` marks `/commands` in what a user types. Entity
offsets and lengths are in UTF-16 code units, as in the Bot API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

JSONDict = dict[str, Any]

# tag -> entity type; the tags the Bot API accepts with parse_mode=HTML
_TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
# the only named character references Telegram knows; others stay literal text
_NAMED_REFS = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_COMMAND = re.compile(r"(?<![\w/@])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/@])")
_MENTION_USER = re.compile(r"^tg://user\?id=(\d+)$")


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML; str(error) is the Bot API's reason, e.g.
    'Unsupported start tag "br" at byte offset 5'."""


def utf16_len(text: str) -> int:
    """Length of `text` in UTF-16 code units (what Telegram counts: an emoji is often 2)."""
    return len(text.encode("utf-16-le")) // 2


def command_entities(text: str) -> list[JSONDict]:
    """`bot_command` entities for every `/command` or `/command@bot` token in `text`."""
    return [
        {
            "type": "bot_command",
            "offset": utf16_len(text[: match.start()]),
            "length": utf16_len(match.group()),
        }
        for match in _COMMAND.finditer(text)
    ]


def parse_html(source: str) -> tuple[str, list[JSONDict]]:
    """Parse Telegram HTML into (plain text, entities).

    Raises EntityParseError for an unknown tag, a bare `<`, unbalanced or crossed tags, and
    a `span` without `class="tg-spoiler"`, with Telegram's wording and UTF-8 byte offsets.
    """
    parser = _TelegramHTML(source)
    parser.feed(source)
    parser.close()
    return parser.result()


@dataclass
class _Open:
    """A start tag waiting for its end tag."""

    tag: str
    offset: int  # UTF-16 offset in the plain text where the entity starts
    entity: JSONDict | None  # None: the tag makes no entity (e.g. <code> inside <pre>)


class _TelegramHTML(HTMLParser):
    """html.parser driven in strict mode: every callback either extends the text or fails."""

    def __init__(self, source: str) -> None:
        # char refs stay separate so that only Telegram's four named refs are decoded
        super().__init__(convert_charrefs=False)
        self._source = source
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
        self._parts: list[str] = []
        self._length = 0  # UTF-16 length of the text so far
        self._stack: list[_Open] = []
        self._entities: list[JSONDict] = []

    def result(self) -> tuple[str, list[JSONDict]]:
        """The plain text and the entities sorted like Telegram sends them."""
        if self._stack:
            tag = self._stack[-1].tag
            raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{tag}"')
        entities = sorted(self._entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self._parts), entities

    # -- positions ---------------------------------------------------------------------------

    def _index(self) -> int:
        """Character index in the source of the construct being handled."""
        line, column = self.getpos()
        return self._line_starts[line - 1] + column

    def _byte_offset(self, index: int | None = None) -> int:
        index = self._index() if index is None else index
        return len(self._source[:index].encode("utf-8"))

    def _emit(self, text: str) -> None:
        self._parts.append(text)
        self._length += utf16_len(text)

    # -- text --------------------------------------------------------------------------------

    def handle_data(self, data: str) -> None:
        """Plain text; a `<` left here was not a tag, which Telegram rejects."""
        lt = data.find("<")
        if lt >= 0:
            name = re.match(r"[^\s>]*", data[lt + 1 :])
            found = name.group() if name else ""
            offset = self._byte_offset(self._index() + lt)
            raise EntityParseError(f'Unsupported start tag "{found}" at byte offset {offset}')
        self._emit(data)

    def handle_entityref(self, name: str) -> None:
        """`&name;`: Telegram decodes only lt, gt, amp and quot."""
        if name in _NAMED_REFS:
            self._emit(_NAMED_REFS[name])
            return
        end = self._index() + 1 + len(name)
        semicolon = ";" if self._source[end : end + 1] == ";" else ""
        self._emit(f"&{name}{semicolon}")

    def handle_charref(self, name: str) -> None:
        """`&#NNN;` and `&#xHH;` are all decoded."""
        try:
            code = int(name[1:], 16) if name[:1] in "xX" else int(name)
            self._emit(chr(code))
        except (ValueError, OverflowError):
            self._emit(f"&#{name};")

    # -- tags --------------------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Open an entity; unknown tags fail like the Bot API."""
        offset = self._byte_offset()
        if tag not in _TAG_TYPES:
            raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {offset}')
        values = {key: value or "" for key, value in attrs}
        entity = self._entity_for(tag, values, offset)
        if any(item.tag in ("code", "pre") for item in self._stack):
            # Telegram keeps no entities nested in code; <pre><code> only sets the language
            self._pre_language(tag, values)
            entity = None
        self._stack.append(_Open(tag, self._length, entity))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """`<b/>` is an empty element: checked, but yields no entity."""
        self.handle_starttag(tag, attrs)
        self._stack.pop()

    def handle_endtag(self, tag: str) -> None:
        """Close the innermost open tag; crossing tags is an error, as in Telegram."""
        offset = self._byte_offset()
        if not self._stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {offset}")
        top = self._stack[-1]
        if top.tag != tag:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {offset}, expected "</{top.tag}>", '
                f'found "</{tag}>"'
            )
        self._stack.pop()
        length = self._length - top.offset
        if top.entity is not None and length > 0:
            self._entities.append({**top.entity, "offset": top.offset, "length": length})

    def _entity_for(self, tag: str, attrs: dict[str, str], offset: int) -> JSONDict | None:
        """The entity a start tag makes (offset/length are added on close)."""
        kind = _TAG_TYPES[tag]
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {offset}'
            )
        if tag == "a":
            return _link_entity(attrs.get("href", ""))
        if tag == "tg-emoji":
            if not attrs.get("emoji-id"):
                raise EntityParseError(f"Custom emoji identifier is empty at byte offset {offset}")
            return {"type": kind, "custom_emoji_id": attrs["emoji-id"]}
        if tag == "blockquote" and "expandable" in attrs:
            return {"type": "expandable_blockquote"}
        return {"type": kind}

    def _pre_language(self, tag: str, attrs: dict[str, str]) -> None:
        """`<pre><code class="language-x">` records the language on the pre entity."""
        top = self._stack[-1]
        language = attrs.get("class", "").removeprefix("language-")
        if tag == "code" and top.tag == "pre" and top.entity is not None and language:
            top.entity["language"] = language

    # -- everything else html.parser may report is not Telegram HTML -------------------------

    def _unsupported(self, what: str) -> None:
        raise EntityParseError(
            f'Unsupported start tag "{what}" at byte offset {self._byte_offset()}'
        )

    def handle_comment(self, data: str) -> None:
        """`<!-- -->` is not allowed."""
        self._unsupported("!--")

    def handle_decl(self, decl: str) -> None:
        """`<!DOCTYPE>` is not allowed."""
        self._unsupported("!" + decl.split(" ")[0])

    def handle_pi(self, data: str) -> None:
        """`<?xml ?>` is not allowed."""
        self._unsupported("?")

    def unknown_decl(self, data: str) -> None:
        """`<![CDATA[ ]]>` is not allowed."""
        self._unsupported("![")


def _link_entity(href: str) -> JSONDict | None:
    """`<a href>`: a text_mention for tg://user?id=N, a text_link otherwise, none if empty."""
    if not href:
        return None
    mention = _MENTION_USER.match(href)
    if mention:
        user = {"id": int(mention.group(1)), "is_bot": False, "first_name": "User"}
        return {"type": "text_mention", "user": user}
    return {"type": "text_link", "url": href}
