//! Conformance: the query role on every engine.
//!
//! The tests first in this file write their rows with portable SQL
//! ([`Rows`]), so they check listing and search on their own; the ones
//! after them store articles through the ingest API, as the archive does.

use chrono::{DateTime, Utc};

use crate::domain::{CanonicalUrl, EntryKey};
use crate::store::time::ts;
use crate::store::{
    ArticleFilter, ArticleSearch, EngineKind, FeedStatus, FeedUpdate, ItemText, NewEntry, NewFeed,
    RankKey, SearchOrder, SearchQuery, SearchText, SeenKey, Store, StoreError,
};
use crate::store_test;

/// Runs bind-less SQL on either engine (test data written directly).
pub(super) async fn exec(store: &Store, sql: &str) {
    match store.pg_pool() {
        Some(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
        None => sqlx::query(sql).execute(store.pool()).await.map(|_| ()),
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// `s` as an SQL string literal (both engines quote alike).
fn lit(s: Option<&str>) -> String {
    s.map_or("NULL".into(), |s| format!("'{}'", s.replace('\'', "''")))
}

/// Articles written with portable SQL, in one feed (id 1).
pub(super) struct Rows<'s> {
    store: &'s Store,
    next: i64,
}

/// An article as [`Rows::add`] writes it.
#[derive(Default, Clone)]
pub(super) struct Row<'a> {
    pub title: Option<&'a str>,
    pub summary: Option<&'a str>,
    pub text: Option<&'a str>,
    pub publisher: Option<&'a str>,
    pub lang: Option<&'a str>,
    /// First seen this many minutes after 2026-01-01T00:00:00Z.
    pub minute: i64,
}

impl<'s> Rows<'s> {
    pub(super) async fn new(store: &'s Store) -> Rows<'s> {
        exec(
            store,
            "INSERT INTO feeds (id, url, fetch_url, origin, next_poll_at, created_at, updated_at) \
             VALUES (1, 'https://f.example/rss', 'https://f.example/rss', 'cli', \
             '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
        )
        .await;
        Rows { store, next: 1 }
    }

    /// Stores `row` as the next article (ids 1, 2, …) and its feed item.
    pub(super) async fn add(&mut self, row: Row<'_>) -> i64 {
        let id = self.next;
        self.next += 1;
        let seen = ts(start() + chrono::Duration::minutes(row.minute));
        exec(
            self.store,
            &format!(
                "INSERT INTO articles (id, url, url_key, title, summary, text, publisher, lang, \
                 first_seen_at, updated_at) VALUES ({id}, 'https://n.example/{id}', \
                 'n.example/{id}', {}, {}, {}, {}, {}, '{seen}', '{seen}')",
                lit(row.title),
                lit(row.summary),
                lit(row.text),
                lit(row.publisher),
                lit(row.lang),
            ),
        )
        .await;
        exec(
            self.store,
            &format!(
                "INSERT INTO feed_items (feed_id, entry_key, article_id, link, first_seen_at, \
                 last_seen_at) VALUES (1, 'e{id}', {id}, 'https://n.example/{id}', '{seen}', '{seen}')"
            ),
        )
        .await;
        self.store.index_pending().await.unwrap();
        id
    }
}

pub(super) fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn ranked(text: &str) -> ArticleSearch {
    ArticleSearch {
        text: text.into(),
        order: SearchOrder::Rank,
        item_text: ItemText::Flag,
    }
}

/// Every page of a ranked search, `size` at a time, in order.
async fn search_pages(store: &Store, text: &str, filter: &ArticleFilter, size: i64) -> Vec<i64> {
    let search = ranked(text);
    let max_id = store.max_article_id().await.unwrap();
    let mut ids = Vec::new();
    let mut after: Option<RankKey> = None;
    loop {
        let page = store
            .search_articles(&search, filter, after.as_ref(), max_id, size)
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

/// Every page of a listing, `size` at a time, in order.
async fn list_pages(store: &Store, filter: &ArticleFilter, size: i64) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut after: Option<SeenKey> = None;
    loop {
        let page = store
            .list_articles(filter, after.as_ref(), size, ItemText::Flag)
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

fn q(text: &str) -> SearchQuery {
    SearchQuery {
        text: text.into(),
        limit: 10,
        ..Default::default()
    }
}

/// Chinese, English, quotes and parentheses, Japanese.
async fn script_rows(store: &Store) {
    let mut rows = Rows::new(store).await;
    for (title, summary) in [
        ("清华大学发布新的研究成果", "中国的大学"),
        ("Semiconductor output rises", "TSMC reports record quarter"),
        ("Weather today", "Rain in \"Paris\" (and more)"),
        ("東京の天気", "雨"),
    ] {
        rows.add(Row {
            title: Some(title),
            summary: Some(summary),
            ..Default::default()
        })
        .await;
    }
}

store_test!(
    async fn unspaced_words_long_and_short_are_found_with_a_marked_snippet(store) {
        script_rows(&store).await;
        let hits = store.search(&q("清华大学")).await.unwrap();
        assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![1]);
        let snippet = hits[0].snippet.as_deref().unwrap();
        assert!(snippet.contains('[') && snippet.contains(']'), "{snippet}");
        let hits = store.search(&q("天気")).await.unwrap();
        assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![4]);
        let hits = store.search(&q("大学 研究成果")).await.unwrap();
        assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![1]);
        assert!(store.search(&q("TSMC 半導体")).await.unwrap().is_empty());
        assert!(store.search(&q("北京大学")).await.unwrap().is_empty());
    }
);

store_test!(
    async fn plain_words_match_whole_words_whatever_quotes_and_operators_they_hold(store) {
        script_rows(&store).await;
        let hits = store.search(&q("tsmc")).await.unwrap();
        assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![2]);
        let snippet = hits[0].snippet.as_deref().unwrap();
        assert!(snippet.contains("[TSMC]"), "{snippet}");
        assert_eq!(store.search(&q("\"Paris")).await.unwrap().len(), 1);
        assert_eq!(store.search(&q("rain paris")).await.unwrap().len(), 1);
        assert_eq!(store.search(&q("rain tsmc")).await.unwrap().len(), 0);
        assert_eq!(store.search(&q("AND OR NOT (")).await.unwrap().len(), 0);
        assert_eq!(store.search(&q("semicond")).await.unwrap().len(), 0);
        let err = store.search(&q("  ")).await.unwrap_err();
        assert!(matches!(err, StoreError::EmptySearch), "{err}");
    }
);

store_test!(
    async fn raw_syntax_is_the_engines_own_and_bad_syntax_is_a_search_syntax_error(store) {
        script_rows(&store).await;
        let (good, bad) = match store.engine() {
            EngineKind::Sqlite => ("semicond* OR weather", "\"unbalanced"),
            EngineKind::Postgres => ("semicond:* | weather", "(unbalanced"),
        };
        let mut fq = q("");
        fq.text = SearchText::Fts5(good.into());
        let mut ids: Vec<i64> = store
            .search(&fq)
            .await
            .unwrap()
            .iter()
            .map(|h| h.id)
            .collect();
        ids.sort_unstable();
        assert_eq!(ids, vec![2, 3]);
        fq.text = SearchText::Fts5(bad.into());
        let err = store.search(&fq).await.unwrap_err();
        assert!(matches!(err, StoreError::SearchSyntax { .. }), "{err}");
        assert!(err.to_string().contains("full-text query"), "{err}");
    }
);

store_test!(
    async fn a_title_match_outranks_a_summary_match_which_outranks_a_text_match(store) {
        let mut rows = Rows::new(&store).await;
        let text = rows
            .add(Row {
                title: Some("Markets"),
                text: Some("A long story that mentions chips once."),
                ..Default::default()
            })
            .await;
        let title = rows
            .add(Row {
                title: Some("Chips shortage"),
                ..Default::default()
            })
            .await;
        let summary = rows
            .add(Row {
                title: Some("Industry"),
                summary: Some("Chips again"),
                ..Default::default()
            })
            .await;
        let found = search_pages(&store, "chips", &ArticleFilter::default(), 10).await;
        assert_eq!(found, vec![title, summary, text]);
        let page = store
            .search_articles(
                &ranked("chips"),
                &ArticleFilter::default(),
                None,
                i64::MAX,
                10,
            )
            .await
            .unwrap();
        let ranks: Vec<f64> = page.iter().map(|a| a.rank.unwrap()).collect();
        assert!(
            ranks.windows(2).all(|w| w[0] <= w[1]),
            "lower is better: {ranks:?}"
        );
    }
);

store_test!(
    async fn ranked_pages_cover_every_match_once_within_the_snapshot(store) {
        let mut rows = Rows::new(&store).await;
        for i in 0..7 {
            let summary = if i % 2 == 0 { "chips chips" } else { "chips" };
            rows.add(Row {
                title: Some("Story about chips"),
                summary: Some(summary),
                minute: i,
                ..Default::default()
            })
            .await;
        }
        let all = search_pages(&store, "chips", &ArticleFilter::default(), 100).await;
        assert_eq!(all.len(), 7);
        for size in [1, 2, 3] {
            assert_eq!(
                search_pages(&store, "chips", &ArticleFilter::default(), size).await,
                all,
                "pages of {size}"
            );
        }
        // Articles arriving after the first page stay out of later pages.
        let max_id = store.max_article_id().await.unwrap();
        let first = store
            .search_articles(&ranked("chips"), &ArticleFilter::default(), None, max_id, 3)
            .await
            .unwrap();
        rows.add(Row {
            title: Some("Chips chips chips"),
            minute: 100,
            ..Default::default()
        })
        .await;
        let last = first.last().unwrap();
        let key = RankKey {
            rank: last.rank.unwrap(),
            id: last.id,
            max_id,
        };
        let rest = store
            .search_articles(
                &ranked("chips"),
                &ArticleFilter::default(),
                Some(&key),
                max_id,
                100,
            )
            .await
            .unwrap();
        let ids: Vec<i64> = first.iter().chain(&rest).map(|a| a.id).collect();
        assert_eq!(ids, all);
        let newest = ArticleSearch {
            order: SearchOrder::Newest,
            ..ranked("chips")
        };
        let ids: Vec<i64> = store
            .search_articles(&newest, &ArticleFilter::default(), None, i64::MAX, 3)
            .await
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(ids, vec![8, 7, 6]);
    }
);

store_test!(
    async fn filters_narrow_listings_and_searches_alike(store) {
        let mut rows = Rows::new(&store).await;
        let base = Row {
            title: Some("Chips"),
            ..Default::default()
        };
        for (minute, publisher, lang, text) in [
            (0, "Example News", "en-US", None),
            (10, "Other Wire", "de", Some("Volltext über chips")),
            (20, "example news", "EN", None),
            (30, "Example News", "fr", Some("texte")),
        ] {
            rows.add(Row {
                publisher: Some(publisher),
                lang: Some(lang),
                text,
                minute,
                ..base.clone()
            })
            .await;
        }
        let checks = [
            (ArticleFilter::default(), vec![4, 3, 2, 1]),
            (
                ArticleFilter {
                    publisher: Some("EXAMPLE NEWS".into()),
                    ..Default::default()
                },
                vec![4, 3, 1],
            ),
            (
                ArticleFilter {
                    lang: Some("en".into()),
                    ..Default::default()
                },
                vec![3, 1],
            ),
            (
                ArticleFilter {
                    lang: Some("en-us".into()),
                    ..Default::default()
                },
                vec![1],
            ),
            (
                ArticleFilter {
                    since: Some(start() + chrono::Duration::minutes(10)),
                    until: Some(start() + chrono::Duration::minutes(30)),
                    ..Default::default()
                },
                vec![3, 2],
            ),
            (
                ArticleFilter {
                    has_text: Some(true),
                    ..Default::default()
                },
                vec![4, 2],
            ),
            (
                ArticleFilter {
                    has_text: Some(false),
                    feed_id: Some(1),
                    ..Default::default()
                },
                vec![3, 1],
            ),
            (
                ArticleFilter {
                    feed_id: Some(2),
                    ..Default::default()
                },
                vec![],
            ),
        ];
        for (filter, expected) in checks {
            assert_eq!(
                list_pages(&store, &filter, 1).await,
                expected,
                "{filter:?}"
            );
            let mut found = search_pages(&store, "chips", &filter, 1).await;
            found.sort_unstable_by(|a, b| b.cmp(a));
            assert_eq!(found, expected, "search {filter:?}");
        }
        let listed = store
            .list_articles(&ArticleFilter::default(), None, 10, ItemText::Full)
            .await
            .unwrap();
        assert_eq!(listed[2].text.as_deref(), Some("Volltext über chips"));
        assert!(listed[2].has_text && !listed[1].has_text);
        assert_eq!(listed[0].feed_ids, vec![1]);
    }
);

store_test!(
    async fn a_word_deep_in_a_long_text_is_found_and_on_postgres_ranks_below_one_in_the_lead(store) {
        let mut rows = Rows::new(&store).await;
        let filler = "harbour cranes unload containers at dawn ".repeat(100);
        let deep = format!("{filler} then the zeppelin landed");
        let lead = format!("A zeppelin landed today. {filler}");
        // The deep one is newer: a tie would put it first.
        let lead_id = rows
            .add(Row {
                title: Some("Port news"),
                text: Some(&lead),
                ..Default::default()
            })
            .await;
        let deep_id = rows
            .add(Row {
                title: Some("Port news"),
                text: Some(&deep),
                minute: 1,
                ..Default::default()
            })
            .await;
        let found = search_pages(&store, "zeppelin", &ArticleFilter::default(), 1).await;
        match store.engine() {
            // bm25 does not weigh where in a text a word is: a tie, newest first.
            EngineKind::Sqlite => assert_eq!(found, vec![deep_id, lead_id]),
            // Ranked by the lead (migrations/postgres/0001).
            EngineKind::Postgres => assert_eq!(found, vec![lead_id, deep_id]),
        }
    }
);

store_test!(
    async fn a_searchs_time_window_follows_an_articles_first_sighting_when_a_merge_moves_it(store) {
        let mut rows = Rows::new(&store).await;
        for (minute, publisher) in [(0, "Wire"), (60, "Wire"), (120, "Post")] {
            rows.add(Row {
                title: Some("Harbour strike"),
                publisher: Some(publisher),
                minute,
                ..Default::default()
            })
            .await;
        }
        let window = |publisher: Option<&str>| ArticleFilter {
            since: Some(start() + chrono::Duration::minutes(30)),
            publisher: publisher.map(str::to_owned),
            ..Default::default()
        };
        let found = |ids: Vec<i64>| {
            let mut ids = ids;
            ids.sort_unstable();
            ids
        };
        assert_eq!(found(search_pages(&store, "strike", &window(None), 1).await), vec![2, 3]);
        // A merge keeps the earlier sighting of two articles.
        exec(
            &store,
            "UPDATE articles SET first_seen_at = '2025-12-31T00:00:00Z' WHERE id = 3",
        )
        .await;
        store.index_pending().await.unwrap();
        assert_eq!(found(search_pages(&store, "strike", &window(None), 1).await), vec![2]);
        assert_eq!(found(search_pages(&store, "strike", &window(Some("wire")), 1).await), vec![2]);
        assert!(search_pages(&store, "strike", &window(Some("post")), 1)
            .await
            .is_empty());
    }
);

store_test!(
    async fn an_articles_detail_shows_its_columns_and_feed_items_and_metrics_count_them(store) {
        let mut rows = Rows::new(&store).await;
        for minute in [0, 5, 10] {
            rows.add(Row {
                title: Some("Chips"),
                publisher: Some("Example News"),
                minute,
                ..Default::default()
            })
            .await;
        }
        let d = store.article_detail(2).await.unwrap().unwrap();
        assert_eq!(d.columns["id"], serde_json::json!(2));
        assert_eq!(d.columns["title"], serde_json::json!("Chips"));
        assert_eq!(d.columns["authors"], serde_json::json!([]));
        assert_eq!(d.columns["text"], serde_json::Value::Null);
        assert!(!d.columns.contains_key("search"));
        assert_eq!(d.feeds.len(), 1);
        assert_eq!(d.feeds[0].feed_url, "https://f.example/rss");
        assert_eq!(d.links, vec!["https://n.example/2".to_owned()]);
        assert!(store.article_detail(99).await.unwrap().is_none());
        let m = store.api_metrics().await.unwrap();
        assert_eq!((m.articles, m.feed_items), (3, 3));
        assert_eq!(m.feeds_by_status, vec![("new".to_owned(), 1)]);
        assert_eq!(m.schema_version, store.schema_version().await.unwrap());
    }
);

// Through the ingest API (`add_feed`, `record_poll`), as the archive stores them.

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

store_test!(
    async fn keyset_pages_cover_every_article_once_newest_first(store) {
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
);

store_test!(
    async fn ranked_search_pages_follow_rank_then_id_within_the_snapshot(store) {
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
);

store_test!(
    async fn filters_narrow_listings_and_metrics_count_what_is_stored(store) {
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
);

store_test!(
    async fn the_lang_filter_matches_a_language_tag_and_its_subtags_whatever_the_case(store) {
        seed(&store, 3, Utc::now()).await;
        let by_lang = |l: &str| ArticleFilter {
            lang: Some(l.into()),
            ..Default::default()
        };
        for (id, lang) in [(1, "en-US"), (2, "de")] {
            exec(
                &store,
                &format!("UPDATE articles SET lang = '{lang}' WHERE id = {id}"),
            )
            .await;
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
);

store_test!(
    async fn pages_say_whether_an_article_has_text_and_only_feeds_out_read_it(store) {
        seed(&store, 3, Utc::now()).await;
        exec(
            &store,
            "UPDATE articles SET text = 'The full story about chips.' WHERE id = 2",
        )
        .await;
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
);

store_test!(
    async fn a_cjk_word_inside_a_title_is_found(store) {
        seed_scripts(&store).await;
        let hits = store.search(&q("清华大学")).await.unwrap();
        assert_eq!(hits.len(), 1);
        assert!(hits[0].title.as_deref().unwrap().contains("清华大学"));
        assert!(hits[0].snippet.as_deref().unwrap().contains('['));
    }
);

store_test!(
    async fn two_character_cjk_queries_fall_back_to_a_scan(store) {
        seed_scripts(&store).await;
        let hits = store.search(&q("天気")).await.unwrap();
        assert_eq!(hits.len(), 1);
        let hits = store.search(&q("大学 研究成果")).await.unwrap();
        assert_eq!(hits.len(), 1);
    }
);

store_test!(
    async fn plain_words_rank_and_stray_quotes_never_error(store) {
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
);

store_test!(
    async fn fts_syntax_passes_through_and_bad_syntax_is_a_clear_error(store) {
        seed_scripts(&store).await;
        let (good, bad) = match store.engine() {
            EngineKind::Sqlite => ("semicond* OR weather", "\"unbalanced"),
            EngineKind::Postgres => ("semicond:* | weather", "(unbalanced"),
        };
        let mut fq = q("");
        fq.text = SearchText::Fts5(good.into());
        assert_eq!(store.search(&fq).await.unwrap().len(), 2);
        fq.text = SearchText::Fts5(bad.into());
        let err = store.search(&fq).await.unwrap_err();
        assert!(matches!(err, StoreError::SearchSyntax { .. }), "{err}");
    }
);
