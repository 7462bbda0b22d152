use super::*;
use crate::store::testing::temp_store;
use crate::store::{FeedUpdate, Store};

async fn limit_pages(store: &Store, extra: Option<i64>) {
    store.set_page_limit(extra).await.unwrap();
}

#[tokio::test]
async fn the_wal_is_copied_in_the_background_and_starts_over_between_bursts_of_writing() {
    let (store, _d) = temp_store().await;
    let size = |path: &Path| std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let wal = PathBuf::from(format!("{}-wal", store.sqlite().path().display()));
    // Four bursts of ~3 MiB of WAL each: far below the writer's own
    // threshold (~200 MiB), so only the background checkpointer copies
    // them, and only its copying lets the WAL start over.
    let mut first_burst = None;
    for burst in 0..4 {
        let before = size(store.sqlite().path());
        let mut tx = store.sqlite().begin_write().await.unwrap();
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
        while size(store.sqlite().path()) < before + 1_000_000 {
            assert!(
                std::time::Instant::now() < deadline,
                "burst {burst}: the database file stayed at {} bytes",
                size(store.sqlite().path())
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
        let mut tx = store.sqlite().begin_write().await.unwrap();
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
            let tx = store.sqlite().begin_write().await;
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
    assert_eq!(cache_of(store.sqlite().writer.clone()).await, -16384);
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
    let url = crate::store::testing::database_url(dir.path());
    let err = Store::open_read_only(&url, Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::SchemaVersion { .. }), "{err}");
}

#[tokio::test]
async fn a_read_only_store_has_no_write_thread_and_refuses_writes_by_name() {
    let (store, dir) = temp_store().await;
    store.close().await;
    let url = crate::store::testing::database_url(dir.path());
    let reader = Store::open_read_only(&url, Duration::from_secs(1))
        .await
        .unwrap();
    assert!(reader.sqlite().lane.is_none());
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
