use crate::store::{EngineKind, Store, StoreError};
use crate::store_test;

store_test!(
    async fn a_new_archive_is_migrated_empty_and_at_the_expected_version(store) {
        let stats = store.stats().await.unwrap();
        assert_eq!((stats.feeds, stats.articles, stats.feed_items), (0, 0, 0));
        store.check_schema_version().await.unwrap();
    }
);

#[tokio::test]
async fn a_second_writer_on_one_postgres_archive_is_refused_until_the_first_exits() {
    let Some((_store, archive)) =
        crate::store::testing::temp_store_on(EngineKind::Postgres, "second writer").await
    else {
        return;
    };
    let first = crate::store::lock_writer(&archive.url).await.unwrap();
    let err = crate::store::lock_writer(&archive.url).await.unwrap_err();
    assert!(matches!(err, StoreError::WriterBusy { .. }), "{err}");
    assert!(err.to_string().contains("only one may write"));
    drop(first);
    // The server ends the session (and its lock) once the connection closes.
    let mut again = None;
    for _ in 0..50 {
        if let Ok(lock) = crate::store::lock_writer(&archive.url).await {
            again = Some(lock);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        again.is_some(),
        "the lock came back after the first writer left"
    );
}

#[tokio::test]
async fn a_read_only_postgres_store_refuses_writes_and_messages_hide_the_password() {
    let Some((_store, archive)) =
        crate::store::testing::temp_store_on(EngineKind::Postgres, "read only").await
    else {
        return;
    };
    let reader = Store::open_read_only(&archive.url, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    let write = sqlx::query("INSERT INTO stories (first_seen_at, updated_at) VALUES ('x', 'x')")
        .execute(reader.pg_pool().unwrap())
        .await
        .unwrap_err();
    assert!(write.to_string().contains("read-only"), "{write}");
    if let Ok(u) = url::Url::parse(&archive.url) {
        if let Some(pw) = u.password() {
            assert!(
                !reader.location().contains(&format!(":{pw}@")),
                "{}",
                reader.location()
            );
            assert!(reader.location().contains(":***@"));
        }
    }
}

#[tokio::test]
async fn a_read_only_postgres_store_refuses_an_archive_at_another_schema_version() {
    let Some((store, archive)) =
        crate::store::testing::temp_store_on(EngineKind::Postgres, "schema version").await
    else {
        return;
    };
    sqlx::query(
        "UPDATE _sqlx_migrations SET version = 999999 \
         WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .execute(store.pg_pool().unwrap())
    .await
    .unwrap();
    store.close().await;
    let err = Store::open_read_only(&archive.url, std::time::Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaVersion { found: 999999, .. }),
        "{err}"
    );
}
