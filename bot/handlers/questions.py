"""/questions: the list readers see (open questions to forecast on, closed and resolved ones
with their outcome), with one button per question. Admins get their management view."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.domain import Question
from bot.handlers import admin
from bot.handlers.common import BotContext, is_reader, reply
from bot.texts import forecast as view
from bot.texts import percent, t, t_plain
from bot.texts.callbacks import OpenCard, ShowResults


async def questions_command(update: Update, context: BotContext) -> None:
    """/questions: the reader's list; for an admin the management view (and its
    close/reopen/default arguments)."""
    user = update.effective_user
    if user is not None and context.settings.is_admin(user.id):
        await admin.questions_command(update, context)
        return
    message = update.effective_message
    assert message
    text, markup = await reader_list(update, context)
    await reply(message, text, reply_markup=markup)


async def reader_list(
    update: Update, context: BotContext
) -> tuple[str, InlineKeyboardMarkup | None]:
    """Open questions first (with the reader's forecast, if any), then closed and resolved
    ones (with the outcome and its source link); one button each: forecast or results."""
    lang, store = context.lang, context.store
    questions = await store.questions.all()
    if not questions:
        return t(lang, "forecast.no_question"), None
    user = update.effective_user
    reader_id = user.id if is_reader(user) and user else None
    open_: list[Question] = []
    done: list[Question] = []
    for q in questions:
        (open_ if view.takes_forecasts(q) else done).append(q)
    open_.sort(key=lambda q: (not q.is_default, q.closes_at))
    blocks: list[str] = [t(lang, "questions.title")]
    rows = []
    if open_:
        lines: list[str] = [t(lang, "questions.open")]
        for q in open_:
            lines.append(await open_item(context, q, reader_id))
            label = t_plain(lang, "questions.button.forecast", slug=q.slug[:40])
            rows.append([InlineKeyboardButton(label, callback_data=OpenCard(q.id).pack())])
        blocks.append("\n\n".join(lines))
    if done:
        lines = [t(lang, "questions.done")]
        for q in done:
            lines.append(view.settled_item(q, lang))
            label = t_plain(lang, "questions.button.results", slug=q.slug[:40])
            rows.append([InlineKeyboardButton(label, callback_data=ShowResults(q.id).pack())])
        blocks.append("\n\n".join(lines))
    blocks.append(t(lang, "questions.hint"))
    return "\n\n".join(blocks), InlineKeyboardMarkup(rows)


async def open_item(context: BotContext, question: Question, reader_id: int | None) -> str:
    """An open question: text, slug, closing date and the reader's standing forecast."""
    lang = context.lang
    text = view.open_item(question, lang)
    if reader_id is not None:
        mine = await context.store.forecasts.current(question.id, reader_id)
        if mine is not None and not mine.withdrawn:
            text += "\n" + t(lang, "questions.yours", probability=percent(mine.probability, lang))
    return text
