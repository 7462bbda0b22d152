//! What one poll decided, before anything is written: the rows to write and
//! the status to report. Pure: the policy and the jitter draw are
//! parameters.

use chrono::{DateTime, Utc};

use crate::metrics::PollStatus;
use crate::scheduler::{plan_next, FeedSchedule, Outcome, Policy};
use crate::store::{FeedRow, FeedUpdate, FetchedSchedule, NewEntry, PollUpdate};

/// One poll's result, recorded once (`Poller::record`).
#[derive(Debug)]
pub enum PollOutcome {
    /// Not polled (a live Retry-After) or stopped by shutdown: nothing to
    /// write.
    Skipped(PollStatus),
    /// Only the feed's row changes; `status` is reported once it is written.
    Row {
        update: FeedUpdate,
        status: PollStatus,
    },
    /// A parsed feed: its entries, and its row with the schedule the writer
    /// plans from how many of them were new. Reported as [`PollStatus::Ok`]
    /// with the writer's counts.
    Entries {
        entries: Vec<NewEntry>,
        update: PollUpdate,
    },
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PollReport {
    pub feed_id: i64,
    pub url: String,
    pub status: PollStatus,
}

impl std::fmt::Display for PollReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "feed {} {}: ", self.feed_id, self.url)?;
        match &self.status {
            PollStatus::Ok {
                new_items,
                new_articles,
            } => write!(
                f,
                "ok, {new_items} new entries, {new_articles} new articles"
            ),
            PollStatus::NotModified => write!(f, "not modified"),
            PollStatus::Failed { error } => write!(f, "error: {error}"),
            PollStatus::Gone => write!(
                f,
                "gone (HTTP 410): disabled; `newsd feeds enable` to retry"
            ),
            PollStatus::Deferred { until } => {
                write!(f, "deferred: server asked to wait until {until}")
            }
            PollStatus::Cancelled => write!(f, "cancelled by shutdown"),
        }
    }
}

/// A feed row's `last_status` after a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowStatus {
    Ok,
    NotModified,
    Error,
    /// Refused by the SSRF guard.
    Blocked,
    Gone,
}

impl RowStatus {
    fn as_str(self) -> &'static str {
        match self {
            RowStatus::Ok => "ok",
            RowStatus::NotModified => "not_modified",
            RowStatus::Error => "error",
            RowStatus::Blocked => "blocked",
            RowStatus::Gone => "gone",
        }
    }
}

/// What the scheduler plans a poll's rows with, besides the feed's state:
/// the same for every row the poll may write.
#[derive(Debug, Clone, Copy)]
pub struct Planning {
    pub policy: Policy,
    pub now: DateTime<Utc>,
    /// Uniform in [-1, 1].
    pub jitter: f64,
}

/// The row update of a poll that changes nothing but its outcome.
pub fn unchanged(feed: &FeedRow, now: DateTime<Utc>) -> FeedUpdate {
    FeedUpdate {
        etag: feed.etag.clone(),
        last_modified: feed.last_modified.clone(),
        polled_at: now,
        fetch_url: feed.fetch_url.clone(),
        redirect_target: feed.redirect_target.clone(),
        redirect_streak: feed.redirect_streak,
        ..Default::default()
    }
}

fn schedule_of(feed: &FeedRow) -> FeedSchedule {
    FeedSchedule {
        configured_secs: feed.interval_secs,
        current_interval_secs: feed.current_interval_secs,
        new_per_poll: feed.new_per_poll,
        error_count: feed.error_count,
        ttl_secs: feed.ttl_secs,
    }
}

/// The row of a poll that failed: the error backoff (or the server's
/// Retry-After, when later); the adaptive state is kept.
pub fn failed(
    feed: &FeedRow,
    mut update: FeedUpdate,
    status: RowStatus,
    error: String,
    retry_after: Option<DateTime<Utc>>,
    p: &Planning,
) -> FeedUpdate {
    let now = p.now;
    let plan = plan_next(
        &schedule_of(feed),
        &Outcome::Failed { retry_after },
        &p.policy,
        now,
        p.jitter,
    );
    update.last_status = status.as_str().to_owned();
    update.last_error = Some(error);
    update.error_count = plan.error_count;
    update.success = false;
    update.retry_after_until = retry_after.filter(|r| *r > now);
    update.next_poll_at = plan.next_poll_at;
    update.next_poll_reason = plan.reason;
    update.current_interval_secs = feed.current_interval_secs;
    update.new_per_poll = feed.new_per_poll;
    update.ttl_secs = feed.ttl_secs;
    update
}

fn succeeded(mut update: FeedUpdate, status: RowStatus) -> FeedUpdate {
    update.last_status = status.as_str().to_owned();
    update.last_error = None;
    update.error_count = 0;
    update.success = true;
    update.retry_after_until = None;
    update
}

/// The row of a poll answered 304 Not Modified.
pub fn not_modified(feed: &FeedRow, update: FeedUpdate, p: &Planning) -> FeedUpdate {
    let plan = plan_next(
        &schedule_of(feed),
        &Outcome::NotModified,
        &p.policy,
        p.now,
        p.jitter,
    );
    let mut update = succeeded(update, RowStatus::NotModified);
    update.schedule_from(&plan);
    update
}

/// The row of a feed fetched and parsed; its schedule waits for the count
/// of new entries, which only the writer knows (it plans at the `now` the
/// poll is recorded with).
pub fn fetched(
    feed: &FeedRow,
    update: FeedUpdate,
    ttl_secs: Option<i64>,
    p: &Planning,
) -> PollUpdate {
    PollUpdate {
        row: succeeded(update, RowStatus::Ok),
        schedule: Some(FetchedSchedule {
            state: schedule_of(feed),
            ttl_secs,
            policy: p.policy,
            jitter: p.jitter,
        }),
    }
}
