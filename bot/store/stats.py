"""Statistics, sources, facts and models: reads for the commands, seeding, and upkeep."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from urllib.parse import urlsplit

import aiosqlite

from bot.domain import Dataset, StatEntry, normalize_alias
from bot.store.db import (
    columns,
    fetch_all,
    fetch_one,
    from_iso,
    from_row,
    to_row,
    transaction,
    utcnow,
)


@dataclass(frozen=True)
class Source:
    """A source of figures (publisher, titles in both languages)."""

    key: str
    title_ru: str
    title_en: str
    publisher: str
    url: str | None
    published: str | None

    def title(self, lang: str) -> str:
        """The title in `lang` ("ru" or "en")."""
        return self.title_ru if lang == "ru" else self.title_en


@dataclass(frozen=True)
class Stat:
    """One figure as stored: `value` in `unit` (percent values are percent, e.g. 25.3);
    `updated_at` an aware UTC datetime."""

    key: str
    topic: str
    sort_order: int
    headline: int
    value: float
    qualifier: str
    unit: str
    label_ru: str
    label_en: str
    period_ru: str
    period_en: str
    comparison_ru: str | None
    comparison_en: str | None
    note_ru: str | None
    note_en: str | None
    source_key: str
    as_of: str
    edited: int
    updated_at: datetime

    def text(self, name: str, lang: str) -> str | None:
        """The localized field `name` (label, period, comparison, note) in `lang`."""
        value: str | None = getattr(self, f"{name}_{'ru' if lang == 'ru' else 'en'}")
        return value


@dataclass(frozen=True)
class Fact:
    """A qualitative fact of a topic."""

    topic: str
    key: str
    sort_order: int
    text_ru: str
    text_en: str
    source_key: str

    def text(self, lang: str) -> str:
        """The fact in `lang`."""
        return self.text_ru if lang == "ru" else self.text_en


@dataclass(frozen=True)
class Model:
    """A flagship model and its maker."""

    slug: str
    sort_order: int
    name: str
    maker: str
    description_ru: str
    description_en: str
    source_key: str

    def description(self, lang: str) -> str:
        """The description in `lang`."""
        return self.description_ru if lang == "ru" else self.description_en


@dataclass(frozen=True)
class StatChange:
    """One recorded change of a figure (changed_by is a Telegram user id or None) at
    `changed_at` (aware UTC); the qualifier and source the change left, when it was made
    with /setstat."""

    key: str
    old_value: float | None
    new_value: float
    old_period_ru: str | None
    old_period_en: str | None
    new_period_ru: str | None
    new_period_en: str | None
    changed_by: int | None
    via: str
    changed_at: datetime
    new_qualifier: str | None = None
    new_source_key: str | None = None

    def period(self, which: str, lang: str) -> str | None:
        """The "old" or "new" period in `lang`."""
        value: str | None = getattr(self, f"{which}_period_{'ru' if lang == 'ru' else 'en'}")
        return value


@dataclass(frozen=True)
class CitedSource:
    """A source an admin gives with /setstat: the title as published, an optional URL and
    an optional ISO date or month ("2026-03" or "2026-03-15")."""

    title: str
    url: str | None = None
    published: str | None = None


@dataclass(frozen=True)
class SeedReport:
    """What seeding did: keys inserted, updated, and left alone because an admin edited them."""

    inserted: tuple[str, ...]
    updated: tuple[str, ...]
    kept_edited: tuple[str, ...]
    dataset_version: int


def _stat_params(entry: StatEntry, order: int) -> dict[str, object]:
    return {
        "key": entry.key,
        "topic": entry.topic,
        "sort_order": order,
        "headline": int(entry.headline),
        "value": float(entry.value),
        "qualifier": entry.qualifier,
        "unit": entry.unit,
        "label_ru": entry.label_ru,
        "label_en": entry.label_en,
        "period_ru": entry.period_ru,
        "period_en": entry.period_en,
        "comparison_ru": entry.comparison_ru,
        "comparison_en": entry.comparison_en,
        "note_ru": entry.note_ru,
        "note_en": entry.note_en,
        "source_key": entry.source,
        "as_of": entry.as_of,
    }


# fields of a figure that seeding updates even after an admin changed it with /setstat
_DESCRIPTIVE = (
    "topic", "sort_order", "headline", "label_ru", "label_en",
    "comparison_ru", "comparison_en", "note_ru", "note_en",
)  # fmt: skip


class StatsRepo:
    """Reads and writes of the reference data; knows nothing of Telegram."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._writes = 0  # writes through this repository

    async def revision(self) -> tuple[int, int]:
        """A value that changes whenever the reference data may have changed: (writes made
        through this repository, SQLite's data_version, which changes when another
        connection, e.g. `python -m bot stats import`, commits). One tiny read."""
        row = await fetch_one(self._conn, "PRAGMA data_version")
        return self._writes, int(row[0]) if row else 0

    async def all(self) -> list[Stat]:
        """Every figure, in display order."""
        sql = f"SELECT {columns(Stat)} FROM stats ORDER BY sort_order"
        rows = await fetch_all(self._conn, sql)
        return [from_row(Stat, row) for row in rows]

    async def get(self, key: str) -> Stat | None:
        """One figure by key, or None."""
        sql = f"SELECT {columns(Stat)} FROM stats WHERE key = ?"
        row = await fetch_one(self._conn, sql, (key,))
        return from_row(Stat, row) if row else None

    async def sources(self) -> list[Source]:
        """Every source, by key."""
        sql = f"SELECT {columns(Source)} FROM sources ORDER BY key"
        rows = await fetch_all(self._conn, sql)
        return [Source(*row) for row in rows]

    async def facts(self, topic: str) -> list[Fact]:
        """The facts of `topic`, in display order."""
        sql = f"SELECT {columns(Fact)} FROM facts WHERE topic = ? ORDER BY sort_order"
        rows = await fetch_all(self._conn, sql, (topic,))
        return [Fact(*row) for row in rows]

    async def models(self) -> list[Model]:
        """The flagship models, in display order."""
        sql = f"SELECT {columns(Model)} FROM models ORDER BY sort_order"
        rows = await fetch_all(self._conn, sql)
        return [Model(*row) for row in rows]

    async def find_model(self, name: str) -> Model | None:
        """A model by slug, name or alias (case-insensitive), or None."""
        sql = (
            f"SELECT {columns(Model)} FROM models WHERE slug IN "
            "(SELECT slug FROM model_aliases WHERE alias = ?)"
        )
        row = await fetch_one(self._conn, sql, (normalize_alias(name),))
        return Model(*row) if row else None

    async def set_value(
        self,
        key: str,
        value: float,
        *,
        by: int | None,
        via: str,
        period_ru: str | None = None,
        period_en: str | None = None,
        qualifier: str | None = None,
        source: CitedSource | None = None,
    ) -> StatChange | None:
        """Change a figure (and optionally its period per language, its qualifier and its
        source), keeping the history.

        The figure is marked as edited, so later seeding leaves its value alone; its as-of
        date becomes the cited source's date, else today (UTC). A cited source is stored as
        a new source (publisher: the URL's host, else the title). Returns the change, or
        None when nothing would change. Raises KeyError when `key` is unknown.
        """
        stat = await self.get(key)
        if stat is None:
            raise KeyError(key)
        new_ru = period_ru if period_ru is not None else stat.period_ru
        new_en = period_en if period_en is not None else stat.period_en
        new_qualifier = qualifier or stat.qualifier
        if source is None and (value, new_ru, new_en, new_qualifier) == (
            stat.value, stat.period_ru, stat.period_en, stat.qualifier,
        ):  # fmt: skip
            return None
        now = utcnow()
        self._writes += 1
        async with transaction(self._conn):
            source_key, as_of = stat.source_key, now[:10]
            if source is not None:
                source_key = f"setstat-{key}-{now}"
                publisher = urlsplit(source.url).hostname if source.url else None
                await self._conn.execute(
                    "INSERT INTO sources (key, title_ru, title_en, publisher, url, published)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        source_key, source.title, source.title,
                        (publisher or source.title).removeprefix("www."),
                        source.url, source.published,
                    ),
                )  # fmt: skip
                as_of = source.published or as_of
            await self._conn.execute(
                "UPDATE stats SET value = ?, period_ru = ?, period_en = ?, qualifier = ?,"
                " source_key = ?, as_of = ?, edited = 1, updated_at = ? WHERE key = ?",
                (value, new_ru, new_en, new_qualifier, source_key, as_of, now, key),
            )
            change = StatChange(
                key, stat.value, value, stat.period_ru, stat.period_en, new_ru, new_en,
                by, via, from_iso(now), new_qualifier, source_key,
            )  # fmt: skip
            await self._insert_change(change)
        return change

    async def history(self, key: str, limit: int = 20) -> list[StatChange]:
        """The latest changes of a figure, newest first."""
        sql = (
            f"SELECT {columns(StatChange)} FROM stat_history WHERE key = ?"
            " ORDER BY changed_at DESC, id DESC LIMIT ?"
        )
        rows = await fetch_all(self._conn, sql, (key, limit))
        return [from_row(StatChange, row) for row in rows]

    async def _insert_change(self, change: StatChange) -> None:
        await self._conn.execute(
            f"INSERT INTO stat_history ({columns(StatChange)})"
            f" VALUES ({', '.join('?' * len(fields(StatChange)))})",
            to_row(change),
        )

    async def seed(self, dataset: Dataset, *, via: str = "seed") -> SeedReport:
        """Load a dataset idempotently in one transaction.

        Inserts new figures, updates figures that nobody edited, and never overwrites the
        value, qualifier, period, source or date of a figure changed through /setstat
        (`edited`; its labels, comparison and note do follow the file); sources, facts and
        models are upserted. Returns what changed.
        """
        inserted: list[str] = []
        updated: list[str] = []
        kept: list[str] = []
        self._writes += 1
        async with transaction(self._conn):
            await self._seed_reference(dataset)
            for order, entry in enumerate(dataset.stats):
                params = _stat_params(entry, order)
                current = await self.get(entry.key)
                if current is not None and current.edited:
                    # the admin's value, qualifier, period, source and date stay; labels,
                    # comparisons and notes (shown only for unedited figures) follow the file
                    await self._update_descriptive(entry.key, params)
                    kept.append(entry.key)
                    continue
                if current is not None and all(
                    getattr(current, k) == v for k, v in params.items()
                ):
                    continue
                await self._upsert_stat(params)
                (updated if current else inserted).append(entry.key)
                if current is None or current.value != float(entry.value):
                    await self._insert_change(
                        StatChange(
                            entry.key,
                            current.value if current else None,
                            float(entry.value),
                            current.period_ru if current else None,
                            current.period_en if current else None,
                            entry.period_ru,
                            entry.period_en,
                            None,
                            via,
                            datetime.now(UTC),
                        )
                    )
            await self._conn.execute(
                "INSERT INTO dataset (name, version, loaded_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET version = excluded.version,"
                " loaded_at = excluded.loaded_at",
                (dataset.name, dataset.version, utcnow()),
            )
        return SeedReport(tuple(inserted), tuple(updated), tuple(kept), dataset.version)

    async def _update_descriptive(self, key: str, params: dict[str, object]) -> None:
        names = [n for n in params if n in _DESCRIPTIVE]
        await self._conn.execute(
            f"UPDATE stats SET {', '.join(f'{n} = ?' for n in names)} WHERE key = ?",
            [*(params[n] for n in names), key],
        )

    async def _upsert_stat(self, params: dict[str, object]) -> None:
        names = [*params, "updated_at"]
        values = [*params.values(), utcnow()]
        updates = ", ".join(f"{n} = excluded.{n}" for n in names if n != "key")
        await self._conn.execute(
            f"INSERT INTO stats ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
            f" ON CONFLICT (key) DO UPDATE SET {updates}",
            values,
        )

    async def _seed_reference(self, dataset: Dataset) -> None:
        for s in dataset.sources:
            await self._conn.execute(
                "INSERT INTO sources (key, title_ru, title_en, publisher, url, published)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET"
                " title_ru = excluded.title_ru, title_en = excluded.title_en,"
                " publisher = excluded.publisher, url = excluded.url,"
                " published = excluded.published",
                (s.key, s.title_ru, s.title_en, s.publisher, s.url, s.published),
            )
        for order, f in enumerate(dataset.facts):
            await self._conn.execute(
                "INSERT INTO facts (topic, key, sort_order, text_ru, text_en, source_key)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (topic, key) DO UPDATE SET"
                " sort_order = excluded.sort_order, text_ru = excluded.text_ru,"
                " text_en = excluded.text_en, source_key = excluded.source_key",
                (f.topic, f.key, order, f.text_ru, f.text_en, f.source),
            )
        for order, m in enumerate(dataset.models):
            await self._conn.execute(
                "INSERT INTO models (slug, sort_order, name, maker, description_ru,"
                " description_en, source_key) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (slug) DO UPDATE SET sort_order = excluded.sort_order,"
                " name = excluded.name, maker = excluded.maker,"
                " description_ru = excluded.description_ru,"
                " description_en = excluded.description_en, source_key = excluded.source_key",
                (m.slug, order, m.name, m.maker, m.description_ru, m.description_en, m.source),
            )
            await self._conn.execute("DELETE FROM model_aliases WHERE slug = ?", (m.slug,))
            aliases = {normalize_alias(a) for a in (m.slug, m.name, *m.aliases)}
            await self._conn.executemany(
                "INSERT OR REPLACE INTO model_aliases (alias, slug) VALUES (?, ?)",
                [(a, m.slug) for a in sorted(aliases)],
            )

    async def dataset_version(self, name: str) -> int:
        """The version of dataset `name` last loaded, 0 if never."""
        row = await fetch_one(self._conn, "SELECT version FROM dataset WHERE name = ?", (name,))
        return int(row[0]) if row else 0
