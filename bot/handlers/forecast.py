"""The forecast flow: /forecast (buttons and typed values), exact % and reason prompts,
/myforecast, /withdraw, /cancel, and the deep link into the flow (results: results.py).

Groups run with privacy mode on: the bot sees commands and replies to its own messages
only, so a prompt there is a selective ForceReply that mentions the reader, and only that
reader's reply to that prompt counts. Pending prompts live in SQLite (they survive restarts).
"""

from __future__ import annotations

import logging

from markupsafe import Markup
from telegram import ForceReply, Message, Update
from telegram.constants import ChatType

from bot.domain import Question
from bot.handlers.common import (
    BotContext,
    confirming,
    edit,
    in_private,
    is_reader,
    pressed_question,
    reply,
    reply_message,
)
from bot.handlers.moderation import refuse_flood
from bot.handlers.start import send_greeting
from bot.services.forecasting import record_forecast
from bot.services.hygiene import clean_reason, display_name, strip_format
from bot.services.notify import question_changed
from bot.services.probability import (
    MAX_REASON_CHARS,
    ParsedForecast,
    ProbabilityError,
    parse_forecast,
    starts_with_number,
)
from bot.services.questions import names_a_question, slug_shaped
from bot.texts import forecast as view
from bot.texts import percent, pick_language, plain, t, tn
from bot.texts.callbacks import (
    BadCallbackData,
    ExactPrompt,
    ForecastPreset,
    NamingConsent,
    OpenCard,
    ReasonPrompt,
    WithdrawConfirm,
)

logger = logging.getLogger(__name__)

EXACT, REASON = "exact", "reason"


# --- helpers -------------------------------------------------------------------------------


async def question_for(
    context: BotContext, question_id: int | None = None, *, update: Update | None = None
) -> Question | None:
    """The question by id; without one, the question the reader of `update` last opened (a
    deep link, a tap on its card, a typed slug; kept in the database) while it takes
    forecasts, else the default question (the last-opened one when the default takes no
    forecasts either)."""
    store = context.store
    if question_id is not None:
        return await store.questions.get(question_id)
    user = update.effective_user if update is not None else None
    if user is None:
        return await store.questions.default()
    question, default = await store.questions.current_and_default(user.id)
    if question is not None and view.takes_forecasts(question):
        return question
    if question is None or (default is not None and view.takes_forecasts(default)):
        return default
    return question


async def remember_question(update: Update, context: BotContext, question: Question) -> None:
    """Make `question` the one the reader's typed commands (/forecast 70, /myforecast)
    refer to; stored, so it survives a restart."""
    user = update.effective_user
    if is_reader(user):
        assert user
        await context.store.questions.set_current_for(user.id, question.id)


async def naming(context: BotContext, question: Question) -> Question | None:
    """`question` when replies about a forecast must name it (more than one question is
    open, or it is not the default one), else None."""
    if not question.is_default or await context.store.questions.open_count() > 1:
        return question
    return None


async def pick_question(
    update: Update, context: BotContext, args: list[str], *, expects_number: bool = False
) -> tuple[Question, list[str]] | None:
    """The question a typed command names and the remaining arguments.

    A slug may come first (`/forecast kimi-users-2027 30`) or right after the number
    (`/forecast 30 kimi-users-2027`), and is then never taken as a reason; a named question
    becomes the reader's current one. Without a slug: the reader's current question. Replies
    and returns None when the first word names no question (with `expects_number`, only a
    word shaped like a slug, "a-b"; "/forecast seventy" is left to the number check) or
    there is no question.
    """
    message = update.effective_message
    assert message
    store = context.store
    question: Question | None = None
    if args and not starts_with_number(args[0]):
        question = await store.questions.by_slug(args[0].lower()[:64])
        if question is not None:
            args = args[1:]
        elif not expects_number or slug_shaped(args[0]):
            await unknown_slug(update, context, args[0])
            return None
    elif len(args) >= 2:
        question = await store.questions.by_slug(args[1].lower()[:64])
        if question is not None:
            args = [args[0], *args[2:]]
        elif len(args) == 2 and names_a_question(args[1]):
            # "/forecast 30 kimi-users-2027": a question's name, not a reason
            await unknown_slug(update, context, args[1])
            return None
    if question is not None:
        await remember_question(update, context, question)
    else:
        question = await question_for(context, update=update)
    if question is None:
        await reply(message, t(context.lang, "forecast.no_question"))
    return (question, args) if question else None


async def unknown_slug(update: Update, context: BotContext, slug: str) -> None:
    """Reply that `slug` names no question, with the questions there are."""
    assert update.effective_message
    lang = context.lang
    questions = await context.store.questions.all()
    slugs = view.slug_list(q.slug for q in questions)
    text = t(lang, "questions.unknown", slug=slug[:64], slugs=slugs or "—")
    await reply(update.effective_message, text)


def mention(update: Update) -> Markup:
    """An HTML mention of the reader (a text mention works without a username)."""
    user = update.effective_user
    assert user
    fallback = t(pick_language(user.language_code, "en"), "results.a_reader")
    name = display_name(user.first_name) or fallback
    return view.user_mention(user.id, name)


async def refuse_non_reader(update: Update, context: BotContext) -> bool:
    """Anonymous admins and channels cannot forecast: say so. True when refused."""
    if is_reader(update.effective_user):
        return False
    if update.callback_query:
        await update.callback_query.answer(t(context.lang, "forecast.anonymous"), show_alert=True)
    elif update.effective_message:
        await reply(update.effective_message, t(context.lang, "forecast.anonymous"))
    return True


async def reader_and_question(
    update: Update, context: BotContext, *, expects_number: bool = False
) -> tuple[Question, list[str]] | None:
    """The question a reader's command names (see pick_question) and the remaining
    arguments; replies and returns None when the sender cannot forecast (anonymous), the
    slug is unknown or there is no question."""
    if await refuse_non_reader(update, context):
        return None
    args = list(context.args or [])
    return await pick_question(update, context, args, expects_number=expects_number)


async def refuse_closed(update: Update, context: BotContext, question: Question) -> bool:
    """A closed or resolved question, or one past its closing time, takes no forecasts:
    say so. True when refused."""
    if view.takes_forecasts(question):
        return False
    text = t(context.lang, "forecast.closed")
    if await naming(context, question):
        text += " " + t(context.lang, "forecast.on_question", question=question.text(context.lang))
    if update.callback_query:
        await update.callback_query.answer(plain(text), show_alert=True)
    elif update.effective_message:
        await reply(update.effective_message, text)
    return True


def probability_error(lang: str, error: ProbabilityError) -> str:
    """A polite explanation of what is accepted, per error code."""
    return t(lang, f"forecast.error.{error.code}", max=MAX_REASON_CHARS)


# --- /forecast ----------------------------------------------------------------------------


async def forecast_command(update: Update, context: BotContext) -> None:
    """/forecast [slug]: show the card; /forecast [slug] 70 [reason]: record directly."""
    picked = await reader_and_question(update, context, expects_number=True)
    if picked is None:
        return
    question, args = picked
    text = " ".join(args)
    if text:
        await record_typed(update, context, question, text)
        return
    await send_card(update, context, question)


async def send_card(update: Update, context: BotContext, question: Question) -> None:
    """Send the question card with the one-tap buttons."""
    assert update.effective_message and update.effective_user
    lang = context.lang
    await remember_question(update, context, question)
    current = await context.store.forecasts.current(question.id, update.effective_user.id)
    open_ = view.takes_forecasts(question)
    await reply(
        update.effective_message,
        view.forecast_card(question, current, lang),
        reply_markup=view.forecast_keyboard(question.id, lang) if open_ else None,
    )


async def record_typed(update: Update, context: BotContext, question: Question, text: str) -> bool:
    """Parse a typed probability (number first, the rest is the reason) and record it.

    Replies with what is accepted when the value is bad; nothing is stored then.
    Returns True when a forecast was stored.
    """
    message = update.effective_message
    assert message
    if await refuse_closed(update, context, question):
        return False
    try:
        parsed = parse_forecast(text, require_leading=True)
    except ProbabilityError as exc:
        await reply(message, probability_error(context.lang, exc))
        return False
    await store_and_confirm(update, context, question, parsed)
    return True


async def store_and_confirm(
    update: Update, context: BotContext, question: Question, parsed: ParsedForecast
) -> None:
    """Record the forecast (services.forecasting.record_forecast: stored, the pending prompt
    cleared, listeners notified) and confirm it with the follow-up buttons (unless the
    reader is over the revision limit: then only the polite refusal)."""
    assert update.effective_user and update.effective_message
    lang = context.lang
    if await refuse_flood(update, context):
        return
    new, old = await record_forecast(
        context,
        question.id,
        update.effective_user.id,
        update.effective_message.chat_id,
        parsed.probability,
        language=lang,
        reason=parsed.reason or None,
    )
    text = view.recorded(new, old, lang, parsed.rounded_from, await naming(context, question))
    markup = view.after_keyboard(question.id, bool(new.reason), lang)
    async with confirming():
        await reply(update.effective_message, text, reply_markup=markup)
    if parsed.reason:
        await maybe_ask_consent(update, context, question)


async def preset_button(update: Update, context: BotContext) -> None:
    """A one-tap probability: record it for whoever tapped (group keyboards are public);
    a prompt the reader had open in this chat is closed by it."""
    query = update.callback_query
    assert query
    lang = context.lang
    pressed = await pressed_question(update, context, ForecastPreset)
    if pressed is None:
        return
    question, probability = pressed[0], pressed[1].probability
    if await refuse_non_reader(update, context) or await refuse_closed(update, context, question):
        return
    assert update.effective_user
    if await refuse_flood(update, context):
        return
    chat_id = update.effective_chat.id if update.effective_chat else None
    new, old = await record_forecast(
        context, question.id, update.effective_user.id, chat_id, probability, language=lang,
        make_current=in_private(update),  # as remember_question does, in the same commit
    )  # fmt: skip
    async with confirming():
        if not in_private(update) or query.message is None:
            # a public keyboard: tell only the reader who tapped, keep the chat quiet
            alert = view.recorded_alert(new, old, lang, await naming(context, question))
            await query.answer(alert[:200], show_alert=True)
            return
        short = t(lang, "forecast.recorded_short", probability=percent(probability, lang))
        await query.answer(short)
        assert isinstance(query.message, Message)
        await edit(
            query.message,
            view.recorded(new, old, lang, None, await naming(context, question)),
            reply_markup=view.after_keyboard(question.id, bool(new.reason), lang),
        )


async def open_card_button(update: Update, context: BotContext) -> None:
    """ "Change forecast": show the card with the buttons again (a new message)."""
    query = update.callback_query
    assert query
    pressed = await pressed_question(update, context, OpenCard)
    if pressed is None or await refuse_non_reader(update, context):
        return
    question = pressed[0]
    await query.answer()
    await send_card(update, context, question)


# --- prompts: exact % and reason -----------------------------------------------------------


async def prompt_button(update: Update, context: BotContext) -> None:
    """ "Exact %" or "add a reason": ask for the reader's next message."""
    query = update.callback_query
    assert query and query.data
    kind = EXACT if ExactPrompt.pattern.match(query.data) else REASON
    data_kind = ExactPrompt if kind == EXACT else ReasonPrompt
    pressed = await pressed_question(update, context, data_kind)
    if pressed is None or await refuse_non_reader(update, context):
        return
    question = pressed[0]
    if await refuse_closed(update, context, question):
        return
    assert update.effective_user and update.effective_chat
    lang, store, user_id = context.lang, context.store, update.effective_user.id
    if kind == REASON:
        current = await store.forecasts.current(question.id, user_id)
        if current is None or current.withdrawn:
            await query.answer(t(lang, "reason.needs_forecast"), show_alert=True)
            return
    await query.answer()
    await ask(update, context, question, kind)


async def ask(update: Update, context: BotContext, question: Question, kind: str) -> None:
    """Send the prompt and remember it. In groups: a selective ForceReply mentioning the
    reader, so that only their reply counts."""
    assert update.effective_user and update.effective_chat and update.effective_message
    lang = context.lang
    text: str = t(lang, f"prompt.{kind}", max=MAX_REASON_CHARS)
    if in_private(update):
        text = text[:1].upper() + text[1:]  # in groups it follows the reader's name
        sent = await update.effective_chat.send_message(text + "\n" + t(lang, "prompt.cancel"))
    else:
        sent = await reply_message(
            update.effective_message,
            mention(update) + ", " + text,
            reply_markup=ForceReply(
                selective=True, input_field_placeholder=t(lang, f"prompt.{kind}.placeholder")
            ),
        )
    await context.store.forecasts.set_pending(
        update.effective_user.id, update.effective_chat.id, kind, question.id, sent.message_id
    )


async def text_input(update: Update, context: BotContext) -> None:
    """A text message that is not a command: the answer to a pending prompt, if any.

    In groups only replies to the bot reach us; a reply to another reader's prompt is
    ignored. Replies that are not prompt answers go to the comment-thread handler, when one
    is registered (bot_data.thread_reply).
    """
    message = update.effective_message
    user = update.effective_user
    if message is None or not is_reader(user) or not message.text:
        return
    assert user
    ttl = context.settings.pending_ttl
    pending = await context.store.forecasts.pending(user.id, message.chat_id, ttl=ttl)
    private = message.chat.type == ChatType.PRIVATE
    replied_to = message.reply_to_message.message_id if message.reply_to_message else None
    if pending and (private or replied_to == pending.prompt_message_id):
        await answer_prompt(update, context, pending.kind, pending.question_id)
        return
    thread_reply = context.bot_data.thread_reply
    if not private:
        if thread_reply is not None:
            await thread_reply(update, context)
        return
    question = await question_for(context, update=update)
    if question is not None and starts_with_number(strip_format(message.text)):
        # "70" or "70 % because…": a forecast on the reader's current question
        await record_typed(update, context, question, message.text)
    elif question is not None:
        # "думаю, процентов 60": one explicit percentage in a sentence; else a hint
        parsed = await free_text_forecast(update, context)
        if parsed and not await refuse_closed(update, context, question):
            await store_and_confirm(update, context, question, parsed)
    else:
        await reply(message, t(context.lang, "prompt.nothing_pending"))


async def free_text_forecast(update: Update, context: BotContext) -> ParsedForecast | None:
    """The one explicit percentage in a private message, or None when there is none (a bad
    one, e.g. "150 %" or two different numbers, gets the polite explanation)."""
    message = update.effective_message
    assert message and message.text
    try:
        return parse_forecast(message.text, require_leading=False)
    except ProbabilityError as exc:
        if exc.code not in ("missing", "not_a_number"):
            await reply(message, probability_error(context.lang, exc))
            return None
        await reply(message, t(context.lang, "prompt.nothing_pending"))
        return None


async def answer_prompt(update: Update, context: BotContext, kind: str, question_id: int) -> None:
    """Handle the reader's answer to an exact-% or reason prompt; a bad answer keeps the
    prompt open and says what is accepted."""
    message = update.effective_message
    assert message and message.text and update.effective_user
    question = await question_for(context, question_id)
    if question is None or await refuse_closed(update, context, question):
        await context.store.forecasts.clear_pending(update.effective_user.id, message.chat_id)
        return
    if kind == EXACT:
        await record_typed(update, context, question, message.text)
        return
    await save_reason(update, context, question, clean_reason(message.text).strip())


async def save_reason(
    update: Update, context: BotContext, question: Question, reason: str
) -> None:
    """Store the reason (≤ MAX_REASON_CHARS); longer text is refused, never cut."""
    message = update.effective_message
    assert message and update.effective_user
    lang, store, user_id = context.lang, context.store, update.effective_user.id
    if not reason:
        await reply(message, t(lang, "reason.empty"))
        return
    if len(reason) > MAX_REASON_CHARS:
        text = tn(lang, "reason.too_long", len(reason), max=MAX_REASON_CHARS, length=len(reason))
        await reply(message, text)
        return
    if await refuse_flood(update, context):
        return
    forecast = await store.forecasts.set_reason(question.id, user_id, reason)
    await store.forecasts.clear_pending(user_id, message.chat_id)
    if forecast is None:
        await reply(message, t(lang, "reason.needs_forecast"))
        return
    text = t(lang, "reason.saved") + "\n" + view.your_forecast(forecast, lang)
    if named := await naming(context, question):
        text += "\n" + view.on_question(named, lang)
    await reply(message, text, reply_markup=view.after_keyboard(question.id, True, lang))
    await maybe_ask_consent(update, context, question)


async def maybe_ask_consent(update: Update, context: BotContext, question: Question) -> None:
    """Once, in private: may the reader's first name appear next to their reason? (Asked
    once, answered or not.)"""
    assert update.effective_user and update.effective_message
    if not in_private(update):
        return
    if not await context.store.users.ask_consent_once(update.effective_user.id):
        return
    lang = context.lang
    await update.effective_message.reply_text(
        t(lang, "consent.ask"), reply_markup=view.consent_keyboard(question.id, lang)
    )


async def consent_button(update: Update, context: BotContext) -> None:
    """Record the answer to the naming question."""
    query = update.callback_query
    assert query
    try:
        named = NamingConsent.parse(query.data).named
    except BadCallbackData:
        await query.answer(t(context.lang, "error.stale_button"), show_alert=True)
        return
    if await refuse_non_reader(update, context):
        return
    assert update.effective_user
    await context.store.users.set_named_consent(update.effective_user.id, named)
    text = t(context.lang, "consent.named" if named else "consent.anonymous")
    await query.answer(text)
    if isinstance(query.message, Message):
        await edit(query.message, text)


async def cancel_command(update: Update, context: BotContext) -> None:
    """/cancel: forget what the bot waits for from this reader in this chat (a prompt, or an
    admin's /newquestion draft)."""
    message, user = update.effective_message, update.effective_user
    assert message
    if not is_reader(user):
        return
    assert user
    store = context.store
    pending = await store.forecasts.pending(
        user.id, message.chat_id, ttl=context.settings.pending_ttl
    )
    await store.forecasts.clear_pending(user.id, message.chat_id)
    draft = await store.admin.clear_draft(user.id, message.chat_id)
    done = pending is not None or draft
    await reply(
        message, t(context.lang, "prompt.cancelled" if done else "prompt.nothing_to_cancel")
    )


# --- /myforecast, /withdraw ---------------------------------------------------------------


async def myforecast_command(update: Update, context: BotContext) -> None:
    """/myforecast [slug]: the reader's forecast on that (else the current) question and
    its history."""
    picked = await reader_and_question(update, context)
    if picked is None:
        return
    question = picked[0]
    assert update.effective_message and update.effective_user
    store, user_id = context.store, update.effective_user.id
    current = await store.forecasts.current(question.id, user_id)
    history = await store.forecasts.history(question.id, user_id)
    text = view.history_text(question, current, history, context.lang)
    await reply(update.effective_message, text)


async def withdraw_command(update: Update, context: BotContext) -> None:
    """/withdraw [slug]: ask for confirmation, naming the question when several are open."""
    picked = await reader_and_question(update, context)
    if picked is None:
        return
    question = picked[0]
    message, user = update.effective_message, update.effective_user
    assert message and user
    lang = context.lang
    current = await context.store.forecasts.current(question.id, user.id)
    if current is None or current.withdrawn:
        text = t(lang, "withdraw.nothing")
        if named := await naming(context, question):
            text += "\n" + view.on_question(named, lang)
        await reply(message, text)
        return
    text = t(lang, "withdraw.ask", probability=percent(current.probability, lang))
    if named := await naming(context, question):
        text += "\n" + view.on_question(named, lang)
    await reply(message, text, reply_markup=view.withdraw_keyboard(question.id, lang))


async def withdraw_button(update: Update, context: BotContext) -> None:
    """Confirm or keep: withdrawing keeps the forecast in the history."""
    query = update.callback_query
    assert query
    lang = context.lang
    pressed = await pressed_question(update, context, WithdrawConfirm)
    if pressed is None:
        return
    question, confirmed = pressed[0], pressed[1].confirmed
    if await refuse_non_reader(update, context):
        return
    assert update.effective_user
    if confirmed:
        old = await context.store.forecasts.withdraw(question.id, update.effective_user.id)
        await question_changed(context, question.id)
        text = t(lang, "withdraw.done") if old else t(lang, "withdraw.nothing")
    else:
        text = t(lang, "withdraw.kept")
    if named := await naming(context, question):
        text += "\n" + view.on_question(named, lang)
    await query.answer()
    if isinstance(query.message, Message):
        await edit(query.message, text)


# --- deep links ----------------------------------------------------------------------------


async def deep_link_forecast(update: Update, context: BotContext, slug: str | None) -> None:
    """/start forecast[_<slug>]: open the forecast flow for that question."""
    question = await (
        context.store.questions.by_slug(slug) if slug else question_for(context, update=update)
    )
    if question is None or not is_reader(update.effective_user):
        await send_greeting(update, context)
        return
    await send_card(update, context, question)


async def go_forecast(update: Update, context: BotContext) -> None:
    """The greeting's "my forecast" button."""
    if await refuse_non_reader(update, context):
        return
    question = await question_for(context, update=update)
    if question is not None:
        await send_card(update, context, question)
