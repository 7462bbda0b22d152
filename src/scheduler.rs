//! When to poll each feed next. Pure: the clock and the random jitter are
//! parameters, so every rule here is tested without waiting.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// New entries per poll the adaptive interval aims for: often enough that a
/// busy feed never scrolls items off between polls, rarely enough that a quiet
/// one costs little.
const TARGET_NEW_PER_POLL: f64 = 3.0;
/// Weight of the newest poll in the smoothed new-entries rate.
const EWMA_WEIGHT: f64 = 0.3;
/// A permanent redirect must be seen this many polls in a row before the
/// fetch URL follows it (a misconfigured server for one poll must not move a feed).
pub const PERMANENT_REDIRECT_POLLS: i64 = 3;

#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub default_interval: Duration,
    pub min_interval: Duration,
    pub max_interval: Duration,
    pub jitter: f64,
}

/// The scheduling state a feed carries between polls.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FeedSchedule {
    /// A fixed interval from the config or CLI; disables adaptation.
    pub configured_secs: Option<i64>,
    pub current_interval_secs: Option<i64>,
    pub new_per_poll: Option<f64>,
    pub error_count: i64,
    pub ttl_secs: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Fetched {
        new_items: usize,
        ttl_secs: Option<i64>,
    },
    NotModified,
    Failed {
        retry_after: Option<DateTime<Utc>>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub next_poll_at: DateTime<Utc>,
    pub reason: String,
    pub interval_secs: i64,
    pub new_per_poll: Option<f64>,
    pub error_count: i64,
    pub ttl_secs: Option<i64>,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Decides the next poll. `jitter_draw` is uniform in [-1, 1].
pub fn plan_next(
    state: &FeedSchedule,
    outcome: &Outcome,
    policy: &Policy,
    now: DateTime<Utc>,
    jitter_draw: f64,
) -> Plan {
    let min = secs(policy.min_interval);
    let max = secs(policy.max_interval).max(min);
    let current = state
        .current_interval_secs
        .map(|s| s as f64)
        .or(state.configured_secs.map(|s| s as f64))
        .unwrap_or_else(|| secs(policy.default_interval));
    match outcome {
        Outcome::Failed { retry_after } => {
            let errors = state.error_count + 1;
            let exp = (errors - 1).clamp(0, 30) as i32;
            let backoff = (current * 2f64.powi(exp)).min(max);
            let jittered = apply_jitter(backoff, policy.jitter, jitter_draw).min(max);
            let mut next = now + chrono_secs(jittered);
            let mut reason = format!(
                "retry after {errors} consecutive error{}: backoff {}",
                if errors == 1 { "" } else { "s" },
                human(jittered)
            );
            if let Some(ra) = retry_after {
                if *ra > next {
                    next = *ra;
                    reason = "server asked to retry later (Retry-After)".to_owned();
                }
            }
            Plan {
                next_poll_at: next,
                reason,
                interval_secs: current.round() as i64,
                new_per_poll: state.new_per_poll,
                error_count: errors,
                ttl_secs: state.ttl_secs,
            }
        }
        Outcome::Fetched { .. } | Outcome::NotModified => {
            let (new_items, ttl) = match outcome {
                Outcome::Fetched {
                    new_items,
                    ttl_secs,
                } => (*new_items as f64, ttl_secs.or(state.ttl_secs)),
                _ => (0.0, state.ttl_secs),
            };
            let ewma = match state.new_per_poll {
                Some(old) => old * (1.0 - EWMA_WEIGHT) + new_items * EWMA_WEIGHT,
                None => new_items,
            };
            let (mut interval, mut reason) = match state.configured_secs {
                Some(c) => (c as f64, "configured interval".to_owned()),
                None => {
                    let desired = if ewma < 0.05 {
                        current * 1.5
                    } else {
                        current * TARGET_NEW_PER_POLL / ewma
                    };
                    // Move gradually so one burst or lull does not swing the schedule.
                    let stepped = desired.clamp(current / 2.0, current * 2.0).clamp(min, max);
                    (
                        stepped,
                        format!("adaptive: about {ewma:.1} new entries per poll"),
                    )
                }
            };
            if let Some(t) = ttl {
                let t = t as f64;
                if interval < t {
                    interval = t.min(max.max(t));
                    reason = "feed's <ttl> asks not to poll sooner".to_owned();
                }
            }
            let jittered = apply_jitter(interval, policy.jitter, jitter_draw);
            Plan {
                next_poll_at: now + chrono_secs(jittered),
                reason: format!("{reason}; every {}", human(interval)),
                interval_secs: interval.round() as i64,
                new_per_poll: Some(ewma),
                error_count: 0,
                ttl_secs: ttl,
            }
        }
    }
}

fn apply_jitter(secs: f64, jitter: f64, draw: f64) -> f64 {
    (secs * (1.0 + jitter * draw.clamp(-1.0, 1.0))).max(1.0)
}

fn chrono_secs(s: f64) -> chrono::Duration {
    chrono::Duration::milliseconds((s * 1000.0).round() as i64)
}

fn human(s: f64) -> String {
    humantime::format_duration(Duration::from_secs(s.round().max(0.0) as u64)).to_string()
}

/// Permanent-redirect bookkeeping for one poll. `permanent_target` is where
/// this poll's permanent redirects (301/308, all of them) led, if anywhere.
/// Returns the new (target, streak) and, once the streak is long enough, the
/// URL to fetch from now on.
pub fn track_redirect(
    prev_target: Option<&str>,
    prev_streak: i64,
    permanent_target: Option<&str>,
) -> (Option<String>, i64, Option<String>) {
    match permanent_target {
        None => (None, 0, None),
        Some(t) => {
            let streak = if prev_target == Some(t) {
                prev_streak + 1
            } else {
                1
            };
            if streak >= PERMANENT_REDIRECT_POLLS {
                (None, 0, Some(t.to_owned()))
            } else {
                (Some(t.to_owned()), streak, None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            default_interval: Duration::from_secs(900),
            min_interval: Duration::from_secs(300),
            max_interval: Duration::from_secs(86400),
            jitter: 0.1,
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-28T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn fetched(n: usize) -> Outcome {
        Outcome::Fetched {
            new_items: n,
            ttl_secs: None,
        }
    }

    #[test]
    fn a_busy_feed_is_polled_more_often_and_a_quiet_one_less() {
        let mut busy = FeedSchedule::default();
        let mut quiet = FeedSchedule::default();
        for _ in 0..20 {
            let p = plan_next(&busy, &fetched(30), &policy(), now(), 0.0);
            busy.current_interval_secs = Some(p.interval_secs);
            busy.new_per_poll = p.new_per_poll;
            let p = plan_next(&quiet, &Outcome::NotModified, &policy(), now(), 0.0);
            quiet.current_interval_secs = Some(p.interval_secs);
            quiet.new_per_poll = p.new_per_poll;
        }
        assert_eq!(busy.current_interval_secs, Some(300), "clamped at min");
        assert_eq!(quiet.current_interval_secs, Some(86400), "clamped at max");
    }

    #[test]
    fn a_configured_interval_is_kept_exactly() {
        let s = FeedSchedule {
            configured_secs: Some(1800),
            ..Default::default()
        };
        let p = plan_next(&s, &fetched(100), &policy(), now(), 0.0);
        assert_eq!(p.interval_secs, 1800);
        assert_eq!(p.next_poll_at, now() + chrono::Duration::seconds(1800));
    }

    #[test]
    fn rss_ttl_is_a_lower_bound() {
        let p = plan_next(
            &FeedSchedule::default(),
            &Outcome::Fetched {
                new_items: 50,
                ttl_secs: Some(3600),
            },
            &policy(),
            now(),
            0.0,
        );
        assert_eq!(p.interval_secs, 3600);
        assert!(p.reason.contains("ttl"));
    }

    #[test]
    fn errors_back_off_exponentially_up_to_the_cap() {
        let mut s = FeedSchedule::default();
        let mut gaps = Vec::new();
        for _ in 0..12 {
            let p = plan_next(
                &s,
                &Outcome::Failed { retry_after: None },
                &policy(),
                now(),
                0.0,
            );
            gaps.push((p.next_poll_at - now()).num_seconds());
            s.error_count = p.error_count;
        }
        assert_eq!(&gaps[..3], &[900, 1800, 3600]);
        assert_eq!(*gaps.last().unwrap(), 86400);
        assert_eq!(s.error_count, 12);
        let ok = plan_next(&s, &fetched(1), &policy(), now(), 0.0);
        assert_eq!(ok.error_count, 0);
    }

    #[test]
    fn retry_after_postpones_beyond_the_backoff() {
        let later = now() + chrono::Duration::hours(3);
        let p = plan_next(
            &FeedSchedule::default(),
            &Outcome::Failed {
                retry_after: Some(later),
            },
            &policy(),
            now(),
            0.0,
        );
        assert_eq!(p.next_poll_at, later);
        assert!(p.reason.contains("Retry-After"));
    }

    #[test]
    fn jitter_spreads_within_the_fraction() {
        let s = FeedSchedule {
            configured_secs: Some(1000),
            ..Default::default()
        };
        let lo = plan_next(&s, &fetched(0), &policy(), now(), -1.0);
        let hi = plan_next(&s, &fetched(0), &policy(), now(), 1.0);
        assert_eq!((lo.next_poll_at - now()).num_seconds(), 900);
        assert_eq!((hi.next_poll_at - now()).num_seconds(), 1100);
    }

    #[test]
    fn a_permanent_redirect_moves_the_fetch_url_after_three_polls_in_a_row() {
        let (t, s, moved) = track_redirect(None, 0, Some("https://new/"));
        assert_eq!((t.as_deref(), s, moved), (Some("https://new/"), 1, None));
        let (t, s, moved) = track_redirect(t.as_deref(), s, Some("https://new/"));
        assert_eq!((s, moved), (2, None));
        let (_, _, moved) = track_redirect(t.as_deref(), s, Some("https://new/"));
        assert_eq!(moved.as_deref(), Some("https://new/"));
        let (t, s, _) = track_redirect(Some("https://new/"), 2, None);
        assert_eq!((t, s), (None, 0));
    }
}
