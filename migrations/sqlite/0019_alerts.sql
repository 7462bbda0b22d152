-- Saved searches and their alerts (issue 21): searches, the queue of
-- articles to match, the matches held until their story is known, the
-- events they become and the outbox of deliveries per channel.

CREATE TABLE searches (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    query           TEXT NOT NULL,
    -- 1: `query` is the engine's own search syntax, not plain words.
    fts             INTEGER NOT NULL DEFAULT 0,
    -- JSON arrays: feed ids, publisher names, channel names.
    feeds           TEXT NOT NULL DEFAULT '[]',
    publishers      TEXT NOT NULL DEFAULT '[]',
    lang            TEXT,
    channels        TEXT NOT NULL DEFAULT '[]',
    -- NULL: each story is sent as it comes; else one message per interval.
    digest_secs     INTEGER,
    backfill        INTEGER NOT NULL DEFAULT 0,
    origin          TEXT NOT NULL,
    enabled         INTEGER NOT NULL DEFAULT 1,
    disabled_reason TEXT,
    -- Articles first seen before this never match (NULL: any age, backfill):
    -- a new or edited query applies to the news that follows it.
    matches_since   TEXT,
    -- When the last digest went out (or the search started collecting).
    digest_at       TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

-- Articles to match against the searches: a new article, and again when
-- its title or full text changes. Filled by triggers so that every write
-- path queues them in its own transaction.
CREATE TABLE alert_pending (
    article_id INTEGER PRIMARY KEY
);

CREATE TRIGGER articles_ai_alerts AFTER INSERT ON articles BEGIN
    INSERT OR IGNORE INTO alert_pending (article_id) VALUES (new.id);
END;

CREATE TRIGGER articles_au_alerts AFTER UPDATE OF title, text ON articles
WHEN new.title IS NOT old.title OR new.text IS NOT old.text BEGIN
    INSERT OR IGNORE INTO alert_pending (article_id) VALUES (new.id);
END;

CREATE TABLE alert_events (
    id         INTEGER PRIMARY KEY,
    -- Random, sent as X-Newsd-Delivery: the same on every retry.
    event_id   TEXT NOT NULL UNIQUE,
    search_id  INTEGER NOT NULL REFERENCES searches (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    -- The JSON body, fixed when the event is made, so retries send the same
    -- bytes (and the same signature).
    payload    TEXT NOT NULL
);

-- One row per (search, matching article). `state`: `held` (waits out
-- alerts.hold and clustering), `queued` (the story's first match in a
-- digest search, waiting for the digest), `notified` (in an event),
-- `duplicate` (its story was already notified by this search), `gone` (the
-- article was merged away or pruned while held). `article_id` has no
-- foreign key: a notified match must outlive its article, since it is what
-- keeps the story from notifying again.
CREATE TABLE alert_matches (
    id         INTEGER PRIMARY KEY,
    search_id  INTEGER NOT NULL REFERENCES searches (id) ON DELETE CASCADE,
    article_id INTEGER NOT NULL,
    matched_at TEXT NOT NULL,
    due_at     TEXT NOT NULL,
    state      TEXT NOT NULL,
    story_id   INTEGER,
    event_id   INTEGER REFERENCES alert_events (id) ON DELETE SET NULL,
    UNIQUE (search_id, article_id)
);
CREATE INDEX alert_matches_held ON alert_matches (due_at) WHERE state = 'held';
CREATE INDEX alert_matches_queued ON alert_matches (search_id) WHERE state = 'queued';
CREATE INDEX alert_matches_story ON alert_matches (search_id, story_id) WHERE story_id IS NOT NULL;

-- The outbox: one delivery per event and channel. `state`: `pending`,
-- `sent`, `failed` (after alerts.max_attempts).
CREATE TABLE alert_deliveries (
    id          INTEGER PRIMARY KEY,
    event_id    INTEGER NOT NULL REFERENCES alert_events (id) ON DELETE CASCADE,
    channel     TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_try_at TEXT NOT NULL,
    last_error  TEXT,
    last_status INTEGER,
    sent_at     TEXT,
    UNIQUE (event_id, channel)
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_try_at) WHERE state = 'pending';
