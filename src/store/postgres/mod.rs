//! The PostgreSQL engine: the same archive on a server database, for users
//! who outgrow one file. Migrations (`migrations/postgres/`) are embedded
//! and applied when a writer opens it; a reader's sessions are read-only
//! (`default_transaction_read_only`), so `newsd serve` cannot write even
//! by mistake.
//!
//! The schema mirrors SQLite's (timestamps as RFC 3339 text, the same
//! statuses and keys) without SQLite's speed machinery: ordinary indexes
//! where SQLite keeps hashed key tiers, a `tsvector` table kept by a
//! trigger where SQLite keeps FTS5 tables. Each file is one role of the store as
//! SQL, like the SQLite engine's: [`feeds`], [`ingest`], [`identity`],
//! [`google_links`], [`fulltext_queue`], [`query`], [`export`],
//! [`stories`], [`retention`], [`host_gate`].

mod alerts;
mod copy;
mod export;
mod feeds;
mod fulltext_queue;
mod google_links;
mod host_gate;
mod identity;
mod ingest;
mod instances;
mod query;
mod retention;
mod rules;
mod stories;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection as _, PgPool};

use crate::store::error::{Result, StoreError};
use crate::store::instances::{Holder, HolderCell};
use crate::store::stats::Stats;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The advisory-lock key of the writers: any 64-bit number newsd alone
/// uses ("newsd-wr" in ASCII).
const WRITER_LOCK_KEY: i64 = 0x6e65_7773_642d_7772;

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// The URL without its password, for messages.
    location: String,
    read_only: bool,
    /// Who this process's claims on shared work are made for: the
    /// instance's name once it registered, else the process default.
    holder: HolderCell,
}

/// Whether `url` names PostgreSQL.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// `url` with any password replaced by `***`: what messages and logs show.
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "<unparsable postgres url>".into(),
    }
}

fn options(url: &str) -> Result<PgConnectOptions> {
    PgConnectOptions::from_str(url).map_err(|e| StoreError::Url {
        url: redacted(url),
        reason: e.to_string(),
    })
}

impl PostgresStore {
    pub async fn open(url: &str, busy_timeout: Duration) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(busy_timeout.max(Duration::from_secs(5)))
            .connect_with(options(url)?)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(PostgresStore {
            pool,
            location: redacted(url),
            read_only: false,
            holder: HolderCell::default(),
        })
    }

    pub async fn open_read_only(url: &str, busy_timeout: Duration) -> Result<Self> {
        let opts = options(url)?.options([("default_transaction_read_only", "on")]);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(busy_timeout.max(Duration::from_secs(5)))
            .connect_with(opts)
            .await?;
        let store = PostgresStore {
            pool,
            location: redacted(url),
            read_only: true,
            holder: HolderCell::default(),
        };
        store.check_schema_version().await?;
        Ok(store)
    }

    #[cfg(any(test, feature = "test-support"))]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Claims from now on are made for `holder`.
    pub fn set_holder(&self, holder: Holder) {
        self.holder.set(holder);
    }

    pub(super) fn holder(&self) -> Holder {
        self.holder.get()
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    fn writable(&self, what: &'static str) -> Result<()> {
        if self.read_only {
            return Err(StoreError::ReadOnly(what));
        }
        Ok(())
    }

    pub async fn check_schema_version(&self) -> Result<()> {
        let expected = MIGRATOR.iter().map(|m| m.version).max().unwrap_or_default();
        let found: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await
                .unwrap_or(None);
        let found = found.unwrap_or(0);
        if found != expected {
            return Err(StoreError::SchemaVersion { found, expected });
        }
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// PostgreSQL checks its own pages (checksums, WAL); what newsd can
    /// check is that every table answers and the schema is the expected one.
    pub async fn integrity_check(&self) -> Result<String> {
        self.check_schema_version().await?;
        for table in [
            "feeds",
            "articles",
            "article_search",
            "feed_items",
            "google_links",
            "fulltext_jobs",
            "stories",
            "tombstones",
        ] {
            sqlx::query(&format!("SELECT 1 FROM {table} LIMIT 1"))
                .execute(&self.pool)
                .await?;
        }
        Ok("ok".into())
    }

    /// The search documents are written by a trigger in the article's own
    /// statement, so what can go wrong is an index PostgreSQL marked
    /// invalid (a failed concurrent build) or a trigger someone dropped,
    /// which leaves articles without a document; this names either.
    pub async fn check_search_indexes(&self) -> Result<()> {
        let invalid: Vec<String> = sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             WHERE i.indrelid IN ('articles'::regclass, 'article_search'::regclass) \
             AND NOT i.indisvalid",
        )
        .fetch_all(&self.pool)
        .await?;
        if !invalid.is_empty() {
            return Err(StoreError::Inconsistent(format!(
                "invalid search indexes: {}",
                invalid.join(", ")
            )));
        }
        let missing: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM articles a \
             WHERE NOT EXISTS (SELECT 1 FROM article_search s WHERE s.article_id = a.id)",
        )
        .fetch_one(&self.pool)
        .await?;
        if missing > 0 {
            return Err(StoreError::Inconsistent(format!(
                "{missing} articles have no search document (is the trigger articles_search_insert missing?)"
            )));
        }
        Ok(())
    }

    /// Autovacuum keeps statistics and free space; this only refreshes the
    /// planner's statistics of the tables that grow fastest.
    pub async fn maintenance(&self) -> Result<()> {
        self.writable("maintenance")?;
        sqlx::query("ANALYZE articles, article_search, feed_items, google_links, fulltext_jobs")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn backup(&self, dest: &std::path::Path) -> Result<()> {
        Err(StoreError::Unsupported(format!(
            "a backup file ({}) of a PostgreSQL archive: use pg_dump (`pg_dump -Fc -f newsd.dump DBNAME`)",
            dest.display()
        )))
    }

    pub async fn stats(&self) -> Result<Stats> {
        let (feeds, feeds_enabled, feeds_failing): (i64, i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE enabled), COUNT(*) FILTER (WHERE error_count > 0) \
             FROM feeds",
        )
        .fetch_one(&self.pool)
        .await?;
        let (articles, articles_with_text): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE text IS NOT NULL) FROM articles",
        )
        .fetch_one(&self.pool)
        .await?;
        let feed_items: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM feed_items")
            .fetch_one(&self.pool)
            .await?;
        let database_bytes: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
            .fetch_one(&self.pool)
            .await?;
        Ok(Stats {
            feeds,
            feeds_enabled,
            feeds_failing,
            articles,
            articles_with_text,
            feed_items,
            database_bytes: u64::try_from(database_bytes).unwrap_or_default(),
        })
    }
}

/// A writer's hold on a PostgreSQL archive: a session advisory lock on a
/// connection of its own, which PostgreSQL releases when the connection
/// ends (the process exits or dies). Instances hold it shared, so any
/// number of them write at once; `newsd copy` holds it exclusively while it
/// fills an archive, so no instance writes into a half-copied one.
#[derive(Debug)]
pub struct PgWriterLock {
    _conn: sqlx::PgConnection,
}

/// Takes the writers' lock of the archive at `url`, shared by instances or
/// exclusive (a copy); `Ok(None)` when the other kind holds it.
pub async fn lock_writer(url: &str, exclusive: bool) -> Result<Option<PgWriterLock>> {
    let mut conn = sqlx::PgConnection::connect_with(&options(url)?).await?;
    let sql = if exclusive {
        "SELECT pg_try_advisory_lock($1)"
    } else {
        "SELECT pg_try_advisory_lock_shared($1)"
    };
    let got: bool = sqlx::query_scalar(sql)
        .bind(WRITER_LOCK_KEY)
        .fetch_one(&mut conn)
        .await?;
    if !got {
        let _ = conn.close().await;
        return Ok(None);
    }
    Ok(Some(PgWriterLock { _conn: conn }))
}

#[cfg(test)]
mod tests;
