-- Ingest speed for Google News items, continued (0012, 0013). The indexes
-- on `google_links.id_hash` and `articles.provisional_hash` hold random
-- 64-bit hashes: each new item landed on a scattered leaf page of both, and
-- every commit wrote each page it touched whole, so at half a million links
-- a commit of 1,600 items rewrote most of both indexes (about half of the
-- writer's work and of the bytes it wrote).
--
-- The hashes now live in two small tables of their own, each in two tiers
-- (`fresh` 1 and 0) of one B-tree: a new key goes into the fresh tier, a
-- few hundred pages that stay in cache however large the archive; when the
-- fresh tier passes a limit, newsd moves it into the settled tier in hash
-- order, touching each settled page once for tens of thousands of keys
-- (`merge_fresh_keys`). A lookup reads both tiers (`fresh IN (0, 1)`).
-- Triggers keep the keys in step with the rows, whoever writes them.
-- The key tables map a hash to an article (`article_id`, a stable
-- INTEGER PRIMARY KEY); the Google id or provisional key is still compared
-- on the row, so two keys sharing a hash are told apart.
CREATE TABLE google_link_keys (
    fresh       INTEGER NOT NULL,
    id_hash     INTEGER NOT NULL,
    article_id  INTEGER NOT NULL,
    PRIMARY KEY (fresh, id_hash, article_id)
) WITHOUT ROWID;

CREATE TABLE provisional_keys (
    fresh             INTEGER NOT NULL,
    provisional_hash  INTEGER NOT NULL,
    article_id        INTEGER NOT NULL,
    PRIMARY KEY (fresh, provisional_hash, article_id)
) WITHOUT ROWID;

INSERT OR IGNORE INTO google_link_keys (fresh, id_hash, article_id)
SELECT 0, id_hash, article_id FROM google_links WHERE id_hash IS NOT NULL
ORDER BY id_hash, article_id;

INSERT OR IGNORE INTO provisional_keys (fresh, provisional_hash, article_id)
SELECT 0, provisional_hash, id FROM articles
WHERE provisional_key IS NOT NULL AND provisional_hash IS NOT NULL
ORDER BY provisional_hash, id;

DROP INDEX google_links_hash;
DROP INDEX articles_provisional_hash;

-- Rows from before 0012/0013 still waiting for their hash (newsd fills them
-- in at start, `fill_key_hashes`): empty once done, and new rows never
-- enter them.
CREATE INDEX google_links_unhashed ON google_links (google_id) WHERE id_hash IS NULL;
CREATE INDEX articles_unhashed ON articles (provisional_key)
    WHERE provisional_hash IS NULL AND provisional_key IS NOT NULL;

-- Another link of the same article may share the hash (two ids colliding);
-- its key stays.
CREATE TRIGGER google_links_keys_ai AFTER INSERT ON google_links
WHEN new.id_hash IS NOT NULL BEGIN
    INSERT OR IGNORE INTO google_link_keys (fresh, id_hash, article_id)
    VALUES (1, new.id_hash, new.article_id);
END;

CREATE TRIGGER google_links_keys_ad AFTER DELETE ON google_links
WHEN old.id_hash IS NOT NULL BEGIN
    DELETE FROM google_link_keys
    WHERE fresh IN (0, 1) AND id_hash = old.id_hash AND article_id = old.article_id
      AND NOT EXISTS (SELECT 1 FROM google_links
                      WHERE article_id = old.article_id AND id_hash = old.id_hash);
END;

CREATE TRIGGER google_links_keys_au AFTER UPDATE OF id_hash, article_id ON google_links BEGIN
    DELETE FROM google_link_keys
    WHERE fresh IN (0, 1) AND id_hash = old.id_hash AND article_id = old.article_id
      AND NOT EXISTS (SELECT 1 FROM google_links
                      WHERE article_id = old.article_id AND id_hash = old.id_hash);
    INSERT OR IGNORE INTO google_link_keys (fresh, id_hash, article_id)
    SELECT 1, new.id_hash, new.article_id WHERE new.id_hash IS NOT NULL;
END;

CREATE TRIGGER articles_provisional_keys_ai AFTER INSERT ON articles
WHEN new.provisional_key IS NOT NULL AND new.provisional_hash IS NOT NULL BEGIN
    INSERT OR IGNORE INTO provisional_keys (fresh, provisional_hash, article_id)
    VALUES (1, new.provisional_hash, new.id);
END;

CREATE TRIGGER articles_provisional_keys_ad AFTER DELETE ON articles
WHEN old.provisional_hash IS NOT NULL BEGIN
    DELETE FROM provisional_keys
    WHERE fresh IN (0, 1) AND provisional_hash = old.provisional_hash AND article_id = old.id;
END;

CREATE TRIGGER articles_provisional_keys_au AFTER UPDATE OF provisional_key, provisional_hash ON articles BEGIN
    DELETE FROM provisional_keys
    WHERE fresh IN (0, 1) AND provisional_hash = old.provisional_hash AND article_id = old.id;
    INSERT OR IGNORE INTO provisional_keys (fresh, provisional_hash, article_id)
    SELECT 1, new.provisional_hash, new.id
    WHERE new.provisional_key IS NOT NULL AND new.provisional_hash IS NOT NULL;
END;
