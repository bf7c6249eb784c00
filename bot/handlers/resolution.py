"""/resolve with Brier scoring and private score messages, and /leaderboard."""

from __future__ import annotations

import logging

from markupsafe import Markup
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import Forbidden, TelegramError

from bot.domain import Question
from bot.handlers.admin import (
    admin_button,
    admin_only,
    brier_text,
    find_question,
    reply_to_query,
    status_text,
    unknown_question,
)
from bot.handlers.common import (
    BotContext,
    reply,
)
from bot.services.hygiene import display_name
from bot.services.resolution import (
    link_and_note,
    parse_outcome,
    resolve_question,
    scored_readers,
)
from bot.store.admin import ScoredReader
from bot.texts import moment, number, percent, pick_language, t, tn
from bot.texts.callbacks import ResolveConfirm
from bot.texts.forecast import reader_label, takes_forecasts

logger = logging.getLogger(__name__)

LEADERBOARD_SIZE = 10


# -- /resolve and scores -------------------------------------------------------------------


async def resolve_command(update: Update, context: BotContext) -> None:
    """/resolve <slug> yes|no|annulled [link] [note]: ask to confirm (scores go out to
    readers), with a warning when the question has not reached its closing time yet. The
    confirmation quotes the command, so the button reads the link and note from it."""
    if not await admin_only(update, context, "/resolve"):
        return
    message = update.effective_message
    assert message
    lang, args = context.lang, context.args or []
    outcome = parse_outcome(args[1]) if len(args) >= 2 else None
    if outcome is None:
        await reply(message, t(lang, "admin.resolve.usage"))
        return
    link, note = link_and_note(message.text or "")
    if len(args) >= 3 and link is None and args[2].lower().startswith(("http:", "https:", "www.")):
        await reply(message, t(lang, "admin.resolve.bad_link", link=args[2][:200]))
        return
    question = await find_question(context, args[0])
    if question is None:
        await unknown_question(update, context, args[0])
        return
    if question.status == "resolved":
        await reply(message, t(lang, "admin.resolve.already", slug=question.slug,
                               status=status_text(question, lang)))  # fmt: skip
        return
    forecasters = await context.store.admin.count_forecasts(question.id)
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t(lang, "admin.resolve.button.confirm"),
                    callback_data=ResolveConfirm(question.id, outcome).pack(),
                ),
                InlineKeyboardButton(
                    t(lang, "admin.resolve.button.cancel"),
                    callback_data=ResolveConfirm(question.id, "cancel").pack(),
                ),
            ]
        ]
    )
    text = tn(
        lang,
        "admin.resolve.confirm_annulled" if outcome == "annulled" else "admin.resolve.confirm",
        forecasters,
        slug=question.slug,
        text=question.text(lang),
        outcome=t(lang, f"admin.outcome.{outcome}"),
        forecasters=number(forecasters, lang),
    )
    if link:
        text += "\n" + t(lang, "questions.resolution_link", url=link)
    if note:
        text += "\n" + t(lang, "questions.resolution_note", note=note)
    if takes_forecasts(question):
        closes = question.closes_at
        text += "\n\n" + t(lang, "admin.resolve.early", closes=moment(closes, lang))
    await reply(message, text, reply_markup=keyboard, do_quote=True)


async def resolve_button(update: Update, context: BotContext) -> None:
    """rv:<id>:<yes|no|annulled|cancel>: resolve and score (services.resolution), then
    send the scores to readers in the background."""
    query = update.callback_query
    assert query
    lang = context.lang
    pressed = await admin_button(update, context, ResolveConfirm)
    if pressed is None:
        return
    question, outcome = pressed[0], pressed[1].outcome
    await query.answer()
    await query.edit_message_reply_markup(None)
    if outcome == "cancel":
        await reply_to_query(update, t(lang, "admin.resolve.cancelled"))
        return
    command = query.message.reply_to_message if isinstance(query.message, Message) else None
    link, note = link_and_note(command.text or "") if command else (None, None)
    scores = await resolve_question(context, question, outcome, link=link, note=note)
    if scores is None:
        await reply_to_query(
            update,
            t(lang, "admin.resolve.already", slug=question.slug,
              status=status_text(question, lang)),
        )  # fmt: skip
        return
    logger.info("Question %s resolved %s; %s scored", question.slug, outcome, len(scores))
    if outcome == "annulled":
        await reply_to_query(update, t(lang, "admin.resolve.annulled", slug=question.slug))
        return
    await reply_to_query(
        update,
        tn(
            lang,
            "admin.resolve.done",
            len(scores),
            slug=question.slug,
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
    tasks = context.bot_data.notify_tasks
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
        question=question.text(lang),
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
    entries = await scored_readers(context.store, question.id)
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
            logger.info("A reader blocked the bot; score not delivered")
            await context.store.users.set_blocked(user_id)
            failed += 1
        except TelegramError as exc:
            logger.warning("Could not send a score to a reader: %s", exc)
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
        question = max(resolved, key=lambda q: q.resolved_at or q.created_at)
    slug = question.slug
    if question.status != "resolved":
        await reply(message, t(lang, "admin.leaderboard.not_resolved", slug=slug))
        return
    if question.resolution == "annulled":
        await reply(message, t(lang, "admin.leaderboard.annulled", slug=slug))
        return
    entries = await scored_readers(context.store, question.id)
    lines = [
        t(
            lang,
            "admin.leaderboard.title",
            question=question.text(lang),
            outcome=t(lang, f"admin.outcome.{question.resolution}"),
        ),
        tn(lang, "admin.leaderboard.count", len(entries)),
    ]
    if question.resolution_note:
        note = question.resolution_note
        lines.insert(1, t(lang, "questions.resolution_note", note=note))
    if question.resolution_link:
        link = question.resolution_link
        lines.insert(1, t(lang, "questions.resolution_link", url=link))
    rows = []
    for place, entry in enumerate(entries[:LEADERBOARD_SIZE], start=1):
        rows.append(leaderboard_row(place, entry, lang))
    if rows:
        lines.append(Markup("\n").join(rows))
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


def leaderboard_row(place: int, entry: ScoredReader, lang: str) -> Markup:
    """ "1. Anna — 0.090 (final 0.090)"; unnamed readers (or names with nothing visible)
    under their random public handle, "a reader r-k7q2m9" (never derived from the Telegram
    id)."""
    shown = display_name((entry.first_name or "")[:40]) if entry.named_consent == 1 else None
    name: str = shown if shown else reader_label(entry.handle, lang)
    return t(
        lang,
        "admin.leaderboard.row",
        place=place,
        name=name,
        averaged=brier_text(entry.score.averaged_brier, lang),
        final=brier_text(entry.score.final_brier, lang),
    )
