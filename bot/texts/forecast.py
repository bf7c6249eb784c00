"""Messages and keyboards of the forecast flow and /results, in the reader's language."""

from __future__ import annotations

from datetime import date
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.handlers.callbacks import pack
from bot.services.chart import ChartLabels
from bot.services.results import ResultsSnapshot
from bot.store.db import from_iso
from bot.store.forecasts import Forecast, HistoryEntry, Question
from bot.texts import day, moment, number, percent, t, tn

# One-tap probabilities (percent) and their catalog labels.
PRESETS = ((5, "almost_no"), (25, "unlikely"), (50, "tossup"), (75, "likely"), (95, "almost_yes"))
BAR_WIDTH = 12


def verbal(probability: int, lang: str) -> str:
    """The words for a probability (%): the label of the nearest preset."""
    _, key = min(PRESETS, key=lambda preset: abs(preset[0] - probability))
    return t(lang, f"forecast.label.{key}")


def pct(value: float, lang: str) -> str:
    """A probability in percent, rounded to one decimal for display."""
    return percent(round(value, 1), lang)


def question_block(question: Question, lang: str) -> str:
    """The question, its resolution criteria and dates."""
    return t(
        lang,
        "forecast.question",
        question=escape(question.text(lang)),
        criteria=escape(question.criteria(lang)),
        closes=day(from_iso(question.closes_at).date(), lang),
        resolve_by=day(from_iso(question.resolve_by).date(), lang),
    )


def forecast_card(question: Question, current: Forecast | None, lang: str) -> str:
    """/forecast: the question, the reader's standing forecast if any, and what to tap."""
    parts = [question_block(question, lang)]
    if current and not current.withdrawn:
        parts.append(your_forecast(current, lang))
    # typed /forecast N goes to the default question, so only its card suggests typing
    parts.append(t(lang, "forecast.tap" if question.is_default else "forecast.tap_buttons"))
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
    """The confirmation after a forecast was stored; names the question unless it is the
    default one."""
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
    if question is not None and not question.is_default:
        text += "\n" + t(lang, "forecast.on_question", question=escape(question.text(lang)))
    return text


def recorded_alert(forecast: Forecast, previous: Forecast | None, lang: str) -> str:
    """The confirmation as plain text for a callback alert (alerts show no HTML)."""
    return _recorded("forecast.alert", forecast, previous, lang)


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
    lines = [t(lang, "myforecast.history")]
    for entry in history:
        when = moment(from_iso(entry.at), lang)
        if entry.action == "withdraw":
            line = t(lang, "myforecast.entry.withdraw", when=when)
        elif entry.action == "reason":
            line = t(lang, "myforecast.entry.reason", when=when, reason=escape(entry.reason))
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
        lines.append("• " + line)
    parts.append("\n".join(lines))
    return "\n\n".join(parts)


def hidden_results(count: int, needed: int, lang: str, *, invite: bool = True) -> str:
    """Anti-anchoring: results stay hidden until the reader forecasts or enough readers have.
    `invite` ends with "make yours first:" for a message that carries the buttons."""
    head = tn(lang, "results.hidden", count) if count else t(lang, "results.hidden_none")
    parts = [head, t(lang, "results.hidden_why", needed=needed)]
    if invite:
        parts.append(t(lang, "results.make_yours"))
    return " ".join(parts)


def results_text(question: Question, snap: ResultsSnapshot, lang: str) -> str:
    """/results: count, medians, mean, IQR, distribution, trend and recent reasons."""
    agg = snap.aggregate
    head = t(lang, "results.title", question=escape(question.text(lang)))
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
        lines = [t(lang, "results.reasons")]
        for r in snap.reasons:
            who = escape(r.name) if r.name else reader_label(r.handle, lang)
            lines.append(
                t(
                    lang,
                    "results.reason",
                    reason=escape(r.reason),
                    who=who,
                    probability=percent(r.probability, lang),
                )
            )
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


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
    """A short caption (well under Telegram's 1,024 characters)."""
    agg = snap.aggregate
    assert agg is not None
    return t(
        lang,
        "chart.caption",
        n=number(agg.count, lang),
        median=pct(agg.median, lang),
        weighted=pct(agg.weighted_median, lang),
    )
