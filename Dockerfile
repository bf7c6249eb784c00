# Beijing AI bot: long polling, SQLite in /app/data (a volume).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# A CJK font, so that Chinese names in question titles are drawn in the charts.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-zenhei \
    && rm -rf /var/lib/apt/lists/*

# Dependencies in their own layer: rebuilt only when pyproject.toml changes.
COPY pyproject.toml README.md ./
RUN mkdir bot && touch bot/__init__.py \
    && pip install . \
    && pip uninstall -y beijing-ai-bot \
    && rm -rf bot build

COPY bot ./bot
COPY data ./data

RUN useradd --create-home --uid 10001 bot && chown -R bot:bot /app/data
USER bot

# The SQLite file lives here; a named volume starts with the bundled dataset.
VOLUME ["/app/data"]

CMD ["python", "-m", "bot", "run"]
