"""The benchmark's fake Bot API (bot/bench_api.py): it serves queued updates by long polling
and notices when every update was answered."""

from __future__ import annotations

import asyncio

from telegram import Bot

from bot.bench_api import FakeBotApi, message, press
from bot.transport import AiohttpRequest


async def test_updates_are_served_and_answers_counted() -> None:
    api = FakeBotApi()
    base = await api.start()
    bot = Bot("4242:BENCH", base_url=base, request=AiohttpRequest(4),
              get_updates_request=AiohttpRequest())  # fmt: skip
    try:
        async with bot:
            api.queue([message(7, "/stats"), press(8, "st:models")],
                      [(7, "sendMessage"), (8, "editMessageText")])  # fmt: skip
            updates = await bot.get_updates(timeout=1)
            assert [u.update_id for u in updates] == [1, 2]
            assert updates[0].message and updates[0].message.text == "/stats"
            assert updates[1].callback_query and updates[1].callback_query.data == "st:models"
            assert not await bot.get_updates(offset=3, timeout=0)  # acknowledged: gone
            await bot.send_message(7, "figures")
            assert not api.done.is_set()
            await bot.edit_message_text("models", chat_id=8, message_id=1)
            await asyncio.wait_for(api.done.wait(), 5)
    finally:
        await api.stop()
