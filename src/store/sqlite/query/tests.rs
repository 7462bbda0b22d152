//! The listing and search queries against a real archive; included by
//! `query_sqlite.rs`.

use chrono::{DateTime, Utc};

use super::*;
use crate::domain::{CanonicalUrl, EntryKey};
use crate::store::testing::temp_store;
use crate::store::{FeedStatus, FeedUpdate, NewEntry, NewFeed, Store};

/// Adds the feed `url` and records one poll of it at `at` showing `entries`.
async fn feed_with(store: &Store, url: &str, entries: Vec<NewEntry>, at: DateTime<Utc>) -> i64 {
    let (f, _) = store
        .add_feed(
            &NewFeed {
                url: url.into(),
                name: None,
                interval_secs: None,
            },
            "cli",
            at,
        )
        .await
        .unwrap();
    let u = FeedUpdate {
        last_status: FeedStatus::Ok,
        next_poll_at: at,
        polled_at: at,
        fetch_url: url.into(),
        ..Default::default()
    };
    store
        .record_poll(f.id, entries, at, u.clone())
        .await
        .unwrap();
    f.id
}

async fn seed(store: &Store, n: usize, at: DateTime<Utc>) -> i64 {
    let entries: Vec<NewEntry> = (0..n)
        .map(|i| NewEntry {
            entry_key: EntryKey::from_stored(format!("{at}-{i}")),
            url: Some(format!("https://n.example/{at}/{i}")),
            url_key: Some(CanonicalUrl::from_stored(format!("n.example/{at}/{i}"))),
            title: Some(format!("Story {i} about chips")),
            summary: Some(if i % 2 == 0 { "chips chips" } else { "chips" }.into()),
            publisher: Some("Example News".into()),
            ..Default::default()
        })
        .collect();
    let f = feed_with(store, "https://f.example/rss", entries, at).await;
    store.index_pending().await.unwrap();
    f
}

#[tokio::test]
async fn a_common_word_is_ranked_among_its_newest_matches_and_pages_stay_within_them() {
    let (store, _d) = temp_store().await;
    seed(&store, 6, Utc::now()).await;
    let search = ArticleSearch {
        text: "chips".into(),
        order: SearchOrder::Rank,
        item_text: ItemText::Flag,
    };
    let filter = ArticleFilter::default();
    let max_id = store.max_article_id().await.unwrap();
    let all = store
        .sqlite()
        .search_articles_with(
            &search,
            &filter,
            None,
            max_id,
            100,
            Plans {
                candidates: 100,
                ..PLANS
            },
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 6, "under the cap every match is ranked");
    let mut seen = search_pages(
        &store,
        "chips",
        &filter,
        Plans {
            candidates: 3,
            ..PLANS
        },
    )
    .await;
    seen.sort_unstable();
    assert_eq!(seen, vec![4, 5, 6], "the three newest matches, once each");
    let newest = ArticleSearch {
        order: SearchOrder::Newest,
        ..search
    };
    let ids: Vec<i64> = store
        .sqlite()
        .search_articles_with(
            &newest,
            &filter,
            None,
            i64::MAX,
            10,
            Plans {
                candidates: 3,
                ..PLANS
            },
        )
        .await
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(ids, vec![6, 5, 4]);
}

#[tokio::test]
async fn both_feed_plans_list_the_same_pages() {
    let (store, _d) = temp_store().await;
    let at = Utc::now();
    let first = seed(&store, 5, at).await;
    // The second feed carries articles 2 and 4 of the first and two of its own.
    let later = at + chrono::Duration::seconds(5);
    let entries: Vec<NewEntry> = [format!("{at}-1"), format!("{at}-3"), "x".into(), "y".into()]
        .iter()
        .map(|k| NewEntry {
            entry_key: EntryKey::from_stored(format!("g-{k}")),
            url: Some(format!("https://n.example/{k}")),
            url_key: Some(CanonicalUrl::from_stored(
                format!("n.example/{k}").replace(&format!("{at}-"), &format!("{at}/")),
            )),
            title: Some(format!("Item {k}")),
            ..Default::default()
        })
        .collect();
    let second = feed_with(&store, "https://g.example/rss", entries, later).await;
    for feed in [first, second] {
        let filter = ArticleFilter {
            feed_id: Some(feed),
            ..Default::default()
        };
        let mut pages = Vec::new();
        for small_feed in [1, 1_000] {
            let mut ids = Vec::new();
            let mut after: Option<SeenKey> = None;
            loop {
                let page = store
                    .sqlite()
                    .list_articles_with(
                        &filter,
                        after.as_ref(),
                        2,
                        ItemText::Flag,
                        Plans {
                            small_list: small_feed,
                            ..PLANS
                        },
                    )
                    .await
                    .unwrap();
                let Some(last) = page.last() else { break };
                after = Some(SeenKey {
                    first_seen_at: last.first_seen_at.clone(),
                    id: last.id,
                });
                ids.extend(page.iter().map(|a| a.id));
            }
            pages.push(ids);
        }
        assert_eq!(pages[0], pages[1], "feed {feed}");
    }
    let second_ids = {
        let f = ArticleFilter {
            feed_id: Some(second),
            ..Default::default()
        };
        store
            .list_articles(&f, None, 10, ItemText::Flag)
            .await
            .unwrap()
    };
    let ids: Vec<i64> = second_ids.iter().map(|a| a.id).collect();
    assert_eq!(
        ids,
        vec![7, 6, 4, 2],
        "own items first (seen later), then the shared ones"
    );
}

/// Every page of a ranked search, in order.
async fn search_pages(store: &Store, text: &str, filter: &ArticleFilter, plans: Plans) -> Vec<i64> {
    let search = ArticleSearch {
        text: text.into(),
        order: SearchOrder::Rank,
        item_text: ItemText::Flag,
    };
    let max_id = store.max_article_id().await.unwrap();
    let mut ids = Vec::new();
    let mut after: Option<RankKey> = None;
    loop {
        let page = store
            .sqlite()
            .search_articles_with(&search, filter, after.as_ref(), max_id, 2, plans)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(RankKey {
            rank: last.rank.unwrap(),
            id: last.id,
            max_id,
        });
        ids.extend(page.iter().map(|a| a.id));
    }
    ids
}

/// Every page of a listing, in order.
async fn list_pages(store: &Store, filter: &ArticleFilter, plans: Plans) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut after: Option<SeenKey> = None;
    loop {
        let page = store
            .sqlite()
            .list_articles_with(filter, after.as_ref(), 2, ItemText::Flag, plans)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(SeenKey {
            first_seen_at: last.first_seen_at.clone(),
            id: last.id,
        });
        ids.extend(page.iter().map(|a| a.id));
    }
    ids
}

#[tokio::test]
async fn a_search_in_a_small_feed_finds_what_walking_the_matches_finds() {
    let (store, _d) = temp_store().await;
    let at = Utc::now();
    seed(&store, 6, at).await;
    // Articles 2 and 4 of the first feed (one twice), and two of its own.
    let later = at + chrono::Duration::seconds(5);
    let entry = |key: &str, url_key: String, title: &str| NewEntry {
        entry_key: EntryKey::from_stored(key.into()),
        url: Some(format!("https://{url_key}")),
        url_key: Some(CanonicalUrl::from_stored(url_key)),
        title: Some(title.into()),
        ..Default::default()
    };
    let entries = [
        entry("g1", format!("n.example/{at}/1"), "Story 1 about chips"),
        entry(
            "g1-again",
            format!("n.example/{at}/1"),
            "Story 1 about chips",
        ),
        entry("g3", format!("n.example/{at}/3"), "Story 3 about chips"),
        entry("x", "n.example/x".into(), "Chips and more chips"),
        entry("y", "n.example/y".into(), "Nothing to see"),
    ];
    let second = feed_with(&store, "https://g.example/rss", entries.to_vec(), later).await;
    store.index_pending().await.unwrap();
    let filter = ArticleFilter {
        feed_id: Some(second),
        ..Default::default()
    };
    for candidates in [2, 100] {
        let walked = search_pages(
            &store,
            "chips",
            &filter,
            Plans {
                candidates,
                small_search: 1,
                ..PLANS
            },
        )
        .await;
        let from_feed = search_pages(
            &store,
            "chips",
            &filter,
            Plans {
                candidates,
                small_search: 1_000,
                ..PLANS
            },
        )
        .await;
        assert_eq!(walked, from_feed, "{candidates} candidates");
        let mut found = from_feed.clone();
        found.sort_unstable();
        let expected = if candidates == 2 {
            vec![4, 7]
        } else {
            vec![2, 4, 7]
        };
        assert_eq!(found, expected, "{candidates} candidates");
    }
}

#[tokio::test]
async fn since_bounds_a_search_by_id_yet_articles_seen_out_of_id_order_are_judged_by_their_time() {
    let (store, _d) = temp_store().await;
    let at = Utc::now();
    seed(&store, 6, at).await;
    // Article 5 kept an earlier sighting (as a merge does); articles 2 and
    // 4 were stored while the clock was ahead, so the first article in
    // time order since `at` + 30 min is not the one with the smallest id.
    for (id, seen) in [
        (5, at - chrono::Duration::hours(2)),
        (2, at + chrono::Duration::hours(1)),
        (4, at + chrono::Duration::minutes(40)),
    ] {
        sqlx::query("UPDATE articles SET first_seen_at = ? WHERE id = ?")
            .bind(ts(seen))
            .bind(id)
            .execute(store.pool())
            .await
            .unwrap();
    }
    for (since, expected) in [
        (at + chrono::Duration::minutes(30), vec![2, 4]),
        (at - chrono::Duration::hours(1), vec![1, 2, 3, 4, 6]),
        (at - chrono::Duration::hours(3), vec![1, 2, 3, 4, 5, 6]),
        (at + chrono::Duration::hours(2), vec![]),
    ] {
        let filter = ArticleFilter {
            since: Some(since),
            ..Default::default()
        };
        let mut listed = list_pages(&store, &filter, PLANS).await;
        listed.sort_unstable();
        assert_eq!(listed, expected, "listing since {since}");
        for since_scan in [0, 1_000] {
            let plans = Plans {
                since_scan,
                ..PLANS
            };
            let mut found = search_pages(&store, "chips", &filter, plans).await;
            found.sort_unstable();
            assert_eq!(found, expected, "search since {since}, scan {since_scan}");
        }
    }
}

#[tokio::test]
async fn both_language_plans_list_and_search_the_same_pages() {
    let (store, _d) = temp_store().await;
    seed(&store, 6, Utc::now()).await;
    for (id, lang) in [(1, "en"), (2, "en-GB"), (3, "ja"), (5, "EN-us"), (6, "de")] {
        sqlx::query("UPDATE articles SET lang = ? WHERE id = ?")
            .bind(lang)
            .bind(id)
            .execute(store.pool())
            .await
            .unwrap();
    }
    for (lang, expected) in [
        ("en", vec![5, 2, 1]),
        ("EN", vec![5, 2, 1]),
        ("ja", vec![3]),
        ("fr", vec![]),
    ] {
        let filter = ArticleFilter {
            lang: Some(lang.into()),
            ..Default::default()
        };
        for small_set in [1, 1_000] {
            let plans = Plans {
                small_list: small_set,
                small_search: small_set,
                ..PLANS
            };
            assert_eq!(
                list_pages(&store, &filter, plans).await,
                expected,
                "listing lang={lang}, small set {small_set}"
            );
            let mut found = search_pages(&store, "chips", &filter, plans).await;
            found.sort_unstable_by(|a, b| b.cmp(a));
            assert_eq!(found, expected, "search lang={lang}, small set {small_set}");
        }
    }
}

#[tokio::test]
async fn a_search_by_publisher_finds_its_articles_whatever_the_case() {
    let (store, _d) = temp_store().await;
    seed(&store, 3, Utc::now()).await;
    sqlx::query("UPDATE articles SET publisher = 'Other Wire' WHERE id = 2")
        .execute(store.pool())
        .await
        .unwrap();
    for (publisher, expected) in [
        ("example news", vec![3, 1]),
        ("OTHER WIRE", vec![2]),
        ("nobody", vec![]),
    ] {
        let filter = ArticleFilter {
            publisher: Some(publisher.into()),
            ..Default::default()
        };
        for small_search in [1, 1_000] {
            let plans = Plans {
                small_search,
                ..PLANS
            };
            let mut found = search_pages(&store, "chips", &filter, plans).await;
            found.sort_unstable_by(|a, b| b.cmp(a));
            assert_eq!(
                found, expected,
                "search {publisher}, small set {small_search}"
            );
        }
        let listed = list_pages(&store, &filter, PLANS).await;
        assert_eq!(listed, expected, "listing {publisher}");
    }
}
