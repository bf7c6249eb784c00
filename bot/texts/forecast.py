"""Messages and keyboards of the forecast flow and /results, in the reader's language."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, TypeVar

from markupsafe import Markup
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.domain import Forecast, HistoryEntry, Question
from bot.keyboard import Keyboard
from bot.services.chart import ChartLabels
from bot.services.hygiene import CAPTION_LIMIT, TEXT_LIMIT, display_name, shorten, tg_length
from bot.services.results import ResultsSnapshot
from bot.texts import day, moment, number, percent, plain, t, t_plain, tn
from bot.texts.callbacks import (
    ExactPrompt,
    ForecastPreset,
    NamingConsent,
    OpenCard,
    ReasonPrompt,
    ShowResults,
    WithdrawConfirm,
)

# One-tap probabilities (percent) and their catalog labels.
PRESETS = ((5, "almost_no"), (25, "unlikely"), (50, "tossup"), (75, "likely"), (95, "almost_yes"))
BAR_WIDTH = 12
# length budgets in UTF-16 units (bot.services.hygiene): a shown reason, a question title, the
# room kept for an "and N more" line, a reason inside the /myforecast history
REASON_UNITS = 500
QUESTION_UNITS = 600
MORE_RESERVE = 80
HISTORY_REASON_UNITS = 300


# Words for a probability (%), after the scale of US Intelligence Community Directive 203
# ("Analytic Standards", 2015): almost no chance 1-5, very unlikely 5-20, unlikely 20-45,
# roughly even chance 45-55, likely 55-80, very likely 80-95, almost certain 95-99. Each
# row: the highest whole percent that still takes the words.
WORDS_SCALE = (
    (5, "almost_no"),
    (20, "very_unlikely"),
    (44, "unlikely"),
    (55, "tossup"),
    (79, "likely"),
    (94, "very_likely"),
    (99, "almost_yes"),
)


def verbal(probability: int, lang: str) -> Markup:
    """The words for a probability in whole percent (1..99), from WORDS_SCALE."""
    key = next((k for top, k in WORDS_SCALE if probability <= top), WORDS_SCALE[-1][1])
    return t(lang, f"forecast.label.{key}")


def pct(value: float, lang: str) -> str:
    """A probability in percent, rounded to one decimal for display."""
    return percent(round(value, 1), lang)


def takes_forecasts(question: Question, now: datetime | None = None) -> bool:
    """True while the question is open and its closing time (UTC) has not passed."""
    moment_ = now or datetime.now(UTC)
    return question.status == "open" and question.closes_at > moment_


def slug_list(slugs: Iterable[str]) -> Markup:
    """Question slugs as code, comma-separated ("" when there are none)."""
    return Markup(", ").join(Markup("<code>{}</code>").format(slug) for slug in slugs)


def user_mention(user_id: int, name: str) -> Markup:
    """A text mention of a Telegram user (works without a username): `name` linked to
    tg://user?id=<user_id>."""
    return Markup('<a href="tg://user?id={}">{}</a>').format(user_id, name)


def open_item(question: Question, lang: str) -> Markup:
    """An open question in the reader's /questions list (HTML)."""
    return t(
        lang,
        "questions.item_open",
        question=question.text(lang),
        slug=question.slug,
        closes=day(question.closes_at.date(), lang),
    )


def outcome_text(question: Question, lang: str) -> Markup:
    """ "Resolved: YES on 1 Feb 2031", with the source link and the note when given (HTML);
    "closed, awaiting resolution" for a closed question."""
    if question.status != "resolved" or not question.resolution:
        return t(lang, "questions.awaiting")
    text = t(
        lang,
        "questions.resolved",
        outcome=t(lang, f"questions.outcome.{question.resolution}"),
        when=day((question.resolved_at or question.closes_at).date(), lang),
    )
    if question.resolution_link:
        text += "\n" + t(lang, "questions.resolution_link", url=question.resolution_link)
    if question.resolution_note:
        text += "\n" + t(lang, "questions.resolution_note", note=question.resolution_note)
    return text


def settled_item(question: Question, lang: str) -> Markup:
    """A closed or resolved question in the reader's /questions list (HTML)."""
    return t(
        lang,
        "questions.item_done",
        question=question.text(lang),
        slug=question.slug,
        outcome=outcome_text(question, lang),
    )


def question_block(question: Question, lang: str) -> Markup:
    """The question, its resolution criteria (with the date they changed, when they changed
    after forecasts were made) and its dates; once it takes no forecasts, its outcome (or
    "closed, awaiting resolution") instead of the dates."""
    criteria = [question.criteria(lang)]
    if question.criteria_changed_at:
        changed = day(question.criteria_changed_at.date(), lang)
        criteria.append(t(lang, "forecast.criteria_changed", date=changed))
    if not takes_forecasts(question):
        return t(
            lang,
            "forecast.question_settled",
            question=question.text(lang),
            criteria=Markup("\n").join(criteria),
            outcome=outcome_text(question, lang),
        )
    return t(
        lang,
        "forecast.question",
        question=question.text(lang),
        criteria=Markup("\n").join(criteria),
        closes=day(question.closes_at.date(), lang),
        resolve_by=day(question.resolve_by.date(), lang),
    )


def forecast_card(question: Question, current: Forecast | None, lang: str) -> Markup:
    """/forecast: the question, the reader's standing forecast if any, and what to tap
    (nothing to tap once the question takes no forecasts)."""
    parts = [question_block(question, lang)]
    if current and not current.withdrawn:
        parts.append(your_forecast(current, lang))
    if not takes_forecasts(question):
        return Markup("\n\n").join(parts)
    # typed commands (/forecast N) follow the reader's current question (the one they opened
    # last, kept in the database); the slug names it anyway
    if question.is_default:
        parts.append(t(lang, "forecast.tap"))
    else:
        parts.append(t(lang, "forecast.tap_slug", slug=question.slug))
    return Markup("\n\n").join(parts)


def your_forecast(forecast: Forecast, lang: str) -> Markup:
    """ "Your forecast: 75 % (likely)", with the reason when there is one."""
    text = t(
        lang,
        "forecast.yours",
        probability=percent(forecast.probability, lang),
        words=verbal(forecast.probability, lang),
    )
    if forecast.reason:
        text += "\n" + t(lang, "forecast.your_reason", reason=forecast.reason)
    return text


@lru_cache(maxsize=256)
def forecast_keyboard(question_id: int, lang: str) -> InlineKeyboardMarkup:
    """Labelled one-tap probabilities, then exact %, add a reason, and results."""
    rows = [
        [
            InlineKeyboardButton(
                t_plain(
                    lang,
                    "forecast.button.preset",
                    words=t(lang, f"forecast.label.{key}"),
                    probability=percent(p, lang),
                ),
                callback_data=ForecastPreset(question_id, p).pack(),
            )
        ]
        for p, key in PRESETS
    ]
    rows.append(
        [
            InlineKeyboardButton(
                t(lang, "forecast.button.exact"), callback_data=ExactPrompt(question_id).pack()
            ),
            InlineKeyboardButton(
                t(lang, "forecast.button.reason"), callback_data=ReasonPrompt(question_id).pack()
            ),
        ]
    )
    rows.append(
        [
            InlineKeyboardButton(
                t(lang, "forecast.button.results"), callback_data=ShowResults(question_id).pack()
            )
        ]
    )
    return Keyboard(rows)


def recorded(
    forecast: Forecast,
    previous: Forecast | None,
    lang: str,
    rounded: str | None,
    question: Question | None = None,
) -> Markup:
    """The confirmation after a forecast was stored; names `question` when given (the
    caller passes it when several questions are open or it is not the default one; typed
    commands follow the reader's current question either way)."""
    text = _recorded("forecast.recorded", forecast, previous, lang)
    if rounded:
        text += "\n" + t(
            lang,
            "forecast.rounded",
            original=rounded,
            probability=percent(forecast.probability, lang),
        )
    if forecast.reason:
        text += "\n" + t(lang, "forecast.your_reason", reason=forecast.reason)
    if question is not None:
        text += "\n" + on_question(question, lang)
    return text


def on_question(question: Question, lang: str) -> Markup:
    """ "Question: …" under a reply about a forecast (HTML)."""
    return t(lang, "forecast.on_question", question=question.text(lang))


def recorded_alert(
    forecast: Forecast, previous: Forecast | None, lang: str, question: Question | None = None
) -> str:
    """The confirmation as plain text for a callback alert (alerts show no HTML), naming
    `question` when given."""
    text = _recorded("forecast.alert", forecast, previous, lang)
    if question is not None:
        text += "\n" + t(lang, "forecast.on_question", question=question.text(lang))
    return plain(text)


def _recorded(key: str, forecast: Forecast, previous: Forecast | None, lang: str) -> Markup:
    """ "Recorded: 75 % (likely)." and, after a change, "Before it was 50 %." """
    text = t(
        lang,
        key,
        probability=percent(forecast.probability, lang),
        words=verbal(forecast.probability, lang),
    )
    if previous and not previous.withdrawn and previous.probability != forecast.probability:
        text += " " + t(lang, "forecast.was", probability=percent(previous.probability, lang))
    return text


@lru_cache(maxsize=512)
def after_keyboard(question_id: int, has_reason: bool, lang: str) -> InlineKeyboardMarkup:
    """Under a confirmation: add or change the reason, change the forecast, see results."""
    reason_key = "forecast.button.change_reason" if has_reason else "forecast.button.reason"
    return Keyboard(
        [
            [
                InlineKeyboardButton(
                    t(lang, reason_key), callback_data=ReasonPrompt(question_id).pack()
                )
            ],
            [
                InlineKeyboardButton(
                    t(lang, "forecast.button.change"), callback_data=OpenCard(question_id).pack()
                ),
                InlineKeyboardButton(
                    t(lang, "forecast.button.results"),
                    callback_data=ShowResults(question_id).pack(),
                ),
            ],
        ]
    )


def yes_no_keyboard(
    kind: type[NamingConsent | WithdrawConfirm],
    question_id: int,
    yes_key: str,
    no_key: str,
    lang: str,
) -> InlineKeyboardMarkup:
    """Two buttons on one row: `kind(question_id, True)` (yes) and `kind(question_id, False)`
    (no)."""
    return InlineKeyboardMarkup(
        [[
            InlineKeyboardButton(t(lang, yes_key), callback_data=kind(question_id, True).pack()),
            InlineKeyboardButton(t(lang, no_key), callback_data=kind(question_id, False).pack()),
        ]]
    )  # fmt: skip


def consent_keyboard(question_id: int, lang: str) -> InlineKeyboardMarkup:
    """Ask once whether the reader's first name may appear next to their reasons."""
    return yes_no_keyboard(NamingConsent, question_id, "consent.yes", "consent.no", lang)


def withdraw_keyboard(question_id: int, lang: str) -> InlineKeyboardMarkup:
    """Confirm or keep, for /withdraw."""
    return yes_no_keyboard(WithdrawConfirm, question_id, "withdraw.confirm", "withdraw.keep", lang)


def history_text(
    question: Question, current: Forecast | None, history: list[HistoryEntry], lang: str
) -> Markup:
    """/myforecast: the standing forecast and every change, oldest first."""
    parts = [t(lang, "myforecast.title", question=question.text(lang))]
    if current is None:
        parts.append(t(lang, "myforecast.none"))
        return Markup("\n\n").join(parts)
    if current.withdrawn:
        parts.append(t(lang, "myforecast.withdrawn"))
    else:
        parts.append(your_forecast(current, lang))
    lines = []
    reason = ""  # the reason standing before each entry
    for entry in history:
        when = moment(entry.at, lang)
        if entry.action == "withdraw":
            line = t(lang, "myforecast.entry.withdraw", when=when)
        elif entry.action == "reason":
            shown = shorten(entry.reason, HISTORY_REASON_UNITS)
            line = t(lang, "myforecast.entry.reason", when=when, reason=shown)
        elif entry.old_probability is None:
            line = t(
                lang,
                "myforecast.entry.first",
                when=when,
                new=percent(entry.new_probability or 0, lang),
            )
        else:
            line = t(
                lang,
                "myforecast.entry.change",
                when=when,
                old=percent(entry.old_probability, lang),
                new=percent(entry.new_probability or 0, lang),
            )
        if entry.action == "set" and entry.reason and entry.reason != reason:
            # a reason given with the number (/forecast 70 because…) is a change too
            shown = shorten(entry.reason, HISTORY_REASON_UNITS)
            line += t(lang, "myforecast.entry.with_reason", reason=shown)
        reason = "" if entry.action == "withdraw" else entry.reason
        lines.append("• " + line)
    parts.append(
        Markup("\n").join([t(lang, "myforecast.history"), *newest_that_fit(parts, lines, lang)])
    )
    return Markup("\n\n").join(parts)


def newest_that_fit(parts: list[Markup], lines: list[Markup], lang: str) -> list[Markup]:
    """The newest history lines (oldest first) that fit in one message after `parts`; the
    older ones are counted in a first line ("5 earlier changes not shown")."""
    before = "\n\n".join([*parts, t(lang, "myforecast.history")])
    kept: list[Markup] = []
    used = tg_length(before)  # lengths add up: every part is whole HTML
    for line in reversed(lines):
        used += 1 + tg_length(line)  # "\n" + line
        if used > TEXT_LIMIT - MORE_RESERVE:
            break
        kept.insert(0, line)
    left = len(lines) - len(kept)
    return [tn(lang, "myforecast.earlier", left), *kept] if left else kept


def hidden_results(count: int, needed: int, lang: str, *, invite: bool = True) -> Markup:
    """Anti-anchoring: results stay hidden until the reader forecasts or enough readers have.
    `invite` ends with "make yours first:" for a message that carries the buttons."""
    head = tn(lang, "results.hidden", count) if count else t(lang, "results.hidden_none")
    parts = [head, tn(lang, "results.hidden_why", needed, needed=needed)]
    if invite:
        parts.append(t(lang, "results.make_yours"))
    return Markup(" ").join(parts)


T = TypeVar("T")


def _rendered(snap: ResultsSnapshot, key: tuple[Any, ...], make: Callable[[], T]) -> T:
    """`make()`, kept in `snap.rendered` under `key` (what the text depends on besides the
    snapshot)."""
    if key not in snap.rendered:
        snap.rendered[key] = make()
    value: T = snap.rendered[key]
    return value


def results_text(question: Question, snap: ResultsSnapshot, lang: str) -> Markup:
    """/results: count, medians, mean, IQR, distribution, trend and recent reasons; made
    once per snapshot, question and language (kept in `snap.rendered`; the question's
    version, which every forecast bumps, does not change the text)."""
    key = ("results", lang, replace(question, version=0))
    return _rendered(snap, key, lambda: _results_text(question, snap, lang))


def _results_text(question: Question, snap: ResultsSnapshot, lang: str) -> Markup:
    agg = snap.aggregate
    title = shorten(question.text(lang), QUESTION_UNITS)
    head = t(lang, "results.title", question=title)
    if question.status != "open":
        head += "\n" + outcome_text(question, lang)
    if agg is None:
        return head + "\n\n" + t(lang, "results.empty")
    summary = t(
        lang,
        "results.summary",
        forecasters=tn(lang, "results.forecasters", agg.count, n=number(agg.count, lang)),
        median=pct(agg.median, lang),
        weighted=pct(agg.weighted_median, lang),
        mean=pct(agg.mean, lang),
        q1=pct(agg.q1, lang),
        q3=pct(agg.q3, lang),
    )
    parts = [head, summary, distribution(agg.buckets, lang)]
    if snap.trend:
        parts.append(trend_text(snap.trend, lang))
    if snap.reasons:
        parts.append(reasons_text(snap, Markup("\n\n").join(parts), lang))
    return Markup("\n\n").join(parts)


def reasons_text(snap: ResultsSnapshot, before: str, lang: str) -> Markup:
    """The recent reasons, each shortened to REASON_UNITS, as many as fit in one message
    after `before` (HTML); the rest are counted ("and 2 more")."""
    lines = [t(lang, "results.reasons")]
    used = tg_length(before) + 2 + tg_length(lines[0])  # lengths add up: parts are whole HTML
    for index, r in enumerate(snap.reasons, start=1):
        if r.name:
            name = display_name(r.name)
            who: str = name if name else t(lang, "reader.fallback", number=index)
        else:
            who = reader_label(r.handle, lang)
        line = t(
            lang,
            "results.reason",
            reason=shorten(r.reason, REASON_UNITS),
            who=who,
            probability=percent(r.probability, lang),
        )
        size = 1 + tg_length(line)  # "\n" + line
        if used + size > TEXT_LIMIT - MORE_RESERVE:
            break
        used += size
        lines.append(line)
    left = len(snap.reasons) - (len(lines) - 1)
    if left:
        lines.append(tn(lang, "results.more_reasons", left))
    return Markup("\n").join(lines)


def reader_label(handle: str | None, lang: str) -> Markup:
    """How an unnamed reader appears publicly: "a reader r-k7q2m9" (their random handle),
    or just "a reader" while they have none. Never derived from the Telegram id."""
    if handle:
        return t(lang, "results.a_reader_handle", handle=handle)
    return t(lang, "results.a_reader")


@lru_cache(maxsize=256)
def distribution(buckets: tuple[int, ...], lang: str) -> Markup:
    """Ten text bars, one per 10-point bucket (1–10 … 91–99 %); kept for the latest 256
    (buckets, language) pairs (a reused snapshot shows the same buckets)."""
    top = max(buckets) or 1
    lines = [t(lang, "results.distribution")]
    for i, count in enumerate(buckets):
        low, high = 10 * i + 1, min(10 * i + 10, 99)
        bar = "█" * round(BAR_WIDTH * count / top)
        span = f"{low}–{percent(high, lang)}"
        line = Markup("<code>{}</code> {} {}").format(f"{span:<8}", bar, number(count, lang))
        lines.append(line)
    return Markup("\n").join(lines)


def trend_text(trend: list[tuple[date, float]], lang: str) -> Markup:
    """The median by day, the latest seven days."""
    return _trend_text(tuple(trend[-7:]), lang)


@lru_cache(maxsize=256)
def _trend_text(latest: tuple[tuple[date, float], ...], lang: str) -> Markup:
    items = [f"{day(d, lang)}: {pct(m, lang)}" for d, m in latest]
    return Markup("\n").join([t(lang, "results.trend"), *items])


def chart_labels(question: Question, lang: str) -> ChartLabels:
    """The chart's texts in `lang`."""
    title = question.text(lang)
    return ChartLabels(
        title=title if len(title) <= 140 else title[:139] + "…",
        distribution=t_plain(lang, "chart.distribution"),
        probability_axis=t_plain(lang, "chart.probability"),
        readers_axis=t_plain(lang, "chart.readers"),
        median=t_plain(lang, "chart.median"),
        weighted_median=t_plain(lang, "chart.weighted_median"),
        trend=t_plain(lang, "chart.trend"),
        trend_empty=t_plain(lang, "chart.trend_empty"),
        date_format="%d.%m" if lang == "ru" else "%b %d",
    )


@lru_cache(maxsize=64)
def fits_caption(html_text: str) -> bool:
    """True when `html_text` may be a photo's caption (Telegram's 1,024 UTF-16 units)."""
    return tg_length(html_text) <= CAPTION_LIMIT


def chart_caption(snap: ResultsSnapshot, lang: str) -> str:
    """A short caption, within Telegram's 1,024 UTF-16 units by construction; made once per
    snapshot and language (kept in `snap.rendered`)."""
    return _rendered(snap, ("caption", lang), lambda: _chart_caption(snap, lang))


def _chart_caption(snap: ResultsSnapshot, lang: str) -> str:
    agg = snap.aggregate
    assert agg is not None
    caption = tn(
        lang,
        "chart.caption",
        agg.count,
        n=number(agg.count, lang),
        median=pct(agg.median, lang),
        weighted=pct(agg.weighted_median, lang),
    )
    return caption if tg_length(caption) <= CAPTION_LIMIT else shorten(caption, CAPTION_LIMIT)
