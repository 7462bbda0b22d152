-- Ingest speed. The full-text indexes are filled in batches after a poll's
-- transaction instead of row by row inside it (per-row FTS5 upkeep was most
-- of the cost of storing an entry), and the full-text job is queued by a
-- trigger instead of a statement per article.

-- Articles inserted but not yet in the full-text indexes.
CREATE TABLE fts_pending (
    article_id INTEGER PRIMARY KEY
);

DROP TRIGGER articles_ai;
DROP TRIGGER articles_ad;
DROP TRIGGER articles_au;

CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
    INSERT OR IGNORE INTO fts_pending (article_id) VALUES (new.id);
END;

-- A row still pending was never indexed: deleting it from the index would
-- corrupt the index, so only indexed rows are removed from it.
CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, summary, text)
        SELECT 'delete', old.id, old.title, old.summary, old.text
        WHERE NOT EXISTS (SELECT 1 FROM fts_pending WHERE article_id = old.id);
    INSERT INTO articles_trigram (articles_trigram, rowid, title, summary, text)
        SELECT 'delete', old.id, old.title, old.summary, old.text
        WHERE NOT EXISTS (SELECT 1 FROM fts_pending WHERE article_id = old.id);
    DELETE FROM fts_pending WHERE article_id = old.id;
END;

-- A pending row is indexed later with its current values; an indexed one is
-- re-indexed now.
CREATE TRIGGER articles_au AFTER UPDATE OF title, summary, text ON articles
WHEN NOT EXISTS (SELECT 1 FROM fts_pending WHERE article_id = new.id) BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, summary, text) VALUES ('delete', old.id, old.title, old.summary, old.text);
    INSERT INTO articles_trigram (articles_trigram, rowid, title, summary, text) VALUES ('delete', old.id, old.title, old.summary, old.text);
    INSERT INTO articles_fts (rowid, title, summary, text) VALUES (new.id, new.title, new.summary, new.text);
    INSERT INTO articles_trigram (rowid, title, summary, text) VALUES (new.id, new.title, new.summary, new.text);
END;

CREATE TRIGGER articles_ai_fulltext AFTER INSERT ON articles
WHEN new.url IS NOT NULL AND new.text IS NULL AND COALESCE(new.resolution, '') != 'unresolved' BEGIN
    INSERT OR IGNORE INTO fulltext_jobs (article_id, status, next_try_at, created_at, updated_at)
    VALUES (new.id, 'pending', new.first_seen_at, new.first_seen_at, new.first_seen_at);
END;
