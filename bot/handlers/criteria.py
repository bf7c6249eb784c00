"""/criteria: admins edit a question's resolution criteria.

Before anybody has forecast, the criteria change silently. Afterwards they can still change,
but readers see "the criteria were changed on …" wherever the question appears, so nobody's
forecast is judged against rules they did not see.
"""

from __future__ import annotations

import logging

from telegram import Update

from bot.handlers.admin import admin_only, find_question, unknown_question
from bot.handlers.common import BotContext, reply
from bot.services.notify import question_changed
from bot.texts import LANGUAGES, day, t, tn

logger = logging.getLogger(__name__)

MAX_CRITERIA_CHARS = 1500


async def criteria_command(update: Update, context: BotContext) -> None:
    """/criteria <slug> <ru|en> <text>: replace the criteria in one language (the text may
    span several lines)."""
    if not await admin_only(update, context, "/criteria"):
        return
    message = update.effective_message
    assert message
    lang = context.lang
    parts = (message.text or "").split(maxsplit=3)
    if len(parts) < 4 or parts[2].lower() not in LANGUAGES:
        await reply(message, t(lang, "admin.criteria.usage", max=MAX_CRITERIA_CHARS))
        return
    slug, which, text = parts[1], parts[2].lower(), parts[3].strip()
    if len(text) > MAX_CRITERIA_CHARS:
        too_long = tn(
            lang, "admin.criteria.too_long", len(text), max=MAX_CRITERIA_CHARS, length=len(text)
        )
        await reply(message, too_long)
        return
    question = await find_question(context, slug)
    if question is None:
        await unknown_question(update, context, slug)
        return
    changed_at = await context.store.admin.set_criteria(question.id, **{f"criteria_{which}": text})
    if changed_at is None:
        await reply(message, t(lang, "admin.criteria.resolved", slug=question.slug))
        return
    updated = await context.store.questions.get(question.id)
    assert updated is not None
    logger.info("Criteria (%s) of %s changed", which, question.slug)
    await question_changed(context, question.id)
    key = "admin.criteria.done_noted" if updated.criteria_changed_at else "admin.criteria.done"
    when = day(changed_at.date(), lang)
    await reply(message, t(lang, key, slug=question.slug, language=which, date=when))
