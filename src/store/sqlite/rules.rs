//! `[[rules]]` writes as SQLite statements (see `store::rules`).

use chrono::{DateTime, Utc};

use super::SqliteStore;
use crate::store::alerts::json_text;
use crate::store::error::Result;
use crate::store::rules::{
    ruled_articles, Removal, RuledArticle, RuledColumns, Rulings, RULED_COLUMNS,
};
use crate::store::time::ts;

impl SqliteStore {
    pub async fn record_rulings(
        &self,
        feed_id: i64,
        rulings: &Rulings,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for key in &rulings.blocked {
            sqlx::query(
                "INSERT OR IGNORE INTO tombstones (kind, feed_id, key, pruned_at) \
                 VALUES ('entry', ?, ?, ?)",
            )
            .bind(feed_id)
            .bind(key)
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
        }
        for (key, tag) in &rulings.tagged {
            sqlx::query(
                "INSERT OR IGNORE INTO article_tags (article_id, tag) \
                 SELECT article_id, ? FROM feed_items WHERE feed_id = ? AND entry_key = ?",
            )
            .bind(tag)
            .bind(feed_id)
            .bind(key)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn ruled_articles(
        &self,
        since: Option<DateTime<Utc>>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<RuledArticle>> {
        let rows: Vec<RuledColumns> = sqlx::query_as(&format!(
            "SELECT {RULED_COLUMNS} FROM articles a \
             WHERE a.id > ? AND (?2 IS NULL OR a.first_seen_at >= ?2) ORDER BY a.id LIMIT ?3"
        ))
        .bind(after_id)
        .bind(since.map(ts))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let ids = json_text(&rows.iter().map(|r| r.id).collect::<Vec<_>>());
        let feeds: Vec<(i64, i64, String)> = sqlx::query_as(
            "SELECT fi.article_id, f.id, f.url FROM feed_items fi JOIN feeds f ON f.id = fi.feed_id \
             WHERE fi.article_id IN (SELECT value FROM json_each(?)) ORDER BY f.id",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        let tags: Vec<(i64, String)> = sqlx::query_as(
            "SELECT article_id, tag FROM article_tags \
             WHERE article_id IN (SELECT value FROM json_each(?)) ORDER BY tag",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        Ok(ruled_articles(rows, &feeds, &tags))
    }

    pub async fn add_tags(&self, article_id: i64, tags: &[String]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for tag in tags {
            sqlx::query("INSERT OR IGNORE INTO article_tags (article_id, tag) SELECT id, ? FROM articles WHERE id = ?")
                .bind(tag)
                .bind(article_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn remove_article_links(
        &self,
        article_id: i64,
        feed_ids: &[i64],
        now: DateTime<Utc>,
    ) -> Result<Removal> {
        let mut tx = self.begin_write().await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM articles WHERE id = ?")
            .bind(article_id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Ok(Removal::Missing);
        }
        let feeds = json_text(&feed_ids);
        let now_s = ts(now);
        sqlx::query(
            "INSERT OR IGNORE INTO tombstones (kind, feed_id, key, pruned_at) \
             SELECT 'entry', feed_id, entry_key, ?3 FROM feed_items \
             WHERE article_id = ?1 AND feed_id IN (SELECT value FROM json_each(?2))",
        )
        .bind(article_id)
        .bind(&feeds)
        .bind(&now_s)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM feed_items WHERE article_id = ? \
             AND feed_id IN (SELECT value FROM json_each(?))",
        )
        .bind(article_id)
        .bind(&feeds)
        .execute(&mut *tx)
        .await?;
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM feed_items WHERE article_id = ?")
            .bind(article_id)
            .fetch_one(&mut *tx)
            .await?;
        if left > 0 {
            tx.commit().await?;
            return Ok(Removal::Unlinked);
        }
        for sql in [
            "INSERT OR IGNORE INTO tombstones (kind, feed_id, key, pruned_at) \
             SELECT 'url', 0, url_key, ?2 FROM articles WHERE id = ?1",
            "INSERT OR IGNORE INTO tombstones (kind, feed_id, key, pruned_at) \
             SELECT 'google', 0, google_id, ?2 FROM google_links WHERE article_id = ?1",
        ] {
            sqlx::query(sql)
                .bind(article_id)
                .bind(&now_s)
                .execute(&mut *tx)
                .await?;
        }
        // Its alerts not yet sent are cancelled: a blocked article notifies
        // nobody.
        for sql in [
            "UPDATE alert_matches SET state = 'dropped' \
             WHERE article_id = ? AND state IN ('held', 'queued')",
            "DELETE FROM articles WHERE id = ?",
        ] {
            sqlx::query(sql).bind(article_id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(Removal::Deleted)
    }
}
