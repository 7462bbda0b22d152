//! Rules at ingest (`[[rules]]`): block, keep and tag as feeds are polled,
//! and `newsd rules apply` over stored articles.

use chrono::Utc;
use newsd::api::{self, Access, ApiState};
use newsd::store::testing::strings;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::google_news::{token_id, FakeGoogle, GItem};
use crate::helpers::{
    engine_test, feed_server, rss, spawn_app_with_on, stdout, write_config, Item,
};

/// Feed 1: an ad, a chip story, a football story and a weather story; feed
/// 2: the weather story and a chip story of its own.
fn feeds(n: usize) -> String {
    let items: &[(&str, &str, &str)] = match n {
        1 => &[
            ("ad", "Sponsored: buy a new phone", "https://ads.example/1"),
            (
                "chip",
                "Chip plant opens in Ohio",
                "https://news.example/chip",
            ),
            ("ball", "Football results", "https://news.example/ball"),
            ("rain", "Rain expected", "https://news.example/rain"),
        ],
        _ => &[
            ("rain", "Rain expected", "https://news.example/rain"),
            ("chip2", "Another chip fab", "https://news.example/chip2"),
        ],
    };
    let items: Vec<Item<'_>> = items
        .iter()
        .map(|(guid, title, link)| Item { guid, title, link })
        .collect();
    rss(&items)
}

/// Blocks ads everywhere, keeps only chip or football news in feed 1, and
/// tags chip news.
fn rules(feed1: &str) -> String {
    format!(
        "[[rules]]\nname = \"ads\"\naction = \"block\"\ntitle = \"^sponsored\"\n\n\
         [[rules]]\naction = \"keep\"\nfeeds = [\"{feed1}\"]\ntitle = \"chip|football\"\n\n\
         [[rules]]\naction = \"tag\"\ntag = \"chips\"\nquery = \"chip\"\n"
    )
}

async fn titles(store: &newsd::store::Store) -> Vec<Option<String>> {
    strings(store, "SELECT title FROM articles ORDER BY title").await
}

engine_test! {
    async fn block_keep_and_tag_rules_decide_what_a_poll_stores(engine) {
        let server = feed_server(feeds).await;
        let t = spawn_app_with_on(engine, &[server.feed(1), server.feed(2)], &rules(&server.feed(1))).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        let store = t.app.store();
        assert_eq!(
            titles(store).await,
            ["Another chip fab", "Chip plant opens in Ohio", "Football results", "Rain expected"].map(|s| Some(s.to_owned()))
        );
        assert_eq!(
            strings(store, "SELECT a.title || ' ' || t.tag FROM article_tags t JOIN articles a ON a.id = t.article_id ORDER BY 1").await,
            ["Another chip fab chips", "Chip plant opens in Ohio chips"].map(|s| Some(s.to_owned()))
        );
        // The ad and the story no keep rule kept leave tombstones in feed 1.
        assert_eq!(
            strings(store, "SELECT key FROM tombstones WHERE kind = 'entry' ORDER BY key").await,
            ["id:ad", "id:rain"].map(|s| Some(s.to_owned()))
        );
        // Feed 2 has no keep rule: the weather story is its alone.
        assert_eq!(
            t.scalar("SELECT COUNT(*) FROM feed_items fi JOIN articles a ON a.id = fi.article_id WHERE a.title = 'Rain expected'").await,
            1
        );
        // Polled again, nothing changes.
        t.app.poll_all_once(Utc::now()).await.unwrap();
        assert_eq!(t.article_count().await, 4);
    }
}

engine_test! {
    async fn rules_apply_removes_blocked_articles_with_tombstones_and_adds_tags(engine) {
        let server = feed_server(feeds).await;
        let t = spawn_app_with_on(engine, &[server.feed(1), server.feed(2)], "").await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        assert_eq!(t.article_count().await, 5);

        // The same archive under a config with the rules.
        write_config(t.dir(), &t.archive.url, &[server.feed(1), server.feed(2)], &rules(&server.feed(1)));
        let dry = t.cli(&["rules", "apply", "--dry-run"]);
        assert!(dry.status.success(), "{dry:?}");
        let out = stdout(&dry);
        assert!(out.contains("\"Sponsored: buy a new phone\": would remove (rules[0] (\"ads\"))"), "{out}");
        assert!(out.contains("\"Rain expected\": would unlink from feed 1 (no keep rule of the feed matched)"), "{out}");
        assert!(out.contains("would change 4 of 5 articles: 1 removed, 1 unlinked from some feeds, 2 tagged"), "{out}");
        assert_eq!(t.article_count().await, 5, "a dry run writes nothing");

        let run = t.cli(&["rules", "apply", "--since", "7d"]);
        assert!(run.status.success(), "{run:?}");
        assert!(stdout(&run).contains("changed 4 of 5 articles"), "{}", stdout(&run));
        let store = t.app.store();
        assert_eq!(
            titles(store).await,
            ["Another chip fab", "Chip plant opens in Ohio", "Football results", "Rain expected"].map(|s| Some(s.to_owned()))
        );
        assert_eq!(
            t.scalar("SELECT COUNT(*) FROM feed_items fi JOIN articles a ON a.id = fi.article_id WHERE a.title = 'Rain expected'").await,
            1,
            "feed 2 still links it"
        );
        assert_eq!(t.scalar("SELECT COUNT(*) FROM article_tags WHERE tag = 'chips'").await, 2);
        // What went stays out when the feeds are polled again.
        t.app.poll_all_once(Utc::now()).await.unwrap();
        assert_eq!(t.article_count().await, 4);
        let again = t.cli(&["rules", "apply"]);
        assert!(stdout(&again).contains("changed 0 of 4 articles"), "{}", stdout(&again));
    }
}

engine_test! {
    async fn tags_are_exported_shown_in_the_api_and_filter_listings_and_searches(engine) {
        let server = feed_server(feeds).await;
        let t = spawn_app_with_on(engine, &[server.feed(1), server.feed(2)], &rules(&server.feed(1))).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        t.app.index_new_articles().await;

        let export = t.cli(&["export"]);
        assert!(export.status.success(), "{export:?}");
        let tagged: Vec<(String, Value)> = stdout(&export)
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .map(|v| (v["title"].as_str().unwrap_or_default().to_owned(), v["tags"].clone()))
            .collect();
        assert!(tagged.contains(&("Chip plant opens in Ohio".into(), serde_json::json!(["chips"]))), "{tagged:?}");
        assert!(tagged.contains(&("Football results".into(), serde_json::json!([]))), "{tagged:?}");

        let search = t.cli(&["search", "chip", "--tag", "chips", "--json"]);
        assert!(search.status.success(), "{search:?}");
        assert_eq!(stdout(&search).lines().count(), 2, "{}", stdout(&search));
        let none = t.cli(&["search", "football", "--tag", "chips", "--json"]);
        assert_eq!(stdout(&none).lines().count(), 0, "{}", stdout(&none));

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        tokio::spawn(api::serve(
            listener,
            ApiState::new(t.app.store().clone(), t.app.settings().clone(), Access::ReadOnly),
            stop.clone(),
        ));
        let _stop = stop.drop_guard();
        let get = |q: &'static str| {
            let url = format!("{base}/api/v1/articles{q}");
            async move {
                let body = reqwest::get(url).await.unwrap().text().await.unwrap();
                serde_json::from_str::<Value>(&body).unwrap()
            }
        };
        let page = get("?tag=chips").await;
        let items = page["articles"].as_array().cloned().unwrap_or_default();
        assert_eq!(items.len(), 2, "{page}");
        assert!(items.iter().all(|a| a["tags"] == serde_json::json!(["chips"])), "{page}");
        let page = get("?tag=chips&q=ohio").await;
        assert_eq!(page["articles"].as_array().map(Vec::len), Some(1), "{page}");
        let page = get("?tag=none").await;
        assert_eq!(page["articles"].as_array().map(Vec::len), Some(0), "{page}");
    }
}

/// A publisher of two articles: one behind a paywall notice, one about the
/// council.
async fn publisher() -> String {
    let page = |body: &'static str| {
        let paragraphs: String = (1..=6)
            .map(|i| format!("<p>Paragraph {i}: {body} The story goes on at length with details, quotes from residents and engineers, and what comes next.</p>"))
            .collect();
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Council news</title></head>\
             <body><article><h1>Council news</h1>{paragraphs}</article></body></html>"
        )
    };
    let router = axum::Router::new()
        .route(
            "/walled",
            axum::routing::get(move || {
                std::future::ready(axum::response::Html(page(
                    "Subscribe to read: this paywall hides the rest.",
                )))
            }),
        )
        .route(
            "/open",
            axum::routing::get(move || {
                std::future::ready(axum::response::Html(page(
                    "The council approved the river plan on Tuesday.",
                )))
            }),
        );
    crate::helpers::serve(router).await
}

engine_test! {
    async fn rules_on_the_text_apply_when_it_arrives_and_a_block_cancels_held_alerts(engine) {
        let base = publisher().await;
        let links = [format!("{base}/walled"), format!("{base}/open")];
        let body = rss(&[
            Item { guid: "w", title: "Council news one", link: &links[0] },
            Item { guid: "o", title: "Council news two", link: &links[1] },
        ]);
        let server = feed_server(move |_| body.clone()).await;
        let extra = "[[searches]]\nname = \"council\"\nquery = \"council\"\n\n\
             [[rules]]\naction = \"block\"\ntext = \"paywall\"\n\n\
             [[rules]]\naction = \"tag\"\ntag = \"river\"\ntext = \"river plan\"\n";
        let t = spawn_app_with_on(engine, &[server.feed(1)], extra).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        assert_eq!(t.article_count().await, 2, "undecided until the text arrives");
        t.app.index_new_articles().await;
        let r = t.app.match_once(Utc::now()).await.unwrap();
        assert_eq!(r.matches, 2, "{r:?}");

        t.app.drain_fulltext_once(Utc::now()).await.unwrap();
        let store = t.app.store();
        assert_eq!(titles(store).await, [Some("Council news two".to_owned())]);
        assert_eq!(t.scalar("SELECT COUNT(*) FROM article_tags WHERE tag = 'river'").await, 1);
        assert_eq!(
            strings(store, "SELECT state FROM alert_matches ORDER BY state").await,
            [Some("dropped".to_owned()), Some("held".to_owned())],
            "the blocked article's alert is cancelled"
        );
        // The tombstones keep it out of the next poll.
        t.app.poll_all_once(Utc::now()).await.unwrap();
        assert_eq!(t.article_count().await, 1);
    }
}

engine_test! {
    async fn rules_on_the_url_apply_again_when_a_google_link_resolves(engine) {
        let g = FakeGoogle::start().await;
        g.serve_article_pages().await;
        let items = [("spam", "Win a prize today"), ("ok", "Council approves the river plan")]
            .map(|(n, title)| GItem {
                id: token_id(n),
                title,
                source: "The Paper",
                source_url: "https://paper.example",
            });
        g.answer(&items[0].id, "https://spam.example/prize");
        g.answer(&items[1].id, "https://paper.example/river");
        g.serve_feed("/rss/search", &items).await;
        let rules = "\n[[rules]]\naction = \"block\"\nurl = \"^https://spam\\\\.example/\"\n\n\
             [[rules]]\naction = \"tag\"\ntag = \"paper\"\nurl = \"^https://paper\\\\.example/\"\n";
        let t = spawn_app_with_on(engine, &[g.feed_url("/rss/search")], &format!("{}{rules}", g.config())).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        assert_eq!(t.article_count().await, 2, "the publisher URLs are not known yet");
        let r = t.app.drain_resolution_once(Utc::now()).await.unwrap();
        assert_eq!(r.resolved, 2, "{r:?}");
        let store = t.app.store();
        assert_eq!(titles(store).await, [Some("Council approves the river plan".to_owned())]);
        assert_eq!(t.scalar("SELECT COUNT(*) FROM article_tags WHERE tag = 'paper'").await, 1);
        t.app.poll_all_once(Utc::now()).await.unwrap();
        assert_eq!(t.article_count().await, 1, "the Google id's tombstone keeps it out");
    }
}
