//! Google News links: what an item brings (its id, related coverage), the
//! resolution queue's rows and the request budget, as every engine
//! returns them. The SQL is the engine's (`sqlite/google_links.rs`).

use chrono::{DateTime, DurationRound, Utc};

use crate::google_news::{Pace, PaceRule};
use crate::store::time::{parse_ts, ts};

/// Related coverage an item lists.
#[derive(Debug, Clone, Default)]
pub struct Hint {
    pub url: String,
    pub title: String,
    pub source: Option<String>,
    /// The Google article id of `url`: what a hint is matched by.
    pub google_id: Option<String>,
}

/// A Google item's extra state, attached to a [`NewEntry`](crate::store::NewEntry).
#[derive(Debug, Clone, Default)]
pub struct GoogleEntry {
    pub google_id: String,
    /// The id carried the publisher URL (the entry's `url` is it).
    pub decoded: bool,
    /// The id can never be resolved (e.g. a video id).
    pub unresolvable: Option<String>,
    pub provisional_key: Option<String>,
    pub hl: String,
    pub gl: String,
    pub ceid: String,
    pub hints: Vec<Hint>,
}

#[derive(Debug, Clone)]
pub struct PendingLink {
    pub google_id: String,
    pub article_id: i64,
    pub hl: String,
    pub gl: String,
    pub ceid: String,
    pub signature: Option<String>,
    pub sig_timestamp: Option<i64>,
    pub attempts: i64,
}

/// What the Google links first seen since some time cost: how many
/// needed an article-page GET, and how many still wait (no GET yet).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct LinkCosts {
    pub new: i64,
    pub needed_get: i64,
    pub queued: i64,
}

/// How a Google link was placed, for `newsd resolve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkPlacement {
    pub status: LinkStatus,
    /// What the link resolved to (a `decoded` or `resolved` link).
    pub publisher_url: Option<String>,
    /// The URL of the article the link is on (for a `joined` link, the
    /// article that placed it).
    pub article_url: Option<String>,
    /// Article-page GETs it cost, consent retries included.
    pub gets: i64,
    pub last_error: Option<String>,
}

/// A [`LinkPlacement`] as stored: `(status, publisher_url, article url,
/// gets, last_error)`.
pub(crate) type PlacementRow = (String, Option<String>, Option<String>, i64, Option<String>);

impl LinkPlacement {
    pub(crate) fn from_stored(row: PlacementRow) -> Self {
        let (status, publisher_url, article_url, gets, last_error) = row;
        LinkPlacement {
            status: LinkStatus::from_stored(&status),
            publisher_url,
            // An unresolved article's `url` is the Google link itself.
            article_url: article_url.filter(|_| status != "pending"),
            gets,
            last_error,
        }
    }
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct GoogleQueueStats {
    pub pending: i64,
    pub pending_signed: i64,
    pub resolved: i64,
    pub decoded: i64,
    pub joined: i64,
    pub failed: i64,
    /// One budget per egress that ever spent one, by name.
    pub egresses: Vec<EgressBudget>,
}

/// One egress's Google budget as stored (`google_news.egress`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct EgressBudget {
    pub egress: String,
    pub breaker_open_until: Option<String>,
    pub breaker_trips: i64,
    pub last_get_at: Option<String>,
    pub gets_total: i64,
    pub posts_total: i64,
    /// HTTP 429 answers (lockouts are `breaker_trips`).
    pub rate_limited_total: i64,
    pub last_lockout_at: Option<String>,
    /// The learned pace as stored (refill it to now to show it): one token
    /// per `pace_interval_ms`, `pace_tokens` at `pace_at`. None before the
    /// first GET.
    pub pace_interval_ms: Option<i64>,
    pub pace_tokens: Option<f64>,
    pub pace_at: Option<String>,
}

/// A Google budget row as the stats read it: `(egress, open_until, trips,
/// last_trip_at, last_get_at, gets_total, posts_total, rate_limited_total,
/// pace_interval_ms, pace_tokens, pace_at)`.
pub(crate) type BudgetStatsRow = (
    String,
    Option<String>,
    i64,
    Option<String>,
    Option<String>,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<f64>,
    Option<String>,
);

/// The columns of [`BudgetStatsRow`], in its order.
pub(crate) const BUDGET_STATS_COLUMNS: &str = "egress, open_until, trips, last_trip_at, \
    last_get_at, gets_total, posts_total, rate_limited_total, pace_interval_ms, pace_tokens, pace_at";

impl GoogleQueueStats {
    /// The stats from `(status, links, signed links)` rows, one per stored
    /// status, and the budget rows. Every failed status adds to `failed`.
    pub(crate) fn from_counts(
        counts: Vec<(String, i64, i64)>,
        budgets: Vec<BudgetStatsRow>,
    ) -> Self {
        let mut s = GoogleQueueStats::default();
        for (status, n, signed) in counts {
            match LinkStatus::from_stored(&status) {
                LinkStatus::Pending => {
                    s.pending = n;
                    s.pending_signed = signed;
                }
                LinkStatus::Resolved => s.resolved = n,
                LinkStatus::Decoded => s.decoded = n,
                LinkStatus::Joined => s.joined = n,
                LinkStatus::Failed => s.failed += n,
            }
        }
        s.egresses = budgets.into_iter().map(EgressBudget::from_stored).collect();
        s
    }

    /// The budget of `egress`, if it ever had one.
    pub fn egress(&self, egress: &str) -> Option<&EgressBudget> {
        self.egresses.iter().find(|b| b.egress == egress)
    }
}

impl EgressBudget {
    fn from_stored(row: BudgetStatsRow) -> Self {
        let (
            egress,
            open_until,
            trips,
            last_trip_at,
            last_get_at,
            gets,
            posts,
            rate_limited,
            ms,
            tokens,
            at,
        ) = row;
        EgressBudget {
            egress,
            breaker_open_until: open_until,
            breaker_trips: trips,
            last_lockout_at: last_trip_at,
            last_get_at,
            gets_total: gets,
            posts_total: posts,
            rate_limited_total: rate_limited,
            pace_interval_ms: ms,
            pace_tokens: tokens,
            pace_at: at,
        }
    }

    /// The stored pace, if a GET ever set it.
    pub fn pace(&self) -> Option<Pace> {
        pace_from_stored(
            self.pace_interval_ms,
            self.pace_tokens,
            self.pace_at.as_deref(),
            0,
        )
    }
}

#[derive(Debug, Clone, Default)]
pub struct Budget {
    pub open_until: Option<DateTime<Utc>>,
    pub last_get_at: Option<DateTime<Utc>>,
    /// The learned pace; None before the first GET (the bucket starts full).
    pub pace: Option<Pace>,
}

/// The budget row as the resolver reads it: `(open_until, last_get_at,
/// pace_interval_ms, pace_tokens, pace_at, pace_successes)`.
pub(crate) type BudgetRow = (
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<f64>,
    Option<String>,
    i64,
);

/// A new egress's budget row (its first use); another instance may be
/// making it too. Portable (`$n`): both engines run these statements.
pub(crate) const BUDGET_CREATE: &str =
    "INSERT INTO google_budget (egress) VALUES ($1) ON CONFLICT (egress) DO NOTHING";

/// An egress's pace written back, with a lockout if one tripped (`$6` its
/// end, `$7` when, `$8` whether a 429 said so).
pub(crate) const BUDGET_WRITE: &str = "UPDATE google_budget SET pace_interval_ms = $2, \
    pace_tokens = $3, pace_at = $4, pace_successes = $5, open_until = COALESCE($6, open_until), \
    trips = trips + CASE WHEN $7 IS NULL THEN 0 ELSE 1 END, \
    last_trip_at = COALESCE($7, last_trip_at), \
    rate_limited_total = rate_limited_total + CASE WHEN $8 THEN 1 ELSE 0 END \
    WHERE egress = $1";

/// One request to Google counted on its egress (`$2`: a GET, else a POST),
/// the row made if the egress never took a token.
pub(crate) const BUDGET_COUNT: &str = "INSERT INTO google_budget \
    (egress, gets_total, posts_total, last_get_at) \
    VALUES ($1, CASE WHEN $2 THEN 1 ELSE 0 END, CASE WHEN $2 THEN 0 ELSE 1 END, \
      CASE WHEN $2 THEN $3 END) \
    ON CONFLICT (egress) DO UPDATE SET \
      gets_total = google_budget.gets_total + CASE WHEN $2 THEN 1 ELSE 0 END, \
      posts_total = google_budget.posts_total + CASE WHEN $2 THEN 0 ELSE 1 END, \
      last_get_at = CASE WHEN $2 THEN $3 ELSE google_budget.last_get_at END";

/// The body of both engines' `google_budget_event`, inside the transaction
/// `$tx` the engine opened: the egress's row read with `$select` (under the
/// engine's lock on it), made on the egress's first use (another instance
/// may be making it too), `$event` applied and the result written back.
/// Evaluates to the [`TokenGrant`]; the engine commits.
macro_rules! apply_budget_event {
    ($tx:ident, $select:expr, $egress:expr, $rule:expr, $event:expr, $now:expr) => {{
        let select: &str = $select;
        let found: Option<crate::store::google_links::BudgetRow> = sqlx::query_as(select)
            .bind($egress)
            .fetch_optional(&mut *$tx)
            .await?;
        let row = match found {
            Some(row) => row,
            None => {
                sqlx::query(crate::store::google_links::BUDGET_CREATE)
                    .bind($egress)
                    .execute(&mut *$tx)
                    .await?;
                sqlx::query_as(select)
                    .bind($egress)
                    .fetch_one(&mut *$tx)
                    .await?
            }
        };
        let budget = crate::store::google_links::Budget::from_stored(row);
        let (write, grant) = $event.apply(&budget, $rule, $now);
        if let Some(w) = write {
            let (interval_ms, tokens, at, successes) = w.pace;
            sqlx::query(crate::store::google_links::BUDGET_WRITE)
                .bind($egress)
                .bind(interval_ms)
                .bind(tokens)
                .bind(at)
                .bind(successes)
                .bind(w.open_until)
                .bind(w.tripped_at)
                .bind(w.rate_limited)
                .execute(&mut *$tx)
                .await?;
        }
        grant
    }};
}
pub(crate) use apply_budget_event;

/// The columns of [`BudgetRow`], in its order.
pub(crate) const BUDGET_COLUMNS: &str =
    "open_until, last_get_at, pace_interval_ms, pace_tokens, pace_at, pace_successes";

impl Budget {
    /// The budget from its stored row; a time that does not parse counts as
    /// none (breaker closed, no GET yet, a fresh pace).
    pub(crate) fn from_stored(row: BudgetRow) -> Self {
        let (open_until, last_get_at, ms, tokens, at, successes) = row;
        Budget {
            open_until: open_until.as_deref().and_then(parse_ts),
            last_get_at: last_get_at.as_deref().and_then(parse_ts),
            pace: pace_from_stored(ms, tokens, at.as_deref(), successes),
        }
    }
}

/// What taking a token for an article-page GET gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenGrant {
    /// A token was taken: the GET may be sent.
    Taken,
    /// The egress's breaker is open until then: nothing may be sent.
    CoolingDown(DateTime<Utc>),
    /// The pace has no token before then.
    NotBefore(DateTime<Utc>),
}

/// What happened to an egress's GETs, applied to its learned pace under the
/// row's lock (`google_news::pace`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaceEvent {
    /// A further GET of a lookup under way (a consent retry), on credit.
    Credit,
    /// Google answered a GET.
    Succeeded,
    /// Google locked the egress out: the breaker opens until `until`.
    /// `rate_limited`: it answered 429 (rather than a `/sorry/` page).
    LockedOut {
        until: DateTime<Utc>,
        rate_limited: bool,
    },
}

/// A change of an egress's budget row.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BudgetEvent {
    Take,
    Pace(PaceEvent),
}

/// What an engine writes back into a budget row.
#[derive(Debug, Clone)]
pub(crate) struct BudgetWrite {
    /// `(pace_interval_ms, pace_tokens, pace_at, pace_successes)`.
    pub(crate) pace: (i64, f64, String, i64),
    /// The breaker opens (or stays open) until this.
    pub(crate) open_until: Option<String>,
    /// Set by a lockout: `trips` and `last_trip_at` (this time) count it.
    pub(crate) tripped_at: Option<String>,
    pub(crate) rate_limited: bool,
}

impl BudgetEvent {
    /// The event applied to the budget as read under its row's lock: what
    /// to write back, if anything, and (for a take) what it gave. The same
    /// rule as one process's, so instances sharing an egress together keep
    /// one process's pace.
    pub(crate) fn apply(
        self,
        budget: &Budget,
        rule: &PaceRule,
        now: DateTime<Utc>,
    ) -> (Option<BudgetWrite>, TokenGrant) {
        let open = budget.open_until.filter(|u| *u > now);
        let mut pace = rule.refilled(budget.pace.unwrap_or_else(|| rule.fresh(now)), now);
        let mut write = BudgetWrite {
            pace: (0, 0.0, String::new(), 0),
            open_until: None,
            tripped_at: None,
            rate_limited: false,
        };
        match self {
            BudgetEvent::Take => {
                if let Some(until) = open {
                    return (None, TokenGrant::CoolingDown(until));
                }
                if !rule.take(&mut pace) {
                    return (None, TokenGrant::NotBefore(rule.next_token_at(&pace)));
                }
            }
            BudgetEvent::Pace(PaceEvent::Credit) => rule.spend_on_credit(&mut pace),
            BudgetEvent::Pace(PaceEvent::Succeeded) => rule.succeeded(&mut pace),
            BudgetEvent::Pace(PaceEvent::LockedOut {
                until,
                rate_limited,
            }) => {
                // Instances on one egress see one lockout at once: the pace
                // halves once for it, however many of them were answered 429.
                if open.is_none() {
                    rule.locked_out(&mut pace);
                }
                // Stored to the second, rounded up: a cool-down never ends early.
                let until = open.map_or(until, |o| o.max(until));
                let whole = until
                    .duration_trunc(chrono::TimeDelta::seconds(1))
                    .unwrap_or(until);
                let until = if whole < until {
                    whole + chrono::TimeDelta::seconds(1)
                } else {
                    until
                };
                write.open_until = Some(ts(until));
                write.tripped_at = Some(ts(now));
                write.rate_limited = rate_limited;
            }
        }
        write.pace = pace_to_stored(&pace);
        (Some(write), TokenGrant::Taken)
    }
}

fn pace_from_stored(
    interval_ms: Option<i64>,
    tokens: Option<f64>,
    at: Option<&str>,
    successes: i64,
) -> Option<Pace> {
    Some(Pace {
        interval: std::time::Duration::from_millis(u64::try_from(interval_ms?).ok()?),
        tokens: tokens.filter(|t| t.is_finite())?,
        at: parse_ts(at?)?,
        successes: u32::try_from(successes).unwrap_or(0),
    })
}

/// A pace as stored: `(pace_interval_ms, pace_tokens, pace_at,
/// pace_successes)`.
fn pace_to_stored(p: &Pace) -> (i64, f64, String, i64) {
    (
        i64::try_from(p.interval.as_millis()).unwrap_or(i64::MAX),
        p.tokens,
        // Milliseconds: at a pace of seconds, a time rounded to the second
        // would mint a few per cent more tokens than it should.
        p.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        i64::from(p.successes),
    )
}

/// Where a Google link is in its resolution, stored as its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkStatus {
    /// Waiting for a lookup.
    Pending,
    /// Looked up: the publisher URL is known.
    Resolved,
    /// The id carried the publisher URL, read offline.
    Decoded,
    /// Its story resolved through another link: no lookup of its own.
    Joined,
    /// Given up on, or never resolvable (e.g. a video id).
    Failed,
}

impl LinkStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkStatus::Pending => "pending",
            LinkStatus::Resolved => "resolved",
            LinkStatus::Decoded => "decoded",
            LinkStatus::Joined => "joined",
            LinkStatus::Failed => "failed",
        }
    }

    /// A stored status; anything unknown counts as failed, as the queue
    /// never looks it up again.
    pub fn from_stored(s: &str) -> Self {
        match s {
            "pending" => LinkStatus::Pending,
            "resolved" => LinkStatus::Resolved,
            "decoded" => LinkStatus::Decoded,
            "joined" => LinkStatus::Joined,
            _ => LinkStatus::Failed,
        }
    }
}
