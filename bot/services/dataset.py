"""The seed dataset (`bot/data/*.toml`, package data): parsing and validation into the plain
dataclasses of bot.domain.

Source of the figures: the PRC.TODAY news story on Beijing as China's AI centre, which quotes
mayor Yin Yong's report to the Beijing Municipal People's Congress
(see `bot/data/beijing_ai.toml`).
"""

from __future__ import annotations

import tomllib
from datetime import datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from bot.domain import (  # the dataset's types live in the domain module
    QUALIFIERS,
    TOPICS,
    UNITS,
    Dataset,
    FactEntry,
    ModelEntry,
    QuestionEntry,
    SourceEntry,
    StatEntry,
    value_problem,
)

# package data, found wherever the package is installed (source tree, wheel, image)
DEFAULT_DATASET: Traversable = resources.files("bot") / "data" / "beijing_ai.toml"


class DatasetError(ValueError):
    """The dataset file is unreadable or an entry is invalid; the message says where."""


def _build(cls: type, raw: dict[str, Any], where: str) -> Any:
    try:
        return cls(**raw)
    except TypeError as exc:
        raise DatasetError(f"{where}: {exc}") from None


def _stat(raw: dict[str, Any], where: str, sources: set[str]) -> StatEntry:
    entry: StatEntry = _build(StatEntry, raw, where)
    if entry.unit not in UNITS:
        raise DatasetError(f"{where}: unit must be one of {', '.join(UNITS)}")
    if entry.qualifier not in QUALIFIERS:
        raise DatasetError(f"{where}: qualifier must be one of {', '.join(QUALIFIERS)}")
    if entry.topic not in TOPICS:
        raise DatasetError(f"{where}: topic must be one of {', '.join(TOPICS)}")
    if not isinstance(entry.value, int | float) or isinstance(entry.value, bool):
        raise DatasetError(f"{where}: value must be a number")
    if entry.source not in sources:
        raise DatasetError(f"{where}: unknown source {entry.source!r}")
    problem = value_problem(entry.unit, entry.value)
    if problem is not None:
        raise DatasetError(f"{where}: value {entry.value} is not valid ({problem})")
    return entry


def _question(raw: dict[str, Any], where: str) -> QuestionEntry:
    raw = dict(raw)
    for name in ("opened_at", "closes_at", "resolve_by"):
        try:
            raw[name] = datetime.fromisoformat(str(raw[name]))
        except (KeyError, ValueError):
            raise DatasetError(f"{where}: {name} must be an ISO 8601 time with offset") from None
        if raw[name].tzinfo is None:
            raise DatasetError(f"{where}: {name} needs a UTC offset, e.g. +00:00")
    return _build(QuestionEntry, raw, where)


def parse_dataset(raw: dict[str, Any]) -> Dataset:
    """Validate a parsed TOML document; raises DatasetError naming the bad entry."""
    sources = tuple(
        _build(SourceEntry, s, f"sources[{i}]") for i, s in enumerate(raw.get("sources", []))
    )
    keys = {s.key for s in sources}
    stats = tuple(_stat(s, f"stats[{i}]", keys) for i, s in enumerate(raw.get("stats", [])))
    models = tuple(
        _build(ModelEntry, {**m, "aliases": tuple(m.get("aliases", ()))}, f"models[{i}]")
        for i, m in enumerate(raw.get("models", []))
    )
    facts = tuple(_build(FactEntry, f, f"facts[{i}]") for i, f in enumerate(raw.get("facts", [])))
    questions = tuple(
        _question(q, f"questions[{i}]") for i, q in enumerate(raw.get("questions", []))
    )
    if len({s.key for s in stats}) != len(stats):
        raise DatasetError("stats: keys must be unique")
    try:
        return Dataset(
            str(raw["name"]), int(raw["version"]), sources, stats, models, facts, questions
        )
    except KeyError as exc:
        raise DatasetError(f"missing top-level field {exc}") from None


def load_dataset(path: Path | Traversable = DEFAULT_DATASET) -> Dataset:
    """Read and validate a dataset file (by default the bundled one); raises DatasetError
    with a one-line reason."""
    try:
        with path.open("rb") as fp:
            raw = tomllib.load(fp)
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise DatasetError(f"{path} is not valid TOML: {exc}") from None
    return parse_dataset(raw)
