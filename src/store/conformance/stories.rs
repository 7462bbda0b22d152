//! Story clustering and listings, on every engine. Rows the ingest path
//! would write are written here with portable SQL (bind-less, literals
//! quoted by [`lit`]), so the clustering is tested on its own.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};

use crate::cluster;
use crate::store::testing::scalar_i64;
use crate::store::time::ts;
use crate::store::{NewFeed, Store};
use crate::store_test;

/// Articles clustered per batch (the engines' `window::BATCH`).
const BATCH: i64 = crate::store::stories::window::BATCH;

/// A SQL string literal.
pub(super) fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Runs one bind-less writing statement on either engine.
pub(super) async fn exec(store: &Store, sql: &str) {
    match store.pg_pool() {
        Some(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
        None => sqlx::query(sql)
            .execute(&store.sqlite().writer)
            .await
            .map(|_| ()),
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn feed(store: &Store) -> i64 {
    store
        .add_feed(
            &NewFeed {
                url: "https://news.example/rss".into(),
                name: None,
                interval_secs: None,
            },
            "cli",
            Utc::now(),
        )
        .await
        .unwrap()
        .0
        .id
}

/// An article as a feed entry whose `<link>` is `link`.
async fn article(
    store: &Store,
    feed: i64,
    key: &str,
    title: &str,
    link: &str,
    at: DateTime<Utc>,
) -> i64 {
    let at = lit(&ts(at));
    let id = scalar_i64(
        store,
        &format!(
            "INSERT INTO articles (url_key, title, first_seen_at, updated_at) \
             VALUES ({}, {}, {at}, {at}) RETURNING id",
            lit(key),
            lit(title)
        ),
    )
    .await;
    exec(
        store,
        &format!(
            "INSERT INTO feed_items (feed_id, entry_key, article_id, link, first_seen_at, last_seen_at) \
             VALUES ({feed}, {}, {id}, {}, {at}, {at})",
            lit(key),
            lit(link)
        ),
    )
    .await;
    id
}

async fn story_of(store: &Store, id: i64) -> i64 {
    scalar_i64(
        store,
        &format!("SELECT story_id FROM articles WHERE id = {id}"),
    )
    .await
}

/// A Google link of `article`; SQLite also keeps the id's hash.
async fn google_link(store: &Store, article: i64, google_id: &str, at: DateTime<Utc>) {
    let (hash_col, hash) = if store.pg_pool().is_some() {
        (String::new(), String::new())
    } else {
        (
            ", id_hash".to_string(),
            format!(", {}", crate::store::sqlite::keys::key_hash(google_id)),
        )
    };
    let at = lit(&ts(at));
    exec(
        store,
        &format!(
            "INSERT INTO google_links (google_id, article_id, hl, gl, ceid, status, \
             next_try_at, first_seen_at{hash_col}) \
             VALUES ({}, {article}, 'en-US', 'US', 'US:en', 'pending', {at}, {at}{hash})",
            lit(google_id)
        ),
    )
    .await;
}

/// A related-coverage hint of `holder` pointing at `google_id`.
async fn story_hint(store: &Store, holder: i64, google_id: &str) {
    let (hash_col, hash) = if store.pg_pool().is_some() {
        (String::new(), String::new())
    } else {
        (
            ", google_hash".to_string(),
            format!(", {}", crate::store::sqlite::keys::key_hash(google_id)),
        )
    };
    exec(
        store,
        &format!(
            "INSERT INTO story_hints (article_id, url, google_id{hash_col}) \
             VALUES ({holder}, {}, {}{hash})",
            lit(&format!("https://news.google.com/rss/articles/{google_id}")),
            lit(google_id)
        ),
    )
    .await;
}

store_test!(
    async fn google_related_coverage_joins_articles_with_unlike_titles_in_both_directions(store) {
        let f = feed(&store).await;
        let now = Utc::now();
        let a = article(
            &store,
            f,
            "a",
            "Rates held steady as inflation cools",
            "https://news.google.com/rss/articles/A",
            now,
        )
        .await;
        let b = article(
            &store,
            f,
            "b",
            "Central bank pauses again, citing softer prices",
            "https://news.google.com/rss/articles/B",
            now,
        )
        .await;
        let c = article(
            &store,
            f,
            "c",
            "Why the pause matters for your mortgage payments",
            "https://news.google.com/rss/articles/C",
            now,
        )
        .await;
        let other = article(
            &store,
            f,
            "d",
            "Storm closes schools across the northern coast",
            "https://news.google.com/rss/articles/D",
            now,
        )
        .await;
        for (id, google_id) in [(a, "A"), (b, "B"), (c, "C"), (other, "D")] {
            google_link(&store, id, google_id, now).await;
        }
        // a lists b; c is listed by b (the hint points backwards).
        for (holder, google_id) in [(a, "B"), (b, "C")] {
            story_hint(&store, holder, google_id).await;
        }
        let report = store
            .cluster_pending(now, cluster::default_window())
            .await
            .unwrap();
        assert_eq!(report.examined, 4);
        let s = story_of(&store, a).await;
        assert_eq!(story_of(&store, b).await, s);
        assert_eq!(story_of(&store, c).await, s);
        assert_ne!(story_of(&store, other).await, s);
        let story = store.story(s).await.unwrap().unwrap();
        assert_eq!(story.size, 3);
        assert_eq!(
            story.title.as_deref(),
            Some("Rates held steady as inflation cools")
        );
        let listed = store.list_stories(None, 10).await.unwrap();
        assert_eq!(listed.len(), 2);
        // Nothing is left to do on the next round.
        assert_eq!(
            store
                .cluster_pending(now, cluster::default_window())
                .await
                .unwrap()
                .examined,
            0
        );
    }
);

store_test!(
    async fn the_same_headline_outside_the_window_starts_a_new_story(store) {
        let f = feed(&store).await;
        let now = Utc::now();
        let title = "Council approves new transport budget for next year";
        let a = article(
            &store,
            f,
            "a",
            title,
            "https://x.example/a",
            now - Duration::days(10),
        )
        .await;
        let b = article(&store, f, "b", title, "https://y.example/b", now).await;
        let c = article(
            &store,
            f,
            "c",
            &format!("{title} - Metro News"),
            "https://z.example/c",
            now,
        )
        .await;
        store
            .cluster_pending(now, cluster::default_window())
            .await
            .unwrap();
        assert_ne!(story_of(&store, a).await, story_of(&store, b).await);
        assert_eq!(story_of(&store, b).await, story_of(&store, c).await);
    }
);

store_test!(
    async fn a_deleted_article_leaves_its_story_and_an_empty_story_is_not_listed(store) {
        let f = feed(&store).await;
        let a = article(
            &store,
            f,
            "a",
            "Lonely headline with enough words",
            "https://x.example/a",
            Utc::now(),
        )
        .await;
        store
            .cluster_pending(Utc::now(), cluster::default_window())
            .await
            .unwrap();
        let s = story_of(&store, a).await;
        exec(&store, &format!("DELETE FROM articles WHERE id = {a}")).await;
        assert!(store.story(s).await.unwrap().is_none());
        assert!(store.list_stories(None, 10).await.unwrap().is_empty());
    }
);
store_test!(
    async fn an_article_bridging_two_stories_joins_one_and_never_merges_them(store) {
        let f = feed(&store).await;
        let now = Utc::now();
        let a = article(
            &store,
            f,
            "a",
            "Pneumonic plague cases confirmed at Inner Mongolia hospital",
            "https://a.example/1",
            now,
        )
        .await;
        let b = article(
            &store,
            f,
            "b",
            "Coastal provinces report record turnout in regional elections",
            "https://b.example/1",
            now,
        )
        .await;
        store
            .cluster_pending(now, cluster::default_window())
            .await
            .unwrap();
        let (sa, sb) = (story_of(&store, a).await, story_of(&store, b).await);
        assert_ne!(sa, sb);
        let c = article(
            &store,
            f,
            "c",
            "Inner Mongolia plague hospital; coastal provinces record turnout",
            "https://c.example/1",
            now,
        )
        .await;
        store
            .cluster_pending(now, cluster::default_window())
            .await
            .unwrap();
        let sc = story_of(&store, c).await;
        assert!(sc == sa || sc == sb, "joins one of them");
        // Stories are never merged: a wrong bridge would fuse two whole
        // stories and retire a story id clients may hold (see docs/schema.md).
        assert_eq!(story_of(&store, a).await, sa);
        assert_eq!(story_of(&store, b).await, sb);
    }
);

/// An article as the reference below sees the database.
#[derive(Clone)]
struct RefArticle {
    id: i64,
    title: String,
    text: Option<String>,
    first_seen: DateTime<Utc>,
    story: Option<i64>,
    title_hash: Option<u64>,
    text_hash: Option<u64>,
    due: Option<i64>,
}

type RefCandidate = (i64, i64, DateTime<Utc>, Vec<String>, Option<u64>);

/// The clustering as it was before the indexes: every due article scans
/// every candidate of its batch's window, with weights from a fresh
/// `TitleIdf` per batch. The oracle the indexed store must agree with.
fn reference_cluster(arts: &mut [RefArticle], sizes: &mut HashMap<i64, i64>) {
    let window = Duration::hours(cluster::WINDOW_HOURS);
    let near = |a: DateTime<Utc>, b: DateTime<Utc>| (a - b).abs() <= window;
    loop {
        let due: Vec<usize> = (0..arts.len())
            .filter(|i| arts[*i].due.is_some())
            .take(BATCH as usize)
            .collect();
        let (Some(lo), Some(hi)) = (
            due.iter().map(|i| arts[*i].first_seen).min(),
            due.iter().map(|i| arts[*i].first_seen).max(),
        ) else {
            return;
        };
        let (lo, hi) = (lo - window, hi + window);
        let mut cands: Vec<RefCandidate> = arts
            .iter()
            .filter(|a| a.first_seen >= lo && a.first_seen <= hi)
            .filter(|a| a.title_hash.is_some() || a.text_hash.is_some())
            .filter_map(|a| {
                let terms = cluster::title_terms(&a.title);
                Some((a.id, a.story?, a.first_seen, terms, a.text_hash))
            })
            .collect();
        let mut idf = cluster::TitleIdf::default();
        for c in &cands {
            idf.add(&c.3);
        }
        for i in &due {
            if arts[*i].story.is_none() {
                idf.add(&cluster::title_terms(&arts[*i].title));
            }
        }
        let mut touched = BTreeSet::new();
        for i in due {
            let a = arts[i].clone();
            let terms = cluster::title_terms(&a.title);
            let title = cluster::title_simhash(&a.title);
            let text = a.text.as_deref().and_then(cluster::text_simhash);
            let by_text = text.and_then(|h| {
                cands
                    .iter()
                    .filter(|c| c.0 != a.id && near(c.2, a.first_seen))
                    .filter_map(|c| {
                        c.4.filter(|o| cluster::same_text(h, *o))
                            .map(|o| (cluster::distance(h, o), c.0, c.1))
                    })
                    .min_by_key(|(d, id, _)| (*d, *id))
                    .map(|c| c.2)
            });
            let target = match a.story {
                Some(current) if a.due == Some(2) => {
                    let alone = sizes.get(&current).copied().unwrap_or(0);
                    by_text.filter(|s| *s != current && alone <= 1)
                }
                _ => by_text.or_else(|| {
                    if terms.len() < cluster::MIN_TITLE_TERMS {
                        return None;
                    }
                    cands
                        .iter()
                        .filter(|c| c.0 != a.id && near(c.2, a.first_seen))
                        .filter_map(|c| {
                            cluster::title_similarity(&terms, &c.3, &idf).map(|s| (s, c))
                        })
                        .max_by(|(s1, c1), (s2, c2)| s1.total_cmp(s2).then(c2.0.cmp(&c1.0)))
                        .map(|(_, c)| c.1)
                }),
            };
            let story = target.or(a.story).unwrap_or_else(|| {
                let id = sizes.len() as i64 + 1;
                sizes.insert(id, 0);
                id
            });
            touched.extend(a.story);
            touched.insert(story);
            let me = &mut arts[i];
            (me.story, me.title_hash, me.text_hash, me.due) = (Some(story), title, text, None);
            cands.retain(|c| c.0 != a.id);
            if title.is_some() || text.is_some() {
                cands.push((a.id, story, a.first_seen, terms, text));
            }
        }
        for s in touched {
            let size = arts.iter().filter(|a| a.story == Some(s)).count() as i64;
            sizes.insert(s, size);
        }
    }
}

/// Stores the articles (in order, so ids follow it) as not clustered yet.
async fn insert_all(store: &Store, arts: &mut [RefArticle], keys_from: usize) {
    for (k, a) in arts.iter_mut().enumerate() {
        let at = lit(&ts(a.first_seen));
        let text = a.text.as_deref().map(lit).unwrap_or_else(|| "NULL".into());
        a.id = scalar_i64(
            store,
            &format!(
                "INSERT INTO articles (url_key, title, text, first_seen_at, updated_at) \
                 VALUES ({}, {}, {text}, {at}, {at}) RETURNING id",
                lit(&format!("https://x.example/{}", keys_from + k)),
                lit(&a.title)
            ),
        )
        .await;
    }
}

store_test!(
    async fn indexed_lookups_pick_the_same_stories_as_scanning_the_whole_window(store) {
        let now = Utc::now();
        let mut state = 3u64;
        let mut rand = move |m: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % m
        };
        // Events with a few rare words each (some shared between events) and
        // a base text; an article takes some of its event's words and a few
        // common ones, and two thirds of them a lightly or heavily edited
        // copy of the event's text. First seen over ten days, in roughly id order.
        let events: Vec<(Vec<String>, Vec<String>)> = (0..150)
            .map(|_| {
                let words = (0..6).map(|_| format!("rare{}", rand(700))).collect();
                let text = (0..60).map(|_| format!("t{}", rand(5000))).collect();
                (words, text)
            })
            .collect();
        let total = 1_800;
        let mut arts: Vec<RefArticle> = (0..total)
            .map(|i| {
                let (words, text) = &events[rand(events.len() as u64) as usize];
                let mut title: Vec<String> = words.iter().filter(|_| rand(4) != 0).cloned().collect();
                for _ in 0..rand(4) {
                    title.push(format!("common{}", rand(12)));
                }
                if rand(5) == 0 {
                    title.truncate(2);
                }
                let text = (rand(3) != 0).then(|| {
                    let mut t = text.clone();
                    for _ in 0..rand(8) {
                        let at = rand(t.len() as u64) as usize;
                        t[at] = format!("t{}", rand(5000));
                    }
                    t.join(" ")
                });
                let hours = (i * 240 / total) as i64 + rand(12) as i64;
                RefArticle {
                    id: 0,
                    title: title.join(" "),
                    text,
                    first_seen: now - Duration::hours(250 - hours),
                    story: None,
                    title_hash: None,
                    text_hash: None,
                    due: Some(1),
                }
            })
            .collect();
        // A straggler first seen long before its neighbours: its batch
        // reaches back in time.
        arts[1_500].first_seen = now - Duration::hours(245);
        let mut later = arts.split_off(1_100);
        let mut sizes = HashMap::new();
        // Two calls, each over what had arrived by then...
        insert_all(&store, &mut arts, 0).await;
        reference_cluster(&mut arts, &mut sizes);
        store
            .cluster_pending(now, cluster::default_window())
            .await
            .unwrap();
        insert_all(&store, &mut later, arts.len()).await;
        arts.append(&mut later);
        reference_cluster(&mut arts, &mut sizes);
        store
            .cluster_pending(now, cluster::default_window())
            .await
            .unwrap();
        // ...then full texts arriving for articles clustered without one
        // (an event's text: some match articles of that event, if near).
        for (i, a) in arts
            .iter_mut()
            .enumerate()
            .filter(|(_, a)| a.text.is_none())
        {
            let text = events[i % events.len()].1.join(" ");
            exec(
                &store,
                &format!("UPDATE articles SET text = {} WHERE id = {}", lit(&text), a.id),
            )
            .await;
            (a.text, a.due) = (Some(text), Some(2));
        }
        reference_cluster(&mut arts, &mut sizes);
        store
            .cluster_pending(now, cluster::default_window())
            .await
            .unwrap();
        let mut joined = 0;
        for a in &arts {
            assert_eq!(
                Some(story_of(&store, a.id).await),
                a.story,
                "article {}",
                a.id
            );
            joined += usize::from(sizes.get(&a.story.unwrap_or(0)).is_some_and(|s| *s > 1));
        }
        // The data must exercise both rules, or the comparison says little.
        assert!(joined > 500, "only {joined} articles share a story");
    }
);
