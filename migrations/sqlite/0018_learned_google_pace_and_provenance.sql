-- Google's budget as a learned pace (a token bucket) and each link's cost.
--
-- The pace replaces the fixed `google_news.get_interval` gap: tokens refill
-- at one per `pace_interval_ms` up to `google_news.get_burst`, the interval
-- doubling after each lockout and shrinking after runs of successes
-- (`google_news::pace`). NULL until the first GET: the bucket starts full
-- at the configured fastest pace.
ALTER TABLE google_budget ADD COLUMN pace_interval_ms INTEGER;
-- Tokens at `pace_at` (below zero after a consent retry spent one on credit).
ALTER TABLE google_budget ADD COLUMN pace_tokens REAL;
ALTER TABLE google_budget ADD COLUMN pace_at TEXT;
-- Answered GETs since the last lockout or speed-up.
ALTER TABLE google_budget ADD COLUMN pace_successes INTEGER NOT NULL DEFAULT 0;
-- HTTP 429 answers (a lockout is a breaker trip: `trips`, `last_trip_at`).
ALTER TABLE google_budget ADD COLUMN rate_limited_total INTEGER NOT NULL DEFAULT 0;

-- Article-page GETs spent on this link, consent retries included: with its
-- status, how it was placed (decoded, joined and failed-at-once links cost none).
ALTER TABLE google_links ADD COLUMN gets INTEGER NOT NULL DEFAULT 0;
