"""/export: a question's forecasts as CSV and JSON documents, for admins in private chats.

`/export [slug] [csv] [json] [history] [full]`, words in any order:
no format word → forecasts CSV, forecasts JSON and the history CSV; `csv` / `json` → that
file only; `history` → every revision (CSV); `full` → with Telegram id, username and name
(only when EXPORT_ALLOW_FULL=true). The slug defaults to the default question.

In a group nothing is sent there: admins get a button that continues in private.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from telegram import Update
from telegram.constants import ChatAction

from bot.handlers.admin import admin_only, find_question, private_only, unknown_question
from bot.handlers.common import BotContext, reply
from bot.handlers.start import PAYLOAD
from bot.services.export_format import UploadTooLargeError
from bot.services.export_run import ExportSpec, exported_files
from bot.texts import t, tn

logger = logging.getLogger(__name__)

WORDS = ("csv", "json", "history", "full")


class ExportArgs:
    """The parsed words of /export: a slug (or None), the files to make, `full`."""

    def __init__(self, args: list[str]) -> None:
        """Raises ValueError when more than one word is not an option (two slugs)."""
        words = [a.lower() for a in args]
        slugs = [w for w in words if w not in WORDS]
        if len(slugs) > 1:
            raise ValueError(slugs)
        self.slug: str | None = slugs[0] if slugs else None
        self.full = "full" in words
        chosen = [w for w in ("csv", "json", "history") if w in words]
        if not chosen:
            chosen = ["csv", "json", "history"]
        self.specs = [
            ExportSpec("history", "csv", self.full)
            if word == "history"
            else ExportSpec("forecasts", word, self.full)
            for word in chosen
        ]


async def export_command(update: Update, context: BotContext) -> None:
    """/export [slug] [csv|json|history] [full]."""
    await run_export(update, context, list(context.args or []))


async def deep_link_export(update: Update, context: BotContext, slug: str | None) -> None:
    """/start export[_<slug>]: the button /export shows in groups lands here (private)."""
    await run_export(update, context, [slug] if slug else [])


async def run_export(update: Update, context: BotContext, args: list[str]) -> None:
    """Check who and where, then write the files to a temporary folder and send them."""
    if not await admin_only(update, context, "/export"):
        return
    message = update.effective_message
    assert message
    lang = context.lang
    try:
        parsed = ExportArgs(args)
    except ValueError:
        await reply(message, t(lang, "admin.export.usage"))
        return
    payload = "export"
    if parsed.slug and PAYLOAD.match(f"export_{parsed.slug}"):
        payload = f"export_{parsed.slug}"
    if not await private_only(update, context, payload, "admin.export.private_only"):
        return
    if parsed.full and not context.settings.export_allow_full:
        user_id = update.effective_user.id if update.effective_user else None
        logger.warning("Refused /export full for admin %s: EXPORT_ALLOW_FULL is off", user_id)
        await reply(message, t(lang, "admin.export.full_refused"))
        return
    question = await find_question(context, parsed.slug)
    if question is None:
        if parsed.slug:
            # "/export xml": not a question, and perhaps meant as a format
            await unknown_question(update, context, parsed.slug)
            await reply(message, t(lang, "admin.export.usage"))
        else:
            await reply(message, t(lang, "admin.export.no_default"))
        return
    await context.bot.send_chat_action(message.chat_id, ChatAction.UPLOAD_DOCUMENT)
    salt = context.settings.export_salt.get_secret_value()
    now = datetime.now(UTC)
    try:
        async with exported_files(
            context.store, question, parsed.specs, salt=salt, now=now
        ) as files:
            for file in files:
                key = "admin.export.caption_zipped" if file.zipped else "admin.export.caption"
                caption = tn(lang, key, file.rows, slug=question.slug)
                await message.reply_document(file.path, filename=file.filename, caption=caption)
            empty = any(f.rows == 0 for f in files)
    except UploadTooLargeError:
        logger.warning("Export of %s too large to upload even zipped", question.slug)
        await reply(message, t(lang, "admin.export.too_large", slug=question.slug))
        return
    user_id = update.effective_user.id if update.effective_user else None
    logger.info("Admin %s exported %s (%s)", user_id, question.slug,
                ", ".join(f.filename for f in files))  # fmt: skip
    if empty:
        await reply(message, t(lang, "admin.export.empty", slug=question.slug))
