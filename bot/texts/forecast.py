"""Messages and keyboards of the forecast flow and /results, in the reader's language."""

from __future__ import annotations

from datetime import UTC, date, datetime
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.domain import Forecast, HistoryEntry, Question
from bot.services.chart import ChartLabels
from bot.services.hygiene import CAPTION_LIMIT, TEXT_LIMIT, display_name, shorten, tg_length
from bot.services.results import ResultsSnapshot
from bot.texts import day, moment, number, percent, t, tn
from bot.texts.callbacks import pack

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


def verbal(probability: int, lang: str) -> str:
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


def open_item(question: Question, lang: str) -> str:
    """An open question in the reader's /questions list (HTML)."""
    return t(
        lang,
        "questions.item_open",
        question=escape(question.text(lang)),
        slug=escape(question.slug),
        closes=day(question.closes_at.date(), lang),
    )


def outcome_text(question: Question, lang: str) -> str:
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
        link = escape(question.resolution_link, quote=True)
        text += "\n" + t(lang, "questions.resolution_link", url=link)
    if question.resolution_note:
        text += "\n" + t(lang, "questions.resolution_note", note=escape(question.resolution_note))
    return text


def settled_item(question: Question, lang: str) -> str:
    """A closed or resolved question in the reader's /questions list (HTML)."""
    return t(
        lang,
        "questions.item_done",
        question=escape(question.text(lang)),
        slug=escape(question.slug),
        outcome=outcome_text(question, lang),
    )


def question_block(question: Question, lang: str) -> str:
    """The question, its resolution criteria (with the date they changed, when they changed
    after forecasts were made) and its dates; once it takes no forecasts, its outcome (or
    "closed, awaiting resolution") instead of the dates."""
    criteria = escape(question.criteria(lang))
    if question.criteria_changed_at:
        changed = day(question.criteria_changed_at.date(), lang)
        criteria += "\n" + t(lang, "forecast.criteria_changed", date=changed)
    if not takes_forecasts(question):
        return t(
            lang,
            "forecast.question_settled",
            question=escape(question.text(lang)),
            criteria=criteria,
            outcome=outcome_text(question, lang),
        )
    return t(
        lang,
        "forecast.question",
        question=escape(question.text(lang)),
        criteria=criteria,
        closes=day(question.closes_at.date(), lang),
        resolve_by=day(question.resolve_by.date(), lang),
    )


def forecast_card(question: Question, current: Forecast | None, lang: str) -> str:
    """/forecast: the question, the reader's standing forecast if any, and what to tap
    (nothing to tap once the question takes no forecasts)."""
    parts = [question_block(question, lang)]
    if current and not current.withdrawn:
        parts.append(your_forecast(current, lang))
    if not takes_forecasts(question):
        return "\n\n".join(parts)
    # typed commands (/forecast N) follow the reader's current question (the one they opened
    # last, kept in the database); the slug names it anyway
    if question.is_default:
        parts.append(t(lang, "forecast.tap"))
    else:
        parts.append(t(lang, "forecast.tap_slug", slug=escape(question.slug)))
    return "\n\n".join(parts)


def your_forecast(forecast: Forecast, lang: str) -> str:
    """ "Your forecast: 75 % (likely)", with the reason when there is one."""
    text = t(
        lang,
        "forecast.yours",
        probability=percent(forecast.probability, lang),
        words=verbal(forecast.probability, lang),
    )
    if forecast.reason:
        text += "\n" + t(lang, "forecast.your_reason", reason=escape(forecast.reason))
    return text


def forecast_keyboard(question_id: int, lang: str) -> InlineKeyboardMarkup:
    """Labelled one-tap probabilities, then exact %, add a reason, and results."""
    rows = [
        [
            InlineKeyboardButton(
                t(
                    lang,
                    "forecast.button.preset",
                    words=t(lang, f"forecast.label.{key}"),
                    probability=percent(p, lang),
                ),
                callback_data=pack("fc", question_id, p),
            )
        ]
        for p, key in PRESETS
    ]
    rows.append(
        [
            InlineKeyboardButton(
                t(lang, "forecast.button.exact"), callback_data=pack("fx", question_id)
            ),
            InlineKeyboardButton(
                t(lang, "forecast.button.reason"), callback_data=pack("fr", question_id)
            ),
        ]
    )
    rows.append(
        [
            InlineKeyboardButton(
                t(lang, "forecast.button.results"), callback_data=pack("rs", question_id)
            )
        ]
    )
    return InlineKeyboardMarkup(rows)


def recorded(
    forecast: Forecast,
    previous: Forecast | None,
    lang: str,
    rounded: str | None,
    question: Question | None = None,
) -> str:
    """The confirmation after a forecast was stored; names `question` when given (the
    caller passes it when several questions are open or it is not the default one; typed
    commands follow the reader's current question either way)."""
    text = _recorded("forecast.recorded", forecast, previous, lang)
    if rounded:
        text += "\n" + t(
            lang,
            "forecast.rounded",
            original=escape(rounded),
            probability=percent(forecast.probability, lang),
        )
    if forecast.reason:
        text += "\n" + t(lang, "forecast.your_reason", reason=escape(forecast.reason))
    if question is not None:
        text += "\n" + on_question(question, lang)
    return text


def on_question(question: Question, lang: str) -> str:
    """ "Question: …" under a reply about a forecast (HTML)."""
    return t(lang, "forecast.on_question", question=escape(question.text(lang)))


def recorded_alert(
    forecast: Forecast, previous: Forecast | None, lang: str, question: Question | None = None
) -> str:
    """The confirmation as plain text for a callback alert (alerts show no HTML), naming
    `question` when given."""
    text = _recorded("forecast.alert", forecast, previous, lang)
    if question is not None:
        text += "\n" + t(lang, "forecast.on_question", question=question.text(lang))
    return text


def _recorded(key: str, forecast: Forecast, previous: Forecast | None, lang: str) -> str:
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


def after_keyboard(question_id: int, has_reason: bool, lang: str) -> InlineKeyboardMarkup:
    """Under a confirmation: add or change the reason, change the forecast, see results."""
    reason_key = "forecast.button.change_reason" if has_reason else "forecast.button.reason"
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(t(lang, reason_key), callback_data=pack("fr", question_id))],
            [
                InlineKeyboardButton(
                    t(lang, "forecast.button.change"), callback_data=pack("fo", question_id)
                ),
                InlineKeyboardButton(
                    t(lang, "forecast.button.results"), callback_data=pack("rs", question_id)
                ),
            ],
        ]
    )


def yes_no_keyboard(
    namespace: str, question_id: int, yes_key: str, no_key: str, lang: str
) -> InlineKeyboardMarkup:
    """Two buttons on one row: `ns:<question>:1` (yes) and `ns:<question>:0` (no)."""
    return InlineKeyboardMarkup(
        [[
            InlineKeyboardButton(t(lang, yes_key), callback_data=pack(namespace, question_id, 1)),
            InlineKeyboardButton(t(lang, no_key), callback_data=pack(namespace, question_id, 0)),
        ]]
    )  # fmt: skip


def consent_keyboard(question_id: int, lang: str) -> InlineKeyboardMarkup:
    """Ask once whether the reader's first name may appear next to their reasons."""
    return yes_no_keyboard("fn", question_id, "consent.yes", "consent.no", lang)


def withdraw_keyboard(question_id: int, lang: str) -> InlineKeyboardMarkup:
    """Confirm or keep, for /withdraw."""
    return yes_no_keyboard("fw", question_id, "withdraw.confirm", "withdraw.keep", lang)


def history_text(
    question: Question, current: Forecast | None, history: list[HistoryEntry], lang: str
) -> str:
    """/myforecast: the standing forecast and every change, oldest first."""
    parts = [t(lang, "myforecast.title", question=escape(question.text(lang)))]
    if current is None:
        parts.append(t(lang, "myforecast.none"))
        return "\n\n".join(parts)
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
            reason = escape(shorten(entry.reason, HISTORY_REASON_UNITS))
            line = t(lang, "myforecast.entry.reason", when=when, reason=reason)
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
            shown = escape(shorten(entry.reason, HISTORY_REASON_UNITS))
            line += t(lang, "myforecast.entry.with_reason", reason=shown)
        reason = "" if entry.action == "withdraw" else entry.reason
        lines.append("• " + line)
    parts.append(
        t(lang, "myforecast.history") + "\n" + "\n".join(newest_that_fit(parts, lines, lang))
    )
    return "\n\n".join(parts)


def newest_that_fit(parts: list[str], lines: list[str], lang: str) -> list[str]:
    """The newest history lines (oldest first) that fit in one message after `parts`; the
    older ones are counted in a first line ("5 earlier changes not shown")."""
    before = "\n\n".join([*parts, t(lang, "myforecast.history")])
    kept: list[str] = []
    for line in reversed(lines):
        if tg_length(before + "\n" + "\n".join([line, *kept])) > TEXT_LIMIT - MORE_RESERVE:
            break
        kept.insert(0, line)
    left = len(lines) - len(kept)
    return [tn(lang, "myforecast.earlier", left), *kept] if left else kept


def hidden_results(count: int, needed: int, lang: str, *, invite: bool = True) -> str:
    """Anti-anchoring: results stay hidden until the reader forecasts or enough readers have.
    `invite` ends with "make yours first:" for a message that carries the buttons."""
    head = tn(lang, "results.hidden", count) if count else t(lang, "results.hidden_none")
    parts = [head, tn(lang, "results.hidden_why", needed, needed=needed)]
    if invite:
        parts.append(t(lang, "results.make_yours"))
    return " ".join(parts)


def results_text(question: Question, snap: ResultsSnapshot, lang: str) -> str:
    """/results: count, medians, mean, IQR, distribution, trend and recent reasons."""
    agg = snap.aggregate
    title = shorten(question.text(lang), QUESTION_UNITS)
    head = t(lang, "results.title", question=escape(title))
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
        parts.append(reasons_text(snap, "\n\n".join(parts), lang))
    return "\n\n".join(parts)


def reasons_text(snap: ResultsSnapshot, before: str, lang: str) -> str:
    """The recent reasons, each shortened to REASON_UNITS, as many as fit in one message
    after `before` (HTML); the rest are counted ("and 2 more")."""
    lines = [t(lang, "results.reasons")]
    for index, r in enumerate(snap.reasons, start=1):
        if r.name:
            name = display_name(r.name)
            who = escape(name) if name else t(lang, "reader.fallback", number=index)
        else:
            who = reader_label(r.handle, lang)
        line = t(
            lang,
            "results.reason",
            reason=escape(shorten(r.reason, REASON_UNITS)),
            who=who,
            probability=percent(r.probability, lang),
        )
        if tg_length(before + "\n\n" + "\n".join([*lines, line])) > TEXT_LIMIT - MORE_RESERVE:
            break
        lines.append(line)
    left = len(snap.reasons) - (len(lines) - 1)
    if left:
        lines.append(tn(lang, "results.more_reasons", left))
    return "\n".join(lines)


def reader_label(handle: str | None, lang: str) -> str:
    """How an unnamed reader appears publicly: "a reader r-k7q2m9" (their random handle),
    or just "a reader" while they have none. Never derived from the Telegram id."""
    if handle:
        return t(lang, "results.a_reader_handle", handle=escape(handle))
    return t(lang, "results.a_reader")


def distribution(buckets: tuple[int, ...], lang: str) -> str:
    """Ten text bars, one per 10-point bucket (1–10 … 91–99 %)."""
    top = max(buckets) or 1
    lines = [t(lang, "results.distribution")]
    for i, count in enumerate(buckets):
        low, high = 10 * i + 1, min(10 * i + 10, 99)
        bar = "█" * round(BAR_WIDTH * count / top)
        span = f"{low}–{percent(high, lang)}"
        lines.append(f"<code>{span:<8}</code> {bar} {number(count, lang)}")
    return "\n".join(lines)


def trend_text(trend: list[tuple[date, float]], lang: str) -> str:
    """The median by day, the latest seven days."""
    items = [f"{day(d, lang)}: {pct(m, lang)}" for d, m in trend[-7:]]
    return t(lang, "results.trend") + "\n" + "\n".join(items)


def chart_labels(question: Question, lang: str) -> ChartLabels:
    """The chart's texts in `lang`."""
    title = question.text(lang)
    return ChartLabels(
        title=title if len(title) <= 140 else title[:139] + "…",
        distribution=t(lang, "chart.distribution"),
        probability_axis=t(lang, "chart.probability"),
        readers_axis=t(lang, "chart.readers"),
        median=t(lang, "chart.median"),
        weighted_median=t(lang, "chart.weighted_median"),
        trend=t(lang, "chart.trend"),
        trend_empty=t(lang, "chart.trend_empty"),
        date_format="%d.%m" if lang == "ru" else "%b %d",
    )


def chart_caption(snap: ResultsSnapshot, lang: str) -> str:
    """A short caption, within Telegram's 1,024 UTF-16 units by construction."""
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
