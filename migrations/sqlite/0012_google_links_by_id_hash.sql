-- Ingest speed for Google News items, continued (0011). `google_links` was
-- keyed by the Google id itself: ~300 random bytes, so its primary-key index
-- was as large as the table and every new item landed on a scattered leaf
-- page of it, which the commit wrote whole. Links are now found by
-- `id_hash`, a 64-bit hash of the id (the first eight bytes of its SHA-256,
-- little-endian), through a small index; the id is compared on the row, so
-- two ids sharing a hash are still told apart. The writer (one connection)
-- looks an id up before it inserts it, which keeps ids unique.
--
-- SQLite has no SHA-256, so rows from before this migration get their hash
-- from newsd when it opens the database (`Store::open`), before anything
-- reads them by id.
CREATE TABLE google_links_by_hash (
    google_id      TEXT NOT NULL,
    -- NULL only until newsd fills it in at start (rows from before 0012).
    id_hash        INTEGER,
    article_id     INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    hl             TEXT NOT NULL,
    gl             TEXT NOT NULL,
    ceid           TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'resolved', 'decoded', 'joined', 'failed')),
    publisher_url  TEXT,
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT,
    next_try_at    TEXT NOT NULL,
    signature      TEXT,
    sig_timestamp  INTEGER,
    first_seen_at  TEXT NOT NULL,
    resolved_at    TEXT
);

INSERT INTO google_links_by_hash (google_id, article_id, hl, gl, ceid, status, publisher_url,
    attempts, last_error, next_try_at, signature, sig_timestamp, first_seen_at, resolved_at)
SELECT google_id, article_id, hl, gl, ceid, status, publisher_url,
    attempts, last_error, next_try_at, signature, sig_timestamp, first_seen_at, resolved_at
FROM google_links ORDER BY first_seen_at, google_id;

DROP TABLE google_links;
ALTER TABLE google_links_by_hash RENAME TO google_links;

CREATE INDEX google_links_hash ON google_links (id_hash);
CREATE INDEX google_links_due ON google_links (next_try_at) WHERE status = 'pending';
CREATE INDEX google_links_article ON google_links (article_id);

-- Related coverage meets links by the same hash (NULL for a hint without a
-- Google id; the index also finds the rows newsd has still to fill).
ALTER TABLE story_hints ADD COLUMN google_hash INTEGER;
DROP INDEX IF EXISTS story_hints_google;
CREATE INDEX story_hints_google_hash ON story_hints (google_hash);
