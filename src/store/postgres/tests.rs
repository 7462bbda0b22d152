use super::query::WordPlan;
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

#[tokio::test]
async fn a_word_search_widens_its_span_of_newest_ids_until_it_holds_enough_candidates() {
    use crate::store::query::{ArticleFilter, ArticleSearch, ItemText, SearchOrder};
    use crate::store::Engine;
    use chrono::{DateTime, Utc};

    let Some((store, _archive)) =
        crate::store::testing::temp_store_on(EngineKind::Postgres, "word spans").await
    else {
        return;
    };
    let Engine::Postgres(pg) = &store.engine else {
        unreachable!("a PostgreSQL archive")
    };
    let pool = store.pg_pool().unwrap();
    // 60 articles a minute apart: "tide" in every third, publisher P on
    // every second, "kelp" in the second only.
    let mut values = Vec::new();
    for id in 1..=60 {
        let title = match (id % 3, id) {
            (_, 2) => "kelp",
            (0, _) => "tide",
            _ => "calm",
        };
        let publisher = if id % 2 == 0 { "P" } else { "Q" };
        values.push(format!(
            "({id}, 'https://n.example/{id}', 'n.example/{id}', '{title} report', '{publisher}', \
             '2026-01-01T00:{:02}:00Z', '2026-01-01T00:00:00Z')",
            id - 1
        ));
    }
    sqlx::query(&format!(
        "INSERT INTO articles (id, url, url_key, title, publisher, first_seen_at, updated_at) \
         VALUES {}",
        values.join(", ")
    ))
    .execute(pool)
    .await
    .unwrap();
    let search = |word: &str| ArticleSearch {
        text: word.into(),
        order: SearchOrder::Rank,
        item_text: ItemText::Flag,
    };
    let found = |filter: ArticleFilter, word: &'static str, plan: WordPlan| {
        let search = search(word);
        async move {
            let mut ids: Vec<i64> = pg
                .search_articles_planned(&search, &filter, None, 60, 100, plan)
                .await
                .unwrap()
                .into_iter()
                .map(|a| a.id)
                .collect();
            ids.sort_unstable_by(|a, b| b.cmp(a));
            ids
        }
    };
    let narrow = WordPlan {
        candidates: 5,
        first_span: 4,
    };
    let wide = WordPlan {
        candidates: 5,
        first_span: 1_000,
    };
    let none = ArticleFilter::default;
    for plan in [narrow, wide] {
        // The newest five matches, however many spans it took.
        assert_eq!(
            found(none(), "tide", plan).await,
            vec![60, 57, 54, 51, 48],
            "{plan:?}"
        );
        // A filter on the row (publisher) and one on the search table
        // (since) count only what passes them.
        let by_publisher = ArticleFilter {
            publisher: Some("p".into()),
            ..none()
        };
        assert_eq!(
            found(by_publisher, "tide", plan).await,
            vec![60, 54, 48, 42, 36]
        );
        let until: DateTime<Utc> = "2026-01-01T00:30:00Z".parse().unwrap();
        let before = ArticleFilter {
            until: Some(until),
            ..none()
        };
        assert_eq!(found(before, "tide", plan).await, vec![30, 27, 24, 21, 18]);
        // A word only far back is found once the span reaches it.
        assert_eq!(found(none(), "kelp", plan).await, vec![2]);
    }
}
