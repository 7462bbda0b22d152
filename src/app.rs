//! Wiring: settings, store and HTTP client, and the background loops. Each
//! loop is a thin shell around a `*_once(now)` function; the poll stage is
//! [`crate::poll`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::alerts::Sent;
use crate::alerts::{Matcher, Searches};
use crate::config::Settings;
use crate::fetch::{FetchConfig, Fetcher};
use crate::fulltext::{FulltextReport, FulltextWorker};
use crate::metrics::PollMetrics;
use crate::poll::{Dispatcher, PollMode, Poller};
/// What the app's polls report, under the names its callers know.
pub use crate::poll::{PollReport, PollStatus};
use crate::resolver::{ResolveReport, Resolver};
use crate::store::instances::host_name;
use crate::store::{
    DeliveryOutcome, FeedListDiff, Holder, NewFeed, NewInstance, NewMatch, NewSearch, PruneReport,
    SearchRow, Singleton, Store, StoreError,
};

/// How long the full-text worker sleeps when its queue is empty.
const FULLTEXT_IDLE_WAIT: Duration = Duration::from_secs(5);
/// How often the running daemon assigns new articles to stories.
const CLUSTER_EVERY: Duration = Duration::from_secs(30);
/// How often the database gets its upkeep (checkpoint, optimize, vacuum).
const MAINTENANCE_EVERY: Duration = Duration::from_secs(6 * 3600);
/// The resolution loop's shortest wait between rounds: a round that found
/// nothing to do must not spin.
const RESOLUTION_MIN_WAIT: Duration = Duration::from_secs(1);
/// How often the running daemon's housekeeping loop looks for work: new
/// articles reach search within about this long.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(1);

/// How long the delivery loop sleeps at most between looks at the outbox.
const DELIVERY_IDLE_WAIT: Duration = Duration::from_secs(1);
/// Articles matched against the searches per transaction: a search in the
/// engine's syntax costs one index query per batch.
const MATCH_BATCH: i64 = 1000;
/// Held matches decided per transaction.
const PROMOTE_BATCH: i64 = 500;
/// Deliveries sent per round.
const DELIVERY_BATCH: i64 = 20;

/// What one round of alert matching did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchReport {
    /// Articles taken off the matching queue.
    pub articles: usize,
    /// New matches recorded (held until `alerts.hold` and clustering).
    pub matches: usize,
    /// Events made (messages to send), for stories and digests.
    pub events: usize,
}

/// What one round of delivery did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
}

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

#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    store: Store,
    resolver: Resolver,
    fulltext: FulltextWorker,
    poller: Poller,
    /// The alerts' deliveries go through the same client as every request.
    fetcher: Fetcher,
    /// This instance's `instance.name`, and the token of this run under it.
    name: String,
    token: String,
}

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
        local_address: h.local_address(),
    }
}

impl App {
    /// Opens (and migrates) the database and builds the HTTP client. The
    /// caller holds the writer lock.
    pub async fn build(settings: Settings) -> anyhow::Result<App> {
        let store = Store::open(&settings.database.url, settings.database.busy_timeout.0)
            .await
            .with_context(|| format!("opening database {}", settings.database.url))?;
        let name = settings.instance.name();
        store.set_holder(Holder {
            name: name.clone(),
            lease: settings.instance.lease.0,
        });
        // On PostgreSQL, per-host politeness holds across every instance.
        let fetcher = Fetcher::with_host_gate(fetch_config(&settings), store.host_gate())
            .context("building the HTTP client")?;
        let rules = Arc::new(
            crate::rules::RuleSet::compile(&settings.rules).context("compiling [[rules]]")?,
        );
        let resolver = Resolver::new(
            store.clone(),
            fetcher.clone(),
            settings.google_news.clone(),
            rules.clone(),
        );
        // Hosts that asked us to wait before a restart are still waited for.
        for (host, until) in store.host_backoffs(Utc::now()).await? {
            fetcher.restore_host_backoff(&host, until);
        }
        let fulltext = FulltextWorker::new(
            store.clone(),
            fetcher.clone(),
            settings.clone(),
            rules.clone(),
        )
        .context("starting the full-text worker's thread for large pages")?;
        let poller = Poller::new(store.clone(), fetcher.clone(), &settings, rules);
        Ok(App {
            inner: Arc::new(Inner {
                settings,
                store,
                resolver,
                fulltext,
                poller,
                fetcher,
                name,
                token: format!("{:016x}-{}", rand::random::<u64>(), std::process::id()),
            }),
        })
    }

    /// This instance's `instance.name`.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    fn new_instance(&self) -> NewInstance {
        NewInstance {
            name: self.inner.name.clone(),
            token: self.inner.token.clone(),
            host: host_name(),
            pid: std::process::id(),
            scope: crate::store::instances::process_scope(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            feed_urls: self.config_feeds().into_iter().map(|f| f.url).collect(),
        }
    }

    /// Registers this instance among the archive's live ones; refused when
    /// a live instance has its name. Instances of this machine whose
    /// process is gone (killed, crashed) are dead whatever their lease says:
    /// their registrations and claims are released first, so a restart or a
    /// `poll --once` after a crash takes their work at once.
    pub async fn register(&self, now: DateTime<Utc>) -> anyhow::Result<()> {
        let store = &self.inner.store;
        let me = self.new_instance();
        let until = self.lease_until(now);
        let mut dead = None;
        if !me.scope.is_empty() {
            for old in store.instances_in_scope(&me.scope, now).await? {
                if old.token == me.token || crate::store::instances::process_alive(old.pid) {
                    continue;
                }
                if old.name == me.name {
                    dead = Some(old.token);
                    continue;
                }
                info!(instance = %old.name, pid = old.pid, "a dead instance of this machine: its claims are released");
                store.deregister_instance(&old.name, &old.token).await?;
            }
        }
        if store
            .register_instance(&me, now, until, dead.as_deref())
            .await?
        {
            info!(instance = %me.name, "instance registered");
            return Ok(());
        }
        match store.instance_by_name(&me.name).await? {
            Some(live) => Err(StoreError::InstanceLive {
                name: live.name,
                host: live.host,
                pid: live.pid,
                heartbeat_at: live.heartbeat_at,
            }
            .into()),
            // It left between the two statements: the name is free now.
            None => Box::pin(self.register(now)).await,
        }
    }

    fn lease_until(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + chrono::Duration::from_std(self.inner.settings.instance.lease.0)
            .unwrap_or(chrono::Duration::seconds(30))
    }

    /// Says this instance is alive and renews every claim it holds. A
    /// registration lost meanwhile (the instance stalled longer than its
    /// lease and another run took the name) is made again if the name is
    /// free; returns whether the instance is registered now.
    pub async fn heartbeat_once(&self, now: DateTime<Utc>) -> anyhow::Result<bool> {
        let i = &self.inner;
        if i.store
            .heartbeat(&i.name, &i.token, now, self.lease_until(now))
            .await?
        {
            return Ok(true);
        }
        warn!(instance = %i.name, "this instance's registration ran out; registering again");
        match self.register(now).await {
            Ok(()) => Ok(true),
            Err(e) => {
                warn!(error = %format!("{e:#}"), "cannot register again");
                Ok(false)
            }
        }
    }

    /// Heartbeats three times per lease until `stop` fires.
    pub fn spawn_heartbeat(&self, tracker: &TaskTracker, stop: CancellationToken) {
        let app = self.clone();
        let every = self.inner.settings.instance.lease.0 / 3;
        tracker.spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stop.cancelled() => break,
                }
                if let Err(e) = app.heartbeat_once(Utc::now()).await {
                    warn!(error = %format!("{e:#}"), "heartbeat failed; claims run out unless the next one lands");
                }
            }
        });
    }

    /// A clean stop: the name and everything this instance held are free
    /// for the others at once.
    pub async fn deregister(&self) {
        let i = &self.inner;
        if let Err(e) = i.store.deregister_instance(&i.name, &i.token).await {
            warn!(error = %e, "cannot deregister; the instance's claims run out after its lease");
        }
    }

    /// Whether this instance runs the one-at-a-time `job` now (it holds, or
    /// just took, its lease).
    async fn runs(&self, job: Singleton, now: DateTime<Utc>) -> bool {
        self.inner
            .store
            .claim_singleton(job, now)
            .await
            .inspect_err(|e| warn!(job = job.as_str(), error = %e, "cannot claim a singleton job"))
            .unwrap_or(false)
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
        self.inner.poller.metrics().clone()
    }

    /// The daemon's dispatch of due feeds, its polls run on `tracker` and
    /// stopped fetching by `cancel`.
    pub fn dispatcher(&self, tracker: TaskTracker, cancel: CancellationToken) -> Dispatcher {
        Dispatcher::new(
            self.inner.poller.clone(),
            &self.inner.settings,
            tracker,
            cancel,
        )
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

    /// One round of Google link resolution as the daemon runs it: the
    /// article-page GETs the learned pace has tokens for, a POST when a batch
    /// is ready.
    pub async fn resolve_once(&self, now: DateTime<Utc>) -> anyhow::Result<ResolveReport> {
        let g = &self.inner.settings.google_news;
        if !g.resolve {
            return Ok(ResolveReport::default());
        }
        self.inner
            .resolver
            .resolve_once(now, g.get_burst as usize, false)
            .await
    }

    /// How long the daemon's resolution loop waits after a round at `now`:
    /// until the pace's next token, but never longer than the fastest pace
    /// (held signatures may fall due for their POST meanwhile) nor shorter
    /// than a second.
    pub async fn resolution_wait(&self, now: DateTime<Utc>) -> Duration {
        let g = &self.inner.settings.google_news;
        let longest = g.get_interval.0.max(RESOLUTION_MIN_WAIT);
        match self.inner.resolver.next_get_at(now).await {
            Ok(next) => (next - now)
                .to_std()
                .unwrap_or(Duration::ZERO)
                .clamp(RESOLUTION_MIN_WAIT, longest),
            Err(e) => {
                warn!(error = %e, "cannot read Google's budget");
                longest
            }
        }
    }

    /// What `poll --once` may spend on Google links right now: the GETs the
    /// learned pace has tokens for, at most `google_news.gets_per_run`, on
    /// links that have settled, then POSTs until no signature is held. Never
    /// waits for a token or out a cool-down: what is left stays queued.
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
            total.joined += r.joined;
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

    /// The config's `[[feeds]]` as the store keeps them.
    fn config_feeds(&self) -> Vec<NewFeed> {
        let settings = &self.inner.settings;
        settings
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
            .collect()
    }

    /// Upserts the config's `[[feeds]]` into the database. A config feed this
    /// config lacks is disabled only when no other live instance lists it:
    /// one instance with an older config never switches off the others'
    /// feeds. A list that differs from the one the archive last synced is
    /// named in the log.
    pub async fn sync_config_feeds(&self, now: DateTime<Utc>) -> anyhow::Result<()> {
        let store = &self.inner.store;
        let feeds = self.config_feeds();
        let mine: Vec<String> = feeds.iter().map(|f| f.url.clone()).collect();
        let others = store.other_feed_lists(&self.inner.name, now).await?;
        let diff = FeedListDiff::between(&mine, store.last_feed_sync().await?);
        if !diff.is_empty() && !others.is_empty() {
            warn!(
                instance = %self.inner.name,
                synced_by = diff.synced_by.as_deref().unwrap_or("?"),
                added = ?diff.added,
                missing = ?diff.missing,
                "this instance's [[feeds]] differ from the list the archive last synced; \
                 feeds another live instance lists stay enabled"
            );
        }
        let report = store
            .sync_config_feeds_keeping(&feeds, &others, now)
            .await
            .context("syncing config feeds")?;
        store.save_feed_sync(&mine, &self.inner.name, now).await?;
        info!(
            added = report.added,
            updated = report.updated,
            disabled = report.disabled,
            "config feeds synced"
        );
        Ok(())
    }

    /// A config search as the store keeps it: feed URLs become feed ids.
    async fn new_search(&self, s: &crate::config::SearchSettings) -> anyhow::Result<NewSearch> {
        let mut feeds = Vec::with_capacity(s.feeds.len());
        for f in &s.feeds {
            let row = self
                .inner
                .store
                .find_feed(f)
                .await?
                .with_context(|| format!("search {:?}: no feed matches {f:?}", s.name))?;
            feeds.push(row.id);
        }
        Ok(NewSearch {
            name: s.name.clone(),
            query: s.query.clone(),
            fts: s.fts,
            feeds,
            publishers: s.publishers.clone(),
            lang: s.lang.clone(),
            channels: s.channels.clone(),
            digest_secs: s.digest.map(|d| d.0.as_secs().max(1) as i64),
            backfill: s.backfill,
        })
    }

    /// Upserts the config's `[[searches]]` (after its feeds: they may name
    /// them).
    pub async fn sync_config_searches(&self, now: DateTime<Utc>) -> anyhow::Result<()> {
        let mut searches = Vec::new();
        for s in &self.inner.settings.searches {
            searches.push(self.new_search(s).await?);
        }
        let store = &self.inner.store;
        let before = store.list_searches().await?;
        let report = store
            .sync_config_searches(&searches, now)
            .await
            .context("syncing config searches")?;
        // Backfill once: for a search that is new, or newly backfilling.
        for row in store.list_searches().await? {
            let was = before.iter().find(|b| b.id == row.id);
            if row.backfill && row.enabled && was.is_none_or(|b| !b.backfill || !b.enabled) {
                crate::alerts::backfill(store, &row, now, self.inner.settings.alerts.hold.0)
                    .await
                    .with_context(|| format!("backfilling search {:?}", row.name))?;
            }
        }
        info!(
            added = report.added,
            updated = report.updated,
            disabled = report.disabled,
            "config searches synced"
        );
        Ok(())
    }

    /// Matches the articles queued since the last round (new ones, and
    /// those whose text arrived) against every enabled search, records the
    /// matches held for `alerts.hold`, then turns held matches whose hold is
    /// over and whose article was clustered into events, and sends the
    /// digests that are due. Search indexing must have run first: searches
    /// in the engine's syntax ask its index about the new articles.
    pub async fn match_once(&self, now: DateTime<Utc>) -> anyhow::Result<MatchReport> {
        let store = &self.inner.store;
        let mut report = MatchReport::default();
        let searches: Vec<SearchRow> = store
            .list_searches()
            .await?
            .into_iter()
            .filter(|s| s.enabled)
            .collect();
        let set = Searches::new(&searches);
        let hold = chrono::Duration::from_std(self.inner.settings.alerts.hold.0)
            .unwrap_or(chrono::Duration::MAX);
        loop {
            let batch = store.pending_alert_articles(MATCH_BATCH).await?;
            if batch.is_empty() {
                break;
            }
            let mut matches = Vec::new();
            let mut engine_candidates: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
            for c in batch.iter().filter(|_| !set.is_empty()) {
                let v = set.check(c, &crate::alerts::Doc::new(c));
                matches.extend(v.matched.into_iter().map(|search_id| NewMatch {
                    search_id,
                    article_id: c.article_id,
                }));
                for search_id in v.ask_engine {
                    engine_candidates
                        .entry(search_id)
                        .or_default()
                        .push(c.article_id);
                }
            }
            for ids in engine_candidates.values_mut() {
                ids.sort_unstable();
            }
            let queries: Vec<(i64, &str)> = engine_candidates
                .keys()
                .filter_map(|&id| Some((id, set.get(id).and_then(Matcher::engine_query)?)))
                .collect();
            let asked: Vec<i64> = engine_candidates
                .values()
                .flatten()
                .copied()
                .collect::<std::collections::BTreeSet<i64>>()
                .into_iter()
                .collect();
            for (search_id, found) in store.fts_matches(&queries, &asked).await? {
                match found {
                    // Only the articles this search's filters admitted.
                    Ok(found) => {
                        let admitted = &engine_candidates[&search_id];
                        matches.extend(
                            found
                                .into_iter()
                                .filter(|a| admitted.binary_search(a).is_ok())
                                .map(|article_id| NewMatch {
                                    search_id,
                                    article_id,
                                }),
                        )
                    }
                    Err(e) => warn!(search = search_id, error = %e, "saved search failed"),
                }
            }
            let done: Vec<i64> = batch.iter().map(|c| c.article_id).collect();
            report.matches += store
                .record_matches(&done, &matches, now, now + hold)
                .await?;
            report.articles += batch.len();
            if batch.len() < MATCH_BATCH as usize {
                break;
            }
        }
        report.events = self.promote_once(now, &searches).await?;
        Ok(report)
    }

    /// Held matches to events (once per story), then due digests; returns
    /// how many events were made.
    async fn promote_once(
        &self,
        now: DateTime<Utc>,
        searches: &[SearchRow],
    ) -> anyhow::Result<usize> {
        let store = &self.inner.store;
        let by_id: std::collections::HashMap<i64, SearchRow> =
            searches.iter().map(|s| (s.id, s.clone())).collect();
        let mut events = 0;
        loop {
            let held = store.held_matches(now, PROMOTE_BATCH).await?;
            let promotion =
                crate::alerts::plan_promotion(&held, &by_id, crate::alerts::new_event_id);
            events += promotion.events.len();
            store.apply_promotion(&promotion, None, now).await?;
            // Matches still waiting for clustering stay held: stop at a
            // batch that decided none, or the last one.
            if held.len() < PROMOTE_BATCH as usize || promotion.decisions.is_empty() {
                break;
            }
        }
        for s in searches
            .iter()
            .filter(|s| crate::alerts::digest_due(s, now))
        {
            let queued = store.queued_matches(s.id).await?;
            if queued.is_empty() {
                continue;
            }
            let digest = crate::alerts::plan_digest(s, &queued, crate::alerts::new_event_id());
            store.apply_promotion(&digest, Some(s.id), now).await?;
            events += 1;
        }
        Ok(events)
    }

    /// Sends the deliveries due at `now`, each once; a failure is retried
    /// with backoff and jitter (never before the receiver's Retry-After) up
    /// to `alerts.max_attempts`, then marked failed.
    pub async fn deliver_once(&self, now: DateTime<Utc>) -> anyhow::Result<DeliveryReport> {
        let store = &self.inner.store;
        let a = &self.inner.settings.alerts;
        let mut report = DeliveryReport::default();
        for d in store.due_deliveries(now, DELIVERY_BATCH).await? {
            let attempts = d.attempts + 1;
            let sent = match self
                .inner
                .settings
                .channels
                .iter()
                .find(|c| c.name == d.channel)
            {
                Some(channel) => {
                    crate::alerts::send::send(&self.inner.fetcher, channel, &d.event_id, &d.payload)
                        .await
                }
                None => Sent::Impossible {
                    error: format!("no channel named {:?} in the config", d.channel),
                },
            };
            let retry = |error: String, status: Option<u16>, after: Option<DateTime<Utc>>| {
                if attempts >= a.max_attempts {
                    DeliveryOutcome::Failed { error, status }
                } else {
                    let at = crate::alerts::retry_at(
                        attempts,
                        a.retry_interval.0,
                        rand::random::<f64>(),
                        after,
                        now,
                    );
                    DeliveryOutcome::Retry { at, error, status }
                }
            };
            let outcome = match sent {
                Sent::Accepted { status } => DeliveryOutcome::Sent { status },
                Sent::Refused {
                    status,
                    retry_after,
                } => retry(format!("HTTP {status}"), Some(status), retry_after),
                Sent::Unreachable { error } => retry(error, None, None),
                Sent::Impossible { error } => DeliveryOutcome::Failed {
                    error,
                    status: None,
                },
            };
            match &outcome {
                DeliveryOutcome::Sent { .. } => report.sent += 1,
                DeliveryOutcome::Retry { error, .. } => {
                    warn!(channel = %d.channel, event = %d.event_id, attempts, %error, "alert delivery failed; retrying");
                    report.retried += 1;
                }
                DeliveryOutcome::Failed { error, .. } => {
                    warn!(channel = %d.channel, event = %d.event_id, attempts, %error, "alert delivery failed for good");
                    report.failed += 1;
                }
            }
            store.finish_delivery(d.id, &outcome, now).await?;
        }
        Ok(report)
    }

    /// Polls every feed that is due at `now` as the daemon dispatches them
    /// ([`Dispatcher::dispatch_due_once`], round after round), waits for
    /// all of them.
    pub async fn poll_due_once(&self, now: DateTime<Utc>) -> anyhow::Result<Vec<PollReport>> {
        let tracker = TaskTracker::new();
        let reports = self
            .dispatcher(tracker.clone(), CancellationToken::new())
            .poll_due(now)
            .await?;
        self.index_search().await;
        Ok(reports)
    }

    /// Polls every enabled feed now (`newsd poll --once`).
    pub async fn poll_all_once(&self, now: DateTime<Utc>) -> anyhow::Result<Vec<PollReport>> {
        let feeds = self.inner.store.enabled_feeds().await?;
        let reports = self.inner.poller.poll_each(feeds, now, PollMode::Now).await;
        self.index_search().await;
        Ok(reports)
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
        if has_passed(state.clustered_at, now, CLUSTER_EVERY)
            && self.runs(Singleton::Cluster, now).await
        {
            state.clustered_at = now;
            self.cluster_stories().await;
            report.clustered = true;
        }
        if self.runs(Singleton::Alerts, now).await {
            match self.match_once(now).await {
                Ok(r) if r != MatchReport::default() => info!(?r, "alert matching round"),
                Ok(_) => {}
                Err(e) => {
                    warn!(error = %format!("{e:#}"), "alert matching failed; retried on the next round")
                }
            }
        }
        if has_passed(state.maintained_at, now, MAINTENANCE_EVERY)
            && self.runs(Singleton::Maintenance, now).await
        {
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
            && self.runs(Singleton::Retention, now).await
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
        let dispatch = self.dispatcher(tracker.clone(), polls_cancel.clone());
        info!(feeds = self.inner.settings.feeds.len(), instance = %self.inner.name, "scheduler started");
        self.spawn_heartbeat(&tracker, shutdown.clone());
        let resolver = self.clone();
        let resolver_stop = shutdown.clone();
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
                let wait = resolver.resolution_wait(Utc::now()).await;
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
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
        let deliverer = self.clone();
        let deliverer_stop = shutdown.clone();
        tracker.spawn(async move {
            while !deliverer_stop.is_cancelled() {
                tokio::select! {
                    r = deliverer.deliver_once(Utc::now()) => match r {
                        Ok(r) if r != DeliveryReport::default() => info!(?r, "alert delivery round"),
                        Ok(_) => {}
                        Err(e) => warn!(error = %format!("{e:#}"), "alert delivery round failed"),
                    },
                    _ = deliverer_stop.cancelled() => break,
                }
                tokio::select! {
                    _ = tokio::time::sleep(DELIVERY_IDLE_WAIT) => {}
                    _ = deliverer_stop.cancelled() => break,
                }
            }
        });
        while !shutdown.is_cancelled() {
            let now = Utc::now();
            let round = tokio::select! {
                r = dispatch.dispatch_due_once(now) => r,
                _ = shutdown.cancelled() => break,
            };
            if let Some(e) = &round.read_error {
                warn!(error = %e, "cannot read due feeds; retrying");
            }
            // Every feed due at `now` is in flight or waits for its host: a
            // finishing poll wakes this loop, a host's spacing and feeds
            // falling due later need a timer.
            let wait = dispatch.next_look(&round, now).await;
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = dispatch.a_poll_finished() => {}
                _ = shutdown.cancelled() => {}
            }
        }
        info!("shutting down: cancelling in-flight fetches");
        tracker.close();
        polls_cancel.cancel();
        if tokio::time::timeout(
            self.inner.settings.scheduler.shutdown_grace.0,
            tracker.wait(),
        )
        .await
        .is_err()
        {
            warn!("in-flight work did not finish within the shutdown grace period");
        }
        Ok(())
    }
}
