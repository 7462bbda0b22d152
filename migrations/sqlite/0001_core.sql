-- newsd core schema. Timestamps are UTC RFC 3339 text ("2026-11-28T01:50:20Z"),
-- which sorts correctly and reads well in sqlite3.

CREATE TABLE feeds (
    id                    INTEGER PRIMARY KEY,
    -- The URL the feed is subscribed under: its key, never rewritten.
    url                   TEXT NOT NULL UNIQUE,
    -- The URL actually fetched; follows permanent redirects seen on three polls in a row.
    fetch_url             TEXT NOT NULL,
    name                  TEXT,
    -- Where the subscription came from: 'config' feeds are managed by the config file.
    origin                TEXT NOT NULL CHECK (origin IN ('config', 'cli', 'opml', 'api')),
    -- For config feeds, a signature of the config entry: a disabled feed
    -- comes back when its entry changes.
    config_sig            TEXT,
    enabled               INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    -- Why a feed is disabled: 'gone' (HTTP 410), 'removed_from_config', 'user'.
    disabled_reason       TEXT,
    -- A configured fixed interval; NULL means adaptive.
    interval_secs         INTEGER CHECK (interval_secs IS NULL OR interval_secs > 0),
    -- ok | not_modified | error | gone | blocked | deferred (NULL until the first poll)
    last_status           TEXT,
    last_error            TEXT,
    error_count           INTEGER NOT NULL DEFAULT 0,
    etag                  TEXT,
    last_modified         TEXT,
    next_poll_at          TEXT NOT NULL,
    next_poll_reason      TEXT,
    retry_after_until     TEXT,
    last_polled_at        TEXT,
    last_success_at       TEXT,
    -- Permanent-redirect tracking: the target and how many polls in a row saw it.
    redirect_target       TEXT,
    redirect_streak       INTEGER NOT NULL DEFAULT 0,
    ttl_secs              INTEGER,
    -- Adaptive scheduling state: current interval and smoothed new entries per poll.
    current_interval_secs INTEGER,
    new_per_poll          REAL,
    title                 TEXT,
    site_url              TEXT,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL
);

CREATE INDEX feeds_due ON feeds (next_poll_at) WHERE enabled = 1;

CREATE TABLE articles (
    id             INTEGER PRIMARY KEY,
    -- The URL to fetch: the publisher's, with tracking parameters removed
    -- (NULL for an entry that carried no link).
    url            TEXT,
    -- Identity for dedupe: the normalized URL (see docs/schema.md).
    url_key        TEXT NOT NULL UNIQUE,
    title          TEXT,
    -- The feed's summary as plain text.
    summary        TEXT,
    -- The extracted article body; NULL until full text exists.
    text           TEXT,
    publisher      TEXT,
    publisher_url  TEXT,
    -- JSON array of author names.
    authors        TEXT NOT NULL DEFAULT '[]',
    published_at   TEXT,
    first_seen_at  TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

CREATE INDEX articles_first_seen ON articles (first_seen_at);
CREATE INDEX articles_published ON articles (published_at);

CREATE TABLE feed_items (
    id             INTEGER PRIMARY KEY,
    feed_id        INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    -- The entry's identity within its feed: id:<guid>, link:<url> or hash:<title+date>.
    entry_key      TEXT NOT NULL,
    article_id     INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    guid           TEXT,
    -- The entry's <link> exactly as the feed gave it.
    link           TEXT,
    first_seen_at  TEXT NOT NULL,
    last_seen_at   TEXT NOT NULL,
    UNIQUE (feed_id, entry_key)
);

CREATE INDEX feed_items_article ON feed_items (article_id);
CREATE INDEX feed_items_feed_seen ON feed_items (feed_id, first_seen_at);

-- Word index (bm25 ranking) for languages that separate words with spaces.
CREATE VIRTUAL TABLE articles_fts USING fts5 (
    title, summary, text,
    content = 'articles', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

-- Substring index so that Chinese and Japanese words (no spaces) are found too.
CREATE VIRTUAL TABLE articles_trigram USING fts5 (
    title, summary, text,
    content = 'articles', content_rowid = 'id',
    tokenize = 'trigram'
);

CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts (rowid, title, summary, text) VALUES (new.id, new.title, new.summary, new.text);
    INSERT INTO articles_trigram (rowid, title, summary, text) VALUES (new.id, new.title, new.summary, new.text);
END;

CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, summary, text) VALUES ('delete', old.id, old.title, old.summary, old.text);
    INSERT INTO articles_trigram (articles_trigram, rowid, title, summary, text) VALUES ('delete', old.id, old.title, old.summary, old.text);
END;

CREATE TRIGGER articles_au AFTER UPDATE OF title, summary, text ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, summary, text) VALUES ('delete', old.id, old.title, old.summary, old.text);
    INSERT INTO articles_trigram (articles_trigram, rowid, title, summary, text) VALUES ('delete', old.id, old.title, old.summary, old.text);
    INSERT INTO articles_fts (rowid, title, summary, text) VALUES (new.id, new.title, new.summary, new.text);
    INSERT INTO articles_trigram (rowid, title, summary, text) VALUES (new.id, new.title, new.summary, new.text);
END;
