//! The pace of article-page GETs, learned from Google: a token bucket whose
//! refill interval doubles after each lockout (HTTP 429, a redirect to
//! `/sorry/`) and shrinks by a tenth after every run of successes, within
//! configured bounds. Google gives no Retry-After and no allowance, so the
//! only way to learn an IP's allowance is to back off when it is exceeded
//! and creep back while it is not. Pure: the resolver loads a [`Pace`],
//! applies these rules with the clock it is given, and stores it again.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The bounds and steps of the learned pace (from `google_news.*`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaceRule {
    /// The fastest pace: one token per this, at most (`get_interval`).
    pub min_interval: Duration,
    /// The slowest pace a run of lockouts can reach (`max_get_interval`).
    pub max_interval: Duration,
    /// Tokens the bucket holds at most (`get_burst`).
    pub burst: u32,
    /// Successes in a row that speed the pace up by a tenth (`speedup_after`).
    pub speedup_after: u32,
}

/// The bucket's state, as stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    /// One token refills per this.
    pub interval: Duration,
    /// Tokens at `at`; below zero after a consent retry spent one on credit.
    pub tokens: f64,
    pub at: DateTime<Utc>,
    /// Successful GETs since the last lockout or speed-up.
    pub successes: u32,
}

/// The least a token may be owed: a lookup's consent retry spends one it
/// may not have, paid back before the next lookup.
const MAX_DEBT: f64 = -1.0;

impl PaceRule {
    /// A bucket never used: full, at the fastest pace.
    pub fn fresh(&self, now: DateTime<Utc>) -> Pace {
        Pace {
            interval: self.min_interval,
            tokens: f64::from(self.burst),
            at: now,
            successes: 0,
        }
    }

    /// A stored bucket under the current rule (the bounds may have changed
    /// since it was stored), refilled up to `now`.
    pub fn refilled(&self, p: Pace, now: DateTime<Utc>) -> Pace {
        let interval = self.clamp(p.interval);
        let elapsed = (now - p.at).to_std().unwrap_or(Duration::ZERO);
        let gained = if interval.is_zero() {
            f64::INFINITY
        } else {
            elapsed.as_secs_f64() / interval.as_secs_f64()
        };
        Pace {
            interval,
            tokens: (p.tokens.max(MAX_DEBT) + gained).min(f64::from(self.burst)),
            at: p.at.max(now),
            successes: p.successes,
        }
    }

    /// Takes a token for a lookup if one is there.
    pub fn take(&self, p: &mut Pace) -> bool {
        if p.tokens >= 1.0 {
            p.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// A further GET of a lookup already under way (a consent retry): it
    /// spends a token whether or not one is left.
    pub fn spend_on_credit(&self, p: &mut Pace) {
        p.tokens = (p.tokens - 1.0).max(MAX_DEBT);
    }

    /// A GET Google answered: after `speedup_after` in a row, a tenth faster.
    pub fn succeeded(&self, p: &mut Pace) {
        p.successes += 1;
        if p.successes >= self.speedup_after.max(1) {
            p.successes = 0;
            p.interval = self.clamp(p.interval.mul_f64(0.9));
        }
    }

    /// Google locked us out: half the pace, and the bucket is empty.
    pub fn locked_out(&self, p: &mut Pace) {
        p.successes = 0;
        p.interval = self.clamp(p.interval.saturating_mul(2));
        p.tokens = p.tokens.min(0.0);
    }

    /// When the next whole token is there (`p.at` if it is already).
    pub fn next_token_at(&self, p: &Pace) -> DateTime<Utc> {
        if p.tokens >= 1.0 {
            return p.at;
        }
        let wait = self.clamp(p.interval).mul_f64(1.0 - p.tokens);
        p.at + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX)
    }

    fn clamp(&self, d: Duration) -> Duration {
        d.clamp(self.min_interval, self.max_interval.max(self.min_interval))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn rule() -> PaceRule {
        PaceRule {
            min_interval: Duration::from_secs(30),
            max_interval: Duration::from_secs(600),
            burst: 3,
            speedup_after: 20,
        }
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()
    }

    fn secs(s: i64) -> chrono::Duration {
        chrono::Duration::seconds(s)
    }

    #[test]
    fn a_fresh_bucket_gives_its_burst_then_one_token_per_interval() {
        let r = rule();
        let mut p = r.fresh(t0());
        for _ in 0..3 {
            assert!(r.take(&mut p));
        }
        assert!(!r.take(&mut p), "the burst is spent");
        assert_eq!(r.next_token_at(&p), t0() + secs(30));
        let mut p = r.refilled(p, t0() + secs(29));
        assert!(!r.take(&mut p));
        let mut p = r.refilled(p, t0() + secs(30));
        assert!(r.take(&mut p));
        assert!(!r.take(&mut p));
    }

    #[test]
    fn tokens_never_pile_up_beyond_the_burst() {
        let r = rule();
        let p = r.refilled(r.fresh(t0()), t0() + secs(86_400));
        assert_eq!(p.tokens, 3.0);
    }

    #[test]
    fn a_lockout_doubles_the_interval_and_empties_the_bucket_up_to_the_maximum() {
        let r = rule();
        let mut p = r.fresh(t0());
        r.locked_out(&mut p);
        assert_eq!(p.interval, Duration::from_secs(60));
        assert_eq!(p.tokens, 0.0);
        assert_eq!(r.next_token_at(&p), t0() + secs(60));
        for _ in 0..10 {
            r.locked_out(&mut p);
        }
        assert_eq!(
            p.interval,
            Duration::from_secs(600),
            "never above the maximum"
        );
    }

    #[test]
    fn every_run_of_successes_speeds_up_by_a_tenth_never_below_the_minimum() {
        let r = rule();
        let mut p = r.fresh(t0());
        r.locked_out(&mut p);
        r.locked_out(&mut p);
        assert_eq!(p.interval, Duration::from_secs(120));
        for _ in 0..19 {
            r.succeeded(&mut p);
        }
        assert_eq!(
            p.interval,
            Duration::from_secs(120),
            "not before 20 in a row"
        );
        r.succeeded(&mut p);
        assert_eq!(p.interval, Duration::from_secs(108));
        for _ in 0..20 * 30 {
            r.succeeded(&mut p);
        }
        assert_eq!(
            p.interval,
            Duration::from_secs(30),
            "never below the minimum"
        );
    }

    #[test]
    fn a_lockout_restarts_the_count_of_successes() {
        let r = rule();
        let mut p = r.fresh(t0());
        r.locked_out(&mut p);
        for _ in 0..19 {
            r.succeeded(&mut p);
        }
        r.locked_out(&mut p);
        r.succeeded(&mut p);
        assert_eq!(p.interval, Duration::from_secs(120));
    }

    #[test]
    fn a_consent_retry_spends_on_credit_paid_back_before_the_next_lookup() {
        let r = rule();
        let mut p = r.fresh(t0());
        p.tokens = 1.0;
        assert!(r.take(&mut p));
        r.spend_on_credit(&mut p);
        r.spend_on_credit(&mut p);
        assert_eq!(p.tokens, -1.0, "the debt is bounded");
        assert_eq!(r.next_token_at(&p), t0() + secs(60));
        let mut p = r.refilled(p, t0() + secs(59));
        assert!(!r.take(&mut p));
    }

    #[test]
    fn a_stored_bucket_is_read_under_changed_bounds() {
        let r = rule();
        let stored = Pace {
            interval: Duration::from_secs(3600),
            tokens: 0.0,
            at: t0(),
            successes: 0,
        };
        let p = r.refilled(stored, t0());
        assert_eq!(p.interval, Duration::from_secs(600));
        let faster = PaceRule {
            min_interval: Duration::from_secs(5),
            ..r
        };
        let p = faster.refilled(r.fresh(t0()), t0());
        assert_eq!(p.interval, Duration::from_secs(30), "learned pace kept");
    }

    #[test]
    fn a_clock_running_backwards_refills_nothing() {
        let r = rule();
        let mut p = r.fresh(t0());
        p.tokens = 0.0;
        let p = r.refilled(p, t0() - secs(3600));
        assert_eq!((p.tokens, p.at), (0.0, t0()));
    }
}
