"""An offline Telegram Bot API for tests and the console (`python -m bot shell`).

Build the app with `ApplicationBuilder().token("1:X").request(emu.request)
.get_updates_request(emu.request)`, then `calls = await emu.process(app, emu.message(...))`.
"""

from bot.emulator.core import Emulator
from bot.emulator.entities import EntityParseError, command_entities, parse_html, utf16_len
from bot.emulator.errors import ApiError, UnsupportedMethodError
from bot.emulator.request import EmulatorRequest
from bot.emulator.state import ApiCall, StoredFile

__all__ = [
    "ApiCall",
    "ApiError",
    "Emulator",
    "EmulatorRequest",
    "EntityParseError",
    "StoredFile",
    "UnsupportedMethodError",
    "command_entities",
    "parse_html",
    "utf16_len",
]
