//! Wiring: settings, store and HTTP client, the poll of one feed, and the
//! background loop. Each loop is a thin shell around a `*_once(now)` function.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use rand::Rng;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, instrument, warn, Instrument};
use url::Url;

use crate::config::Settings;
use crate::domain::{strip_tracking, CanonicalUrl, EntryKey};
use crate::feed::{parse_feed_served, ParsedEntry};
use crate::fetch::{FetchConfig, FetchError, FetchRequest, FetchResponse, Fetcher};
use crate::fulltext::{FulltextReport, FulltextWorker};
use crate::google_news::{self, Edition};
use crate::metrics::PollMetrics;
use crate::resolver::{ResolveReport, Resolver};
use crate::scheduler::{plan_next, track_redirect, FeedSchedule, Outcome, Policy};
use crate::store::{
    FeedRow, FeedUpdate, GoogleEntry, Hint, NewEntry, NewFeed, PruneReport, Store, StoreError,
};

/// How often the scheduler looks at the database even when nothing is due,
/// so feeds added by `newsd feeds add` are picked up within a minute.
const RESCAN_EVERY: Duration = Duration::from_secs(60);
/// How long the full-text worker sleeps when its queue is empty.
const FULLTEXT_IDLE_WAIT: Duration = Duration::from_secs(5);
/// How often the running daemon assigns new articles to stories.
const CLUSTER_EVERY: Duration = Duration::from_secs(30);
/// How often the database gets its upkeep (checkpoint, optimize, vacuum).
const MAINTENANCE_EVERY: Duration = Duration::from_secs(6 * 3600);
/// How often the running daemon's housekeeping loop looks for work: new
/// articles reach search within about this long.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(1);

/// What one round of the daemon's housekeeping did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HousekeepingReport {
    /// Articles added to the search indexes.
    pub indexed: usize,
    /// Story clustering ran (every 30 s).
    pub clustered: bool,
    /// The database got its upkeep (every 6 hours).
    pub maintained: bool,
    /// Retention ran (every `retention.prune_interval`, when a limit is
    /// set), and what it pruned.
    pub pruned: Option<PruneReport>,
}

/// When the daemon's periodic housekeeping jobs last ran.
#[derive(Debug, Clone)]
pub struct Housekeeping {
    clustered_at: DateTime<Utc>,
    maintained_at: DateTime<Utc>,
    pruned_at: Option<DateTime<Utc>>,
}

impl Housekeeping {
    /// Clustering and upkeep first fall due a period after `started`;
    /// pruning on the first round, so that a daemon restarted more often
    /// than `prune_interval` still prunes.
    pub fn new(started: DateTime<Utc>) -> Self {
        Housekeeping {
            clustered_at: started,
            maintained_at: started,
            pruned_at: None,
        }
    }
}

/// `every` has passed from `since` to `now` (never, if the clock went back).
fn has_passed(since: DateTime<Utc>, now: DateTime<Utc>, every: Duration) -> bool {
    (now - since).to_std().is_ok_and(|d| d >= every)
}

const FEED_ACCEPT: &str = "application/rss+xml, application/atom+xml, application/feed+json, \
    application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5";

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

/// Whether a poll respects the schedule (`run`) or polls now (`poll --once`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollMode {
    Scheduled,
    /// Ignore the schedule and error backoff, but not a live Retry-After.
    Now,
}

#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    store: Store,
    fetcher: Fetcher,
    policy: Policy,
    resolver: Resolver,
    fulltext: FulltextWorker,
    polls: Arc<PollMetrics>,
    /// Feeds parsed at once: one core fewer than the machine has (at least
    /// one). With a parse per poll in flight, the parses crowded the store's
    /// writer thread, the one stage that cannot run in parallel, off the CPU.
    parses: Semaphore,
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

/// Polls in flight per fetch permit: those past their fetch wait for the
/// writer, and bounding them bounds the parsed entries held in memory.
const POLLS_PER_FETCH: usize = 2;

pub fn fetch_config(settings: &Settings) -> FetchConfig {
    let h = &settings.http;
    FetchConfig {
        user_agent: h.user_agent.clone(),
        connect_timeout: h.connect_timeout.0,
        timeout: h.timeout.0,
        max_body_bytes: h.max_body_bytes.0,
        max_redirects: h.max_redirects,
        per_host_concurrency: h.per_host_concurrency,
        per_host_delay: h.per_host_delay.0,
        allow_networks: settings.allow_networks(),
        proxy: h.proxy(),
        min_transfer_rate: h.min_transfer_rate.0,
        min_transfer_window: h.min_transfer_window.0,
        max_header_bytes: usize::try_from(h.max_header_bytes.0).unwrap_or(usize::MAX),
    }
}

impl App {
    /// Opens (and migrates) the database and builds the HTTP client. The
    /// caller holds the writer lock.
    pub async fn build(settings: Settings) -> anyhow::Result<App> {
        let store = Store::open(&settings.database.url, settings.database.busy_timeout.0)
            .await
            .with_context(|| format!("opening database {}", settings.database.url))?;
        let fetcher = Fetcher::new(fetch_config(&settings)).context("building the HTTP client")?;
        let policy = Policy::from(&settings.scheduler);
        let resolver = Resolver::new(store.clone(), fetcher.clone(), settings.google_news.clone());
        // Hosts that asked us to wait before a restart are still waited for.
        for (host, until) in store.host_backoffs(Utc::now()).await? {
            fetcher.restore_host_backoff(&host, until);
        }
        let fulltext = FulltextWorker::new(store.clone(), fetcher.clone(), settings.clone());
        Ok(App {
            inner: Arc::new(Inner {
                settings,
                store,
                fetcher,
                policy,
                resolver,
                fulltext,
                polls: Arc::default(),
                parses: Semaphore::new(parse_permits()),
            }),
        })
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    pub fn resolver(&self) -> &Resolver {
        &self.inner.resolver
    }

    pub fn fulltext(&self) -> &FulltextWorker {
        &self.inner.fulltext
    }

    /// Poll counters and scheduling lateness, for `/metrics`.
    pub fn poll_metrics(&self) -> Arc<PollMetrics> {
        self.inner.polls.clone()
    }

    /// One round of full-text work as the daemon runs it.
    pub async fn fulltext_once(&self, now: DateTime<Utc>) -> anyhow::Result<FulltextReport> {
        let x = &self.inner.settings.extract;
        if !x.enabled {
            return Ok(FulltextReport::default());
        }
        let report = self
            .inner
            .fulltext
            .fulltext_once(now, x.max_concurrent * 2)
            .await?;
        // Stored text waits in the search-index queue like a new article.
        if report.taken > 0 {
            self.index_search().await;
        }
        Ok(report)
    }

    /// What `poll --once` fetches of full text: until the queue is empty or
    /// `extract.once_budget` has passed.
    pub async fn drain_fulltext_once(&self, now: DateTime<Utc>) -> anyhow::Result<FulltextReport> {
        let x = &self.inner.settings.extract;
        if !x.enabled {
            return Ok(FulltextReport::default());
        }
        let report = crate::fulltext::drain(&self.inner.fulltext, now, x.once_budget.0).await?;
        if report.taken > 0 {
            self.index_search().await;
        }
        Ok(report)
    }

    /// One round of Google link resolution as the daemon runs it: one paced
    /// article-page GET, a POST when a batch is ready.
    pub async fn resolve_once(&self, now: DateTime<Utc>) -> anyhow::Result<ResolveReport> {
        if !self.inner.settings.google_news.resolve {
            return Ok(ResolveReport::default());
        }
        self.inner.resolver.resolve_once(now, 1, false).await
    }

    /// What `poll --once` may spend on Google links right now: up to
    /// `google_news.gets_per_run` GETs, then POSTs until no signature is held.
    /// Never waits out a cool-down.
    pub async fn drain_resolution_once(&self, now: DateTime<Utc>) -> anyhow::Result<ResolveReport> {
        let g = &self.inner.settings.google_news;
        let mut total = ResolveReport::default();
        if !g.resolve {
            return Ok(total);
        }
        let mut gets_left = g.gets_per_run;
        loop {
            let r = self
                .inner
                .resolver
                .resolve_once(now, gets_left, true)
                .await?;
            gets_left = gets_left.saturating_sub(r.gets);
            total.gets += r.gets;
            total.posts += r.posts;
            total.resolved += r.resolved;
            total.failed += r.failed;
            if r.cooling_down_until.is_some() {
                total.cooling_down_until = r.cooling_down_until;
                break;
            }
            if r.gets == 0 && r.posts == 0 {
                break;
            }
        }
        Ok(total)
    }

    /// Upserts the config's `[[feeds]]` into the database.
    pub async fn sync_config_feeds(&self, now: DateTime<Utc>) -> anyhow::Result<()> {
        let settings = &self.inner.settings;
        let feeds: Vec<NewFeed> = settings
            .feeds
            .iter()
            .filter_map(|f| {
                // validate() already rejected configs with a bad feed URL.
                let url = settings.feed_url(f).ok()?;
                Some(NewFeed {
                    url: url.to_string(),
                    name: f.name.clone(),
                    interval_secs: f.interval.map(|d| d.0.as_secs().max(1) as i64),
                })
            })
            .collect();
        let report = self
            .inner
            .store
            .sync_config_feeds(&feeds, now)
            .await
            .context("syncing config feeds")?;
        info!(
            added = report.added,
            updated = report.updated,
            disabled = report.disabled,
            "config feeds synced"
        );
        Ok(())
    }

    /// Polls every feed that is due at `now`, waits for all of them.
    pub async fn poll_due_once(&self, now: DateTime<Utc>) -> anyhow::Result<Vec<PollReport>> {
        let due = self
            .inner
            .store
            .due_feeds(now, self.inner.settings.scheduler.batch_size)
            .await?;
        Ok(self.poll_many(due, now, PollMode::Scheduled).await)
    }

    /// Polls every enabled feed now (`newsd poll --once`).
    pub async fn poll_all_once(&self, now: DateTime<Utc>) -> anyhow::Result<Vec<PollReport>> {
        let feeds = self.inner.store.enabled_feeds().await?;
        Ok(self.poll_many(feeds, now, PollMode::Now).await)
    }

    async fn poll_many(
        &self,
        feeds: Vec<FeedRow>,
        now: DateTime<Utc>,
        mode: PollMode,
    ) -> Vec<PollReport> {
        let cancel = CancellationToken::new();
        let fetches = self.inner.settings.scheduler.max_concurrent_fetches;
        let permits = Arc::new(Semaphore::new(fetches));
        let reports = futures::stream::iter(feeds)
            .map(|feed| {
                let cancel = cancel.clone();
                let permits = permits.clone();
                async move {
                    let permit = permits.acquire_owned().await;
                    let slot = FetchSlot::new(move || drop(permit));
                    self.poll_feed(&feed, now, mode, &cancel, slot).await
                }
            })
            .buffer_unordered(fetches * POLLS_PER_FETCH)
            .collect()
            .await;
        self.index_search().await;
        reports
    }

    /// Brings the search indexes and story clusters up to date with what was
    /// stored.
    pub async fn index_new_articles(&self) {
        self.index_search().await;
        self.cluster_stories().await;
    }

    /// Story clustering is a downstream stage, like full text (whose text it
    /// compares): `poll --once` runs it after draining, the daemon on a timer.
    pub async fn cluster_once(&self) -> anyhow::Result<()> {
        self.inner
            .store
            .cluster_pending(Utc::now(), self.inner.settings.stories.window())
            .await?;
        Ok(())
    }

    /// How many articles went into the search indexes (0 when it failed).
    async fn index_search(&self) -> usize {
        self.inner
            .store
            .index_pending()
            .await
            .inspect_err(
                |e| warn!(error = %e, "full-text indexing failed; retried on the next round"),
            )
            .unwrap_or(0)
    }

    /// Also compares full text stored since the last call.
    async fn cluster_stories(&self) {
        if let Err(e) = self.cluster_once().await {
            warn!(error = %e, "story clustering failed; retried on the next round");
        }
    }

    /// One round of the daemon's housekeeping, by the clock `now`: search
    /// indexing of new articles, and whichever of clustering, database upkeep
    /// and retention have fallen due since they last ran (`state`). Failures
    /// are logged; the job is retried when it next falls due.
    pub async fn housekeeping_once(
        &self,
        state: &mut Housekeeping,
        now: DateTime<Utc>,
    ) -> HousekeepingReport {
        let mut report = HousekeepingReport {
            indexed: self.index_search().await,
            ..Default::default()
        };
        if has_passed(state.clustered_at, now, CLUSTER_EVERY) {
            state.clustered_at = now;
            self.cluster_stories().await;
            report.clustered = true;
        }
        if has_passed(state.maintained_at, now, MAINTENANCE_EVERY) {
            state.maintained_at = now;
            if let Err(e) = self.inner.store.maintenance().await {
                warn!(error = %e, "database maintenance failed");
            }
            report.maintained = true;
        }
        let retention = &self.inner.settings.retention;
        if retention.policy().is_active()
            && state
                .pruned_at
                .is_none_or(|at| has_passed(at, now, retention.prune_interval.0))
        {
            state.pruned_at = Some(now);
            match self.prune_once(now).await {
                Ok(r) => {
                    if r.articles > 0 {
                        info!(?r, "pruned old articles");
                    }
                    report.pruned = Some(r);
                }
                Err(e) => warn!(error = %e, "pruning failed"),
            }
        }
        report
    }

    /// One poll of one feed: fetch, parse, store, schedule. Never fails: a
    /// broken feed is recorded on its row and reported. `slot` is given
    /// back once the feed is parsed, before the poll waits for the writer.
    pub async fn poll_feed(
        &self,
        feed: &FeedRow,
        now: DateTime<Utc>,
        mode: PollMode,
        cancel: &CancellationToken,
        slot: FetchSlot,
    ) -> PollReport {
        self.poll_feed_recorded(feed, now, mode, cancel, slot)
            .await
            .0
    }

    /// [`Self::poll_feed`], also telling whether the outcome reached the
    /// database. When it did not (disk full, I/O error), the feed's row still
    /// says it is due: the caller must hold off before polling it again.
    #[instrument(skip_all, fields(feed_id = feed.id, url = %feed.fetch_url))]
    async fn poll_feed_recorded(
        &self,
        feed: &FeedRow,
        now: DateTime<Utc>,
        mode: PollMode,
        cancel: &CancellationToken,
        slot: FetchSlot,
    ) -> (PollReport, bool) {
        let report = |status| PollReport {
            feed_id: feed.id,
            url: feed.url.clone(),
            status,
        };
        if mode == PollMode::Now {
            if let Some(until) = feed.retry_after().filter(|u| *u > now) {
                let status = PollStatus::Deferred {
                    until: crate::store::ts(until),
                };
                self.inner.polls.record_poll(&status);
                return (report(status), true);
            }
        }
        let fetched = tokio::select! {
            r = self.fetch_feed(feed) => r,
            _ = cancel.cancelled() => {
                self.inner.polls.record_poll(&PollStatus::Cancelled);
                return (report(PollStatus::Cancelled), true);
            }
        };
        // From here on the work is local and short: it completes (or its
        // transaction rolls back) even during shutdown.
        let (status, recorded) = match self.store_poll(feed, fetched, now, slot).await {
            Ok(status) => {
                match &status {
                    PollStatus::Failed { error } => warn!(%error, "feed poll failed"),
                    s => info!(status = ?s, "feed polled"),
                }
                (status, true)
            }
            Err(e) => {
                let error = format!("{e:#}");
                warn!(%error, "storing poll failed");
                // The poll's transaction rolled back and the row still says
                // "due now": record the failure with the usual error backoff,
                // or the feed is fetched again at once, over and over.
                let mut update = self.unchanged_update(feed, now);
                self.fail(feed, &mut update, "error", error.clone(), None, now);
                let recorded = match self.inner.store.record_poll_outcome(feed.id, &update).await {
                    Ok(()) => true,
                    Err(e) => {
                        warn!(error = %e, "recording the failed poll failed too");
                        false
                    }
                };
                (PollStatus::Failed { error }, recorded)
            }
        };
        self.inner.polls.record_poll(&status);
        (report(status), recorded)
    }

    /// The row update of a poll that changes nothing but its outcome.
    fn unchanged_update(&self, feed: &FeedRow, now: DateTime<Utc>) -> FeedUpdate {
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

    async fn store_poll(
        &self,
        feed: &FeedRow,
        fetched: Result<FetchResponse, FetchError>,
        now: DateTime<Utc>,
        mut slot: FetchSlot,
    ) -> anyhow::Result<PollStatus> {
        // Only a 2xx response keeps its slot past this point, to be parsed
        // (or, from an unsupported Google edition, recorded as an error);
        // the rest are only recorded, and the writer may keep them waiting.
        if !matches!(&fetched, Ok(r) if (200..=299).contains(&r.status)) {
            slot.release();
        }
        let store = &self.inner.store;
        let mut update = self.unchanged_update(feed, now);
        let mut resp = match fetched {
            Ok(r) => r,
            Err(e) => {
                let status = match e {
                    FetchError::Blocked { .. } => "blocked",
                    _ => "error",
                };
                self.fail(feed, &mut update, status, e.to_string(), None, now);
                store.record_poll_outcome(feed.id, &update).await?;
                return Ok(PollStatus::Failed {
                    error: e.to_string(),
                });
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
            304 => {
                self.succeed(feed, &mut update, "not_modified", 0, None, now);
                store.record_poll_outcome(feed.id, &update).await?;
                Ok(PollStatus::NotModified)
            }
            410 => {
                self.fail(
                    feed,
                    &mut update,
                    "gone",
                    "HTTP 410 Gone: the feed was removed".into(),
                    None,
                    now,
                );
                update.disable_reason = Some("gone".into());
                store.record_poll_outcome(feed.id, &update).await?;
                Ok(PollStatus::Gone)
            }
            200..=299 if google_news::is_unsupported_feed_url(&resp.url) => {
                let error = format!(
                    "configuration error: Google News answered {} (this feed is not available for its edition)",
                    resp.url
                );
                self.fail(feed, &mut update, "error", error.clone(), None, now);
                store.record_poll_outcome(feed.id, &update).await?;
                Ok(PollStatus::Failed { error })
            }
            200..=299 => {
                let base = resp.url.clone();
                let max_entries = self.inner.settings.scheduler.max_entries_per_poll;
                // Taken, not shared: a parsed poll waiting for the writer
                // holds its entries, not the document too.
                let body = std::mem::take(&mut resp.body);
                let ctype = resp.content_type.take();
                let google = &self.inner.settings.google_news;
                let (google_base, edition) = (google.base(), google.edition.clone());
                // Normalizing the entries is CPU work like parsing: both stay
                // off the runtime's workers, which carry every poll's I/O.
                // Never closed, so the permit is always granted.
                let parsing = self.inner.parses.acquire().await;
                let parsed = tokio::task::spawn_blocking(move || {
                    parse_feed_served(&body, ctype.as_deref(), &base, max_entries).map(|parsed| {
                        let entries: Vec<NewEntry> = parsed
                            .entries
                            .iter()
                            .filter_map(|e| to_new_entry(e, &base, &google_base, &edition))
                            .collect();
                        (parsed, entries)
                    })
                })
                .await
                .context("feed parser task")?;
                drop(parsing);
                slot.release();
                let (parsed, entries) = match parsed {
                    Ok(p) => p,
                    Err(e) => {
                        self.fail(feed, &mut update, "error", e.to_string(), None, now);
                        store.record_poll_outcome(feed.id, &update).await?;
                        return Ok(PollStatus::Failed {
                            error: e.to_string(),
                        });
                    }
                };
                update.etag = resp.etag.clone();
                update.last_modified = resp.last_modified.clone();
                update.title = parsed.title.clone();
                update.site_url = parsed.site_url.clone();
                let ttl = parsed.ttl_minutes.map(|m| i64::from(m) * 60);
                let note = parsed.status_note(entries.len());
                let (app, row) = (self.clone(), feed.clone());
                let stored = store
                    .record_poll(feed.id, entries, now, move |stored| {
                        let mut update = update.clone();
                        app.succeed(&row, &mut update, "ok", stored.new_items, ttl, now);
                        update.last_error = note.clone();
                        update
                    })
                    .await?;
                Ok(PollStatus::Ok {
                    new_items: stored.new_items,
                    new_articles: stored.new_articles,
                })
            }
            status => {
                let retry_after = if matches!(status, 429 | 503) {
                    resp.retry_after
                } else {
                    None
                };
                let error = format!("HTTP {status} from {}", resp.url);
                self.fail(feed, &mut update, "error", error.clone(), retry_after, now);
                store.record_poll_outcome(feed.id, &update).await?;
                Ok(PollStatus::Failed { error })
            }
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

    fn succeed(
        &self,
        feed: &FeedRow,
        update: &mut FeedUpdate,
        status: &str,
        new_items: usize,
        ttl_secs: Option<i64>,
        now: DateTime<Utc>,
    ) {
        let outcome = if status == "not_modified" {
            Outcome::NotModified
        } else {
            Outcome::Fetched {
                new_items,
                ttl_secs,
            }
        };
        let plan = plan_next(
            &Self::schedule_of(feed),
            &outcome,
            &self.inner.policy,
            now,
            jitter(),
        );
        update.last_status = status.to_owned();
        update.last_error = None;
        update.error_count = 0;
        update.success = true;
        update.retry_after_until = None;
        update.next_poll_at = plan.next_poll_at;
        update.next_poll_reason = plan.reason;
        update.current_interval_secs = Some(plan.interval_secs);
        update.new_per_poll = plan.new_per_poll;
        update.ttl_secs = plan.ttl_secs;
    }

    fn fail(
        &self,
        feed: &FeedRow,
        update: &mut FeedUpdate,
        status: &str,
        error: String,
        retry_after: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) {
        let plan = plan_next(
            &Self::schedule_of(feed),
            &Outcome::Failed { retry_after },
            &self.inner.policy,
            now,
            jitter(),
        );
        update.last_status = status.to_owned();
        update.last_error = Some(error);
        update.error_count = plan.error_count;
        update.success = false;
        update.retry_after_until = retry_after.filter(|r| *r > now);
        update.next_poll_at = plan.next_poll_at;
        update.next_poll_reason = plan.reason;
        update.current_interval_secs = feed.current_interval_secs;
        update.new_per_poll = feed.new_per_poll;
        update.ttl_secs = feed.ttl_secs;
    }

    /// One retention pass with the configured policy (the daemon's periodic
    /// prune; `newsd prune` calls the store directly for its dry run).
    pub async fn prune_once(&self, now: DateTime<Utc>) -> Result<PruneReport, StoreError> {
        let policy = self.inner.settings.retention.policy();
        self.inner.store.prune(now, &policy, false).await
    }

    /// The service: polls feeds as they fall due until `shutdown` fires,
    /// then drains in-flight work within `scheduler.shutdown_grace`.
    pub async fn run_until_stopped(&self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let tracker = TaskTracker::new();
        let polls_cancel = CancellationToken::new();
        let settings = &self.inner.settings.scheduler;
        let permits = Arc::new(Semaphore::new(settings.max_concurrent_fetches));
        let polls = Arc::new(Semaphore::new(
            settings.max_concurrent_fetches * POLLS_PER_FETCH,
        ));
        let in_flight: Arc<Mutex<HashSet<i64>>> = Arc::default();
        // Scheduled polls fetching per politeness key (registrable domain);
        // a poll leaves the count once its feed is parsed (`FetchSlot`).
        let busy_hosts: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let per_host = self.inner.settings.http.per_host_concurrency.max(1);
        let finished = Arc::new(Notify::new());
        info!(feeds = self.inner.settings.feeds.len(), "scheduler started");
        let resolver = self.clone();
        let resolver_stop = shutdown.clone();
        let get_interval = self.inner.settings.google_news.get_interval.0;
        let worker = self.clone();
        let worker_stop = polls_cancel.clone();
        tracker.spawn(async move {
            while !worker_stop.is_cancelled() {
                let idle = tokio::select! {
                    r = worker.fulltext_once(Utc::now()) => match r {
                        Ok(r) => r.taken == 0,
                        Err(e) => {
                            warn!(error = %format!("{e:#}"), "full-text round failed");
                            true
                        }
                    },
                    _ = worker_stop.cancelled() => break,
                };
                if idle {
                    tokio::select! {
                        _ = tokio::time::sleep(FULLTEXT_IDLE_WAIT) => {}
                        _ = worker_stop.cancelled() => break,
                    }
                }
            }
        });
        tracker.spawn(async move {
            while !resolver_stop.is_cancelled() {
                tokio::select! {
                    r = resolver.resolve_once(Utc::now()) => match r {
                        Ok(r) if r != ResolveReport::default() => info!(?r, "google resolution round"),
                        Ok(_) => {}
                        Err(e) => warn!(error = %format!("{e:#}"), "google resolution round failed"),
                    },
                    _ = resolver_stop.cancelled() => break,
                }
                tokio::select! {
                    _ = tokio::time::sleep(get_interval) => {}
                    _ = resolver_stop.cancelled() => break,
                }
            }
        });
        // Housekeeping on a large archive can take seconds (clustering reads
        // the whole recent window): in a loop of its own it never holds up
        // the polls falling due meanwhile, and a shutdown drops it mid-way,
        // which rolls its transaction back, instead of waiting for it.
        let keeper = self.clone();
        let keeper_stop = shutdown.clone();
        tracker.spawn(async move {
            let mut state = Housekeeping::new(Utc::now());
            loop {
                tokio::select! {
                    _ = keeper.housekeeping_once(&mut state, Utc::now()) => {}
                    _ = keeper_stop.cancelled() => break,
                }
                tokio::select! {
                    _ = tokio::time::sleep(HOUSEKEEPING_EVERY) => {}
                    _ = keeper_stop.cancelled() => break,
                }
            }
        });
        'outer: while !shutdown.is_cancelled() {
            let now = Utc::now();
            let mut read_failed = false;
            // The soonest a host skipped for its spacing may be asked again.
            let mut host_ready: Option<tokio::time::Instant> = None;
            let mut after: Option<FeedRow> = None;
            // Every due feed is looked at, page by page: the ones skipped
            // because their host is busy must not hide the ones behind them.
            loop {
                let page = match self
                    .inner
                    .store
                    .due_feeds_page(now, after.as_ref(), settings.batch_size)
                    .await
                {
                    Ok(p) => p,
                    Err(e) => {
                        warn!(error = %e, "cannot read due feeds; retrying");
                        read_failed = true;
                        break;
                    }
                };
                let last_page = page.len() < settings.batch_size as usize;
                after = page.last().cloned();
                for feed in page {
                    if lock(&in_flight).contains(&feed.id) {
                        continue;
                    }
                    // A poll would only queue behind its host's politeness
                    // slots while holding one of the few global permits: many
                    // feeds of one site, due together, would starve every
                    // other feed. It waits in the database instead, and is
                    // taken when a poll on its host finishes.
                    // The same holds for the spacing between two requests to
                    // one host (`per_host_delay`): the feed is taken once it
                    // has passed.
                    let url = Url::parse(&feed.fetch_url).ok();
                    let host = url.as_ref().map(crate::fetch::host_key);
                    if let (Some(h), Some(u)) = (&host, &url) {
                        if lock(&busy_hosts).get(h).is_some_and(|n| *n >= per_host) {
                            continue;
                        }
                        if let Some(at) = self.inner.fetcher.host_ready_at(u) {
                            host_ready =
                                Some(host_ready.map_or(at, |r: tokio::time::Instant| r.min(at)));
                            continue;
                        }
                    }
                    let acquired = async {
                        let poll = polls.clone().acquire_owned().await.ok()?;
                        let permit = permits.clone().acquire_owned().await.ok()?;
                        Some((poll, permit))
                    };
                    let (poll, permit) = tokio::select! {
                        p = acquired => match p {
                            Some(p) => p,
                            None => break 'outer,
                        },
                        _ = shutdown.cancelled() => break 'outer,
                    };
                    lock(&in_flight).insert(feed.id);
                    if let Some(h) = &host {
                        *lock(&busy_hosts).entry(h.clone()).or_default() += 1;
                    }
                    let slot = {
                        let (busy_hosts, finished) = (busy_hosts.clone(), finished.clone());
                        FetchSlot::new(move || {
                            drop(permit);
                            if let Some(h) = &host {
                                let mut busy = lock(&busy_hosts);
                                if let Some(n) = busy.get_mut(h) {
                                    *n = n.saturating_sub(1);
                                    if *n == 0 {
                                        busy.remove(h);
                                    }
                                }
                            }
                            finished.notify_one();
                        })
                    };
                    let app = self.clone();
                    let cancel = polls_cancel.clone();
                    let in_flight = in_flight.clone();
                    let finished = finished.clone();
                    tracker.spawn(
                        async move {
                            let started = Utc::now();
                            // Measured here, after the wait for a fetch permit:
                            // how far behind its schedule the daemon is running.
                            if let Some(due) = feed.next_poll() {
                                let late = (started - due).to_std().unwrap_or(Duration::ZERO);
                                app.inner.polls.observe_lateness(late);
                            }
                            let (_, recorded) = app
                                .poll_feed_recorded(
                                    &feed,
                                    started,
                                    PollMode::Scheduled,
                                    &cancel,
                                    slot,
                                )
                                .await;
                            if !recorded {
                                // Not even the failure could be written (disk full):
                                // the row still says "due", so keep the feed marked in
                                // flight for a while instead of re-fetching it at once.
                                // Its host is free meanwhile.
                                finished.notify_one();
                                tokio::select! {
                                    _ = tokio::time::sleep(app.inner.policy.min_interval) => {}
                                    _ = cancel.cancelled() => {}
                                }
                            }
                            lock(&in_flight).remove(&feed.id);
                            drop(poll);
                            finished.notify_one();
                        }
                        .in_current_span(),
                    );
                }
                if last_page {
                    break;
                }
            }
            // Every feed due at `now` is in flight or waits for its host: a
            // finishing poll wakes this loop, a host's spacing and feeds
            // falling due later need a timer.
            let mut wait = if read_failed {
                Duration::from_secs(1)
            } else {
                self.time_until_next_due(now).await
            };
            if let Some(at) = host_ready {
                wait = wait.min(at.saturating_duration_since(tokio::time::Instant::now()));
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = finished.notified() => {}
                _ = shutdown.cancelled() => {}
            }
        }
        info!("shutting down: cancelling in-flight fetches");
        tracker.close();
        polls_cancel.cancel();
        if tokio::time::timeout(settings.shutdown_grace.0, tracker.wait())
            .await
            .is_err()
        {
            warn!("in-flight work did not finish within the shutdown grace period");
        }
        Ok(())
    }

    async fn time_until_next_due(&self, after: DateTime<Utc>) -> Duration {
        match self.inner.store.next_due_after(after).await {
            Ok(Some(at)) => (at - Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(RESCAN_EVERY),
            Ok(None) => RESCAN_EVERY,
            Err(e) => {
                warn!(error = %e, "cannot read the schedule; looking again shortly");
                Duration::from_secs(1)
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Permits for parsing: every core but one, which is left to the store's
/// writer thread.
fn parse_permits() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
}

fn jitter() -> f64 {
    rand::thread_rng().gen_range(-1.0..=1.0)
}

/// A parsed entry as the store wants it; `None` when it has no identity at
/// all. Google News items (links on `google_base`) get their Google state.
pub fn to_new_entry(
    e: &ParsedEntry,
    feed_url: &Url,
    google_base: &Url,
    default_edition: &Edition,
) -> Option<NewEntry> {
    let published = e.published_at.map(crate::store::ts);
    let key = EntryKey::derive(
        e.guid.as_deref(),
        e.link.as_deref(),
        e.title.as_deref(),
        published.as_deref(),
    )?;
    let google = google_news::classify(
        google_base,
        feed_url,
        default_edition,
        google_news::EntryFields {
            link: e.link.as_deref(),
            title: e.title.as_deref(),
            source_name: e.source_name.as_deref(),
            source_url: e.source_url.as_deref(),
            description_html: e.summary_html.as_deref(),
        },
    );
    let identity_url = match &google {
        Some(g) => g.decoded_url.as_deref(),
        None => e.link.as_deref(),
    };
    let parsed = identity_url.and_then(|l| Url::parse(l).ok());
    let mut entry = NewEntry {
        entry_key: key.as_str().to_owned(),
        guid: e.guid.clone(),
        link: e.link.clone(),
        url: parsed.as_ref().map(|u| strip_tracking(u).to_string()),
        url_key: parsed
            .as_ref()
            .map(|u| CanonicalUrl::from_url(u).to_string()),
        title: e.title.clone(),
        summary: e.summary.clone(),
        publisher: e.source_name.clone(),
        publisher_url: e.source_url.clone(),
        authors: e.authors.clone(),
        published_at: e.published_at,
        google: None,
    };
    if let Some(g) = google {
        entry.title = g.title.or(entry.title);
        // A Google description lists other outlets' headlines: not this article's summary.
        entry.summary = None;
        entry.google = Some(GoogleEntry {
            google_id: g.google_id,
            decoded: g.decoded_url.is_some() && parsed.is_some(),
            unresolvable: g.unresolvable,
            provisional_key: g.provisional_key,
            hl: g.edition.hl,
            gl: g.edition.gl,
            ceid: g.edition.ceid,
            hints: g
                .hints
                .into_iter()
                .map(|h| Hint {
                    url: h.url,
                    title: h.title,
                    source: h.source,
                    google_id: h.google_id,
                })
                .collect(),
        });
    }
    Some(entry)
}
