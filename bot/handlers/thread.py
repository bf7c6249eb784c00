"""The comment thread of a channel post (its linked discussion group): one prompt per post
under the automatic forward, and readers' replies to it with a probability, confirmed by a
button only the writer can use. Works with privacy mode on: the bot sees only replies to its
own messages (and, as an admin of the group, the automatic forwards)."""

from __future__ import annotations

import logging

from telegram import Message, ReplyParameters, Update
from telegram.error import Forbidden, TelegramError

from bot.handlers import forecast
from bot.handlers.channel import current_tally, tally_text
from bot.handlers.common import BotContext, is_reader, reply, reply_message
from bot.handlers.moderation import flooding_thread, refuse_flood
from bot.services.forecasting import record_forecast
from bot.services.probability import ProbabilityError, parse_forecast
from bot.store.db import expired
from bot.texts import channel as view
from bot.texts import percent, t
from bot.texts.callbacks import BadCallbackData, ConfirmOffer

logger = logging.getLogger(__name__)


async def on_auto_forward(update: Update, context: BotContext) -> None:
    """A channel post arrived in the discussion group (or such a forward was edited): if it
    is one of the bot's posts, reply once in its thread with the question, the buttons and
    the current community forecast."""
    message = update.effective_message
    if message is None or not message.is_automatic_forward:
        return
    origin = message.forward_origin
    origin_chat = getattr(origin, "chat", None)
    origin_id = getattr(origin, "message_id", None)
    if origin_chat is None or origin_id is None:
        return
    store = context.store
    post = await store.channel.post(origin_chat.id, origin_id)
    if post is None:
        return  # not a post of the bot: stay quiet
    question = await store.questions.get(post.question_id)
    if question is None:
        return
    if not await store.channel.claim_thread(post, message.chat_id, message.message_id):
        return  # already prompted (also after a restart, or when the forward is edited)
    lang = post.language
    text = view.thread_prompt(
        question, tally_text(context, await current_tally(context, question), lang), lang
    )
    try:
        sent = await context.bot.send_message(
            message.chat_id,
            text,
            reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
            reply_markup=view.public_keyboard(question, context.bot.username, lang),
        )
    except Forbidden as exc:
        logger.warning("Cannot write in discussion group %s: %s", message.chat_id, exc.message)
        await store.channel.set_chat_status(message.chat_id, message.chat.type, "left")
        return  # keep the claim: no retries into a chat the bot cannot write to
    except TelegramError as exc:
        logger.warning("Thread prompt in %s failed: %s", message.chat_id, exc)
        await store.channel.release_thread(message.chat_id, message.message_id)
        return
    await store.channel.set_prompt(message.chat_id, message.message_id, sent.message_id)


async def thread_reply(update: Update, context: BotContext) -> None:
    """A group text that is not a prompt answer (bot_data.thread_reply).

    Only a reader's reply to the bot inside a comment thread the bot prompted in is
    answered: an explicit probability gets a "record N %" button for that reader, words
    alone get a short hint; every other comment gets no answer.
    """
    message = update.effective_message
    user = update.effective_user
    if message is None or not message.text or not is_reader(user):
        return
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or replied.from_user.id != context.bot.id:
        return
    if message.message_thread_id is None:
        return
    thread = await context.store.channel.thread(message.chat_id, message.message_thread_id)
    if thread is None:
        return
    question = await context.store.questions.get(thread.question_id)
    if question is None or await forecast.refuse_closed(update, context, question):
        return
    lang = context.lang
    try:
        parsed = parse_forecast(message.text, require_leading=False)
    except ProbabilityError as exc:
        if exc.code in ("missing", "not_a_number"):
            await reply(message, t(lang, "channel.thread.hint", name=forecast.mention(update)))
        else:
            await reply(message, forecast.probability_error(lang, exc))
        return
    assert user is not None
    if await flooding_thread(update, context):
        return
    offer = await context.store.channel.add_offer(
        message.chat_id, user.id, question.id, parsed.probability, parsed.reason
    )
    # a reader whose reasons an admin hid: the bot does not repeat them in public
    shown = "" if await context.store.moderation.is_hidden(user.id) else parsed.reason
    sent = await reply_message(
        message,
        view.offer_text(forecast.mention(update), parsed.probability, shown, lang),
        reply_markup=view.offer_keyboard(offer.id, parsed.probability, lang),
    )
    await context.store.channel.set_offer_message(offer.id, sent.message_id)


async def confirm_button(update: Update, context: BotContext) -> None:
    """ "Record N % as my forecast": only the reader who wrote the comment may press it;
    recorded through services.forecasting.record_forecast (a prompt the reader had open in
    this group is closed by it)."""
    query = update.callback_query
    assert query
    lang, store = context.lang, context.store
    try:
        offer_id = ConfirmOffer.parse(query.data).offer_id
        offer = await store.channel.offer(offer_id)
        if offer is None:
            raise BadCallbackData(str(offer_id))
    except BadCallbackData:
        await query.answer(t(lang, "error.stale_button"), show_alert=True)
        return
    if await forecast.refuse_non_reader(update, context):
        return
    assert update.effective_user
    if update.effective_user.id != offer.user_id:
        await query.answer(t(lang, "channel.confirm.not_yours"), show_alert=True)
        return
    if expired(offer.created_at, context.settings.pending_ttl):
        await query.answer(t(lang, "channel.confirm.expired"), show_alert=True)
        return
    question = await store.questions.get(offer.question_id)
    if question is None:
        await query.answer(t(lang, "error.stale_button"), show_alert=True)
        return
    if await forecast.refuse_closed(update, context, question):
        return
    if await refuse_flood(update, context):
        return  # the offer stays: the reader can press again in a minute
    if not await store.channel.use_offer(offer.id):
        await query.answer(t(lang, "channel.confirm.used"), show_alert=True)
        return
    await record_forecast(
        context,
        question.id,
        offer.user_id,
        update.effective_chat.id if update.effective_chat else None,
        offer.probability,
        language=lang,
        reason=offer.reason or None,
    )
    await query.answer(
        t(lang, "channel.confirm.alert", probability=percent(offer.probability, lang))
    )
    if isinstance(query.message, Message):
        name = forecast.mention(update)
        shown = "" if await store.moderation.is_hidden(offer.user_id) else offer.reason
        text = view.offer_text(name, offer.probability, shown, lang, done=True)
        try:
            await query.message.edit_text(text)
        except TelegramError as exc:
            logger.info("Could not update the offer message: %s", exc)
