use chrono::{DateTime, Utc};

use crate::scheduler::{plan_next, FeedSchedule, Outcome, Plan, Policy};

use super::{parse_ts, ts, Result, Store, StoreError};

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct FeedRow {
    pub id: i64,
    pub url: String,
    pub fetch_url: String,
    pub name: Option<String>,
    pub origin: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub interval_secs: Option<i64>,
    pub last_status: Option<String>,
    pub last_error: Option<String>,
    pub error_count: i64,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub next_poll_at: String,
    pub next_poll_reason: Option<String>,
    pub retry_after_until: Option<String>,
    pub last_polled_at: Option<String>,
    pub last_success_at: Option<String>,
    pub redirect_target: Option<String>,
    pub redirect_streak: i64,
    pub ttl_secs: Option<i64>,
    pub current_interval_secs: Option<i64>,
    pub new_per_poll: Option<f64>,
    pub title: Option<String>,
    pub site_url: Option<String>,
}

impl FeedRow {
    pub fn next_poll(&self) -> Option<DateTime<Utc>> {
        parse_ts(&self.next_poll_at)
    }
    pub fn retry_after(&self) -> Option<DateTime<Utc>> {
        self.retry_after_until.as_deref().and_then(parse_ts)
    }
    pub fn display_name(&self) -> &str {
        self.name
            .as_deref()
            .or(self.title.as_deref())
            .unwrap_or(&self.url)
    }
}

/// A subscription to create or sync.
#[derive(Debug, Clone)]
pub struct NewFeed {
    pub url: String,
    pub name: Option<String>,
    pub interval_secs: Option<i64>,
}

impl NewFeed {
    fn config_sig(&self) -> String {
        format!(
            "{}\u{1f}{}",
            self.name.as_deref().unwrap_or_default(),
            self.interval_secs.unwrap_or_default()
        )
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub added: usize,
    pub updated: usize,
    pub disabled: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoveOutcome {
    Removed { id: i64, url: String },
}

/// Everything a poll changes on its feed row, decided by the scheduler.
#[derive(Debug, Clone, Default)]
pub struct FeedUpdate {
    pub last_status: String,
    pub last_error: Option<String>,
    pub error_count: i64,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub next_poll_at: DateTime<Utc>,
    pub next_poll_reason: String,
    pub retry_after_until: Option<DateTime<Utc>>,
    pub polled_at: DateTime<Utc>,
    pub success: bool,
    pub fetch_url: String,
    pub redirect_target: Option<String>,
    pub redirect_streak: i64,
    pub ttl_secs: Option<i64>,
    pub current_interval_secs: Option<i64>,
    pub new_per_poll: Option<f64>,
    pub title: Option<String>,
    pub site_url: Option<String>,
    /// Set to disable the feed (e.g. `gone` after HTTP 410).
    pub disable_reason: Option<String>,
}

impl FeedUpdate {
    /// Takes the schedule of a poll that succeeded from `plan`.
    pub fn schedule_from(&mut self, plan: &Plan) {
        self.next_poll_at = plan.next_poll_at;
        self.next_poll_reason = plan.reason.clone();
        self.current_interval_secs = Some(plan.interval_secs);
        self.new_per_poll = plan.new_per_poll;
        self.ttl_secs = plan.ttl_secs;
    }
}

/// A poll's feed row update as the poll writer takes it. A fetched feed's
/// next poll depends on how many of its entries were new, which only the
/// writer learns: its `schedule` is planned there, by the scheduler.
#[derive(Debug, Clone)]
pub struct PollUpdate {
    pub row: FeedUpdate,
    pub schedule: Option<FetchedSchedule>,
}

/// What the scheduler needs, besides the count of new entries, to plan the
/// next poll of a feed that was fetched and parsed.
#[derive(Debug, Clone, Copy)]
pub struct FetchedSchedule {
    pub state: FeedSchedule,
    /// The feed's `<ttl>`, in seconds.
    pub ttl_secs: Option<i64>,
    pub policy: Policy,
    /// Drawn by the poll, so a poll written twice (in a group that failed,
    /// then alone) is planned the same both times.
    pub jitter: f64,
}

impl From<FeedUpdate> for PollUpdate {
    fn from(row: FeedUpdate) -> Self {
        PollUpdate {
            row,
            schedule: None,
        }
    }
}

impl PollUpdate {
    /// The row to write for a poll at `now` that stored `new_items`.
    pub(super) fn settle(&self, new_items: usize, now: DateTime<Utc>) -> FeedUpdate {
        let mut row = self.row.clone();
        if let Some(s) = &self.schedule {
            let outcome = Outcome::Fetched {
                new_items,
                ttl_secs: s.ttl_secs,
            };
            row.schedule_from(&plan_next(&s.state, &outcome, &s.policy, now, s.jitter));
        }
        row
    }
}

const FEED_COLUMNS: &str = "id, url, fetch_url, name, origin, enabled, disabled_reason, interval_secs, \
    last_status, last_error, error_count, etag, last_modified, next_poll_at, next_poll_reason, \
    retry_after_until, last_polled_at, last_success_at, redirect_target, redirect_streak, ttl_secs, \
    current_interval_secs, new_per_poll, title, site_url";

impl Store {
    /// Upserts the config's feeds (keyed by URL) and disables config feeds
    /// that left the config. Nothing is deleted.
    pub async fn sync_config_feeds(
        &self,
        feeds: &[NewFeed],
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
            if !config_urls.contains(&url.as_str()) {
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

    /// Adds a feed from the CLI, OPML or API; returns it and whether it was new.
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

    /// Finds a feed by numeric id or by URL.
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

    /// Deletes a user-added feed and its items (articles stay in the archive).
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

    /// Enables or disables a feed; enabling makes it due now.
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

    /// Enabled feeds whose next poll is due at `now`, earliest first.
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

    /// When the earliest enabled feed is due.
    pub async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>> {
        let next: Option<String> =
            sqlx::query_scalar("SELECT MIN(next_poll_at) FROM feeds WHERE enabled = 1")
                .fetch_one(&self.pool)
                .await?;
        Ok(next.as_deref().and_then(parse_ts))
    }

    /// One page of the feeds due at `now`, in `(next_poll_at, id)` order,
    /// starting after `after` (the last row of the previous page). The daemon
    /// reads every page: due feeds it must skip for now (their host is busy)
    /// must not hide the ones behind them.
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

    /// When the first enabled feed falls due after `now`.
    pub async fn next_due_after(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
        let next: Option<String> = sqlx::query_scalar(
            "SELECT MIN(next_poll_at) FROM feeds WHERE enabled = 1 AND next_poll_at > ?",
        )
        .bind(ts(now))
        .fetch_one(&self.pool)
        .await?;
        Ok(next.as_deref().and_then(parse_ts))
    }

    /// Applies each poll's feed row update, one statement for all of them
    /// (the poll writer's group). Feed ids must be distinct: for two rows of
    /// one feed SQLite would apply either.
    pub(super) async fn apply_feed_updates(
        conn: &mut sqlx::SqliteConnection,
        updates: &[(i64, FeedUpdate)],
    ) -> Result<()> {
        for chunk in updates.chunks(super::articles::CHUNK_ROWS) {
            let (size, padded_rows) = super::articles::padded(chunk);
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
                super::articles::placeholders(size, 20)
            );
            let mut q = sqlx::query(&sql);
            for row in padded_rows {
                let (id, u) = (row.map(|r| r.0), row.map(|r| &r.1));
                q = q
                    .bind(id)
                    .bind(u.map(|u| &u.last_status))
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
}

#[cfg(test)]
mod tests {
    use super::super::test_support::temp_store;
    use super::*;

    fn nf(url: &str) -> NewFeed {
        NewFeed {
            url: url.into(),
            name: None,
            interval_secs: None,
        }
    }

    #[tokio::test]
    async fn config_sync_upserts_and_disables_removed_feeds_without_deleting() {
        let (store, _d) = temp_store().await;
        let now = Utc::now();
        let r = store
            .sync_config_feeds(
                &[nf("https://a.example/rss"), nf("https://b.example/rss")],
                now,
            )
            .await
            .unwrap();
        assert_eq!(r.added, 2);
        let r = store
            .sync_config_feeds(
                &[nf("https://a.example/rss"), nf("https://b.example/rss")],
                now,
            )
            .await
            .unwrap();
        assert_eq!(r, SyncReport::default());
        let r = store
            .sync_config_feeds(&[nf("https://a.example/rss")], now)
            .await
            .unwrap();
        assert_eq!(r.disabled, 1);
        let feeds = store.list_feeds().await.unwrap();
        assert_eq!(feeds.len(), 2);
        let b = feeds.iter().find(|f| f.url.contains("b.example")).unwrap();
        assert!(!b.enabled);
        assert_eq!(b.disabled_reason.as_deref(), Some("removed_from_config"));
        let r = store
            .sync_config_feeds(
                &[nf("https://a.example/rss"), nf("https://b.example/rss")],
                now,
            )
            .await
            .unwrap();
        assert_eq!(r.updated, 1);
        assert!(
            store
                .find_feed("https://b.example/rss")
                .await
                .unwrap()
                .unwrap()
                .enabled
        );
    }

    #[tokio::test]
    async fn config_feeds_cannot_be_removed_from_the_cli() {
        let (store, _d) = temp_store().await;
        store
            .sync_config_feeds(&[nf("https://a.example/rss")], Utc::now())
            .await
            .unwrap();
        let err = store
            .remove_feed("https://a.example/rss")
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::ConfigManaged(_)));
        assert!(err.to_string().contains("config"));
    }

    #[tokio::test]
    async fn cli_feeds_are_added_once_and_removed_by_id_or_url() {
        let (store, _d) = temp_store().await;
        let now = Utc::now();
        let (row, new) = store
            .add_feed(&nf("https://c.example/rss"), "cli", now)
            .await
            .unwrap();
        assert!(new);
        let (_, again) = store
            .add_feed(&nf("https://c.example/rss"), "cli", now)
            .await
            .unwrap();
        assert!(!again);
        assert_eq!(store.list_feeds().await.unwrap().len(), 1);
        store.remove_feed(&row.id.to_string()).await.unwrap();
        assert!(store.list_feeds().await.unwrap().is_empty());
        assert!(matches!(
            store.remove_feed("https://nope.example/").await,
            Err(StoreError::FeedNotFound(_))
        ));
    }

    #[tokio::test]
    async fn due_feeds_and_next_due_follow_next_poll_at() {
        let (store, _d) = temp_store().await;
        let now = Utc::now();
        store
            .add_feed(&nf("https://c.example/rss"), "cli", now)
            .await
            .unwrap();
        assert_eq!(store.due_feeds(now, 10).await.unwrap().len(), 1);
        assert_eq!(
            store
                .due_feeds(now - chrono::Duration::seconds(5), 10)
                .await
                .unwrap()
                .len(),
            0
        );
        assert_eq!(store.next_due_at().await.unwrap().map(ts), Some(ts(now)));
        let before = now - chrono::Duration::seconds(5);
        assert_eq!(
            store.next_due_after(before).await.unwrap().map(ts),
            Some(ts(now))
        );
        assert_eq!(store.next_due_after(now).await.unwrap(), None);
        store
            .set_feed_enabled("https://c.example/rss", false, now)
            .await
            .unwrap();
        assert_eq!(store.next_due_at().await.unwrap(), None);
        assert!(store.enabled_feeds().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn due_feeds_come_page_by_page_in_due_order_without_gaps_or_repeats() {
        let (store, _d) = temp_store().await;
        let now = Utc::now();
        // Two feeds share a due time, so the id breaks the tie between pages.
        for (i, secs) in [(0, 30), (1, 10), (2, 20), (3, 20), (4, 5)] {
            store
                .add_feed(&nf(&format!("https://p{i}.example/rss")), "cli", now)
                .await
                .unwrap();
            sqlx::query("UPDATE feeds SET next_poll_at = ? WHERE url = ?")
                .bind(ts(now - chrono::Duration::seconds(secs)))
                .bind(format!("https://p{i}.example/rss"))
                .execute(store.pool())
                .await
                .unwrap();
        }
        let mut seen = Vec::new();
        let mut after: Option<FeedRow> = None;
        loop {
            let page = store.due_feeds_page(now, after.as_ref(), 2).await.unwrap();
            if page.is_empty() {
                break;
            }
            seen.extend(page.iter().map(|f| f.url.clone()));
            after = page.last().cloned();
        }
        let expected: Vec<String> = [0, 2, 3, 1, 4]
            .iter()
            .map(|i| format!("https://p{i}.example/rss"))
            .collect();
        assert_eq!(seen, expected);
    }
}
