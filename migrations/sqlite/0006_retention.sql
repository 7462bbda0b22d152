-- Retention: what pruning removed, so that a feed still carrying an old entry
-- does not bring a pruned article back as new. One row per identity the
-- article had: each (feed, entry key) it arrived under, its url_key and its
-- Google article ids.

CREATE TABLE tombstones (
    -- entry: key is a feed_items.entry_key, feed_id its feed |
    -- url: key is an articles.url_key | google: key is a google_links.google_id
    kind       TEXT NOT NULL CHECK (kind IN ('entry', 'url', 'google')),
    -- 0 for url and google tombstones (they hold for every feed).
    feed_id    INTEGER NOT NULL DEFAULT 0,
    key        TEXT NOT NULL,
    pruned_at  TEXT NOT NULL,
    PRIMARY KEY (kind, feed_id, key)
) WITHOUT ROWID;
