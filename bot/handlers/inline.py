"""Inline mode (`@bot [words]` in any chat): a statistics card, the community-forecast card,
the question card with a deep-link button, and one card per flagship model.

The query's words filter the cards (`@bot kimi` offers the Kimi entry); an empty query, or
one that matches nothing, offers the three main cards. Answers are cached briefly and per
user (cards are in the reader's language).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram import (
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    Update,
)
from telegram.constants import ParseMode

from bot.domain import Question
from bot.handlers.common import BotContext
from bot.handlers.results import results_cache
from bot.services.results import ResultsSnapshot
from bot.store.stats import Model
from bot.texts import LANGUAGES, t, t_plain
from bot.texts import channel as view
from bot.texts import forecast as fview
from bot.texts.stats import model_entry, stats_card

CACHE_SECONDS = 30  # Telegram may reuse an answer this long; the tally moves, keep it short
MAX_QUERY_CHARS = 64
MAIN_CARDS = ("stats", "results", "question")


@dataclass(frozen=True)
class Card:
    """One inline result and the text its query words are matched against (lower case)."""

    result: InlineQueryResultArticle
    haystack: str

    def matches(self, words: list[str]) -> bool:
        """True when every word occurs in the haystack."""
        return all(word in self.haystack for word in words)


def _article(
    result_id: str, title: str, description: str, text: str, markup: Any = None
) -> InlineQueryResultArticle:
    return InlineQueryResultArticle(
        id=result_id,
        title=title,
        description=description[:120],
        input_message_content=InputTextMessageContent(text, parse_mode=ParseMode.HTML),
        reply_markup=markup,
    )


def _both(key: str) -> str:
    """A catalog text in every language, for matching queries typed in either."""
    return " ".join(t(lang, key) for lang in LANGUAGES)


async def build_cards(context: BotContext, lang: str) -> list[Card]:
    """Every card, main ones first."""
    store, username = context.store, context.bot.username
    cards: list[Card] = []
    stats_text: str = stats_card(await store.stats.all(), await store.stats.sources(), lang)
    stats_text = stats_text.removesuffix("\n\n" + t(lang, "stats.hint"))
    stats_button = view.url_keyboard(
        t(lang, "inline.button.stats"), view.deep_link(username, "stats")
    )
    cards.append(
        Card(
            _article(
                "stats",
                t(lang, "inline.stats.title"),
                t(lang, "inline.stats.description"),
                stats_text,
                stats_button,
            ),
            " ".join([_both("inline.stats.title"), _both("inline.stats.keywords")]).casefold(),
        )
    )
    question = await store.questions.default()
    if question is not None:
        cards += _question_cards(
            context, question, lang, await results_cache(context).get(store, question)
        )
    cards += [_model_card(model, lang, stats_button) for model in await store.stats.models()]
    return cards


def _question_cards(
    context: BotContext, question: Question, lang: str, snap: ResultsSnapshot
) -> list[Card]:
    """The community-forecast card and the question card."""
    reveal = context.settings.results_reveal_min
    count, median = view.shown_tally(snap, reveal)
    tally = view.tally_line(count, median, reveal, lang)
    button = view.url_keyboard(
        t(lang, "inline.button.forecast"),
        view.deep_link(context.bot.username, "forecast", view.question_arg(question)),
    )
    words = " ".join([question.text_ru, question.text_en, question.slug])
    results_text = t(lang, "inline.results.text", question=question.text(lang), tally=tally)
    return [
        Card(
            _article(
                "results",
                t(lang, "inline.results.title"),
                view.plain_tally(tally),
                results_text,
                button,
            ),
            " ".join(
                [_both("inline.results.title"), _both("inline.results.keywords"), words]
            ).casefold(),
        ),
        Card(
            _article(
                "question",
                t(lang, "inline.question.title"),
                question.text(lang),
                fview.question_block(question, lang),
                button,
            ),
            " ".join(
                [_both("inline.question.title"), _both("inline.question.keywords"), words]
            ).casefold(),
        ),
    ]


def _model_card(model: Model, lang: str, markup: Any) -> Card:
    """One flagship model."""
    return Card(
        _article(
            f"model-{model.slug}"[:64],
            t_plain(lang, "inline.model.title", name=model.name, maker=model.maker),
            model.description(lang),
            model_entry(model, lang),
            markup,
        ),
        " ".join(
            [model.slug, model.name, model.maker, model.description_ru, model.description_en]
        ).casefold(),
    )


def choose(cards: list[Card], query: str, exact: Model | None) -> list[Card]:
    """The cards for `query`: those matching every word (an alias match first); the main
    cards when the query is empty or matches nothing."""
    words = query.casefold().split()
    main = [card for card in cards if card.result.id in MAIN_CARDS]
    if not words:
        return main
    chosen = [card for card in cards if card.matches(words)]
    if exact is not None:
        ids = {card.result.id for card in chosen}
        alias_card = [c for c in cards if c.result.id == f"model-{exact.slug}"[:64]]
        chosen = [c for c in alias_card if c.result.id not in ids] + chosen
    return chosen or main


async def inline_query(update: Update, context: BotContext) -> None:
    """Answer `@bot [words]` with the matching cards, in the reader's language."""
    query = update.inline_query
    assert query
    lang = context.lang
    text = query.query.strip()[:MAX_QUERY_CHARS]
    cards = await build_cards(context, lang)
    exact = await context.store.stats.find_model(text) if text else None
    chosen = choose(cards, text, exact)
    await query.answer(
        [card.result for card in chosen],
        cache_time=CACHE_SECONDS,
        is_personal=True,
        button=InlineQueryResultsButton(
            text=t(lang, "inline.button.open"), start_parameter="forecast"
        ),
    )
