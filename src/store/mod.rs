//! The archive: every query newsd makes, behind one engine-neutral API.
//!
//! [`Store`] is what the rest of newsd holds. Its methods take and return
//! plain types defined here by role ([`feeds`], [`ingest`],
//! [`google_links`], [`fulltext_queue`], [`query`], [`stories`],
//! [`retention`], [`export`], [`stats`]); no sqlx row or connection type
//! and no engine's SQL reaches its callers (raw FTS5 syntax goes through
//! only where a method says so). The dedupe rules have one home,
//! [`identity`]; each engine applies them with its own statements.
//!
//! Each engine is a module implementing the same methods: `sqlite` (one
//! file, WAL, one writer thread; the default) and `postgres` (a server
//! database, for archives that outgrow one machine), chosen by the scheme
//! of `database.url`. `Store` holds an enum over the engines rather than a
//! `dyn` trait object: the methods are async, and an enum keeps them plain
//! `async fn`s (no boxed futures or `async_trait`) with static dispatch,
//! while a `match` in each forwarding method makes the compiler name every
//! method a new engine has yet to implement. Generic code over a trait
//! would have spread a type parameter through `app`, `api` and `cli`.
//!
//! Other modules: [`error`] (the one error type), [`time`] (timestamps as
//! stored), `testing` (fresh stores for tests, every engine from one
//! place).

pub mod alerts;
#[cfg(test)]
mod conformance;
pub mod copy;
pub mod error;
pub mod export;
pub mod feeds;
pub mod fulltext_queue;
pub mod google_links;
pub mod identity;
pub mod ingest;
pub mod instances;
mod postgres;
pub mod query;
pub mod retention;
pub mod rules;
mod sqlite;
pub mod stats;
pub mod stories;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod time;

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use self::alerts::{
    AlertArticle, AlertCandidate, AlertStats, AlertStory, Delivery, DeliveryOutcome, DeliveryState,
    HeldMatch, MatchState, NewEvent, NewMatch, NewSearch, Promotion, QueuedMatch, SearchOrigin,
    SearchRemoval, SearchRow,
};
pub use self::error::{Result, StoreError};
pub use self::export::ExportArticle;
pub use self::feeds::{
    FeedRow, FeedStatus, FeedUpdate, FetchedSchedule, NewFeed, PollUpdate, RemoveOutcome,
    SyncReport,
};
pub use self::fulltext_queue::{
    ArticleContent, FulltextJob, FulltextStats, FulltextStatus, TextState,
};
pub use self::google_links::{
    Budget, EgressBudget, GoogleEntry, GoogleQueueStats, Hint, LinkCosts, LinkPlacement,
    LinkStatus, PaceEvent, PendingLink, TokenGrant,
};
pub use self::ingest::{NewEntry, PollStored};
pub use self::instances::{
    FeedListDiff, Holder, InstanceRow, LiveInstance, NewInstance, Singleton,
};
pub use self::postgres::{redacted as redacted_url, MIGRATOR as POSTGRES_MIGRATOR};
pub use self::query::{
    ApiMetrics, ArticleDetail, ArticleFeedItem, ArticleFilter, ArticleGoogleLink, ArticleItem,
    ArticleSearch, ItemText, RankKey, SearchHit, SearchOrder, SearchQuery, SearchText, SeenKey,
    StoryHint,
};
pub use self::retention::{PruneReport, RetentionPolicy};
pub use self::rules::{Removal, RuledArticle, Rulings};
pub use self::sqlite::MIGRATOR;
pub use self::stats::Stats;
pub use self::stories::{ClusterReport, StoryItem};
pub use self::time::{parse_ts, ts};

use self::postgres::PostgresStore;
use self::sqlite::SqliteStore;

/// The archive, on whichever engine `database.url` names.
#[derive(Debug, Clone)]
pub struct Store {
    engine: Engine,
}

#[derive(Debug, Clone)]
enum Engine {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

/// Runs a call on the store's engine: every engine implements the same
/// methods, so each forwarding method is one `match`.
macro_rules! on_engine {
    ($self:ident, $e:ident => $call:expr) => {
        match &$self.engine {
            Engine::Sqlite($e) => $call,
            Engine::Postgres($e) => $call,
        }
    };
}

/// The engines a `database.url` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    Sqlite,
    Postgres,
}

/// Which engine a database URL names, or why none does.
pub fn engine_of(url: &str) -> Result<EngineKind> {
    if postgres::is_postgres_url(url) {
        return Ok(EngineKind::Postgres);
    }
    match url.split_once(':').map(|(scheme, _)| scheme) {
        Some("sqlite") => Ok(EngineKind::Sqlite),
        _ => Err(StoreError::Url {
            url: redacted(url),
            reason: "must start with sqlite:, postgres:// or postgresql://".into(),
        }),
    }
}

/// `url` as messages show it: any password replaced by `***`.
pub fn redacted(url: &str) -> String {
    if postgres::is_postgres_url(url) {
        postgres::redacted(url)
    } else {
        url.to_owned()
    }
}

/// A writer's lock on an archive: held for as long as this value lives,
/// released by the OS or the server when the process dies.
#[derive(Debug)]
pub enum WriterLock {
    /// An exclusive `flock` on a file beside the SQLite database.
    File(crate::lock::WriterLock),
    /// A session advisory lock on a connection of its own.
    Postgres(postgres::PgWriterLock),
}

/// Takes the writer's lock of the archive at `url`, or says who holds it.
/// An SQLite file has one writer (`newsd run` or `poll --once`) at a time;
/// on PostgreSQL any number of instances write together, unless `newsd
/// copy` is filling the archive.
pub async fn lock_writer(url: &str) -> Result<WriterLock> {
    match engine_of(url)? {
        EngineKind::Sqlite => {
            let path = sqlite::db_path(url)?;
            Ok(WriterLock::File(crate::lock::WriterLock::acquire(&path)?))
        }
        EngineKind::Postgres => match postgres::lock_writer(url, false).await? {
            Some(lock) => Ok(WriterLock::Postgres(lock)),
            None => Err(StoreError::BeingCopied {
                db: postgres::redacted(url),
            }),
        },
    }
}

/// Takes the archive at `url` for `newsd copy` alone: no instance may
/// write it meanwhile.
pub async fn lock_exclusive(url: &str) -> Result<WriterLock> {
    match engine_of(url)? {
        EngineKind::Sqlite => lock_writer(url).await,
        EngineKind::Postgres => match postgres::lock_writer(url, true).await? {
            Some(lock) => Ok(WriterLock::Postgres(lock)),
            None => Err(StoreError::WriterBusy {
                db: postgres::redacted(url),
            }),
        },
    }
}

impl Store {
    /// Opens (creating if needed) and migrates the database: for writers.
    pub async fn open(url: &str, busy_timeout: Duration) -> Result<Self> {
        let engine = match engine_of(url)? {
            EngineKind::Sqlite => Engine::Sqlite(SqliteStore::open(url, busy_timeout).await?),
            EngineKind::Postgres => Engine::Postgres(PostgresStore::open(url, busy_timeout).await?),
        };
        Ok(Store { engine })
    }

    /// Opens an existing database without migrating or writing: for readers.
    /// Refuses a database at another schema version.
    pub async fn open_read_only(url: &str, busy_timeout: Duration) -> Result<Self> {
        let engine = match engine_of(url)? {
            EngineKind::Sqlite => {
                Engine::Sqlite(SqliteStore::open_read_only(url, busy_timeout).await?)
            }
            EngineKind::Postgres => {
                Engine::Postgres(PostgresStore::open_read_only(url, busy_timeout).await?)
            }
        };
        Ok(Store { engine })
    }

    /// Claims on shared work (due feeds, Google links, deliveries, singleton
    /// jobs) are made from now on for `holder`, the registered instance.
    pub fn set_holder(&self, holder: Holder) {
        on_engine!(self, e => e.set_holder(holder))
    }

    /// The instance registered under `name`, live or not.
    pub async fn instance_by_name(&self, name: &str) -> Result<Option<LiveInstance>> {
        on_engine!(self, e => e.instance_by_name(name).await)
    }

    /// The live instances registered from `scope` (see
    /// [`instances::process_scope`]).
    pub async fn instances_in_scope(
        &self,
        scope: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<LiveInstance>> {
        on_engine!(self, e => e.instances_in_scope(scope, now).await)
    }

    /// Registers `me` as live until `until`, unless a live instance holds its
    /// name (false); `dead` is the token of a holder known to have died.
    pub async fn register_instance(
        &self,
        me: &NewInstance,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        dead: Option<&str>,
    ) -> Result<bool> {
        on_engine!(self, e => e.register_instance(me, now, until, dead).await)
    }

    /// Renews the registration and every lease `name` holds; false when the
    /// registration was taken over.
    pub async fn heartbeat(
        &self,
        name: &str,
        token: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool> {
        on_engine!(self, e => e.heartbeat(name, token, now, until).await)
    }

    pub async fn deregister_instance(&self, name: &str, token: &str) -> Result<()> {
        on_engine!(self, e => e.deregister_instance(name, token).await)
    }

    /// Whether this process may run `job` now: nobody else holds it.
    pub async fn claim_singleton(&self, job: Singleton, now: DateTime<Utc>) -> Result<bool> {
        on_engine!(self, e => e.claim_singleton(job, now).await)
    }

    pub async fn live_instances(&self, now: DateTime<Utc>) -> Result<Vec<InstanceRow>> {
        on_engine!(self, e => e.live_instances(now).await)
    }

    /// Every config feed URL that a live instance other than `me` lists.
    pub async fn other_feed_lists(&self, me: &str, now: DateTime<Utc>) -> Result<Vec<String>> {
        on_engine!(self, e => e.other_feed_lists(me, now).await)
    }

    /// The config feed list the archive last synced, and who synced it.
    pub async fn last_feed_sync(&self) -> Result<Option<(Vec<String>, String)>> {
        on_engine!(self, e => e.last_feed_sync().await)
    }

    pub async fn save_feed_sync(
        &self,
        urls: &[String],
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        on_engine!(self, e => e.save_feed_sync(urls, by, now).await)
    }

    /// Claims a feed for a poll by this instance; false when another
    /// instance polls it or, with `due`, polled it since it was read.
    pub async fn claim_feed(&self, feed_id: i64, now: DateTime<Utc>, due: bool) -> Result<bool> {
        on_engine!(self, e => e.claim_feed(feed_id, now, due).await)
    }

    /// The Google links among `ids` this instance now holds for a lookup.
    pub async fn claim_google_links(
        &self,
        ids: &[String],
        now: DateTime<Utc>,
    ) -> Result<Vec<String>> {
        on_engine!(self, e => e.claim_google_links(ids, now).await)
    }

    pub fn engine(&self) -> EngineKind {
        match &self.engine {
            Engine::Sqlite(_) => EngineKind::Sqlite,
            Engine::Postgres(_) => EngineKind::Postgres,
        }
    }

    /// Where the archive lives, for messages: a file path, or a server URL
    /// without its password.
    pub fn location(&self) -> String {
        match &self.engine {
            Engine::Sqlite(e) => e.path().display().to_string(),
            Engine::Postgres(e) => e.location().to_owned(),
        }
    }

    /// Test hook: caps the database at its current size plus `extra_pages`,
    /// or lifts the cap (`None`), to simulate a full disk. The daemon never
    /// calls it. SQLite only.
    #[doc(hidden)]
    pub async fn set_page_limit(&self, extra_pages: Option<i64>) -> Result<()> {
        match &self.engine {
            Engine::Sqlite(e) => e.set_page_limit(extra_pages).await,
            Engine::Postgres(_) => Err(StoreError::Unsupported(
                "a page limit (a test hook of the SQLite engine)".into(),
            )),
        }
    }

    /// The SQLite engine's reader pool, for tests that look at rows
    /// directly; `None` on another engine.
    #[cfg(any(test, feature = "test-support"))]
    pub fn pool(&self) -> &sqlx::SqlitePool {
        match &self.engine {
            Engine::Sqlite(e) => e.pool(),
            Engine::Postgres(_) => panic!("Store::pool is the SQLite engine's; use pg_pool"),
        }
    }

    /// The PostgreSQL engine's pool, for tests that look at rows directly.
    #[cfg(any(test, feature = "test-support"))]
    pub fn pg_pool(&self) -> Option<&sqlx::PgPool> {
        match &self.engine {
            Engine::Sqlite(_) => None,
            Engine::Postgres(e) => Some(e.pool()),
        }
    }

    /// The SQLite engine itself, for the engine's own tests.
    #[cfg(test)]
    fn sqlite(&self) -> &SqliteStore {
        match &self.engine {
            Engine::Sqlite(e) => e,
            Engine::Postgres(_) => panic!("a SQLite engine test ran on PostgreSQL"),
        }
    }

    // ---- Upkeep and operations

    pub async fn check_schema_version(&self) -> Result<()> {
        on_engine!(self, e => e.check_schema_version().await)
    }

    pub async fn close(&self) {
        on_engine!(self, e => e.close().await)
    }

    pub async fn integrity_check(&self) -> Result<String> {
        on_engine!(self, e => e.integrity_check().await)
    }

    /// FTS5's own check of both search indexes against their content: an
    /// error names the index that does not match. Needs a writer connection
    /// (the check is an `INSERT` command), and reads the whole archive.
    pub async fn check_search_indexes(&self) -> Result<()> {
        on_engine!(self, e => e.check_search_indexes().await)
    }

    /// Periodic upkeep for a database that lives for months: checkpoint the
    /// WAL, let SQLite refresh its statistics, hand free pages back to the OS.
    pub async fn maintenance(&self) -> Result<()> {
        on_engine!(self, e => e.maintenance().await)
    }

    /// A consistent copy of the live database (safe while the daemon writes).
    pub async fn backup(&self, dest: &Path) -> Result<()> {
        on_engine!(self, e => e.backup(dest).await)
    }

    pub async fn stats(&self) -> Result<Stats> {
        on_engine!(self, e => e.stats().await)
    }

    // ---- Subscriptions

    /// Upserts the config's feeds (keyed by URL) and disables config feeds
    /// that left the config. Nothing is deleted.
    pub async fn sync_config_feeds(
        &self,
        feeds: &[NewFeed],
        now: DateTime<Utc>,
    ) -> Result<SyncReport> {
        on_engine!(self, e => e.sync_config_feeds(feeds, &[], now).await)
    }

    /// [`Self::sync_config_feeds`] beside other instances: a config feed
    /// whose URL is in `keep` (another live instance's config lists it)
    /// stays enabled though this config lacks it.
    pub async fn sync_config_feeds_keeping(
        &self,
        feeds: &[NewFeed],
        keep: &[String],
        now: DateTime<Utc>,
    ) -> Result<SyncReport> {
        on_engine!(self, e => e.sync_config_feeds(feeds, keep, now).await)
    }

    /// Adds a feed from the CLI, OPML or API; returns it and whether it was new.
    pub async fn add_feed(
        &self,
        feed: &NewFeed,
        origin: &str,
        now: DateTime<Utc>,
    ) -> Result<(FeedRow, bool)> {
        on_engine!(self, e => e.add_feed(feed, origin, now).await)
    }

    /// Finds a feed by numeric id or by URL.
    pub async fn find_feed(&self, id_or_url: &str) -> Result<Option<FeedRow>> {
        on_engine!(self, e => e.find_feed(id_or_url).await)
    }

    pub async fn feed_by_id(&self, id: i64) -> Result<Option<FeedRow>> {
        on_engine!(self, e => e.feed_by_id(id).await)
    }

    /// Deletes a user-added feed and its items (articles stay in the archive).
    pub async fn remove_feed(&self, id_or_url: &str) -> Result<RemoveOutcome> {
        on_engine!(self, e => e.remove_feed(id_or_url).await)
    }

    /// Enables or disables a feed; enabling makes it due now.
    pub async fn set_feed_enabled(
        &self,
        id_or_url: &str,
        enabled: bool,
        now: DateTime<Utc>,
    ) -> Result<FeedRow> {
        on_engine!(self, e => e.set_feed_enabled(id_or_url, enabled, now).await)
    }

    pub async fn list_feeds(&self) -> Result<Vec<FeedRow>> {
        on_engine!(self, e => e.list_feeds().await)
    }

    /// Enabled feeds whose next poll is due at `now`, earliest first.
    pub async fn due_feeds(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<FeedRow>> {
        on_engine!(self, e => e.due_feeds(now, limit).await)
    }

    pub async fn enabled_feeds(&self) -> Result<Vec<FeedRow>> {
        on_engine!(self, e => e.enabled_feeds().await)
    }

    /// When the earliest enabled feed is due.
    pub async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>> {
        on_engine!(self, e => e.next_due_at().await)
    }

    /// One page of the feeds due at `now`, in `(next_poll_at, id)` order,
    /// starting after `after` (the last row of the previous page). The daemon
    /// reads every page: due feeds it must skip for now (their host is busy)
    /// must not hide the ones behind them.
    pub async fn due_feeds_page(
        &self,
        now: DateTime<Utc>,
        after: Option<&FeedRow>,
        limit: u32,
    ) -> Result<Vec<FeedRow>> {
        on_engine!(self, e => e.due_feeds_page(now, after, limit).await)
    }

    /// When the first enabled feed falls due after `now`.
    pub async fn next_due_after(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
        on_engine!(self, e => e.next_due_after(now).await)
    }

    // ---- The poll write path

    /// Gives an article the identity that just became known (a resolved
    /// link, a canonical URL). If another article already holds that
    /// identity, the two merge (`store::identity` has the rules). Returns
    /// the surviving id.
    pub async fn assign_identity(&self, article_id: i64, url_key: &str, url: &str) -> Result<i64> {
        on_engine!(self, e => e.assign_identity(article_id, url_key, url).await)
    }

    /// Stores one poll: the feed row update and every entry, in one
    /// transaction, so a crash leaves the whole poll or none of it.
    /// `update` is the feed row's new state; its schedule, when it has one
    /// to plan, is planned from how many entries were new.
    ///
    /// Polls that finish while another is being written are committed
    /// together (see `write_polls`).
    pub async fn record_poll(
        &self,
        feed_id: i64,
        entries: impl Into<Vec<NewEntry>>,
        now: DateTime<Utc>,
        update: impl Into<PollUpdate>,
    ) -> Result<PollStored> {
        on_engine!(self, e => e.record_poll(feed_id, entries, now, update).await)
    }

    /// Records a poll that stored no entries (errors, 304s).
    pub async fn record_poll_outcome(&self, feed_id: i64, update: &FeedUpdate) -> Result<()> {
        on_engine!(self, e => e.record_poll_outcome(feed_id, update).await)
    }

    // ---- Google News resolution

    /// Links due for a lookup, oldest first. `signed` selects those whose
    /// article-page signature is already held (ready to POST) or not. A link
    /// whose provisional sibling already holds a signature comes last: once
    /// the sibling resolves, it joins the story without a GET.
    pub async fn pending_google_links(
        &self,
        now: DateTime<Utc>,
        signed: bool,
        limit: i64,
    ) -> Result<Vec<PendingLink>> {
        on_engine!(self, e => e.pending_google_links(now, signed, limit).await)
    }

    pub async fn google_link(
        &self,
        google_id: &str,
    ) -> Result<Option<(LinkStatus, Option<String>)>> {
        on_engine!(self, e => e.google_link(google_id).await)
    }

    /// How a Google link was placed (`newsd resolve`).
    pub async fn google_link_placement(&self, google_id: &str) -> Result<Option<LinkPlacement>> {
        on_engine!(self, e => e.google_link_placement(google_id).await)
    }

    pub async fn save_signature(
        &self,
        google_id: &str,
        signature: &str,
        timestamp: i64,
    ) -> Result<()> {
        on_engine!(self, e => e.save_signature(google_id, signature, timestamp).await)
    }

    /// A failed lookup: retried later with exponential backoff, marked failed
    /// after `max_attempts`. The article keeps its Google link meanwhile.
    pub async fn fail_google_link(
        &self,
        google_id: &str,
        error: &str,
        now: DateTime<Utc>,
        retry_base: std::time::Duration,
        max_attempts: i64,
        drop_signature: bool,
    ) -> Result<()> {
        on_engine!(self, e => e.fail_google_link(google_id, error, now, retry_base, max_attempts, drop_signature).await)
    }

    /// A link resolved to its publisher URL: the one dedupe merge runs with
    /// the new identity. A provisional article takes it (merging into any
    /// article that already holds it); an article that already resolved to
    /// another URL gives this link's items up to their own article (a split).
    /// Returns the article id the link ends up on.
    pub async fn resolve_google_link(
        &self,
        google_id: &str,
        publisher_url: &str,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        on_engine!(self, e => e.resolve_google_link(google_id, publisher_url, now).await)
    }

    /// Before their lookups: of these articles, each unresolved one whose
    /// provisional key an article known through a publisher URL holds (within
    /// the window) merges into that one, its links `joined` without a GET
    /// (the identity model's placed join, `store::identity`). Returns the
    /// articles that merged.
    pub async fn join_placed_articles(&self, article_ids: &[i64]) -> Result<Vec<i64>> {
        on_engine!(self, e => e.join_placed_articles(article_ids).await)
    }

    /// The Google budget of `egress` (a fresh one if it never spent any).
    pub async fn google_budget(&self, egress: &str) -> Result<Budget> {
        on_engine!(self, e => e.google_budget(egress).await)
    }

    /// Takes a token for one article-page GET from `egress`'s budget, read,
    /// refilled and written back under the row's lock: instances sharing the
    /// egress together never go faster than `rule` allows one, and none
    /// gets a token while its breaker is open.
    pub async fn take_google_token(
        &self,
        egress: &str,
        rule: &crate::google_news::PaceRule,
        now: DateTime<Utc>,
    ) -> Result<TokenGrant> {
        let take = google_links::BudgetEvent::Take;
        on_engine!(self, e => e.google_budget_event(egress, rule, take, now).await)
    }

    /// Applies what happened to a GET to `egress`'s learned pace (and, on a
    /// lockout, opens its breaker), under the row's lock.
    pub async fn record_google_pace(
        &self,
        egress: &str,
        rule: &crate::google_news::PaceRule,
        event: PaceEvent,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let event = google_links::BudgetEvent::Pace(event);
        on_engine!(self, e => e.google_budget_event(egress, rule, event, now).await.map(drop))
    }

    /// Counts a request sent to Google from `egress`; an article-page GET
    /// for a link also counts in that link's cost.
    pub async fn count_google_request(
        &self,
        egress: &str,
        get: bool,
        google_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        on_engine!(self, e => e.count_google_request(egress, get, google_id, now).await)
    }

    /// The per-host politeness every instance on this archive shares: on
    /// PostgreSQL, where several instances may write; None on SQLite, whose
    /// single writer's in-process limits are the whole cluster's.
    pub fn host_gate(&self) -> Option<std::sync::Arc<dyn crate::fetch::HostGate>> {
        match &self.engine {
            Engine::Postgres(e) => e
                .host_gate()
                .map(|g| std::sync::Arc::new(g) as std::sync::Arc<dyn crate::fetch::HostGate>),
            Engine::Sqlite(_) => None,
        }
    }

    /// What the Google links first seen since `since` cost in GETs.
    pub async fn google_link_costs(&self, since: DateTime<Utc>) -> Result<LinkCosts> {
        on_engine!(self, e => e.google_link_costs(since).await)
    }

    pub async fn google_queue_stats(&self) -> Result<GoogleQueueStats> {
        on_engine!(self, e => e.google_queue_stats().await)
    }

    // ---- Full text

    /// Takes up to `limit` due jobs under a lease until `lease_until`. Jobs
    /// whose lease ran out (a worker died) are due again.
    pub async fn lease_fulltext_jobs(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<FulltextJob>> {
        on_engine!(self, e => e.lease_fulltext_jobs(now, lease_until, limit).await)
    }

    /// Ends a job without text (a named status), or reschedules it.
    pub async fn finish_fulltext_job(
        &self,
        article_id: i64,
        status: FulltextStatus,
        error: Option<&str>,
        http_status: Option<u16>,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        on_engine!(self, e => e.finish_fulltext_job(article_id, status, error, http_status, retry_at, now).await)
    }

    /// A job that never reached the host (it is backed off): rescheduled
    /// without spending an attempt.
    pub async fn defer_fulltext_job(&self, article_id: i64, until: DateTime<Utc>) -> Result<()> {
        on_engine!(self, e => e.defer_fulltext_job(article_id, until).await)
    }

    /// Stores extracted content and finishes the job in one transaction; a
    /// canonical (or redirected) URL joins the dedupe. Returns the article id
    /// the content ended up on.
    pub async fn store_fulltext(
        &self,
        article_id: i64,
        content: &ArticleContent,
        final_url: &str,
        identity: Option<(String, String)>,
        raw: Option<(&str, Option<&str>, Vec<u8>)>,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        on_engine!(self, e => e.store_fulltext(article_id, content, final_url, identity, raw, now).await)
    }

    pub async fn robots_cached(
        &self,
        host: &str,
    ) -> Result<Option<(Option<String>, DateTime<Utc>)>> {
        on_engine!(self, e => e.robots_cached(host).await)
    }

    pub async fn cache_robots(
        &self,
        host: &str,
        body: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        on_engine!(self, e => e.cache_robots(host, body, now).await)
    }

    /// Persists the HTTP layer's per-host backoffs (replacing what was stored).
    pub async fn save_host_backoffs(&self, backoffs: &[(String, DateTime<Utc>)]) -> Result<()> {
        on_engine!(self, e => e.save_host_backoffs(backoffs).await)
    }

    pub async fn host_backoffs(&self, now: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>> {
        on_engine!(self, e => e.host_backoffs(now).await)
    }

    pub async fn fulltext_stats(&self) -> Result<FulltextStats> {
        on_engine!(self, e => e.fulltext_stats().await)
    }

    /// Records what an article's page was when the acceptance rule refused
    /// its text; text an earlier extraction stored goes too, so the archive
    /// holds what the full-text worker would have kept: the summary alone.
    pub async fn refuse_fulltext(
        &self,
        article_id: i64,
        kind: crate::extract::PageKind,
        now: DateTime<Utc>,
    ) -> Result<()> {
        on_engine!(self, e => e.refuse_fulltext(article_id, kind, now).await)
    }

    /// The article's summary and stored text; None for an unknown id.
    pub async fn text_state(&self, article_id: i64) -> Result<Option<TextState>> {
        on_engine!(self, e => e.text_state(article_id).await)
    }

    /// How many stored raw pages `raw_pages` would walk through.
    pub async fn count_raw_pages(&self, since: Option<DateTime<Utc>>) -> Result<u64> {
        on_engine!(self, e => e.count_raw_pages(since).await)
    }

    /// Raw pages kept for re-extraction, page by page.
    pub async fn raw_pages(
        &self,
        since: Option<DateTime<Utc>>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String, Option<String>, Vec<u8>)>> {
        on_engine!(self, e => e.raw_pages(since, after_id, limit).await)
    }

    // ---- Search indexing

    /// Adds articles stored or changed since the last call to the full-text
    /// indexes, in batches; returns how many. Search sees an article once
    /// this ran. Only articles with text in a script written without spaces
    /// go into the trigram index (migration 0007).
    pub async fn index_pending(&self) -> Result<usize> {
        on_engine!(self, e => e.index_pending().await)
    }

    // ---- Listing and search (the API's query plans)

    /// The applied schema (migration) version; 0 before any migration.
    pub async fn schema_version(&self) -> Result<i64> {
        on_engine!(self, e => e.schema_version().await)
    }

    /// The newest article id (0 for an empty archive).
    pub async fn max_article_id(&self) -> Result<i64> {
        on_engine!(self, e => e.max_article_id().await)
    }

    /// Newest first by `(first_seen_at, id)`, the page after `after`.
    pub async fn list_articles(
        &self,
        filter: &ArticleFilter,
        after: Option<&SeenKey>,
        limit: i64,
        text: ItemText,
    ) -> Result<Vec<ArticleItem>> {
        on_engine!(self, e => e.list_articles(filter, after, limit, text).await)
    }

    /// Full-text search with the same matching as [`Store::search`] (plain
    /// words, CJK through the trigram index or a scan, or raw FTS5 syntax),
    /// ranked by bm25 and paginated by `(rank, id)` within the `max_id`
    /// snapshot of `after` (or ordered newest first, first page only).
    pub async fn search_articles(
        &self,
        search: &ArticleSearch,
        filter: &ArticleFilter,
        after: Option<&RankKey>,
        max_id: i64,
        limit: i64,
    ) -> Result<Vec<ArticleItem>> {
        on_engine!(self, e => e.search_articles(search, filter, after, max_id, limit).await)
    }

    /// One article with its feed items, Google links and story hints.
    pub async fn article_detail(&self, id: i64) -> Result<Option<ArticleDetail>> {
        on_engine!(self, e => e.article_detail(id).await)
    }

    /// Everything `/metrics` reports, read in one pass at scrape time.
    pub async fn api_metrics(&self) -> Result<ApiMetrics> {
        on_engine!(self, e => e.api_metrics().await)
    }

    // ---- Search for `newsd search`

    /// Full-text search ranked by bm25, with a highlighted snippet.
    pub async fn search(&self, q: &SearchQuery) -> Result<Vec<SearchHit>> {
        on_engine!(self, e => e.search(q).await)
    }

    // ---- Export

    /// Articles in first-seen order, page by page, for `newsd export`.
    pub async fn export_page(
        &self,
        since: Option<DateTime<Utc>>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<ExportArticle>> {
        on_engine!(self, e => e.export_page(since, after_id, limit).await)
    }

    // ---- Stories

    /// Gives every article without a story one, and compares articles whose
    /// full text arrived after they were clustered once more by text.
    ///
    /// Each article is compared only with articles first seen within `span`
    /// of it (`stories.window`, [`crate::cluster::WINDOW_HOURS`] by default), so the
    /// cost and memory per call depend on the news volume of a few days, not
    /// on the archive's size.
    pub async fn cluster_pending(
        &self,
        now: DateTime<Utc>,
        span: chrono::Duration,
    ) -> Result<ClusterReport> {
        on_engine!(self, e => e.cluster_pending(now, span).await)
    }

    /// Stories newest first (by first seen), keyset-paginated like articles.
    pub async fn list_stories(
        &self,
        after: Option<&SeenKey>,
        limit: i64,
    ) -> Result<Vec<StoryItem>> {
        on_engine!(self, e => e.list_stories(after, limit).await)
    }

    pub async fn story(&self, id: i64) -> Result<Option<StoryItem>> {
        on_engine!(self, e => e.story(id).await)
    }

    // ---- Saved searches and alerts

    /// Upserts the config's searches (keyed by name) and disables config
    /// searches that left the config. Nothing is deleted.
    pub async fn sync_config_searches(
        &self,
        searches: &[NewSearch],
        now: DateTime<Utc>,
    ) -> Result<SyncReport> {
        on_engine!(self, e => e.sync_config_searches(searches, now).await)
    }

    /// Adds a search from the CLI or API; an existing name is returned as it
    /// is, with `false`.
    pub async fn add_search(
        &self,
        search: &NewSearch,
        origin: SearchOrigin,
        now: DateTime<Utc>,
    ) -> Result<(SearchRow, bool)> {
        on_engine!(self, e => e.add_search(search, origin, now).await)
    }

    pub async fn list_searches(&self) -> Result<Vec<SearchRow>> {
        on_engine!(self, e => e.list_searches().await)
    }

    /// A search by name, or else by numeric id.
    pub async fn find_search(&self, id_or_name: &str) -> Result<Option<SearchRow>> {
        on_engine!(self, e => e.find_search(id_or_name).await)
    }

    /// Deletes a CLI or API search with its matches and events.
    pub async fn remove_search(&self, id_or_name: &str) -> Result<SearchRemoval> {
        on_engine!(self, e => e.remove_search(id_or_name).await)
    }

    /// Articles queued for matching (new, or whose title or text changed),
    /// oldest first.
    pub async fn pending_alert_articles(&self, limit: i64) -> Result<Vec<AlertCandidate>> {
        on_engine!(self, e => e.pending_alert_articles(limit).await)
    }

    /// Which of `ids` each search in the engine's own syntax (`(search id,
    /// query)`) matches: the engine looks at these articles only. A query the
    /// engine cannot read is that search's error alone.
    pub async fn fts_matches(
        &self,
        queries: &[(i64, &str)],
        ids: &[i64],
    ) -> Result<Vec<(i64, Result<Vec<i64>>)>> {
        on_engine!(self, e => e.fts_matches(queries, ids).await)
    }

    /// Records matches (held until `due_at`) and takes the matched articles
    /// `done` off the queue, in one transaction: a crash loses neither.
    pub async fn record_matches(
        &self,
        done: &[i64],
        matches: &[NewMatch],
        now: DateTime<Utc>,
        due_at: DateTime<Utc>,
    ) -> Result<usize> {
        on_engine!(self, e => e.record_matches(done, matches, now, due_at).await)
    }

    /// Held matches whose hold is over, oldest first.
    pub async fn held_matches(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<HeldMatch>> {
        on_engine!(self, e => e.held_matches(now, limit).await)
    }

    /// A digest search's matches waiting for its next digest.
    pub async fn queued_matches(&self, search_id: i64) -> Result<Vec<QueuedMatch>> {
        on_engine!(self, e => e.queued_matches(search_id).await)
    }

    /// Writes what became of held matches, the events and their outbox rows
    /// in one transaction; `digest_of` marks that search's digest as sent.
    pub async fn apply_promotion(
        &self,
        promotion: &Promotion,
        digest_of: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        on_engine!(self, e => e.apply_promotion(promotion, digest_of, now).await)
    }

    /// Deliveries due at `now`, earliest first.
    pub async fn due_deliveries(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Delivery>> {
        on_engine!(self, e => e.due_deliveries(now, limit).await)
    }

    /// When the earliest pending delivery is due (RFC 3339).
    pub async fn next_delivery_at(&self) -> Result<Option<String>> {
        on_engine!(self, e => e.next_delivery_at().await)
    }

    pub async fn finish_delivery(
        &self,
        id: i64,
        outcome: &DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> Result<()> {
        on_engine!(self, e => e.finish_delivery(id, outcome, now).await)
    }

    pub async fn alert_stats(&self) -> Result<AlertStats> {
        on_engine!(self, e => e.alert_stats().await)
    }

    // ---- Rules at ingest (`crate::rules` decides; these write)

    /// Writes a poll's rulings after its entries: tombstones for the
    /// blocked entries of `feed_id`, tags for the articles of tagged ones.
    pub async fn record_rulings(
        &self,
        feed_id: i64,
        rulings: &Rulings,
        now: DateTime<Utc>,
    ) -> Result<()> {
        on_engine!(self, e => e.record_rulings(feed_id, rulings, now).await)
    }

    /// Up to `limit` stored articles after `after_id` (first seen since
    /// `since`), in id order, with their feeds and tags.
    pub async fn ruled_articles(
        &self,
        since: Option<DateTime<Utc>>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<RuledArticle>> {
        on_engine!(self, e => e.ruled_articles(since, after_id, limit).await)
    }

    /// One stored article as the rules see it.
    pub async fn ruled_article(&self, id: i64) -> Result<Option<RuledArticle>> {
        let page = self.ruled_articles(None, id.saturating_sub(1), 1).await?;
        Ok(page.into_iter().find(|a| a.id == id))
    }

    pub async fn add_tags(&self, article_id: i64, tags: &[String]) -> Result<()> {
        on_engine!(self, e => e.add_tags(article_id, tags).await)
    }

    /// Removes the article's links from `feed_ids`, each leaving an entry
    /// tombstone; an article no feed links any more is deleted with all of
    /// retention's tombstones and its unsent alerts cancelled.
    pub async fn remove_article_links(
        &self,
        article_id: i64,
        feed_ids: &[i64],
        now: DateTime<Utc>,
    ) -> Result<Removal> {
        on_engine!(self, e => e.remove_article_links(article_id, feed_ids, now).await)
    }

    // ---- Retention

    /// Removes articles beyond `policy` (see the module docs); with `dry_run`
    /// only counts what would go and writes nothing (works on a read-only
    /// store).
    pub async fn prune(
        &self,
        now: DateTime<Utc>,
        policy: &RetentionPolicy,
        dry_run: bool,
    ) -> Result<PruneReport> {
        on_engine!(self, e => e.prune(now, policy, dry_run).await)
    }
}
