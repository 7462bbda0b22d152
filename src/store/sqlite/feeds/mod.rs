//! Subscriptions as SQL: config sync, the CLI's and API's feed changes,
//! and the due-feed queries the scheduler polls from.

use chrono::{DateTime, Utc};

use super::sql::{padded, placeholders, CHUNK_ROWS};
use super::SqliteStore;
use crate::store::error::{Result, StoreError};
use crate::store::feeds::{FeedRow, FeedUpdate, NewFeed, RemoveOutcome, SyncReport};
use crate::store::time::{parse_ts, ts};

const FEED_COLUMNS: &str = "id, url, fetch_url, name, origin, enabled, disabled_reason, interval_secs, \
    last_status, last_error, error_count, etag, last_modified, next_poll_at, next_poll_reason, \
    retry_after_until, last_polled_at, last_success_at, redirect_target, redirect_streak, ttl_secs, \
    current_interval_secs, new_per_poll, title, site_url";

impl SqliteStore {
    pub async fn sync_config_feeds(
        &self,
        feeds: &[NewFeed],
        keep: &[String],
        now: DateTime<Utc>,
    ) -> Result<SyncReport> {
        let mut tx = self.begin_write().await?;
        let mut report = SyncReport::default();
        let now_s = ts(now);
        for feed in feeds {
            let sig = feed.config_sig();
            let existing: Option<(i64, Option<String>, bool, Option<String>)> = sqlx::query_as(
                "SELECT id, config_sig, enabled, disabled_reason FROM feeds WHERE url = ?",
            )
            .bind(&feed.url)
            .fetch_optional(&mut *tx)
            .await?;
            match existing {
                None => {
                    sqlx::query(
                        "INSERT INTO feeds (url, fetch_url, name, origin, config_sig, interval_secs, \
                         next_poll_at, next_poll_reason, created_at, updated_at) \
                         VALUES (?1, ?1, ?2, 'config', ?3, ?4, ?5, 'new feed', ?5, ?5)",
                    )
                    .bind(&feed.url)
                    .bind(&feed.name)
                    .bind(&sig)
                    .bind(feed.interval_secs)
                    .bind(&now_s)
                    .execute(&mut *tx)
                    .await?;
                    report.added += 1;
                }
                Some((id, old_sig, enabled, reason)) => {
                    // A feed disabled as gone stays disabled until its entry changes.
                    let stays_gone = !enabled
                        && reason.as_deref() == Some("gone")
                        && old_sig.as_deref() == Some(sig.as_str());
                    let changed =
                        old_sig.as_deref() != Some(sig.as_str()) || (!enabled && !stays_gone);
                    if changed {
                        sqlx::query(
                            "UPDATE feeds SET name = ?2, origin = 'config', config_sig = ?3, interval_secs = ?4, \
                             enabled = 1, disabled_reason = NULL, updated_at = ?5, \
                             fetch_url = CASE WHEN disabled_reason = 'gone' THEN url ELSE fetch_url END, \
                             next_poll_at = CASE WHEN enabled = 0 THEN ?5 ELSE next_poll_at END \
                             WHERE id = ?1",
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
                        sqlx::query("UPDATE feeds SET origin = 'config' WHERE id = ?")
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
            }
        }
        let config_urls: Vec<&str> = feeds.iter().map(|f| f.url.as_str()).collect();
        let config_feeds: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, url FROM feeds WHERE origin = 'config' AND enabled = 1")
                .fetch_all(&mut *tx)
                .await?;
        for (id, url) in config_feeds {
            if !config_urls.contains(&url.as_str()) && !keep.contains(&url) {
                sqlx::query(
                    "UPDATE feeds SET enabled = 0, disabled_reason = 'removed_from_config', \
                     config_sig = NULL, updated_at = ? WHERE id = ?",
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
        let now_s = ts(now);
        let inserted = sqlx::query(
            "INSERT INTO feeds (url, fetch_url, name, origin, interval_secs, next_poll_at, \
             next_poll_reason, created_at, updated_at) \
             VALUES (?1, ?1, ?2, ?3, ?4, ?5, 'new feed', ?5, ?5) ON CONFLICT (url) DO NOTHING",
        )
        .bind(&feed.url)
        .bind(&feed.name)
        .bind(origin)
        .bind(feed.interval_secs)
        .bind(&now_s)
        .execute(&self.writer)
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
            "SELECT {FEED_COLUMNS} FROM feeds WHERE url = ?1 OR (?2 IS NOT NULL AND id = ?2)"
        );
        Ok(sqlx::query_as(&sql)
            .bind(id_or_url)
            .bind(id_or_url.parse::<i64>().ok())
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn feed_by_id(&self, id: i64) -> Result<Option<FeedRow>> {
        let sql = format!("SELECT {FEED_COLUMNS} FROM feeds WHERE id = ?");
        Ok(sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn remove_feed(&self, id_or_url: &str) -> Result<RemoveOutcome> {
        let feed = self
            .find_feed(id_or_url)
            .await?
            .ok_or_else(|| StoreError::FeedNotFound(id_or_url.to_owned()))?;
        if feed.origin == "config" && feed.enabled {
            return Err(StoreError::ConfigManaged(feed.url));
        }
        sqlx::query("DELETE FROM feeds WHERE id = ?")
            .bind(feed.id)
            .execute(&self.writer)
            .await?;
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
        let feed = self
            .find_feed(id_or_url)
            .await?
            .ok_or_else(|| StoreError::FeedNotFound(id_or_url.to_owned()))?;
        sqlx::query(
            "UPDATE feeds SET enabled = ?2, \
             disabled_reason = CASE WHEN ?2 THEN NULL ELSE 'user' END, \
             error_count = CASE WHEN ?2 THEN 0 ELSE error_count END, \
             fetch_url = CASE WHEN ?2 AND disabled_reason = 'gone' THEN url ELSE fetch_url END, \
             next_poll_at = CASE WHEN ?2 THEN ?3 ELSE next_poll_at END, \
             next_poll_reason = CASE WHEN ?2 THEN 're-enabled' ELSE next_poll_reason END, \
             updated_at = ?3 WHERE id = ?1",
        )
        .bind(feed.id)
        .bind(enabled)
        .bind(ts(now))
        .execute(&self.writer)
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
            "SELECT {FEED_COLUMNS} FROM feeds WHERE enabled = 1 AND next_poll_at <= ? \
             ORDER BY next_poll_at LIMIT ?"
        );
        Ok(sqlx::query_as(&sql)
            .bind(ts(now))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn enabled_feeds(&self) -> Result<Vec<FeedRow>> {
        let sql = format!("SELECT {FEED_COLUMNS} FROM feeds WHERE enabled = 1 ORDER BY id");
        Ok(sqlx::query_as(&sql).fetch_all(&self.pool).await?)
    }

    pub async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>> {
        let next: Option<String> =
            sqlx::query_scalar("SELECT MIN(next_poll_at) FROM feeds WHERE enabled = 1")
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
            "SELECT {FEED_COLUMNS} FROM feeds WHERE enabled = 1 AND next_poll_at <= ?1 \
             AND (?2 IS NULL OR (next_poll_at, id) > (?2, ?3)) \
             ORDER BY next_poll_at, id LIMIT ?4"
        );
        Ok(sqlx::query_as(&sql)
            .bind(ts(now))
            .bind(after.map(|f| f.next_poll_at.as_str()))
            .bind(after.map(|f| f.id))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn next_due_after(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
        let next: Option<String> = sqlx::query_scalar(
            "SELECT MIN(next_poll_at) FROM feeds WHERE enabled = 1 AND next_poll_at > ?",
        )
        .bind(ts(now))
        .fetch_one(&self.pool)
        .await?;
        Ok(next.as_deref().and_then(parse_ts))
    }
}

/// Applies each poll's feed row update, one statement for all of them
/// (the poll writer's group). Feed ids must be distinct: for two rows of
/// one feed SQLite would apply either.
pub(super) async fn apply_feed_updates(
    conn: &mut sqlx::SqliteConnection,
    updates: &[(i64, FeedUpdate)],
) -> Result<()> {
    for chunk in updates.chunks(CHUNK_ROWS) {
        let (size, padded_rows) = padded(chunk);
        let sql = format!(
            "UPDATE feeds SET last_status = v.column2, last_error = v.column3, \
             error_count = v.column4, etag = v.column5, last_modified = v.column6, \
             next_poll_at = v.column7, next_poll_reason = v.column8, \
             retry_after_until = v.column9, last_polled_at = v.column10, \
             last_success_at = CASE WHEN v.column11 THEN v.column10 ELSE feeds.last_success_at END, \
             fetch_url = v.column12, redirect_target = v.column13, redirect_streak = v.column14, \
             ttl_secs = v.column15, current_interval_secs = v.column16, new_per_poll = v.column17, \
             title = COALESCE(v.column18, feeds.title), site_url = COALESCE(v.column19, feeds.site_url), \
             enabled = CASE WHEN v.column20 IS NULL THEN feeds.enabled ELSE 0 END, \
             disabled_reason = COALESCE(v.column20, feeds.disabled_reason), updated_at = v.column10 \
             FROM (VALUES {}) AS v WHERE feeds.id = v.column1",
            placeholders(size, 20)
        );
        let mut q = sqlx::query(&sql);
        for row in padded_rows {
            let (id, u) = (row.map(|r| r.0), row.map(|r| &r.1));
            q = q
                .bind(id)
                .bind(u.map(|u| u.last_status.as_str()))
                .bind(u.and_then(|u| u.last_error.as_deref()))
                .bind(u.map(|u| u.error_count))
                .bind(u.and_then(|u| u.etag.as_deref()))
                .bind(u.and_then(|u| u.last_modified.as_deref()))
                .bind(u.map(|u| ts(u.next_poll_at)))
                .bind(u.map(|u| &u.next_poll_reason))
                .bind(u.and_then(|u| u.retry_after_until.map(ts)))
                .bind(u.map(|u| ts(u.polled_at)))
                .bind(u.map(|u| u.success))
                .bind(u.map(|u| &u.fetch_url))
                .bind(u.and_then(|u| u.redirect_target.as_deref()))
                .bind(u.map(|u| u.redirect_streak))
                .bind(u.and_then(|u| u.ttl_secs))
                .bind(u.and_then(|u| u.current_interval_secs))
                .bind(u.and_then(|u| u.new_per_poll))
                .bind(u.and_then(|u| u.title.as_deref()))
                .bind(u.and_then(|u| u.site_url.as_deref()))
                .bind(u.and_then(|u| u.disable_reason.as_deref()));
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}
