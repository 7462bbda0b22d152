//! Noticing that Google changed its protocol: a step of the resolution that
//! Google answers but that never succeeds any more (article pages without a
//! signature, batchexecute answers without a URL) is not a rate limit or a
//! network fault, and retrying will not fix it. Pure: the resolver records
//! each answered attempt with its clock and logs the warning this returns.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// A step of the resolution protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The article-page GET and its `data-n-a-sg` signature.
    ArticlePage,
    /// The batchexecute POST and its publisher URL.
    Batchexecute,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::ArticlePage => "article-page GET (signature)",
            Step::Batchexecute => "batchexecute POST (publisher URL)",
        }
    }
}

/// A step failing long enough to warn about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failing {
    pub step: Step,
    pub failures: u32,
    pub since: DateTime<Utc>,
    pub last_error: String,
}

#[derive(Debug, Clone, Default)]
struct StepState {
    /// The first failure since the last success, and how many followed.
    since: Option<DateTime<Utc>>,
    failures: u32,
    warned: bool,
}

/// Every answered attempt of each step, as failing streaks.
#[derive(Debug, Clone)]
pub struct ProtocolWatch {
    window: Duration,
    min_failures: u32,
    page: StepState,
    batch: StepState,
}

/// Warn when every attempt of a step failed for an hour...
pub const FAILING_FOR: Duration = Duration::from_secs(3600);
/// ...and at least this many times (a quiet hour proves nothing).
pub const MIN_FAILURES: u32 = 5;

impl Default for ProtocolWatch {
    fn default() -> Self {
        ProtocolWatch::new(FAILING_FOR, MIN_FAILURES)
    }
}

impl ProtocolWatch {
    pub fn new(window: Duration, min_failures: u32) -> Self {
        ProtocolWatch {
            window,
            min_failures,
            page: StepState::default(),
            batch: StepState::default(),
        }
    }

    fn state(&mut self, step: Step) -> &mut StepState {
        match step {
            Step::ArticlePage => &mut self.page,
            Step::Batchexecute => &mut self.batch,
        }
    }

    /// A success ends the step's streak (and re-arms its warning).
    pub fn succeeded(&mut self, step: Step) {
        *self.state(step) = StepState::default();
    }

    /// A failure Google answered. `Some` once per streak, when the step has
    /// failed every time for the window and at least `min_failures` times.
    pub fn failed(&mut self, step: Step, error: &str, now: DateTime<Utc>) -> Option<Failing> {
        let (window, min_failures) = (self.window, self.min_failures);
        let s = self.state(step);
        let since = *s.since.get_or_insert(now);
        s.failures += 1;
        let long = (now - since).to_std().is_ok_and(|d| d >= window);
        if s.warned || !long || s.failures < min_failures {
            return None;
        }
        s.warned = true;
        Some(Failing {
            step,
            failures: s.failures,
            since,
            last_error: error.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap() + chrono::Duration::minutes(min)
    }

    #[test]
    fn a_step_failing_every_time_for_an_hour_warns_once_naming_the_step() {
        let mut w = ProtocolWatch::default();
        for m in [0, 15, 30, 45] {
            assert_eq!(w.failed(Step::ArticlePage, "no signature", t(m)), None);
        }
        let warning = w.failed(Step::ArticlePage, "no signature", t(60)).unwrap();
        assert_eq!(warning.step, Step::ArticlePage);
        assert_eq!((warning.failures, warning.since), (5, t(0)));
        assert_eq!(
            w.failed(Step::ArticlePage, "no signature", t(75)),
            None,
            "once"
        );
    }

    #[test]
    fn a_success_ends_the_streak_and_rearms_the_warning() {
        let mut w = ProtocolWatch::new(FAILING_FOR, 2);
        w.failed(Step::ArticlePage, "x", t(0));
        w.succeeded(Step::ArticlePage);
        assert_eq!(
            w.failed(Step::ArticlePage, "x", t(61)),
            None,
            "a new streak"
        );
        assert!(w.failed(Step::ArticlePage, "x", t(121)).is_some());
        w.succeeded(Step::ArticlePage);
        w.failed(Step::ArticlePage, "x", t(200));
        assert!(
            w.failed(Step::ArticlePage, "x", t(300)).is_some(),
            "re-armed"
        );
    }

    #[test]
    fn few_failures_or_another_steps_success_do_not_warn() {
        let mut w = ProtocolWatch::default();
        w.failed(Step::Batchexecute, "no url", t(0));
        assert_eq!(
            w.failed(Step::Batchexecute, "no url", t(600)),
            None,
            "two in ten hours"
        );
        w.succeeded(Step::ArticlePage);
        for m in [601, 602] {
            assert_eq!(w.failed(Step::Batchexecute, "no url", t(m)), None);
        }
        assert!(
            w.failed(Step::Batchexecute, "no url", t(603)).is_some(),
            "the fifth, ten hours into the streak"
        );
    }
}
