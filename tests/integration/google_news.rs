//! Google News end to end against a local server standing in for Google:
//! feeds, article pages with signatures, and a batchexecute endpoint.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use newsd::google_news::{encode_old_format_id, stand_in};
use newsd::store::LinkStatus;
use wiremock::matchers::{header_exists, method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::{engine_test, fetch_all, fetch_one, spawn_app_with_on, Engine, TestApp};

/// A new-format article id: the payload is an opaque token only Google can map.
pub(crate) fn token_id(n: &str) -> String {
    encode_old_format_id(&format!("AU_yqL{n}_token_payload_0123456789"))
}

pub(crate) struct GItem<'a> {
    pub(crate) id: String,
    pub(crate) title: &'a str,
    pub(crate) source: &'a str,
    pub(crate) source_url: &'a str,
}

pub(crate) fn google_feed(items: &[GItem<'_>], base: &str) -> String {
    let mut s = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>"test" - Google News</title><link>https://news.google.com/</link>"#,
    );
    for i in items {
        let link = format!("{base}/rss/articles/{}?oc=5", i.id);
        s.push_str(&format!(
            "<item><title>{} - {}</title><link>{}</link><guid isPermaLink=\"false\">{}</guid>\
             <pubDate>Sat, 28 Nov 2026 01:00:00 GMT</pubDate>\
             <description>&lt;a href=\"{}\" target=\"_blank\"&gt;{}&lt;/a&gt;&amp;nbsp;&amp;nbsp;&lt;font color=\"#6f6f6f\"&gt;{}&lt;/font&gt;</description>\
             <source url=\"{}\">{}</source></item>",
            i.title, i.source, link, i.id, link, i.title, i.source, i.source_url, i.source
        ));
    }
    s.push_str("</channel></rss>");
    s
}

/// The fake batchexecute: answers every tagged call from `answers` (id →
/// publisher URL), in reverse order so that matching by position would fail.
#[derive(Clone, Default)]
struct Batch {
    answers: Arc<Mutex<HashMap<String, String>>>,
    posted_ids: Arc<Mutex<Vec<Vec<String>>>>,
}

impl Respond for Batch {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body = String::from_utf8_lossy(&req.body).into_owned();
        let answers = self.answers.lock().unwrap();
        let mut found = Vec::new();
        let mut ids = Vec::new();
        for call in stand_in::batch_calls(&body).into_iter().rev() {
            assert!(call.signature.starts_with("SIG_"), "signature sent");
            if let Some(url) = answers.get(&call.id) {
                found.push((call.tag, url.clone()));
            }
            ids.push(call.id);
        }
        self.posted_ids.lock().unwrap().push(ids);
        let body = stand_in::batch_answer(found);
        ResponseTemplate::new(200).set_body_string(body)
    }
}

/// An article page carrying the signature for the id in its path.
struct ArticlePage;

impl Respond for ArticlePage {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let id = req
            .url
            .path()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        ResponseTemplate::new(200).set_body_string(stand_in::article_page(&id))
    }
}

pub(crate) struct FakeGoogle {
    server: MockServer,
    batch: Batch,
}

impl FakeGoogle {
    pub(crate) async fn start() -> Self {
        let server = MockServer::start().await;
        let batch = Batch::default();
        Mock::given(method("POST"))
            .and(path("/_/DotsSplashUi/data/batchexecute"))
            .respond_with(batch.clone())
            .mount(&server)
            .await;
        FakeGoogle { server, batch }
    }

    fn uri(&self) -> String {
        self.server.uri()
    }

    pub(crate) async fn serve_article_pages(&self) {
        Mock::given(method("GET"))
            .and(path_regex("^/rss/articles/[^/]+$"))
            .respond_with(ArticlePage)
            .mount(&self.server)
            .await;
    }

    pub(crate) async fn serve_feed(&self, feed_path: &str, items: &[GItem<'_>]) {
        Mock::given(method("GET"))
            .and(path(feed_path))
            .respond_with(
                ResponseTemplate::new(200).set_body_string(google_feed(items, &self.uri())),
            )
            .mount(&self.server)
            .await;
    }

    pub(crate) fn answer(&self, id: &str, url: &str) {
        self.batch
            .answers
            .lock()
            .unwrap()
            .insert(id.to_owned(), url.to_owned());
    }

    pub(crate) async fn article_page_gets(&self) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.method.as_str() == "GET" && r.url.path().contains("/articles/"))
            .count()
    }

    fn posts(&self) -> Vec<Vec<String>> {
        self.batch.posted_ids.lock().unwrap().clone()
    }

    pub(crate) fn feed_url(&self, p: &str) -> String {
        format!("{}{p}?hl=en-US&gl=US&ceid=US:en", self.uri())
    }

    /// The stand-in as Google, with lookups spent at once (no settle time)
    /// and a bucket large enough for every test's backlog; tests of the
    /// pace and the settle time set their own.
    pub(crate) fn config(&self) -> String {
        self.config_with("settle = \"0s\"\nget_burst = 50\n")
    }

    /// The stand-in as Google with these `[google_news]` lines.
    pub(crate) fn config_with(&self, lines: &str) -> String {
        format!("\n[google_news]\nbase_url = \"{}\"\n{lines}", self.uri())
    }
}

async fn app(engine: Engine, g: &FakeGoogle, feeds: &[String]) -> TestApp {
    spawn_app_with_on(engine, feeds, &g.config()).await
}

async fn rows(t: &TestApp, sql: &str) -> Vec<(i64, Option<String>, Option<String>)> {
    fetch_all(t.app.store(), sql).await
}

engine_test! {
    async fn new_format_links_resolve_in_one_batched_post_matched_by_tag(engine) {
        let g = FakeGoogle::start().await;
        g.serve_article_pages().await;
        let items: Vec<GItem> = (0..5)
            .map(|i| GItem {
                id: token_id(&i.to_string()),
                title: [
                    "Alpha story about rivers today",
                    "Beta report - the markets move up",
                    "Gamma news on schools and teachers",
                    "Delta review of the new film tonight",
                    "Epsilon update about the local weather",
                ][i],
                source: "The Paper",
                source_url: "https://paper.example",
            })
            .collect();
        for (i, it) in items.iter().enumerate() {
            g.answer(
                &it.id,
                &format!("https://paper.example/story/{i}?utm_source=gn"),
            );
        }
        g.serve_feed("/rss/search", &items).await;
        let t = app(engine, &g, &[g.feed_url("/rss/search")]).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        let r = t.app.drain_resolution_once(Utc::now()).await.unwrap();
        assert_eq!((r.gets, r.posts, r.resolved), (5, 1, 5), "{r:?}");
        assert_eq!(g.posts().len(), 1);

        let arts = rows(&t, "SELECT id, url, title FROM articles ORDER BY id").await;
        assert_eq!(arts.len(), 5);
        for (i, (_, url, title)) in arts.iter().enumerate() {
            assert_eq!(
                url.as_deref(),
                Some(format!("https://paper.example/story/{i}").as_str())
            );
            assert!(!title.as_deref().unwrap().ends_with(" - The Paper"));
        }
        assert_eq!(
            arts[1].2.as_deref(),
            Some("Beta report - the markets move up"),
            "only the exact source suffix is stripped"
        );
        let page = t.app.store().export_page(None, 0, 10).await.unwrap();
        assert!(
            page[0].links[0].contains("/rss/articles/"),
            "the Google link is kept"
        );
        assert_eq!(
            page[0].summary, None,
            "a Google description is not the article's summary"
        );
        assert_eq!(page[0].publisher.as_deref(), Some("The Paper"));
    }
}

engine_test! {
    async fn the_same_story_under_different_ids_and_feeds_lands_as_one_article(engine) {
        let g = FakeGoogle::start().await;
        g.serve_article_pages().await;
        let title = "Parliament passes the new budget after a long debate";
        let (id1, id2, id3) = (token_id("one"), token_id("two"), token_id("three"));
        let publisher_url = "https://www.wire.example/politics/budget-passes";
        g.answer(&id1, publisher_url);
        g.answer(&id2, publisher_url);
        let item = |id: &str| GItem {
            id: id.to_owned(),
            title,
            source: "Wire",
            source_url: "https://www.wire.example",
        };
        g.serve_feed("/rss/top", &[item(&id1)]).await;
        g.serve_feed("/rss/search", &[item(&id2)]).await;
        let old_format = encode_old_format_id(&format!("{publisher_url}?utm_medium=rss"));
        g.serve_feed("/rss/topic", &[item(&old_format)]).await;
        // The old-format copy arrives first and resolves the story offline.
        let t = app(engine, &g, &[g.feed_url("/rss/topic")]).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        let (status, decoded_url) = t
            .app
            .store()
            .google_link(&old_format)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(status, LinkStatus::Decoded);
        assert_eq!(
            decoded_url.as_deref(),
            Some(publisher_url),
            "tracking dropped"
        );
        let add = |p: &str| newsd::store::NewFeed {
            url: g.feed_url(p),
            name: None,
            interval_secs: None,
        };
        for p in ["/rss/top", "/rss/search"] {
            t.app
                .store()
                .add_feed(&add(p), "cli", Utc::now())
                .await
                .unwrap();
        }
        t.app.poll_all_once(Utc::now()).await.unwrap();
        let r = t.app.drain_resolution_once(Utc::now()).await.unwrap();
        assert_eq!(
            r.gets, 0,
            "items of a resolved story join it without lookups"
        );
        assert_eq!(t.article_count().await, 1);

        // A third token id, in a feed whose other copy is still unresolved, is looked up
        // and merges by publisher URL.
        g.serve_feed("/rss/late", &[item(&id3)]).await;
        g.answer(&id3, publisher_url);
        t.app
            .store()
            .add_feed(&add("/rss/late"), "cli", Utc::now())
            .await
            .unwrap();
        t.app.poll_all_once(Utc::now()).await.unwrap();
        t.app.drain_resolution_once(Utc::now()).await.unwrap();
        assert_eq!(
            g.article_page_gets().await,
            0,
            "joined again: same title and publisher within 36 h"
        );
        assert_eq!(t.article_count().await, 1);
        let page = t.app.store().export_page(None, 0, 10).await.unwrap();
        assert_eq!(page[0].feeds.len(), 4, "one article, four feed links");
        assert_eq!(page[0].url.as_deref(), Some(publisher_url));
    }
}

engine_test! {
    async fn items_merged_provisionally_split_cleanly_when_they_resolve_apart(engine) {
        let g = FakeGoogle::start().await;
        g.serve_article_pages().await;
        let title = "Live coverage of the championship final tonight in the city";
        let (id1, id2) = (token_id("a"), token_id("b"));
        g.answer(&id1, "https://sport.example/final/report");
        g.answer(&id2, "https://sport.example/final/gallery");
        let item = |id: &str| GItem {
            id: id.to_owned(),
            title,
            source: "Sport Daily",
            source_url: "https://sport.example",
        };
        g.serve_feed("/rss/one", &[item(&id1)]).await;
        g.serve_feed("/rss/two", &[item(&id2)]).await;
        let t = app(engine, &g, &[g.feed_url("/rss/one"), g.feed_url("/rss/two")]).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        assert_eq!(
            t.article_count().await,
            1,
            "merged provisionally by title and publisher"
        );
        let r = t.app.drain_resolution_once(Utc::now()).await.unwrap();
        assert_eq!(r.resolved, 2);
        let page = t.app.store().export_page(None, 0, 10).await.unwrap();
        assert_eq!(page.len(), 2, "split into two articles");
        let mut urls: Vec<_> = page.iter().map(|a| a.url.clone().unwrap()).collect();
        urls.sort();
        assert_eq!(
            urls,
            vec![
                "https://sport.example/final/gallery",
                "https://sport.example/final/report"
            ]
        );
        for a in &page {
            assert_eq!(a.feeds.len(), 1, "each keeps its own feed");
            assert_eq!(a.links.len(), 1, "and its own link");
        }
        assert_eq!(t.app.store().integrity_check().await.unwrap(), "ok");
    }
}

engine_test! {
    async fn a_429_trips_the_breaker_and_no_article_page_get_is_sent_during_the_cool_down_even_after_a_restart(engine) {
        let g = FakeGoogle::start().await;
        Mock::given(method("GET"))
            .and(path_regex("^/rss/articles/"))
            .respond_with(ResponseTemplate::new(429))
            .mount(&g.server)
            .await;
        let items: Vec<GItem> = (0..3)
            .map(|i| GItem {
                id: token_id(&format!("rl{i}")),
                title: [
                    "One thing happened in the town",
                    "Two things happened in the city",
                    "Three things happened in the land",
                ][i],
                source: "Paper",
                source_url: "https://paper.example",
            })
            .collect();
        g.serve_feed("/rss/search", &items).await;
        let t = app(engine, &g, &[g.feed_url("/rss/search")]).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        let r = t.app.drain_resolution_once(Utc::now()).await.unwrap();
        assert_eq!(r.gets, 1, "the first 429 stops the round");
        assert!(r.cooling_down_until.is_some());
        assert_eq!(g.article_page_gets().await, 1);

        let r = t.app.drain_resolution_once(Utc::now()).await.unwrap();
        assert_eq!(r.gets, 0);
        let restarted = t.restart().await;
        let r = restarted.drain_resolution_once(Utc::now()).await.unwrap();
        assert_eq!(r.gets, 0, "the breaker is stored in the database");
        assert_eq!(g.article_page_gets().await, 1);
        let q = restarted.store().google_queue_stats().await.unwrap();
        assert_eq!(q.pending, 3, "nothing is lost while paused");
        assert_eq!(restarted.store().stats().await.unwrap().articles, 3);
    }
}

engine_test! {
    async fn signatures_held_across_a_restart_are_posted_without_new_gets(engine) {
        let g = FakeGoogle::start().await;
        g.serve_article_pages().await;
        let items: Vec<GItem> = (0..3)
            .map(|i| GItem {
                id: token_id(&format!("s{i}")),
                title: [
                    "Signed story number one today",
                    "Signed story number two today",
                    "Signed story number three today",
                ][i],
                source: "Paper",
                source_url: "https://paper.example",
            })
            .collect();
        for (i, it) in items.iter().enumerate() {
            g.answer(&it.id, &format!("https://paper.example/signed/{i}"));
        }
        g.serve_feed("/rss/search", &items).await;
        let t = app(engine, &g, &[g.feed_url("/rss/search")]).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        let now = Utc::now();
        let r = t.app.resolver().resolve_once(now, 2, false).await.unwrap();
        assert_eq!((r.gets, r.posts), (2, 0), "waits for a fuller batch");

        let restarted = t.restart().await;
        let r = restarted
            .resolver()
            .resolve_once(now, 0, true)
            .await
            .unwrap();
        assert_eq!((r.gets, r.posts, r.resolved), (0, 1, 2));
        assert_eq!(g.article_page_gets().await, 2);
        assert_eq!(g.posts()[0].len(), 2);
    }
}

impl FakeGoogle {
    /// Article pages answer only requests carrying a cookie; others are
    /// redirected to a consent page that wants to continue to them.
    pub(crate) async fn serve_consent_wall(&self) {
        Mock::given(method("GET"))
            .and(path_regex("^/rss/articles/"))
            .and(header_exists("cookie"))
            .respond_with(ArticlePage)
            .mount(&self.server)
            .await;
        let base = self.uri();
        Mock::given(method("GET"))
            .and(path_regex("^/rss/articles/"))
            .respond_with(move |req: &Request| {
                let cont = format!(
                    "{base}{}?{}",
                    req.url.path(),
                    req.url.query().unwrap_or_default()
                );
                let mut consent = url::Url::parse(&format!("{base}/consent/m")).unwrap();
                consent
                    .query_pairs_mut()
                    .append_pair("continue", &cont)
                    .append_pair("gl", "DE");
                ResponseTemplate::new(302).insert_header("location", consent.as_str())
            })
            .mount(&self.server)
            .await;
        Mock::given(method("GET"))
            .and(path("/consent/m"))
            .respond_with(ResponseTemplate::new(200).set_body_string(
                "<html><body><h1>Before you continue to Google</h1><form action=\"https://consent.google.com/save\" method=\"POST\"></form></body></html>",
            ))
            .mount(&self.server)
            .await;
    }
}

engine_test! {
    async fn a_consent_redirect_is_passed_with_cookies_and_never_stored(engine) {
        let g = FakeGoogle::start().await;
        g.serve_consent_wall().await;
        let id = token_id("consent");
        g.answer(&id, "https://paper.example/after-consent");
        g.serve_feed(
            "/rss/search",
            &[GItem {
                id: id.clone(),
                title: "A story behind a consent wall today",
                source: "Paper",
                source_url: "https://paper.example",
            }],
        )
        .await;
        let t = app(engine, &g, &[g.feed_url("/rss/search")]).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        let r = t.app.drain_resolution_once(Utc::now()).await.unwrap();
        assert_eq!(r.resolved, 1, "{r:?}");
        let arts = rows(&t, "SELECT id, url, title FROM articles").await;
        assert_eq!(
            arts[0].1.as_deref(),
            Some("https://paper.example/after-consent")
        );
        let leaked = t
            .scalar(
                "SELECT COUNT(*) FROM articles WHERE title LIKE '%Before you continue%' OR summary LIKE '%Before you continue%' OR text LIKE '%Before you continue%'",
            )
            .await;
        assert_eq!(leaked, 0);
    }
}

engine_test! {
    async fn an_unresolvable_item_is_kept_with_its_google_link_and_retried_later(engine) {
        let g = FakeGoogle::start().await;
        g.serve_article_pages().await;
        let id = token_id("lost");
        g.serve_feed(
            "/rss/search",
            &[GItem {
                id: id.clone(),
                title: "A story Google will not map today",
                source: "Paper",
                source_url: "https://paper.example",
            }],
        )
        .await;
        let t = app(engine, &g, &[g.feed_url("/rss/search")]).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        let r = t.app.drain_resolution_once(Utc::now()).await.unwrap();
        assert_eq!((r.resolved, r.failed), (0, 1));
        let (status, attempts, next_try, last_error): (String, i64, String, Option<String>) =
            fetch_one(
                t.app.store(),
                "SELECT status, attempts, next_try_at, last_error FROM google_links",
            )
            .await;
        assert_eq!((status.as_str(), attempts), ("pending", 1));
        assert!(next_try > newsd::store::ts(Utc::now()), "retried later");
        assert!(last_error.unwrap().contains("no answer"));
        let arts = rows(&t, "SELECT id, url, publisher_url FROM articles").await;
        assert!(
            arts[0].1.as_deref().unwrap().contains(&id),
            "stored with its Google link"
        );
        assert_eq!(arts[0].2.as_deref(), Some("https://paper.example"));

        // Once Google answers, the retry resolves it.
        g.answer(&id, "https://paper.example/found");
        let later = Utc::now() + chrono::Duration::hours(1);
        let r = t.app.drain_resolution_once(later).await.unwrap();
        assert_eq!(r.resolved, 1);
    }
}

engine_test! {
    async fn google_news_feeds_are_configured_by_intent_and_unsupported_feeds_are_config_errors(engine) {
        let g = FakeGoogle::start().await;
        Mock::given(method("GET"))
            .and(path("/rss/headlines/section/topic/WORLD"))
            .respond_with(ResponseTemplate::new(302).insert_header("location", "/rss/unsupported"))
            .mount(&g.server)
            .await;
        Mock::given(method("GET"))
            .and(path("/rss/unsupported"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_string("<rss version=\"2.0\"><channel><title>x</title></channel></rss>"),
            )
            .mount(&g.server)
            .await;
        g.serve_feed("/rss/search", &[]).await;
        let extra = format!(
            "{}\n[[feeds]]\ngoogle_news = {{ topic = \"WORLD\", edition = \"en-GB\" }}\n\n[[feeds]]\ngoogle_news = {{ search = \"\\\"bears ears\\\" when:1d\" }}\n",
            g.config()
        );
        let t = spawn_app_with_on(engine, &[], &extra).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        let feeds = t.app.store().list_feeds().await.unwrap();
        assert_eq!(feeds.len(), 2);
        assert!(
            feeds[0]
                .url
                .ends_with("/rss/headlines/section/topic/WORLD?hl=en-GB&gl=GB&ceid=GB:en"),
            "{}",
            feeds[0].url
        );
        assert!(feeds[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("configuration error"));
        assert!(
            feeds[1]
                .url
                .contains("/rss/search?q=%22bears+ears%22+when%3A1d&hl=en-US"),
            "{}",
            feeds[1].url
        );
        assert_eq!(feeds[1].last_status.map(|s| s.as_str()), Some("ok"));
    }
}

engine_test! {
    async fn a_provisional_sibling_that_has_not_spent_a_get_joins_when_its_story_resolves(engine) {
        let g = FakeGoogle::start().await;
        g.serve_article_pages().await;
        let title = "Harbour bridge reopens after two years of repairs";
        let (id1, id2) = (token_id("first"), token_id("second"));
        g.answer(&id1, "https://city.example/bridge-reopens");
        g.answer(&id2, "https://city.example/bridge-reopens");
        let item = |id: &str| GItem {
            id: id.to_owned(),
            title,
            source: "City Paper",
            source_url: "https://city.example",
        };
        g.serve_feed("/rss/one", &[item(&id1)]).await;
        g.serve_feed("/rss/two", &[item(&id2)]).await;
        let t = app(engine, &g, &[g.feed_url("/rss/one"), g.feed_url("/rss/two")]).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        let now = Utc::now();
        let r = t.app.resolver().resolve_once(now, 1, true).await.unwrap();
        assert_eq!((r.gets, r.posts, r.resolved), (1, 1, 1));
        let r = t.app.resolver().resolve_once(now, 10, true).await.unwrap();
        assert_eq!(r.gets, 0, "the sibling joined the resolved story");
        assert_eq!(g.article_page_gets().await, 1);
        let q = t.app.store().google_queue_stats().await.unwrap();
        assert_eq!((q.resolved, q.joined, q.pending), (1, 1, 0));
        let page = t.app.store().export_page(None, 0, 10).await.unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].feeds.len(), 2);
    }
}

engine_test! {
    async fn newsd_resolve_prints_the_publisher_url_and_how_it_was_found(engine) {
        let g = FakeGoogle::start().await;
        g.serve_article_pages().await;
        let id = token_id("cli");
        g.answer(&id, "https://paper.example/cli-story");
        let t = app(engine, &g, &[]).await;
        let link = format!("{}/rss/articles/{id}?oc=5", g.uri());
        let out = t.cli(&["resolve", &link]);
        assert!(out.status.success(), "{}", crate::helpers::stderr(&out));
        let text = crate::helpers::stdout(&out);
        assert!(
            text.starts_with("https://paper.example/cli-story\n"),
            "{text}"
        );
        assert!(text.contains("resolved online"), "{text}");

        let old = encode_old_format_id("https://paper.example/old-story");
        let out = t.cli(&["resolve", &old]);
        let text = crate::helpers::stdout(&out);
        assert!(
            text.starts_with("https://paper.example/old-story\n"),
            "{text}"
        );
        assert!(text.contains("decoded offline"), "{text}");

        let out = t.cli(&["resolve", "https://elsewhere.example/rss/articles/x"]);
        assert!(!out.status.success());
        assert!(crate::helpers::stderr(&out).contains("not a Google News article link"));
    }
}

engine_test! {
    async fn items_google_lists_as_related_coverage_share_a_story_whatever_their_titles(engine) {
        let g = FakeGoogle::start().await;
        let ids: Vec<String> = (0..4).map(|i| token_id(&format!("story{i}"))).collect();
        let link = |i: usize| format!("{}/rss/articles/{}?oc=5", g.uri(), ids[i]);
        let titles = [
            "Rates held steady as inflation cools",
            "Central bank pauses again, citing softer prices",
            "Why the pause matters for your mortgage payments",
            "Storm closes schools across the northern coast",
        ];
        // Item 0 carries Google's related-coverage list naming items 1 and 2.
        let cluster = format!(
            "<ol><li><a href=\"{}\">{}</a>&nbsp;&nbsp;<font color=\"#6f6f6f\">Paper One</font></li>\
             <li><a href=\"{}\">{}</a>&nbsp;&nbsp;<font color=\"#6f6f6f\">Paper Two</font></li></ol>",
            link(1),
            titles[1],
            link(2),
            titles[2]
        );
        let mut xml = String::from(
            r#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>"rates" - Google News</title><link>https://news.google.com/</link>"#,
        );
        for (i, title) in titles.iter().enumerate() {
            let description = if i == 0 {
                cluster
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
            } else {
                String::new()
            };
            xml.push_str(&format!(
                "<item><title>{title} - Paper {i}</title><link>{}</link><guid isPermaLink=\"false\">{}</guid>\
                 <pubDate>Sat, 28 Nov 2026 01:00:00 GMT</pubDate><description>{description}</description>\
                 <source url=\"https://p{i}.example\">Paper {i}</source></item>",
                link(i),
                ids[i]
            ));
        }
        xml.push_str("</channel></rss>");
        Mock::given(method("GET"))
            .and(path("/rss/search"))
            .respond_with(ResponseTemplate::new(200).set_body_string(xml))
            .mount(&g.server)
            .await;
        let t = app(engine, &g, &[g.feed_url("/rss/search")]).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        t.app.cluster_once().await.unwrap();

        let stories: Vec<(String, i64)> =
            fetch_all(t.app.store(), "SELECT a.title, a.story_id FROM articles a ORDER BY a.id").await;
        assert_eq!(stories.len(), 4, "{stories:?}");
        assert_eq!(stories[0].1, stories[1].1, "{stories:?}");
        assert_eq!(stories[0].1, stories[2].1, "{stories:?}");
        assert_ne!(stories[0].1, stories[3].1, "{stories:?}");
        let listed = t.app.store().list_stories(None, 10).await.unwrap();
        let sizes: Vec<i64> = listed.iter().map(|s| s.size).collect();
        assert_eq!(sizes.iter().sum::<i64>(), 4);
        assert!(sizes.contains(&3), "{listed:?}");
    }
}

/// Article pages that answer 429 to the first `refuse` GETs, then as
/// Google does; counts what they were asked. The 429 says `Retry-After: 1`
/// so that the HTTP layer's own backoff, on the wall clock, is over a second
/// later (the resolver's cool-down is on the test's clock).
#[derive(Clone)]
struct RefusingPages {
    refuse: usize,
    seen: Arc<Mutex<usize>>,
}

impl Respond for RefusingPages {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut seen = self.seen.lock().unwrap();
        *seen += 1;
        if *seen <= self.refuse {
            ResponseTemplate::new(429).insert_header("retry-after", "1")
        } else {
            ArticlePage.respond(req)
        }
    }
}

/// Google's allowance: article pages answer until `allowance` GETs were
/// sent, then 429 to every further one.
#[derive(Clone)]
struct Allowance {
    allowance: usize,
    seen: Arc<Mutex<usize>>,
    refused: Arc<Mutex<usize>>,
}

impl Respond for Allowance {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut seen = self.seen.lock().unwrap();
        *seen += 1;
        if *seen > self.allowance {
            *self.refused.lock().unwrap() += 1;
            ResponseTemplate::new(429)
        } else {
            ArticlePage.respond(req)
        }
    }
}

fn numbered_items(prefix: &str, n: usize) -> Vec<GItem<'static>> {
    (0..n)
        .map(|i| GItem {
            id: token_id(&format!("{prefix}{i}")),
            title: Box::leak(
                format!("Story number {i} of the {prefix} backlog, told plainly").into_boxed_str(),
            ),
            source: "Paper",
            source_url: "https://paper.example",
        })
        .collect()
}

async fn stored_pace(t: &TestApp) -> newsd::google_news::Pace {
    t.app
        .store()
        .google_budget("default")
        .await
        .unwrap()
        .pace
        .unwrap()
}

engine_test! {
    async fn the_pace_slows_after_a_429_and_recovers_after_a_run_of_successes(engine) {
        let g = FakeGoogle::start().await;
        let pages = RefusingPages { refuse: 1, seen: Arc::default() };
        Mock::given(method("GET"))
            .and(path_regex("^/rss/articles/"))
            .respond_with(pages.clone())
            .mount(&g.server)
            .await;
        let items = numbered_items("pace", 8);
        for it in &items {
            g.answer(&it.id, &format!("https://paper.example/{}", &it.id[..12]));
        }
        g.serve_feed("/rss/search", &items).await;
        let config = g.config_with(
            "settle = \"0s\"\nget_interval = \"30s\"\nget_burst = 2\nspeedup_after = 2\ncooldown = \"10m\"\n",
        );
        let t = spawn_app_with_on(engine, &[g.feed_url("/rss/search")], &config).await;
        let t0 = Utc::now();
        t.app.poll_all_once(t0).await.unwrap();
        let r = t.app.resolver().resolve_once(t0, 10, false).await.unwrap();
        assert_eq!(r.gets, 1, "the 429 ends the round");
        assert!(r.cooling_down_until.is_some());
        let pace = stored_pace(&t).await;
        assert_eq!(pace.interval.as_secs(), 60, "the interval doubled");
        assert!(pace.tokens <= 0.0, "and the bucket is empty");

        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        // After the cool-down (10 min), the bucket has refilled to its burst: two GETs.
        let later = t0 + chrono::Duration::minutes(11);
        let r = t.app.resolver().resolve_once(later, 10, false).await.unwrap();
        assert_eq!(r.gets, 2, "{r:?}");
        assert_eq!(
            stored_pace(&t).await.interval.as_secs(),
            54,
            "two successes in a row: a tenth faster"
        );
        let r = t.app.resolver().resolve_once(later, 10, false).await.unwrap();
        assert_eq!(r.gets, 0, "no token left");
        // One token per (learned) 54 s.
        let r = t
            .app
            .resolver()
            .resolve_once(later + chrono::Duration::seconds(54), 10, false)
            .await
            .unwrap();
        assert_eq!(r.gets, 1);
        let q = t.app.store().google_queue_stats().await.unwrap();
        let b = q.egress("default").unwrap();
        assert_eq!((b.breaker_trips, b.rate_limited_total), (1, 1));
        assert_eq!(*pages.seen.lock().unwrap(), 4);
    }
}

engine_test! {
    async fn a_redirect_to_the_sorry_page_trips_the_breaker_and_no_web_form_is_tried(engine) {
        let g = FakeGoogle::start().await;
        let base = g.uri();
        Mock::given(method("GET"))
            .and(path_regex("^/rss/articles/"))
            .respond_with(move |req: &Request| {
                ResponseTemplate::new(302).insert_header(
                    "location",
                    format!("{base}/sorry/index?continue={}", req.url).as_str(),
                )
            })
            .mount(&g.server)
            .await;
        Mock::given(method("GET"))
            .and(path("/sorry/index"))
            .respond_with(ResponseTemplate::new(200).set_body_string(
                "<html><body>Our systems have detected unusual traffic</body></html>",
            ))
            .mount(&g.server)
            .await;
        g.serve_feed("/rss/search", &numbered_items("sorry", 3)).await;
        let t = app(engine, &g, &[g.feed_url("/rss/search")]).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        let r = t.app.drain_resolution_once(Utc::now()).await.unwrap();
        assert_eq!(r.gets, 1, "{r:?}");
        assert!(r.cooling_down_until.is_some(), "a lockout");
        let q = t.app.store().google_queue_stats().await.unwrap();
        let b = q.egress("default").unwrap();
        assert_eq!((b.breaker_trips, b.rate_limited_total, q.pending), (1, 0, 3));
        assert_eq!(stored_pace(&t).await.interval.as_secs(), 60);
        let asked: Vec<String> = g
            .server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .map(|r| r.url.path().to_owned())
            .filter(|p| p.contains("articles/") || p.starts_with("/read/"))
            .collect();
        assert_eq!(asked.len(), 1, "{asked:?}");
        assert!(asked[0].starts_with("/rss/articles/"), "{asked:?}");
        let r = t.app.drain_resolution_once(Utc::now()).await.unwrap();
        assert_eq!(r.gets, 0, "the breaker holds");
    }
}

engine_test! {
    async fn poll_once_never_provokes_a_429_on_a_budget_of_ten_with_twenty_items_queued(engine) {
        let g = FakeGoogle::start().await;
        let google = Allowance { allowance: 10, seen: Arc::default(), refused: Arc::default() };
        Mock::given(method("GET"))
            .and(path_regex("^/rss/articles/"))
            .respond_with(google.clone())
            .mount(&g.server)
            .await;
        let items = numbered_items("queue", 20);
        for it in &items {
            g.answer(&it.id, &format!("https://paper.example/{}", &it.id[..12]));
        }
        g.serve_feed("/rss/search", &items).await;
        // The defaults but the settle time: a burst of 3, `gets_per_run` 20.
        let t = spawn_app_with_on(
            engine,
            &[g.feed_url("/rss/search")],
            &g.config_with("settle = \"0s\"\n"),
        )
        .await;
        for _ in 0..3 {
            let out = t.cli(&["poll", "--once"]);
            assert!(out.status.success(), "{}", crate::helpers::stderr(&out));
        }
        assert_eq!(*google.refused.lock().unwrap(), 0, "no 429");
        assert_eq!(*google.seen.lock().unwrap(), 3, "the burst, then one token per 30 s");
        let q = t.app.store().google_queue_stats().await.unwrap();
        let b = q.egress("default").unwrap();
        assert_eq!((q.resolved, q.pending, b.rate_limited_total), (3, 17, 0));
    }
}

impl FakeGoogle {
    /// A publisher's own feed on the stand-in's host: `(guid, title, link)`.
    async fn serve_publisher_feed(&self, feed_path: &str, items: &[(&str, &str, &str)]) {
        let items: Vec<crate::helpers::Item<'_>> = items
            .iter()
            .map(|&(guid, title, link)| crate::helpers::Item { guid, title, link })
            .collect();
        Mock::given(method("GET"))
            .and(path(feed_path))
            .respond_with(ResponseTemplate::new(200).set_body_string(crate::helpers::rss(&items)))
            .mount(&self.server)
            .await;
    }

    fn publisher_feed_url(&self, p: &str) -> String {
        format!("{}{p}", self.uri())
    }
}

async fn add_feed(t: &TestApp, url: String) {
    let feed = newsd::store::NewFeed {
        url,
        name: None,
        interval_secs: None,
    };
    t.app
        .store()
        .add_feed(&feed, "cli", Utc::now())
        .await
        .unwrap();
}

const BRIDGE: &str = "Harbour bridge reopens after two years of repairs";
const BRIDGE_URL: &str = "https://city.example/news/bridge-reopens";

fn city_item(id: &str, title: &'static str) -> GItem<'static> {
    GItem {
        id: id.to_owned(),
        title,
        source: "City Paper",
        source_url: "https://www.city.example",
    }
}

engine_test! {
    async fn an_item_already_known_from_a_publisher_feed_joins_it_without_a_get(engine) {
        let g = FakeGoogle::start().await;
        g.serve_article_pages().await;
        g.serve_publisher_feed("/city/rss", &[("b1", BRIDGE, BRIDGE_URL)]).await;
        let id = token_id("bridge");
        g.answer(&id, BRIDGE_URL);
        g.serve_feed("/rss/search", &[city_item(&id, BRIDGE)]).await;
        let t = app(engine, &g, &[g.publisher_feed_url("/city/rss")]).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        add_feed(&t, g.feed_url("/rss/search")).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        let r = t.app.drain_resolution_once(Utc::now()).await.unwrap();
        assert_eq!((r.gets, r.posts), (0, 0), "{r:?}");
        assert_eq!(g.article_page_gets().await, 0);
        let (status, _) = t.app.store().google_link(&id).await.unwrap().unwrap();
        assert_eq!(status, LinkStatus::Joined);
        assert_eq!(t.article_count().await, 1);
        let page = t.app.store().export_page(None, 0, 10).await.unwrap();
        assert_eq!(page[0].url.as_deref(), Some(BRIDGE_URL));
        assert_eq!(page[0].feeds.len(), 2);
        assert!(
            page[0].links.iter().any(|l| l.contains(&id)),
            "the Google link is kept: {:?}",
            page[0].links
        );
    }
}

engine_test! {
    async fn the_settle_time_lets_a_publisher_feed_polled_after_the_google_item_place_it(engine) {
        let g = FakeGoogle::start().await;
        g.serve_article_pages().await;
        g.serve_publisher_feed("/city/rss", &[("b1", BRIDGE, BRIDGE_URL)]).await;
        let id = token_id("settle");
        g.answer(&id, BRIDGE_URL);
        g.serve_feed("/rss/search", &[city_item(&id, BRIDGE)]).await;
        let t = spawn_app_with_on(
            engine,
            &[g.feed_url("/rss/search")],
            &g.config_with("settle = \"2m\"\nget_burst = 10\n"),
        )
        .await;
        let t0 = Utc::now();
        t.app.poll_all_once(t0).await.unwrap();
        let r = t.app.drain_resolution_once(t0).await.unwrap();
        assert_eq!(r.gets, 0, "not settled yet: {r:?}");
        assert_eq!(t.app.store().google_queue_stats().await.unwrap().pending, 1, "queued");
        // The publisher's feed, polled within the settle time, brings the article.
        add_feed(&t, g.publisher_feed_url("/city/rss")).await;
        t.app.poll_all_once(t0 + chrono::Duration::seconds(30)).await.unwrap();
        assert_eq!(t.article_count().await, 2, "not merged at ingest");
        let r = t
            .app
            .drain_resolution_once(t0 + chrono::Duration::minutes(3))
            .await
            .unwrap();
        assert_eq!((r.gets, r.joined), (0, 1), "{r:?}");
        assert_eq!(g.article_page_gets().await, 0);
        let (status, _) = t.app.store().google_link(&id).await.unwrap().unwrap();
        assert_eq!(status, LinkStatus::Joined);
        let page = t.app.store().export_page(None, 0, 10).await.unwrap();
        assert_eq!(page.len(), 1, "one article");
        assert_eq!(page[0].url.as_deref(), Some(BRIDGE_URL));
        assert_eq!(page[0].feeds.len(), 2);
        assert_eq!(t.app.store().integrity_check().await.unwrap(), "ok");
    }
}

engine_test! {
    async fn a_generic_or_slightly_different_headline_or_another_publisher_does_not_join(engine) {
        let g = FakeGoogle::start().await;
        g.serve_article_pages().await;
        g.serve_publisher_feed(
            "/city/rss",
            &[
                ("g1", "Live updates", "https://city.example/live"),
                (
                    "g2",
                    "Harbour bridge reopens after two years of repair",
                    "https://city.example/news/bridge",
                ),
                (
                    "g3",
                    "Council approves the new harbour budget plan",
                    "https://other.example/council-budget",
                ),
            ],
        )
        .await;
        let ids: Vec<String> = (0..3).map(|i| token_id(&format!("nojoin{i}"))).collect();
        for (i, id) in ids.iter().enumerate() {
            g.answer(id, &format!("https://city.example/story/{i}"));
        }
        g.serve_feed(
            "/rss/search",
            &[
                city_item(&ids[0], "Live updates"),
                city_item(&ids[1], BRIDGE),
                city_item(&ids[2], "Council approves the new harbour budget plan"),
            ],
        )
        .await;
        let t = app(engine, &g, &[g.publisher_feed_url("/city/rss")]).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        add_feed(&t, g.feed_url("/rss/search")).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        let r = t.app.drain_resolution_once(Utc::now()).await.unwrap();
        assert_eq!((r.gets, r.joined, r.resolved), (3, 0, 3), "{r:?}");
        let q = t.app.store().google_queue_stats().await.unwrap();
        assert_eq!((q.joined, q.resolved), (0, 3));
        assert_eq!(t.article_count().await, 6);
    }
}

engine_test! {
    async fn every_google_link_shows_how_it_was_placed_and_what_it_cost(engine) {
        let g = FakeGoogle::start().await;
        g.serve_consent_wall().await;
        g.serve_publisher_feed("/city/rss", &[("b1", BRIDGE, BRIDGE_URL)]).await;
        let (joined, looked_up) = (token_id("placed"), token_id("looked-up"));
        g.answer(&joined, BRIDGE_URL);
        g.answer(&looked_up, "https://city.example/news/ferry");
        g.serve_feed(
            "/rss/search",
            &[
                city_item(&joined, BRIDGE),
                city_item(&looked_up, "The night ferry returns to the harbour for the summer"),
            ],
        )
        .await;
        let t = app(engine, &g, &[g.publisher_feed_url("/city/rss")]).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        add_feed(&t, g.feed_url("/rss/search")).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        let r = t.app.drain_resolution_once(Utc::now()).await.unwrap();
        assert_eq!((r.gets, r.resolved), (2, 1), "one lookup behind a consent wall: {r:?}");

        let placed = t.app.store().google_link_placement(&looked_up).await.unwrap().unwrap();
        assert_eq!((placed.status, placed.gets), (LinkStatus::Resolved, 2));
        let article = t
            .scalar("SELECT id FROM articles WHERE url = 'https://city.example/news/ferry'")
            .await;
        let detail = t.app.store().article_detail(article).await.unwrap().unwrap();
        assert_eq!(
            (detail.google_links[0].status.as_str(), detail.google_links[0].gets),
            ("resolved", 2)
        );
        let out = t.cli(&["resolve", &looked_up]);
        let text = crate::helpers::stdout(&out);
        assert!(text.contains("already in the archive: resolved"), "{text}");
        assert!(text.contains("2 GETs"), "{text}");

        // A joined link is verified on demand.
        let out = t.cli(&["resolve", &joined]);
        assert!(out.status.success(), "{}", crate::helpers::stderr(&out));
        let text = crate::helpers::stdout(&out);
        assert!(text.starts_with(&format!("{BRIDGE_URL}\n")), "{text}");
        assert!(text.contains("had joined it, without a lookup"), "{text}");
        assert!(text.contains("the same article"), "{text}");

        let out = t.cli(&["stats"]);
        let text = crate::helpers::stdout(&out);
        assert!(
            text.contains("last day: 2 new, 1 needed an article-page GET (50 %)"),
            "{text}"
        );
        assert!(
            text.contains("google pace (egress \"default\"): one article-page GET per 30s"),
            "{text}"
        );
    }
}
