//! `newsd copy`: a SQLite archive copied to PostgreSQL, resumed after an
//! interruption, refused into a foreign target. Skipped without
//! NEWSD_TEST_POSTGRES_URL.
//!
//! Search equivalence (the same hits on both engines after a copy) waits
//! for the PostgreSQL engine's query role; counts and rows are compared here
//! with portable SQL.

use std::time::Duration;

use chrono::{DateTime, Utc};
use newsd::domain::{CanonicalUrl, EntryKey};
use newsd::store::copy::{copy_archive, CopyOptions, CopyReport};
use newsd::store::testing::TestArchive;
use newsd::store::{
    ArticleContent, EngineKind, FeedStatus, FeedUpdate, GoogleEntry, NewEntry, NewFeed,
    RetentionPolicy, SearchQuery, Store,
};

const DAY: i64 = 24 * 3600;

fn entry(key: &str, title: &str) -> NewEntry {
    let url = format!("https://news.example/{key}");
    NewEntry {
        entry_key: EntryKey::from_stored(format!("id:{key}")),
        guid: Some(key.into()),
        link: Some(url.clone()),
        url: Some(url.clone()),
        url_key: Some(CanonicalUrl::from_stored(url)),
        title: Some(title.into()),
        summary: Some(format!("{title} summary")),
        ..NewEntry::default()
    }
}

fn google_entry(id: &str, title: &str) -> NewEntry {
    NewEntry {
        entry_key: EntryKey::from_stored(format!("id:{id}")),
        guid: Some(id.into()),
        link: Some(format!("https://news.google.com/rss/articles/{id}")),
        title: Some(title.into()),
        google: Some(GoogleEntry {
            google_id: id.into(),
            hl: "en-US".into(),
            gl: "US".into(),
            ceid: "US:en".into(),
            ..GoogleEntry::default()
        }),
        ..NewEntry::default()
    }
}

async fn poll(store: &Store, feed_id: i64, entries: Vec<NewEntry>, at: DateTime<Utc>) {
    store
        .record_poll(
            feed_id,
            entries,
            at,
            FeedUpdate {
                last_status: FeedStatus::Ok,
                next_poll_at: at,
                next_poll_reason: "test".into(),
                polled_at: at,
                success: true,
                fetch_url: "https://feeds.example/x".into(),
                ..FeedUpdate::default()
            },
        )
        .await
        .unwrap();
}

/// A SQLite archive with `n` articles (some with full text and raw pages),
/// Google links pending, signed, resolved and failed, stories, and
/// tombstones of pruned articles.
async fn populated(n: usize) -> (Store, TestArchive) {
    let archive = TestArchive::new(EngineKind::Sqlite).await.unwrap();
    let store = archive.open().await;
    let now = Utc::now();
    let mut feeds = Vec::new();
    for url in ["https://feeds.example/a", "https://feeds.example/b"] {
        let f = NewFeed {
            url: url.into(),
            name: Some("A feed".into()),
            interval_secs: None,
        };
        feeds.push(store.add_feed(&f, "cli", now).await.unwrap().0.id);
    }
    let old = now - chrono::Duration::seconds(100 * DAY);
    poll(
        &store,
        feeds[1],
        (0..5)
            .map(|i| entry(&format!("old{i}"), "ancient news"))
            .collect(),
        old,
    )
    .await;
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let entries = chunk
            .iter()
            .map(|i| entry(&format!("a{i}"), &format!("story {} of the day", i % 40)))
            .collect::<Vec<_>>();
        poll(
            &store,
            feeds[0],
            entries,
            now - chrono::Duration::seconds(600),
        )
        .await;
    }
    poll(
        &store,
        feeds[1],
        (0..4)
            .map(|i| google_entry(&format!("CBMi{i}"), "googled news"))
            .collect(),
        now - chrono::Duration::seconds(300),
    )
    .await;
    store
        .save_signature("CBMi1", "sig", 1_700_000_000)
        .await
        .unwrap();
    store
        .resolve_google_link("CBMi2", "https://publisher.example/two", now)
        .await
        .unwrap();
    store
        .fail_google_link("CBMi3", "gone", now, Duration::from_secs(60), 1, true)
        .await
        .unwrap();
    store
        .count_google_request("default", true, None, now)
        .await
        .unwrap();

    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM articles WHERE url LIKE 'https://news.example/a%' ORDER BY id LIMIT 20",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    for (k, id) in ids.iter().enumerate() {
        let content = ArticleContent {
            text: format!("The full text of article {id}, with ünïcödé and 日本語 words."),
            html: Some(format!("<p>article {id}</p>")),
            title: Some(format!("Full title {id}")),
            authors: vec!["A. Writer".into()],
            published_at: Some(now - chrono::Duration::seconds(3600)),
            modified_at: None,
            lang: Some("en".into()),
            lead_image: None,
            canonical_url: None,
            site_name: Some("News".into()),
            word_count: 12,
            page_kind: Some(newsd::extract::PageKind::Forum),
        };
        let raw = (k % 2 == 0).then(|| {
            (
                "https://news.example/raw",
                Some("text/html"),
                vec![0x1f, 0x8b, k as u8, 0, 255],
            )
        });
        store
            .store_fulltext(*id, &content, "https://news.example/final", None, raw, now)
            .await
            .unwrap();
    }
    store
        .cluster_pending(now, chrono::Duration::seconds(2 * DAY))
        .await
        .unwrap();
    let policy = RetentionPolicy {
        max_age: Some(Duration::from_secs(30 * DAY as u64)),
        max_db_bytes: None,
        batch: 100,
    };
    assert_eq!(store.prune(now, &policy, false).await.unwrap().articles, 5);
    (store, archive)
}

async fn copy(source: &Store, target: &Store, options: &CopyOptions) -> CopyReport {
    copy_archive(source, target, options, &mut |_| {})
        .await
        .unwrap()
}

const TABLES: &[&str] = &[
    "feeds",
    "stories",
    "articles",
    "feed_items",
    "story_hints",
    "google_links",
    "google_budget",
    "fulltext_jobs",
    "host_backoff",
    "robots_cache",
    "raw_pages",
    "tombstones",
];

/// The rows both engines must hold alike, as text, in a stable order.
const SAME: &[&str] = &[
    "SELECT id || '|' || url_key || '|' || coalesce(title, '') || '|' || coalesce(text, '')
        || '|' || coalesce(story_id, -1) || '|' || coalesce(cluster_due, -1) || '|' || authors
     FROM articles ORDER BY id",
    "SELECT google_id || '|' || article_id || '|' || status || '|' || coalesce(publisher_url, '')
        || '|' || attempts || '|' || coalesce(signature, '') FROM google_links",
    "SELECT id || '|' || size || '|' || coalesce(title, '') || '|' || first_seen_at FROM stories ORDER BY id",
    "SELECT kind || '|' || feed_id || '|' || key || '|' || pruned_at FROM tombstones",
    "SELECT id || '|' || url || '|' || error_count || '|' || next_poll_at FROM feeds ORDER BY id",
    "SELECT article_id || '|' || url || '|' || length(body_gz) FROM raw_pages ORDER BY article_id",
    "SELECT gets_total || '|' || coalesce(last_get_at, '') FROM google_budget",
];

async fn sqlite_rows(store: &Store, sql: &str) -> Vec<String> {
    let mut rows: Vec<String> = sqlx::query_scalar(sql)
        .fetch_all(store.pool())
        .await
        .unwrap();
    rows.sort();
    rows
}

async fn pg_rows(store: &Store, sql: &str) -> Vec<String> {
    let mut rows: Vec<String> = sqlx::query_scalar(sql)
        .fetch_all(store.pg_pool().unwrap())
        .await
        .unwrap();
    rows.sort();
    rows
}

async fn count_pg(store: &Store, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(store.pg_pool().unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn an_archive_copied_to_postgres_holds_the_same_rows_and_an_interrupted_copy_resumes() {
    let Some(target_archive) = TestArchive::new(EngineKind::Postgres).await else {
        return;
    };
    let n: usize = std::env::var("NEWSD_COPY_TEST_ARTICLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    let (source, _source_archive) = populated(n).await;
    let target = target_archive.open().await;

    let stories: i64 = sqlx::query_scalar("SELECT count(*) FROM stories")
        .fetch_one(source.pool())
        .await
        .unwrap();
    let options = CopyOptions {
        batch: 100,
        // Stops in the articles: feeds take 1 batch, stories all theirs,
        // articles 1.
        max_batches: Some(1 + (stories as u64 / 100 + 1) + 1),
        ..CopyOptions::default()
    };
    let first = copy(&source, &target, &options).await;
    assert!(!first.complete && !first.ok() && !first.resumed);
    let part = count_pg(&target, "articles").await;
    assert!(part > 0 && part < n as i64, "{part}");

    let started = std::time::Instant::now();
    let rest = CopyOptions {
        batch: 100,
        ..CopyOptions::default()
    };
    let second = copy(&source, &target, &rest).await;
    eprintln!(
        "copied {} articles in {:.2?}",
        second
            .tables
            .iter()
            .find(|t| t.table == "articles")
            .unwrap()
            .copied,
        started.elapsed()
    );
    assert!(second.ok(), "{:?}", second.mismatches);
    assert!(second.resumed);
    assert!(second.sampled > 0);
    for t in &second.tables {
        assert_eq!(t.source_rows, t.target_rows, "{}", t.table);
    }
    for table in TABLES {
        let theirs: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(source.pool())
            .await
            .unwrap();
        assert_eq!(count_pg(&target, table).await, theirs, "{table}");
    }
    assert!(count_pg(&target, "tombstones").await >= 5);
    assert!(count_pg(&target, "stories").await > 0);
    for sql in SAME {
        assert_eq!(
            sqlite_rows(&source, sql).await,
            pg_rows(&target, sql).await,
            "{sql}"
        );
    }
    // Search finds the same articles on both (ranked by each engine's own
    // scores, so compared as sets): words of titles and of full texts,
    // diacritics, a script written without spaces.
    source.index_pending().await.unwrap();
    for words in [
        "story",
        "day 7",
        "ünïcödé",
        "日本語",
        "full text article",
        "googled news",
    ] {
        let query = SearchQuery {
            text: words.into(),
            limit: 1000,
            ..Default::default()
        };
        let ids = |hits: Vec<newsd::store::SearchHit>| {
            let mut ids: Vec<i64> = hits.into_iter().map(|h| h.id).collect();
            ids.sort_unstable();
            ids
        };
        let theirs = ids(source.search(&query).await.unwrap());
        assert!(!theirs.is_empty(), "{words}");
        assert_eq!(ids(target.search(&query).await.unwrap()), theirs, "{words}");
    }

    let statuses = pg_rows(&target, "SELECT DISTINCT status FROM google_links").await;
    assert!(statuses.len() >= 3, "{statuses:?}");
    let enabled: bool = sqlx::query_scalar("SELECT bool_and(enabled) FROM feeds")
        .fetch_one(target.pg_pool().unwrap())
        .await
        .unwrap();
    assert!(enabled);

    // New rows in the target get ids after the copied ones.
    let max: i64 = sqlx::query_scalar("SELECT max(id) FROM articles")
        .fetch_one(target.pg_pool().unwrap())
        .await
        .unwrap();
    let next: i64 = sqlx::query_scalar("SELECT nextval(pg_get_serial_sequence('articles', 'id'))")
        .fetch_one(target.pg_pool().unwrap())
        .await
        .unwrap();
    assert!(next > max);

    // Once done, the same command copies nothing and checks again.
    let again = copy(&source, &target, &rest).await;
    assert!(again.ok() && again.resumed);
    assert!(again.tables.iter().all(|t| t.copied == 0));

    // Another archive is not copied over this one.
    let (other, _other_archive) = populated(3).await;
    let err = copy_archive(&other, &target, &rest, &mut |_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("holds a copy of"), "{err}");
}

#[tokio::test]
async fn a_copy_into_a_database_that_already_holds_an_archive_is_refused() {
    let Some(target_archive) = TestArchive::new(EngineKind::Postgres).await else {
        return;
    };
    let (source, _source_archive) = populated(3).await;
    let target = target_archive.open().await;
    sqlx::query(
        "INSERT INTO feeds (url, fetch_url, origin, next_poll_at, created_at, updated_at)
         VALUES ('https://feeds.example/mine', 'https://feeds.example/mine', 'cli',
                 '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
    )
    .execute(target.pg_pool().unwrap())
    .await
    .unwrap();
    let err = copy_archive(&source, &target, &CopyOptions::default(), &mut |_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not empty"), "{err}");
    assert_eq!(count_pg(&target, "feeds").await, 1);
    assert_eq!(count_pg(&target, "articles").await, 0);
}
