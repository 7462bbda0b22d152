-- Rules at ingest, as SQLite's migration 0020 (which explains the table).

CREATE TABLE article_tags (
    article_id  BIGINT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    tag         TEXT NOT NULL,
    PRIMARY KEY (article_id, tag)
);

CREATE INDEX article_tags_by_tag ON article_tags (tag, article_id);
