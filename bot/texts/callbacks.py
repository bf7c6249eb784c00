"""Callback data: namespaced strings (`ns:arg:arg`) of at most 64 bytes, parsed in one place."""

from __future__ import annotations

MAX_BYTES = 64  # Telegram's limit for callback_data
SEPARATOR = ":"


class BadCallbackData(ValueError):
    """The data is not one the bot makes: too long, wrong namespace or arguments (stale
    buttons from an older version of the bot end up here too)."""


def pack(namespace: str, *args: object) -> str:
    """Build callback data; raises BadCallbackData when over 64 bytes (a programming error)."""
    data = SEPARATOR.join([namespace, *(str(a) for a in args)])
    if len(data.encode()) > MAX_BYTES or not namespace.isalnum():
        raise BadCallbackData(data)
    return data


def unpack(data: str | None, namespace: str, arity: int) -> list[str]:
    """The arguments of `data` when it is `namespace` with exactly `arity` arguments.

    Raises BadCallbackData otherwise.
    """
    if not data or len(data.encode()) > MAX_BYTES:
        raise BadCallbackData(str(data))
    ns, *args = data.split(SEPARATOR)
    if ns != namespace or len(args) != arity:
        raise BadCallbackData(data)
    return args


def unpack_int(value: str, low: int, high: int) -> int:
    """An integer argument within [low, high]; raises BadCallbackData otherwise."""
    if not value.isdigit() or not low <= int(value) <= high:
        raise BadCallbackData(value)
    return int(value)
