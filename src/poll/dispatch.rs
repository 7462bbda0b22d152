//! The daemon's dispatch of due feeds: which due feed may start polling
//! now, under the limits that keep one busy site from starving the rest.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{warn, Instrument};
use url::Url;

use crate::config::Settings;
use crate::store::{FeedRow, StoreError};

use super::outcome::PollReport;
use super::poller::{FetchSlot, PollMode, Poller, POLLS_PER_FETCH};

/// How often the scheduler looks at the database even when nothing is due,
/// so feeds added by `newsd feeds add` are picked up within a minute.
const RESCAN_EVERY: Duration = Duration::from_secs(60);
/// How soon the dispatch looks again after the database could not be read.
const RETRY_READ_AFTER: Duration = Duration::from_secs(1);

/// What one round of [`Dispatcher::dispatch_due_once`] did.
#[derive(Debug, Default)]
pub struct DueRound {
    /// The polls started, each giving its report once recorded.
    pub started: Vec<JoinHandle<PollReport>>,
    /// The soonest a due feed skipped for its host's spacing may be taken.
    pub host_ready: Option<Instant>,
    /// Reading the due feeds failed part-way; the feeds read before were
    /// dispatched.
    pub read_error: Option<StoreError>,
}

/// The daemon's polls in flight and the limits on them: poll slots, fetch
/// permits, polls per host, and feeds held back after an outcome could not
/// be recorded. Polls run on `tracker` and stop fetching when `cancel` fires.
pub struct Dispatcher {
    poller: Poller,
    batch_size: u32,
    per_host: usize,
    polls: Arc<Semaphore>,
    permits: Arc<Semaphore>,
    in_flight: Arc<Mutex<HashSet<i64>>>,
    /// Scheduled polls fetching per politeness key (registrable domain); a
    /// poll leaves the count once its feed is parsed (`FetchSlot`).
    busy_hosts: Arc<Mutex<HashMap<String, usize>>>,
    finished: Arc<Notify>,
    tracker: TaskTracker,
    cancel: CancellationToken,
}

impl Dispatcher {
    pub fn new(
        poller: Poller,
        settings: &Settings,
        tracker: TaskTracker,
        cancel: CancellationToken,
    ) -> Self {
        let fetches = settings.scheduler.max_concurrent_fetches;
        Dispatcher {
            poller,
            batch_size: settings.scheduler.batch_size,
            per_host: settings.http.per_host_concurrency.max(1),
            polls: Arc::new(Semaphore::new(fetches * POLLS_PER_FETCH)),
            permits: Arc::new(Semaphore::new(fetches)),
            in_flight: Arc::default(),
            busy_hosts: Arc::default(),
            finished: Arc::new(Notify::new()),
            tracker,
            cancel,
        }
    }

    /// Starts a poll of every feed due at `now` that may start: not in
    /// flight, its host neither at its concurrency limit nor within its
    /// spacing. Waits for a poll slot and a fetch permit for each; returns
    /// once every due feed is started or skipped. Polls are stamped with
    /// `now` advanced by the time spent waiting for their permits.
    ///
    /// Dropping the future (at shutdown) starts no further poll and leaves
    /// the started ones running.
    pub async fn dispatch_due_once(&self, now: DateTime<Utc>) -> DueRound {
        let clock = Instant::now();
        let mut round = DueRound::default();
        let mut after: Option<FeedRow> = None;
        // Every due feed is looked at, page by page: the ones skipped
        // because their host is busy must not hide the ones behind them.
        loop {
            let page = match self
                .poller
                .store()
                .due_feeds_page(now, after.as_ref(), self.batch_size)
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    round.read_error = Some(e);
                    return round;
                }
            };
            let last_page = page.len() < self.batch_size as usize;
            after = page.last().cloned();
            for feed in page {
                if lock(&self.in_flight).contains(&feed.id) {
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
                    if lock(&self.busy_hosts)
                        .get(h)
                        .is_some_and(|n| *n >= self.per_host)
                    {
                        continue;
                    }
                    if let Some(at) = self.poller.fetcher().host_ready_at(u) {
                        round.host_ready = Some(round.host_ready.map_or(at, |r| r.min(at)));
                        continue;
                    }
                }
                let Some((poll, permit)) = self.acquire().await else {
                    return round;
                };
                let waited = chrono::Duration::from_std(clock.elapsed()).unwrap_or_default();
                let started = now + waited;
                // Other instances on the archive may be taking the same due
                // feed: only the one whose claim lands polls it.
                match self.poller.store().claim_feed(feed.id, started, true).await {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => {
                        round.read_error = Some(e);
                        return round;
                    }
                }
                round
                    .started
                    .push(self.start(feed, host, started, poll, permit));
            }
            if last_page {
                return round;
            }
        }
    }

    /// How long the daemon may sleep after `round` (at `now`) before it
    /// must look again: until the next feed falls due or the soonest
    /// skipped host is ready. A finishing poll wakes it sooner
    /// ([`Self::a_poll_finished`]).
    pub async fn next_look(&self, round: &DueRound, now: DateTime<Utc>) -> Duration {
        let mut wait = if round.read_error.is_some() {
            RETRY_READ_AFTER
        } else {
            self.time_until_next_due(now).await
        };
        if let Some(at) = round.host_ready {
            wait = wait.min(at.saturating_duration_since(Instant::now()));
        }
        wait
    }

    /// Resolves when a poll gives back its host or finishes (including one
    /// that did so since the last call).
    pub async fn a_poll_finished(&self) {
        self.finished.notified().await;
    }

    /// Rounds of [`Self::dispatch_due_once`] at `now`, each waited for,
    /// until every feed due at `now` has been polled once.
    pub async fn poll_due(&self, now: DateTime<Utc>) -> Result<Vec<PollReport>, PollDueError> {
        let mut reports = Vec::new();
        loop {
            let round = self.dispatch_due_once(now).await;
            let started = !round.started.is_empty();
            for poll in round.started {
                reports.push(poll.await?);
            }
            if let Some(e) = round.read_error {
                return Err(e.into());
            }
            if !started {
                match round.host_ready {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => return Ok(reports),
                }
            }
        }
    }

    async fn acquire(&self) -> Option<(OwnedSemaphorePermit, OwnedSemaphorePermit)> {
        let poll = self.polls.clone().acquire_owned().await.ok()?;
        let permit = self.permits.clone().acquire_owned().await.ok()?;
        Some((poll, permit))
    }

    fn start(
        &self,
        feed: FeedRow,
        host: Option<String>,
        started: DateTime<Utc>,
        poll: OwnedSemaphorePermit,
        permit: OwnedSemaphorePermit,
    ) -> JoinHandle<PollReport> {
        lock(&self.in_flight).insert(feed.id);
        if let Some(h) = &host {
            *lock(&self.busy_hosts).entry(h.clone()).or_default() += 1;
        }
        let slot = {
            let (busy_hosts, finished) = (self.busy_hosts.clone(), self.finished.clone());
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
        let held = Held {
            feed_id: feed.id,
            in_flight: self.in_flight.clone(),
            finished: self.finished.clone(),
            poll: Some(poll),
        };
        let poller = self.poller.clone();
        let cancel = self.cancel.clone();
        let tracker = self.tracker.clone();
        self.tracker.spawn(
            async move {
                // Measured here, after the wait for a fetch permit: how far
                // behind its schedule the daemon is running.
                if let Some(due) = feed.next_poll() {
                    let late = (started - due).to_std().unwrap_or(Duration::ZERO);
                    poller.metrics().observe_lateness(late);
                }
                let recorded = poller
                    .poll_feed(&feed, started, PollMode::Scheduled, &cancel, slot)
                    .await;
                // A recorded poll gave its feed's claim back in the same
                // statement.
                if !recorded.written {
                    // Not even the failure could be written (disk full): the
                    // row still says "due", so keep the feed marked in flight
                    // for a while instead of re-fetching it at once. Its host
                    // is free meanwhile.
                    held.finished.notify_one();
                    let hold = poller.policy().min_interval;
                    tracker.spawn(async move {
                        tokio::select! {
                            _ = tokio::time::sleep(hold) => {}
                            _ = cancel.cancelled() => {}
                        }
                        drop(held);
                    });
                }
                recorded.report
            }
            .in_current_span(),
        )
    }

    async fn time_until_next_due(&self, after: DateTime<Utc>) -> Duration {
        match self.poller.store().next_due_after(after).await {
            Ok(Some(at)) => (at - Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(RESCAN_EVERY),
            Ok(None) => RESCAN_EVERY,
            Err(e) => {
                warn!(error = %e, "cannot read the schedule; looking again shortly");
                RETRY_READ_AFTER
            }
        }
    }
}

/// Why [`Dispatcher::poll_due`] could not poll every due feed.
#[derive(Debug, thiserror::Error)]
pub enum PollDueError {
    #[error("reading the due feeds: {0}")]
    Read(#[from] StoreError),
    #[error("a poll task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// A feed in flight and its poll slot, both given back on drop.
struct Held {
    feed_id: i64,
    in_flight: Arc<Mutex<HashSet<i64>>>,
    finished: Arc<Notify>,
    poll: Option<OwnedSemaphorePermit>,
}

impl Drop for Held {
    fn drop(&mut self) {
        lock(&self.in_flight).remove(&self.feed_id);
        // Given back before the dispatch is woken, which may want it.
        drop(self.poll.take());
        self.finished.notify_one();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
