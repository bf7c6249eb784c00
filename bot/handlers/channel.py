"""The channel: /post, the live tally under each post (coalesced edits), and the deep links
for what needs a private chat. The comment thread is thread.py; membership, membership.py.

Readers met here may never have started the bot: nothing in this module sends a private
message on its own; taps are answered with alerts, and an exact % or a reason goes through a
deep link (https://t.me/<bot>?start=exact_<slug>) that the reader opens themselves.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup
from telegram import ChatMemberAdministrator, ChatMemberOwner, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bot import telegram_policy as policy
from bot.domain import Question
from bot.handlers import forecast
from bot.handlers.common import BotContext, in_private, is_reader, reply
from bot.handlers.forecast import EXACT, REASON
from bot.handlers.results import results_cache
from bot.store.channel import ChannelPost
from bot.texts import channel as view
from bot.texts import forecast as fview
from bot.texts import t

logger = logging.getLogger(__name__)

STARTUP_REFRESH_SECONDS = 30.0  # after a start, catch up on tallies whose edit was lost


@dataclass
class TallyState:
    """In-memory pacing of tally edits per post (chat id, message id): when each post was
    last edited (time.monotonic seconds) and a lock so that two jobs never edit at once."""

    last_edit: dict[tuple[int, int], float] = field(default_factory=dict)
    locks: dict[tuple[int, int], asyncio.Lock] = field(default_factory=dict)


def tally_state(context: BotContext) -> TallyState:
    """The application's TallyState."""
    data = context.bot_data
    if data.channel_tally is None:
        data.channel_tally = TallyState()
    return data.channel_tally


def channel_target(channel_id: str) -> int | str:
    """CHANNEL_ID as the Bot API wants it: an int for numeric ids, "@name" otherwise."""
    text = channel_id.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    return text if text.startswith("@") else f"@{text}"


async def current_tally(context: BotContext, question: Question) -> tuple[int, float | None]:
    """(forecasters, median % or None while hidden) as a public post shows them."""
    snap = await results_cache(context).get(context.store, question)
    return view.shown_tally(snap, context.settings.results_reveal_min)


def tally_text(context: BotContext, shown: tuple[int, float | None], lang: str) -> Markup:
    """The tally line for (count, median)."""
    return view.tally_line(shown[0], shown[1], context.settings.results_reveal_min, lang)


async def resolve_question(context: BotContext, arg: str | None) -> Question | None:
    """A question by deep-link argument (slug, or id), or the default question."""
    store = context.store
    if not arg:
        return await store.questions.default()
    question = await store.questions.by_slug(arg)
    if question is None and arg.isdigit():
        question = await store.questions.get(int(arg))
    return question


# --- /post --------------------------------------------------------------------------------


async def post_command(update: Update, context: BotContext) -> None:
    """/post [slug] (admins, private chat): publish the question card to CHANNEL_ID.

    Replies with what to fix when the channel is not set, not found, not a channel, or the
    bot may not post and edit there.
    """
    message = update.effective_message
    user = update.effective_user
    assert message
    lang, settings = context.lang, context.settings
    if user is None or not settings.is_admin(user.id):
        await reply(message, t(lang, "channel.post.refused"))
        return
    if not in_private(update):
        await reply(message, t(lang, "channel.post.private_only"))
        return
    if not settings.channel_id:
        await reply(message, t(lang, "channel.post.no_channel"))
        return
    question = await _question_to_post(update, context)
    if question is None:
        return
    shown_name = settings.channel_id
    chat_id = await _check_channel(update, context, channel_target(settings.channel_id))
    if chat_id is None:
        return
    post_lang = settings.default_language
    shown = await current_tally(context, question)
    text = view.post_text(
        question,
        await context.store.stats.all(),
        await context.store.stats.sources(),
        tally_text(context, shown, post_lang),
        post_lang,
    )
    markup = view.public_keyboard(question, context.bot.username, post_lang)
    try:
        sent = await context.bot.send_message(chat_id, text, reply_markup=markup)
    except (Forbidden, BadRequest) as exc:
        logger.warning("Posting to %s failed: %s", settings.channel_id, exc.message)
        key = "channel.post.not_admin" if _is_rights_error(exc) else "channel.post.failed"
        await reply(message, t(lang, key, channel=shown_name, error=exc.message))
        return
    await context.store.channel.add_post(
        sent.chat_id,
        sent.message_id,
        question.id,
        language=post_lang,
        posted_by=user.id,
        shown_count=shown[0],
        shown_median=shown[1],
    )
    await context.store.channel.set_shown(
        sent.chat_id, sent.message_id, shown[0], shown[1], view.post_state(question)
    )
    await context.store.channel.set_chat_status(sent.chat_id, "channel", "administrator")
    link = view.link_to_post(sent.chat_id, sent.chat.username, sent.message_id)
    await reply(
        message,
        t(
            lang,
            "channel.post.done",
            slug=question.slug,
            channel=shown_name,
            link=link,
            seconds=f"{settings.tally_interval_seconds:g}",
        ),
    )


async def _question_to_post(update: Update, context: BotContext) -> Question | None:
    """The question named by /post's argument (or the default); replies and returns None
    when there is none or it is closed."""
    assert update.effective_message
    lang, store = context.lang, context.store
    slug = (context.args[0] if context.args else "")[:64]
    question = await (store.questions.by_slug(slug) if slug else store.questions.default())
    if question is None:
        if not slug:
            await reply(update.effective_message, t(lang, "channel.post.no_question"))
            return None
        slugs = ", ".join(q.slug for q in await store.questions.all()) or "—"
        text = t(lang, "channel.post.unknown_question", slug=slug, slugs=slugs)
        await reply(update.effective_message, text)
        return None
    if question.status != "open":
        await reply(update.effective_message, t(lang, "channel.post.closed", slug=question.slug))
        return None
    return question


async def _check_channel(update: Update, context: BotContext, target: int | str) -> int | None:
    """The channel's numeric id when it exists, is a channel, and the bot may post and edit
    there; otherwise replies with what to fix and returns None."""
    assert update.effective_message
    lang = context.lang
    shown_name = context.settings.channel_id or ""
    try:
        chat = await context.bot.get_chat(target)
    except (BadRequest, Forbidden) as exc:
        logger.warning("CHANNEL_ID %s: %s", context.settings.channel_id, exc.message)
        await reply(
            update.effective_message, t(lang, "channel.post.not_found", channel=shown_name)
        )
        return None
    if chat.type != ChatType.CHANNEL:
        await reply(
            update.effective_message,
            t(lang, "channel.post.not_a_channel", channel=shown_name, type=chat.type),
        )
        return None
    try:
        member = await context.bot.get_chat_member(chat.id, context.bot.id)
    except TelegramError as exc:
        logger.warning("Cannot read the bot's rights in %s: %s", chat.id, exc.message)
        member = None
    allowed = isinstance(member, ChatMemberOwner) or (
        isinstance(member, ChatMemberAdministrator)
        and bool(member.can_post_messages)
        and bool(member.can_edit_messages)
    )
    if not allowed:
        await reply(
            update.effective_message, t(lang, "channel.post.not_admin", channel=shown_name)
        )
        return None
    return chat.id


def _is_rights_error(exc: TelegramError) -> bool:
    text = exc.message.lower()
    return isinstance(exc, Forbidden) or "rights" in text or "not enough" in text


# --- live tally ----------------------------------------------------------------------------


async def on_forecast_changed(context: BotContext, question_id: int) -> None:
    """Forecast listener: schedule one tally edit per active post of the question, unless one
    is already scheduled (taps within the interval are coalesced into that edit)."""
    job_queue: Any = context.job_queue
    if job_queue is None:
        return
    interval = context.settings.tally_interval_seconds
    for chat_id, message_id in await context.store.channel.active_post_ids(question_id):
        name = f"tally:{chat_id}:{message_id}"
        if job_queue.get_jobs_by_name(name):
            continue
        job_queue.run_once(tally_job, when=interval, data=(chat_id, message_id), name=name)


async def refresh_all_job(context: BotContext) -> None:
    """After a start: bring every active post up to date (edits scheduled before a restart
    were lost with the job queue)."""
    for post in await context.store.channel.active_posts():
        await refresh_post(context, post.chat_id, post.message_id)


async def tally_job(context: BotContext) -> None:
    """The scheduled edit of one post's tally."""
    assert context.job is not None
    data = context.job.data
    assert isinstance(data, tuple)
    await refresh_post(context, int(data[0]), int(data[1]))


async def refresh_post(context: BotContext, chat_id: int, message_id: int) -> bool:
    """Edit the post's tally when the count or the median shown would change.

    At most one edit per post every TALLY_INTERVAL_SECONDS (flood control: AIORateLimiter);
    a post that is gone or no longer editable is deactivated. True when edited.
    """
    state = tally_state(context)
    key = (chat_id, message_id)
    lock = state.locks.setdefault(key, asyncio.Lock())
    async with lock:
        store = context.store
        post = await store.channel.post(chat_id, message_id)
        if post is None or not post.active:
            return False
        question = await store.questions.get(post.question_id)
        if question is None:
            return False
        shown = await current_tally(context, question)
        shown_state = view.post_state(question)
        if shown == (post.shown_count, post.shown_median) and shown_state == post.shown_state:
            return False  # nothing would change: no edit
        interval = context.settings.tally_interval_seconds
        since = time.monotonic() - state.last_edit.get(key, float("-inf"))
        if since < interval:
            await asyncio.sleep(interval - since)
        text = view.post_text(
            question,
            await store.stats.all(),
            await store.stats.sources(),
            tally_text(context, shown, post.language),
            post.language,
        )
        markup = view.public_keyboard(question, context.bot.username, post.language)
        if not await _edit_post(context, post, text, markup):
            return False
        state.last_edit[key] = time.monotonic()
        await store.channel.set_shown(chat_id, message_id, shown[0], shown[1], shown_state)
        if shown_state != post.shown_state and not fview.takes_forecasts(question):
            await settle_thread_prompts(context, post, question)
        return True


async def settle_thread_prompts(
    context: BotContext, post: ChannelPost, question: Question
) -> None:
    """The post's comment-thread prompts lose their voting buttons too once the question
    takes no forecasts (only the results button stays); a prompt that cannot be edited is
    logged in one line and left."""
    markup = view.public_keyboard(question, context.bot.username, post.language)
    for thread in await context.store.channel.threads_of_post(post.chat_id, post.message_id):
        if thread.prompt_message_id is None:
            continue
        try:
            await context.bot.edit_message_reply_markup(
                thread.chat_id, thread.prompt_message_id, reply_markup=markup
            )
        except TelegramError as exc:
            if "not modified" not in str(exc).lower():
                logger.info("Thread prompt %s/%s kept its buttons: %s",
                            thread.chat_id, thread.prompt_message_id, exc)  # fmt: skip


async def _edit_post(context: BotContext, post: ChannelPost, text: str, markup: Any) -> bool:
    """editMessageText; never raises. True when the post shows `text` afterwards.

    Flood control is PTB's AIORateLimiter's: it waits out RetryAfter answers and retries; when
    they persist, this edit is given up until the next forecast or start-up.
    """
    try:
        await context.bot.edit_message_text(
            text, chat_id=post.chat_id, message_id=post.message_id, reply_markup=markup
        )
        return True
    except RetryAfter:
        policy.count("flood_control")
        logger.warning(
            "Tally of %s/%s: flood control, giving up for now", post.chat_id, post.message_id
        )
        return False
    except BadRequest as exc:
        if "not modified" in exc.message.lower():
            return True
        logger.warning(
            "Tally of %s/%s not editable: %s", post.chat_id, post.message_id, exc.message
        )
        await context.store.channel.deactivate_post(post.chat_id, post.message_id)
        return False
    except Forbidden as exc:
        policy.count("forbidden")
        logger.warning("Bot lost channel %s: %s", post.chat_id, exc.message)
        await context.store.channel.set_chat_status(post.chat_id, "channel", "left")
        return False
    except TelegramError as exc:
        logger.warning("Tally of %s/%s failed: %s", post.chat_id, post.message_id, exc)
        return False


# --- deep links ------------------------------------------------------------------------------


async def deep_link_exact(update: Update, context: BotContext, arg: str | None) -> None:
    """/start exact[_<slug>]: from a channel post to the exact-% prompt in private."""
    await _deep_link_prompt(update, context, arg, EXACT)


async def deep_link_reason(update: Update, context: BotContext, arg: str | None) -> None:
    """/start reason[_<slug>]: from a channel post to the reason prompt in private (after a
    forecast; without one, the forecast card comes first)."""
    await _deep_link_prompt(update, context, arg, REASON)


async def _deep_link_prompt(
    update: Update, context: BotContext, arg: str | None, kind: str
) -> None:
    from bot.handlers.start import send_greeting

    message = update.effective_message
    assert message
    question = await resolve_question(context, arg)
    if question is None or not is_reader(update.effective_user) or not in_private(update):
        await send_greeting(update, context)
        return
    if await forecast.refuse_closed(update, context, question):
        return
    assert update.effective_user
    lang = context.lang
    if kind == REASON:
        current = await context.store.forecasts.current(question.id, update.effective_user.id)
        if current is None or current.withdrawn:
            await reply(message, t(lang, "reason.needs_forecast"))
            await forecast.send_card(update, context, question)
            return
    await reply(message, fview.question_block(question, lang))
    await forecast.ask(update, context, question, kind)


async def deep_link_stats(update: Update, context: BotContext, arg: str | None) -> None:
    """/start stats: the statistics card (from the inline cards' button)."""
    from bot.handlers.stats import stats_command

    await stats_command(update, context)
