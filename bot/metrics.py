"""Every Prometheus metric of the bot, in one registry (served on /metrics, bot/web.py).

Units: seconds for durations; counters count since the process started.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry()

UPDATES = Counter(
    "bot_updates_total",
    "Updates received (stored in the inbox for the first time), by update type",
    ["type"],
    registry=REGISTRY,
)
HANDLER_SECONDS = Histogram(
    "bot_handler_seconds",
    "Time from the start of an update's handlers to its done mark, in seconds",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
API_ERRORS = Counter(
    "bot_api_errors_total",
    "Bot API calls that failed, by method and kind (the python-telegram-bot error class)",
    ["method", "kind"],
    registry=REGISTRY,
)
FORECASTS = Counter(
    "bot_forecasts_recorded_total",
    "Forecast writes (set, changed or withdrawn) by readers",
    registry=REGISTRY,
)
INBOX_DEPTH = Gauge(
    "bot_inbox_depth", "Stored updates not handled yet (read at each scrape)", registry=REGISTRY
)
CHART_SENDS = Counter(
    "bot_chart_sends_total",
    "Result charts sent (sendPhoto calls that succeeded)",
    registry=REGISTRY,
)


def exposition() -> bytes:
    """The registry in Prometheus' text format."""
    return generate_latest(REGISTRY)
