"""Plain-text rendering of Bot API messages for a console: links shown, keyboards numbered."""

from __future__ import annotations

from typing import Any

JSONDict = dict[str, Any]


def text_with_links(text: str, entities: list[JSONDict] | None) -> str:
    """`text` with each text_link's URL appended after its label: "label (https://...)".

    Entity offsets are UTF-16 units, so the text is cut in that encoding.
    """
    links = [e for e in entities or [] if e.get("type") == "text_link"]
    if not links:
        return text
    units = text.encode("utf-16-le")
    parts: list[str] = []
    position = 0
    for link in sorted(links, key=lambda e: e["offset"] + e["length"]):
        end = (link["offset"] + link["length"]) * 2
        parts.append(units[position:end].decode("utf-16-le"))
        parts.append(f" ({link['url']})")
        position = end
    parts.append(units[position:].decode("utf-16-le"))
    return "".join(parts)


def message_body(message: JSONDict) -> str:
    """The visible text of a message: its text or caption, with link targets."""
    if "text" in message:
        return text_with_links(message["text"], message.get("entities"))
    return text_with_links(message.get("caption", ""), message.get("caption_entities"))


def keyboard_buttons(markup: JSONDict | None) -> list[list[JSONDict]]:
    """The rows of an inline keyboard ([] when there is none)."""
    if not markup:
        return []
    return [list(row) for row in markup.get("inline_keyboard", [])]


def keyboard_lines(markup: JSONDict | None) -> list[str]:
    """One line per keyboard row, buttons numbered from 1 across rows:
    `[1] Models  [2] Companies`; URL buttons show their target."""
    lines = []
    number = 0
    for row in keyboard_buttons(markup):
        labels = []
        for button in row:
            number += 1
            label = f"[{number}] {button['text']}"
            if "url" in button:
                label += f" <{button['url']}>"
            labels.append(label)
        lines.append("  ".join(labels))
    return lines


def nth_button(markup: JSONDict | None, number: int) -> JSONDict:
    """The `number`-th button (1-based, rows left to right); IndexError if out of range."""
    buttons = [button for row in keyboard_buttons(markup) for button in row]
    if not 1 <= number <= len(buttons):
        raise IndexError(f"no button [{number}] (there are {len(buttons)})")
    return buttons[number - 1]
