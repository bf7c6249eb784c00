"""Messages and keyboards of the channel post, its comment thread, and inline mode.

A channel post and a comment-thread prompt are public: they are written in the channel's
language (DEFAULT_LANGUAGE) and carry only buttons that work for anyone — one-tap
probabilities (callback), and URL buttons into the private chat (deep links) for whatever
needs a private message.
"""

from __future__ import annotations

import re
import zlib

from markupsafe import Markup
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.domain import Question
from bot.services.results import ResultsSnapshot
from bot.store.stats import Source, Stat
from bot.texts import forecast as fview
from bot.texts import percent, plain, t, t_plain, tn
from bot.texts.callbacks import ConfirmOffer, ShowResults
from bot.texts.stats import amount, provenance

# a /start argument: at most 56 of A-Z a-z 0-9 and "-" (see bot/handlers/start.py PAYLOAD)
_ARG = re.compile(r"^[A-Za-z0-9-]{1,56}$")


def deep_link(bot_username: str, action: str, arg: str | None = None) -> str:
    """https://t.me/<bot>?start=<action>[_<arg>] — opens the private chat with a payload."""
    payload = f"{action}_{arg}" if arg else action
    return f"https://t.me/{bot_username}?start={payload}"


def question_arg(question: Question) -> str:
    """The deep-link argument naming a question: its slug, or its id when the slug has
    characters a /start payload cannot carry."""
    return question.slug if _ARG.match(question.slug) else str(question.id)


def shown_tally(snap: ResultsSnapshot, reveal_min: int) -> tuple[int, float | None]:
    """What a public tally shows: (forecasters, median % rounded to 0.1, or None while the
    median is hidden — nobody yet, or fewer than `reveal_min` forecasters: anti-anchoring)."""
    if snap.aggregate is None or snap.count < reveal_min:
        return snap.count, None
    return snap.count, round(snap.aggregate.median, 1)


def tally_line(count: int, median: float | None, reveal_min: int, lang: str) -> Markup:
    """ "🗳 12 forecasters · community median 65 %" (or why the median is not shown)."""
    if count == 0:
        return t(lang, "channel.tally.none")
    forecasters = tn(lang, "results.forecasters", count, n=count)
    if median is None:
        return tn(
            lang, "channel.tally.hidden", reveal_min, forecasters=forecasters, needed=reveal_min
        )
    return t(lang, "channel.tally.shown", forecasters=forecasters, median=percent(median, lang))


def key_figures(stats: list[Stat], sources: list[Source], lang: str) -> Markup:
    """The headline figures, one short line each, with period and source as in /stats."""
    lines = [t(lang, "channel.card.figures")]
    by_key = {s.key: s for s in sources}
    for stat in stats:
        if stat.headline:
            lines.append(
                t(
                    lang,
                    "channel.card.figure_meta",
                    label=stat.text("label", lang) or stat.key,
                    amount=amount(stat, lang),
                    meta=provenance(stat, lang, None, by_key),
                )
            )
    return Markup("\n").join(lines)


def post_text(
    question: Question, stats: list[Stat], sources: list[Source], tally: Markup, lang: str
) -> Markup:
    """The channel post: head, the question with its criteria, key figures (with period and
    source), tally, how-to."""
    parts = [
        t(lang, "channel.card.head"),
        fview.question_block(question, lang),
        key_figures(stats, sources, lang),
        tally,
        t(lang, "channel.card.how"),
    ]
    return Markup("\n\n").join(parts)


def post_state(question: Question) -> str:
    """A signature of what a post shows of its question besides the tally (status, outcome,
    its link and note, criteria): a post is edited when it differs from the one shown."""
    changed = question.criteria_changed_at
    # stored with the post (shown_state): the time in its ISO text form, so signatures
    # computed before and after a restart or an upgrade compare equal
    parts = (
        question.status, question.resolution, question.resolution_link,
        question.resolution_note, changed.isoformat(timespec="microseconds") if changed else None,
        question.criteria_ru, question.criteria_en, fview.takes_forecasts(question),
    )  # fmt: skip
    return f"{zlib.crc32(repr(parts).encode()):08x}"


def public_keyboard(question: Question, bot_username: str, lang: str) -> InlineKeyboardMarkup:
    """Under a channel post or a thread prompt: the labelled one-tap probabilities (the same
    as /forecast), exact % and reason as deep links into the private chat, and results.
    Once the question takes no forecasts, only the results button stays."""
    if not fview.takes_forecasts(question):
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton(t(lang, "forecast.button.results"),
                                   callback_data=ShowResults(question.id).pack())]]
        )  # fmt: skip
    presets = fview.forecast_keyboard(question.id, lang).inline_keyboard[: len(fview.PRESETS)]
    arg = question_arg(question)
    rows = [list(row) for row in presets]
    rows.append(
        [
            InlineKeyboardButton(
                t(lang, "channel.button.exact"), url=deep_link(bot_username, "exact", arg)
            ),
            InlineKeyboardButton(
                t(lang, "channel.button.reason"), url=deep_link(bot_username, "reason", arg)
            ),
        ]
    )
    rows.append(
        [
            InlineKeyboardButton(
                t(lang, "forecast.button.results"), callback_data=ShowResults(question.id).pack()
            )
        ]
    )
    return InlineKeyboardMarkup(rows)


def thread_prompt(question: Question, tally: Markup, lang: str) -> Markup:
    """The one prompt in a post's comment thread."""
    return t(lang, "channel.thread.prompt", question=question.text(lang), tally=tally)


def offer_text(
    name_html: Markup, probability: int, reason: str, lang: str, *, done: bool = False
) -> Markup:
    """ "Anna, I read 70 % (likely). Reason: …", or with `done` the same offer once recorded
    (public: it shows what the reader wrote anyway). `name_html` is already HTML (Markup)."""
    text = t(
        lang,
        "channel.confirm.done" if done else "channel.thread.offer",
        name=name_html,
        probability=percent(probability, lang),
        words=fview.verbal(probability, lang),
    )
    if reason:
        text += "\n" + t(lang, "channel.thread.offer_reason", reason=reason)
    return text


def offer_keyboard(offer_id: int, probability: int, lang: str) -> InlineKeyboardMarkup:
    """The single "record N % as my forecast" button (only its reader may use it)."""
    label = t_plain(lang, "channel.button.confirm", probability=percent(probability, lang))
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=ConfirmOffer(offer_id).pack())]]
    )


def link_to_post(chat_id: int, username: str | None, message_id: int) -> str:
    """A t.me link to a channel post (public: by username; private: /c/<internal id>)."""
    if username:
        return f"https://t.me/{username}/{message_id}"
    internal = str(-chat_id).removeprefix("100") if chat_id < 0 else str(chat_id)
    return f"https://t.me/c/{internal}/{message_id}"


def plain_tally(tally: str) -> str:
    """A tally line as plain text (for an inline result's description)."""
    return plain(tally)


def url_keyboard(label: str, url: str) -> InlineKeyboardMarkup:
    """One URL button."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, url=url)]])
