"""Pending prompts expire: one rule (PENDING_TTL_MINUTES, checked when the answer is read)
for the exact-% and reason prompts, a comment-thread offer and a /newquestion draft."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.config import Settings
from bot.store.db import expired, to_iso
from tests.conftest import Harness, buttons, plain
from tests.test_channel import (  # noqa: F401  (fixtures)
    channel,
    discussion,
    prompt_in_thread,
    qid,
    settings,
)

LONG_AGO = to_iso(datetime.now(UTC) - timedelta(days=3))


async def age(harness: Harness, table: str, column: str) -> None:
    """Make every row of `table` three days old."""
    await harness.store.conn.execute(f"UPDATE {table} SET {column} = ?", (LONG_AGO,))  # noqa: S608
    await harness.store.conn.commit()


def test_the_rule_and_the_setting() -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    ttl = timedelta(minutes=30)
    assert expired(now - timedelta(minutes=31), ttl, now)
    assert not expired(now - timedelta(minutes=29), ttl, now)
    assert not expired(now - timedelta(days=999), None, now)
    assert Settings(_env_file=None).pending_ttl == ttl
    assert Settings(_env_file=None, pending_ttl_minutes=5).pending_ttl == timedelta(minutes=5)


async def test_reason_prompt_answered_days_later_is_not_a_reason(
    harness: Harness, bob: dict[str, Any]
) -> None:
    step = await harness.send(bob, "/forecast 60")
    question_id = await qid(harness)
    await harness.tap(bob, step.last, f"fr:{question_id}")
    await age(harness, "pending_steps", "created_at")
    step = await harness.send(bob, "hi! what does this bot do?")
    forecast = await harness.store.forecasts.current(question_id, bob["id"])
    assert forecast is not None and forecast.reason == ""
    assert "Reason saved" not in step.text
    assert await harness.store.forecasts.pending(bob["id"], bob["id"]) is None


async def test_fresh_reason_prompt_still_works(harness: Harness, bob: dict[str, Any]) -> None:
    step = await harness.send(bob, "/forecast 60")
    question_id = await qid(harness)
    await harness.tap(bob, step.last, f"fr:{question_id}")
    step = await harness.send(bob, "universities")
    assert "Reason saved" in step.text


async def test_newquestion_draft_expires(harness: Harness, admin: dict[str, Any]) -> None:
    await harness.send(admin, "/newquestion")
    await age(harness, "question_drafts", "updated_at")
    step = await harness.send(admin, "ai-jobs-2031")
    assert "2/7." not in step.text
    assert await harness.store.admin.draft(admin["id"], admin["id"]) is None


async def test_comment_offer_expires(
    harness: Harness,
    admin: dict[str, Any],
    bob: dict[str, Any],
    channel: dict[str, Any],  # noqa: F811
    discussion: dict[str, Any],  # noqa: F811
) -> None:
    prompt = await prompt_in_thread(harness, admin, channel, discussion)
    step = await harness.send(bob, "70 %", chat=discussion, reply_to=prompt)
    [(label, _)] = buttons(step.last)
    await age(harness, "thread_offers", "created_at")
    pressed = await harness.press(bob, step.last, label)
    assert pressed.alert and "expired" in plain(pressed.alert)
    assert await harness.store.forecasts.current(await qid(harness), bob["id"]) is None
