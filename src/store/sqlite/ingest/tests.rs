use super::super::keys::{key_hash, settle_keys};
use super::super::upgrade::{long_items_sql, long_tombstones_sql, rekey_long_entries};
use super::*;
use crate::domain::CanonicalUrl;
use crate::domain::EntryKey;
use crate::store::google_links::{GoogleEntry, Hint, LinkStatus};
use crate::store::testing::temp_store;
use crate::store::{FeedStatus, NewFeed, Store};

fn entry(key: &str, link: &str) -> NewEntry {
    NewEntry {
        entry_key: EntryKey::from_stored(key.into()),
        link: Some(link.into()),
        url: Some(link.into()),
        url_key: Some(CanonicalUrl::parse(link).unwrap()),
        title: Some(format!("Title {key}")),
        ..Default::default()
    }
}

async fn feed(store: &Store, url: &str) -> i64 {
    let f = NewFeed {
        url: url.into(),
        name: None,
        interval_secs: None,
    };
    store.add_feed(&f, "cli", Utc::now()).await.unwrap().0.id
}

async fn two_feeds(store: &Store) -> (i64, i64) {
    (
        feed(store, "https://f.example/1").await,
        feed(store, "https://f.example/2").await,
    )
}

fn update(now: DateTime<Utc>) -> FeedUpdate {
    FeedUpdate {
        last_status: FeedStatus::Ok,
        next_poll_at: now,
        polled_at: now,
        success: true,
        fetch_url: "https://f.example/".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn entries_stored_under_long_keys_are_rekeyed_once_and_a_repoll_adds_nothing() {
    let (store, _d) = temp_store().await;
    let f = feed(&store, "https://f.example/long").await;
    let now = Utc::now();
    let long_guid = format!("CBMi{}", "x".repeat(100));
    let long_link = format!("https://n.example/{}", "y".repeat(80));
    let old_keys = [format!("id:{long_guid}"), format!("link:{long_link}")];
    let entries: Vec<NewEntry> = old_keys
        .iter()
        .enumerate()
        .map(|(i, k)| NewEntry {
            guid: (i == 0).then(|| long_guid.clone()),
            ..entry(k, &format!("https://n.example/{i}"))
        })
        .collect();
    store
        .record_poll(f, entries.clone(), now, update(now))
        .await
        .unwrap();
    let pruned = format!("id:{}", "z".repeat(65));
    sqlx::query(
        "INSERT INTO tombstones (kind, feed_id, key, pruned_at) VALUES ('entry', ?, ?, ?), \
         ('entry', ?, 'id:short', ?)",
    )
    .bind(f)
    .bind(&pruned)
    .bind(ts(now))
    .bind(f)
    .bind(ts(now))
    .execute(&store.sqlite().writer)
    .await
    .unwrap();

    assert_eq!(rekey_long_entries(&store.sqlite().writer).await.unwrap(), 3);
    assert_eq!(rekey_long_entries(&store.sqlite().writer).await.unwrap(), 0);

    let keys: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT entry_key, guid FROM feed_items WHERE feed_id = ? ORDER BY id")
            .bind(f)
            .fetch_all(store.pool())
            .await
            .unwrap();
    let now_keys: Vec<String> = vec![
        EntryKey::derive(Some(&long_guid), None, None, None)
            .unwrap()
            .as_str()
            .into(),
        EntryKey::derive(None, Some(&long_link), None, None)
            .unwrap()
            .as_str()
            .into(),
    ];
    assert_eq!(
        keys,
        vec![
            (now_keys[0].clone(), Some(long_guid.clone())),
            (now_keys[1].clone(), None)
        ]
    );
    let tombstones: Vec<String> =
        sqlx::query_scalar("SELECT key FROM tombstones WHERE feed_id = ? ORDER BY key")
            .bind(f)
            .fetch_all(store.pool())
            .await
            .unwrap();
    let pruned_now = EntryKey::rekeyed(&pruned).unwrap();
    assert_eq!(tombstones, vec![pruned_now.as_str(), "id:short"]);

    let again: Vec<NewEntry> = entries
        .into_iter()
        .zip(&now_keys)
        .map(|(e, k)| NewEntry {
            entry_key: EntryKey::from_stored(k.clone()),
            ..e
        })
        .collect();
    let stored = store.record_poll(f, again, now, update(now)).await.unwrap();
    assert_eq!(stored, PollStored::default());
}

#[tokio::test]
async fn the_search_for_long_keys_reads_only_the_partial_indexes() {
    let (store, _d) = temp_store().await;
    for (sql, index) in [
        (long_items_sql(), "feed_items_long_keys"),
        (long_tombstones_sql(), "tombstones_long_keys"),
    ] {
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
                .bind(0)
                .bind("")
                .fetch_all(store.pool())
                .await
                .unwrap();
        let steps: Vec<&str> = plan.iter().map(|p| p.3.as_str()).collect();
        assert_eq!(steps.len(), 1, "{steps:?}");
        assert!(steps[0].contains(index), "{steps:?}");
    }
}

#[tokio::test]
async fn a_failing_poll_committed_with_others_fails_alone() {
    let (store, _d) = temp_store().await;
    let (f1, f2) = two_feeds(&store).await;
    let now = Utc::now();
    // Holding the write connection makes the polls below queue up, so
    // the poll writer takes them as one group.
    let held = store.sqlite().begin_write().await.unwrap();
    let poll = |feed_id: i64, key: &str| {
        let store = store.clone();
        let e = entry(key, &format!("https://n.example/{key}"));
        tokio::spawn(async move { store.record_poll(feed_id, vec![e], now, update(now)).await })
    };
    let first = poll(f1, "first");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    // No such feed: its feed item breaks the foreign key.
    let (good, bad, other) = (poll(f1, "a"), poll(9_999, "b"), poll(f2, "c"));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    drop(held);
    for ok in [first, good, other] {
        assert_eq!(ok.await.unwrap().unwrap().new_articles, 1);
    }
    assert!(bad.await.unwrap().is_err());
    let urls: Vec<String> = sqlx::query_scalar("SELECT url FROM articles ORDER BY url")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(
        urls,
        [
            "https://n.example/a",
            "https://n.example/c",
            "https://n.example/first"
        ]
    );
}

#[tokio::test]
async fn polls_written_as_one_group_store_what_they_would_one_after_another() {
    let (store, _d) = temp_store().await;
    let (a, b) = two_feeds(&store).await;
    let now = Utc::now();
    let with_etag = move |etag: &str| {
        let mut u = update(now);
        u.etag = Some(etag.into());
        u.clone()
    };
    let bare = NewEntry {
        summary: None,
        ..entry("x", "https://n.example/x")
    };
    let full = NewEntry {
        summary: Some("What x is about".into()),
        ..entry("x", "https://n.example/x")
    };
    // Holding the write connection queues the polls into one group.
    let held = store.sqlite().begin_write().await.unwrap();
    let poll = |feed_id: i64, entries: Vec<NewEntry>, etag: &str| {
        let (store, make) = (store.clone(), with_etag(etag));
        tokio::spawn(async move { store.record_poll(feed_id, entries, now, make).await })
    };
    let a1 = poll(a, vec![bare.clone()], "a1");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let b1 = poll(b, vec![full, entry("y", "https://n.example/y")], "b1");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    // The same feed again: it must see what its first poll stored.
    let a2 = poll(a, vec![bare, entry("z", "https://n.example/z")], "a2");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    drop(held);
    let stored = |new_items, new_articles| PollStored {
        new_items,
        new_articles,
    };
    assert_eq!(a1.await.unwrap().unwrap(), stored(1, 1));
    assert_eq!(b1.await.unwrap().unwrap(), stored(2, 1));
    assert_eq!(a2.await.unwrap().unwrap(), stored(1, 1));
    let summary: Option<String> =
        sqlx::query_scalar("SELECT summary FROM articles WHERE url = 'https://n.example/x'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(summary.as_deref(), Some("What x is about"));
    let etags: Vec<Option<String>> = sqlx::query_scalar("SELECT etag FROM feeds ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(etags, [Some("a2".to_owned()), Some("b1".to_owned())]);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM feed_items").await, 4);
}

fn google(key: &str, id: &str, story: Option<&str>) -> NewEntry {
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

/// `entry`, listing Google id H as related coverage.
fn hinted(mut entry: NewEntry) -> NewEntry {
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

/// The Google id in the link of the feed item `item`, as `google` gives
/// it.
fn google_id_of(item: &str) -> String {
    format!(
        "replace(replace({item}.link, 'https://news.google.com/rss/articles/', ''), '?oc=5', '')"
    )
}

/// Every feed item with the Google id its article was created for (its
/// first item's) and its link's status, in feed and key order.
async fn google_items(store: &Store) -> Vec<(String, String, Option<String>)> {
    sqlx::query_as(&format!(
        "SELECT fi.entry_key, \
               (SELECT {} FROM feed_items first WHERE first.article_id = a.id \
                ORDER BY first.id LIMIT 1), g.status FROM feed_items fi \
             JOIN articles a ON a.id = fi.article_id \
             LEFT JOIN google_links g ON g.google_id = {} \
             ORDER BY fi.feed_id, fi.entry_key",
        google_id_of("first"),
        google_id_of("fi")
    ))
    .fetch_all(store.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn google_items_of_one_group_join_what_earlier_items_created_as_one_after_another_would() {
    let now = Utc::now();
    let hinted = hinted(google("a1", "G1", Some("p.example|story one")));
    let mut video = google("b3", "G4", None);
    if let Some(g) = video.google.as_mut() {
        g.unresolvable = Some("a video id".into());
    }
    let polls = [
        vec![hinted, google("a2", "G2", Some("p.example|known story"))],
        vec![
            google("b1", "G1", Some("p.example|story one")),
            google("b2", "G3", Some("p.example|story one")),
            video,
            google("b4", "G5", Some("p.example|story two")),
            google("b5", "G6", Some("p.example|story two")),
        ],
    ];
    let mut results = Vec::new();
    for grouped in [true, false] {
        let (store, _d) = temp_store().await;
        let (a, b) = two_feeds(&store).await;
        let earlier = google("k", "G0", Some("p.example|known story"));
        store
            .record_poll(a, vec![earlier], now, update(now))
            .await
            .unwrap();
        sqlx::query("UPDATE articles SET resolution = 'resolved'")
            .execute(store.pool())
            .await
            .unwrap();
        let mut stored = Vec::new();
        let mut handles = Vec::new();
        let held = if grouped {
            // Holding the write connection keeps the writer on a poll of a
            // third feed, so the polls of `a` and `b` queue into one group.
            let c = feed(&store, "https://f.example/3").await;
            let held = store.sqlite().begin_write().await.unwrap();
            let writer = store.clone();
            let blocker =
                tokio::spawn(
                    async move { writer.record_poll(c, Vec::new(), now, update(now)).await },
                );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            Some((held, blocker))
        } else {
            None
        };
        for (feed_id, entries) in [a, b].into_iter().zip(polls.clone()) {
            let store = store.clone();
            let poll = async move { store.record_poll(feed_id, entries, now, update(now)).await };
            if grouped {
                handles.push(tokio::spawn(poll));
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            } else {
                stored.push(poll.await.unwrap());
            }
        }
        if let Some((held, blocker)) = held {
            drop(held);
            blocker.await.unwrap().unwrap();
        }
        for h in handles {
            stored.push(h.await.unwrap().unwrap());
        }
        let hints: i64 = count(&store, "SELECT COUNT(*) FROM story_hints").await;
        let misnamed: i64 = count(
            &store,
            "SELECT COUNT(*) FROM articles WHERE resolution = 'unresolved' AND url_key != 'gn:' || id",
        )
        .await;
        assert_eq!(misnamed, 0, "an unresolved article is keyed by its own id");
        results.push((stored, google_items(&store).await, hints));
    }
    let stored = |new_items, new_articles| PollStored {
        new_items,
        new_articles,
    };
    let item = |key: &str, article: &str, status: &str| {
        (key.to_owned(), article.to_owned(), Some(status.to_owned()))
    };
    let expected = (
        vec![stored(2, 1), stored(5, 2)],
        vec![
            item("a1", "G1", "pending"),
            // The archive's resolved story: no lookup of its own.
            item("a2", "G0", "joined"),
            item("k", "G0", "pending"),
            item("b1", "G1", "pending"),
            // The story the group's first item created.
            item("b2", "G1", "pending"),
            item("b3", "G4", "failed"),
            item("b4", "G5", "pending"),
            // The story an earlier item of its own poll created.
            item("b5", "G5", "pending"),
        ],
        1,
    );
    assert_eq!(results[0], expected, "written as one group");
    assert_eq!(results[1], expected, "written one after another");
}

/// The key tables hold exactly what the rows they index imply.
async fn assert_keys_match_rows(store: &Store) {
    let pairs = |sql: &'static str| async move {
        let mut rows: Vec<(i64, i64)> = sqlx::query_as(sql).fetch_all(store.pool()).await.unwrap();
        rows.sort_unstable();
        rows
    };
    assert_eq!(
        pairs("SELECT DISTINCT id_hash, article_id FROM google_link_keys").await,
        pairs("SELECT DISTINCT id_hash, article_id FROM google_links").await,
    );
    assert_eq!(
        pairs("SELECT DISTINCT provisional_hash, article_id FROM provisional_keys").await,
        pairs(
            "SELECT provisional_hash, id FROM articles \
             WHERE provisional_key IS NOT NULL AND provisional_hash IS NOT NULL"
        )
        .await,
    );
}

async fn settle_all_keys(store: &Store) -> u64 {
    settle_keys(&store.sqlite().writer, 1, 2).await.unwrap()
}

#[tokio::test]
async fn google_ids_and_stories_are_found_before_and_after_their_keys_settle() {
    let (store, _d) = temp_store().await;
    let (a, b) = two_feeds(&store).await;
    let now = Utc::now();
    let first = vec![
        google("1", "G1", None),
        google("2", "G2", Some("p.example|two")),
    ];
    let stored = store.record_poll(a, first, now, update(now)).await.unwrap();
    assert_eq!(stored.new_articles, 2);
    assert_keys_match_rows(&store).await;
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM google_link_keys WHERE fresh = 1"
        )
        .await,
        2
    );
    // Settling G1/G2 while G3's story stays fresh: lookups read both tiers.
    assert_eq!(settle_all_keys(&store).await, 3);
    let later = vec![google("3", "G3", Some("p.example|three"))];
    store.record_poll(a, later, now, update(now)).await.unwrap();
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM google_link_keys WHERE fresh = 0"
        )
        .await,
        2
    );
    let again = vec![
        // The same ids in another feed: links known, settled or fresh.
        google("a", "G1", None),
        google("c", "G3", None),
        // New ids of known stories: provisional keys, settled or fresh.
        google("b", "G2b", Some("p.example|two")),
        google("d", "G3b", Some("p.example|three")),
    ];
    let stored = store.record_poll(b, again, now, update(now)).await.unwrap();
    assert_eq!(stored.new_items, 4);
    assert_eq!(stored.new_articles, 0);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM articles").await, 3);
    assert_eq!(
        store
            .google_link("G1")
            .await
            .unwrap()
            .map(|(status, _)| status),
        Some(LinkStatus::Pending)
    );
    assert_keys_match_rows(&store).await;
}

#[tokio::test]
async fn lookup_keys_follow_their_rows_through_resolution_merges_and_deletes() {
    let (store, _d) = temp_store().await;
    let f = feed(&store, "https://f.example/1").await;
    let now = Utc::now();
    let entries = vec![
        entry("p", "https://pub.example/x"),
        hinted(google("g", "G1", Some("pub.example|x"))),
        google("h", "G2", Some("pub.example|y")),
    ];
    store
        .record_poll(f, entries, now, update(now))
        .await
        .unwrap();
    settle_all_keys(&store).await;
    // G1's provisional article merges into the publisher's.
    let survivor = store
        .resolve_google_link("G1", "https://pub.example/x", now)
        .await
        .unwrap();
    assert_keys_match_rows(&store).await;
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM google_link_keys WHERE id_hash = (SELECT id_hash FROM google_links WHERE google_id = 'G1')"
        )
        .await,
        1
    );
    assert_eq!(
        store
            .resolve_google_link("G1", "https://pub.example/x", now)
            .await
            .unwrap(),
        survivor
    );
    sqlx::query("DELETE FROM articles")
        .execute(&store.sqlite().writer)
        .await
        .unwrap();
    assert_keys_match_rows(&store).await;
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM google_link_keys").await,
        0
    );
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM provisional_keys").await,
        0
    );
}

#[tokio::test]
async fn the_related_coverage_of_a_merged_google_article_still_meets_links_by_hash() {
    let (store, _d) = temp_store().await;
    let f = feed(&store, "https://f.example/1").await;
    let now = Utc::now();
    let hinted = hinted(google("g", "G1", None));
    let entries = vec![entry("p", "https://pub.example/x"), hinted];
    store
        .record_poll(f, entries, now, update(now))
        .await
        .unwrap();
    let survivor = store
        .resolve_google_link("G1", "https://pub.example/x", now)
        .await
        .unwrap();
    let hints: Vec<(i64, Option<i64>)> =
        sqlx::query_as("SELECT article_id, google_hash FROM story_hints")
            .fetch_all(store.pool())
            .await
            .unwrap();
    // The merged article is gone, and its hints with it.
    assert_eq!(hints, [(survivor, Some(key_hash("H")))]);
}

#[tokio::test]
async fn deferred_indexing_keeps_the_search_indexes_consistent_through_updates_and_merges() {
    let (store, _d) = temp_store().await;
    let f = feed(&store, "https://f.example/rss").await;
    let now = Utc::now();
    store
        .record_poll(
            f,
            &[entry("a", "https://n.example/indexed")],
            now,
            update(now),
        )
        .await
        .unwrap();
    assert_eq!(store.index_pending().await.unwrap(), 1);
    // A second article stays pending while it is updated and merged away.
    store
        .record_poll(
            f,
            &[entry("b", "https://n.example/pending")],
            now,
            update(now),
        )
        .await
        .unwrap();
    let page = store.export_page(None, 0, 10).await.unwrap();
    let (indexed, pending) = (page[0].id, page[1].id);
    sqlx::query("UPDATE articles SET text = 'body words quokka' WHERE id IN (?, ?)")
        .bind(indexed)
        .bind(pending)
        .execute(store.pool())
        .await
        .unwrap();
    let key = CanonicalUrl::parse("https://n.example/indexed").unwrap();
    store
        .assign_identity(pending, key.as_str(), "https://n.example/indexed")
        .await
        .unwrap();
    store.index_pending().await.unwrap();
    store.check_search_indexes().await.unwrap();
    let hits = store
        .search(&crate::store::SearchQuery {
            text: "quokka".into(),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].id, indexed);
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn only_articles_with_unspaced_scripts_enter_the_trigram_index_and_leave_it_when_edited() {
    let (store, _d) = temp_store().await;
    let f = feed(&store, "https://f.example/rss").await;
    let now = Utc::now();
    let mut cjk = entry("c", "https://n.example/cjk");
    cjk.title = Some("清华大学 announces a new campus".into());
    let mut thai = entry("t", "https://n.example/thai");
    thai.summary = Some("ข่าวภาษาไทย".into());
    let latin = entry("l", "https://n.example/latin");
    store
        .record_poll(f, &[cjk, thai, latin], now, update(now))
        .await
        .unwrap();
    assert_eq!(store.index_pending().await.unwrap(), 3);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM articles_fts").await, 3);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM trigram_rows").await, 2);
    let find = |text: &'static str| {
        let store = store.clone();
        async move {
            store
                .search(&crate::store::SearchQuery {
                    text: text.into(),
                    limit: 10,
                    ..Default::default()
                })
                .await
                .unwrap()
                .len()
        }
    };
    assert_eq!(find("清华大学").await, 1);
    assert_eq!(find("ภาษาไทย").await, 1);
    // The Chinese title is replaced by a Latin one: the article leaves the
    // trigram index, stays findable by words, and both indexes stay exact.
    sqlx::query("UPDATE articles SET title = 'Plain campus news' WHERE url_key LIKE '%cjk'")
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(count(&store, "SELECT COUNT(*) FROM fts_pending").await, 1);
    store.index_pending().await.unwrap();
    assert_eq!(count(&store, "SELECT COUNT(*) FROM trigram_rows").await, 1);
    assert_eq!(find("清华大学").await, 0);
    assert_eq!(find("campus").await, 1);
    store.check_search_indexes().await.unwrap();
    sqlx::query("DELETE FROM articles")
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(count(&store, "SELECT COUNT(*) FROM trigram_rows").await, 0);
    store.check_search_indexes().await.unwrap();
}

#[tokio::test]
async fn an_article_seen_again_gets_only_what_it_lacked_and_is_not_reindexed_otherwise() {
    let (store, _d) = temp_store().await;
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
    store.index_pending().await.unwrap();
    let mut full = entry("b", "https://n.example/story");
    full.title = Some("The headline".into());
    full.publisher = Some("N".into());
    full.authors = vec!["Ann".into()];
    let r = store
        .record_poll(f2, &[full.clone()], now, update(now))
        .await
        .unwrap();
    assert_eq!((r.new_items, r.new_articles), (1, 0));
    let (title, publisher, authors): (String, String, String) =
        sqlx::query_as("SELECT title, publisher, authors FROM articles")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(
        (title.as_str(), publisher.as_str(), authors.as_str()),
        ("The headline", "N", "[\"Ann\"]")
    );
    store.index_pending().await.unwrap();
    // A third feed brings nothing new: no update, nothing to re-index.
    full.entry_key = EntryKey::from_stored("c".into());
    full.title = Some("Another headline".into());
    store
        .record_poll(f3, &[full], now, update(now))
        .await
        .unwrap();
    assert_eq!(count(&store, "SELECT COUNT(*) FROM fts_pending").await, 0);
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM articles WHERE title = 'The headline'"
        )
        .await,
        1
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM feed_items").await, 3);
}
