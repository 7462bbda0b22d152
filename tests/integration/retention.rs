//! Retention: `Store::prune` by age and by size, tombstones, `newsd prune`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use newsd::app::{Housekeeping, HousekeepingReport};
use newsd::domain::{CanonicalUrl, EntryKey};
use newsd::store::testing::{scalar_i64, strings};
use newsd::store::{
    FeedStatus, FeedUpdate, GoogleEntry, NewEntry, NewFeed, RetentionPolicy, SearchQuery, Store,
};

use crate::helpers::{archive_on, engine_test, execute, Engine, TestArchive};

const DAY: i64 = 24 * 3600;

async fn temp_store(engine: Engine) -> (Store, TestArchive) {
    let archive = archive_on(engine).await;
    (archive.open().await, archive)
}

async fn feed(store: &Store, url: &str) -> i64 {
    let f = NewFeed {
        url: url.into(),
        name: None,
        interval_secs: None,
    };
    store.add_feed(&f, "cli", Utc::now()).await.unwrap().0.id
}

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

fn ago(now: DateTime<Utc>, secs: i64) -> DateTime<Utc> {
    now - chrono::Duration::seconds(secs)
}

/// Records one poll of `feed_id` at `at` showing `entries`; returns new items.
async fn poll(store: &Store, feed_id: i64, entries: &[NewEntry], at: DateTime<Utc>) -> usize {
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
        .unwrap()
        .new_items
}

async fn count(store: &Store, sql: &str) -> i64 {
    scalar_i64(store, sql).await
}

async fn titles_found(store: &Store, word: &str) -> Vec<String> {
    let q = SearchQuery {
        text: word.into(),
        since: None,
        feed_id: None,
        tag: None,
        limit: 100,
    };
    let mut t: Vec<String> = store
        .search(&q)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|h| h.title)
        .collect();
    t.sort();
    t
}

async fn indexes_are_intact(store: &Store) {
    store
        .check_search_indexes()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.integrity_check().await.unwrap(), "ok");
}

fn by_age(days: i64) -> RetentionPolicy {
    RetentionPolicy {
        max_age: Some(Duration::from_secs((days * DAY) as u64)),
        max_db_bytes: None,
        batch: 2,
    }
}

engine_test! {
    async fn old_articles_are_pruned_with_their_index_rows_and_everything_hanging_off_them(engine) {
        let (store, _archive) = temp_store(engine).await;
        let now = Utc::now();
        let a = feed(&store, "https://feeds.example/a").await;
        let b = feed(&store, "https://feeds.example/b").await;
        poll(
            &store,
            a,
            &[entry("o1", "zebra old one"), entry("o2", "zebra old two")],
            ago(now, 40 * DAY),
        )
        .await;
        poll(&store, b, &[entry("n1", "zebra new")], ago(now, 3600)).await;
        store.index_pending().await.unwrap();
        // Half-indexed: an article still waiting for the index is pruned too.
        poll(
            &store,
            b,
            &[entry("o3", "zebra pending")],
            ago(now, 35 * DAY),
        )
        .await;
        poll(&store, b, &[entry("n1", "zebra new")], ago(now, 60)).await;
        // SQLite's index has not seen the pending one yet; PostgreSQL's search
        // column is written with the row.
        let searchable = if engine == Engine::Sqlite { 3 } else { 4 };
        assert_eq!(titles_found(&store, "zebra").await.len(), searchable);

        let r = store.prune(now, &by_age(30), false).await.unwrap();
        assert_eq!(r.articles, 3);
        assert_eq!(r.by_age, 3);
        assert!(r.oldest_first_seen <= r.newest_first_seen);
        store.index_pending().await.unwrap();
        assert_eq!(titles_found(&store, "zebra").await, vec!["zebra new"]);
        indexes_are_intact(&store).await;
        assert_eq!(count(&store, "SELECT COUNT(*) FROM articles").await, 1);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM feed_items").await, 1);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM fulltext_jobs").await, 1);
        if engine == Engine::Sqlite {
            assert_eq!(count(&store, "SELECT COUNT(*) FROM fts_pending").await, 0);
        }
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) FROM tombstones WHERE kind = 'entry'"
            )
            .await,
            3
        );
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM tombstones WHERE kind = 'url'").await,
            3
        );
        // A second pass finds nothing more.
        assert_eq!(
            store.prune(now, &by_age(30), false).await.unwrap().articles,
            0
        );
    }
}

engine_test! {
    async fn an_article_its_feed_still_shows_is_kept_however_old(engine) {
        let (store, _archive) = temp_store(engine).await;
        let now = Utc::now();
        let a = feed(&store, "https://feeds.example/a").await;
        let evergreen = [entry("e", "evergreen")];
        poll(&store, a, &evergreen, ago(now, 100 * DAY)).await;
        poll(&store, a, &evergreen, ago(now, 600)).await;
        let r = store.prune(now, &by_age(30), false).await.unwrap();
        assert_eq!(r.articles, 0);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM articles").await, 1);
    }
}

engine_test! {
    async fn a_pruned_entry_reemitted_by_a_feed_does_not_come_back(engine) {
        let (store, _archive) = temp_store(engine).await;
        let now = Utc::now();
        let a = feed(&store, "https://feeds.example/a").await;
        let b = feed(&store, "https://feeds.example/b").await;
        let old = [
            entry("x", "old story"),
            google_entry("CBMiold", "old google"),
        ];
        poll(&store, a, &old, ago(now, 40 * DAY)).await;
        let r = store.prune(now, &by_age(30), false).await.unwrap();
        assert_eq!(r.articles, 2);

        // The same feed shows the same entries again.
        assert_eq!(poll(&store, a, &old, now).await, 0);
        // Another feed carries the same URL, or the same Google article.
        let mut same_url = entry("x", "old story elsewhere");
        same_url.entry_key = EntryKey::from_stored("id:other-guid".into());
        let mut same_google = google_entry("CBMiold", "old google elsewhere");
        same_google.entry_key = EntryKey::from_stored("id:other-google".into());
        assert_eq!(poll(&store, b, &[same_url, same_google], now).await, 0);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM articles").await, 0);

        // Something genuinely new in the same poll is still stored.
        let fresh = [entry("x", "old story"), entry("y", "fresh story")];
        assert_eq!(poll(&store, a, &fresh, now).await, 1);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM articles").await, 1);
    }
}

engine_test! {
    async fn a_dry_run_reports_what_would_go_and_changes_nothing(engine) {
        let (store, archive) = temp_store(engine).await;
        let now = Utc::now();
        let a = feed(&store, "https://feeds.example/a").await;
        poll(
            &store,
            a,
            &[entry("1", "first"), entry("2", "second")],
            ago(now, 40 * DAY),
        )
        .await;
        poll(&store, a, &[entry("3", "third")], ago(now, DAY)).await;
        store.index_pending().await.unwrap();
        store.close().await;

        let url = archive.url.clone();
        let reader = Store::open_read_only(&url, Duration::from_secs(5))
            .await
            .unwrap();
        let r = reader.prune(now, &by_age(30), true).await.unwrap();
        assert!(r.dry_run);
        assert_eq!(r.articles, 2);
        assert_eq!(r.bytes_after, r.bytes_before);
        assert_eq!(count(&reader, "SELECT COUNT(*) FROM articles").await, 3);
        assert_eq!(count(&reader, "SELECT COUNT(*) FROM tombstones").await, 0);
    }
}

engine_test! {
    async fn max_db_bytes_prunes_the_oldest_until_under_the_limit(engine) {
        let (store, _archive) = temp_store(engine).await;
        let now = Utc::now();
        let a = feed(&store, "https://feeds.example/a").await;
        let filler = "lorem ipsum dolor sit amet ".repeat(80);
        for batch in 0..10 {
            let entries: Vec<NewEntry> = (0..30)
                .map(|i| {
                    let mut e = entry(&format!("b{batch}-{i}"), &format!("story {batch} {i}"));
                    e.summary = Some(format!("{filler} {batch} {i}"));
                    e
                })
                .collect();
            poll(&store, a, &entries, ago(now, (20 - batch) * DAY)).await;
        }
        // A protected article: the feed showed it an hour ago.
        let mut kept = entry("kept", "still in the feed");
        kept.summary = Some(filler.clone());
        poll(&store, a, &[kept], ago(now, 3600)).await;
        store.index_pending().await.unwrap();

        let policy = |limit| RetentionPolicy {
            max_age: None,
            max_db_bytes: Some(limit),
            batch: 50,
        };
        let before = store.prune(now, &policy(u64::MAX), true).await.unwrap();
        let limit = before.used_bytes_before / 2;
        let dry = store.prune(now, &policy(limit), true).await.unwrap();
        assert!(dry.articles > 0 && dry.articles < 301, "{dry:?}");
        assert_eq!(count(&store, "SELECT COUNT(*) FROM articles").await, 301);

        let r = store.prune(now, &policy(limit), false).await.unwrap();
        assert!(r.by_size > 0, "{r:?}");
        assert!(r.used_bytes_after <= limit, "{r:?} limit {limit}");
        // The oldest went first (ties within a second go by id).
        let oldest_left = strings(&store, "SELECT MIN(first_seen_at) FROM articles").await;
        assert!(oldest_left[0] >= r.newest_first_seen);
        indexes_are_intact(&store).await;

        // An impossible limit stops at the protected article.
        let r = store.prune(now, &policy(1), false).await.unwrap();
        assert!(r.used_bytes_after > 1);
        let left = strings(&store, "SELECT title FROM articles").await;
        assert_eq!(left, [Some("still in the feed".to_owned())]);
        indexes_are_intact(&store).await;
    }
}

engine_test! {
    async fn feed_and_google_resolution_state_survive_pruning(engine) {
        let (store, _archive) = temp_store(engine).await;
        let now = Utc::now();
        let a = feed(&store, "https://feeds.example/a").await;
        poll(
            &store,
            a,
            &[google_entry("CBMiold", "old google")],
            ago(now, 40 * DAY),
        )
        .await;
        poll(&store, a, &[google_entry("CBMinew", "new google")], now).await;
        execute(&store, "UPDATE google_budget SET trips = 3, gets_total = 7").await;
        let feed_before = store.feed_by_id(a).await.unwrap().unwrap();

        let r = store.prune(now, &by_age(30), false).await.unwrap();
        assert_eq!(r.articles, 1);
        let feed_after = store.feed_by_id(a).await.unwrap().unwrap();
        assert_eq!(
            format!("{feed_before:?}"),
            format!("{feed_after:?}"),
            "feed row untouched"
        );
        let links = strings(&store, "SELECT google_id FROM google_links").await;
        assert_eq!(links, [Some("CBMinew".to_owned())]);
        assert_eq!(
            count(&store, "SELECT trips * 100 + gets_total FROM google_budget").await,
            307
        );
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) FROM tombstones WHERE kind = 'google'"
            )
            .await,
            1
        );
    }
}

engine_test! {
    async fn readers_never_see_database_is_locked_while_pruning_and_polling(engine) {
        let (store, archive) = temp_store(engine).await;
        let now = Utc::now();
        let a = feed(&store, "https://feeds.example/a").await;
        for round in 0..20 {
            let entries: Vec<NewEntry> = (0..50)
                .map(|i| entry(&format!("r{round}-{i}"), &format!("quokka {round} {i}")))
                .collect();
            poll(&store, a, &entries, ago(now, (60 - round) * DAY)).await;
        }
        store.index_pending().await.unwrap();
        let url = archive.url.clone();
        let reader = Store::open_read_only(&url, Duration::from_secs(5))
            .await
            .unwrap();
        let writer = store.clone();
        let writes = tokio::spawn(async move {
            for round in 0..20 {
                let entries: Vec<NewEntry> = (0..50)
                    .map(|i| entry(&format!("w{round}-{i}"), &format!("quokka w {round} {i}")))
                    .collect();
                poll(&writer, a, &entries, now).await;
                writer.index_pending().await.unwrap();
                writer.prune(now, &by_age(50 - round), false).await.unwrap();
            }
        });
        let mut reads = 0;
        while !writes.is_finished() {
            let q = SearchQuery {
                text: "quokka".into(),
                since: None,
                feed_id: None,
                tag: None,
                limit: 10,
            };
            if let Err(e) = reader.search(&q).await {
                panic!("reader failed during writes: {e}");
            }
            reads += 1;
        }
        writes.await.unwrap();
        assert!(reads > 0);
    }
}

engine_test! {
    async fn the_prune_command_reports_on_a_dry_run_and_then_prunes(engine) {
        let t = crate::helpers::spawn_app_with_on(engine, &[], "[retention]\nmax_age = \"30d\"\n").await;
        let store = t.app.store();
        let now = Utc::now();
        let a = feed(store, "https://feeds.example/a").await;
        poll(
            store,
            a,
            &[entry("1", "first"), entry("2", "second")],
            ago(now, 40 * DAY),
        )
        .await;
        poll(store, a, &[entry("3", "third")], now).await;

        let out = t.cli(&["prune", "--dry-run"]);
        let text = crate::helpers::stdout(&out);
        assert!(out.status.success(), "{}", crate::helpers::stderr(&out));
        assert!(text.contains("would prune 2 articles"), "{text}");
        assert_eq!(t.article_count().await, 3);

        let out = t.cli(&["prune"]);
        let text = crate::helpers::stdout(&out);
        assert!(out.status.success(), "{}", crate::helpers::stderr(&out));
        assert!(
            text.contains("pruned 2 articles (2 by age, 0 by size)"),
            "{text}"
        );
        assert!(text.contains("reclaimed"), "{text}");
        assert_eq!(t.article_count().await, 1);
    }
}

engine_test! {
    async fn housekeeping_indexes_every_round_and_runs_each_periodic_job_when_due_by_its_clock(engine) {
        let t = crate::helpers::spawn_app_with_on(engine,
            &[],
            "[retention]\nmax_age = \"30d\"\nprune_interval = \"1h\"\n",
        )
        .await;
        let store = t.app.store();
        let start = Utc::now();
        let a = feed(store, "https://feeds.example/a").await;
        poll(
            store,
            a,
            &[entry("1", "first quokka")],
            ago(start, 40 * DAY),
        )
        .await;
        poll(store, a, &[entry("2", "second quokka")], start).await;
        let at = |secs: i64| start + chrono::Duration::seconds(secs);
        let mut state = Housekeeping::new(start);

        let first = t.app.housekeeping_once(&mut state, at(1)).await;
        // PostgreSQL has nothing to index: its search column is generated.
        let indexed = if engine == Engine::Sqlite { 2 } else { 0 };
        assert_eq!(first.indexed, indexed, "{first:?}");
        assert!(!first.clustered && !first.maintained, "{first:?}");
        let pruned = first.pruned.expect("retention runs on the first round");
        assert_eq!(pruned.articles, 1);
        assert_eq!(t.article_count().await, 1);

        let quiet = t.app.housekeeping_once(&mut state, at(29)).await;
        assert_eq!(quiet, HousekeepingReport::default());

        let clustered = t.app.housekeeping_once(&mut state, at(30)).await;
        assert!(
            clustered.clustered && clustered.pruned.is_none(),
            "{clustered:?}"
        );
        assert!(!t.app.housekeeping_once(&mut state, at(59)).await.clustered);

        let hour = t.app.housekeeping_once(&mut state, at(3601)).await;
        assert!(hour.clustered && !hour.maintained, "{hour:?}");
        assert!(hour.pruned.is_some(), "{hour:?}");

        let upkeep = t.app.housekeeping_once(&mut state, at(6 * 3600)).await;
        assert!(upkeep.maintained, "{upkeep:?}");
        // A clock that went back runs nothing periodic.
        let back = t.app.housekeeping_once(&mut state, at(-60)).await;
        assert_eq!(back, HousekeepingReport::default());
    }
}
