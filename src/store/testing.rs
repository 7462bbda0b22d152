//! Fresh stores for tests (behind the `test-support` feature, which the
//! integration tests enable): every store test takes its engine from here,
//! so a new engine is added in this one place.

use std::path::Path;
use std::time::Duration;

use super::Store;

/// The `database.url` of a new archive whose files (if the engine keeps
/// any) go in `dir`: what every test config and test store is opened on.
pub fn database_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("newsd.db").display())
}

/// A new, migrated archive in a temporary directory that lives as long as
/// the returned guard.
pub async fn temp_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory for the test archive");
    let url = database_url(dir.path());
    let store = Store::open(&url, Duration::from_secs(5))
        .await
        .expect("a fresh test archive opens");
    (store, dir)
}

/// The SQLite engine of a fresh archive, for that engine's own tests.
#[cfg(test)]
pub(crate) async fn temp_sqlite() -> (super::sqlite::SqliteStore, tempfile::TempDir) {
    let (store, dir) = temp_store().await;
    (store.sqlite().clone(), dir)
}
