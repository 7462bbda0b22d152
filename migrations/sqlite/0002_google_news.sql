-- Google News: link resolution state, provisional identity, story hints and
-- the request budget, all durable so a restart resumes where it stopped.

-- NULL for ordinary articles; 'unresolved' while the article is known only by
-- a Google link; 'resolved' once its publisher URL is known.
ALTER TABLE articles ADD COLUMN resolution TEXT;
-- Normalized title + publisher host: the identity of a Google item before its
-- link resolves (only matched within a 36-hour window).
ALTER TABLE articles ADD COLUMN provisional_key TEXT;
CREATE INDEX articles_provisional ON articles (provisional_key, first_seen_at)
    WHERE provisional_key IS NOT NULL;

-- The Google article id an item arrived under, when it did.
ALTER TABLE feed_items ADD COLUMN google_id TEXT;
CREATE INDEX feed_items_google ON feed_items (google_id) WHERE google_id IS NOT NULL;

CREATE TABLE google_links (
    google_id      TEXT PRIMARY KEY,
    article_id     INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    -- Edition the item came from; the article-page GET uses it.
    hl             TEXT NOT NULL,
    gl             TEXT NOT NULL,
    ceid           TEXT NOT NULL,
    -- pending: needs a lookup | resolved | decoded: the id carried the URL |
    -- joined: matched a resolved story, no lookup of its own | failed: gave up
    status         TEXT NOT NULL CHECK (status IN ('pending', 'resolved', 'decoded', 'joined', 'failed')),
    publisher_url  TEXT,
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT,
    next_try_at    TEXT NOT NULL,
    -- The article page's data-n-a-sg / data-n-a-ts, kept so a restart POSTs
    -- them instead of spending another GET.
    signature      TEXT,
    sig_timestamp  INTEGER,
    first_seen_at  TEXT NOT NULL,
    resolved_at    TEXT
);
CREATE INDEX google_links_due ON google_links (next_try_at) WHERE status = 'pending';
CREATE INDEX google_links_article ON google_links (article_id);

-- Google's related-coverage list for an item: other outlets' articles on the
-- same story. Hints for story clustering; never resolved or fetched.
CREATE TABLE story_hints (
    article_id  INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    url         TEXT NOT NULL,
    title       TEXT,
    source      TEXT,
    PRIMARY KEY (article_id, url)
);

-- Google's budget, one row: a circuit breaker that opens on HTTP 429 and the
-- time of the last article-page GET.
CREATE TABLE google_budget (
    id                INTEGER PRIMARY KEY CHECK (id = 1),
    open_until        TEXT,
    trips             INTEGER NOT NULL DEFAULT 0,
    last_trip_at      TEXT,
    last_get_at       TEXT,
    gets_total        INTEGER NOT NULL DEFAULT 0,
    posts_total       INTEGER NOT NULL DEFAULT 0
);
INSERT INTO google_budget (id) VALUES (1);
