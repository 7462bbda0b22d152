-- Ingest speed. The trigram index now holds only the articles that need it:
-- those with text in a script written without spaces between words (Chinese,
-- Japanese, Korean, Thai). Search sends a query to it only when the query
-- contains such characters, and an article matching that query contains them
-- too, so results are unchanged; trigram upkeep for Latin-script articles was
-- most of the cost of indexing them.
--
-- The articles in the trigram index are listed in `trigram_rows`; the index
-- reads its content through a view over that list, so FTS5's own
-- 'integrity-check' and 'rebuild' see exactly the indexed articles.
-- `Store::index_pending` decides which articles belong there (the same
-- character test as search); an updated article is taken out of both
-- indexes and queued again, so the decision is made anew.

CREATE TABLE trigram_rows (
    article_id INTEGER PRIMARY KEY
);

-- The articles already indexed that contain such characters stay in the
-- index (the character classes below are search's `is_unspaced_script`).
INSERT INTO trigram_rows (article_id)
SELECT id FROM articles
WHERE id NOT IN (SELECT article_id FROM fts_pending)
  AND (COALESCE(title, '') || ' ' || COALESCE(summary, '') || ' ' || COALESCE(text, ''))
      GLOB '*[぀-ヿ㐀-䶿一-鿿豈-﫿가-힯฀-๿𠀀-𯨟]*';

CREATE VIEW articles_trigram_content AS
SELECT a.id, a.title, a.summary, a.text
FROM trigram_rows t JOIN articles a ON a.id = t.article_id;

DROP TABLE articles_trigram;
CREATE VIRTUAL TABLE articles_trigram USING fts5 (
    title, summary, text,
    content = 'articles_trigram_content', content_rowid = 'id',
    tokenize = 'trigram'
);
INSERT INTO articles_trigram (articles_trigram) VALUES ('rebuild');

DROP TRIGGER articles_ad;
DROP TRIGGER articles_au;

-- A row still pending is in neither index: removing it from one would corrupt it.
CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, summary, text)
        SELECT 'delete', old.id, old.title, old.summary, old.text
        WHERE NOT EXISTS (SELECT 1 FROM fts_pending WHERE article_id = old.id);
    INSERT INTO articles_trigram (articles_trigram, rowid, title, summary, text)
        SELECT 'delete', old.id, old.title, old.summary, old.text
        WHERE EXISTS (SELECT 1 FROM trigram_rows WHERE article_id = old.id);
    DELETE FROM trigram_rows WHERE article_id = old.id;
    DELETE FROM fts_pending WHERE article_id = old.id;
END;

-- An indexed row leaves both indexes and is queued again; a pending row is
-- indexed later with its current values anyway.
CREATE TRIGGER articles_au AFTER UPDATE OF title, summary, text ON articles
WHEN NOT EXISTS (SELECT 1 FROM fts_pending WHERE article_id = new.id) BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, summary, text)
        VALUES ('delete', old.id, old.title, old.summary, old.text);
    INSERT INTO articles_trigram (articles_trigram, rowid, title, summary, text)
        SELECT 'delete', old.id, old.title, old.summary, old.text
        WHERE EXISTS (SELECT 1 FROM trigram_rows WHERE article_id = old.id);
    DELETE FROM trigram_rows WHERE article_id = old.id;
    INSERT INTO fts_pending (article_id) VALUES (new.id);
END;
