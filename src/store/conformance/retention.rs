//! Conformance: the retention role on every engine. Rows are written with
//! portable SQL (the ingest path is another role's), so pruning is tested
//! on its own; that a tombstone keeps a re-emitted entry out goes through
//! `record_poll` and is tested with it (tests/integration/retention.rs).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::stories::{exec, lit};
use crate::store::testing::{scalar_i64, strings};
use crate::store::time::ts;
use crate::store::{RetentionPolicy, Store};
use crate::store_test;

const DAY: Duration = Duration::from_secs(24 * 3600);

/// A feed, on either engine (its id).
async fn feed(store: &Store) -> i64 {
    exec(
        store,
        "INSERT INTO feeds (url, fetch_url, origin, next_poll_at, created_at, updated_at) VALUES \
         ('https://news.example/rss', 'https://news.example/rss', 'cli', \
          '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z')",
    )
    .await;
    scalar_i64(store, "SELECT MAX(id) FROM feeds").await
}

/// An article first seen `age` ago; with `feed`, also that feed's item,
/// last seen `age` ago too; with `google`, also a Google link.
async fn article(
    store: &Store,
    now: DateTime<Utc>,
    key: &str,
    age: Duration,
    feed: Option<i64>,
    google: Option<&str>,
) -> i64 {
    let at = lit(&ts(now - chrono::Duration::from_std(age).unwrap()));
    exec(
        store,
        &format!(
            "INSERT INTO articles (url_key, title, first_seen_at, updated_at) \
             VALUES ({}, 'A headline', {at}, {at})",
            lit(key)
        ),
    )
    .await;
    let id = scalar_i64(store, "SELECT MAX(id) FROM articles").await;
    if let Some(feed) = feed {
        exec(
            store,
            &format!(
                "INSERT INTO feed_items (feed_id, entry_key, article_id, link, first_seen_at, \
                 last_seen_at) VALUES ({feed}, {}, {id}, {}, {at}, {at})",
                lit(&format!("guid:{key}")),
                lit(key)
            ),
        )
        .await;
    }
    if let Some(google_id) = google {
        let (col, val) = match store.pg_pool() {
            Some(_) => (String::new(), String::new()),
            None => (
                ", id_hash".to_string(),
                format!(", {}", crate::store::sqlite::keys::key_hash(google_id)),
            ),
        };
        exec(
            store,
            &format!(
                "INSERT INTO google_links (google_id, article_id, hl, gl, ceid, status, \
                 next_try_at, first_seen_at{col}) \
                 VALUES ({}, {id}, 'en-US', 'US', 'US:en', 'pending', {at}, {at}{val})",
                lit(google_id)
            ),
        )
        .await;
    }
    id
}

async fn count(store: &Store, sql: &str) -> i64 {
    scalar_i64(store, sql).await
}

/// Two articles ten and nine days old (one with a feed item and a Google
/// link, both of which the feed no longer shows) and one of today.
async fn three_articles(store: &Store, now: DateTime<Utc>) -> (i64, i64, i64) {
    let f = feed(store).await;
    let old = article(
        store,
        now,
        "https://a.example/old",
        10 * DAY,
        Some(f),
        Some("G1"),
    )
    .await;
    let older = article(store, now, "https://a.example/nine", 9 * DAY, None, None).await;
    let new = article(
        store,
        now,
        "https://a.example/new",
        Duration::ZERO,
        None,
        None,
    )
    .await;
    (old, older, new)
}

fn by_age(batch: usize) -> RetentionPolicy {
    RetentionPolicy {
        max_age: Some(7 * DAY),
        max_db_bytes: None,
        batch,
    }
}

store_test!(
    async fn articles_older_than_max_age_go_in_batches_and_leave_tombstones(store) {
        let now = Utc::now();
        let (_, _, new) = three_articles(&store, now).await;
        let report = store.prune(now, &by_age(1), false).await.unwrap();
        assert!(!report.dry_run);
        assert_eq!((report.articles, report.by_age, report.by_size), (2, 2, 0));
        assert_eq!(
            report.oldest_first_seen.as_deref(),
            Some(ts(now - chrono::Duration::days(10)).as_str())
        );
        assert_eq!(
            report.newest_first_seen.as_deref(),
            Some(ts(now - chrono::Duration::days(9)).as_str())
        );
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM articles").await,
            1,
            "only today's is left"
        );
        assert_eq!(count(&store, "SELECT MIN(id) FROM articles").await, new);
        // The article's feed item and Google link went with it.
        assert_eq!(count(&store, "SELECT COUNT(*) FROM feed_items").await, 0);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM google_links").await, 0);
        assert_eq!(
            strings(&store, "SELECT kind || ' ' || key FROM tombstones ORDER BY kind, key").await,
            [
                "entry guid:https://a.example/old",
                "google G1",
                "url https://a.example/nine",
                "url https://a.example/old",
            ]
            .map(|s| Some(s.to_string()))
        );
        // Nothing is left to prune, and pruning again leaves the tombstones be.
        let again = store.prune(now, &by_age(1), false).await.unwrap();
        assert_eq!(again.articles, 0);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM tombstones").await, 4);
    }
);

store_test!(
    async fn a_dry_run_counts_what_would_go_and_changes_nothing(store) {
        let now = Utc::now();
        three_articles(&store, now).await;
        let report = store.prune(now, &by_age(1), true).await.unwrap();
        assert!(report.dry_run);
        assert_eq!((report.articles, report.by_age), (2, 2));
        assert_eq!(report.bytes_after, report.bytes_before);
        assert!(report.used_bytes_after <= report.used_bytes_before);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM articles").await, 3);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM tombstones").await, 0);
        let sizes = RetentionPolicy {
            max_age: None,
            max_db_bytes: Some(1),
            batch: 2,
        };
        let report = store.prune(now, &sizes, true).await.unwrap();
        assert_eq!((report.articles, report.by_size), (3, 3));
        assert_eq!(count(&store, "SELECT COUNT(*) FROM articles").await, 3);
    }
);

store_test!(
    async fn an_old_article_its_feed_still_shows_is_kept(store) {
        let now = Utc::now();
        let f = feed(&store).await;
        let kept = article(&store, now, "https://a.example/kept", 30 * DAY, Some(f), None).await;
        exec(
            &store,
            &format!(
                "UPDATE feed_items SET last_seen_at = {} WHERE article_id = {kept}",
                lit(&ts(now))
            ),
        )
        .await;
        let report = store.prune(now, &by_age(10), false).await.unwrap();
        assert_eq!(report.articles, 0);
        let sizes = RetentionPolicy {
            max_age: None,
            max_db_bytes: Some(1),
            batch: 10,
        };
        assert_eq!(store.prune(now, &sizes, false).await.unwrap().articles, 0);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM articles").await, 1);
    }
);

store_test!(
    async fn over_max_db_bytes_the_oldest_articles_go_first(store) {
        let now = Utc::now();
        three_articles(&store, now).await;
        // Far below any real database: everything eligible goes, oldest first.
        let policy = RetentionPolicy {
            max_age: None,
            max_db_bytes: Some(1),
            batch: 1,
        };
        let report = store.prune(now, &policy, false).await.unwrap();
        assert_eq!((report.articles, report.by_age, report.by_size), (3, 0, 3));
        assert_eq!(
            report.oldest_first_seen.as_deref(),
            Some(ts(now - chrono::Duration::days(10)).as_str())
        );
        assert_eq!(report.newest_first_seen.as_deref(), Some(ts(now).as_str()));
        assert!(report.bytes_before > 0);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM articles").await, 0);
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM tombstones WHERE kind = 'url'").await,
            3
        );
        // A limit the archive is under prunes nothing.
        article(&store, now, "https://a.example/again", 10 * DAY, None, None).await;
        let roomy = RetentionPolicy {
            max_db_bytes: Some(u64::MAX),
            ..policy
        };
        assert_eq!(store.prune(now, &roomy, false).await.unwrap().articles, 0);
    }
);
