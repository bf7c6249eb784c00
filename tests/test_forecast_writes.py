"""Forecast writes through the store: atomic read-modify-write under concurrency, and group
commit (concurrent writes share transactions, each submitter answered after its commit)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest

from bot.services.dataset import load_dataset
from bot.store import Store


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
