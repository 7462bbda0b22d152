-- Google's budget per egress (issue 24): Google's limit is per source
-- address, so the breaker, the counters and the learned pace belong to an
-- egress (`google_news.egress`), one row each. Today's single row becomes the
-- `default` egress's; a new egress gets its row on first use.
CREATE TABLE google_budget_by_egress (
    egress             TEXT PRIMARY KEY,
    open_until         TEXT,
    trips              INTEGER NOT NULL DEFAULT 0,
    last_trip_at       TEXT,
    last_get_at        TEXT,
    gets_total         INTEGER NOT NULL DEFAULT 0,
    posts_total        INTEGER NOT NULL DEFAULT 0,
    pace_interval_ms   INTEGER,
    pace_tokens        REAL,
    pace_at            TEXT,
    pace_successes     INTEGER NOT NULL DEFAULT 0,
    rate_limited_total INTEGER NOT NULL DEFAULT 0
);
INSERT INTO google_budget_by_egress (egress, open_until, trips, last_trip_at, last_get_at,
    gets_total, posts_total, pace_interval_ms, pace_tokens, pace_at, pace_successes,
    rate_limited_total)
SELECT 'default', open_until, trips, last_trip_at, last_get_at, gets_total, posts_total,
    pace_interval_ms, pace_tokens, pace_at, pace_successes, rate_limited_total
FROM google_budget;
DROP TABLE google_budget;
ALTER TABLE google_budget_by_egress RENAME TO google_budget;
