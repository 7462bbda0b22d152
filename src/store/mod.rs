//! All SQL lives here. SQLite in WAL mode through sqlx; migrations embedded
//! and applied at start by writers; readers never migrate.

mod api;
mod articles;
mod feeds;
mod fulltext;
mod google;
mod lane;
mod retention;
mod search;
mod stories;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use futures::TryStreamExt;
use sqlx::sqlite::{
    SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::SqlitePool;

pub use api::{
    ApiMetrics, ArticleDetail, ArticleFeedItem, ArticleFilter, ArticleGoogleLink, ArticleItem,
    ArticleSearch, ItemText, RankKey, SearchOrder, SeenKey, StoryHint,
};
pub use articles::{ExportArticle, NewEntry, PollStored};
pub use feeds::{
    FeedRow, FeedUpdate, FetchedSchedule, NewFeed, PollUpdate, RemoveOutcome, SyncReport,
};
pub use fulltext::{ArticleContent, FulltextJob, FulltextStats};
pub use google::{Budget, GoogleEntry, GoogleQueueStats, Hint, PendingLink};
pub use retention::{PruneReport, RetentionPolicy};
pub use search::{SearchHit, SearchQuery};
pub use stories::{ClusterReport, StoryItem};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("invalid database url {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("cannot create database directory {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database {path} does not exist")]
    Missing { path: PathBuf },
    #[error(
        "database schema is at version {found}, this newsd expects {expected}; run `newsd run` (or a matching newsd) to migrate it"
    )]
    SchemaVersion { found: i64, expected: i64 },
    #[error("no feed matches {0:?}")]
    FeedNotFound(String),
    #[error(
        "feed {0} is managed by the config file; remove it from the config's [[feeds]] instead"
    )]
    ConfigManaged(String),
    #[error("bad search query: {0}")]
    Query(String),
    /// A statement affected other rows than the ones it must have: the
    /// transaction is rolled back rather than committed half right.
    #[error("unexpected database state: {0}")]
    Inconsistent(String),
    #[error("cannot start the database write thread: {0}")]
    Lane(std::io::Error),
    #[error("the database write thread stopped: {0}")]
    LaneStopped(String),
    #[error("the database is open read-only; {0} needs a writer")]
    ReadOnly(&'static str),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A UTC timestamp as stored: RFC 3339, second precision, `Z` suffix.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

#[derive(Debug, Clone)]
pub struct Store {
    /// Readers: several connections, never blocked by the writer (WAL).
    pool: SqlitePool,
    /// The one writing connection: writers queue for it here instead of
    /// spinning on SQLite's busy handler against each other.
    writer: SqlitePool,
    path: PathBuf,
    /// Test hook, see [`Store::set_page_limit`]; 0 when never used.
    page_limit: Arc<AtomicI64>,
    /// The write thread: poll writes and search indexing; none for a
    /// read-only store.
    lane: Option<Arc<lane::WriteLane>>,
    /// The lane's filter of settled lookup keys, for tests that settle keys
    /// themselves: a merge the filter did not see would hide its keys.
    #[cfg(test)]
    settled: Arc<google::SettledKeys>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Stats {
    pub feeds: i64,
    pub feeds_enabled: i64,
    pub feeds_failing: i64,
    pub articles: i64,
    pub articles_with_text: i64,
    pub feed_items: i64,
    pub database_bytes: u64,
}

/// Whether a connection going back to the pool is out of any transaction;
/// one that is not gets closed instead of reused.
///
/// When a statement fails with SQLITE_FULL or an I/O error, SQLite may roll
/// the whole transaction back by itself. sqlx 0.8 still counts it as open:
/// the ROLLBACK it sends when the `Transaction` drops fails ("no transaction
/// is active"), and from then on every `BEGIN` on that connection is refused
/// ("attempted to call begin_with at non-zero transaction depth"), so one full
/// disk used to leave the writer pool unable to write ever again.
async fn transaction_closed(conn: &mut sqlx::SqliteConnection) -> bool {
    use sqlx::Connection as _;
    if conn.is_in_transaction() {
        // Let the rollback a dropped `Transaction` queued run first.
        let _ = conn.ping().await;
    }
    !conn.is_in_transaction()
}

/// The writer connection's page cache, in KiB (a negative `cache_size`).
const WRITER_CACHE_KIB: &str = "-16384";

/// SQLite's largest `max_page_count`.
const MAX_PAGE_COUNT: i64 = 4_294_967_294;

/// An article waiting for the search indexes: id, title, summary, text.
type PendingRow = (i64, Option<String>, Option<String>, Option<String>);

/// Articles indexed per transaction: large enough that FTS5 writes few
/// segments per round.
const INDEX_BATCH: i64 = 2000;

async fn apply_page_limit(
    conn: &mut sqlx::SqliteConnection,
    limit: &AtomicI64,
) -> std::result::Result<(), sqlx::Error> {
    let limit = limit.load(Ordering::SeqCst);
    if limit > 0 {
        sqlx::query(&format!("PRAGMA max_page_count = {limit}"))
            .execute(conn)
            .await?;
    }
    Ok(())
}

pub fn db_path(url: &str) -> Result<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| StoreError::Url {
            url: url.to_owned(),
            reason: "must start with sqlite:".into(),
        })?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Err(StoreError::Url {
            url: url.to_owned(),
            reason: "a file path is required".into(),
        });
    }
    Ok(PathBuf::from(path))
}

impl Store {
    /// Opens (creating if needed) and migrates the database: for writers.
    pub async fn open(url: &str, busy_timeout: Duration) -> Result<Self> {
        let path = db_path(url)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let opts = Self::options(&path, busy_timeout, true)?
            .create_if_missing(true)
            // Only takes effect when the file is created, which is when we want it.
            .auto_vacuum(SqliteAutoVacuum::Incremental);
        let page_limit = Arc::new(AtomicI64::new(0));
        let writer = Self::pool_options(&page_limit, 1)
            .connect_with(opts.clone())
            .await?;
        MIGRATOR.run(&writer).await?;
        let hashed = google::fill_key_hashes(&writer).await?;
        if hashed > 0 {
            tracing::info!(
                rows = hashed,
                "hashed the lookup keys of rows from before migrations 0012 and 0013"
            );
        }
        let rekeyed = articles::rekey_long_entries(&writer).await?;
        if rekeyed > 0 {
            tracing::info!(
                entries = rekeyed,
                "keyed entries with long guids or links by hash (migration 0015)"
            );
        }
        // Readers get no journal or auto_vacuum pragmas: `auto_vacuum` is
        // written to the file header, so each new reader connection waited
        // for the write lock and failed with "database is locked" while the
        // writer held it past busy_timeout (seen in examples/api_bench.rs:
        // API requests answering 500 during ingest). WAL mode is already
        // set on the file by the writer.
        let reader = Self::options(&path, busy_timeout, false)?;
        let pool = Self::pool_options(&page_limit, 4)
            .connect_with(reader)
            .await?;
        let checkpoints = Self::options(&path, busy_timeout, false)?;
        let settled = Arc::new(google::SettledKeys::default());
        let lane = Some(Arc::new(lane::WriteLane::start(
            writer.clone(),
            settled.clone(),
            checkpoints,
        )?));
        Ok(Store {
            pool,
            writer,
            path,
            page_limit,
            lane,
            #[cfg(test)]
            settled,
        })
    }

    /// Pool options shared by the reader and writer pools: a connection that
    /// comes back still inside a transaction (SQLite rolled it back on its own,
    /// e.g. after SQLITE_FULL) is closed, and the test-only page limit applies.
    ///
    /// Connections are kept for the life of the process: sqlx's defaults
    /// close them after 10 idle or 30 minutes, which suits network databases;
    /// here each replacement only built a new page cache on a new thread
    /// while the old one's memory went back to a fragmented heap, and the
    /// daemon's RSS stepped up by 2-4 MiB each time (BENCHMARKS.md, "Soak",
    /// run 10). A connection's memory is bounded by its `cache_size`.
    fn pool_options(page_limit: &Arc<AtomicI64>, max: u32) -> SqlitePoolOptions {
        let (on_connect, on_acquire) = (page_limit.clone(), page_limit.clone());
        SqlitePoolOptions::new()
            .max_connections(max)
            .idle_timeout(None)
            .max_lifetime(None)
            .after_release(|conn, _| Box::pin(async move { Ok(transaction_closed(conn).await) }))
            .after_connect(move |conn, _| {
                let limit = on_connect.clone();
                Box::pin(async move { apply_page_limit(conn, &limit).await })
            })
            .before_acquire(move |conn, _| {
                let limit = on_acquire.clone();
                Box::pin(async move { apply_page_limit(conn, &limit).await.map(|()| true) })
            })
    }

    /// Opens an existing database without migrating or writing: for readers.
    /// Refuses a database at another schema version.
    pub async fn open_read_only(url: &str, busy_timeout: Duration) -> Result<Self> {
        let path = db_path(url)?;
        if !path.exists() {
            return Err(StoreError::Missing { path });
        }
        let opts = Self::options(&path, busy_timeout, false)?.read_only(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await?;
        let store = Store {
            writer: pool.clone(),
            pool,
            path,
            page_limit: Arc::default(),
            lane: None,
            #[cfg(test)]
            settled: Arc::default(),
        };
        store.check_schema_version().await?;
        Ok(store)
    }

    fn options(path: &Path, busy_timeout: Duration, writer: bool) -> Result<SqliteConnectOptions> {
        let url = format!("sqlite://{}", path.display());
        let opts = SqliteConnectOptions::from_str(&url)
            .map_err(|e| StoreError::Url {
                url,
                reason: e.to_string(),
            })?
            .foreign_keys(true)
            .busy_timeout(busy_timeout);
        if !writer {
            return Ok(opts);
        }
        Ok(opts
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            // Keeps the WAL file from growing without bound between checkpoints.
            .pragma("journal_size_limit", "67108864")
            // The background checkpointer (store/lane.rs) copies the WAL;
            // the writer's own checkpoint only lets the WAL start over, at
            // ~200 MiB. Each one waits in fsync for the writeback the other
            // connection started, so rarer is faster: ingest at N=5,000 ran
            // 10 % faster than with one every ~40 MiB. A quiet daemon's WAL
            // starts over long before (see `checkpoint_in_background`).
            .pragma("wal_autocheckpoint", "50000")
            // Statement journals (every multi-row insert needs one) in memory
            // instead of a temporary file.
            .pragma("temp_store", "memory")
            // A group commit changes a few thousand pages across some twenty
            // b-trees. In SQLite's default 2 MiB cache they spilled into the
            // WAL mid-transaction, to be written again at commit, and the
            // upper levels of those b-trees were read back for every group:
            // 16 MiB took 12-15 % off the writer's CPU per Google-shaped
            // entry (BENCHMARKS.md, session 9). Readers keep the default.
            .pragma("cache_size", WRITER_CACHE_KIB))
    }

    pub async fn check_schema_version(&self) -> Result<()> {
        let expected = MIGRATOR.iter().map(|m| m.version).max().unwrap_or_default();
        let found: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = 1")
                .fetch_one(&self.pool)
                .await
                .unwrap_or(None);
        let found = found.unwrap_or(0);
        if found != expected {
            return Err(StoreError::SchemaVersion { found, expected });
        }
        Ok(())
    }

    /// Test hook: caps the database at its current size plus `extra_pages`
    /// (`PRAGMA max_page_count` on every connection of the writer pool, also
    /// those it opens later), or lifts the cap (`None`). Simulates a full
    /// disk; the daemon never calls it. Takes effect as connections are
    /// next acquired.
    #[doc(hidden)]
    pub async fn set_page_limit(&self, extra_pages: Option<i64>) -> Result<()> {
        let limit = match extra_pages {
            Some(extra) => {
                let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
                    .fetch_one(&self.pool)
                    .await?;
                pages + extra.max(0)
            }
            None => MAX_PAGE_COUNT,
        };
        self.page_limit.store(limit, Ordering::SeqCst);
        Ok(())
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    /// `BEGIN IMMEDIATE`: takes the write lock up front, so a transaction never
    /// fails halfway when another connection wrote since it started reading.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'_, sqlx::Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    fn write_lane(&self, what: &'static str) -> Result<&lane::WriteLane> {
        self.lane.as_deref().ok_or(StoreError::ReadOnly(what))
    }

    /// Adds articles stored or changed since the last call to the full-text
    /// indexes, in batches; returns how many. Search sees an article once
    /// this ran. Only articles with text in a script written without spaces
    /// go into the trigram index (migration 0007).
    pub async fn index_pending(&self) -> Result<usize> {
        let store = self.clone();
        self.write_lane("search indexing")?
            .run(async move {
                let mut total = 0;
                while let Some(n) = store.index_batch().await? {
                    total += n;
                }
                Ok(total)
            })
            .await
    }

    /// Indexes in the background, on the write thread between polls, once a
    /// batch's worth of new articles waits: the indexing then overlaps with
    /// the fetching and parsing of the next polls instead of following them.
    fn index_when_a_batch_waits(&self, added: usize) {
        let Some(lane) = &self.lane else { return };
        let waiting = lane.unindexed.fetch_add(added, Ordering::Relaxed) + added;
        if waiting < INDEX_BATCH as usize || lane.indexing.swap(true, Ordering::AcqRel) {
            return;
        }
        lane.unindexed.store(0, Ordering::Relaxed);
        let store = self.clone();
        let done = lane.clone();
        lane.spawn(async move {
            if let Err(e) = store.index_batch().await {
                tracing::warn!(error = %e, "background search indexing failed; the articles stay queued");
            }
            done.indexing.store(false, Ordering::Release);
        });
    }

    /// One batch of `index_pending`, in its own transaction; `None` when
    /// nothing was waiting.
    async fn index_batch(&self) -> Result<Option<usize>> {
        let mut tx = self.begin_write().await?;
        let upto: Option<i64> = sqlx::query_scalar(
            "SELECT max(article_id) FROM \
             (SELECT article_id FROM fts_pending ORDER BY article_id LIMIT ?)",
        )
        .bind(INDEX_BATCH)
        .fetch_one(&mut *tx)
        .await?;
        let Some(upto) = upto else {
            return Ok(None);
        };
        // Only texts with a character outside ASCII can be in such a script:
        // SQLite compares lengths in characters and bytes, so only those
        // rows come over to be checked here (sending every row was a large
        // part of the write thread's time). Streamed, not collected: a
        // batch of long texts (hostile pages are capped only by the body
        // size) never sits in memory at once.
        let mut unspaced = Vec::new();
        {
            let mut rows = sqlx::query_as::<_, PendingRow>(
                "SELECT a.id, a.title, a.summary, a.text FROM fts_pending p \
                 CROSS JOIN articles a ON a.id = p.article_id WHERE p.article_id <= ? \
                 AND (length(CAST(a.title AS BLOB)) != length(a.title) \
                   OR length(CAST(a.summary AS BLOB)) != length(a.summary) \
                   OR length(CAST(a.text AS BLOB)) != length(a.text))",
            )
            .bind(upto)
            .fetch(&mut *tx);
            while let Some((id, title, summary, text)) = rows.try_next().await? {
                if [title, summary, text]
                    .iter()
                    .flatten()
                    .any(|s| s.chars().any(search::is_unspaced_script))
                {
                    unspaced.push(id);
                }
            }
        }
        // CROSS JOIN keeps the queue outermost: with a plain join SQLite
        // may carry `<= upto` over to articles.id and walk the whole
        // archive up to it, every batch.
        sqlx::query(
            "INSERT INTO articles_fts (rowid, title, summary, text) \
             SELECT a.id, a.title, a.summary, a.text FROM fts_pending p \
             CROSS JOIN articles a ON a.id = p.article_id WHERE p.article_id <= ?",
        )
        .bind(upto)
        .execute(&mut *tx)
        .await?;
        if !unspaced.is_empty() {
            let ids = serde_json::to_string(&unspaced).unwrap_or_else(|_| "[]".into());
            sqlx::query(
                "INSERT OR IGNORE INTO trigram_rows (article_id) \
                 SELECT value FROM json_each(?)",
            )
            .bind(&ids)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO articles_trigram (rowid, title, summary, text) \
                 SELECT a.id, a.title, a.summary, a.text FROM json_each(?) j \
                 CROSS JOIN articles a ON a.id = j.value",
            )
            .bind(&ids)
            .execute(&mut *tx)
            .await?;
        }
        let n = sqlx::query("DELETE FROM fts_pending WHERE article_id <= ?")
            .bind(upto)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(Some(n as usize))
    }

    pub async fn integrity_check(&self) -> Result<String> {
        Ok(sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&self.pool)
            .await?)
    }

    /// FTS5's own check of both search indexes against their content: an
    /// error names the index that does not match. Needs a writer connection
    /// (the check is an `INSERT` command), and reads the whole archive.
    pub async fn check_search_indexes(&self) -> Result<()> {
        for table in ["articles_fts", "articles_trigram"] {
            sqlx::query(&format!(
                "INSERT INTO {table} ({table}, rank) VALUES ('integrity-check', 1)"
            ))
            .execute(&self.writer)
            .await
            .map_err(|e| StoreError::Inconsistent(format!("{table}: {e}")))?;
        }
        Ok(())
    }

    /// Periodic upkeep for a database that lives for months: checkpoint the
    /// WAL, let SQLite refresh its statistics, hand free pages back to the OS.
    pub async fn maintenance(&self) -> Result<()> {
        sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&self.writer)
            .await?;
        sqlx::query("PRAGMA optimize").execute(&self.writer).await?;
        sqlx::query("PRAGMA incremental_vacuum(1000)")
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// A consistent copy of the live database (safe while the daemon writes).
    pub async fn backup(&self, dest: &Path) -> Result<()> {
        sqlx::query("VACUUM INTO ?")
            .bind(dest.to_string_lossy().into_owned())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn stats(&self) -> Result<Stats> {
        let (feeds, feeds_enabled, feeds_failing): (i64, i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(enabled), 0), COALESCE(SUM(error_count > 0), 0) FROM feeds",
        )
        .fetch_one(&self.pool)
        .await?;
        let (articles, articles_with_text): (i64, i64) =
            sqlx::query_as("SELECT COUNT(*), COALESCE(SUM(text IS NOT NULL), 0) FROM articles")
                .fetch_one(&self.pool)
                .await?;
        let feed_items: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM feed_items")
            .fetch_one(&self.pool)
            .await?;
        let database_bytes = [
            self.path.clone(),
            PathBuf::from(format!("{}-wal", self.path.display())),
        ]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
        Ok(Stats {
            feeds,
            feeds_enabled,
            feeds_failing,
            articles,
            articles_with_text,
            feed_items,
            database_bytes,
        })
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    pub async fn temp_store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::open(&url, Duration::from_secs(5)).await.unwrap();
        (store, dir)
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::temp_store;
    use super::*;

    async fn limit_pages(store: &Store, extra: Option<i64>) {
        store.set_page_limit(extra).await.unwrap();
    }

    #[tokio::test]
    async fn the_wal_is_copied_in_the_background_and_starts_over_between_bursts_of_writing() {
        let (store, _d) = temp_store().await;
        let size = |path: &Path| std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let wal = PathBuf::from(format!("{}-wal", store.path().display()));
        // Four bursts of ~3 MiB of WAL each: far below the writer's own
        // threshold (~200 MiB), so only the background checkpointer copies
        // them, and only its copying lets the WAL start over.
        let mut first_burst = None;
        for burst in 0..4 {
            let before = size(store.path());
            let mut tx = store.begin_write().await.unwrap();
            for i in 0..500 {
                sqlx::query(
                    "INSERT INTO articles (url_key, summary, first_seen_at, updated_at) \
                     VALUES (?, ?, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
                )
                .bind(format!("https://n.example/{burst}/{i}"))
                .bind("x".repeat(2_000))
                .execute(&mut *tx)
                .await
                .unwrap();
            }
            tx.commit().await.unwrap();
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while size(store.path()) < before + 1_000_000 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "burst {burst}: the database file stayed at {} bytes",
                    size(store.path())
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            // The copy is complete once the database file is synced too.
            tokio::time::sleep(Duration::from_millis(500)).await;
            first_burst = first_burst.or(Some(size(&wal)));
        }
        // One burst's worth when the WAL started over at each burst, four
        // when it never did; a slow disk may make one burst miss its turn.
        let first_burst = first_burst.unwrap_or_default();
        assert!(
            size(&wal) < first_burst * 5 / 2,
            "the WAL grew to {} bytes over four bursts of {first_burst}",
            size(&wal)
        );
    }

    #[tokio::test]
    async fn a_transaction_that_hits_a_full_disk_leaves_no_connection_unable_to_write() {
        // Depending on where SQLITE_FULL strikes, SQLite rolls the whole
        // transaction back itself; sqlx then kept the connection "in a
        // transaction" and refused every later BEGIN on it.
        for extra in 0..8 {
            let (store, _dir) = temp_store().await;
            limit_pages(&store, Some(extra)).await;
            let mut tx = store.begin_write().await.unwrap();
            let mut failed = false;
            for i in 0..400 {
                let r = sqlx::query(
                    "INSERT INTO articles (url_key, title, summary, first_seen_at, updated_at) \
                     VALUES (?1, ?2, ?2, 'x', 'x')",
                )
                .bind(format!("k{i}"))
                .bind(format!("word{i} ").repeat(200))
                .execute(&mut *tx)
                .await;
                if r.is_err() {
                    failed = true;
                    break;
                }
            }
            assert!(failed, "the limit was never reached");
            drop(tx);
            limit_pages(&store, None).await;
            let mut txs = Vec::new();
            for _ in 0..4 {
                let mut conn = store.pool().acquire().await.unwrap();
                sqlx::query("BEGIN IMMEDIATE")
                    .execute(&mut *conn)
                    .await
                    .unwrap();
                sqlx::query("ROLLBACK").execute(&mut *conn).await.unwrap();
                txs.push(conn);
            }
            drop(txs);
            for _ in 0..4 {
                let tx = store.begin_write().await;
                assert!(tx.is_ok(), "extra {extra}: {:?}", tx.err());
                tx.unwrap().commit().await.unwrap();
            }
            assert_eq!(
                store.integrity_check().await.unwrap(),
                "ok",
                "extra {extra}"
            );
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM articles")
                .fetch_one(store.pool())
                .await
                .unwrap();
            assert_eq!(n, 0, "extra {extra}: nothing of the failed transaction");
        }
    }

    #[tokio::test]
    async fn a_new_database_is_wal_with_incremental_auto_vacuum_and_foreign_keys() {
        let (store, _dir) = temp_store().await;
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let av: i64 = sqlx::query_scalar("PRAGMA auto_vacuum")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(av, 2, "2 = incremental");
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(fk, 1);
        assert_eq!(store.integrity_check().await.unwrap(), "ok");
        store.maintenance().await.unwrap();
    }

    #[tokio::test]
    async fn the_writer_caches_sixteen_mebibytes_of_pages_and_readers_the_default() {
        let (store, _dir) = temp_store().await;
        let cache_of = |pool: SqlitePool| async move {
            sqlx::query_scalar::<_, i64>("PRAGMA cache_size")
                .fetch_one(&pool)
                .await
                .unwrap()
        };
        assert_eq!(cache_of(store.writer.clone()).await, -16384);
        assert_eq!(cache_of(store.pool().clone()).await, -2000);
    }

    #[tokio::test]
    async fn read_only_open_refuses_a_missing_database() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("none.db").display());
        let err = Store::open_read_only(&url, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Missing { .. }), "{err}");
    }

    #[tokio::test]
    async fn read_only_open_refuses_another_schema_version() {
        let (store, dir) = temp_store().await;
        sqlx::query("UPDATE _sqlx_migrations SET version = 999999 WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)")
            .execute(store.pool())
            .await
            .unwrap();
        store.close().await;
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let err = Store::open_read_only(&url, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::SchemaVersion { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_read_only_store_has_no_write_thread_and_refuses_writes_by_name() {
        let (store, dir) = temp_store().await;
        store.close().await;
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let reader = Store::open_read_only(&url, Duration::from_secs(1))
            .await
            .unwrap();
        assert!(reader.lane.is_none());
        let now = chrono::Utc::now();
        let err = reader
            .record_poll(1, Vec::new(), now, FeedUpdate::default())
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::ReadOnly("storing a poll")),
            "{err}"
        );
        let err = reader.index_pending().await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "the database is open read-only; search indexing needs a writer"
        );
    }

    #[tokio::test]
    async fn backup_produces_a_consistent_copy() {
        let (store, dir) = temp_store().await;
        let dest = dir.path().join("copy.db");
        store.backup(&dest).await.unwrap();
        let url = format!("sqlite://{}", dest.display());
        let copy = Store::open_read_only(&url, Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(copy.integrity_check().await.unwrap(), "ok");
    }

    #[test]
    fn database_urls_map_to_paths() {
        assert_eq!(
            db_path("sqlite://data/newsd.db").unwrap(),
            PathBuf::from("data/newsd.db")
        );
        assert_eq!(
            db_path("sqlite:///tmp/x.db?mode=rwc").unwrap(),
            PathBuf::from("/tmp/x.db")
        );
        assert!(db_path("postgres://x").is_err());
        assert!(db_path("sqlite::memory:").is_err());
    }
}
