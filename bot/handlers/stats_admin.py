"""/setstat and /stathistory: keeping the figures current, with every change on record."""

from __future__ import annotations

import logging

from telegram import Update

from bot.handlers.admin import (
    admin_only,
    private_only,
)
from bot.handlers.common import (
    BotContext,
    reply,
)
from bot.handlers.start import PAYLOAD
from bot.services.dataset import value_problem
from bot.services.figures import parse_number, parse_options, parse_period, splits_thousands
from bot.store.stats import Source, StatChange
from bot.texts import moment, number, t
from bot.texts.stats import CITED_PREFIX, provenance

logger = logging.getLogger(__name__)

HISTORY_SIZE = 15


# -- /setstat and /stathistory -------------------------------------------------------------


def plain_number(value: float | None, lang: str) -> str:
    """A figure as stored, per locale (integers without ".0"); "—" for None."""
    if value is None:
        return "—"
    return number(int(value) if float(value).is_integer() else value, lang)


async def setstat_command(update: Update, context: BotContext) -> None:
    """/setstat <key> <value> [period], then optional "name: value" lines (see
    services.figures.SetstatOptions): change a figure; the change is kept in its history."""
    if not await admin_only(update, context, "/setstat"):
        return
    message, user = update.effective_message, update.effective_user
    assert message and user
    lines = (message.text or "").splitlines() or [""]
    lang, args = context.lang, lines[0].split()[1:]
    options = parse_options(lines[1:])
    if isinstance(options, tuple):
        bad, line = options
        await reply(message, t(lang, f"admin.setstat.bad_{bad}", line=line[:120]))
        return
    keys = ", ".join(s.key for s in await context.store.stats.all())
    if len(args) < 2:
        await reply(message, t(lang, "admin.setstat.usage", keys=keys))
        return
    key, raw = args[0], args[1]
    stat = await context.store.stats.get(key)
    if stat is None:
        await reply(message, t(lang, "admin.setstat.bad_key", key=key[:64], keys=keys))
        return
    value = parse_number(raw)
    if value is None:
        await reply(message, t(lang, "admin.setstat.bad_value", value=raw[:64]))
        return
    if len(args) > 2 and splits_thousands(args[2]):
        # "1 000": Russian readers group thousands with a space, which splits the value
        await reply(message, t(lang, "admin.setstat.spaced", value=f"{raw} {args[2]}"))
        return
    problem = value_problem(stat.unit, value)
    if problem is not None:
        await reply(message, t(lang, f"admin.setstat.{problem}", value=raw))
        return
    period_ru, period_en = parse_period(" ".join(args[2:]))
    change = await context.store.stats.set_value(
        key,
        value,
        by=user.id,
        via="setstat",
        period_ru=options.period_ru or period_ru,
        period_en=options.period_en or period_en,
        qualifier=options.qualifier,
        source=options.source,
    )
    if change is None:
        await reply(message, t(lang, "admin.setstat.unchanged", key=key))
        return
    logger.info("Admin %s set %s from %s to %s", user.id, key, change.old_value, value)
    updated = await context.store.stats.get(key)
    assert updated is not None
    sources = {s.key: s for s in await context.store.stats.sources()}
    await reply(
        message,
        t(
            lang,
            "admin.setstat.done",
            key=key,
            label=stat.text("label", lang) or key,
            old=plain_number(change.old_value, lang),
            new=plain_number(change.new_value, lang),
            period=change.period("new", lang) or "",
        )
        + "\n"
        + provenance(updated, lang, None, sources),
    )


async def stathistory_command(update: Update, context: BotContext) -> None:
    """/stathistory <key>: the latest changes of a figure, newest first."""
    await run_stathistory(update, context, list(context.args or []))


async def deep_link_stathistory(update: Update, context: BotContext, arg: str | None) -> None:
    """/start stathistory[_<key>] (keys travel with "-" for "_", which deep links lack)."""
    await run_stathistory(update, context, [arg.replace("-", "_")] if arg else [])


async def run_stathistory(update: Update, context: BotContext, args: list[str]) -> None:
    """/stathistory for admins, in private only (it names the admins who changed figures)."""
    if not await admin_only(update, context, "/stathistory"):
        return
    key_arg = args[0].replace("_", "-") if len(args) == 1 else ""
    payload = (
        f"stathistory_{key_arg}" if PAYLOAD.match(f"stathistory_{key_arg}") else "stathistory"
    )
    if not await private_only(update, context, payload):
        return
    message = update.effective_message
    assert message
    lang = context.lang
    keys = ", ".join(s.key for s in await context.store.stats.all())
    if len(args) != 1:
        await reply(message, t(lang, "admin.stathistory.usage", keys=keys))
        return
    stat = await context.store.stats.get(args[0])
    if stat is None:
        await reply(message, t(lang, "admin.setstat.bad_key", key=args[0][:64], keys=keys))
        return
    changes = await context.store.stats.history(stat.key, HISTORY_SIZE)
    lines: list[str] = [
        t(
            lang,
            "admin.stathistory.title",
            key=stat.key,
            label=stat.text("label", lang) or stat.key,
            value=plain_number(stat.value, lang),
        )
    ]
    sources = {s.key: s for s in await context.store.stats.sources()}
    lines += [history_line(c, lang, sources) for c in changes] or [
        t(lang, "admin.stathistory.empty")
    ]
    await reply(message, "\n".join(lines))


def history_line(change: StatChange, lang: str, sources: dict[str, Source] | None = None) -> str:
    """One change: when, old → new, who (admin id) or how (seed, import), period change,
    and the source an admin cited (looked up in `sources`, by key)."""
    sources = sources or {}
    who = (
        t(lang, "admin.stathistory.by", user_id=change.changed_by)
        if change.changed_by is not None
        else t(lang, f"admin.stathistory.via.{change.via}")
    )
    line = t(
        lang,
        "admin.stathistory.line",
        at=moment(change.changed_at, lang),
        old=plain_number(change.old_value, lang),
        new=plain_number(change.new_value, lang),
        who=who,
    )
    new_period = change.period("new", lang)
    if new_period and new_period != change.period("old", lang):
        line += t(lang, "admin.stathistory.period", period=new_period)
    if change.new_source_key and change.new_source_key.startswith(CITED_PREFIX):
        source = sources.get(change.new_source_key)
        name = source.title(lang) if source else change.new_source_key
        line += t(lang, "admin.stathistory.source", source=name)
    return line
