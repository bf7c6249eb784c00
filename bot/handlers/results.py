"""/results: the community forecast of a question, with its chart.

Anti-anchoring: the aggregate is shown to readers who have forecast, or to everyone once
RESULTS_REVEAL_MIN readers have. Snapshots and charts (per language) are reused for a short
window after the forecasts change (RESULTS_CACHE_SECONDS, CHART_REDRAW_MIN_CHANGES); the
uploaded photo's file_id is reused until a background task has drawn its successor. A
question with few forecasters shows every change at once, its chart too.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from telegram import Message, Update
from telegram.error import BadRequest

from bot import telegram_policy as policy
from bot.domain import Question
from bot.handlers.common import BotContext, in_private, is_reader, pressed_question, reply
from bot.handlers.forecast import pick_question, question_for
from bot.handlers.start import send_greeting
from bot.services.chart import render_chart
from bot.services.results import ChartCache, Freshness, ResultsCache, ResultsSnapshot
from bot.texts import forecast as view
from bot.texts import plain, t
from bot.texts.callbacks import ShowResults

logger = logging.getLogger(__name__)


async def results_command(update: Update, context: BotContext) -> None:
    """/results [slug]: the community forecast of that (else the reader's current) question,
    after the reader forecasts or once enough readers have."""
    picked = await pick_question(update, context, list(context.args or [])[:1])
    if picked is not None:
        await send_results(update, context, picked[0])


async def results_button(update: Update, context: BotContext) -> None:
    """The "results" button."""
    query = update.callback_query
    assert query
    pressed = await pressed_question(update, context, ShowResults)
    if pressed is None:
        return
    question = pressed[0]
    if not in_private(update):
        # in a group the answer would reach everyone: show a short summary to the tapper only
        await query.answer(await short_summary(update, context, question), show_alert=True)
        return
    await query.answer()
    await send_results(update, context, question)


async def may_see(
    update: Update, context: BotContext, question: Question, snap: ResultsSnapshot
) -> bool:
    """Anti-anchoring: readers who have forecast, or everyone once enough readers have."""
    if snap.count >= context.settings.results_reveal_min:
        return True
    user = update.effective_user
    if not is_reader(user):
        return False
    assert user
    return await context.store.forecasts.current(question.id, user.id) is not None


async def short_summary(update: Update, context: BotContext, question: Question) -> str:
    """One line for an alert (plain text): the count and the median, or why it is hidden."""
    lang = context.lang
    snap = await results_cache(context).get(context.store, question)
    if not await may_see(update, context, question, snap):
        needed = context.settings.results_reveal_min
        return plain(view.hidden_results(snap.count, needed, lang, invite=False))
    if snap.aggregate is None:
        return plain(t(lang, "results.empty"))
    return plain(view.chart_caption(snap, lang))[:190]


def freshness(context: BotContext) -> Freshness:
    """How long results and charts are reused, from the settings."""
    settings = context.settings
    return Freshness(settings.results_cache_seconds, settings.chart_redraw_min_changes)


def results_cache(context: BotContext) -> ResultsCache:
    """The application's results cache."""
    data = context.bot_data
    if data.results_cache is None:
        data.results_cache = ResultsCache(freshness(context))
    return data.results_cache


def chart_cache(context: BotContext) -> ChartCache:
    """The application's chart cache."""
    data = context.bot_data
    if data.chart_cache is None:
        data.chart_cache = ChartCache(freshness(context))
    return data.chart_cache


async def send_results(update: Update, context: BotContext, question: Question) -> None:
    """Send the results: the chart (cached per question version and language) with the
    results text as its caption, or, when the text is longer than a caption may be, the
    text and then the chart."""
    message = update.effective_message
    assert message
    lang = context.lang
    snap = await results_cache(context).get(context.store, question)
    if not await may_see(update, context, question, snap):
        text = view.hidden_results(snap.count, context.settings.results_reveal_min, lang)
        await reply(message, text, reply_markup=view.forecast_keyboard(question.id, lang))
        return
    text = view.results_text(question, snap, lang)
    if snap.aggregate is not None and view.fits_caption(text):
        await send_chart(message, context, question, snap, lang, caption=text)  # one message
        return
    await reply(message, text)
    if snap.aggregate is not None:
        await send_chart(message, context, question, snap, lang)


async def send_chart(
    message: Message,
    context: BotContext,
    question: Question,
    snap: ResultsSnapshot,
    lang: str,
    caption: str | None = None,
) -> None:
    """Send the chart: the cached one while it may stand for the current forecasts (a
    background task redraws a stale one), a fresh drawing the first time. `caption` (HTML,
    within Telegram's caption limit) defaults to the short chart caption."""
    charts = chart_cache(context)
    key = (question.id, lang)
    draw = partial(render_chart, snap, view.chart_labels(question, lang))
    spawn = context.application.create_task
    chart = await charts.get(key, snap.version, draw, spawn, snap.count)
    caption = caption if caption is not None else view.chart_caption(snap, lang)
    kwargs: dict[str, Any] = {}
    if message.message_thread_id and not message.is_topic_message:
        kwargs["reply_to_message_id"] = message.message_id
    try:
        sent = await _send_photo(message, chart.photo, caption, kwargs)
    except BadRequest as exc:
        if not isinstance(chart.photo, str) or not policy.file_refused(exc):
            raise
        # Telegram no longer takes the cached file_id: drop it, upload the bytes once
        policy.count("file_id_refused")
        logger.info("sendPhoto: cached chart refused (%s); uploading it again", exc.message)
        charts.forget(key, chart)
        chart = await charts.get(key, snap.version, draw, spawn, snap.count)
        sent = await _send_photo(message, chart.photo, caption, kwargs)
    if sent is not None and sent.photo and isinstance(chart.photo, bytes):
        charts.uploaded(key, chart, sent.photo[-1].file_id)


async def _send_photo(
    message: Message, photo: bytes | str, caption: str, kwargs: dict[str, Any]
) -> Message | None:
    """Send the chart: PNG bytes (returns the sent message, whose file_id is kept) or a kept
    file_id (returns None: the answer teaches nothing, so no Message is built from it)."""
    if isinstance(photo, str):
        with policy.result_unused():
            await message.reply_photo(photo, caption=caption, **kwargs)
        return None
    return await message.reply_photo(photo, caption=caption, **kwargs)


async def deep_link_results(update: Update, context: BotContext, slug: str | None) -> None:
    """/start results[_<slug>]: show that question's results."""
    question = await (
        context.store.questions.by_slug(slug) if slug else question_for(context, update=update)
    )
    if question is None:
        await send_greeting(update, context)
        return
    await send_results(update, context, question)
