"""/deleteme: a reader removes everything the bot keeps about them, after confirming.

Removed: forecasts, their history, scores, pending steps and drafts, and the reader's row
(language, consent to be named). Later exports and results no longer contain them.
"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.handlers.common import BotContext, in_private, is_reader, reply
from bot.services.notify import questions_changed
from bot.texts import t, tn
from bot.texts.callbacks import BadCallbackData, DeleteMe

logger = logging.getLogger(__name__)


async def deleteme_command(update: Update, context: BotContext) -> None:
    """/deleteme: in private, ask to confirm with a button; in a group, point to private."""
    message, user = update.effective_message, update.effective_user
    assert message
    lang = context.lang
    if not is_reader(user):
        await reply(message, t(lang, "privacy.anonymous"))
        return
    assert user
    if not in_private(update):
        url = f"https://t.me/{context.bot.username}?start=deleteme"
        button = InlineKeyboardButton(t(lang, "privacy.button.private"), url=url)
        await reply(message, t(lang, "privacy.private_only"),
                    reply_markup=InlineKeyboardMarkup([[button]]))  # fmt: skip
        return
    await ask(update, context)


async def deep_link_deleteme(update: Update, context: BotContext, _arg: str | None) -> None:
    """/start deleteme (from the group button): the same confirmation, in private."""
    if update.effective_message and is_reader(update.effective_user):
        await ask(update, context)


async def ask(update: Update, context: BotContext) -> None:
    """The question with what will go, and Delete / Keep buttons."""
    message, user = update.effective_message, update.effective_user
    assert message and user
    lang = context.lang
    footprint = await context.store.admin.reader_footprint(user.id)
    delete = InlineKeyboardButton(
        t(lang, "privacy.button.delete"), callback_data=DeleteMe("yes").pack()
    )
    keep = InlineKeyboardButton(
        t(lang, "privacy.button.keep"), callback_data=DeleteMe("no").pack()
    )
    keyboard = InlineKeyboardMarkup([[delete, keep]])
    count = footprint["forecasts"]
    text = tn(lang, "privacy.confirm", count) if count else t(lang, "privacy.confirm_none")
    await reply(message, text, reply_markup=keyboard)


async def deleteme_button(update: Update, context: BotContext) -> None:
    """dm:yes deletes everything of the presser; dm:no keeps it."""
    query, user = update.callback_query, update.effective_user
    assert query
    lang = context.lang
    try:
        choice = DeleteMe.parse(query.data).choice
        if not is_reader(user):
            raise BadCallbackData(choice)
    except BadCallbackData:
        await query.answer(t(lang, "error.stale_button"), show_alert=True)
        return
    assert user
    await query.answer()
    if choice == "no":
        await query.edit_message_text(t(lang, "privacy.kept"))
        return
    removed = await context.store.admin.delete_reader(user.id)
    # forget the cached identity too, so the next message starts afresh
    if context.user_data is not None:
        context.user_data.forget()
    logger.info("A reader deleted their data (%s forecasts)", removed)
    if removed:  # public tallies follow (a post edits only when its tally changes)
        await questions_changed(context, [q.id for q in await context.store.questions.all()])
    done = tn(lang, "privacy.deleted", removed) if removed else t(lang, "privacy.deleted_none")
    await query.edit_message_text(done)
