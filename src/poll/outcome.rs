//! What one poll decided, before anything is written: the rows to write and
//! the status to report. Pure: the policy and the jitter draw are
//! parameters.

use chrono::{DateTime, Utc};

use crate::metrics::PollStatus;
use crate::scheduler::{plan_next, FeedSchedule, Outcome, Policy};
use crate::store::{
    FeedRow, FeedStatus, FeedUpdate, FetchedSchedule, NewEntry, PollUpdate, Rulings,
};

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
        /// What `[[rules]]` decided of them: the blocked entries are not in
        /// `entries`.
        rulings: Rulings,
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
    status: FeedStatus,
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
    update.last_status = status;
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

fn succeeded(mut update: FeedUpdate, status: FeedStatus) -> FeedUpdate {
    update.last_status = status;
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
    let mut update = succeeded(update, FeedStatus::NotModified);
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
        row: succeeded(update, FeedStatus::Ok),
        schedule: Some(FetchedSchedule {
            state: schedule_of(feed),
            ttl_secs,
            policy: p.policy,
            jitter: p.jitter,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn planning() -> Planning {
        Planning {
            policy: Policy {
                default_interval: Duration::from_secs(900),
                min_interval: Duration::from_secs(300),
                max_interval: Duration::from_secs(86_400),
                jitter: 0.1,
            },
            now: DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
            jitter: 0.0,
        }
    }

    /// A feed that has failed once, with an adaptive state worth keeping.
    fn feed() -> FeedRow {
        FeedRow {
            id: 1,
            url: "https://f.example/rss".into(),
            fetch_url: "https://f.example/rss".into(),
            name: None,
            origin: "config".into(),
            enabled: true,
            disabled_reason: None,
            interval_secs: None,
            last_status: Some(FeedStatus::Error),
            last_error: Some("HTTP 500".into()),
            error_count: 1,
            etag: Some("\"v1\"".into()),
            last_modified: None,
            next_poll_at: "2023-11-14T22:13:20.000Z".into(),
            next_poll_reason: None,
            retry_after_until: None,
            last_polled_at: None,
            last_success_at: None,
            redirect_target: None,
            redirect_streak: 0,
            ttl_secs: Some(900),
            current_interval_secs: Some(600),
            new_per_poll: Some(2.0),
            title: None,
            site_url: None,
        }
    }

    #[test]
    fn a_failed_poll_backs_off_and_keeps_the_feeds_adaptive_state() {
        let (f, p) = (feed(), planning());
        let past = p.now - chrono::Duration::hours(1);
        let u = failed(
            &f,
            unchanged(&f, p.now),
            FeedStatus::Error,
            "boom".into(),
            Some(past),
            &p,
        );
        assert_eq!(u.last_status, FeedStatus::Error);
        assert_eq!(u.last_error.as_deref(), Some("boom"));
        assert!(!u.success);
        assert_eq!(u.error_count, 2);
        // The second error in a row doubles the interval; a Retry-After
        // already past is neither waited for nor kept.
        assert_eq!(u.next_poll_at, p.now + chrono::Duration::seconds(1200));
        assert_eq!(u.retry_after_until, None);
        assert_eq!(
            (u.current_interval_secs, u.new_per_poll, u.ttl_secs),
            (Some(600), Some(2.0), Some(900))
        );
        assert_eq!(u.etag, f.etag, "validators survive a failure");
    }

    #[test]
    fn a_not_modified_poll_clears_the_errors_and_counts_as_nothing_new() {
        let (f, p) = (feed(), planning());
        let u = not_modified(&f, unchanged(&f, p.now), &p);
        assert_eq!(u.last_status, FeedStatus::NotModified);
        assert!(u.success);
        assert_eq!((u.error_count, u.last_error), (0, None));
        let rate = u.new_per_poll.unwrap_or_default();
        assert!((rate - 1.4).abs() < 1e-9, "{rate}");
    }

    #[test]
    fn a_fetched_poll_leaves_its_schedule_to_the_writer_with_the_feeds_state() {
        let (f, p) = (feed(), planning());
        let u = fetched(&f, unchanged(&f, p.now), Some(1800), &p);
        assert_eq!(u.row.last_status, FeedStatus::Ok);
        assert!(u.row.success);
        assert_eq!(u.row.error_count, 0);
        let s = u
            .schedule
            .expect("a fetched poll's schedule is planned on write");
        assert_eq!(s.state, schedule_of(&f));
        assert_eq!(s.ttl_secs, Some(1800));
        assert_eq!(s.jitter, p.jitter);
    }
}
