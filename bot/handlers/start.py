"""/start (with deep-link payloads), /help and /language."""

from __future__ import annotations

import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot.handlers.common import BotContext, edit, is_reader, reply
from bot.texts import LANGUAGES, t
from bot.texts.callbacks import BadCallbackData, GreetingChoice, LanguageChoice

# /start payloads are at most 64 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)
PAYLOAD = re.compile(r"^(?P<action>[a-z]+)(?:_(?P<arg>[A-Za-z0-9-]{1,56}))?$")


async def start_command(update: Update, context: BotContext) -> None:
    """/start [payload]: route a known deep-link payload, else greet."""
    message = update.effective_message
    assert message
    payload = context.args[0] if context.args else ""
    match = PAYLOAD.match(payload)
    routes = context.bot_data.deep_links
    if match and match["action"] in routes:
        await routes[match["action"]](update, context, match["arg"])
        return
    await send_greeting(update, context)


async def send_greeting(update: Update, context: BotContext) -> None:
    """The greeting: what the bot is, the story in brief, the question, and where to start."""
    assert update.effective_message
    lang = context.lang
    question = await context.store.questions.default()
    text = t(lang, "start.greeting")
    if question:
        text += "\n\n" + t(lang, "start.question", question=question.text(lang))
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t(lang, "start.button.stats"), callback_data=GreetingChoice("stats").pack()
                ),
                InlineKeyboardButton(
                    t(lang, "start.button.forecast"),
                    callback_data=GreetingChoice("forecast").pack(),
                ),
            ]
        ]
    )
    await reply(update.effective_message, text, reply_markup=keyboard)


async def help_command(update: Update, context: BotContext) -> None:
    """/help: every command, grouped; the admin group only for admins."""
    assert update.effective_message
    lang = context.lang
    sections = ["help.title", "help.stats", "help.forecast", "help.settings"]
    user = update.effective_user
    if user and context.settings.is_admin(user.id):
        sections.append("help.admin")
    await reply(update.effective_message, "\n\n".join(t(lang, key) for key in sections))


def language_keyboard() -> InlineKeyboardMarkup:
    """One button per language, each labelled in its own language."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t(code, "language.name"), callback_data=LanguageChoice(code).pack())
          for code in LANGUAGES]]
    )  # fmt: skip


async def language_command(update: Update, context: BotContext) -> None:
    """/language [ru|en]: switch directly, or offer the buttons."""
    message = update.effective_message
    assert message
    choice = (context.args[0].lower() if context.args else "")[:8]
    if choice in LANGUAGES:
        await set_language(update, context, choice)
        await reply(message, t(choice, "language.changed"))
        return
    text = t(context.lang, "language.choose")
    if choice:
        text = t(context.lang, "language.unknown") + "\n\n" + text
    await reply(message, text, reply_markup=language_keyboard())


async def set_language(update: Update, context: BotContext, lang: str) -> None:
    """Store the reader's language and use it from now on."""
    user = update.effective_user
    if is_reader(user) and context.user_data is not None:
        assert user
        await context.store.users.set_language(user.id, lang)
        context.user_data.lang = lang


async def language_button(update: Update, context: BotContext) -> None:
    """A language button: switch and confirm in the new language."""
    query = update.callback_query
    assert query
    try:
        lang = LanguageChoice.parse(query.data).lang
    except BadCallbackData:
        await query.answer(t(context.lang, "error.stale_button"), show_alert=True)
        return
    await set_language(update, context, lang)
    await query.answer()
    if isinstance(query.message, Message):
        # the picker itself becomes the confirmation (no second message, no stale buttons)
        await edit(query.message, t(lang, "language.changed"))


async def go_button(update: Update, context: BotContext) -> None:
    """The greeting's buttons: open /stats or the forecast flow."""
    query = update.callback_query
    assert query
    routes = context.bot_data.go_routes
    try:
        target = GreetingChoice.parse(query.data).target
        if target not in routes:
            raise BadCallbackData(target)
    except BadCallbackData:
        await query.answer(t(context.lang, "error.stale_button"), show_alert=True)
        return
    await query.answer()
    await routes[target](update, context)


async def unknown_command(update: Update, context: BotContext) -> None:
    """A command the bot does not know, in a private chat: say so and point to /help.
    (In groups other bots' commands are none of our business: silence.)"""
    message = update.effective_message
    assert message and message.text
    name = message.text.split()[0][:40]
    await reply(message, t(context.lang, "error.unknown_command", command=name))
