-- Ingest speed for Google News items. Their ids are long (~250 bytes) and
-- random, so every index on them takes each new item at a scattered leaf
-- page, which the commit writes to the WAL whole (4 KiB per item and
-- index). Two of those indexes were there for one query each:
--
-- * feed_items_google: moving a link's items to another article when a
--   provisional merge splits; that statement also names the article, and
--   feed_items_article finds the few items of one article.
-- * feed_items_link: matching Google's related coverage (story_hints.url)
--   to the feed items carrying those links. Related coverage only ever
--   lists Google article links, so hints now keep the Google id of their
--   link and meet the item's article through google_links, whose primary
--   key indexes the same ids already.
--
-- Storing 30,000 Google items one poll at a time took 35 % less time
-- without the two (BENCHMARKS.md, "Google-shaped feeds").
DROP INDEX IF EXISTS feed_items_google;
DROP INDEX IF EXISTS feed_items_link;
DROP INDEX IF EXISTS story_hints_url;

ALTER TABLE story_hints ADD COLUMN google_id TEXT;

-- The id is the path segment after `/articles/` (`/rss/articles/{id}`,
-- `/articles/{id}`, `/__i/rss/rd/articles/{id}`), up to a query string.
UPDATE story_hints SET google_id = (
    SELECT CASE WHEN instr(rest, '?') > 0 THEN substr(rest, 1, instr(rest, '?') - 1) ELSE rest END
    FROM (SELECT substr(url, instr(url, '/articles/') + 10) AS rest)
) WHERE instr(url, '/articles/') > 0;

CREATE INDEX story_hints_google ON story_hints (google_id) WHERE google_id IS NOT NULL;
