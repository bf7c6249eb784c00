"""Numbered schema migrations. Never edit a shipped step: add a new number.

SQLite only: the steps create SQLite triggers (they keep the per-value and per-day counts of
forecasts) and a partial index the forecasts repository names with INDEXED BY; the
repositories also write with INSERT OR REPLACE. Timestamps are TEXT in ISO 8601 UTC, flags
INTEGER 0/1. `bot.store.db.migrate` applies the steps the database lacks in order of their
number, each in one transaction.
"""

MIGRATIONS: dict[int, str] = {
    1: """
CREATE TABLE sources (
    key TEXT PRIMARY KEY,
    title_ru TEXT NOT NULL,
    title_en TEXT NOT NULL,
    publisher TEXT NOT NULL,
    url TEXT,
    published TEXT
);
CREATE TABLE stats (
    key TEXT PRIMARY KEY,
    topic TEXT NOT NULL,
    sort_order INTEGER NOT NULL,
    headline INTEGER NOT NULL DEFAULT 0,
    value REAL NOT NULL,
    qualifier TEXT NOT NULL DEFAULT 'exact',
    unit TEXT NOT NULL,
    label_ru TEXT NOT NULL,
    label_en TEXT NOT NULL,
    period_ru TEXT NOT NULL,
    period_en TEXT NOT NULL,
    comparison_ru TEXT,
    comparison_en TEXT,
    note_ru TEXT,
    note_en TEXT,
    source_key TEXT NOT NULL REFERENCES sources(key),
    as_of TEXT NOT NULL,
    edited INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
);
CREATE TABLE stat_history (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL REFERENCES stats(key),
    old_value REAL,
    new_value REAL NOT NULL,
    old_period_ru TEXT,
    old_period_en TEXT,
    new_period_ru TEXT,
    new_period_en TEXT,
    changed_by INTEGER,
    via TEXT NOT NULL,
    changed_at TEXT NOT NULL
);
CREATE INDEX stat_history_key ON stat_history(key, changed_at);
CREATE TABLE facts (
    topic TEXT NOT NULL,
    key TEXT NOT NULL,
    sort_order INTEGER NOT NULL,
    text_ru TEXT NOT NULL,
    text_en TEXT NOT NULL,
    source_key TEXT NOT NULL REFERENCES sources(key),
    PRIMARY KEY (topic, key)
);
CREATE TABLE models (
    slug TEXT PRIMARY KEY,
    sort_order INTEGER NOT NULL,
    name TEXT NOT NULL,
    maker TEXT NOT NULL,
    description_ru TEXT NOT NULL,
    description_en TEXT NOT NULL,
    source_key TEXT NOT NULL REFERENCES sources(key)
);
CREATE TABLE model_aliases (
    alias TEXT PRIMARY KEY,
    slug TEXT NOT NULL REFERENCES models(slug) ON DELETE CASCADE
);
CREATE TABLE dataset (
    name TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    loaded_at TEXT NOT NULL
);
CREATE TABLE users (
    user_id INTEGER PRIMARY KEY,
    username TEXT,
    first_name TEXT NOT NULL DEFAULT '',
    tg_language TEXT,
    language TEXT,
    named_consent INTEGER,
    started INTEGER NOT NULL DEFAULT 0,
    blocked INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
""",
    2: """
CREATE TABLE questions (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    text_ru TEXT NOT NULL,
    text_en TEXT NOT NULL,
    criteria_ru TEXT NOT NULL,
    criteria_en TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    closes_at TEXT NOT NULL,
    resolve_by TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed', 'resolved')),
    resolution TEXT CHECK (resolution IN ('yes', 'no', 'annulled')),
    resolved_at TEXT,
    is_default INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX questions_one_default ON questions(is_default) WHERE is_default = 1;
CREATE TABLE forecasts (
    id INTEGER PRIMARY KEY,
    question_id INTEGER NOT NULL REFERENCES questions(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    probability INTEGER NOT NULL CHECK (probability BETWEEN 1 AND 99),
    reason TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    revisions INTEGER NOT NULL DEFAULT 1,
    withdrawn INTEGER NOT NULL DEFAULT 0,
    UNIQUE (question_id, user_id)
);
-- covering indexes: the histogram (GROUP BY probability) and the newest-first scan for the
-- recency-weighted median both read only the index, which keeps /results fast at 1M rows
CREATE INDEX forecasts_hist ON forecasts(question_id, withdrawn, probability);
CREATE INDEX forecasts_recent ON forecasts(question_id, withdrawn, updated_at, probability);
CREATE TABLE forecast_history (
    id INTEGER PRIMARY KEY,
    question_id INTEGER NOT NULL REFERENCES questions(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    action TEXT NOT NULL CHECK (action IN ('set', 'reason', 'withdraw')),
    old_probability INTEGER,
    new_probability INTEGER,
    reason TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL
);
CREATE INDEX forecast_history_user ON forecast_history(question_id, user_id, at);
CREATE INDEX forecasts_reasons ON forecasts(question_id, updated_at)
    WHERE reason != '' AND withdrawn = 0;
-- Summaries kept by triggers, so /results reads at most 99 rows per histogram however many
-- forecasts there are, and stays right through any insert, update or (cascading) delete.
CREATE TABLE forecast_counts (
    question_id INTEGER NOT NULL,
    probability INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (question_id, probability)
);
-- per UTC day, how the standing forecasts changed: +1 for a probability a reader moved to,
-- -1 for the one they left (or withdrew); summed up to a day: the standing histogram then
CREATE TABLE forecast_day_deltas (
    question_id INTEGER NOT NULL,
    day TEXT NOT NULL,
    probability INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (question_id, day, probability)
);
CREATE TRIGGER forecasts_count_insert AFTER INSERT ON forecasts WHEN NEW.withdrawn = 0
BEGIN
    INSERT INTO forecast_counts VALUES (NEW.question_id, NEW.probability, 1)
        ON CONFLICT (question_id, probability) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER forecasts_count_leave AFTER UPDATE OF probability, withdrawn ON forecasts
    WHEN OLD.withdrawn = 0
BEGIN
    UPDATE forecast_counts SET n = n - 1
        WHERE question_id = OLD.question_id AND probability = OLD.probability;
END;
CREATE TRIGGER forecasts_count_enter AFTER UPDATE OF probability, withdrawn ON forecasts
    WHEN NEW.withdrawn = 0
BEGIN
    INSERT INTO forecast_counts VALUES (NEW.question_id, NEW.probability, 1)
        ON CONFLICT (question_id, probability) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER forecasts_count_delete AFTER DELETE ON forecasts WHEN OLD.withdrawn = 0
BEGIN
    UPDATE forecast_counts SET n = n - 1
        WHERE question_id = OLD.question_id AND probability = OLD.probability;
END;
CREATE TRIGGER history_day_enter AFTER INSERT ON forecast_history
    WHEN NEW.action = 'set' AND NEW.new_probability IS NOT NULL
BEGIN
    INSERT INTO forecast_day_deltas
        VALUES (NEW.question_id, substr(NEW.at, 1, 10), NEW.new_probability, 1)
        ON CONFLICT (question_id, day, probability) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER history_day_leave AFTER INSERT ON forecast_history
    WHEN NEW.action IN ('set', 'withdraw') AND NEW.old_probability IS NOT NULL
BEGIN
    INSERT INTO forecast_day_deltas
        VALUES (NEW.question_id, substr(NEW.at, 1, 10), NEW.old_probability, -1)
        ON CONFLICT (question_id, day, probability) DO UPDATE SET n = n - 1;
END;
-- deleting a reader's history (/deleteme) takes their part out of every day
CREATE TRIGGER history_day_unenter AFTER DELETE ON forecast_history
    WHEN OLD.action = 'set' AND OLD.new_probability IS NOT NULL
BEGIN
    UPDATE forecast_day_deltas SET n = n - 1 WHERE question_id = OLD.question_id
        AND day = substr(OLD.at, 1, 10) AND probability = OLD.new_probability;
END;
CREATE TRIGGER history_day_unleave AFTER DELETE ON forecast_history
    WHEN OLD.action IN ('set', 'withdraw') AND OLD.old_probability IS NOT NULL
BEGIN
    UPDATE forecast_day_deltas SET n = n + 1 WHERE question_id = OLD.question_id
        AND day = substr(OLD.at, 1, 10) AND probability = OLD.old_probability;
END;
CREATE TABLE pending_steps (
    user_id INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    chat_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    question_id INTEGER NOT NULL REFERENCES questions(id) ON DELETE CASCADE,
    prompt_message_id INTEGER,
    payload TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, chat_id)
);
""",
    3: """
-- admin: Brier scores of resolved questions, and unfinished /newquestion drafts
CREATE TABLE scores (
    question_id INTEGER NOT NULL REFERENCES questions(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    final_probability INTEGER,
    final_brier REAL,
    averaged_brier REAL,
    scored_at TEXT NOT NULL,
    PRIMARY KEY (question_id, user_id)
);
CREATE INDEX scores_rank ON scores(question_id, averaged_brier, final_brier);
CREATE TABLE question_drafts (
    user_id INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    chat_id INTEGER NOT NULL,
    step TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (user_id, chat_id)
);
""",
    4: """
-- channel: posts with their last shown tally, comment-thread prompts (one per post),
-- readers' pending "record N % as my forecast" offers, and the bot's membership per chat
CREATE TABLE channel_posts (
    chat_id INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    question_id INTEGER NOT NULL REFERENCES questions(id) ON DELETE CASCADE,
    language TEXT NOT NULL,
    posted_by INTEGER,
    shown_count INTEGER NOT NULL DEFAULT 0,
    shown_median REAL,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (chat_id, message_id)
);
CREATE INDEX channel_posts_question ON channel_posts(question_id, active);
CREATE TABLE discussion_threads (
    channel_chat_id INTEGER NOT NULL,
    channel_message_id INTEGER NOT NULL,
    chat_id INTEGER NOT NULL,
    thread_id INTEGER NOT NULL,
    question_id INTEGER NOT NULL REFERENCES questions(id) ON DELETE CASCADE,
    prompt_message_id INTEGER,
    created_at TEXT NOT NULL,
    PRIMARY KEY (channel_chat_id, channel_message_id)
);
CREATE UNIQUE INDEX discussion_threads_thread ON discussion_threads(chat_id, thread_id);
CREATE TABLE thread_offers (
    id INTEGER PRIMARY KEY,
    chat_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    question_id INTEGER NOT NULL REFERENCES questions(id) ON DELETE CASCADE,
    probability INTEGER NOT NULL CHECK (probability BETWEEN 1 AND 99),
    reason TEXT NOT NULL DEFAULT '',
    message_id INTEGER,
    used_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX thread_offers_chat ON thread_offers(chat_id);
CREATE TABLE bot_chats (
    chat_id INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
""",
    8: """
-- the question a reader's typed commands refer to (kept across restarts); a resolution's
-- source link and note; when the criteria last changed after forecasts were made
ALTER TABLE users ADD COLUMN current_question_id INTEGER
    REFERENCES questions(id) ON DELETE SET NULL;
ALTER TABLE questions ADD COLUMN resolution_link TEXT;
ALTER TABLE questions ADD COLUMN resolution_note TEXT;
ALTER TABLE questions ADD COLUMN criteria_changed_at TEXT;
-- when the reader was asked whether their name may appear next to their reasons (once)
ALTER TABLE users ADD COLUMN consent_asked_at TEXT;
-- a figure's qualifier and source as a change left them (/setstat can set both)
ALTER TABLE stat_history ADD COLUMN new_qualifier TEXT;
ALTER TABLE stat_history ADD COLUMN new_source_key TEXT;
-- what a channel post shows of its question besides the tally (status, outcome, criteria)
ALTER TABLE channel_posts ADD COLUMN shown_state TEXT NOT NULL DEFAULT '';
""",
    9: """
-- secrets the bot generates for itself once and keeps (e.g. the export pseudonym salt when
-- EXPORT_SALT is not set), so that they survive restarts and live with the data they protect
CREATE TABLE bot_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at TEXT NOT NULL
);
""",
    10: """
-- Telegram's service accounts (777000 "Telegram" for channel auto-forwards, 1087968824 the
-- anonymous group admin, 136817688 a channel writing in a group) are not readers
DELETE FROM users WHERE user_id IN (777000, 1087968824, 136817688);
-- a reader's public label: random, not derived from the Telegram id, unique; set by the
-- bot (UsersRepo.assign_handles) for rows that have none
ALTER TABLE users ADD COLUMN handle TEXT;
CREATE UNIQUE INDEX users_handle ON users(handle);
-- moderation: readers whose reasons are not shown publicly, and what admins and the
-- revision limit did (hide, unhide, rate_limited)
CREATE TABLE hidden_readers (
    user_id INTEGER PRIMARY KEY REFERENCES users(user_id) ON DELETE CASCADE,
    hidden_by INTEGER,
    hidden_at TEXT NOT NULL
);
CREATE TABLE moderation_log (
    id INTEGER PRIMARY KEY,
    action TEXT NOT NULL CHECK (action IN ('hide', 'unhide', 'rate_limited')),
    user_id INTEGER REFERENCES users(user_id) ON DELETE CASCADE,
    admin_id INTEGER,
    at TEXT NOT NULL
);
CREATE INDEX moderation_log_at ON moderation_log(at);
CREATE INDEX moderation_log_user ON moderation_log(user_id, action, at);
-- a reader's recent changes on every question, and recent offers in comment threads
-- (the revision limit)
CREATE INDEX forecast_history_user_at ON forecast_history(user_id, at);
CREATE INDEX thread_offers_user ON thread_offers(user_id, created_at);
""",
}
