//! The poll of one feed: fetch, parse and normalize (no writes), giving one
//! [`PollOutcome`]; then its recording, one store call and one count.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use rand::Rng;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, instrument, warn};
use url::Url;

use crate::config::Settings;
use crate::feed::parse_feed_served;
use crate::fetch::{FetchError, FetchRequest, FetchResponse, Fetcher};
use crate::google_news::{self, Edition};
use crate::metrics::{PollMetrics, PollStatus};
use crate::rules::{FeedRef, RuleSet, Subject};
use crate::scheduler::{track_redirect, Policy};
use crate::store::{FeedRow, FeedStatus, NewEntry, Rulings, Store};

use super::entry::to_new_entry;
use super::outcome::{self, Planning, PollOutcome, PollReport};

const FEED_ACCEPT: &str = "application/rss+xml, application/atom+xml, application/feed+json, \
    application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5";

/// Polls in flight per fetch permit: those past their fetch wait for the
/// writer, and bounding them bounds the parsed entries held in memory.
pub const POLLS_PER_FETCH: usize = 2;

/// Whether a poll respects the schedule (`run`) or polls now (`poll --once`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollMode {
    Scheduled,
    /// Ignore the schedule and error backoff, but not a live Retry-After.
    Now,
}

/// What a poll holds only while it uses the network and parses: its fetch
/// permit and its host's politeness slot. Given back once the feed is
/// parsed, so the next fetch starts while this poll's entries wait for the
/// store's writer, which then finds more polls to commit together.
pub struct FetchSlot(Option<Box<dyn FnOnce() + Send>>);

impl FetchSlot {
    pub fn new(release: impl FnOnce() + Send + 'static) -> Self {
        FetchSlot(Some(Box::new(release)))
    }

    pub fn release(&mut self) {
        if let Some(release) = self.0.take() {
            release();
        }
    }
}

impl Drop for FetchSlot {
    fn drop(&mut self) {
        self.release();
    }
}

/// A recorded poll.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub report: PollReport,
    /// Whether the outcome reached the database. When it did not (disk
    /// full, I/O error), the feed's row still says it is due: the caller
    /// must hold off before polling it again.
    pub written: bool,
}

/// Polls feeds; cheap to clone.
#[derive(Clone)]
pub struct Poller {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    fetcher: Fetcher,
    policy: Policy,
    max_entries: usize,
    google_base: Url,
    edition: Edition,
    max_concurrent_fetches: usize,
    metrics: Arc<PollMetrics>,
    rules: Arc<RuleSet>,
    /// Feeds parsed at once: one core fewer than the machine has (at least
    /// one). With a parse per poll in flight, the parses crowded the store's
    /// writer thread, the one stage that cannot run in parallel, off the CPU.
    parses: Semaphore,
}

impl Poller {
    pub fn new(store: Store, fetcher: Fetcher, settings: &Settings, rules: Arc<RuleSet>) -> Self {
        let s = &settings.scheduler;
        Poller {
            inner: Arc::new(Inner {
                store,
                fetcher,
                policy: Policy {
                    default_interval: s.default_interval.0,
                    min_interval: s.min_interval.0,
                    max_interval: s.max_interval.0,
                    jitter: s.jitter,
                },
                max_entries: s.max_entries_per_poll,
                google_base: settings.google_news.base(),
                edition: settings.google_news.edition.clone(),
                max_concurrent_fetches: s.max_concurrent_fetches,
                metrics: Arc::default(),
                rules,
                parses: Semaphore::new(parse_permits()),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn fetcher(&self) -> &Fetcher {
        &self.inner.fetcher
    }

    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// Poll counters and scheduling lateness, for `/metrics`.
    pub fn metrics(&self) -> &Arc<PollMetrics> {
        &self.inner.metrics
    }

    /// Polls `feeds` now or by their schedule (`mode`), up to
    /// `scheduler.max_concurrent_fetches` fetches at once, and waits for all
    /// of them (`newsd poll --once`).
    pub async fn poll_each(
        &self,
        feeds: Vec<FeedRow>,
        now: DateTime<Utc>,
        mode: PollMode,
    ) -> Vec<PollReport> {
        let cancel = CancellationToken::new();
        let fetches = self.inner.max_concurrent_fetches;
        let permits = Arc::new(Semaphore::new(fetches));
        futures::stream::iter(feeds)
            .map(|feed| {
                let cancel = cancel.clone();
                let permits = permits.clone();
                async move {
                    let permit = permits.acquire_owned().await;
                    // A feed that a running instance is polling is left to it.
                    match self.store().claim_feed(feed.id, now, false).await {
                        Ok(true) => {}
                        Ok(false) => return None,
                        Err(e) => {
                            warn!(feed_id = feed.id, error = %e, "cannot claim the feed; not polled");
                            return None;
                        }
                    }
                    let slot = FetchSlot::new(move || drop(permit));
                    Some(self.poll_feed(&feed, now, mode, &cancel, slot).await.report)
                }
            })
            .buffer_unordered(fetches * POLLS_PER_FETCH)
            .filter_map(std::future::ready)
            .collect()
            .await
    }

    /// One poll of one feed, recorded. Never fails: a broken feed is
    /// recorded on its row and reported. `slot` is given back once the feed
    /// is parsed, before the poll waits for the writer.
    #[instrument(skip_all, fields(feed_id = feed.id, url = %feed.fetch_url))]
    pub async fn poll_feed(
        &self,
        feed: &FeedRow,
        now: DateTime<Utc>,
        mode: PollMode,
        cancel: &CancellationToken,
        slot: FetchSlot,
    ) -> Recorded {
        let outcome = self.poll(feed, now, mode, cancel, slot).await;
        self.record(feed, outcome, now).await
    }

    /// Fetches and parses `feed`: what to record, nothing written yet.
    pub async fn poll(
        &self,
        feed: &FeedRow,
        now: DateTime<Utc>,
        mode: PollMode,
        cancel: &CancellationToken,
        slot: FetchSlot,
    ) -> PollOutcome {
        if mode == PollMode::Now {
            if let Some(until) = feed.retry_after().filter(|u| *u > now) {
                return PollOutcome::Skipped(PollStatus::Deferred {
                    until: crate::store::ts(until),
                });
            }
        }
        let fetched = tokio::select! {
            r = self.fetch_feed(feed) => r,
            _ = cancel.cancelled() => return PollOutcome::Skipped(PollStatus::Cancelled),
        };
        // From here on the work is local and short: it completes (and is
        // recorded) even during shutdown.
        self.outcome_of(feed, fetched, now, slot).await
    }

    /// Writes `outcome` (one store call) and counts it (one metrics call).
    pub async fn record(
        &self,
        feed: &FeedRow,
        outcome: PollOutcome,
        now: DateTime<Utc>,
    ) -> Recorded {
        let store = &self.inner.store;
        let written = match outcome {
            PollOutcome::Skipped(status) => Ok(status),
            PollOutcome::Row { update, status } => store
                .record_poll_outcome(feed.id, &update)
                .await
                .map(|()| status),
            PollOutcome::Entries {
                entries,
                update,
                rulings,
            } => match store.record_poll(feed.id, entries, now, update).await {
                Ok(stored) => {
                    // After the entries, whose articles the tags go to. If this
                    // fails, the blocked entries are judged again next poll and
                    // `newsd rules apply` adds the tags.
                    if !rulings.is_empty() {
                        if let Err(e) = store.record_rulings(feed.id, &rulings, now).await {
                            warn!(error = %e, "recording the rules' decisions failed");
                        }
                    }
                    Ok(PollStatus::Ok {
                        new_items: stored.new_items,
                        new_articles: stored.new_articles,
                    })
                }
                Err(e) => Err(e),
            },
        };
        let (status, written) = match written {
            Ok(status) => {
                match &status {
                    PollStatus::Failed { error } => warn!(%error, "feed poll failed"),
                    PollStatus::Deferred { .. } | PollStatus::Cancelled => {}
                    s => info!(status = ?s, "feed polled"),
                }
                (status, true)
            }
            Err(e) => {
                let error = format!("{:#}", anyhow::Error::from(e));
                warn!(%error, "storing poll failed");
                (
                    PollStatus::Failed {
                        error: error.clone(),
                    },
                    self.record_storing_failure(feed, error, now).await,
                )
            }
        };
        self.inner.metrics.record_poll(&status);
        Recorded {
            report: PollReport {
                feed_id: feed.id,
                url: feed.url.clone(),
                status,
            },
            written,
        }
    }

    /// The poll's transaction rolled back and the row still says "due now":
    /// the failure is recorded with the usual error backoff, or the feed is
    /// fetched again at once, over and over. Whether that could be written.
    async fn record_storing_failure(
        &self,
        feed: &FeedRow,
        error: String,
        now: DateTime<Utc>,
    ) -> bool {
        let update = outcome::failed(
            feed,
            outcome::unchanged(feed, now),
            FeedStatus::Error,
            error,
            None,
            &self.planning(now),
        );
        match self.inner.store.record_poll_outcome(feed.id, &update).await {
            Ok(()) => true,
            Err(e) => {
                warn!(error = %e, "recording the failed poll failed too");
                false
            }
        }
    }

    fn planning(&self, now: DateTime<Utc>) -> Planning {
        Planning {
            policy: self.inner.policy,
            now,
            jitter: rand::thread_rng().gen_range(-1.0..=1.0),
        }
    }

    async fn fetch_feed(&self, feed: &FeedRow) -> Result<FetchResponse, FetchError> {
        let url = Url::parse(&feed.fetch_url).map_err(|e| FetchError::InvalidUrl {
            url: feed.fetch_url.clone(),
            reason: e.to_string(),
        })?;
        let mut req = FetchRequest::get(url);
        req.etag = feed.etag.clone();
        req.last_modified = feed.last_modified.clone();
        req.accept = Some(FEED_ACCEPT.to_owned());
        // Subscribed feeds are fetched as feed readers do; their own
        // Retry-After is honoured per feed by the scheduler.
        req.ignore_host_backoff = true;
        self.inner.fetcher.fetch(req).await
    }

    async fn outcome_of(
        &self,
        feed: &FeedRow,
        fetched: Result<FetchResponse, FetchError>,
        now: DateTime<Utc>,
        mut slot: FetchSlot,
    ) -> PollOutcome {
        // Only a 2xx response keeps its slot past this point, to be parsed
        // (or, from an unsupported Google edition, recorded as an error);
        // the rest are only recorded, and the writer may keep them waiting.
        if !matches!(&fetched, Ok(r) if (200..=299).contains(&r.status)) {
            slot.release();
        }
        let planning = self.planning(now);
        let failed = |update, status, error: String, retry_after| PollOutcome::Row {
            update: outcome::failed(feed, update, status, error.clone(), retry_after, &planning),
            status: PollStatus::Failed { error },
        };
        let mut update = outcome::unchanged(feed, now);
        let mut resp = match fetched {
            Ok(r) => r,
            Err(e) => {
                let status = match e {
                    FetchError::Blocked { .. } => FeedStatus::Blocked,
                    _ => FeedStatus::Error,
                };
                return failed(update, status, e.to_string(), None);
            }
        };
        let permanent =
            !resp.hops.is_empty() && resp.hops.iter().all(|h| matches!(h.status, 301 | 308));
        let (target, streak, moved) = track_redirect(
            feed.redirect_target.as_deref(),
            feed.redirect_streak,
            permanent.then(|| resp.url.as_str()),
        );
        update.redirect_target = target;
        update.redirect_streak = streak;
        if let Some(moved) = moved {
            info!(to = %moved, "feed moved permanently; fetching from the new URL");
            update.fetch_url = moved;
        }
        match resp.status {
            304 => PollOutcome::Row {
                update: outcome::not_modified(feed, update, &planning),
                status: PollStatus::NotModified,
            },
            410 => {
                let error = "HTTP 410 Gone: the feed was removed".to_owned();
                let mut update =
                    outcome::failed(feed, update, FeedStatus::Gone, error, None, &planning);
                update.disable_reason = Some("gone".into());
                PollOutcome::Row {
                    update,
                    status: PollStatus::Gone,
                }
            }
            200..=299 if google_news::is_unsupported_feed_url(&resp.url) => {
                let error = format!(
                    "configuration error: Google News answered {} (this feed is not available for its edition)",
                    resp.url
                );
                failed(update, FeedStatus::Error, error, None)
            }
            200..=299 => {
                let base = resp.url.clone();
                let max_entries = self.inner.max_entries;
                // Taken, not shared: a parsed poll waiting for the writer
                // holds its entries, not the document too.
                let body = std::mem::take(&mut resp.body);
                let ctype = resp.content_type.take();
                let (google_base, edition) =
                    (self.inner.google_base.clone(), self.inner.edition.clone());
                // Normalizing the entries is CPU work like parsing: both stay
                // off the runtime's workers, which carry every poll's I/O.
                // Never closed, so the permit is always granted.
                let parsing = self.inner.parses.acquire().await;
                let (rules, feed_id, feed_url) =
                    (self.inner.rules.clone(), feed.id, feed.url.clone());
                let parsed = tokio::task::spawn_blocking(move || {
                    parse_feed_served(&body, ctype.as_deref(), &base, max_entries).map(|parsed| {
                        let entries: Vec<NewEntry> = parsed
                            .entries
                            .iter()
                            .filter_map(|e| to_new_entry(e, &base, &google_base, &edition))
                            .collect();
                        let feed = FeedRef {
                            id: feed_id,
                            url: &feed_url,
                        };
                        let (entries, rulings) = judge_entries(&rules, feed, entries);
                        (parsed, entries, rulings)
                    })
                })
                .await;
                drop(parsing);
                slot.release();
                let (parsed, entries, rulings) = match parsed {
                    Ok(Ok(p)) => p,
                    Ok(Err(e)) => return failed(update, FeedStatus::Error, e.to_string(), None),
                    // Like a poll that could not be stored: recorded on the
                    // row as it was, without this response's redirect.
                    Err(e) => {
                        let error = format!("feed parser task: {e}");
                        return failed(
                            outcome::unchanged(feed, now),
                            FeedStatus::Error,
                            error,
                            None,
                        );
                    }
                };
                update.etag = resp.etag.clone();
                update.last_modified = resp.last_modified.clone();
                update.title = parsed.title.clone();
                update.site_url = parsed.site_url.clone();
                let ttl = parsed.ttl_minutes.map(|m| i64::from(m) * 60);
                // Entries the rules blocked were storable: not a broken feed.
                let note = parsed.status_note(entries.len() + rulings.blocked.len());
                let mut update = outcome::fetched(feed, update, ttl, &planning);
                // A repaired document, or entries none of which could be
                // stored, is said on the row of a poll that succeeded.
                update.row.last_error = note;
                PollOutcome::Entries {
                    entries,
                    update,
                    rulings,
                }
            }
            status => {
                let retry_after = if matches!(status, 429 | 503) {
                    resp.retry_after
                } else {
                    None
                };
                let error = format!("HTTP {status} from {}", resp.url);
                failed(update, FeedStatus::Error, error, retry_after)
            }
        }
    }
}

/// Applies `[[rules]]` to a poll's entries: those blocked (or kept by no
/// keep rule of the feed) leave the list for a tombstone; the tags of the
/// rest are recorded by entry key.
fn judge_entries(
    rules: &RuleSet,
    feed: FeedRef<'_>,
    entries: Vec<NewEntry>,
) -> (Vec<NewEntry>, Rulings) {
    let mut rulings = Rulings::default();
    if rules.is_empty() {
        return (entries, rulings);
    }
    let kept = entries
        .into_iter()
        .filter(|e| {
            let verdict = rules.judge(
                feed,
                &Subject {
                    title: e.title.as_deref(),
                    url: e.url.as_deref(),
                    publisher: e.publisher.as_deref(),
                    summary: e.summary.as_deref(),
                    text: None,
                },
            );
            let key = e.entry_key.as_str();
            if let Some(rule) = verdict.removed_by {
                debug!(entry = key, %rule, "entry not stored by a rule");
                rulings.blocked.push(key.to_owned());
                return false;
            }
            rulings
                .tagged
                .extend(verdict.tags.into_iter().map(|t| (key.to_owned(), t)));
            true
        })
        .collect();
    (kept, rulings)
}

/// Permits for parsing: every core but one, which is left to the store's
/// writer thread.
fn parse_permits() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
}
