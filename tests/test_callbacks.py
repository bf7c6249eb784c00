"""The registry of callback data (bot/texts/callbacks.py): every kind of button's data round
trips, fits Telegram's 64 bytes, keeps the wire format of buttons already posted, refuses
stale or forged data, and is wired in the application exactly once."""

from __future__ import annotations

import itertools
from typing import Annotated, Any

import pytest
from telegram.ext import CallbackQueryHandler

from bot.texts.callbacks import (
    MAX_BYTES,
    REGISTRY,
    BadCallbackData,
    CallbackData,
    ConfirmOffer,
    DataField,
    DeleteMe,
    ExactPrompt,
    ForecastPreset,
    GreetingChoice,
    LanguageChoice,
    NamingConsent,
    NewQuestionStep,
    OneOf,
    OpenCard,
    QuestionAction,
    ReasonPrompt,
    ResolveConfirm,
    ShowResults,
    StatsCard,
    WithdrawConfirm,
    callback_data,
)
from tests.conftest import Harness

KINDS = list(REGISTRY.values())

# Data of buttons already posted in chats and channels: these strings must keep parsing to
# the same values after any change (a class keeps its prefix, field order and encodings).
POSTED: list[tuple[str, CallbackData]] = [
    ("lang:en", LanguageChoice("en")),
    ("go:forecast", GreetingChoice("forecast")),
    ("st:main", StatsCard("main")),
    ("st:ecosystem", StatsCard("ecosystem")),
    ("fc:7:75", ForecastPreset(7, 75)),
    ("fx:7", ExactPrompt(7)),
    ("fr:7", ReasonPrompt(7)),
    ("fo:7", OpenCard(7)),
    ("fn:7:1", NamingConsent(7, True)),
    ("fw:7:0", WithdrawConfirm(7, False)),
    ("rs:7", ShowResults(7)),
    ("dm:yes", DeleteMe("yes")),
    ("cc:123456", ConfirmOffer(123456)),
    ("aq:close:2", QuestionAction("close", 2)),
    ("nq:default", NewQuestionStep("default")),
    ("rv:2:annulled", ResolveConfirm(2, "annulled")),
]

STALE_ALERT = "This button is out of date. Please send the command again."


def samples(spec: DataField) -> list[Any]:
    """Edge values of a field: its bounds, both booleans, every choice."""
    if spec.kind == "int":
        return [spec.low, spec.high]
    if spec.kind == "bool":
        return [True, False]
    return list(spec.values)


def every_edge(kind: type[CallbackData]) -> list[CallbackData]:
    """An instance of `kind` for each combination of its fields' edge values."""
    names = [spec.name for spec in kind.data_fields]
    combos = itertools.product(*(samples(spec) for spec in kind.data_fields))
    return [kind(**dict(zip(names, values, strict=True))) for values in combos]


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_longest_data_fits_telegram_limit(kind: type[CallbackData]) -> None:
    assert kind.longest() <= MAX_BYTES
    assert max(len(item.pack().encode()) for item in every_edge(kind)) <= kind.longest()


def test_prefixes_are_unique_and_each_pattern_claims_only_its_own_data() -> None:
    assert len({kind.prefix for kind in KINDS}) == len(KINDS) == len(POSTED) - 1
    for kind in KINDS:
        for item in every_edge(kind):
            data = item.pack()
            claimed = [other for other in KINDS if other.pattern.match(data)]
            assert claimed == [kind]


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_round_trip_at_every_edge(kind: type[CallbackData]) -> None:
    for item in every_edge(kind):
        assert kind.parse(item.pack()) == item


@pytest.mark.parametrize(("data", "value"), POSTED, ids=[d for d, _ in POSTED])
def test_wire_format_of_posted_buttons_is_unchanged(data: str, value: CallbackData) -> None:
    assert value.pack() == data
    assert type(value).parse(data) == value


def test_every_kind_has_a_posted_example() -> None:
    assert {type(value) for _, value in POSTED} == set(KINDS)


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        (ForecastPreset, "fc:7:100"),  # probability outside 1..99
        (ForecastPreset, "fc:7:0"),
        (ForecastPreset, "fc:0:50"),  # question ids start at 1
        (ForecastPreset, f"fc:{2**31 + 1}:50"),
        (ForecastPreset, "fc:-1:50"),
        (ForecastPreset, "fc:²:50"),  # a digit to str.isdigit, not to int()
        (ForecastPreset, "fc:7:50.5"),
        (ForecastPreset, "fc:7: 50"),
        (ForecastPreset, "fc:7"),  # a field missing
        (ForecastPreset, "fc:7:50:1"),  # one too many
        (ForecastPreset, "fc:7:"),
        (NamingConsent, "fn:7:2"),  # booleans are 1 or 0
        (NamingConsent, "fn:7:yes"),
        (QuestionAction, "aq:delete:2"),  # an unknown choice
        (QuestionAction, "aq:2:close"),  # fields in the wrong order
        (ResolveConfirm, "rv:2:annul"),  # a /resolve alias, never button data
        (LanguageChoice, "lang:de"),
        (StatsCard, "st:nonsense"),
        (StatsCard, "st:MAIN"),
        (ConfirmOffer, f"cc:{2**62 + 1}"),
        (DeleteMe, ""),
        (DeleteMe, None),
    ],
)
def test_bad_values_are_refused(kind: type[CallbackData], data: str | None) -> None:
    with pytest.raises(BadCallbackData):
        kind.parse(data)


def test_stale_or_foreign_prefix_is_refused() -> None:
    for data in ("zz:7:75", "fx:7", "fc", "f:7:75", "FC:7:75", "fc7:75"):
        with pytest.raises(BadCallbackData):
            ForecastPreset.parse(data)


def test_over_long_data_is_refused() -> None:
    with pytest.raises(BadCallbackData):
        ConfirmOffer.parse("cc:" + "1" * (MAX_BYTES - 2))
    with pytest.raises(BadCallbackData):
        StatsCard.parse("st:" + "m" * 70)


def test_a_value_the_class_does_not_accept_is_a_programming_error() -> None:
    with pytest.raises(BadCallbackData):
        ForecastPreset(7, 150)
    with pytest.raises(BadCallbackData):
        StatsCard("nonsense")  # type: ignore[arg-type]
    with pytest.raises(BadCallbackData):
        NamingConsent(7, 1)  # type: ignore[arg-type]


def test_a_class_that_could_exceed_64_bytes_or_reuse_a_prefix_fails_at_definition() -> None:
    before = dict(REGISTRY)
    with pytest.raises(TypeError, match="over 64"):

        @callback_data("zzlong")
        class TooLong(CallbackData):
            word: Annotated[str, OneOf(("a" * 30, "b"))]
            again: Annotated[str, OneOf(("c" * 30,))]

    with pytest.raises(TypeError, match="taken"):

        @callback_data("fc")
        class Twin(CallbackData):
            flag: bool

    with pytest.raises(TypeError, match="Between"):

        @callback_data("zzint")
        class Unbounded(CallbackData):
            number: int

    assert before == REGISTRY


def test_every_kind_is_wired_once_and_names_its_handler(harness: Harness) -> None:
    seen: dict[type[CallbackData], list[str]] = {kind: [] for kind in KINDS}
    catch_alls = 0
    for handler in itertools.chain.from_iterable(harness.app.handlers.values()):
        if not isinstance(handler, CallbackQueryHandler):
            continue
        if handler.pattern is None:
            catch_alls += 1
            continue
        owners = [kind for kind in KINDS if handler.pattern is kind.pattern]
        assert owners, f"hand-written pattern {handler.pattern!r}"
        seen[owners[0]].append(f"{handler.callback.__module__}.{handler.callback.__qualname__}")
    assert catch_alls == 1  # stats.unknown_button: stale and foreign data
    for kind, handlers in seen.items():
        assert len(handlers) == 1, (kind.__name__, handlers)
        assert f"Handled by {handlers[0]}" in " ".join((kind.__doc__ or "").split())


async def test_stale_or_forged_data_of_every_kind_gets_the_polite_alert(
    harness: Harness, admin: dict[str, Any], no_tracebacks: None
) -> None:
    message = (await harness.send(admin, "/start")).last
    # kinds whose handler looks the question or offer up: an unknown id is stale too
    looked_up = {"question_id", "offer_id"}
    unknown_ids = [ExactPrompt(999), ConfirmOffer(999), QuestionAction("close", 999)]
    unknown_ids += [ForecastPreset(999, 50), OpenCard(999), ReasonPrompt(999)]
    unknown_ids += [ResolveConfirm(999, "yes"), ShowResults(999), WithdrawConfirm(999, True)]
    assert {type(item) for item in unknown_ids} == {
        kind for kind in KINDS if looked_up & {spec.name for spec in kind.data_fields}
    } - {NamingConsent}  # the naming consent is the reader's, whatever the question
    for kind in KINDS:
        valid = every_edge(kind)[0].pack()
        forged = [kind.prefix, kind.prefix + ":", valid + ":1"]
        forged.append(":".join([kind.prefix, *("x" for _ in kind.data_fields)]))
        for data in forged:
            step = await harness.tap(admin, message, data)
            assert step.alert == STALE_ALERT, (data, step.alert)
    for item in unknown_ids:
        step = await harness.tap(admin, message, item.pack())
        assert step.alert == STALE_ALERT, (item, step.alert)
