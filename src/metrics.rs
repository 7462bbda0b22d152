//! What only the running process can count: polls as they finish and how late
//! each scheduled poll started. Everything else on `/metrics` is read from the
//! database at scrape time; these counters live in memory and start from zero
//! with each `newsd run` (Prometheus' `rate()` handles the reset).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds, in seconds, of the lateness histogram's buckets: fine where a
/// healthy scheduler lives (well under a second), coarse for a backlog.
pub const LATENESS_BUCKETS: [f64; 13] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0,
];

/// What became of one poll. Defined here, with the labels it is counted
/// under, so that counting a poll needs nothing from the poll stage.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PollStatus {
    Ok {
        new_items: usize,
        new_articles: usize,
    },
    NotModified,
    Failed {
        error: String,
    },
    /// HTTP 410: the feed is disabled until re-enabled.
    Gone,
    /// A live Retry-After: not polled.
    Deferred {
        until: String,
    },
    /// Shutdown arrived before the poll finished; nothing was written.
    Cancelled,
}

/// Poll outcomes as `/metrics` labels them, in [`PollMetrics`]' slot order.
pub const OUTCOMES: [&str; 6] = [
    "ok",
    "not_modified",
    "failed",
    "gone",
    "deferred",
    "cancelled",
];

fn outcome_slot(status: &PollStatus) -> usize {
    match status {
        PollStatus::Ok { .. } => 0,
        PollStatus::NotModified => 1,
        PollStatus::Failed { .. } => 2,
        PollStatus::Gone => 3,
        PollStatus::Deferred { .. } => 4,
        PollStatus::Cancelled => 5,
    }
}

/// Shared by the scheduler (writes) and the API (reads); lock-free so a poll
/// never waits on a scrape.
#[derive(Debug, Default)]
pub struct PollMetrics {
    polls: [AtomicU64; OUTCOMES.len()],
    /// Per bucket, not cumulative; the last slot is `+Inf`.
    lateness: [AtomicU64; LATENESS_BUCKETS.len() + 1],
    lateness_sum_micros: AtomicU64,
}

/// A consistent-enough copy for one scrape (each counter is read once).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PollMetricsSnapshot {
    /// `(outcome, polls)`, every outcome listed.
    pub polls: Vec<(&'static str, u64)>,
    /// Cumulative counts per bucket bound in [`LATENESS_BUCKETS`], then `+Inf`.
    pub lateness_cumulative: Vec<u64>,
    pub lateness_count: u64,
    pub lateness_sum_secs: f64,
}

impl PollMetrics {
    /// One finished poll, whatever became of it.
    pub fn record_poll(&self, status: &PollStatus) {
        self.polls[outcome_slot(status)].fetch_add(1, Ordering::Relaxed);
    }

    /// How long after its `next_poll_at` a scheduled poll started (zero when
    /// it started early or on time).
    pub fn observe_lateness(&self, late: Duration) {
        let secs = late.as_secs_f64();
        let slot = LATENESS_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENESS_BUCKETS.len());
        self.lateness[slot].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(late.as_micros()).unwrap_or(u64::MAX);
        self.lateness_sum_micros
            .fetch_add(micros, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> PollMetricsSnapshot {
        let polls = OUTCOMES
            .iter()
            .zip(&self.polls)
            .map(|(name, n)| (*name, n.load(Ordering::Relaxed)))
            .collect();
        let mut running = 0;
        let lateness_cumulative: Vec<u64> = self
            .lateness
            .iter()
            .map(|n| {
                running += n.load(Ordering::Relaxed);
                running
            })
            .collect();
        PollMetricsSnapshot {
            polls,
            lateness_count: running,
            lateness_cumulative,
            lateness_sum_secs: self.lateness_sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_lands_in_the_first_bucket_that_holds_it_and_counts_cumulatively() {
        let m = PollMetrics::default();
        m.observe_lateness(Duration::ZERO);
        m.observe_lateness(Duration::from_millis(300));
        m.observe_lateness(Duration::from_secs(1));
        m.observe_lateness(Duration::from_secs(5000));
        let s = m.snapshot();
        assert_eq!(s.lateness_count, 4);
        assert_eq!(s.lateness_cumulative.len(), LATENESS_BUCKETS.len() + 1);
        // 0.05 s holds the zero, 0.5 s the 300 ms, 1 s (inclusive) the second.
        assert_eq!(&s.lateness_cumulative[..5], &[1, 1, 1, 2, 3]);
        assert_eq!(s.lateness_cumulative[LATENESS_BUCKETS.len() - 1], 3);
        assert_eq!(s.lateness_cumulative[LATENESS_BUCKETS.len()], 4);
        assert!((s.lateness_sum_secs - 5001.3).abs() < 1e-6);
    }

    #[test]
    fn every_outcome_is_counted_under_its_own_label() {
        let m = PollMetrics::default();
        m.record_poll(&PollStatus::NotModified);
        m.record_poll(&PollStatus::Failed { error: "x".into() });
        m.record_poll(&PollStatus::Failed { error: "y".into() });
        let s = m.snapshot();
        assert_eq!(s.polls.len(), OUTCOMES.len());
        assert!(s.polls.contains(&("not_modified", 1)));
        assert!(s.polls.contains(&("failed", 2)));
        assert!(s.polls.contains(&("ok", 0)));
    }
}
