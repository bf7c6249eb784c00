"""Admin commands: /admin dashboard, /questions (close, reopen, default), the /newquestion
guided flow, /resolve with Brier scoring and notifications, /leaderboard, /setstat and
/stathistory.

Admins are the users listed in ADMIN_IDS. Everyone else, and anonymous group admins (who
write as GroupAnonymousBot and cannot be identified), gets a polite refusal; the attempt is
logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time
from html import escape
from typing import Any

import aiosqlite
from babel.numbers import format_decimal
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    ApplicationHandlerStop,
)

from bot.handlers.callbacks import BadCallbackData, pack, unpack
from bot.handlers.common import (
    GROUP_ANONYMOUS_BOT,
    BotContext,
    in_private,
    remember_reader,
    reply,
)
from bot.services.dataset import QuestionEntry
from bot.services.export_format import pseudonym
from bot.services.scoring import score_reader
from bot.store.admin import Score, ScoredReader
from bot.store.db import from_iso, to_iso
from bot.store.forecasts import Question
from bot.store.stats import StatChange
from bot.texts import day, moment, number, percent, pick_language, t, tn

logger = logging.getLogger(__name__)

LEADERBOARD_SIZE = 10
HISTORY_SIZE = 15
NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")
MAX_TEXT, MAX_CRITERIA = 300, 1500
OUTCOMES = {"yes": "yes", "no": "no", "annulled": "annulled", "annul": "annulled"}
# the /newquestion steps, in order; each answer is kept in the draft's JSON payload
STEPS = ("slug", "text_ru", "text_en", "criteria_ru", "criteria_en", "closes_at", "resolve_by")
NOTIFY_TASKS = "admin.notify_tasks"  # bot_data key: running score notifications


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
    chat_id = update.effective_chat.id if update.effective_chat else None
    logger.warning(
        "Refused %s for %s user %s in chat %s",
        action,
        "anonymous" if anonymous else "non-admin",
        user.id if user else None,
        chat_id,
    )
    text = t(lang, "admin.anonymous" if anonymous else "admin.refused")
    if update.callback_query:
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_message:
        await reply(update.effective_message, text)
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
    text = t(context.lang, "admin.question.unknown", slug=escape(slug[:64]), slugs=slugs)
    await reply(update.effective_message, text)


# -- /admin --------------------------------------------------------------------------------


async def admin_command(update: Update, context: BotContext) -> None:
    """/admin: readers, forecasts today and in total, and the same per question."""
    if not await admin_only(update, context, "/admin"):
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
                slug=escape(q.slug),
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
    text = "\n\n".join((head, per_question, t(lang, "admin.dashboard.hint")))
    await reply(update.effective_message, text)


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
                "admin.questions.item",
                slug=escape(q.slug),
                text=escape(q.text(lang)),
                status=status_text(q, lang),
                default=t(lang, "admin.default_mark") if q.is_default else "",
                standing=number(c.standing if c else 0, lang),
                closes=day(from_iso(q.closes_at).date(), lang),
            )
        )
        buttons = []
        if q.status == "open":
            buttons.append(("admin.button.close", "close"))
        elif q.status == "closed":
            buttons.append(("admin.button.reopen", "open"))
        if not q.is_default:
            buttons.append(("admin.button.default", "default"))
        if buttons:
            rows.append(
                [
                    InlineKeyboardButton(
                        t(lang, key, slug=q.slug[:20]), callback_data=pack("aq", action, q.id)
                    )
                    for key, action in buttons
                ]
            )
    blocks.append(t(lang, "admin.questions.hint"))
    return "\n\n".join(blocks), InlineKeyboardMarkup(rows) if rows else None


async def questions_command(update: Update, context: BotContext) -> None:
    """/questions [close|reopen|default <slug>]: the list with buttons, or one change."""
    if not await admin_only(update, context, "/questions"):
        return
    message = update.effective_message
    assert message
    lang, args = context.lang, context.args or []
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
    slug = escape(question.slug)
    if action == "default":
        await context.store.admin.set_default(question.id)
        return t(lang, "admin.questions.defaulted", slug=slug)
    if question.status == "resolved":
        return t(lang, "admin.questions.resolved_already", slug=slug)
    await context.store.admin.set_status(question.id, "closed" if action == "close" else "open")
    key = "admin.questions.closed" if action == "close" else "admin.questions.reopened"
    return t(lang, key, slug=slug)


async def question_button(update: Update, context: BotContext) -> None:
    """A /questions button (aq:<close|open|default>:<id>): change, then refresh the list."""
    query = update.callback_query
    assert query
    lang = context.lang
    if not await admin_only(update, context, "question button"):
        return
    try:
        action, raw_id = unpack(query.data, "aq", 2)
        if action not in ("close", "open", "default") or not raw_id.isdigit():
            raise BadCallbackData(str(query.data))
        question = await context.store.questions.get(int(raw_id))
        if question is None:
            raise BadCallbackData(raw_id)
    except BadCallbackData:
        await query.answer(t(lang, "error.stale_button"), show_alert=True)
        return
    done = await change_question(context, question, action, lang)
    await query.answer(re.sub(r"<[^>]+>", "", done)[:190])
    text, markup = await questions_text(context, lang)
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except BadRequest as exc:
        if "message is not modified" not in exc.message:
            raise


# -- /newquestion --------------------------------------------------------------------------


def cancel_keyboard(lang: str) -> InlineKeyboardMarkup:
    """The one "Cancel" button under every /newquestion prompt."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t(lang, "admin.newq.button.cancel"), callback_data=pack("nq", "cancel")
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
                    t(lang, "admin.newq.button.create"), callback_data=pack("nq", "create")
                ),
                InlineKeyboardButton(
                    t(lang, "admin.newq.button.default"), callback_data=pack("nq", "default")
                ),
            ],
            [
                InlineKeyboardButton(
                    t(lang, "admin.newq.button.cancel"), callback_data=pack("nq", "cancel")
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


def parse_day(text: str) -> datetime | None:
    """ "YYYY-MM-DD" as the end of that UTC day (23:59:59), or None."""
    try:
        value = date.fromisoformat(text.strip())
    except ValueError:
        return None
    return datetime.combine(value, time(23, 59, 59), tzinfo=UTC)


def check_answer(step: str, text: str, answers: dict[str, str]) -> tuple[str | None, str]:
    """Validate the answer to `step`: (error key or None, the value to keep)."""
    value = text.strip()
    if step == "slug":
        value = value.lower()
        return (None if SLUG.match(value) else "admin.newq.bad.slug"), value
    if step in ("text_ru", "text_en"):
        return (None if 0 < len(value) <= MAX_TEXT else "admin.newq.bad.text"), value
    if step in ("criteria_ru", "criteria_en"):
        return (None if 0 < len(value) <= MAX_CRITERIA else "admin.newq.bad.criteria"), value
    moment_ = parse_day(value)
    if moment_ is None:
        return "admin.newq.bad.date", value
    if step == "closes_at" and moment_ <= datetime.now(UTC):
        return "admin.newq.bad.past", value
    if step == "resolve_by" and moment_ < datetime.fromisoformat(answers["closes_at"]):
        return "admin.newq.bad.resolve_before_close", value
    return None, to_iso(moment_)


def draft_summary(answers: dict[str, str], lang: str) -> str:
    """The draft as the admin will confirm it."""
    return t(
        lang,
        "admin.newq.summary",
        slug=escape(answers["slug"]),
        text_ru=escape(answers["text_ru"]),
        text_en=escape(answers["text_en"]),
        criteria_ru=escape(answers["criteria_ru"]),
        criteria_en=escape(answers["criteria_en"]),
        closes=day(from_iso(answers["closes_at"]).date(), lang),
        resolve_by=day(from_iso(answers["resolve_by"]).date(), lang),
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
    draft = await context.store.admin.draft(user.id, message.chat_id)
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
            t(lang, error, slug=escape(value[:64]))
            + "\n\n"
            + t(lang, f"admin.newq.ask.{draft.step}"),
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
        (action,) = unpack(query.data, "nq", 1)
        if action not in ("create", "default", "cancel"):
            raise BadCallbackData(action)
    except BadCallbackData:
        await query.answer(t(lang, "error.stale_button"), show_alert=True)
        return
    draft = await context.store.admin.draft(user.id, chat_id)
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
    entry = QuestionEntry(
        slug=answers["slug"],
        text_ru=answers["text_ru"],
        text_en=answers["text_en"],
        criteria_ru=answers["criteria_ru"],
        criteria_en=answers["criteria_en"],
        opened_at=datetime.now(UTC),
        closes_at=from_iso(answers["closes_at"]),
        resolve_by=from_iso(answers["resolve_by"]),
        default=action == "default",
    )
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
    await reply_to_query(update, t(lang, key, slug=escape(question.slug)))


async def reply_to_query(update: Update, text: str, **kwargs: Any) -> None:
    """Send `text` in the chat of the pressed button."""
    if update.effective_message:
        await reply(update.effective_message, text, **kwargs)


# -- /resolve and scores -------------------------------------------------------------------


async def resolve_command(update: Update, context: BotContext) -> None:
    """/resolve <slug> yes|no|annulled: ask to confirm (scores go out to readers)."""
    if not await admin_only(update, context, "/resolve"):
        return
    message = update.effective_message
    assert message
    lang, args = context.lang, context.args or []
    outcome = OUTCOMES.get(args[1].lower()) if len(args) == 2 else None
    if outcome is None:
        await reply(message, t(lang, "admin.resolve.usage"))
        return
    question = await find_question(context, args[0])
    if question is None:
        await unknown_question(update, context, args[0])
        return
    if question.status == "resolved":
        await reply(message, t(lang, "admin.resolve.already", slug=escape(question.slug),
                               status=status_text(question, lang)))  # fmt: skip
        return
    forecasters = await context.store.admin.count_forecasts(question.id)
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t(lang, "admin.resolve.button.confirm"),
                    callback_data=pack("rv", question.id, outcome),
                ),
                InlineKeyboardButton(
                    t(lang, "admin.resolve.button.cancel"),
                    callback_data=pack("rv", question.id, "cancel"),
                ),
            ]
        ]
    )
    text = t(
        lang,
        "admin.resolve.confirm_annulled" if outcome == "annulled" else "admin.resolve.confirm",
        slug=escape(question.slug),
        text=escape(question.text(lang)),
        outcome=t(lang, f"admin.outcome.{outcome}"),
        forecasters=number(forecasters, lang),
    )
    await reply(message, text, reply_markup=keyboard)


async def compute_scores(
    histories: AsyncIterator[tuple[int, list[tuple[str, str, int | None]]]],
    question: Question,
    outcome: bool,
    resolved_at: datetime,
) -> list[Score]:
    """Brier scores of every forecaster: their final forecast (standing at the end of the
    window: closes_at, or the resolution when earlier) and the time average over the open
    period (see services.scoring)."""
    opened, closes = from_iso(question.opened_at), from_iso(question.closes_at)
    end = min(closes, resolved_at)
    scored_at = to_iso(resolved_at)
    scores = []
    async for user_id, entries in histories:
        history = [
            (from_iso(at), None if action == "withdraw" else p) for at, action, p in entries
        ]
        row = score_reader(user_id, history, opened, closes, outcome, until=resolved_at)
        final = None
        for at, p in history:
            if at >= end:
                break
            final = p
        scores.append(
            Score(
                question.id,
                user_id,
                final,
                row.final_brier,
                row.time_averaged_brier,
                scored_at,
            )
        )
    return scores


async def resolve_button(update: Update, context: BotContext) -> None:
    """rv:<id>:<yes|no|annulled|cancel>: resolve, score, then notify in the background."""
    query = update.callback_query
    assert query
    lang = context.lang
    if not await admin_only(update, context, "resolve button"):
        return
    try:
        raw_id, outcome = unpack(query.data, "rv", 2)
        if outcome not in (*OUTCOMES.values(), "cancel") or not raw_id.isdigit():
            raise BadCallbackData(str(query.data))
        question = await context.store.questions.get(int(raw_id))
        if question is None:
            raise BadCallbackData(raw_id)
    except BadCallbackData:
        await query.answer(t(lang, "error.stale_button"), show_alert=True)
        return
    await query.answer()
    await query.edit_message_reply_markup(None)
    if outcome == "cancel":
        await reply_to_query(update, t(lang, "admin.resolve.cancelled"))
        return
    resolved_at = datetime.now(UTC)
    scores: list[Score] = []
    if outcome != "annulled":
        scores = await compute_scores(
            context.store.admin.histories(question.id), question, outcome == "yes", resolved_at
        )
    if not await context.store.admin.resolve(question.id, outcome, scores, at=to_iso(resolved_at)):
        await reply_to_query(
            update,
            t(lang, "admin.resolve.already", slug=escape(question.slug),
              status=status_text(question, lang)),
        )  # fmt: skip
        return
    logger.info("Question %s resolved %s; %s scored", question.slug, outcome, len(scores))
    if outcome == "annulled":
        await reply_to_query(update, t(lang, "admin.resolve.annulled", slug=escape(question.slug)))
        return
    await reply_to_query(
        update,
        t(
            lang,
            "admin.resolve.done",
            slug=escape(question.slug),
            outcome=t(lang, f"admin.outcome.{outcome}"),
            scored=number(len(scores), lang),
        ),
    )
    resolved = await context.store.questions.get(question.id)
    assert resolved is not None
    admin_chat = update.effective_chat.id if update.effective_chat else None
    task = context.application.create_task(
        notify_scores(context, resolved, admin_chat, lang), update=update
    )
    tasks: set[asyncio.Task[Any]] = context.bot_data.setdefault(NOTIFY_TASKS, set())
    tasks.add(task)
    task.add_done_callback(tasks.discard)


def reader_lang(reader: ScoredReader, default: str) -> str:
    """The language to write to a reader in."""
    return reader.language or pick_language(reader.tg_language, default)


def score_message(
    question: Question, entry: ScoredReader, place: int, total: int, lang: str
) -> str:
    """The private message telling a reader their score."""
    score = entry.score
    final = (
        percent(score.final_probability, lang)
        if score.final_probability is not None
        else t(lang, "admin.score.withdrawn")
    )
    return t(
        lang,
        "admin.score.message",
        question=escape(question.text(lang)),
        outcome=t(lang, f"admin.outcome.{question.resolution}"),
        final=final,
        final_brier=brier_text(score.final_brier, lang),
        averaged_brier=brier_text(score.averaged_brier, lang),
        place=number(place, lang),
        total=number(total, lang),
        slug=question.slug,
    )


async def notify_scores(
    context: BotContext, question: Question, admin_chat: int | None, admin_lang: str
) -> tuple[int, int]:
    """Tell each scored reader who started the bot (and has not blocked it) their score.

    Forbidden (blocked, deactivated) marks the reader blocked; other Telegram errors are
    logged; either way the loop goes on. Finally tells the admin how it went.
    Returns (sent, failed).
    """
    entries = [e for e in await context.store.admin.scores(question.id) if has_score(e)]
    total, sent, failed = len(entries), 0, 0
    default = context.settings.default_language
    for place, entry in enumerate(entries, start=1):
        if not entry.started or entry.blocked:
            continue
        user_id = entry.score.user_id
        text = score_message(question, entry, place, total, reader_lang(entry, default))
        try:
            await context.bot.send_message(user_id, text)
            sent += 1
        except Forbidden:
            logger.info("Reader %s blocked the bot; score not delivered", user_id)
            await context.store.users.set_blocked(user_id)
            failed += 1
        except TelegramError as exc:
            logger.warning("Could not send the score to reader %s: %s", user_id, exc)
            failed += 1
    if admin_chat is not None:
        text = t(
            admin_lang,
            "admin.resolve.notified",
            sent=number(sent, admin_lang),
            failed=number(failed, admin_lang),
            slug=question.slug,
        )
        try:
            await context.bot.send_message(admin_chat, text)
        except TelegramError:
            logger.warning("Could not report notifications to admin chat %s", admin_chat)
    return sent, failed


def has_score(entry: ScoredReader) -> bool:
    """True when the reader had a forecast standing in the scoring window."""
    return entry.score.averaged_brier is not None or entry.score.final_brier is not None


# -- /leaderboard --------------------------------------------------------------------------


async def leaderboard_command(update: Update, context: BotContext) -> None:
    """/leaderboard [slug]: the best Brier scores of a resolved question (the newest resolved
    one by default), naming only readers who agreed to be named."""
    message, user = update.effective_message, update.effective_user
    assert message
    lang, args = context.lang, context.args or []
    if args:
        question = await find_question(context, args[0])
        if question is None:
            await unknown_question(update, context, args[0])
            return
    else:
        resolved = [q for q in await context.store.questions.all() if q.status == "resolved"]
        if not resolved:
            await reply(message, t(lang, "admin.leaderboard.none_resolved"))
            return
        question = max(resolved, key=lambda q: q.resolved_at or "")
    slug = escape(question.slug)
    if question.status != "resolved":
        await reply(message, t(lang, "admin.leaderboard.not_resolved", slug=slug))
        return
    if question.resolution == "annulled":
        await reply(message, t(lang, "admin.leaderboard.annulled", slug=slug))
        return
    entries = [e for e in await context.store.admin.scores(question.id) if has_score(e)]
    salt = context.settings.export_salt.get_secret_value()
    lines = [
        t(
            lang,
            "admin.leaderboard.title",
            question=escape(question.text(lang)),
            outcome=t(lang, f"admin.outcome.{question.resolution}"),
        ),
        tn(lang, "admin.leaderboard.count", len(entries)),
    ]
    rows = []
    for place, entry in enumerate(entries[:LEADERBOARD_SIZE], start=1):
        rows.append(leaderboard_row(place, entry, salt, lang))
    if rows:
        lines.append("\n".join(rows))
    mine = next((i for i, e in enumerate(entries, 1) if user and e.score.user_id == user.id), None)
    if mine is not None:
        lines.append(
            t(
                lang,
                "admin.leaderboard.yours",
                place=number(mine, lang),
                total=number(len(entries), lang),
                averaged=brier_text(entries[mine - 1].score.averaged_brier, lang),
            )
        )
    lines.append(t(lang, "admin.leaderboard.legend"))
    await reply(message, "\n\n".join(lines))


def leaderboard_row(place: int, entry: ScoredReader, salt: str, lang: str) -> str:
    """ "1. Anna — 0.090 (final 0.090)"; unnamed readers as "a reader r-1a2b3c"."""
    if entry.named_consent == 1 and entry.first_name:
        name = escape(entry.first_name[:40])
    else:
        short = pseudonym(entry.score.user_id, salt)[:8]
        name = t(lang, "admin.leaderboard.anonymous", pseudonym=short)
    return t(
        lang,
        "admin.leaderboard.row",
        place=place,
        name=name,
        averaged=brier_text(entry.score.averaged_brier, lang),
        final=brier_text(entry.score.final_brier, lang),
    )


# -- /setstat and /stathistory -------------------------------------------------------------


def parse_number(text: str) -> float | None:
    """ "25,3", "25.3", "-4" or "2500" as a float; None for anything else."""
    text = text.strip()
    if not NUMBER.match(text):
        return None
    value = float(text.replace(",", "."))
    return value if math.isfinite(value) else None


def plain_number(value: float | None, lang: str) -> str:
    """A figure as stored, per locale (integers without ".0"); "—" for None."""
    if value is None:
        return "—"
    return number(int(value) if float(value).is_integer() else value, lang)


async def setstat_command(update: Update, context: BotContext) -> None:
    """/setstat <key> <value> [period]: change a figure; the change is kept in its history."""
    if not await admin_only(update, context, "/setstat"):
        return
    message, user = update.effective_message, update.effective_user
    assert message and user
    lang, args = context.lang, context.args or []
    keys = ", ".join(s.key for s in await context.store.stats.all())
    if len(args) < 2:
        await reply(message, t(lang, "admin.setstat.usage", keys=keys))
        return
    key, raw = args[0], args[1]
    stat = await context.store.stats.get(key)
    if stat is None:
        await reply(message, t(lang, "admin.setstat.bad_key", key=escape(key[:64]), keys=keys))
        return
    value = parse_number(raw)
    if value is None:
        await reply(message, t(lang, "admin.setstat.bad_value", value=escape(raw[:64])))
        return
    period_ru, period_en = parse_period(" ".join(args[2:]))
    change = await context.store.stats.set_value(
        key, value, by=user.id, via="setstat", period_ru=period_ru, period_en=period_en
    )
    if change is None:
        await reply(message, t(lang, "admin.setstat.unchanged", key=escape(key)))
        return
    logger.info("Admin %s set %s from %s to %s", user.id, key, change.old_value, value)
    await reply(
        message,
        t(
            lang,
            "admin.setstat.done",
            key=escape(key),
            label=escape(stat.text("label", lang) or key),
            old=plain_number(change.old_value, lang),
            new=plain_number(change.new_value, lang),
            period=escape(change.period("new", lang) or ""),
        ),
    )


def parse_period(text: str) -> tuple[str | None, str | None]:
    """The optional period of /setstat as (Russian, English): "март 2026 | March 2026" gives
    both, one text is used for both languages; surrounding quotes are dropped; None when
    empty (the period stays)."""
    parts = [p.strip().strip("\"'«»“”„").strip()[:120] for p in text.split("|", 1)]
    if not parts[0]:
        return None, None
    return parts[0], (parts[1] if len(parts) == 2 and parts[1] else parts[0])


async def stathistory_command(update: Update, context: BotContext) -> None:
    """/stathistory <key>: the latest changes of a figure, newest first."""
    if not await admin_only(update, context, "/stathistory"):
        return
    message = update.effective_message
    assert message
    lang, args = context.lang, context.args or []
    keys = ", ".join(s.key for s in await context.store.stats.all())
    if len(args) != 1:
        await reply(message, t(lang, "admin.stathistory.usage", keys=keys))
        return
    stat = await context.store.stats.get(args[0])
    if stat is None:
        await reply(message, t(lang, "admin.setstat.bad_key", key=escape(args[0][:64]), keys=keys))
        return
    changes = await context.store.stats.history(stat.key, HISTORY_SIZE)
    lines = [
        t(
            lang,
            "admin.stathistory.title",
            key=escape(stat.key),
            label=escape(stat.text("label", lang) or stat.key),
            value=plain_number(stat.value, lang),
        )
    ]
    lines += [history_line(c, lang) for c in changes] or [t(lang, "admin.stathistory.empty")]
    await reply(message, "\n".join(lines))


def history_line(change: StatChange, lang: str) -> str:
    """One change: when, old → new, who (admin id) or how (seed, import), period change."""
    who = (
        t(lang, "admin.stathistory.by", user_id=change.changed_by)
        if change.changed_by is not None
        else t(lang, f"admin.stathistory.via.{change.via}")
    )
    line = t(
        lang,
        "admin.stathistory.line",
        at=moment(from_iso(change.changed_at), lang),
        old=plain_number(change.old_value, lang),
        new=plain_number(change.new_value, lang),
        who=who,
    )
    new_period = change.period("new", lang)
    if new_period and new_period != change.period("old", lang):
        line += t(lang, "admin.stathistory.period", period=escape(new_period))
    return line
