-- An entry key held its guid or link as it is (`id:<guid>`), so a Google
-- News item's ~480-character id was stored in `feed_items.entry_key` and
-- again in the `(feed_id, entry_key)` unique index, besides `guid`: about a
-- quarter of each Google item's bytes. A guid or link over 64 characters is
-- now keyed by its hash, `id-sha256:<hex>` / `link-sha256:<hex>` (the first
-- 16 bytes of its SHA-256; the `guid` and `link` columns keep the values).
-- Keys written before are rewritten by newsd when it opens the database
-- (`Store::open`), before any poll looks an entry up; these indexes find
-- them, and are empty once that is done.
CREATE INDEX feed_items_long_keys ON feed_items (id)
    WHERE (substr(entry_key, 1, 3) = 'id:' AND length(entry_key) > 67)
       OR (substr(entry_key, 1, 5) = 'link:' AND length(entry_key) > 69);
CREATE INDEX tombstones_long_keys ON tombstones (feed_id, key)
    WHERE kind = 'entry'
      AND ((substr(key, 1, 3) = 'id:' AND length(key) > 67)
        OR (substr(key, 1, 5) = 'link:' AND length(key) > 69));
