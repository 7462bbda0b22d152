//! The full-text queue on PostgreSQL: leases, outcomes, extracted content (whose canonical URL joins the identity model), robots.txt cache and host backoffs.

use chrono::{DateTime, Utc};

use crate::extract::PageKind;

use super::identity::assign_identity;
use super::PostgresStore;
use crate::store::error::Result;
use crate::store::fulltext_queue::{
    gunzip, gzip, ArticleContent, FulltextJob, FulltextStats, FulltextStatus, TextState,
    REFUSE_FULLTEXT, TEXT_STATE,
};
use crate::store::time::{parse_ts, ts};

impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for FulltextJob {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row as _;
        Ok(FulltextJob {
            article_id: row.try_get("article_id")?,
            url: row.try_get("url")?,
            summary: row.try_get("summary")?,
            attempts: row.try_get("attempts")?,
        })
    }
}

impl PostgresStore {
    pub async fn lease_fulltext_jobs(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<FulltextJob>> {
        self.writable("lease full-text jobs")?;
        let mut tx = self.pool.begin().await?;
        // Workers leasing at once each skip the rows another is taking, so
        // no job goes to two of them.
        let ids: Vec<i64> = sqlx::query_scalar(
            "WITH due AS (SELECT article_id FROM fulltext_jobs WHERE status = 'pending' \
               AND next_try_at <= $1 AND (lease_until IS NULL OR lease_until <= $1) \
               ORDER BY next_try_at, article_id LIMIT $3 FOR UPDATE SKIP LOCKED) \
             UPDATE fulltext_jobs j SET lease_until = $2, attempts = j.attempts + 1, updated_at = $1, \
             leased_by = $4 \
             FROM due WHERE j.article_id = due.article_id RETURNING j.article_id",
        )
        .bind(ts(now))
        .bind(ts(lease_until))
        .bind(limit)
        .bind(&self.holder().name)
        .fetch_all(&mut *tx)
        .await?;
        let jobs: Vec<FulltextJob> = sqlx::query_as(
            "SELECT a.id AS article_id, a.url, a.summary, j.attempts FROM articles a \
             JOIN fulltext_jobs j ON j.article_id = a.id \
             WHERE a.id = ANY($1) AND a.url IS NOT NULL ORDER BY j.next_try_at, a.id",
        )
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
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
        self.writable("finish a full-text job")?;
        let (status, next) = match retry_at {
            Some(at) => (FulltextStatus::Pending, ts(at)),
            None => (status, ts(now)),
        };
        sqlx::query(
            "UPDATE fulltext_jobs SET status = $2, last_error = $3, http_status = COALESCE($4, http_status), \
             next_try_at = $5, lease_until = NULL, updated_at = $6 WHERE article_id = $1",
        )
        .bind(article_id)
        .bind(status.as_str())
        .bind(error)
        .bind(http_status.map(i64::from))
        .bind(next)
        .bind(ts(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn defer_fulltext_job(&self, article_id: i64, until: DateTime<Utc>) -> Result<()> {
        self.writable("defer a full-text job")?;
        sqlx::query(
            "UPDATE fulltext_jobs SET attempts = GREATEST(attempts - 1, 0), next_try_at = $2, \
             lease_until = NULL WHERE article_id = $1",
        )
        .bind(article_id)
        .bind(ts(until))
        .execute(&self.pool)
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
        self.writable("store full text")?;
        let now_s = ts(now);
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE articles SET text = $2, html = $3, title = COALESCE(title, $4), \
             authors = CASE WHEN authors = '[]' THEN $5 ELSE authors END, \
             published_at = COALESCE(published_at, $6), modified_at = $7, lang = $8, lead_image = $9, \
             canonical_url = $10, site_name = $11, word_count = $12, extracted_at = $13, updated_at = $13, \
             page_kind = $14 WHERE id = $1",
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
            "UPDATE fulltext_jobs SET status = 'done', last_error = NULL, http_status = 200, final_url = $2, \
             lease_until = NULL, updated_at = $3 WHERE article_id = $1",
        )
        .bind(article_id)
        .bind(final_url)
        .bind(&now_s)
        .execute(&mut *tx)
        .await?;
        if let Some((url, content_type, body)) = raw {
            sqlx::query(
                "INSERT INTO raw_pages (article_id, url, content_type, fetched_at, body_gz) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (article_id) DO UPDATE SET url = EXCLUDED.url, \
                 content_type = EXCLUDED.content_type, fetched_at = EXCLUDED.fetched_at, \
                 body_gz = EXCLUDED.body_gz",
            )
            .bind(article_id)
            .bind(url)
            .bind(content_type)
            .bind(&now_s)
            .bind(gzip(&body))
            .execute(&mut *tx)
            .await?;
        }
        let survivor = match identity {
            Some((key, url)) => {
                let current: String =
                    sqlx::query_scalar("SELECT url_key FROM articles WHERE id = $1")
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
            sqlx::query_as("SELECT body, fetched_at FROM robots_cache WHERE host = $1")
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
        self.writable("cache robots.txt")?;
        sqlx::query(
            "INSERT INTO robots_cache (host, body, fetched_at) VALUES ($1, $2, $3) \
             ON CONFLICT (host) DO UPDATE SET body = EXCLUDED.body, fetched_at = EXCLUDED.fetched_at",
        )
        .bind(host)
        .bind(body)
        .bind(ts(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn save_host_backoffs(&self, backoffs: &[(String, DateTime<Utc>)]) -> Result<()> {
        self.writable("save host backoffs")?;
        let (hosts, untils): (Vec<&str>, Vec<String>) =
            backoffs.iter().map(|(h, u)| (h.as_str(), ts(*u))).unzip();
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM host_backoff")
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO host_backoff (host, until) SELECT * FROM UNNEST($1::text[], $2::text[])",
        )
        .bind(&hosts)
        .bind(&untils)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn host_backoffs(&self, now: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT host, until FROM host_backoff WHERE until > $1 ORDER BY host")
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
        self.writable("record a page kind")?;
        sqlx::query(REFUSE_FULLTEXT)
            .bind(article_id)
            .bind(kind.as_str())
            .bind(ts(now))
            .execute(&self.pool)
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
            "SELECT count(*) FROM raw_pages WHERE $1::text IS NULL OR fetched_at >= $1",
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
             WHERE r.article_id > $1 AND ($2::text IS NULL OR r.fetched_at >= $2) \
             ORDER BY r.article_id LIMIT $3",
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
