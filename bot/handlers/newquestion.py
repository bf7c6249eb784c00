"""/newquestion: the guided flow in which an admin writes a question in both languages,
its resolution criteria and dates; the draft is kept in SQLite (it survives restarts)."""

from __future__ import annotations

import json
import logging

import aiosqlite
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    ApplicationHandlerStop,
)

from bot.handlers.admin import (
    admin_only,
    reply_to_query,
)
from bot.handlers.common import (
    BotContext,
    in_private,
    remember_reader,
    reply,
)
from bot.services.questions import STEPS, check_answer, draft_entry, draft_moment
from bot.texts import day, t
from bot.texts.callbacks import BadCallbackData, NewQuestionStep

logger = logging.getLogger(__name__)


# -- /newquestion --------------------------------------------------------------------------


def cancel_keyboard(lang: str) -> InlineKeyboardMarkup:
    """The one "Cancel" button under every /newquestion prompt."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t(lang, "admin.newq.button.cancel"),
                    callback_data=NewQuestionStep("cancel").pack(),
                )
            ]
        ]
    )


def confirm_keyboard(lang: str) -> InlineKeyboardMarkup:
    """Create / create as default / cancel."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t(lang, "admin.newq.button.create"),
                    callback_data=NewQuestionStep("create").pack(),
                ),
                InlineKeyboardButton(
                    t(lang, "admin.newq.button.default"),
                    callback_data=NewQuestionStep("default").pack(),
                ),
            ],
            [
                InlineKeyboardButton(
                    t(lang, "admin.newq.button.cancel"),
                    callback_data=NewQuestionStep("cancel").pack(),
                )
            ],
        ]
    )


async def newquestion_command(update: Update, context: BotContext) -> None:
    """/newquestion: start (or restart) the guided flow; /newquestion cancel drops it.

    Private chats only: the answers are free text the bot must not pick up in a group.
    """
    if not await admin_only(update, context, "/newquestion"):
        return
    message, user = update.effective_message, update.effective_user
    assert message and user
    lang = context.lang
    if not in_private(update):
        await reply(message, t(lang, "admin.private_only"))
        return
    if context.args and context.args[0].lower() in ("cancel", "stop"):
        had = await context.store.admin.clear_draft(user.id, message.chat_id)
        await reply(message, t(lang, "admin.newq.cancelled" if had else "admin.newq.no_draft"))
        return
    # a half-typed forecast answer must not swallow the question's texts
    await context.store.forecasts.clear_pending(user.id, message.chat_id)
    await context.store.admin.save_draft(user.id, message.chat_id, STEPS[0], "{}")
    await reply(
        message,
        t(lang, "admin.newq.intro") + "\n\n" + t(lang, f"admin.newq.ask.{STEPS[0]}"),
        reply_markup=cancel_keyboard(lang),
    )


def draft_summary(answers: dict[str, str], lang: str) -> str:
    """The draft as the admin will confirm it."""
    return t(
        lang,
        "admin.newq.summary",
        slug=answers["slug"],
        text_ru=answers["text_ru"],
        text_en=answers["text_en"],
        criteria_ru=answers["criteria_ru"],
        criteria_en=answers["criteria_en"],
        closes=day(draft_moment(answers, "closes_at").date(), lang),
        resolve_by=day(draft_moment(answers, "resolve_by").date(), lang),
    )


async def draft_input(update: Update, context: BotContext) -> None:
    """An admin's text in private while a /newquestion draft waits for it.

    Runs before every other handler group (see `register`); when it consumes the message it
    stops further handling, so the forecast prompts do not answer it too. Without a draft
    it does nothing and the message goes on as usual.
    """
    message, user = update.effective_message, update.effective_user
    if message is None or user is None or not message.text:
        return
    draft = await context.store.admin.draft(
        user.id, message.chat_id, ttl=context.settings.pending_ttl
    )
    if draft is None:
        return
    await remember_reader(update, context)  # the group that would do it is skipped
    lang = context.lang
    answers: dict[str, str] = json.loads(draft.payload)
    if draft.step == "confirm":
        await reply(
            message, t(lang, "admin.newq.press_button"), reply_markup=confirm_keyboard(lang)
        )
        raise ApplicationHandlerStop
    error, value = check_answer(draft.step, message.text, answers)
    if error is None and draft.step == "slug" and await context.store.questions.by_slug(value):
        error = "admin.newq.bad.slug_taken"
    if error is not None:
        await reply(
            message,
            t(lang, error, slug=value[:64]) + "\n\n" + t(lang, f"admin.newq.ask.{draft.step}"),
            reply_markup=cancel_keyboard(lang),
        )
        raise ApplicationHandlerStop
    answers[draft.step] = value
    position = STEPS.index(draft.step) + 1
    if position < len(STEPS):
        step = STEPS[position]
        await context.store.admin.save_draft(user.id, message.chat_id, step, json.dumps(answers))
        await reply(message, t(lang, f"admin.newq.ask.{step}"), reply_markup=cancel_keyboard(lang))
    else:
        await context.store.admin.save_draft(
            user.id, message.chat_id, "confirm", json.dumps(answers)
        )
        await reply(message, draft_summary(answers, lang), reply_markup=confirm_keyboard(lang))
    raise ApplicationHandlerStop


async def newquestion_button(update: Update, context: BotContext) -> None:
    """nq:create, nq:default or nq:cancel under the /newquestion prompts."""
    query, user = update.callback_query, update.effective_user
    assert query and user
    lang = context.lang
    if not await admin_only(update, context, "newquestion button"):
        return
    chat_id = update.effective_chat.id if update.effective_chat else user.id
    try:
        action = NewQuestionStep.parse(query.data).action
    except BadCallbackData:
        await query.answer(t(lang, "error.stale_button"), show_alert=True)
        return
    draft = await context.store.admin.draft(user.id, chat_id, ttl=context.settings.pending_ttl)
    if action == "cancel":
        await context.store.admin.clear_draft(user.id, chat_id)
        await query.answer()
        await query.edit_message_reply_markup(None)
        await reply_to_query(update, t(lang, "admin.newq.cancelled"))
        return
    if draft is None or draft.step != "confirm":
        await query.answer(t(lang, "admin.newq.no_draft"), show_alert=True)
        return
    answers = json.loads(draft.payload)
    entry = draft_entry(answers, default=action == "default")
    try:
        question = await context.store.questions.create(entry)
    except aiosqlite.IntegrityError:
        await query.answer()
        await reply_to_query(update, t(lang, "admin.newq.bad.slug_taken", slug=entry.slug))
        return
    await context.store.admin.clear_draft(user.id, chat_id)
    logger.info("Admin %s created question %s", user.id, question.slug)
    await query.answer()
    await query.edit_message_reply_markup(None)
    key = "admin.newq.created_default" if question.is_default else "admin.newq.created"
    await reply_to_query(update, t(lang, key, slug=question.slug))
