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
async fn keyset_pages_cover_every_article_once_newest_first() {
    let (store, _d) = temp_store().await;
    seed(&store, 7, Utc::now()).await;
    let mut seen = Vec::new();
    let mut after: Option<SeenKey> = None;
    loop {
        let page = store
            .list_articles(&ArticleFilter::default(), after.as_ref(), 3, ItemText::Flag)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(SeenKey {
            first_seen_at: last.first_seen_at.clone(),
            id: last.id,
        });
        seen.extend(page.iter().map(|a| a.id));
    }
    assert_eq!(seen, vec![7, 6, 5, 4, 3, 2, 1]);
}

#[tokio::test]
async fn ranked_search_pages_follow_rank_then_id_within_the_snapshot() {
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
        .search_articles(&search, &filter, None, max_id, 100)
        .await
        .unwrap();
    assert_eq!(all.len(), 6);
    let first = store
        .search_articles(&search, &filter, None, max_id, 4)
        .await
        .unwrap();
    let last = first.last().unwrap();
    let key = RankKey {
        rank: last.rank.unwrap(),
        id: last.id,
        max_id,
    };
    let second = store
        .search_articles(&search, &filter, Some(&key), max_id, 4)
        .await
        .unwrap();
    let ids: Vec<i64> = first.iter().chain(&second).map(|a| a.id).collect();
    assert_eq!(ids, all.iter().map(|a| a.id).collect::<Vec<_>>());
}

#[tokio::test]
async fn filters_narrow_listings_and_metrics_count_what_is_stored() {
    let (store, _d) = temp_store().await;
    let feed = seed(&store, 3, Utc::now()).await;
    let f = ArticleFilter {
        feed_id: Some(feed),
        publisher: Some("example news".into()),
        has_text: Some(false),
        ..Default::default()
    };
    assert_eq!(
        store
            .list_articles(&f, None, 10, ItemText::Flag)
            .await
            .unwrap()
            .len(),
        3
    );
    let f = ArticleFilter {
        has_text: Some(true),
        ..Default::default()
    };
    assert!(store
        .list_articles(&f, None, 10, ItemText::Flag)
        .await
        .unwrap()
        .is_empty());
    let m = store.api_metrics().await.unwrap();
    assert_eq!(m.articles, 3);
    assert_eq!(m.feeds_by_status, vec![("ok".to_owned(), 1)]);
    let d = store.article_detail(1).await.unwrap().unwrap();
    assert_eq!(d.feeds.len(), 1);
    assert!(store.article_detail(99).await.unwrap().is_none());
}

#[tokio::test]
async fn the_lang_filter_matches_a_language_tag_and_its_subtags_whatever_the_case() {
    let (store, _d) = temp_store().await;
    seed(&store, 3, Utc::now()).await;
    let by_lang = |l: &str| ArticleFilter {
        lang: Some(l.into()),
        ..Default::default()
    };
    for (id, lang) in [(1, "en-US"), (2, "de")] {
        sqlx::query("UPDATE articles SET lang = ? WHERE id = ?")
            .bind(lang)
            .bind(id)
            .execute(store.pool())
            .await
            .unwrap();
    }
    for (lang, expected) in [
        ("en", vec![1]),
        ("EN-us", vec![1]),
        ("de", vec![2]),
        ("fr", vec![]),
    ] {
        let found = store
            .list_articles(&by_lang(lang), None, 10, ItemText::Flag)
            .await
            .unwrap();
        let ids: Vec<i64> = found.iter().map(|a| a.id).collect();
        assert_eq!(ids, expected, "lang={lang}");
    }
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
async fn pages_say_whether_an_article_has_text_and_only_feeds_out_read_it() {
    let (store, _d) = temp_store().await;
    seed(&store, 3, Utc::now()).await;
    sqlx::query("UPDATE articles SET text = 'The full story about chips.' WHERE id = 2")
        .execute(store.pool())
        .await
        .unwrap();
    store.index_pending().await.unwrap();
    let filter = ArticleFilter::default();
    for text in [ItemText::Flag, ItemText::Full] {
        let search = ArticleSearch {
            text: "chips".into(),
            order: SearchOrder::Newest,
            item_text: text,
        };
        let listed = store.list_articles(&filter, None, 10, text).await.unwrap();
        let found = store
            .search_articles(&search, &filter, None, i64::MAX, 10)
            .await
            .unwrap();
        for items in [listed, found] {
            let ids: Vec<i64> = items.iter().map(|a| a.id).collect();
            assert_eq!(ids, vec![3, 2, 1], "{text:?}");
            let flags: Vec<bool> = items.iter().map(|a| a.has_text).collect();
            assert_eq!(flags, vec![false, true, false], "{text:?}");
            let full = items[1].text.as_deref();
            match text {
                ItemText::Flag => assert_eq!(full, None),
                ItemText::Full => assert_eq!(full, Some("The full story about chips.")),
            }
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

/// One feed of four articles: Chinese, English, quotes and parentheses, Japanese.
async fn seed_scripts(store: &Store) -> i64 {
    let (f, _) = store
        .add_feed(
            &NewFeed {
                url: "https://f.example/rss".into(),
                name: None,
                interval_secs: None,
            },
            "cli",
            Utc::now(),
        )
        .await
        .unwrap();
    let now = Utc::now();
    let mk = |k: &str, title: &str, summary: &str| NewEntry {
        entry_key: EntryKey::from_stored(k.into()),
        url: Some(format!("https://n.example/{k}")),
        url_key: Some(CanonicalUrl::from_stored(format!("n.example/{k}"))),
        title: Some(title.into()),
        summary: Some(summary.into()),
        ..Default::default()
    };
    let entries = [
        mk("1", "清华大学发布新的研究成果", "中国的大学"),
        mk(
            "2",
            "Semiconductor output rises",
            "TSMC reports record quarter",
        ),
        mk("3", "Weather today", "Rain in \"Paris\" (and more)"),
        mk("4", "東京の天気", "雨"),
    ];
    let u = FeedUpdate {
        last_status: FeedStatus::Ok,
        next_poll_at: now,
        polled_at: now,
        fetch_url: "https://f.example/rss".into(),
        ..Default::default()
    };
    store
        .record_poll(f.id, &entries[..], now, u.clone())
        .await
        .unwrap();
    store.index_pending().await.unwrap();
    f.id
}

fn q(text: &str) -> SearchQuery {
    SearchQuery {
        text: text.into(),
        limit: 10,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_cjk_word_inside_a_title_is_found() {
    let (store, _d) = temp_store().await;
    seed_scripts(&store).await;
    let hits = store.search(&q("清华大学")).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert!(hits[0].title.as_deref().unwrap().contains("清华大学"));
    assert!(hits[0].snippet.as_deref().unwrap().contains('['));
}

#[tokio::test]
async fn two_character_cjk_queries_fall_back_to_a_scan() {
    let (store, _d) = temp_store().await;
    seed_scripts(&store).await;
    let hits = store.search(&q("天気")).await.unwrap();
    assert_eq!(hits.len(), 1);
    let hits = store.search(&q("大学 研究成果")).await.unwrap();
    assert_eq!(hits.len(), 1);
}

#[tokio::test]
async fn plain_words_rank_and_stray_quotes_never_error() {
    let (store, _d) = temp_store().await;
    let feed = seed_scripts(&store).await;
    let hits = store.search(&q("tsmc")).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].id, 2);
    assert_eq!(store.search(&q("\"Paris")).await.unwrap().len(), 1);
    assert_eq!(store.search(&q("AND OR NOT (")).await.unwrap().len(), 0);
    let mut fq = q("tsmc");
    fq.feed_id = Some(feed + 1);
    assert!(store.search(&fq).await.unwrap().is_empty());
}

#[tokio::test]
async fn fts_syntax_passes_through_and_bad_syntax_is_a_clear_error() {
    let (store, _d) = temp_store().await;
    seed_scripts(&store).await;
    let mut fq = q("");
    fq.text = SearchText::Fts5("semicond* OR weather".into());
    assert_eq!(store.search(&fq).await.unwrap().len(), 2);
    fq.text = SearchText::Fts5("\"unbalanced".into());
    let err = store.search(&fq).await.unwrap_err();
    assert!(matches!(err, StoreError::SearchSyntax { .. }), "{err}");
}
