-- Story clustering: articles about one event (syndicated copies, Google's
-- related coverage, near-identical headlines) share a story.

CREATE TABLE stories (
    id             INTEGER PRIMARY KEY,
    -- The earliest first_seen_at of its articles.
    first_seen_at  TEXT NOT NULL,
    -- Number of articles; kept by the clustering step and the delete trigger.
    size           INTEGER NOT NULL DEFAULT 0,
    -- The title of its earliest titled article.
    title          TEXT,
    updated_at     TEXT NOT NULL
);
CREATE INDEX stories_first_seen ON stories (first_seen_at, id);

ALTER TABLE articles ADD COLUMN story_id INTEGER REFERENCES stories (id) ON DELETE SET NULL;
CREATE INDEX articles_story ON articles (story_id) WHERE story_id IS NOT NULL;
-- 64-bit SimHashes (see src/cluster.rs) stored as signed integers; NULL when
-- the title or text is too short to say anything.
ALTER TABLE articles ADD COLUMN title_simhash INTEGER;
ALTER TABLE articles ADD COLUMN text_simhash INTEGER;
-- 1: never clustered; 2: full text arrived after clustering; NULL: done.
-- Existing rows start at 1 so an upgraded archive is clustered once.
ALTER TABLE articles ADD COLUMN cluster_due INTEGER DEFAULT 1;
CREATE INDEX articles_cluster_due ON articles (id) WHERE cluster_due IS NOT NULL;

-- Full text usually arrives after an article was clustered by its title: the
-- text is compared once more when it does.
CREATE TRIGGER articles_cluster_text AFTER UPDATE OF text ON articles
WHEN old.text IS NULL AND new.text IS NOT NULL AND new.cluster_due IS NULL BEGIN
    UPDATE articles SET cluster_due = 2 WHERE id = new.id;
END;

-- Merged-away (deleted) articles leave their story.
CREATE TRIGGER articles_ad_story AFTER DELETE ON articles
WHEN old.story_id IS NOT NULL BEGIN
    UPDATE stories SET size = size - 1 WHERE id = old.story_id;
END;

-- Google's related-coverage hints are matched against items' links both ways.
CREATE INDEX feed_items_link ON feed_items (link) WHERE link IS NOT NULL;
CREATE INDEX story_hints_url ON story_hints (url);
