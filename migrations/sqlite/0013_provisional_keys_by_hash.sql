-- Ingest speed for Google News items, continued (0012). A Google item's
-- provisional key (normalized title + publisher host, ~100 bytes) was
-- indexed as it is, so each new item landed on a scattered leaf page of
-- `articles_provisional`. The index now holds `provisional_hash`, the key's
-- 64-bit hash (the first eight bytes of its SHA-256, little-endian), and the
-- key is compared on the row. Rows from before this migration get their hash
-- from newsd when it opens the database (`Store::open`), before anything
-- looks a key up; the index finds them (their hash is NULL).
ALTER TABLE articles ADD COLUMN provisional_hash INTEGER;
DROP INDEX IF EXISTS articles_provisional;
CREATE INDEX articles_provisional_hash ON articles (provisional_hash, first_seen_at)
    WHERE provisional_key IS NOT NULL;
