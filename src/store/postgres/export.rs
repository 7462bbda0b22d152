//! Export pages on PostgreSQL.

use chrono::{DateTime, Utc};

use super::PostgresStore;
use crate::store::error::Result;
use crate::store::export::{ExportArticle, ExportColumns};
use crate::store::time::ts;

#[derive(sqlx::FromRow)]
struct ArticleExportRow {
    #[sqlx(flatten)]
    columns: ExportColumns,
    feeds: Vec<String>,
    links: Vec<String>,
    tags: Vec<String>,
}

impl PostgresStore {
    pub async fn export_page(
        &self,
        since: Option<DateTime<Utc>>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<ExportArticle>> {
        // Feeds and links sort bytewise ("C"), as SQLite sorts them.
        let rows: Vec<ArticleExportRow> = sqlx::query_as(
            "SELECT a.id, a.url, a.title, a.publisher, a.published_at, a.summary, a.text, a.page_kind, a.authors, \
               ARRAY(SELECT DISTINCT f.url COLLATE \"C\" FROM feed_items fi \
                 JOIN feeds f ON f.id = fi.feed_id WHERE fi.article_id = a.id ORDER BY 1) AS feeds, \
               ARRAY(SELECT DISTINCT fi.link COLLATE \"C\" FROM feed_items fi \
                 WHERE fi.article_id = a.id AND fi.link IS NOT NULL AND fi.link <> '' ORDER BY 1) AS links, \
               ARRAY(SELECT t.tag COLLATE \"C\" FROM article_tags t WHERE t.article_id = a.id \
                 ORDER BY 1) AS tags, \
               a.first_seen_at \
             FROM articles a WHERE a.id > $1 AND ($2::text IS NULL OR a.first_seen_at >= $2) \
             ORDER BY a.id LIMIT $3",
        )
        .bind(after_id)
        .bind(since.map(ts))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| r.columns.into_article(r.feeds, r.links, r.tags))
            .collect())
    }
}
