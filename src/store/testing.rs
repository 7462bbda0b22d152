//! Fresh stores for tests (behind the `test-support` feature, which the
//! integration tests enable): every store test takes its engine from here,
//! so a new engine is added in this one place.
//!
//! PostgreSQL tests run against the server `NEWSD_TEST_POSTGRES_URL`
//! names (a role that may create databases): each test gets a database of
//! its own, dropped when its guard drops. Without the variable they report
//! themselves skipped; with it set and the server unreachable they fail.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::{Connection as _, Executor as _};

use super::{EngineKind, Store};

/// The variable naming the PostgreSQL server tests use.
pub const POSTGRES_URL_VAR: &str = "NEWSD_TEST_POSTGRES_URL";

/// The `database.url` of a new SQLite archive whose file goes in `dir`.
pub fn database_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("newsd.db").display())
}

/// A test archive: its files or its server database live as long as this.
#[derive(Debug)]
pub struct TestArchive {
    pub url: String,
    pub dir: tempfile::TempDir,
    /// The PostgreSQL database to drop, and the server URL to drop it from.
    postgres: Option<(String, String)>,
}

impl TestArchive {
    /// A new, empty archive on `engine` (its URL; nothing opened yet), or
    /// `None` when the engine is PostgreSQL and no server is configured.
    pub async fn new(engine: EngineKind) -> Option<TestArchive> {
        let dir = tempfile::tempdir().expect("a temporary directory for the test archive");
        match engine {
            EngineKind::Sqlite => Some(TestArchive {
                url: database_url(dir.path()),
                dir,
                postgres: None,
            }),
            EngineKind::Postgres => {
                let server = std::env::var(POSTGRES_URL_VAR).ok()?;
                let name = fresh_database_name();
                let mut conn = sqlx::PgConnection::connect(&server)
                    .await
                    .unwrap_or_else(|e| {
                        panic!("{POSTGRES_URL_VAR} is set but its server is unreachable: {e}")
                    });
                conn.execute(format!("CREATE DATABASE {name}").as_str())
                    .await
                    .unwrap_or_else(|e| panic!("creating test database {name}: {e}"));
                let _ = conn.close().await;
                let url = with_database(&server, &name);
                Some(TestArchive {
                    url,
                    dir,
                    postgres: Some((server, name)),
                })
            }
        }
    }

    /// Opens (and migrates) the archive as a writer.
    pub async fn open(&self) -> Store {
        Store::open(&self.url, Duration::from_secs(5))
            .await
            .expect("a fresh test archive opens")
    }
}

impl Drop for TestArchive {
    fn drop(&mut self) {
        let Some((server, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which cannot be blocked on;
        // a thread of its own with a runtime of its own drops the database.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&server).await {
                    let _ = conn
                        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                        .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

/// A database name no other test (of this or another process) is using.
fn fresh_database_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "newsd_test_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        nanos
    )
}

/// The server URL `server` with its database path replaced by `name`.
fn with_database(server: &str, name: &str) -> String {
    match url::Url::parse(server) {
        Ok(mut u) => {
            u.set_path(&format!("/{name}"));
            u.to_string()
        }
        Err(e) => panic!("{POSTGRES_URL_VAR} is not a URL: {e}"),
    }
}

/// A new, migrated SQLite archive in a temporary directory that lives as
/// long as the returned guard.
pub async fn temp_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory for the test archive");
    let url = database_url(dir.path());
    let store = Store::open(&url, Duration::from_secs(5))
        .await
        .expect("a fresh test archive opens");
    (store, dir)
}

/// A new, migrated archive on `engine`, or `None` (after saying so on
/// stderr, naming `test`) when that engine is not configured here.
pub async fn temp_store_on(engine: EngineKind, test: &str) -> Option<(Store, TestArchive)> {
    match TestArchive::new(engine).await {
        Some(archive) => {
            let store = archive.open().await;
            Some((store, archive))
        }
        None => {
            eprintln!("skipped {test} on PostgreSQL: {POSTGRES_URL_VAR} is not set");
            None
        }
    }
}

/// Defines a store test once and runs it on every engine: `name::on_sqlite`
/// and `name::on_postgres`, each with a fresh archive (`store`).
#[macro_export]
macro_rules! store_test {
    ($(#[$meta:meta])* async fn $name:ident($store:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($store: $crate::store::Store) $body

            #[tokio::test]
            async fn on_sqlite() {
                let (store, _archive) = $crate::store::testing::temp_store_on(
                    $crate::store::EngineKind::Sqlite,
                    stringify!($name),
                )
                .await
                .expect("SQLite is always available");
                run(store).await;
            }

            #[tokio::test]
            async fn on_postgres() {
                if let Some((store, _archive)) = $crate::store::testing::temp_store_on(
                    $crate::store::EngineKind::Postgres,
                    stringify!($name),
                )
                .await
                {
                    run(store).await;
                }
            }
        }
    };
}

/// The SQLite engine of a fresh archive, for that engine's own tests.
#[cfg(test)]
pub(crate) async fn temp_sqlite() -> (super::sqlite::SqliteStore, tempfile::TempDir) {
    let (store, dir) = temp_store().await;
    (store.sqlite().clone(), dir)
}

/// The one `BIGINT` a bind-less query returns, on either engine: for tests
/// that check rows the API does not show (write the SQL so both engines
/// read it, e.g. `SELECT COUNT(*) FROM feed_items WHERE …`).
pub async fn scalar_i64(store: &Store, sql: &str) -> i64 {
    match store.pg_pool() {
        Some(pool) => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await,
        None => {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(store.pool())
                .await
        }
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The first column (text or NULL) of every row a bind-less query returns,
/// on either engine.
pub async fn strings(store: &Store, sql: &str) -> Vec<Option<String>> {
    match store.pg_pool() {
        Some(pool) => {
            sqlx::query_scalar::<_, Option<String>>(sql)
                .fetch_all(pool)
                .await
        }
        None => {
            sqlx::query_scalar::<_, Option<String>>(sql)
                .fetch_all(store.pool())
                .await
        }
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}
