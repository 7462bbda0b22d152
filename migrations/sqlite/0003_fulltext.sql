-- Full text: extracted article content and metadata, the durable fetch queue,
-- per-host backoff and robots.txt cache (so a restart neither loses work nor
-- hammers a host that asked us to wait).

ALTER TABLE articles ADD COLUMN html TEXT;            -- sanitized article HTML
ALTER TABLE articles ADD COLUMN modified_at TEXT;
ALTER TABLE articles ADD COLUMN lang TEXT;
ALTER TABLE articles ADD COLUMN lead_image TEXT;
ALTER TABLE articles ADD COLUMN canonical_url TEXT;
ALTER TABLE articles ADD COLUMN site_name TEXT;
ALTER TABLE articles ADD COLUMN word_count INTEGER;
ALTER TABLE articles ADD COLUMN extracted_at TEXT;

CREATE TABLE fulltext_jobs (
    article_id   INTEGER PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
    -- pending | done | disallowed (robots.txt) | not_html | not_found | blocked |
    -- too_large | consent_wall | bot_check | login_wall | empty_shell | not_article |
    -- teaser (full text no better than the feed summary) | failed
    status       TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_try_at  TEXT NOT NULL,
    -- Work taken by a worker; a lease that runs out (the process died) is taken again.
    lease_until  TEXT,
    last_error   TEXT,
    http_status  INTEGER,
    final_url    TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX fulltext_jobs_due ON fulltext_jobs (next_try_at) WHERE status = 'pending';

CREATE TABLE host_backoff (
    host   TEXT PRIMARY KEY,
    until  TEXT NOT NULL
);

CREATE TABLE robots_cache (
    host        TEXT PRIMARY KEY,
    -- NULL when the site has no usable robots.txt (everything allowed).
    body        TEXT,
    fetched_at  TEXT NOT NULL
);

-- Optional (extract.keep_raw_html): the fetched page, gzip-compressed, for re-extraction.
CREATE TABLE raw_pages (
    article_id    INTEGER PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
    url           TEXT NOT NULL,
    content_type  TEXT,
    fetched_at    TEXT NOT NULL,
    body_gz       BLOB NOT NULL
);

-- Queue every article that already has a publisher URL.
INSERT INTO fulltext_jobs (article_id, status, next_try_at, created_at, updated_at)
SELECT id, 'pending', first_seen_at, first_seen_at, first_seen_at FROM articles
WHERE url IS NOT NULL AND text IS NULL AND COALESCE(resolution, '') != 'unresolved';
