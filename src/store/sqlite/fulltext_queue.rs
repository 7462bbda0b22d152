//! The full-text queue as SQL: leases, outcomes, the extracted content
//! (whose canonical URL applies the identity model's merge), and the
//! politeness state the full-text worker keeps (robots.txt, host backoffs).

use chrono::{DateTime, Utc};

use crate::extract::PageKind;

use super::identity::assign_identity;
use super::sql::from_row;
use super::SqliteStore;
use crate::store::error::Result;
use crate::store::fulltext_queue::{
    gunzip, gzip, ArticleContent, FulltextJob, FulltextStats, FulltextStatus, TextState,
    REFUSE_FULLTEXT, TEXT_STATE,
};
use crate::store::time::{parse_ts, ts};

from_row!(FulltextJob {
    article_id,
    url,
    summary,
    attempts
});

impl SqliteStore {
    pub async fn lease_fulltext_jobs(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<FulltextJob>> {
        let mut tx = self.begin_write().await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE fulltext_jobs SET lease_until = ?2, attempts = attempts + 1, updated_at = ?1 \
             WHERE article_id IN (SELECT article_id FROM fulltext_jobs WHERE status = 'pending' \
               AND next_try_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?1) \
               ORDER BY next_try_at, article_id LIMIT ?3) RETURNING article_id",
        )
        .bind(ts(now))
        .bind(ts(lease_until))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut jobs = Vec::with_capacity(ids.len());
        for id in ids {
            let job: Option<FulltextJob> = sqlx::query_as(
                "SELECT a.id AS article_id, a.url, a.summary, j.attempts FROM articles a \
                 JOIN fulltext_jobs j ON j.article_id = a.id WHERE a.id = ? AND a.url IS NOT NULL",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            jobs.extend(job);
        }
        tx.commit().await?;
        Ok(jobs)
    }

    pub async fn finish_fulltext_job(
        &self,
        article_id: i64,
        status: FulltextStatus,
        error: Option<&str>,
        http_status: Option<u16>,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (status, next) = match retry_at {
            Some(at) => (FulltextStatus::Pending, ts(at)),
            None => (status, ts(now)),
        };
        sqlx::query(
            "UPDATE fulltext_jobs SET status = ?2, last_error = ?3, http_status = COALESCE(?4, http_status), \
             next_try_at = ?5, lease_until = NULL, updated_at = ?6 WHERE article_id = ?1",
        )
        .bind(article_id)
        .bind(status.as_str())
        .bind(error)
        .bind(http_status.map(i64::from))
        .bind(next)
        .bind(ts(now))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn defer_fulltext_job(&self, article_id: i64, until: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE fulltext_jobs SET attempts = MAX(attempts - 1, 0), next_try_at = ?2, lease_until = NULL \
             WHERE article_id = ?1",
        )
        .bind(article_id)
        .bind(ts(until))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn store_fulltext(
        &self,
        article_id: i64,
        content: &ArticleContent,
        final_url: &str,
        identity: Option<(String, String)>,
        raw: Option<(&str, Option<&str>, Vec<u8>)>,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        let now_s = ts(now);
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE articles SET text = ?2, html = ?3, title = COALESCE(title, ?4), \
             authors = CASE WHEN authors = '[]' THEN ?5 ELSE authors END, \
             published_at = COALESCE(published_at, ?6), modified_at = ?7, lang = ?8, lead_image = ?9, \
             canonical_url = ?10, site_name = ?11, word_count = ?12, extracted_at = ?13, updated_at = ?13, \
             page_kind = ?14 WHERE id = ?1",
        )
        .bind(article_id)
        .bind(&content.text)
        .bind(&content.html)
        .bind(&content.title)
        .bind(serde_json::to_string(&content.authors).unwrap_or_else(|_| "[]".into()))
        .bind(content.published_at.map(ts))
        .bind(content.modified_at.map(ts))
        .bind(&content.lang)
        .bind(&content.lead_image)
        .bind(&content.canonical_url)
        .bind(&content.site_name)
        .bind(content.word_count)
        .bind(&now_s)
        .bind(content.page_kind.map(PageKind::as_str))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE fulltext_jobs SET status = 'done', last_error = NULL, http_status = 200, final_url = ?2, \
             lease_until = NULL, updated_at = ?3 WHERE article_id = ?1",
        )
        .bind(article_id)
        .bind(final_url)
        .bind(&now_s)
        .execute(&mut *tx)
        .await?;
        if let Some((url, content_type, body)) = raw {
            let gz = gzip(&body);
            sqlx::query(
                "INSERT INTO raw_pages (article_id, url, content_type, fetched_at, body_gz) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (article_id) DO UPDATE SET url = excluded.url, content_type = excluded.content_type, \
                 fetched_at = excluded.fetched_at, body_gz = excluded.body_gz",
            )
            .bind(article_id)
            .bind(url)
            .bind(content_type)
            .bind(&now_s)
            .bind(gz)
            .execute(&mut *tx)
            .await?;
        }
        let survivor = match identity {
            Some((key, url)) => {
                let current: String =
                    sqlx::query_scalar("SELECT url_key FROM articles WHERE id = ?")
                        .bind(article_id)
                        .fetch_one(&mut *tx)
                        .await?;
                if current == key {
                    article_id
                } else {
                    assign_identity(&mut tx, article_id, &key, &url).await?
                }
            }
            None => article_id,
        };
        tx.commit().await?;
        Ok(survivor)
    }

    pub async fn robots_cached(
        &self,
        host: &str,
    ) -> Result<Option<(Option<String>, DateTime<Utc>)>> {
        let row: Option<(Option<String>, String)> =
            sqlx::query_as("SELECT body, fetched_at FROM robots_cache WHERE host = ?")
                .bind(host)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.and_then(|(b, t)| parse_ts(&t).map(|t| (b, t))))
    }

    pub async fn cache_robots(
        &self,
        host: &str,
        body: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO robots_cache (host, body, fetched_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (host) DO UPDATE SET body = excluded.body, fetched_at = excluded.fetched_at",
        )
        .bind(host)
        .bind(body)
        .bind(ts(now))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn save_host_backoffs(&self, backoffs: &[(String, DateTime<Utc>)]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM host_backoff")
            .execute(&mut *tx)
            .await?;
        for (host, until) in backoffs {
            sqlx::query("INSERT INTO host_backoff (host, until) VALUES (?, ?)")
                .bind(host)
                .bind(ts(*until))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn host_backoffs(&self, now: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT host, until FROM host_backoff WHERE until > ?")
                .bind(ts(now))
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(h, u)| parse_ts(&u).map(|u| (h, u)))
            .collect())
    }

    pub async fn fulltext_stats(&self) -> Result<FulltextStats> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT status, COUNT(*) FROM fulltext_jobs GROUP BY status ORDER BY status",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(FulltextStats::from_counts(rows))
    }

    pub async fn refuse_fulltext(
        &self,
        article_id: i64,
        kind: PageKind,
        now: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(REFUSE_FULLTEXT)
            .bind(article_id)
            .bind(kind.as_str())
            .bind(ts(now))
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn text_state(&self, article_id: i64) -> Result<Option<TextState>> {
        Ok(sqlx::query_as(TEXT_STATE)
            .bind(article_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn count_raw_pages(&self, since: Option<DateTime<Utc>>) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM raw_pages WHERE ?1 IS NULL OR fetched_at >= ?1",
        )
        .bind(since.map(ts))
        .fetch_one(&self.pool)
        .await?;
        Ok(n.max(0) as u64)
    }

    pub async fn raw_pages(
        &self,
        since: Option<DateTime<Utc>>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String, Option<String>, Vec<u8>)>> {
        let rows: Vec<(i64, String, Option<String>, Vec<u8>)> = sqlx::query_as(
            "SELECT r.article_id, r.url, r.content_type, r.body_gz FROM raw_pages r \
             WHERE r.article_id > ?1 AND (?2 IS NULL OR r.fetched_at >= ?2) ORDER BY r.article_id LIMIT ?3",
        )
        .bind(after_id)
        .bind(since.map(ts))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, url, ct, gz)| (id, url, ct, gunzip(&gz)))
            .collect())
    }
}
