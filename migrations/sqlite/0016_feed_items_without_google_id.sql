-- Ingest speed and size for Google News items, continued (0011-0015). A
-- Google item's feed_items row held its ~300-character id three times: in
-- `guid`, inside `link`, and in `google_id`. Without the third copy the
-- archive grows ~11 % less per Google item and the poll writer spends ~4 %
-- less (BENCHMARKS.md, session 11). The id is a path segment of the item's
-- link (`/rss/articles/{id}`), and the article's `google_links` rows hold
-- it: newsd reads it from there, and so can a query (docs/schema.md).
-- Dropping the column rewrites the table once.
ALTER TABLE feed_items DROP COLUMN google_id;
