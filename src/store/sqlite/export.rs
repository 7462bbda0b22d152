//! The export's pages of articles.

use chrono::{DateTime, Utc};

use super::sql::split_group;
use super::SqliteStore;
use crate::store::error::Result;
use crate::store::export::{ExportArticle, ExportColumns};
use crate::store::time::ts;

#[derive(sqlx::FromRow)]
struct ArticleExportRow {
    #[sqlx(flatten)]
    columns: ExportColumns,
    feeds: Option<String>,
    links: Option<String>,
    tags: Option<String>,
}

impl SqliteStore {
    pub async fn export_page(
        &self,
        since: Option<DateTime<Utc>>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<ExportArticle>> {
        let rows: Vec<ArticleExportRow> = sqlx::query_as(
            "SELECT a.id, a.url, a.title, a.publisher, a.published_at, a.summary, a.text, a.page_kind, a.authors, \
               (SELECT group_concat(url, char(31)) FROM (SELECT DISTINCT f.url FROM feed_items fi \
                 JOIN feeds f ON f.id = fi.feed_id WHERE fi.article_id = a.id ORDER BY f.url)) AS feeds, \
               (SELECT group_concat(link, char(31)) FROM (SELECT DISTINCT fi.link FROM feed_items fi \
                 WHERE fi.article_id = a.id AND fi.link IS NOT NULL ORDER BY fi.link)) AS links, \
               (SELECT group_concat(tag, char(31)) FROM (SELECT tag FROM article_tags t \
                 WHERE t.article_id = a.id ORDER BY tag)) AS tags, \
               a.first_seen_at \
             FROM articles a WHERE a.id > ?1 AND (?2 IS NULL OR a.first_seen_at >= ?2) \
             ORDER BY a.id LIMIT ?3",
        )
        .bind(after_id)
        .bind(since.map(ts))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                r.columns.into_article(
                    split_group(r.feeds),
                    split_group(r.links),
                    split_group(r.tags),
                )
            })
            .collect())
    }
}
