"""/stats with its drill-downs, /models and /sources."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from telegram import Message, Update

from bot.handlers.common import BotContext, edit, reply
from bot.texts import t
from bot.texts.callbacks import BadCallbackData, StatsCard
from bot.texts.stats import (
    back_keyboard,
    model_entry,
    models_list,
    sources_card,
    stats_card,
    stats_keyboard,
    topic_card,
)


async def dataset_card(context: BotContext, name: str, build: Callable[[], Awaitable[str]]) -> str:
    """A card that depends only on the reference data, composed once per language and
    data revision (a /setstat or an import makes a new one).

    Concurrent updates share one revision read and one composition of a card that is
    missing or stale, so a burst of /stats costs a few database round trips, not a few
    per update."""
    revision = await shared_revision(context)
    cards = context.bot_data.dataset_cards
    key = (name, context.lang)
    cached = cards.get(key)
    if cached is None or cached[0] != revision:
        composing = asyncio.ensure_future(build())
        cached = cards[key] = (revision, composing)

        def forget(task: asyncio.Future[str], key: tuple[str, str] = key) -> None:
            failed = task.cancelled() or task.exception() is not None
            if failed and key in cards and cards[key][1] is task:
                del cards[key]  # the next update composes it again

        composing.add_done_callback(forget)
    return await asyncio.shield(cached[1])


async def shared_revision(context: BotContext) -> tuple[int, int]:
    """The reference data's revision (StatsRepo.revision); updates that ask while a read is
    under way share its answer."""
    data = context.bot_data
    if data.revision_read is None:
        read = asyncio.ensure_future(context.store.stats.revision())
        data.revision_read = read

        def done(_: asyncio.Future[tuple[int, int]]) -> None:
            data.revision_read = None

        read.add_done_callback(done)
    return await asyncio.shield(data.revision_read)


async def main_card(context: BotContext) -> str:
    """The /stats card in the reader's language."""
    store, lang = context.store, context.lang

    async def build() -> str:
        return stats_card(await store.stats.all(), await store.stats.sources(), lang)

    return await dataset_card(context, "main", build)


async def stats_command(update: Update, context: BotContext) -> None:
    """/stats: the headline figures with drill-down buttons."""
    assert update.effective_message
    text = await main_card(context)
    await reply(update.effective_message, text, reply_markup=stats_keyboard(context.lang))


async def stats_button(update: Update, context: BotContext) -> None:
    """A drill-down button: edit the same message to the topic (or back to the card)."""
    query = update.callback_query
    assert query
    lang = context.lang
    try:
        topic = StatsCard.parse(query.data).topic
    except BadCallbackData:
        await query.answer(t(lang, "error.stale_button"), show_alert=True)
        return
    store = context.store

    async def build() -> str:
        stats, sources = await store.stats.all(), await store.stats.sources()
        facts = await store.stats.facts(topic)
        models = await store.stats.models() if topic == "models" else []
        return topic_card(topic, stats, sources, facts, models, lang)

    if topic == "main":
        text, markup = await main_card(context), stats_keyboard(lang)
    else:
        text, markup = await dataset_card(context, topic, build), back_keyboard(lang)
    await query.answer()
    if isinstance(query.message, Message):
        await edit(query.message, text, reply_markup=markup)


async def models_command(update: Update, context: BotContext) -> None:
    """/models [name]: every flagship model, or the one named (by name or alias)."""
    message = update.effective_message
    assert message
    lang, store = context.lang, context.store
    query = " ".join(context.args or [])
    if not query:
        await reply(message, models_list(await store.stats.models(), lang))
        return
    model = await store.stats.find_model(query)
    if model is None:
        known = ", ".join(m.name for m in await store.stats.models())
        await reply(message, t(lang, "models.unknown", name=query[:64], known=known))
        return
    await reply(message, model_entry(model, lang))


async def sources_command(update: Update, context: BotContext) -> None:
    """/sources: where every figure comes from."""
    assert update.effective_message
    store, lang = context.store, context.lang

    async def build() -> str:
        return sources_card(
            await store.stats.sources(),
            await store.stats.all(),
            lang,
            models=await store.stats.models(),
            facts=await store.stats.facts("ecosystem"),
        )

    await reply(update.effective_message, await dataset_card(context, "sources", build))


async def unknown_button(update: Update, context: BotContext) -> None:
    """Any callback data no handler claimed (stale or foreign): a short alert."""
    query = update.callback_query
    if query is not None:
        await query.answer(t(context.lang, "error.stale_button"), show_alert=True)
