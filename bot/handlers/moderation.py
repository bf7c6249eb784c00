"""Moderation for admins: /hide and /unhide a reader's reasons, and the revision limit.

`/hide r-k7q2m9` (the handle shown in /results and /leaderboard) or `/hide` as a reply to the
reader's own message (e.g. their comment in a post's thread) hides every reason of that
reader from public view — /results, the comment thread, channel posts, inline cards — until
`/unhide`. The reasons stay in exports, marked in the reason_hidden column. `/hide` alone
lists the reasons shown publicly with their handles, `/unhide` alone the hidden readers;
both lists only in private. In a group the confirmation never names the reader's handle, so
that it cannot be linked to the person replied to.

The revision limit (REVISIONS_PER_MINUTE changes of a reader's forecasts per minute, over
every question) is checked before each write by `refuse_flood`; in comment threads the bot
stops answering a reader's replies with offers beyond as many a minute (`flooding_thread`).
Hides, unhides and the first refusal of each minute are logged for /admin.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta

from telegram import Update

from bot.handlers.admin import admin_only, private_only
from bot.handlers.common import BotContext, in_private, is_reader, reply
from bot.store.users import Reader
from bot.texts import moment, t

logger = logging.getLogger(__name__)

RATE_WINDOW = timedelta(minutes=1)
MAX_LISTED = 20


async def hide_command(update: Update, context: BotContext) -> None:
    """/hide <handle> or /hide as a reply: hide the reader's reasons; /hide alone: the
    reasons shown publicly now, with handles (private only)."""
    await moderate(update, context, list(context.args or []), hide=True)


async def unhide_command(update: Update, context: BotContext) -> None:
    """/unhide <handle> or as a reply: show the reader's reasons again; alone: the hidden
    readers (private only)."""
    await moderate(update, context, list(context.args or []), hide=False)


async def deep_link_hide(update: Update, context: BotContext, _arg: str | None) -> None:
    """/start hide: the group's "Continue in private" button for /hide lands here."""
    await moderate(update, context, [], hide=True)


async def deep_link_unhide(update: Update, context: BotContext, _arg: str | None) -> None:
    """/start unhide: the same for /unhide."""
    await moderate(update, context, [], hide=False)


async def moderate(update: Update, context: BotContext, args: list[str], *, hide: bool) -> None:
    """Find the reader (handle or reply), then hide or unhide; without one, the list."""
    verb = "hide" if hide else "unhide"
    if not await admin_only(update, context, f"/{verb}"):
        return
    message, admin = update.effective_message, update.effective_user
    assert message and admin
    lang = context.lang
    replied = message.reply_to_message
    if replied is not None and replied.forum_topic_created is not None:
        replied = None  # a message in a forum topic "replies" to the topic's first message
    if not args and (replied is None or replied.from_user is None):
        if await private_only(update, context, verb):
            await reply(message, await (hidden_list(context) if not hide else shown_list(context)))
        return
    if args:
        reader = await context.store.users.by_handle(args[0])
        if reader is None:
            await reply(message, t(lang, "admin.hide.unknown", handle=args[0][:32]))
            return
    else:
        assert replied and replied.from_user
        target = replied.from_user
        found = await context.store.users.get(target.id) if is_reader(target) else None
        if found is None:
            await reply(message, t(lang, "admin.hide.not_a_reader"))
            return
        reader = found
    moderation = context.store.moderation
    if hide:
        done = await moderation.hide(reader.user_id, admin.id)
    else:
        done = await moderation.unhide(reader.user_id, admin.id)
    if done:
        logger.info("Admin %s: %s reader %s", admin.id, verb, reader.handle)
    key = f"admin.{verb}.{'done' if done else 'unchanged'}"
    private = in_private(update)
    who = who_text(reader, lang) if private else t(lang, "admin.hide.who_this")
    text = t(lang, key, who=who)
    if private and done and hide:
        text += "\n" + t(lang, "admin.hide.undo", handle=reader.handle or "")
    await reply(message, text)


def who_text(reader: Reader, lang: str) -> str:
    """ "reader r-k7q2m9 (Anna)" for an admin in private."""
    return t(
        lang,
        "admin.hide.who",
        handle=reader.handle or "—",
        name=reader.first_name[:40] or "—",
    )


async def shown_list(context: BotContext) -> str:
    """The usage of /hide and the reasons shown publicly on the default question now."""
    lang = context.lang
    lines = [t(lang, "admin.hide.usage")]
    question = await context.store.questions.default()
    reasons = await context.store.forecasts.recent_reasons(question.id) if question else []
    if not reasons:
        lines.append(t(lang, "admin.hide.none_shown"))
    for r in reasons:
        lines.append(
            t(
                lang,
                "admin.hide.shown_item",
                handle=r.handle or "—",
                name=f" ({r.name[:40]})" if r.name else "",
                reason=r.reason[:200],
            )
        )
    return "\n".join(lines)


async def hidden_list(context: BotContext) -> str:
    """The usage of /unhide and the readers hidden now, newest first."""
    lang = context.lang
    hidden = await context.store.moderation.hidden()
    lines = [t(lang, "admin.unhide.usage")]
    if not hidden:
        lines.append(t(lang, "admin.unhide.none_hidden"))
    for h in hidden[:MAX_LISTED]:
        lines.append(
            t(
                lang,
                "admin.unhide.hidden_item",
                handle=h.handle or "—",
                name=h.first_name[:40] or "—",
                at=moment(h.hidden_at, lang),
                admin=h.hidden_by if h.hidden_by is not None else "—",
            )
        )
    return "\n".join(lines)


async def flooding_thread(update: Update, context: BotContext) -> bool:
    """True when the reader already got REVISIONS_PER_MINUTE "record N %" offers in comment
    threads in the last minute: the bot then stays silent there (an answer to each message
    would be the flood itself). Logged like a refused revision."""
    limit = context.settings.revisions_per_minute
    user = update.effective_user
    if not limit or user is None:
        return False
    since = datetime.now(UTC) - RATE_WINDOW
    if await context.store.moderation.recent_offers(user.id, since) < limit:
        return False
    if await context.store.moderation.log_rate_limited(user.id, since):
        reader = await context.store.users.get(user.id)
        logger.info("Thread offers limit reached by reader %s", reader.handle if reader else None)
    return True


async def refuse_flood(update: Update, context: BotContext) -> bool:
    """True (after a polite reply, or an alert for a button) when the reader already changed
    their forecasts REVISIONS_PER_MINUTE times in the last minute; nothing is stored then.
    The first refusal of each minute is logged for /admin."""
    limit = context.settings.revisions_per_minute
    user = update.effective_user
    if not limit or user is None:
        return False
    now = datetime.now(UTC)
    since = now - RATE_WINDOW
    moderation = context.store.moderation
    count, oldest = await moderation.recent_changes(user.id, since)
    if count < limit:
        return False
    wait = RATE_WINDOW - (now - oldest) if oldest else RATE_WINDOW
    seconds = max(1, math.ceil(wait.total_seconds()))
    if await moderation.log_rate_limited(user.id, since):
        reader = await context.store.users.get(user.id)
        logger.info("Revision limit reached by reader %s", reader.handle if reader else None)
    text = t(context.lang, "forecast.too_many", limit=limit, seconds=seconds)
    if update.callback_query:
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_message:
        await reply(update.effective_message, text)
    return True
