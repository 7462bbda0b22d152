//! The SQLite engine: one file in WAL mode through sqlx, migrations
//! (`migrations/sqlite/`) embedded and applied when a writer opens it,
//! readers never migrating. One writing connection, fed by its own thread
//! ([`lane`]), and a few readers that the writer never blocks.
//!
//! Every file here is one role of the store as SQL: [`ingest`] (the poll
//! write path), [`identity`] (the dedupe model's statements), [`feeds`],
//! [`google_links`] (with the lookup [`keys`]), [`fulltext_queue`],
//! [`search_index`], [`query`], [`export`],
//! [`stories`], [`retention`], [`upgrade`] (backfills run at open), with
//! [`sql`] holding the generic statement helpers.

mod alerts;
mod copy;
mod export;
mod feeds;
mod fulltext_queue;
mod google_links;
mod identity;
mod ingest;
mod instances;
pub(super) mod keys;
mod lane;
mod query;
mod retention;
mod rules;
mod search_index;
mod sql;
mod stories;
mod upgrade;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::SqlitePool;

use crate::store::error::{Result, StoreError};
use crate::store::instances::{Holder, HolderCell};
use crate::store::stats::Stats;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Readers: several connections, never blocked by the writer (WAL).
    pool: SqlitePool,
    /// The one writing connection: writers queue for it here instead of
    /// spinning on SQLite's busy handler against each other.
    pub(super) writer: SqlitePool,
    path: PathBuf,
    /// Test hook, see [`SqliteStore::set_page_limit`]; 0 when never used.
    page_limit: Arc<AtomicI64>,
    /// The write thread: poll writes and search indexing; none for a
    /// read-only store.
    lane: Option<Arc<lane::WriteLane>>,
    /// Whose singleton jobs this process runs (see `store::instances`).
    holder: HolderCell,
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

impl SqliteStore {
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
        let hashed = upgrade::fill_key_hashes(&writer).await?;
        if hashed > 0 {
            tracing::info!(
                rows = hashed,
                "hashed the lookup keys of rows from before migrations 0012 and 0013"
            );
        }
        let rekeyed = upgrade::rekey_long_entries(&writer).await?;
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
        let lane = Some(Arc::new(lane::WriteLane::start(
            writer.clone(),
            checkpoints,
        )?));
        Ok(SqliteStore {
            pool,
            writer,
            path,
            page_limit,
            lane,
            holder: HolderCell::default(),
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
    /// daemon's RSS stepped up by 1-4 MiB each time (BENCHMARKS.md, "Soak",
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
        let store = SqliteStore {
            writer: pool.clone(),
            pool,
            path,
            page_limit: Arc::default(),
            lane: None,
            holder: HolderCell::default(),
        };
        store.check_schema_version().await?;
        Ok(store)
    }

    /// Claims from now on are made for `holder`.
    pub fn set_holder(&self, holder: Holder) {
        self.holder.set(holder);
    }

    pub(super) fn holder(&self) -> Holder {
        self.holder.get()
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
            // The background checkpointer (`lane`) copies the WAL;
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
            // entry (BENCHMARKS.md, "The writer's page cache is 16 MiB").
            // Readers keep the default.
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

    #[cfg(any(test, feature = "test-support"))]
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

    pub async fn integrity_check(&self) -> Result<String> {
        Ok(sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&self.pool)
            .await?)
    }

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
mod tests;
