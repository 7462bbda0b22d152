//! Subscriptions as SQL on PostgreSQL: config sync, the CLI's and API's feed changes, the due-feed queries, and the feed row updates of a poll.

use chrono::{DateTime, Utc};

use super::PostgresStore;
use crate::store::error::{Result, StoreError};
use crate::store::feeds::{FeedRow, FeedUpdate, NewFeed, RemoveOutcome, SyncReport};
use crate::store::time::{parse_ts, ts};

const FEED_COLUMNS: &str = "id, url, fetch_url, name, origin, enabled, disabled_reason, interval_secs, \
    last_status, last_error, error_count, etag, last_modified, next_poll_at, next_poll_reason, \
    retry_after_until, last_polled_at, last_success_at, redirect_target, redirect_streak, ttl_secs, \
    current_interval_secs, new_per_poll, title, site_url";

impl PostgresStore {
    pub async fn sync_config_feeds(
        &self,
        feeds: &[NewFeed],
        keep: &[String],
        now: DateTime<Utc>,
    ) -> Result<SyncReport> {
        self.writable("sync config feeds")?;
        let mut tx = self.pool.begin().await?;
        let mut report = SyncReport::default();
        let now_s = ts(now);
        for feed in feeds {
            let sig = feed.config_sig();
            // A feed the CLI adds meanwhile must not turn the insert into a
            // unique violation: the insert gives way and the row is synced.
            let inserted = sqlx::query(
                "INSERT INTO feeds (url, fetch_url, name, origin, config_sig, interval_secs, \
                 next_poll_at, next_poll_reason, created_at, updated_at) \
                 VALUES ($1, $1, $2, 'config', $3, $4, $5, 'new feed', $5, $5) \
                 ON CONFLICT ((md5(url))) DO NOTHING",
            )
            .bind(&feed.url)
            .bind(&feed.name)
            .bind(&sig)
            .bind(feed.interval_secs)
            .bind(&now_s)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if inserted {
                report.added += 1;
                continue;
            }
            let existing: Option<(i64, Option<String>, bool, Option<String>)> = sqlx::query_as(
                "SELECT id, config_sig, enabled, disabled_reason FROM feeds \
                 WHERE md5(url) = md5($1) FOR UPDATE",
            )
            .bind(&feed.url)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((id, old_sig, enabled, reason)) = existing else {
                return Err(StoreError::FeedNotFound(feed.url.clone()));
            };
            // A feed disabled as gone stays disabled until its entry changes.
            let stays_gone = !enabled
                && reason.as_deref() == Some("gone")
                && old_sig.as_deref() == Some(sig.as_str());
            let changed = old_sig.as_deref() != Some(sig.as_str()) || (!enabled && !stays_gone);
            if changed {
                sqlx::query(
                    "UPDATE feeds SET name = $2, origin = 'config', config_sig = $3, interval_secs = $4, \
                     enabled = TRUE, disabled_reason = NULL, updated_at = $5, \
                     fetch_url = CASE WHEN disabled_reason = 'gone' THEN url ELSE fetch_url END, \
                     next_poll_at = CASE WHEN NOT enabled THEN $5 ELSE next_poll_at END \
                     WHERE id = $1",
                )
                .bind(id)
                .bind(&feed.name)
                .bind(&sig)
                .bind(feed.interval_secs)
                .bind(&now_s)
                .execute(&mut *tx)
                .await?;
                report.updated += 1;
            } else {
                sqlx::query("UPDATE feeds SET origin = 'config' WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let config_urls: Vec<&str> = feeds.iter().map(|f| f.url.as_str()).collect();
        let config_feeds: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, url FROM feeds WHERE origin = 'config' AND enabled FOR UPDATE",
        )
        .fetch_all(&mut *tx)
        .await?;
        for (id, url) in config_feeds {
            if !config_urls.contains(&url.as_str()) && !keep.contains(&url) {
                sqlx::query(
                    "UPDATE feeds SET enabled = FALSE, disabled_reason = 'removed_from_config', \
                     config_sig = NULL, updated_at = $1 WHERE id = $2",
                )
                .bind(&now_s)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                report.disabled += 1;
            }
        }
        tx.commit().await?;
        Ok(report)
    }

    pub async fn add_feed(
        &self,
        feed: &NewFeed,
        origin: &str,
        now: DateTime<Utc>,
    ) -> Result<(FeedRow, bool)> {
        self.writable("add a feed")?;
        let inserted = sqlx::query(
            "INSERT INTO feeds (url, fetch_url, name, origin, interval_secs, next_poll_at, \
             next_poll_reason, created_at, updated_at) \
             VALUES ($1, $1, $2, $3, $4, $5, 'new feed', $5, $5) ON CONFLICT ((md5(url))) DO NOTHING",
        )
        .bind(&feed.url)
        .bind(&feed.name)
        .bind(origin)
        .bind(feed.interval_secs)
        .bind(ts(now))
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1;
        let row = self
            .find_feed(&feed.url)
            .await?
            .ok_or_else(|| StoreError::FeedNotFound(feed.url.clone()))?;
        Ok((row, inserted))
    }

    pub async fn find_feed(&self, id_or_url: &str) -> Result<Option<FeedRow>> {
        let sql = format!(
            "SELECT {FEED_COLUMNS} FROM feeds WHERE md5(url) = md5($1) \
             OR ($2::bigint IS NOT NULL AND id = $2) ORDER BY id LIMIT 1"
        );
        Ok(sqlx::query_as(&sql)
            .bind(id_or_url)
            .bind(id_or_url.parse::<i64>().ok())
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn feed_by_id(&self, id: i64) -> Result<Option<FeedRow>> {
        let sql = format!("SELECT {FEED_COLUMNS} FROM feeds WHERE id = $1");
        Ok(sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn remove_feed(&self, id_or_url: &str) -> Result<RemoveOutcome> {
        self.writable("remove a feed")?;
        let feed = self
            .find_feed(id_or_url)
            .await?
            .ok_or_else(|| StoreError::FeedNotFound(id_or_url.to_owned()))?;
        // A config sync may re-enable the row between the look-up and the
        // delete: the delete checks again.
        let deleted =
            sqlx::query("DELETE FROM feeds WHERE id = $1 AND NOT (origin = 'config' AND enabled)")
                .bind(feed.id)
                .execute(&self.pool)
                .await?
                .rows_affected();
        if deleted == 0 {
            return match self.feed_by_id(feed.id).await? {
                Some(f) => Err(StoreError::ConfigManaged(f.url)),
                None => Err(StoreError::FeedNotFound(id_or_url.to_owned())),
            };
        }
        Ok(RemoveOutcome::Removed {
            id: feed.id,
            url: feed.url,
        })
    }

    pub async fn set_feed_enabled(
        &self,
        id_or_url: &str,
        enabled: bool,
        now: DateTime<Utc>,
    ) -> Result<FeedRow> {
        self.writable("enable or disable a feed")?;
        let feed = self
            .find_feed(id_or_url)
            .await?
            .ok_or_else(|| StoreError::FeedNotFound(id_or_url.to_owned()))?;
        sqlx::query(
            "UPDATE feeds SET enabled = $2, \
             disabled_reason = CASE WHEN $2 THEN NULL ELSE 'user' END, \
             error_count = CASE WHEN $2 THEN 0 ELSE error_count END, \
             fetch_url = CASE WHEN $2 AND disabled_reason = 'gone' THEN url ELSE fetch_url END, \
             next_poll_at = CASE WHEN $2 THEN $3 ELSE next_poll_at END, \
             next_poll_reason = CASE WHEN $2 THEN 're-enabled' ELSE next_poll_reason END, \
             updated_at = $3 WHERE id = $1",
        )
        .bind(feed.id)
        .bind(enabled)
        .bind(ts(now))
        .execute(&self.pool)
        .await?;
        self.feed_by_id(feed.id)
            .await?
            .ok_or_else(|| StoreError::FeedNotFound(id_or_url.to_owned()))
    }

    pub async fn list_feeds(&self) -> Result<Vec<FeedRow>> {
        let sql = format!("SELECT {FEED_COLUMNS} FROM feeds ORDER BY id");
        Ok(sqlx::query_as(&sql).fetch_all(&self.pool).await?)
    }

    pub async fn due_feeds(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<FeedRow>> {
        let sql = format!(
            "SELECT {FEED_COLUMNS} FROM feeds WHERE enabled AND next_poll_at <= $1 \
             ORDER BY next_poll_at, id LIMIT $2"
        );
        Ok(sqlx::query_as(&sql)
            .bind(ts(now))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn enabled_feeds(&self) -> Result<Vec<FeedRow>> {
        let sql = format!("SELECT {FEED_COLUMNS} FROM feeds WHERE enabled ORDER BY id");
        Ok(sqlx::query_as(&sql).fetch_all(&self.pool).await?)
    }

    pub async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>> {
        let next: Option<String> =
            sqlx::query_scalar("SELECT MIN(next_poll_at) FROM feeds WHERE enabled")
                .fetch_one(&self.pool)
                .await?;
        Ok(next.as_deref().and_then(parse_ts))
    }

    pub async fn due_feeds_page(
        &self,
        now: DateTime<Utc>,
        after: Option<&FeedRow>,
        limit: u32,
    ) -> Result<Vec<FeedRow>> {
        let sql = format!(
            "SELECT {FEED_COLUMNS} FROM feeds WHERE enabled AND next_poll_at <= $1 \
             AND ($2::text IS NULL OR (next_poll_at, id) > ($2::text, $3::bigint)) \
             AND (lease_until IS NULL OR lease_until <= $1 OR leased_by = $5) \
             ORDER BY next_poll_at, id LIMIT $4"
        );
        Ok(sqlx::query_as(&sql)
            .bind(ts(now))
            .bind(after.map(|f| f.next_poll_at.as_str()))
            .bind(after.map(|f| f.id))
            .bind(i64::from(limit))
            .bind(&self.holder().name)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn next_due_after(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
        let next: Option<String> = sqlx::query_scalar(
            "SELECT MIN(next_poll_at) FROM feeds WHERE enabled AND next_poll_at > $1",
        )
        .bind(ts(now))
        .fetch_one(&self.pool)
        .await?;
        Ok(next.as_deref().and_then(parse_ts))
    }

    /// A poll that stored no entries has no schedule left to plan (SQLite
    /// sends it through its poll writer only to keep its single writer).
    pub async fn record_poll_outcome(&self, feed_id: i64, update: &FeedUpdate) -> Result<()> {
        self.writable("record a poll")?;
        let mut conn = self.pool.acquire().await?;
        apply_feed_update(&mut conn, feed_id, update).await
    }
}

/// Applies one poll's feed row update inside the poll's transaction.
pub(super) async fn apply_feed_update(
    conn: &mut sqlx::PgConnection,
    feed_id: i64,
    update: &FeedUpdate,
) -> Result<()> {
    sqlx::query(
        "UPDATE feeds SET last_status = $2, last_error = $3, error_count = $4, etag = $5, \
         last_modified = $6, next_poll_at = $7, next_poll_reason = $8, retry_after_until = $9, \
         last_polled_at = $10, \
         last_success_at = CASE WHEN $11 THEN $10 ELSE last_success_at END, \
         fetch_url = $12, redirect_target = $13, redirect_streak = $14, ttl_secs = $15, \
         current_interval_secs = $16, new_per_poll = $17, \
         title = COALESCE($18, title), site_url = COALESCE($19, site_url), \
         enabled = CASE WHEN $20::text IS NULL THEN enabled ELSE FALSE END, \
         disabled_reason = COALESCE($20, disabled_reason), updated_at = $10, \
         leased_by = NULL, lease_until = NULL \
         WHERE id = $1",
    )
    .bind(feed_id)
    .bind(update.last_status.as_str())
    .bind(update.last_error.as_deref())
    .bind(update.error_count)
    .bind(update.etag.as_deref())
    .bind(update.last_modified.as_deref())
    .bind(ts(update.next_poll_at))
    .bind(&update.next_poll_reason)
    .bind(update.retry_after_until.map(ts))
    .bind(ts(update.polled_at))
    .bind(update.success)
    .bind(&update.fetch_url)
    .bind(update.redirect_target.as_deref())
    .bind(update.redirect_streak)
    .bind(update.ttl_secs)
    .bind(update.current_interval_secs)
    .bind(update.new_per_poll)
    .bind(update.title.as_deref())
    .bind(update.site_url.as_deref())
    .bind(update.disable_reason.as_deref())
    .execute(&mut *conn)
    .await?;
    Ok(())
}
