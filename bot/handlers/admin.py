"""Admin commands: the /admin dashboard and /questions (close, reopen, default), plus the
checks every admin command shares.

Admins are the users listed in ADMIN_IDS. Everyone else, and anonymous group admins (who
write as GroupAnonymousBot and cannot be identified), gets a polite refusal; the attempt is
logged.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from babel.numbers import format_decimal
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot.domain import Question
from bot.handlers.common import (
    GROUP_ANONYMOUS_BOT,
    BotContext,
    edit,
    in_private,
    pressed_question,
    reply,
)
from bot.services.notify import question_changed
from bot.texts import day, moment, number, plain, t, t_plain
from bot.texts.callbacks import AdminAction, QuestionAction, ResolveConfirm
from bot.texts.forecast import outcome_text, takes_forecasts

logger = logging.getLogger(__name__)


# -- who may -------------------------------------------------------------------------------


async def admin_only(update: Update, context: BotContext, action: str) -> bool:
    """True when the sender is an admin; otherwise refuse politely (alert for buttons),
    log the attempt and return False.

    Anonymous group admins are refused with a hint to write in private: the bot cannot tell
    who they are.
    """
    user = update.effective_user
    lang = context.lang
    anonymous = user is not None and user.id == GROUP_ANONYMOUS_BOT
    if user is not None and not anonymous and context.settings.is_admin(user.id):
        return True
    chat_type = update.effective_chat.type if update.effective_chat else None
    logger.warning(  # no ids: a reader's identity never reaches the log
        "Refused %s for %s in a %s chat",
        action,
        "an anonymous admin" if anonymous else "a non-admin user",
        chat_type,
    )
    text = t(lang, "admin.anonymous" if anonymous else "admin.refused")
    if update.callback_query:
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_message:
        await reply(update.effective_message, text)
    return False


def private_button(context: BotContext, payload: str, lang: str) -> InlineKeyboardMarkup:
    """A "Continue in private" URL button opening the private chat with /start <payload>
    (a deep link: `payload` must match start.PAYLOAD, e.g. "export_talent-hub-2030")."""
    url = f"https://t.me/{context.bot.username}?start={payload}"
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t(lang, "admin.export.button.private"), url=url)]]
    )


async def private_only(
    update: Update, context: BotContext, payload: str, text_key: str = "admin.private_data"
) -> bool:
    """True in a private chat. Elsewhere (readers' data must not show in a group) reply
    `text_key` with the "Continue in private" button (deep link /start <payload>) and
    return False."""
    if in_private(update):
        return True
    if update.effective_message:
        lang = context.lang
        await reply(update.effective_message, t(lang, text_key),
                    reply_markup=private_button(context, payload, lang))  # fmt: skip
    return False


def today_utc() -> date:
    """The current UTC date."""
    return datetime.now(UTC).date()


def brier_text(value: float | None, lang: str) -> str:
    """A Brier score with three decimals per locale ("0.090" / "0,090"), "—" when None."""
    if value is None:
        return "—"
    return str(format_decimal(value, format="0.000", locale=lang))


def status_text(question: Question, lang: str) -> str:
    """ "open", "closed", "resolved: yes" … in `lang`."""
    if question.status == "resolved" and question.resolution:
        outcome = t(lang, f"admin.outcome.{question.resolution}")
        return t(lang, "admin.status.resolved_as", outcome=outcome)
    return t(lang, f"admin.status.{question.status}")


async def find_question(context: BotContext, slug: str | None) -> Question | None:
    """The question with this slug, or the default one when `slug` is empty."""
    if slug:
        return await context.store.questions.by_slug(slug.strip().lower()[:64])
    return await context.store.questions.default()


async def unknown_question(update: Update, context: BotContext, slug: str) -> None:
    """Reply that `slug` names no question, listing the slugs there are."""
    assert update.effective_message
    slugs = ", ".join(q.slug for q in await context.store.questions.all()) or "—"
    text = t(context.lang, "admin.question.unknown", slug=slug[:64], slugs=slugs)
    await reply(update.effective_message, text)


# -- /admin --------------------------------------------------------------------------------


async def admin_command(update: Update, context: BotContext) -> None:
    """/admin: readers, forecasts today and in total, and the same per question (in
    private only: the deep link /start admin continues there from a group)."""
    if not await admin_only(update, context, "/admin"):
        return
    if not await private_only(update, context, "admin"):
        return
    assert update.effective_message
    lang = context.lang
    board = await context.store.admin.dashboard(today_utc())
    lines = [
        t(lang, "admin.dashboard.title"),
        t(
            lang,
            "admin.dashboard.readers",
            readers=number(board.readers, lang),
            reachable=number(board.reachable, lang),
            blocked=number(board.blocked, lang),
        ),
        t(
            lang,
            "admin.dashboard.forecasts",
            total=number(board.forecasts_total, lang),
            today=number(board.forecasts_today, lang),
        ),
    ]
    for q in board.questions:
        status = t(lang, f"admin.status.{q.status}")
        if q.resolution:
            outcome = t(lang, f"admin.outcome.{q.resolution}")
            status = t(lang, "admin.status.resolved_as", outcome=outcome)
        lines.append(
            t(
                lang,
                "admin.dashboard.question",
                slug=q.slug,
                status=status,
                default=t(lang, "admin.default_mark") if q.is_default else "",
                standing=number(q.standing, lang),
                withdrawn=number(q.withdrawn, lang),
                today=number(q.today, lang),
            )
        )
    if not board.questions:
        lines.append(t(lang, "admin.questions.none"))
    head, per_question = "\n".join(lines[:3]), "\n".join(lines[3:])
    moderation = await moderation_text(context, lang)
    text = "\n\n".join((head, per_question, moderation, t(lang, "admin.dashboard.hint")))
    await reply(update.effective_message, text)


async def moderation_text(context: BotContext, lang: str) -> str:
    """The /admin block: the last 24 hours' counts and the newest log entries."""
    summary = await context.store.moderation.summary(datetime.now(UTC) - timedelta(days=1))
    lines = [
        t(
            lang,
            "admin.dashboard.moderation",
            hides=summary.hides,
            unhides=summary.unhides,
            limited=summary.rate_limited,
            readers=summary.rate_limited_readers,
            hidden=summary.hidden_now,
        )
    ]
    for entry in summary.recent:
        lines.append(
            t(
                lang,
                f"admin.dashboard.moderation.{entry.action}",
                at=moment(entry.at, lang),
                handle=entry.handle or t(lang, "admin.dashboard.moderation.deleted"),
                admin=entry.admin_id if entry.admin_id is not None else "—",
            )
        )
    return "\n".join(lines)


# -- /questions ----------------------------------------------------------------------------


async def questions_text(
    context: BotContext, lang: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The question list with status and counts, and one row of buttons per question."""
    questions = await context.store.questions.all()
    if not questions:
        return t(lang, "admin.questions.none"), None
    board = await context.store.admin.dashboard(today_utc())
    counts = {q.question_id: q for q in board.questions}
    blocks, rows = [t(lang, "admin.questions.title")], []
    for q in questions:
        c = counts.get(q.id)
        blocks.append(
            t(
                lang,
                "admin.questions.item" if takes_forecasts(q) else "admin.questions.item_settled",
                slug=q.slug,
                text=q.text(lang),
                status=status_text(q, lang),
                default=t(lang, "admin.default_mark") if q.is_default else "",
                standing=number(c.standing if c else 0, lang),
                closes=day(q.closes_at.date(), lang),
                outcome=outcome_text(q, lang),
            )
        )
        buttons: list[tuple[str, AdminAction]] = []
        if q.status == "open":
            buttons.append(("admin.button.close", "close"))
        elif q.status == "closed":
            buttons.append(("admin.button.reopen", "open"))
        if not q.is_default and q.status != "resolved":  # resolved questions take no forecasts
            buttons.append(("admin.button.default", "default"))
        if buttons:
            rows.append(
                [
                    InlineKeyboardButton(
                        t_plain(lang, key, slug=q.slug[:20]),
                        callback_data=QuestionAction(action, q.id).pack(),
                    )
                    for key, action in buttons
                ]
            )
    blocks.append(t(lang, "admin.questions.hint"))
    return "\n\n".join(blocks), InlineKeyboardMarkup(rows) if rows else None


async def questions_command(update: Update, context: BotContext) -> None:
    """/questions [close|reopen|default <slug>]: the list with buttons, or one change."""
    await run_questions(update, context, list(context.args or []))


async def deep_link_questions(update: Update, context: BotContext, _arg: str | None) -> None:
    """/start questions: the group's "Continue in private" button lands here."""
    await run_questions(update, context, [])


async def deep_link_admin(update: Update, context: BotContext, _arg: str | None) -> None:
    """/start admin: the group's "Continue in private" button lands here."""
    await admin_command(update, context)


async def run_questions(update: Update, context: BotContext, args: list[str]) -> None:
    """/questions with its words: only for admins, only in private (with counts)."""
    if not await admin_only(update, context, "/questions"):
        return
    if not await private_only(update, context, "questions"):
        return
    message = update.effective_message
    assert message
    lang = context.lang
    if args:
        action = {"close": "close", "reopen": "open", "open": "open", "default": "default"}.get(
            args[0].lower()
        )
        if action is None or len(args) != 2:
            await reply(message, t(lang, "admin.questions.usage"))
            return
        question = await find_question(context, args[1])
        if question is None:
            await unknown_question(update, context, args[1])
            return
        await reply(message, await change_question(context, question, action, lang))
        return
    text, markup = await questions_text(context, lang)
    await reply(message, text, reply_markup=markup)


async def change_question(context: BotContext, question: Question, action: str, lang: str) -> str:
    """Close, reopen or make default; returns the confirmation (or why not) in `lang`."""
    slug = question.slug
    if action == "default":
        await context.store.admin.set_default(question.id)
        return t(lang, "admin.questions.defaulted", slug=slug)
    if question.status == "resolved":
        return t(lang, "admin.questions.resolved_already", slug=slug)
    await context.store.admin.set_status(question.id, "closed" if action == "close" else "open")
    await question_changed(context, question.id)
    key = "admin.questions.closed" if action == "close" else "admin.questions.reopened"
    return t(lang, key, slug=slug)


async def question_button(update: Update, context: BotContext) -> None:
    """A /questions button (aq:<close|open|default>:<id>): change, then refresh the list."""
    query = update.callback_query
    assert query
    lang = context.lang
    pressed = await admin_button(update, context, QuestionAction)
    if pressed is None:
        return
    question, action = pressed[0], pressed[1].action
    done = await change_question(context, question, action, lang)
    await query.answer(plain(done)[:190])
    text, markup = await questions_text(context, lang)
    if isinstance(query.message, Message):
        await edit(query.message, text, reply_markup=markup)


AdminData = TypeVar("AdminData", QuestionAction, ResolveConfirm)


async def admin_button(
    update: Update, context: BotContext, kind: type[AdminData]
) -> tuple[Question, AdminData] | None:
    """An admin's button naming a question: the question and the parsed data. Refuses
    non-admins; answers stale or forged data with an alert; None then."""
    query = update.callback_query
    assert query
    if not await admin_only(update, context, f"{kind.prefix} button"):
        return None
    return await pressed_question(update, context, kind)


async def reply_to_query(update: Update, text: str, **kwargs: Any) -> None:
    """Send `text` in the chat of the pressed button."""
    if update.effective_message:
        await reply(update.effective_message, text, **kwargs)
