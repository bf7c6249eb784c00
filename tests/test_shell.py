"""The offline console: rendering with a tiny stub bot, and `run_shell` on the real app."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

import bot.shell
from bot.config import Settings
from bot.emulator import Emulator
from bot.emulator.render import keyboard_lines, text_with_links
from bot.shell import HELP, Console, run_shell

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (64).to_bytes(4, "big") * 2


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, database_url=f"sqlite:///{tmp_path}/bot.sqlite3")


# -- rendering helpers --------------------------------------------------------------------------


def test_links_and_keyboards_render_as_plain_text() -> None:
    entities = [{"type": "text_link", "offset": 3, "length": 3, "url": "https://a.cn"}]
    assert text_with_links("😀 src, more", entities) == "😀 src (https://a.cn), more"
    markup = {
        "inline_keyboard": [
            [{"text": "Models", "callback_data": "m"}, {"text": "Co", "callback_data": "c"}],
            [{"text": "Site", "url": "https://x.org"}],
        ]
    }
    assert keyboard_lines(markup) == ["[1] Models  [2] Co", "[3] Site <https://x.org>"]


# -- the console on a stub bot --------------------------------------------------------------


async def menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Models", callback_data="m")],
            [InlineKeyboardButton("Site", url="https://x.org")],
        ]
    )
    await update.effective_message.reply_text(
        "<b>Menu</b>", parse_mode="HTML", reply_markup=keyboard
    )


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.callback_query.answer("Careful!", show_alert=True)  # type: ignore[union-attr]
    await update.callback_query.edit_message_text("Models list")  # type: ignore[union-attr]


async def ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        "Your number?", reply_markup=ForceReply(selective=True)
    )


async def files(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_document(b"a,b\n", filename="data.csv")  # type: ignore[union-attr]
    await update.effective_message.reply_photo(PNG, caption="chart")  # type: ignore[union-attr]


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    replied = message.reply_to_message
    suffix = f" (reply to #{replied.message_id})" if replied else ""
    language = message.from_user.language_code if message.from_user else None
    await message.reply_text(f"got {message.text}{suffix} [{language}]")


@pytest.fixture
async def console(
    settings: Settings, tmp_path: Path
) -> AsyncIterator[tuple[Console, io.StringIO]]:
    emu = Emulator()
    app: Application[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder().token("1:X").request(emu.request).get_updates_request(emu.request)
    ).build()
    app.add_handler(CommandHandler("menu", menu))
    app.add_handler(CommandHandler("ask", ask))
    app.add_handler(CommandHandler("files", files))
    app.add_handler(CallbackQueryHandler(pressed))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    out = io.StringIO()
    async with app:
        yield Console(emu, app, out, tmp_path / "files", settings, interactive=False), out


async def run(console: tuple[Console, io.StringIO], *lines: str) -> str:
    shell, out = console
    for line in lines:
        assert await shell.handle(line)
    return out.getvalue()


async def test_buttons_are_numbered_and_pressable(console: tuple[Console, io.StringIO]) -> None:
    output = await run(console, "/menu", ":press 1", ":press 2", ":press 9")
    assert "> /menu\nbot> Menu\n       [1] Models\n       [2] Site <https://x.org>\n" in output
    assert "bot (alert)> Careful!" in output
    assert "bot (edited #2)> Models list" in output
    assert "(no bot message with buttons here)" in output  # the edit removed the keyboard


async def test_force_reply_prompt_and_reply_in_a_group(
    console: tuple[Console, io.StringIO],
) -> None:
    output = await run(console, ":chat group", "/ask", ":reply 42")
    assert "(now in group -1001000000001" in output
    assert "(asks for an answer" in output
    assert "bot> got 42 (reply to #2) [ru]" in output


async def test_files_are_saved(console: tuple[Console, io.StringIO], tmp_path: Path) -> None:
    output = await run(console, "/files")
    document = tmp_path / "files" / "1001-2-data.csv"
    photo = tmp_path / "files" / "1001-3-photo.png"
    assert f"(file saved: {document})" in output and f"(file saved: {photo})" in output
    assert document.read_bytes() == b"a,b\n" and photo.read_bytes() == PNG


async def test_user_language_and_escaping(console: tuple[Console, io.StringIO]) -> None:
    output = await run(console, ":lang en", "hi", ":user 7 Ann", "::-)", ":nope", ":help")
    assert "bot> got hi [en]" in output
    assert "(you are Ann (id 7, ru) in the private chat)" in output
    assert "bot> got :-) [ru]" in output
    assert "(unknown command :nope" in output
    assert HELP in output


async def test_quit_stops(console: tuple[Console, io.StringIO]) -> None:
    assert await console[0].handle(":quit") is False


# -- run_shell on the real application ---------------------------------------------------------


@pytest.fixture
def shell_emulators(monkeypatch: pytest.MonkeyPatch) -> list[Emulator]:
    """The emulators run_shell creates, for inspection after it returns."""
    made: list[Emulator] = []

    class Recorded(Emulator):
        def __init__(self) -> None:
            super().__init__()
            made.append(self)

    monkeypatch.setattr(bot.shell, "Emulator", Recorded)
    return made


def assert_each_press_answered_once(emulators: list[Emulator], presses: int) -> None:
    """Every button pressed in the console got exactly one answerCallbackQuery (the
    invariant tests.conftest.Harness.process checks on every tap)."""
    [emu] = emulators
    assert len(emu.callback_answers) == presses  # each callback query answered
    assert len(emu.calls_to("answerCallbackQuery")) == presses  # and none a second time


async def test_run_shell_answers_a_script_and_exits_zero(
    settings: Settings, tmp_path: Path, shell_emulators: list[Emulator]
) -> None:
    stdout = io.StringIO()
    code = await run_shell(
        settings, io.StringIO("/start\n/stats\n:press 1\n"), stdout, tmp_path / "f"
    )
    output = stdout.getvalue()
    assert code == 0
    assert output.startswith("> /start\nbot> ")
    assert "[1] " in output
    assert "(edited #" in output
    assert "!!" not in output  # no Bot API call failed
    assert_each_press_answered_once(shell_emulators, 1)


async def test_run_shell_language_changes_the_answers(settings: Settings, tmp_path: Path) -> None:
    answers = []
    for language in ("ru", "en"):
        stdout = io.StringIO()
        script = io.StringIO(f":lang {language}\n/help\n:quit\n/never\n")
        assert await run_shell(settings, script, stdout, tmp_path / "f") == 0
        assert "> /never" not in stdout.getvalue()
        answers.append(stdout.getvalue().split("> /help\n", 1)[1])
    assert answers[0] != answers[1]


async def test_run_shell_channel_post_and_its_comment_thread(
    settings: Settings, tmp_path: Path, shell_emulators: list[Emulator]
) -> None:
    console_admin = settings.model_copy(
        update={"admin_ids": [1001], "channel_id": "@beijing_ai", "default_language": "en"}
    )
    script = (
        "/post\n:chat channel\n:press 4\n:comments\n"
        ":reply I think 60 %, because of Tsinghua\n:press 1\n"
    )
    stdout = io.StringIO()
    assert await run_shell(console_admin, io.StringIO(script), stdout, tmp_path / "f") == 0
    output = stdout.getvalue()
    assert "Recorded for you: 75%" in output  # the tap on the channel post
    assert "Forecast here in the comments" in output  # the one prompt in the thread
    assert "Reason: I think, because of Tsinghua" in output
    assert "!!" not in output  # no Bot API call failed
    assert_each_press_answered_once(shell_emulators, 2)
