//! Subscriptions: the feed rows every engine returns and the updates a
//! poll or a config sync makes to them.

use chrono::{DateTime, Utc};

use crate::store::time::parse_ts;

#[derive(Debug, Clone, serde::Serialize)]
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
    /// What a config sync compares to tell an edited feed.
    pub fn config_sig(&self) -> String {
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
