//! Subscriptions: the feed rows every engine returns and the updates a
//! poll or a config sync makes to them.

use chrono::{DateTime, Utc};

use crate::scheduler::{plan_next, FeedSchedule, Outcome, Plan, Policy};
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
    pub last_status: Option<FeedStatus>,
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

/// A feed's `last_status`: how its last poll ended, stored as its text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedStatus {
    #[default]
    Ok,
    NotModified,
    Error,
    /// Refused by the SSRF guard.
    Blocked,
    /// HTTP 410: the feed is disabled.
    Gone,
}

impl FeedStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedStatus::Ok => "ok",
            FeedStatus::NotModified => "not_modified",
            FeedStatus::Error => "error",
            FeedStatus::Blocked => "blocked",
            FeedStatus::Gone => "gone",
        }
    }

    /// A stored status; one this newsd does not know reads as an error.
    pub fn from_stored(s: &str) -> Self {
        match s {
            "ok" => FeedStatus::Ok,
            "not_modified" => FeedStatus::NotModified,
            "blocked" => FeedStatus::Blocked,
            "gone" => FeedStatus::Gone,
            _ => FeedStatus::Error,
        }
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
    pub last_status: FeedStatus,
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
/// writer learns: its `schedule` is planned there, by the scheduler's pure
/// rule.
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
    pub fn settle(&self, new_items: usize, now: DateTime<Utc>) -> FeedUpdate {
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

/// A feed row as both engines read it (the columns of the same names and
/// types; SQLite's 0/1 `enabled` decodes as a bool). Written once, for any
/// sqlx row, because the only engine-specific part is the row type; the
/// status is read as text and typed here.
impl<'r, R> sqlx::FromRow<'r, R> for FeedRow
where
    R: sqlx::Row,
    &'r str: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<f64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        let status: Option<String> = row.try_get("last_status")?;
        Ok(FeedRow {
            id: row.try_get("id")?,
            url: row.try_get("url")?,
            fetch_url: row.try_get("fetch_url")?,
            name: row.try_get("name")?,
            origin: row.try_get("origin")?,
            enabled: row.try_get("enabled")?,
            disabled_reason: row.try_get("disabled_reason")?,
            interval_secs: row.try_get("interval_secs")?,
            last_status: status.as_deref().map(FeedStatus::from_stored),
            last_error: row.try_get("last_error")?,
            error_count: row.try_get("error_count")?,
            etag: row.try_get("etag")?,
            last_modified: row.try_get("last_modified")?,
            next_poll_at: row.try_get("next_poll_at")?,
            next_poll_reason: row.try_get("next_poll_reason")?,
            retry_after_until: row.try_get("retry_after_until")?,
            last_polled_at: row.try_get("last_polled_at")?,
            last_success_at: row.try_get("last_success_at")?,
            redirect_target: row.try_get("redirect_target")?,
            redirect_streak: row.try_get("redirect_streak")?,
            ttl_secs: row.try_get("ttl_secs")?,
            current_interval_secs: row.try_get("current_interval_secs")?,
            new_per_poll: row.try_get("new_per_poll")?,
            title: row.try_get("title")?,
            site_url: row.try_get("site_url")?,
        })
    }
}
