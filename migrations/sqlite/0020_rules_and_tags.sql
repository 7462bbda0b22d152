-- Rules at ingest (issue 21): the tags `tag` rules give articles. A blocked
-- entry needs no table of its own: it leaves a tombstone (kind 'entry', its
-- feed), as retention does, so the feed does not bring it back.

CREATE TABLE article_tags (
    article_id  INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    tag         TEXT NOT NULL,
    PRIMARY KEY (article_id, tag)
) WITHOUT ROWID;

-- `tag=` listings: the articles of one tag.
CREATE INDEX article_tags_by_tag ON article_tags (tag, article_id);
