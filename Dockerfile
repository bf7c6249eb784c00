# Beijing AI bot: long polling (or `run --webhook`); state (SQLite database, inbox, backups) in
# the /app/data volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATABASE_URL=sqlite:////app/data/bot.sqlite3 \
    WEBHOOK_LISTEN=0.0.0.0

# Dependencies in their own layer, exactly as locked (rebuilt only when the lock changes).
COPY requirements.lock /tmp/requirements.lock
RUN pip install --require-hashes --no-deps -r /tmp/requirements.lock && rm /tmp/requirements.lock

# A CJK font, so that Chinese names in question titles are drawn in the charts. The base
# image's Debian release fixes its version; a font needs no tighter pin.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-zenhei \
    && rm -rf /var/lib/apt/lists/*

# The bot itself, with its dataset and catalogs as package data; no source stays in the image.
COPY pyproject.toml README.md /tmp/src/
COPY bot /tmp/src/bot
RUN pip install --no-deps /tmp/src && rm -rf /tmp/src

# The working directory is the state volume: the database, `backup` files and the console's
# files (`python -m bot shell`) all land here. The bot runs as uid 10001, which must be able
# to write it: a new named volume is prepared below; for a bind mount, chown the host folder.
RUN useradd --create-home --uid 10001 bot && mkdir -p /app/data && chown bot:bot /app/data
WORKDIR /app/data
USER 10001:10001
VOLUME ["/app/data"]

# The database opens and takes a write lock (see `python -m bot healthcheck`).
HEALTHCHECK --interval=60s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-m", "bot", "healthcheck"]

# SIGTERM stops polling, finishes the update in hand and closes the database; that takes at
# most ~8 s, within Docker's default 10 s grace (`docker run --stop-timeout`, compose
# `stop_grace_period`).
STOPSIGNAL SIGTERM
# webhook mode and HTTP_PORT (/healthz, /metrics) listen here
EXPOSE 8080
CMD ["python", "-m", "bot", "run"]
