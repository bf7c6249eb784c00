"""Forecast writes through the store: atomic read-modify-write under concurrency, group
commit (concurrent writes share transactions, each submitter answered after its commit), and
the in-memory standing window the writer keeps for the aggregates."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite
import pytest

from bot.services.aggregate import (
    VECTOR_FROM,
    _weights_by_value,
    _weights_by_value_vector,
    weighted_median,
    weighted_median_horizon,
)
from bot.services.dataset import load_dataset
from bot.store import Store
from bot.store.forecasts import WINDOW_MARGIN


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = await Store.open(tmp_path / "bot.sqlite3")
    await store.questions.seed(load_dataset().questions)
    try:
        yield store
    finally:
        await store.close()


async def question_id(store: Store) -> int:
    question = await store.questions.default()
    assert question is not None
    return question.id


async def readers(store: Store, ids: range) -> None:
    for uid in ids:
        await store.users.touch(uid, username=None, first_name="R", tg_language="en")


async def test_concurrent_taps_of_one_reader_give_one_entry_each_and_the_last_wins(
    store: Store,
) -> None:
    qid = await question_id(store)
    await readers(store, range(7, 8))
    taps = list(range(1, 41))  # 40 different probabilities, tapped at once
    results = await asyncio.gather(*(store.forecasts.set(qid, 7, p, language="en") for p in taps))
    history = await store.forecasts.history(qid, 7)
    assert [h.new_probability for h in history] == taps
    assert [h.old_probability for h in history] == [None, *taps[:-1]]
    current = await store.forecasts.current(qid, 7)
    assert current is not None and current.probability == 40 and current.revisions == 40
    assert [new.probability for new, _ in results] == taps
    assert results[0][1] is None and results[-1][1] is not None
    assert results[-1][1].probability == 39
    assert await store.forecasts.histogram(qid) == {40: 1}


async def test_set_withdraw_set_at_once_are_applied_in_order(store: Store) -> None:
    qid = await question_id(store)
    await readers(store, range(7, 8))
    await store.forecasts.set(qid, 7, 30, language="en", reason="first")
    first, withdrawn, again, reason = await asyncio.gather(
        store.forecasts.set(qid, 7, 40, language="en"),
        store.forecasts.withdraw(qid, 7),
        store.forecasts.set(qid, 7, 50, language="en"),
        store.forecasts.set_reason(qid, 7, "second thoughts"),
    )
    assert first[0].probability == 40 and first[0].reason == "first"  # the reason is kept
    assert withdrawn is not None and withdrawn.probability == 40
    assert again[0].probability == 50 and again[0].reason == ""  # gone with the withdrawal
    assert again[1] is not None and again[1].withdrawn
    assert reason is not None and reason.reason == "second thoughts"
    actions = [h.action for h in await store.forecasts.history(qid, 7)]
    assert actions == ["set", "set", "withdraw", "set", "reason"]
    assert await store.forecasts.histogram(qid) == {50: 1}


async def test_a_thousand_concurrent_submitters_share_a_few_commits(store: Store) -> None:
    qid = await question_id(store)
    await readers(store, range(1, 1001))
    before = store.forecasts.commits
    version = (await store.questions.get(qid)).version  # type: ignore[union-attr]
    results = await asyncio.gather(
        *(store.forecasts.set(qid, uid, uid % 99 + 1, language="en") for uid in range(1, 1001))
    )
    assert store.forecasts.commits - before <= 5
    assert len({new.id for new, _ in results}) == 1000 and all(new.id for new, _ in results)
    assert await store.forecasts.count(qid) == 1000
    question = await store.questions.get(qid)
    assert question is not None and question.version == version + 1000
    current = await store.forecasts.current(qid, 500)
    assert current is not None and current == results[499][0]


async def test_a_failing_write_fails_alone(store: Store) -> None:
    qid = await question_id(store)
    await readers(store, range(1, 4))
    outcomes = await asyncio.gather(
        store.forecasts.set(qid, 1, 10, language="en"),
        store.forecasts.set(qid, 999, 20, language="en"),  # no such reader
        store.forecasts.set(qid, 3, 30, language="en"),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], aiosqlite.IntegrityError)
    assert await store.forecasts.histogram(qid) == {10: 1, 30: 1}


async def sql_standing(store: Store, qid: int, limit: int) -> tuple[dict[int, int], list[int]]:
    return await store.forecasts.histogram(qid), await store.forecasts.newest(qid, limit)


async def window_matches_sql(store: Store, qid: int, horizon: int) -> None:
    """The standing forecasts the store keeps in memory (read with the horizon
    min(N, `horizon`)) are those SQL gives: the histogram, the newest `horizon`, the version."""
    standing = await store.forecasts.standing(qid, lambda n: min(n, horizon))
    hist, newest = await sql_standing(store, qid, horizon + 20)
    assert standing.histogram == hist
    assert standing.newest[:horizon] == newest[:horizon]
    question = await store.questions.get(qid)
    assert question is not None and standing.version == question.version


async def test_standing_window_follows_every_write_and_outside_changes(store: Store) -> None:
    qid = await question_id(store)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        (uid, uid % 97 + 1, (start + timedelta(seconds=uid)).isoformat()) for uid in range(1, 3001)
    ]
    await store.forecasts.bulk_insert(qid, rows)

    await window_matches_sql(store, qid, 50)  # read once from SQL
    rng = random.Random(3)
    for _ in range(30):
        ops: list[Awaitable[object]] = []
        for _ in range(rng.randint(1, 40)):
            uid = rng.randint(1, 3000)
            if rng.random() < 0.2:
                ops.append(store.forecasts.withdraw(qid, uid))
            elif rng.random() < 0.2:
                ops.append(store.forecasts.set_reason(qid, uid, f"r{rng.random()}"))
            else:
                ops.append(store.forecasts.set(qid, uid, rng.randint(1, 99), language="en"))
        await asyncio.gather(*ops)
        await window_matches_sql(store, qid, 50)
    assert qid in store.forecasts._windows  # followed in memory, not re-read
    await store.admin.delete_reader(rows[-1][0])  # a change the writer does not see
    await window_matches_sql(store, qid, 50)
    back = start - timedelta(days=1)  # back-dated: the window cannot place it, reads again
    await store.forecasts.set(qid, 5, 77, language="en", at=back)
    await window_matches_sql(store, qid, 50)


async def test_a_complete_window_grows_then_is_trimmed_and_still_matches_sql(
    store: Store,
) -> None:
    qid = await question_id(store)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    first = [(uid, uid % 97 + 1, (start + timedelta(seconds=uid)).isoformat()) for uid in
             range(1, 301)]  # fmt: skip
    await store.forecasts.bulk_insert(qid, first)
    await asyncio.gather(*(
        store.users.touch(uid, username=None, first_name="R", tg_language="en")
        for uid in range(301, 5301)
    ))  # fmt: skip

    # read once: 300 forecasts, every one of them kept (complete)
    await window_matches_sql(store, qid, 100)
    rng = random.Random(5)
    for batch in range(25):  # 200 new forecasters per batch, some withdrawals and changes
        ops: list[Awaitable[object]] = []
        for uid in range(301 + batch * 200, 301 + (batch + 1) * 200):
            ops.append(store.forecasts.set(qid, uid, rng.randint(1, 99), language="en"))
        for _ in range(20):
            uid = rng.randint(1, 300 + batch * 200)
            if rng.random() < 0.5:
                ops.append(store.forecasts.withdraw(qid, uid))
            else:
                ops.append(store.forecasts.set(qid, uid, rng.randint(1, 99), language="en"))
        await asyncio.gather(*ops)
        await window_matches_sql(store, qid, 100)
    window = store.forecasts._windows[qid]
    assert not window.complete  # trimmed once it outgrew the horizon and its margins
    assert len(window.recent) <= 100 + 3 * WINDOW_MARGIN


def test_vector_weighted_median_equals_the_python_sum() -> None:
    rng = random.Random(11)
    for total in (5_000, 20_000, 80_000):
        values = [min(99, max(1, int(rng.gauss(55, 20)))) for _ in range(total)]
        assert weighted_median_horizon(total) >= VECTOR_FROM or total == 5_000
        fast = _weights_by_value_vector(iter(values), total)
        slow = _weights_by_value(iter(values), total)
        assert fast.keys() == slow.keys()
        assert all(math.isclose(fast[v], slow[v], rel_tol=1e-9) for v in fast)
        assert weighted_median(values, total) == weighted_median_python(values, total)


def weighted_median_python(values: list[int], total: int) -> float:
    by_value = sorted(_weights_by_value(iter(values), total).items())
    half = sum(w for _, w in by_value) / 2
    cumulative = 0.0
    for value, weight in by_value:
        cumulative += weight
        if cumulative >= half:
            return float(value)
    return float(by_value[-1][0])
