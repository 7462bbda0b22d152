//! The store's one error type: what every engine reports, in variants a
//! caller can match (a missing row, a conflict with the config, input the
//! store cannot use) beside the engine's own failures.

use std::path::PathBuf;

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
    /// Something other than a feed that the caller named and the archive
    /// does not hold (a Google id, an article).
    #[error("{0} not found")]
    NotFound(String),
    #[error(
        "feed {0} is managed by the config file; remove it from the config's [[feeds]] instead"
    )]
    ConfigManaged(String),
    /// A search without a word in it.
    #[error("bad search query: empty query")]
    EmptySearch,
    /// The engine refused a search given in its own query syntax
    /// (`SearchText::Fts5`): SQLite's FTS5 syntax, PostgreSQL's
    /// `to_tsquery` syntax.
    #[error("bad search query: {reason} (in full-text query {query:?})")]
    SearchSyntax { query: String, reason: String },
    /// A value handed to the store that it cannot store (a publisher URL
    /// that does not parse).
    #[error("invalid input: {0}")]
    InvalidInput(String),
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
    #[error("{0} is not supported by this database engine")]
    Unsupported(String),
    /// `newsd copy` into an archive that instances are writing.
    #[error("newsd instances (`newsd run` or `newsd poll --once`) are writing {db}; stop them before copying into it")]
    WriterBusy { db: String },
    /// An instance starting while `newsd copy` fills the archive.
    #[error("`newsd copy` is filling {db}; start newsd on it once the copy has finished")]
    BeingCopied { db: String },
    /// `instance.name` taken by an instance that is alive.
    #[error("another newsd instance named {name:?} is running (pid {pid} on {host}, last heartbeat {heartbeat_at}); give this one another `instance.name`")]
    InstanceLive {
        name: String,
        host: String,
        pid: i64,
        heartbeat_at: String,
    },
    #[error(transparent)]
    Lock(#[from] crate::lock::LockError),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
