//! The Google News resolution queue on PostgreSQL: due links, signatures,
//! failures with backoff, resolution (which applies the identity model's
//! merge or split), the breaker and request counts.

use chrono::{DateTime, Utc};

use super::identity::{assign_identity, join_unlooked_siblings, queue_fulltext, split_link};
use super::PostgresStore;
use crate::domain::CanonicalUrl;
use crate::google_news::PaceRule;
use crate::store::error::{Result, StoreError};
use crate::store::google_links::apply_budget_event;
use crate::store::google_links::{
    Budget, BudgetEvent, BudgetRow, BudgetStatsRow, GoogleQueueStats, LinkCosts, LinkPlacement,
    LinkStatus, PendingLink, PlacementRow, TokenGrant, BUDGET_COLUMNS, BUDGET_COUNT,
    BUDGET_STATS_COLUMNS,
};
use crate::store::time::ts;

type PendingRow = (
    String,
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<i64>,
    i64,
);

impl PostgresStore {
    pub async fn pending_google_links(
        &self,
        now: DateTime<Utc>,
        signed: bool,
        limit: i64,
    ) -> Result<Vec<PendingLink>> {
        // Links whose article has a signed sibling waiting come last: that
        // sibling's lookup may resolve the story for them.
        let rows: Vec<PendingRow> = sqlx::query_as(
            "SELECT g.google_id, g.article_id, g.hl, g.gl, g.ceid, g.signature, g.sig_timestamp, g.attempts \
             FROM google_links g \
             WHERE g.status = 'pending' AND g.next_try_at <= $1 AND (g.signature IS NOT NULL) = $2 \
             AND (g.lease_until IS NULL OR g.lease_until <= $1 OR g.leased_by = $4) \
             ORDER BY EXISTS (SELECT 1 FROM google_links s WHERE s.article_id = g.article_id \
                 AND s.google_id != g.google_id AND s.signature IS NOT NULL AND s.status = 'pending'), \
               g.first_seen_at, g.google_id COLLATE \"C\" LIMIT $3",
        )
        .bind(ts(now))
        .bind(signed)
        .bind(limit)
        .bind(&self.holder().name)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(google_id, article_id, hl, gl, ceid, signature, sig_timestamp, attempts)| {
                    PendingLink {
                        google_id,
                        article_id,
                        hl,
                        gl,
                        ceid,
                        signature,
                        sig_timestamp,
                        attempts,
                    }
                },
            )
            .collect())
    }

    pub async fn google_link(
        &self,
        google_id: &str,
    ) -> Result<Option<(LinkStatus, Option<String>)>> {
        let row: Option<(String, Option<String>)> =
            sqlx::query_as("SELECT status, publisher_url FROM google_links WHERE google_id = $1")
                .bind(google_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(status, url)| (LinkStatus::from_stored(&status), url)))
    }

    pub async fn google_link_placement(&self, google_id: &str) -> Result<Option<LinkPlacement>> {
        let row: Option<PlacementRow> = sqlx::query_as(
            "SELECT g.status, g.publisher_url, a.url, g.gets, g.last_error FROM google_links AS g \
             JOIN articles AS a ON a.id = g.article_id WHERE g.google_id = $1",
        )
        .bind(google_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(LinkPlacement::from_stored))
    }

    pub async fn save_signature(
        &self,
        google_id: &str,
        signature: &str,
        timestamp: i64,
    ) -> Result<()> {
        self.writable("saving a Google signature")?;
        sqlx::query(
            "UPDATE google_links SET signature = $2, sig_timestamp = $3 WHERE google_id = $1",
        )
        .bind(google_id)
        .bind(signature)
        .bind(timestamp)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn fail_google_link(
        &self,
        google_id: &str,
        error: &str,
        now: DateTime<Utc>,
        retry_base: std::time::Duration,
        max_attempts: i64,
        drop_signature: bool,
    ) -> Result<()> {
        self.writable("recording a failed Google lookup")?;
        let mut tx = self.pool.begin().await?;
        // Locked, so two failures at once count twice.
        let attempts: i64 =
            sqlx::query_scalar("SELECT attempts FROM google_links WHERE google_id = $1 FOR UPDATE")
                .bind(google_id)
                .fetch_optional(&mut *tx)
                .await?
                .unwrap_or(0)
                + 1;
        let delay = retry_base.as_secs_f64() * 2f64.powi((attempts - 1).clamp(0, 20) as i32);
        let next = now + chrono::Duration::seconds(delay.min(7.0 * 86400.0) as i64);
        let status = if attempts >= max_attempts {
            LinkStatus::Failed
        } else {
            LinkStatus::Pending
        };
        sqlx::query(
            "UPDATE google_links SET attempts = $2, last_error = $3, next_try_at = $4, status = $5, \
             signature = CASE WHEN $6 THEN NULL ELSE signature END, \
             sig_timestamp = CASE WHEN $6 THEN NULL ELSE sig_timestamp END \
             WHERE google_id = $1",
        )
        .bind(google_id)
        .bind(attempts)
        .bind(error)
        .bind(ts(next))
        .bind(status.as_str())
        .bind(drop_signature)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn resolve_google_link(
        &self,
        google_id: &str,
        publisher_url: &str,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        self.writable("resolving a Google link")?;
        let key = CanonicalUrl::parse(publisher_url).map_err(|e| {
            StoreError::InvalidInput(format!("publisher URL {publisher_url:?}: {e}"))
        })?;
        let fetch_url = url::Url::parse(publisher_url)
            .map(|u| crate::domain::strip_tracking(&u).to_string())
            .unwrap_or_else(|_| publisher_url.to_owned());
        let mut tx = self.pool.begin().await?;
        let Some(article_id) = sqlx::query_scalar::<_, i64>(
            "UPDATE google_links SET status = 'resolved', publisher_url = $2, resolved_at = $3, \
             last_error = NULL WHERE google_id = $1 RETURNING article_id",
        )
        .bind(google_id)
        .bind(publisher_url)
        .bind(ts(now))
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Err(StoreError::NotFound(format!("Google id {google_id}")));
        };
        // Locked: a concurrent resolution of a sibling link decides the same
        // article's identity.
        let (current_key, resolution): (String, Option<String>) =
            sqlx::query_as("SELECT url_key, resolution FROM articles WHERE id = $1 FOR UPDATE")
                .bind(article_id)
                .fetch_one(&mut *tx)
                .await?;
        let survivor = if resolution.as_deref() == Some("unresolved") {
            let survivor = assign_identity(&mut tx, article_id, key.as_str(), &fetch_url).await?;
            sqlx::query("UPDATE articles SET resolution = 'resolved' WHERE id = $1")
                .bind(survivor)
                .execute(&mut *tx)
                .await?;
            join_unlooked_siblings(&mut tx, survivor).await?;
            survivor
        } else if current_key == key.as_str() {
            article_id
        } else {
            split_link(
                &mut tx,
                google_id,
                article_id,
                key.as_str(),
                &fetch_url,
                now,
            )
            .await?
        };
        queue_fulltext(&mut tx, &[survivor], Some(&ts(now))).await?;
        tx.commit().await?;
        Ok(survivor)
    }

    pub async fn google_budget(&self, egress: &str) -> Result<Budget> {
        let row: Option<BudgetRow> = sqlx::query_as(&format!(
            "SELECT {BUDGET_COLUMNS} FROM google_budget WHERE egress = $1"
        ))
        .bind(egress)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(Budget::from_stored).unwrap_or_default())
    }

    pub(crate) async fn google_budget_event(
        &self,
        egress: &str,
        rule: &PaceRule,
        event: BudgetEvent,
        now: DateTime<Utc>,
    ) -> Result<TokenGrant> {
        self.writable("spending the Google budget")?;
        let mut tx = self.pool.begin().await?;
        let select =
            format!("SELECT {BUDGET_COLUMNS} FROM google_budget WHERE egress = $1 FOR UPDATE");
        let grant = apply_budget_event!(tx, &select, egress, rule, event, now);
        tx.commit().await?;
        Ok(grant)
    }

    pub async fn count_google_request(
        &self,
        egress: &str,
        get: bool,
        google_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.writable("counting a Google request")?;
        // An egress that never took a token (a POST of signatures another
        // egress read) gets its row here.
        sqlx::query(BUDGET_COUNT)
            .bind(egress)
            .bind(get)
            .bind(ts(now))
            .execute(&self.pool)
            .await?;
        if let (true, Some(id)) = (get, google_id) {
            sqlx::query("UPDATE google_links SET gets = gets + 1 WHERE google_id = $1")
                .bind(id)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    pub async fn google_link_costs(&self, since: DateTime<Utc>) -> Result<LinkCosts> {
        let (new, needed_get, queued): (i64, i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE gets > 0), \
               COUNT(*) FILTER (WHERE status = 'pending' AND gets = 0) \
             FROM google_links WHERE first_seen_at >= $1",
        )
        .bind(ts(since))
        .fetch_one(&self.pool)
        .await?;
        Ok(LinkCosts {
            new,
            needed_get,
            queued,
        })
    }

    pub async fn google_queue_stats(&self) -> Result<GoogleQueueStats> {
        let counts: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT status, COUNT(*), COUNT(signature) FROM google_links GROUP BY status",
        )
        .fetch_all(&self.pool)
        .await?;
        let budgets: Vec<BudgetStatsRow> = sqlx::query_as(&format!(
            "SELECT {BUDGET_STATS_COLUMNS} FROM google_budget ORDER BY egress COLLATE \"C\""
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(GoogleQueueStats::from_counts(counts, budgets))
    }
}
