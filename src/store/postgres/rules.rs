//! `[[rules]]` writes as PostgreSQL statements (as on SQLite,
//! `sqlite/rules.rs`).

use chrono::{DateTime, Utc};

use super::PostgresStore;
use crate::store::error::Result;
use crate::store::rules::{
    ruled_articles, Removal, RuledArticle, RuledColumns, Rulings, RULED_COLUMNS,
};
use crate::store::time::ts;

impl PostgresStore {
    pub async fn record_rulings(
        &self,
        feed_id: i64,
        rulings: &Rulings,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.writable("record rulings")?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO tombstones (kind, feed_id, key, pruned_at) \
             SELECT 'entry', $1, k, $3 FROM unnest($2::text[]) AS k ON CONFLICT DO NOTHING",
        )
        .bind(feed_id)
        .bind(&rulings.blocked)
        .bind(ts(now))
        .execute(&mut *tx)
        .await?;
        let (keys, tags): (Vec<&str>, Vec<&str>) = rulings
            .tagged
            .iter()
            .map(|(k, t)| (k.as_str(), t.as_str()))
            .unzip();
        sqlx::query(
            "INSERT INTO article_tags (article_id, tag) \
             SELECT fi.article_id, v.tag FROM unnest($2::text[], $3::text[]) AS v (key, tag) \
             JOIN feed_items fi ON fi.feed_id = $1 AND fi.entry_key = v.key \
             ON CONFLICT DO NOTHING",
        )
        .bind(feed_id)
        .bind(&keys)
        .bind(&tags)
        .execute(&mut *tx)
        .await?;
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
             WHERE a.id > $1 AND ($2::text IS NULL OR a.first_seen_at >= $2) \
             ORDER BY a.id LIMIT $3"
        ))
        .bind(after_id)
        .bind(since.map(ts))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let feeds: Vec<(i64, i64, String)> = sqlx::query_as(
            "SELECT fi.article_id, f.id, f.url FROM feed_items fi JOIN feeds f ON f.id = fi.feed_id \
             WHERE fi.article_id = ANY($1) ORDER BY f.id",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        let tags: Vec<(i64, String)> = sqlx::query_as(
            "SELECT article_id, tag FROM article_tags WHERE article_id = ANY($1) ORDER BY tag",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        Ok(ruled_articles(rows, &feeds, &tags))
    }

    pub async fn add_tags(&self, article_id: i64, tags: &[String]) -> Result<()> {
        self.writable("add tags")?;
        sqlx::query(
            "INSERT INTO article_tags (article_id, tag) \
             SELECT a.id, t FROM articles a, unnest($2::text[]) AS t WHERE a.id = $1 \
             ON CONFLICT DO NOTHING",
        )
        .bind(article_id)
        .bind(tags)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn remove_article_links(
        &self,
        article_id: i64,
        feed_ids: &[i64],
        now: DateTime<Utc>,
    ) -> Result<Removal> {
        self.writable("remove articles")?;
        let mut tx = self.pool.begin().await?;
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT id FROM articles WHERE id = $1 FOR UPDATE")
                .bind(article_id)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Ok(Removal::Missing);
        }
        let now_s = ts(now);
        sqlx::query(
            "INSERT INTO tombstones (kind, feed_id, key, pruned_at) \
             SELECT 'entry', feed_id, entry_key, $3 FROM feed_items \
             WHERE article_id = $1 AND feed_id = ANY($2) ON CONFLICT DO NOTHING",
        )
        .bind(article_id)
        .bind(feed_ids)
        .bind(&now_s)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM feed_items WHERE article_id = $1 AND feed_id = ANY($2)")
            .bind(article_id)
            .bind(feed_ids)
            .execute(&mut *tx)
            .await?;
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM feed_items WHERE article_id = $1")
            .bind(article_id)
            .fetch_one(&mut *tx)
            .await?;
        if left > 0 {
            tx.commit().await?;
            return Ok(Removal::Unlinked);
        }
        for sql in [
            "INSERT INTO tombstones (kind, feed_id, key, pruned_at) \
             SELECT 'url', 0, url_key, $2 FROM articles WHERE id = $1 ON CONFLICT DO NOTHING",
            "INSERT INTO tombstones (kind, feed_id, key, pruned_at) \
             SELECT 'google', 0, google_id, $2 FROM google_links WHERE article_id = $1 \
             ON CONFLICT DO NOTHING",
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
             WHERE article_id = $1 AND state IN ('held', 'queued')",
            "DELETE FROM articles WHERE id = $1",
        ] {
            sqlx::query(sql).bind(article_id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(Removal::Deleted)
    }
}
