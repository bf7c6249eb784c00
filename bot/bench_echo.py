"""The benchmark's reference: a stock python-telegram-bot echo bot (default transport, no
extras), run as `python -m bot.bench_echo` with BOT_TOKEN and TELEGRAM_API_BASE_URL set.
With BENCH_ECHO_CONCURRENCY=N it handles N updates at once (PTB's concurrent_updates, with
a connection pool of N): the burst benchmark's reference."""

from __future__ import annotations

import os

from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer every text with itself."""
    if update.message and update.message.text:
        await update.message.reply_text(update.message.text)


def main() -> None:
    """Long polling until SIGTERM."""
    builder = (
        Application.builder()
        .token(os.environ["BOT_TOKEN"])
        .base_url(os.environ["TELEGRAM_API_BASE_URL"])
    )
    concurrency = int(os.environ.get("BENCH_ECHO_CONCURRENCY") or 0)
    if concurrency:
        builder = builder.concurrent_updates(concurrency).connection_pool_size(concurrency)
    app = builder.build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.run_polling()


if __name__ == "__main__":
    main()
