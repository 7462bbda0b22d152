//! Conformance: the ingest role on every engine.

use chrono::{DateTime, Utc};

use crate::domain::{CanonicalUrl, EntryKey};
use crate::store::google_links::{GoogleEntry, Hint};
use crate::store::testing::{scalar_i64, strings};
use crate::store::{ts, FeedStatus, FeedUpdate, NewEntry, NewFeed, PollStored, Store};
use crate::store_test;

/// A plain entry linking to `link`.
pub(super) fn entry(key: &str, link: &str) -> NewEntry {
    NewEntry {
        entry_key: EntryKey::from_stored(key.into()),
        link: Some(link.into()),
        url: Some(link.into()),
        url_key: Some(CanonicalUrl::parse(link).unwrap()),
        title: Some(format!("Title {key}")),
        ..Default::default()
    }
}

/// A Google item of id `id` (whose URL it does not carry) in provisional
/// story `story`.
pub(crate) fn google(key: &str, id: &str, story: Option<&str>) -> NewEntry {
    NewEntry {
        entry_key: EntryKey::from_stored(key.into()),
        link: Some(format!("https://news.google.com/rss/articles/{id}?oc=5")),
        title: Some(format!("Headline of {id}")),
        google: Some(GoogleEntry {
            google_id: id.into(),
            provisional_key: story.map(str::to_owned),
            hl: "en-US".into(),
            gl: "US".into(),
            ceid: "US:en".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A Google item whose id carried its publisher URL `url` (key `url_key`).
pub(super) fn decoded(key: &str, id: &str, url: &str, url_key: &str) -> NewEntry {
    let mut e = google(key, id, None);
    e.url = Some(url.into());
    e.url_key = Some(CanonicalUrl::from_stored(url_key.into()));
    if let Some(g) = e.google.as_mut() {
        g.decoded = true;
    }
    e
}

/// `entry`, listing Google id H as related coverage.
pub(super) fn hinted(mut entry: NewEntry) -> NewEntry {
    if let Some(g) = entry.google.as_mut() {
        g.hints = vec![Hint {
            url: "https://news.google.com/rss/articles/H".into(),
            title: "Other".into(),
            source: None,
            google_id: Some("H".into()),
        }];
    }
    entry
}

pub(crate) async fn feed(store: &Store, url: &str) -> i64 {
    let f = NewFeed {
        url: url.into(),
        name: None,
        interval_secs: None,
    };
    store.add_feed(&f, "cli", Utc::now()).await.unwrap().0.id
}

pub(crate) fn update(now: DateTime<Utc>) -> FeedUpdate {
    FeedUpdate {
        last_status: FeedStatus::Ok,
        next_poll_at: now,
        polled_at: now,
        success: true,
        fetch_url: "https://f.example/".into(),
        ..Default::default()
    }
}

/// The Google id in the link of the feed item `item`, as `google` gives
/// it, as SQL.
pub(super) fn google_id_of(item: &str) -> String {
    format!(
        "replace(replace({item}.link, 'https://news.google.com/rss/articles/', ''), '?oc=5', '')"
    )
}

store_test!(
    async fn repeated_polls_store_each_entry_once(store) {
        let f = feed(&store, "https://f.example/rss").await;
        let now = Utc::now();
        let es = [
            entry("a", "https://n.example/1"),
            entry("b", "https://n.example/2"),
        ];
        let r = store
            .record_poll(f, &es[..], now, update(now))
            .await
            .unwrap();
        assert_eq!(
            r,
            PollStored {
                new_items: 2,
                new_articles: 2
            }
        );
        let r = store
            .record_poll(f, &es[..], now, update(now))
            .await
            .unwrap();
        assert_eq!(r, PollStored::default());
    }
);

store_test!(
    async fn one_article_in_two_feeds_is_one_row_with_two_feed_links(store) {
        let f1 = feed(&store, "https://f1.example/rss").await;
        let f2 = feed(&store, "https://f2.example/rss").await;
        let now = Utc::now();
        store
            .record_poll(
                f1,
                &[entry("x", "https://n.example/s?utm_source=a")],
                now,
                update(now),
            )
            .await
            .unwrap();
        let r = store
            .record_poll(
                f2,
                &[entry("y", "http://www.n.example/s")],
                now,
                update(now),
            )
            .await
            .unwrap();
        assert_eq!(
            r,
            PollStored {
                new_items: 1,
                new_articles: 0
            }
        );
        assert_eq!(scalar_i64(&store, "SELECT COUNT(*) FROM articles").await, 1);
        assert_eq!(
            strings(&store, "SELECT link FROM feed_items ORDER BY feed_id").await,
            [
                Some("https://n.example/s?utm_source=a".to_owned()),
                Some("http://www.n.example/s".to_owned())
            ]
        );
        assert_eq!(
            scalar_i64(&store, "SELECT COUNT(DISTINCT article_id) FROM feed_items").await,
            1
        );
        assert_eq!(
            scalar_i64(&store, "SELECT COUNT(*) FROM articles WHERE text IS NULL").await,
            1
        );
    }
);

store_test!(
    async fn assigning_a_known_identity_merges_two_articles_keeping_links(store) {
        let f1 = feed(&store, "https://f1.example/rss").await;
        let f2 = feed(&store, "https://f2.example/rss").await;
        let now = Utc::now();
        store
            .record_poll(f1, &[entry("a", "https://n.example/real")], now, update(now))
            .await
            .unwrap();
        store
            .record_poll(
                f2,
                &[entry("b", "https://redirector.example/x")],
                now,
                update(now),
            )
            .await
            .unwrap();
        let real = scalar_i64(&store, "SELECT MIN(id) FROM articles").await;
        let redirect = scalar_i64(&store, "SELECT MAX(id) FROM articles").await;
        let key = CanonicalUrl::parse("https://n.example/real").unwrap();
        let survivor = store
            .assign_identity(redirect, key.as_str(), "https://n.example/real")
            .await
            .unwrap();
        assert_eq!(survivor, real);
        assert_eq!(scalar_i64(&store, "SELECT COUNT(*) FROM articles").await, 1);
        assert_eq!(
            strings(
                &store,
                "SELECT link FROM feed_items f JOIN articles a ON a.id = f.article_id ORDER BY f.link"
            )
            .await,
            [
                Some("https://n.example/real".to_owned()),
                Some("https://redirector.example/x".to_owned())
            ]
        );
        assert_eq!(
            scalar_i64(&store, "SELECT COUNT(DISTINCT feed_id) FROM feed_items").await,
            2
        );
    }
);

store_test!(
    async fn an_article_new_in_a_poll_gets_what_a_later_entry_of_that_poll_has_and_it_lacks(
        store
    ) {
        let f = feed(&store, "https://f.example/rss").await;
        let now = Utc::now();
        let es = [
            NewEntry {
                summary: None,
                ..entry("x", "https://n.example/x")
            },
            NewEntry {
                summary: Some("What x is about".into()),
                ..entry("x-again", "https://n.example/x")
            },
        ];
        let r = store
            .record_poll(f, &es[..], now, update(now))
            .await
            .unwrap();
        assert_eq!((r.new_items, r.new_articles), (2, 1));
        assert_eq!(
            strings(&store, "SELECT summary FROM articles").await,
            [Some("What x is about".to_owned())]
        );
    }
);

store_test!(
    async fn an_article_seen_again_gets_only_what_it_lacked(store) {
        let f1 = feed(&store, "https://f1.example/rss").await;
        let f2 = feed(&store, "https://f2.example/rss").await;
        let f3 = feed(&store, "https://f3.example/rss").await;
        let now = Utc::now();
        let mut bare = entry("a", "https://n.example/story");
        bare.title = None;
        store
            .record_poll(f1, &[bare], now, update(now))
            .await
            .unwrap();
        let mut full = entry("b", "https://n.example/story");
        full.title = Some("The headline".into());
        full.publisher = Some("N".into());
        full.authors = vec!["Ann".into()];
        let r = store
            .record_poll(f2, &[full.clone()], now, update(now))
            .await
            .unwrap();
        assert_eq!((r.new_items, r.new_articles), (1, 0));
        assert_eq!(
            strings(
                &store,
                "SELECT title || ' ' || publisher || ' ' || authors FROM articles"
            )
            .await,
            [Some("The headline N [\"Ann\"]".to_owned())]
        );
        full.entry_key = EntryKey::from_stored("c".into());
        full.title = Some("Another headline".into());
        store
            .record_poll(f3, &[full], now, update(now))
            .await
            .unwrap();
        assert_eq!(
            scalar_i64(
                &store,
                "SELECT COUNT(*) FROM articles WHERE title = 'The headline'"
            )
            .await,
            1
        );
        assert_eq!(scalar_i64(&store, "SELECT COUNT(*) FROM feed_items").await, 3);
    }
);

store_test!(
    async fn entries_without_links_are_kept_per_feed(store) {
        let f = feed(&store, "https://f.example/rss").await;
        let g = feed(&store, "https://g.example/rss").await;
        let now = Utc::now();
        let e = NewEntry {
            entry_key: EntryKey::from_stored("hash:1".into()),
            title: Some("No link".into()),
            ..Default::default()
        };
        let r = store
            .record_poll(f, std::slice::from_ref(&e), now, update(now))
            .await
            .unwrap();
        assert_eq!(r.new_articles, 1);
        let r = store
            .record_poll(f, std::slice::from_ref(&e), now, update(now))
            .await
            .unwrap();
        assert_eq!(r.new_articles, 0);
        let r = store.record_poll(g, &[e], now, update(now)).await.unwrap();
        assert_eq!(r.new_articles, 1);
    }
);

store_test!(
    async fn a_large_poll_stores_every_entry_once(store) {
        let f = feed(&store, "https://f.example/rss").await;
        let now = Utc::now();
        let n = 1_041;
        let mut es: Vec<NewEntry> = (0..n)
            .map(|i| entry(&format!("k{i}"), &format!("https://n.example/{i}")))
            .collect();
        // The same URL under two entry keys, far apart.
        es.push(entry("dup", "https://n.example/3"));
        let r = store
            .record_poll(f, &es[..], now, update(now))
            .await
            .unwrap();
        assert_eq!((r.new_items, r.new_articles), (n + 1, n));
        assert_eq!(
            scalar_i64(&store, "SELECT COUNT(*) FROM articles").await,
            n as i64
        );
        assert_eq!(
            scalar_i64(&store, "SELECT COUNT(*) FROM feed_items").await,
            n as i64 + 1
        );
        let r = store
            .record_poll(f, &es[..], now, update(now))
            .await
            .unwrap();
        assert_eq!(r, PollStored::default());
    }
);

store_test!(
    async fn a_large_google_poll_links_each_item_to_its_own_article(store) {
        let f = feed(&store, "https://f.example/rss").await;
        // An article first, so the new ones do not start at id 1.
        store
            .record_poll(
                f,
                vec![entry("p", "https://n.example/p")],
                Utc::now(),
                update(Utc::now()),
            )
            .await
            .unwrap();
        let now = Utc::now();
        let n = 1_041;
        let es: Vec<NewEntry> = (0..n)
            .map(|i| google(&format!("k{i}"), &format!("G{i}"), Some(&format!("p|{i}"))))
            .collect();
        let r = store
            .record_poll(f, &es[..], now, update(now))
            .await
            .unwrap();
        assert_eq!((r.new_items, r.new_articles), (n, n));
        // Each item's article carries the item's own headline, and the link
        // of its id points there.
        let mismatched = scalar_i64(
            &store,
            &format!(
                "SELECT COUNT(*) FROM feed_items fi JOIN articles a ON a.id = fi.article_id \
                 LEFT JOIN google_links g ON g.google_id = {id} \
                 WHERE fi.link LIKE 'https://news.google.com/%' \
                   AND (a.title != 'Headline of ' || {id} \
                   OR COALESCE(g.article_id, -1) != a.id OR a.url_key != 'gn:' || a.id)",
                id = google_id_of("fi")
            ),
        )
        .await;
        assert_eq!(mismatched, 0);
        assert_eq!(
            scalar_i64(&store, "SELECT COUNT(*) FROM google_links").await,
            n as i64
        );
    }
);

store_test!(
    async fn google_items_join_their_id_or_their_provisional_story_within_the_window(store) {
        let f = feed(&store, "https://f.example/rss").await;
        let g = feed(&store, "https://g.example/rss").await;
        let then = Utc::now() - chrono::Duration::hours(40);
        let now = Utc::now();
        store
            .record_poll(f, vec![google("old", "G0", Some("p|s"))], then, update(then))
            .await
            .unwrap();
        // Too late for the story of G0, which G2 then joins; G1 seen again
        // in another feed joins its own article.
        let r = store
            .record_poll(
                f,
                vec![google("a", "G1", Some("p|s")), google("b", "G2", Some("p|s"))],
                now,
                update(now),
            )
            .await
            .unwrap();
        assert_eq!((r.new_items, r.new_articles), (2, 1));
        let r = store
            .record_poll(g, vec![google("c", "G1", None)], now, update(now))
            .await
            .unwrap();
        assert_eq!((r.new_items, r.new_articles), (1, 0));
        assert_eq!(scalar_i64(&store, "SELECT COUNT(*) FROM articles").await, 2);
        assert_eq!(
            strings(
                &store,
                &format!(
                    "SELECT {} || ' ' || a.url_key FROM feed_items fi \
                     JOIN articles a ON a.id = fi.article_id ORDER BY fi.id",
                    google_id_of("fi")
                )
            )
            .await
            .len(),
            4
        );
        assert_eq!(
            scalar_i64(
                &store,
                "SELECT COUNT(DISTINCT article_id) FROM google_links WHERE google_id IN ('G1', 'G2')"
            )
            .await,
            1
        );
        assert_eq!(
            scalar_i64(&store, "SELECT COUNT(*) FROM google_links WHERE status = 'pending'").await,
            3
        );
    }
);

store_test!(
    async fn a_google_id_seen_in_several_feeds_and_polls_has_one_link(store) {
        let a = feed(&store, "https://f.example/1").await;
        let b = feed(&store, "https://f.example/2").await;
        let now = Utc::now();
        let decoded = decoded("d", "GD", "https://pub.example/story", "pub.example/story");
        for feed in [a, b, a] {
            let entries = vec![google("p", "GP", None), decoded.clone()];
            store
                .record_poll(feed, entries, now, update(now))
                .await
                .unwrap();
        }
        assert_eq!(
            strings(
                &store,
                "SELECT google_id || ' ' || status || ' ' || COALESCE(publisher_url, '-') \
                 FROM google_links ORDER BY status"
            )
            .await,
            [
                Some("GD decoded https://pub.example/story".to_owned()),
                Some("GP pending -".to_owned()),
            ]
        );
        assert_eq!(scalar_i64(&store, "SELECT COUNT(*) FROM feed_items").await, 4);
    }
);

store_test!(
    async fn pruned_entries_urls_and_google_ids_are_not_stored_again(store) {
        let f = feed(&store, "https://f.example/rss").await;
        let now = Utc::now();
        let es = vec![
            entry("gone", "https://n.example/1"),
            entry("kept", "https://n.example/url-gone"),
            google("g", "GGONE", None),
            entry("new", "https://n.example/new"),
        ];
        let pruned_at = ts(now);
        for sql in [
            format!(
                "INSERT INTO tombstones (kind, feed_id, key, pruned_at) VALUES ('entry', {f}, 'gone', '{pruned_at}')"
            ),
            format!(
                "INSERT INTO tombstones (kind, feed_id, key, pruned_at) VALUES ('url', 0, 'n.example/url-gone', '{pruned_at}')"
            ),
            format!(
                "INSERT INTO tombstones (kind, feed_id, key, pruned_at) VALUES ('google', 0, 'GGONE', '{pruned_at}')"
            ),
        ] {
            execute(&store, &sql).await;
        }
        let r = store.record_poll(f, es, now, update(now)).await.unwrap();
        assert_eq!((r.new_items, r.new_articles), (1, 1));
        assert_eq!(
            strings(&store, "SELECT entry_key FROM feed_items").await,
            [Some("new".to_owned())]
        );
    }
);

/// Runs a bind-less statement on either engine.
pub(super) async fn execute(store: &Store, sql: &str) {
    match store.pg_pool() {
        Some(pool) => sqlx::query(sql).execute(pool).await.map(drop),
        None => sqlx::query(sql).execute(store.pool()).await.map(drop),
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

store_test!(
    async fn an_article_is_queued_for_full_text_once_it_has_a_publisher_url_and_never_before(
        store
    ) {
        let f = feed(&store, "https://f.example/rss").await;
        let first_seen = Utc::now() - chrono::Duration::minutes(5);
        let entries = vec![
            entry("p", "https://pub.example/plain"),
            decoded("d", "GD", "https://pub.example/decoded", "pub.example/decoded"),
            google("u", "GU", None),
        ];
        store
            .record_poll(f, entries, first_seen, update(first_seen))
            .await
            .unwrap();
        let queued = |store: Store| async move {
            strings(
                &store,
                "SELECT a.url || ' ' || j.next_try_at FROM fulltext_jobs j \
                 JOIN articles a ON a.id = j.article_id WHERE j.status = 'pending' ORDER BY a.url",
            )
            .await
        };
        // The plain and the decoded article, due when first seen; the
        // unresolved Google article has no publisher URL to fetch yet.
        let due = ts(first_seen);
        assert_eq!(
            queued(store.clone()).await,
            [
                Some(format!("https://pub.example/decoded {due}")),
                Some(format!("https://pub.example/plain {due}")),
            ]
        );
        let resolved_at = Utc::now();
        store
            .resolve_google_link("GU", "https://pub.example/resolved", resolved_at)
            .await
            .unwrap();
        assert_eq!(
            queued(store.clone()).await,
            [
                Some(format!("https://pub.example/decoded {due}")),
                Some(format!("https://pub.example/plain {due}")),
                Some(format!("https://pub.example/resolved {}", ts(resolved_at))),
            ]
        );
    }
);
