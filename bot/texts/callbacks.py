"""Callback data: one frozen dataclass per kind of button, the one registry of the bot's buttons.

Each class names its prefix (``@callback_data("fc")``) and its typed fields; from the class
come both the data of a button (``ForecastPreset(question_id, 75).pack()`` → ``"fc:7:75"``)
and the pattern its handler is registered with in `bot.app`
(``button(forecast.preset_button, ForecastPreset)``, a `CallbackQueryHandler` with
``pattern=ForecastPreset.pattern``). The handler reads the data back with
``ForecastPreset.parse(query.data)``. Each class's docstring names its handler. A class whose
longest data could exceed 64 bytes, or that reuses a prefix, fails when it is defined.

The wire format is ``prefix:field:field`` (at most 64 bytes, Telegram's limit): integers as
decimal digits, booleans as ``1``/``0``, choices as the value itself, in the order the fields
are declared. Buttons already posted keep working as long as a class keeps its prefix, its
fields' order and their encodings.

Field types: ``Annotated[int, Between(low, high)]`` (both bounds included), ``bool``,
``Literal["a", "b"]`` (or a union of literals), ``Annotated[str, OneOf(values)]``.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import (
    Annotated,
    Any,
    ClassVar,
    Literal,
    Self,
    TypeVar,
    Union,
    cast,
    dataclass_transform,
    get_args,
    get_origin,
    get_type_hints,
)

from bot.domain import Outcome
from bot.texts import LANGUAGES

MAX_BYTES = 64  # Telegram's limit for callback_data
SEPARATOR = ":"


class BadCallbackData(ValueError):
    """The data is not one the bot makes: too long, unknown prefix, wrong number of fields, a
    value out of range or unknown (stale buttons from an older version of the bot end up here
    too). Raised by `CallbackData.parse`; raised by construction and `pack` only for a
    programming error (a value the class does not accept, data over 64 bytes)."""


@dataclass(frozen=True)
class Between:
    """An integer field's bounds, both included (``Annotated[int, Between(1, 99)]``)."""

    low: int
    high: int


@dataclass(frozen=True)
class OneOf:
    """A text field's accepted values, when they are defined elsewhere
    (``Annotated[str, OneOf(LANGUAGES)]``)."""

    values: tuple[str, ...]


@dataclass(frozen=True)
class DataField:
    """How one field travels: `kind` is "int" (within `low`..`high`), "bool" or "choice"
    (one of `values`)."""

    name: str
    kind: Literal["int", "bool", "choice"]
    low: int = 0
    high: int = 0
    values: tuple[str, ...] = ()

    @property
    def width(self) -> int:
        """The longest encoding of this field, in bytes."""
        if self.kind == "int":
            return max(len(str(self.low)), len(str(self.high)))
        if self.kind == "bool":
            return 1
        return max(len(v.encode()) for v in self.values)

    def accepts(self, value: object) -> bool:
        """Whether `value` is a valid value of this field."""
        if self.kind == "int":
            return type(value) is int and self.low <= value <= self.high
        if self.kind == "bool":
            return type(value) is bool
        return value in self.values

    def encode(self, value: Any) -> str:
        """The wire text of an accepted value."""
        if self.kind == "bool":
            return "1" if value else "0"
        return str(value)

    def decode(self, raw: str) -> object:
        """The value of wire text; raises BadCallbackData when it is not one of this field's."""
        if self.kind == "int" and raw.isascii() and raw.isdigit():
            value: object = int(raw)
        elif self.kind == "bool" and raw in ("0", "1"):
            value = raw == "1"
        elif self.kind == "choice":
            value = raw
        else:
            raise BadCallbackData(raw)
        if not self.accepts(value):
            raise BadCallbackData(raw)
        return value


def _literal_values(hint: Any) -> tuple[str, ...] | None:
    """The values of a Literal (or a union of Literals) of strings; None for other types."""
    origin = get_origin(hint)
    if origin is Literal:
        return tuple(get_args(hint))
    if origin in (Union, types.UnionType):
        parts = [_literal_values(arg) for arg in get_args(hint)]
        if all(part is not None for part in parts):
            return tuple(v for part in parts if part is not None for v in part)
    return None


def _field(name: str, hint: Any) -> DataField:
    """A DataField from a type annotation; TypeError when the type cannot travel as data."""
    extras: tuple[Any, ...] = ()
    if get_origin(hint) is Annotated:
        hint, *rest = get_args(hint)
        extras = tuple(rest)
    bounds = [e for e in extras if isinstance(e, Between)]
    choices = [e for e in extras if isinstance(e, OneOf)]
    if hint is bool:
        return DataField(name, "bool")
    if hint is int and bounds and bounds[0].low >= 0:
        return DataField(name, "int", low=bounds[0].low, high=bounds[0].high)
    values = choices[0].values if hint is str and choices else _literal_values(hint)
    if values and all(isinstance(v, str) and v and SEPARATOR not in v for v in values):
        return DataField(name, "choice", values=tuple(values))
    raise TypeError(
        f"callback field {name}: use Annotated[int, Between(low >= 0, high)], bool, "
        f"a Literal of non-empty strings without {SEPARATOR!r}, or Annotated[str, OneOf(...)]"
    )


class CallbackData:
    """Base of every kind of callback data (subclasses are made by `callback_data`).

    `prefix` and `pattern` (a compiled ``^prefix:`` regex for `CallbackQueryHandler`) are set
    on registered classes; `data_fields` lists the fields in wire order.
    """

    prefix: ClassVar[str]
    pattern: ClassVar[re.Pattern[str]]
    data_fields: ClassVar[tuple[DataField, ...]] = ()

    def __post_init__(self) -> None:
        for spec in self.data_fields:
            if not spec.accepts(getattr(self, spec.name)):
                raise BadCallbackData(f"{type(self).__name__}.{spec.name}")

    def pack(self) -> str:
        """The callback data of this button: ``prefix:field:...``, at most 64 bytes.

        Raises BadCallbackData when longer (a programming error)."""
        values = (spec.encode(getattr(self, spec.name)) for spec in self.data_fields)
        data = SEPARATOR.join([self.prefix, *values])
        if len(data.encode()) > MAX_BYTES:
            raise BadCallbackData(data)
        return data

    @classmethod
    def parse(cls, data: str | None) -> Self:
        """The typed value of callback data made by `pack`.

        Raises BadCallbackData when `data` is missing, over 64 bytes, of another prefix, has
        another number of fields, or a value out of range or unknown."""
        if not data or len(data.encode()) > MAX_BYTES:
            raise BadCallbackData(str(data))
        prefix, *raw = data.split(SEPARATOR)
        if prefix != cls.prefix or len(raw) != len(cls.data_fields):
            raise BadCallbackData(data)
        values = {
            spec.name: spec.decode(text) for spec, text in zip(cls.data_fields, raw, strict=True)
        }
        return cls(**values)

    @classmethod
    def longest(cls) -> int:
        """The length in bytes of the longest data this class can pack."""
        return len(cls.prefix.encode()) + sum(
            len(SEPARATOR) + spec.width for spec in cls.data_fields
        )


REGISTRY: dict[str, type[CallbackData]] = {}  # prefix -> class, in the order defined

D = TypeVar("D", bound=CallbackData)


@dataclass_transform(frozen_default=True)
def callback_data(prefix: str) -> Callable[[type[D]], type[D]]:
    """Make the decorated CallbackData subclass a frozen dataclass with this `prefix` and
    register it. Raises TypeError at import when the prefix is taken or not alphanumeric,
    a field's type cannot travel as data, or the longest data would exceed 64 bytes."""

    def register(cls: type[D]) -> type[D]:
        if not (prefix.isascii() and prefix.isalnum()) or prefix in REGISTRY:
            raise TypeError(f"callback prefix {prefix!r} is taken or not alphanumeric")
        cls = dataclass(frozen=True)(cls)
        hints = get_type_hints(cls, include_extras=True)
        cls.data_fields = tuple(_field(f.name, hints[f.name]) for f in fields(cast(Any, cls)))
        cls.prefix = prefix
        cls.pattern = re.compile(f"^{re.escape(prefix)}{SEPARATOR}")
        if cls.longest() > MAX_BYTES:
            raise TypeError(f"{cls.__name__}: data up to {cls.longest()} bytes, over {MAX_BYTES}")
        REGISTRY[prefix] = cls
        return cls

    return register


QuestionId = Annotated[int, Between(1, 2**31)]
StatsTopic = Literal["models", "companies", "industry", "targets", "ecosystem"]
AdminAction = Literal["close", "open", "default"]  # of a question, from /questions


@dataclass(frozen=True)
class QuestionData(CallbackData):
    """Data that starts with a question's id (``prefix:<question id>[:...]``); not a button
    by itself."""

    question_id: QuestionId


# --- readers' buttons ----------------------------------------------------------------------


@callback_data("lang")
class LanguageChoice(CallbackData):
    """``lang:<ru|en>``, a /language button. Handled by bot.handlers.start.language_button."""

    lang: Annotated[str, OneOf(LANGUAGES)]


@callback_data("go")
class GreetingChoice(CallbackData):
    """``go:<stats|forecast>``, a button under the /start greeting. Handled by
    bot.handlers.start.go_button (through `BotData.go_routes`)."""

    target: Literal["stats", "forecast"]


@callback_data("st")
class StatsCard(CallbackData):
    """``st:<topic>``, a /stats drill-down, or ``st:main`` back to the card. Handled by
    bot.handlers.stats.stats_button."""

    topic: Literal["main"] | StatsTopic


@callback_data("fc")
class ForecastPreset(QuestionData):
    """``fc:<question id>:<probability, percent 1..99>``, a one-tap probability. Handled by
    bot.handlers.forecast.preset_button."""

    probability: Annotated[int, Between(1, 99)]


@callback_data("fx")
class ExactPrompt(QuestionData):
    """``fx:<question id>``, "exact %": asks for a typed probability. Handled by
    bot.handlers.forecast.prompt_button."""


@callback_data("fr")
class ReasonPrompt(QuestionData):
    """``fr:<question id>``, "add a reason": asks for the reason. Handled by
    bot.handlers.forecast.prompt_button."""


@callback_data("fo")
class OpenCard(QuestionData):
    """``fo:<question id>``, "change forecast": the forecast card again. Handled by
    bot.handlers.forecast.open_card_button."""


@callback_data("fn")
class NamingConsent(QuestionData):
    """``fn:<question id>:<1|0>``, may the reader's first name appear next to their reasons.
    Handled by bot.handlers.forecast.consent_button."""

    named: bool


@callback_data("fw")
class WithdrawConfirm(QuestionData):
    """``fw:<question id>:<1|0>``, withdraw the forecast (1) or keep it (0). Handled by
    bot.handlers.forecast.withdraw_button."""

    confirmed: bool


@callback_data("rs")
class ShowResults(QuestionData):
    """``rs:<question id>``, the community forecast of a question. Handled by
    bot.handlers.results.results_button."""


@callback_data("dm")
class DeleteMe(CallbackData):
    """``dm:<yes|no>``, delete the reader's data or keep it. Handled by
    bot.handlers.privacy.deleteme_button."""

    choice: Literal["yes", "no"]


@callback_data("cc")
class ConfirmOffer(CallbackData):
    """``cc:<offer id>``, "record N % as my forecast" under a comment in a post's thread.
    Handled by bot.handlers.thread.confirm_button."""

    offer_id: Annotated[int, Between(1, 2**62)]


# --- admins' buttons -----------------------------------------------------------------------


@callback_data("aq")
class QuestionAction(CallbackData):
    """``aq:<close|open|default>:<question id>``, a /questions button of an admin. Handled by
    bot.handlers.admin.question_button."""

    action: AdminAction
    question_id: QuestionId


@callback_data("nq")
class NewQuestionStep(CallbackData):
    """``nq:<create|default|cancel>``, under the /newquestion prompts. Handled by
    bot.handlers.newquestion.newquestion_button."""

    action: Literal["create", "default", "cancel"]


@callback_data("rv")
class ResolveConfirm(QuestionData):
    """``rv:<question id>:<yes|no|annulled|cancel>``, confirm or cancel a /resolve. Handled by
    bot.handlers.resolution.resolve_button."""

    outcome: Outcome | Literal["cancel"]
