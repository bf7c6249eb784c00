"""The offline Bot API emulator, driven through a real python-telegram-bot Application."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot.emulator import Emulator, command_entities, parse_html
from bot.emulator.entities import EntityParseError

PNG_1000x500 = (
    b"\x89PNG\r\n\x1a\n"
    + b"\x00\x00\x00\rIHDR"
    + (1000).to_bytes(4, "big")
    + (500).to_bytes(4, "big")
)
LONG_DATA_BUTTON = {"text": "a", "callback_data": "é" * 33}  # 66 bytes > 64
KEYBOARD = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("Models", callback_data="st:models"),
            InlineKeyboardButton("Companies", callback_data="st:companies"),
        ]
    ]
)


# -- a tiny bot -------------------------------------------------------------------------------


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/stats [model]: an HTML reply with a keyboard."""
    model = " ".join(context.args or []) or "all"
    await update.effective_message.reply_text(  # type: ignore[union-attr]
        f"<b>Stats</b> for {model} &lt;beta&gt;", parse_mode=ParseMode.HTML, reply_markup=KEYBOARD
    )


async def press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button: toast, then show the section (keeping the keyboard)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer(f"Opening {query.data}")
    await query.edit_message_text(f"Section {query.data}", reply_markup=KEYBOARD)


async def say(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/say <html>: send the argument text as HTML, unchanged (to test validation)."""
    text = update.effective_message.text.split(" ", 1)[1]  # type: ignore[union-attr]
    await context.bot.send_message(update.effective_chat.id, text, parse_mode="HTML")  # type: ignore[union-attr]


async def files(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/files: a CSV document, a PNG photo, then the document again by file_id."""
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    sent = await context.bot.send_document(
        chat_id,
        io.BytesIO(b"model,score\nkimi,1\n"),
        filename="stats.csv",
        caption="<i>csv</i>",
        parse_mode=ParseMode.HTML,
    )
    await context.bot.send_photo(chat_id, PNG_1000x500, caption="chart")
    await context.bot.send_document(chat_id, sent.document.file_id)  # type: ignore[union-attr]


async def ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ask: a ForceReply prompt."""
    await update.effective_message.reply_text(  # type: ignore[union-attr]
        "Your forecast?", reply_markup=ForceReply(selective=True)
    )


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any other text (messages and channel posts): echo it."""
    message = update.effective_message
    assert message is not None and message.text is not None
    await message.reply_text(f"echo: {message.text}")


async def inline(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Inline mode: no results."""
    await update.inline_query.answer([], cache_time=0)  # type: ignore[union-attr]


def build_app(emu: Emulator) -> Application[Any, Any, Any, Any, Any, Any]:
    """The tiny bot on the emulator; handler errors go to app.bot_data["errors"]."""
    app = ApplicationBuilder().token("123:ABC").request(emu.request)
    app = app.get_updates_request(emu.request)
    application = app.build()
    application.add_handler(CommandHandler("stats", stats))
    application.add_handler(CommandHandler("say", say))
    application.add_handler(CommandHandler("files", files))
    application.add_handler(CommandHandler("ask", ask))
    application.add_handler(CallbackQueryHandler(press))
    application.add_handler(InlineQueryHandler(inline))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    application.bot_data["errors"] = []

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        context.bot_data["errors"].append(context.error)

    application.add_error_handler(on_error)
    return application


@pytest.fixture
def emu() -> Emulator:
    return Emulator(bot_id=7000000001, bot_username="beijing_ai_bot", bot_name="Beijing AI")


@pytest.fixture
async def app(emu: Emulator) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    application = build_app(emu)
    async with application:
        yield application


@pytest.fixture
def anna(emu: Emulator) -> dict[str, Any]:
    return emu.user(101, "Анна", language_code="ru", username="anna")


def errors(app: Application[Any, Any, Any, Any, Any, Any]) -> list[Exception]:
    return list(app.bot_data["errors"])


# -- formatting -------------------------------------------------------------------------------


def test_parse_html_gives_plain_text_and_utf16_entities() -> None:
    text, entities = parse_html("😀 <b>Жирный</b> &amp; <a href='https://x.org'>link</a>")
    assert text == "😀 Жирный & link"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 6},
        {"type": "text_link", "url": "https://x.org", "offset": 12, "length": 4},
    ]


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("line<br>break", 'Unsupported start tag "br" at byte offset 4'),
        ("<b>open", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'expected "</i>", found "</b>"'),
        ("<span>x</span>", 'must have class "tg-spoiler"'),
    ],
)
def test_parse_html_rejects_what_telegram_rejects(source: str, reason: str) -> None:
    with pytest.raises(EntityParseError, match=reason.replace("(", r"\(")):
        parse_html(source)


def test_command_entities_count_utf16_units() -> None:
    assert command_entities("😀 /help@beijing_ai_bot now") == [
        {"type": "bot_command", "offset": 3, "length": 20}
    ]


# -- commands and replies ----------------------------------------------------------------------


async def test_command_with_bot_mention_is_answered_with_html(
    emu: Emulator, app: Application[Any, Any, Any, Any, Any, Any], anna: dict[str, Any]
) -> None:
    chat = emu.private_chat(anna)
    update = emu.message(anna, chat, "/stats@beijing_ai_bot kimi")
    assert update["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 21}]

    calls = await emu.process(app, update)

    assert [call.method for call in calls] == ["sendMessage"]
    assert calls[0].params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "st:models"
    reply = emu.last_sent(chat["id"])
    assert reply["text"] == "Stats for kimi <beta>"
    assert reply["html"] == "<b>Stats</b> for kimi &lt;beta&gt;"
    assert reply["entities"] == [{"type": "bold", "offset": 0, "length": 5}]
    assert reply["from"]["id"] == emu.bot_id


async def test_command_for_another_bot_is_ignored(
    emu: Emulator, app: Application[Any, Any, Any, Any, Any, Any], anna: dict[str, Any]
) -> None:
    group = emu.group(-100123, "Readers", supergroup=True)
    calls = await emu.process(app, emu.message(anna, group, "/stats@OtherBot"))
    assert calls == []


async def test_callback_query_answers_and_edits(
    emu: Emulator, app: Application[Any, Any, Any, Any, Any, Any], anna: dict[str, Any]
) -> None:
    chat = emu.private_chat(anna)
    await emu.process(app, emu.message(anna, chat, "/stats"))
    menu = emu.last_sent(chat["id"])

    update = emu.press(anna, menu, "Companies")
    calls = await emu.process(app, update)

    assert [call.method for call in calls] == ["answerCallbackQuery", "editMessageText"]
    assert emu.callback_answer(update) == {
        "callback_query_id": update["callback_query"]["id"],
        "text": "Opening st:companies",
    }
    edited = emu.last_sent(chat["id"])
    assert edited["message_id"] == menu["message_id"]
    assert edited["text"] == "Section st:companies"
    assert "edit_date" in edited
    assert emu.sent(chat["id"])[-1]["text"] == "Stats for all <beta>"  # as it was sent


async def test_same_edit_twice_is_not_modified(
    emu: Emulator, app: Application[Any, Any, Any, Any, Any, Any], anna: dict[str, Any]
) -> None:
    chat = emu.private_chat(anna)
    await emu.process(app, emu.message(anna, chat, "/stats"))
    menu = emu.last_sent(chat["id"])
    await emu.process(app, emu.press(anna, menu, 1))

    calls = await emu.process(app, emu.press(anna, menu, 1))

    assert calls[-1].error is not None and "message is not modified" in calls[-1].error
    [error] = errors(app)
    assert isinstance(error, BadRequest)
    assert "specified new message content and reply markup are exactly the same" in str(error)


async def test_answering_a_callback_twice_fails(
    emu: Emulator, app: Application[Any, Any, Any, Any, Any, Any], anna: dict[str, Any]
) -> None:
    chat = emu.private_chat(anna)
    await emu.process(app, emu.message(anna, chat, "/stats"))
    update = emu.press(anna, emu.last_sent(chat["id"]), "Models")
    await emu.process(app, update)
    with pytest.raises(BadRequest, match=r"(?i)query id is invalid"):
        await app.bot.answer_callback_query(update["callback_query"]["id"])


async def test_bad_html_is_refused_like_telegram(
    emu: Emulator, app: Application[Any, Any, Any, Any, Any, Any], anna: dict[str, Any]
) -> None:
    chat = emu.private_chat(anna)
    calls = await emu.process(app, emu.message(anna, chat, "/say score < 5 <br>"))
    assert calls[0].error == (
        'Bad Request: can\'t parse entities: Unsupported start tag "" at byte offset 6'
    )
    [error] = errors(app)
    assert isinstance(error, BadRequest)
    assert emu.sent() == []


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"text": " \n"}, "message text is empty"),
        ({"text": "x" * 4097}, "message is too long"),
        (
            {"text": "ok", "reply_markup": {"inline_keyboard": [[LONG_DATA_BUTTON]]}},
            "BUTTON_DATA_INVALID",
        ),
    ],
)
async def test_send_message_limits(
    emu: Emulator,
    app: Application[Any, Any, Any, Any, Any, Any],
    anna: dict[str, Any],
    kwargs: dict[str, Any],
    reason: str,
) -> None:
    with pytest.raises(BadRequest, match=f"(?i){reason}"):
        await app.bot.send_message(anna["id"], **kwargs)


async def test_force_reply_and_thread_inheritance(
    emu: Emulator, app: Application[Any, Any, Any, Any, Any, Any], anna: dict[str, Any]
) -> None:
    forum = emu.group(-100555, "Forum", supergroup=True, forum=True)
    update = emu.message(anna, forum, "/ask", thread_id=42, is_topic=True)

    await emu.process(app, update)

    prompt = emu.last_sent(forum["id"])
    assert prompt["force_reply"] == {"force_reply": True, "selective": True}
    assert "reply_markup" not in prompt  # Telegram returns no markup for ForceReply
    assert prompt["message_thread_id"] == 42
    answer = emu.message(anna, forum, "55%", reply_to=prompt)
    assert answer["message"]["message_thread_id"] == 42
    assert answer["message"]["is_topic_message"] is True
    assert answer["message"]["reply_to_message"]["message_id"] == prompt["message_id"]


# -- failures -----------------------------------------------------------------------------------


async def test_injected_429_raises_retry_after(
    emu: Emulator,
    app: Application[Any, Any, Any, Any, Any, Any],
    anna: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # PTB 22 warns on every RetryAfter unless opted in to timedelta values
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    emu.fail_next("sendMessage", 429, "Too Many Requests: retry after 3", retry_after=3)
    with pytest.raises(RetryAfter) as caught:
        await app.bot.send_message(anna["id"], "hi")
    assert caught.value.retry_after == dt.timedelta(seconds=3)
    await app.bot.send_message(anna["id"], "hi")  # only the next call failed
    assert [call.error_code for call in emu.calls_to("sendMessage")] == [429, None]


async def test_blocked_and_never_started_users_are_forbidden(
    emu: Emulator, app: Application[Any, Any, Any, Any, Any, Any], anna: dict[str, Any]
) -> None:
    emu.block_user(anna["id"])
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await app.bot.send_message(anna["id"], "hi")
    stranger = emu.user(202, "Boris")
    emu.never_started(stranger["id"])
    with pytest.raises(Forbidden, match="bot can't initiate conversation with a user"):
        await app.bot.send_message(stranger["id"], "hi")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await app.bot.send_message(999, "hi")


async def test_channel_posting_admins_and_removal(
    emu: Emulator, app: Application[Any, Any, Any, Any, Any, Any], anna: dict[str, Any]
) -> None:
    channel = emu.channel(-100999, "News", username="news")
    emu.set_chat_admin(channel["id"], anna["id"], owner=True)

    post = await app.bot.send_message("@news", "Daily digest")
    admins = await app.bot.get_chat_administrators(channel["id"])
    member = await app.bot.get_chat_member(channel["id"], emu.bot_id)

    assert post.chat.id == channel["id"] and post.sender_chat is not None
    assert {admin.user.id for admin in admins} == {anna["id"], emu.bot_id}
    assert member.status == "administrator"
    emu.remove_bot_from(channel["id"])
    with pytest.raises(Forbidden, match="bot is not a member of the channel chat"):
        await app.bot.send_message(channel["id"], "again")


async def test_migrated_group_raises_chat_migrated(
    emu: Emulator, app: Application[Any, Any, Any, Any, Any, Any], anna: dict[str, Any]
) -> None:
    group = emu.group(-4001, "Old group")
    updates = emu.migrate(group, -1004001, by=anna)
    assert updates[0]["message"]["migrate_to_chat_id"] == -1004001
    assert updates[1]["message"]["migrate_from_chat_id"] == -4001
    with pytest.raises(ChatMigrated) as caught:
        await app.bot.send_message(group["id"], "hi")
    assert caught.value.new_chat_id == -1004001
    await app.bot.send_message(-1004001, "hi")


async def test_unknown_method_fails_loudly(
    emu: Emulator, app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    with pytest.raises(NetworkError, match="sendDice"):
        await app.bot.send_dice(101)
    assert emu.calls_to("sendDice")[0].error is not None


# -- files, other updates ----------------------------------------------------------------------


async def test_files_are_recorded_and_reusable(
    emu: Emulator, app: Application[Any, Any, Any, Any, Any, Any], anna: dict[str, Any]
) -> None:
    chat = emu.private_chat(anna)
    calls = await emu.process(app, emu.message(anna, chat, "/files"))

    assert [call.method for call in calls] == ["sendDocument", "sendPhoto", "sendDocument"]
    assert calls[0].files["document"] == ("stats.csv", b"model,score\nkimi,1\n", "text/csv")
    document, photo, again = emu.sent(chat["id"])
    assert document["caption"] == "csv" and document["html"] == "<i>csv</i>"
    assert again["document"] == document["document"]
    assert [(size["width"], size["height"]) for size in photo["photo"]] == [
        (320, 160),
        (1000, 500),
    ]
    file = await app.bot.get_file(document["document"]["file_id"])
    assert bytes(await file.download_as_bytearray()) == b"model,score\nkimi,1\n"


async def test_channel_posts_edits_and_inline_queries(
    emu: Emulator, app: Application[Any, Any, Any, Any, Any, Any], anna: dict[str, Any]
) -> None:
    channel = emu.channel(-100777, "Feed")
    post = emu.channel_post(channel, "hello")
    assert "from" not in post["channel_post"]
    await emu.process(app, post)
    assert emu.last_sent(channel["id"])["text"] == "echo: hello"

    chat = emu.private_chat(anna)
    first = emu.message(anna, chat, "draft")
    edited = emu.edited_message(first["message"], "final")
    assert edited["edited_message"]["text"] == "final"
    assert emu.chat_messages(chat["id"])[0]["text"] == "final"

    query = emu.inline_query(anna, "kimi")
    calls = await emu.process(app, query)
    assert [call.method for call in calls] == ["answerInlineQuery"]
    assert errors(app) == []


async def test_get_updates_honours_offset_and_limit(
    emu: Emulator, app: Application[Any, Any, Any, Any, Any, Any], anna: dict[str, Any]
) -> None:
    chat = emu.private_chat(anna)
    ids = []
    for text in ("a", "b", "c"):
        update = emu.message(anna, chat, text)
        emu.queue(update)
        ids.append(update["update_id"])

    first = await app.bot.get_updates(limit=2, timeout=0)
    rest = await app.bot.get_updates(offset=first[-1].update_id + 1, timeout=0)

    assert [u.update_id for u in first] == ids[:2]
    assert [u.update_id for u in rest] == ids[2:]
    started = time.monotonic()
    assert await app.bot.get_updates(offset=ids[-1] + 1, timeout=0.2) == ()
    assert time.monotonic() - started < 1


def test_run_polling_picks_up_a_queued_update(emu: Emulator, anna: dict[str, Any]) -> None:
    """A real run_polling loop: an update queued while it long-polls is handled at once."""
    app = build_app(emu)
    chat = emu.private_chat(anna)

    async def stop_after_reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if emu.sent(chat["id"]):
            context.application.stop_running()

    long_poll = emu.api_get_updates
    queued: list[dict[str, Any]] = []

    async def queue_while_waiting(params: dict[str, Any], files: Any) -> list[dict[str, Any]]:
        # one update, queued once the first long poll waits (timeout 10 s): it must end early
        if float(params.get("timeout") or 0) > 0 and not queued:
            queued.append(emu.message(anna, chat, "/stats"))
            asyncio.get_running_loop().call_soon(emu.queue, queued[0])
        return await long_poll(params, files)

    async def post_init(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        asyncio.get_running_loop().call_later(5, application.stop_running)  # a safety net

    emu.api_get_updates = queue_while_waiting  # type: ignore[method-assign]
    app.add_handler(MessageHandler(filters.ALL, stop_after_reply), group=1)
    app.post_init = post_init
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    started = time.monotonic()
    try:
        app.run_polling(timeout=10, stop_signals=None, close_loop=True)
    finally:
        asyncio.set_event_loop(None)

    assert time.monotonic() - started < 4
    assert emu.last_sent(chat["id"])["text"] == "Stats for all <beta>"
    assert emu.calls_to("deleteWebhook")


async def test_membership_updates_change_what_the_bot_may_do(
    emu: Emulator, app: Application[Any, Any, Any, Any, Any, Any], anna: dict[str, Any]
) -> None:
    group = emu.group(-100321, "Club", supergroup=True)
    kicked = emu.my_chat_member(group, anna, "kicked")
    assert kicked["my_chat_member"]["old_chat_member"]["status"] == "member"
    assert await emu.process(app, kicked) == []
    with pytest.raises(Forbidden, match="bot was kicked from the supergroup chat"):
        await app.bot.send_message(group["id"], "hi")
    emu.my_chat_member(group, anna, "administrator")
    sent = await app.bot.send_message(group["id"], "back")
    assert await app.bot.delete_message(group["id"], sent.message_id) is True
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await app.bot.delete_message(group["id"], sent.message_id)


async def test_commands_are_kept_per_scope_and_language(
    emu: Emulator, app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    scope = BotCommandScopeAllPrivateChats()
    await app.bot.set_my_commands(
        [BotCommand("stats", "Figures")], scope=scope, language_code="en"
    )
    assert emu.my_commands({"type": "all_private_chats"}, "en") == [
        {"command": "stats", "description": "Figures"}
    ]
    assert await app.bot.get_my_commands() == ()
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await app.bot.set_my_commands([BotCommand("Stats", "Upper case is refused")])
