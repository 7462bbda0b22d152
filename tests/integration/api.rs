//! The HTTP API over real sockets: the router served on 127.0.0.1:0 over a
//! temp database seeded by polling local feed servers.

use std::collections::{BTreeSet, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, Utc};
use newsd::api::{self, Access, ApiState};
use newsd::config::Settings;
use newsd::store::Store;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{engine_test, execute, rss, spawn_app_on, stderr, Engine, Item, TestApp};

/// A running API; stops when dropped.
pub(crate) struct Api {
    base: String,
    client: reqwest::Client,
    token: Option<String>,
    _stop: tokio_util::sync::DropGuard,
}

struct Reply {
    status: u16,
    content_type: String,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    fn error_code(&self) -> String {
        serde_json::from_str::<Value>(&self.body).unwrap_or_default()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn error_message(&self) -> String {
        self.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

impl Api {
    async fn start(store: Store, settings: Settings, access: Access) -> Api {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let token = settings.api.token.as_ref().map(|t| t.expose().to_owned());
        let stop = CancellationToken::new();
        tokio::spawn(api::serve(
            listener,
            ApiState::new(store, settings, access),
            stop.clone(),
        ));
        Api {
            base,
            client: reqwest::Client::new(),
            token,
            _stop: stop.drop_guard(),
        }
    }

    /// The API of `newsd run`: read-write over the app's store.
    pub(crate) async fn read_write(t: &TestApp) -> Api {
        Api::start(
            t.app.store().clone(),
            t.app.settings().clone(),
            Access::ReadWrite,
        )
        .await
    }

    /// The API of `newsd serve`: read-only store.
    async fn read_only(t: &TestApp) -> Api {
        let s = t.app.settings();
        let store = Store::open_read_only(&s.database.url, Duration::from_secs(5))
            .await
            .expect("read-only store opens");
        Api::start(store, t.app.settings().clone(), Access::ReadOnly).await
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = resp.text().await.expect("body");
        Reply {
            status,
            content_type,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(self.client.get(format!("{}{path}", self.base)))
            .await
    }

    pub(crate) async fn get_ok(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        r.json()
    }
}

fn numbered(prefix: &str, range: std::ops::Range<usize>) -> Vec<(String, String, String)> {
    range
        .map(|i| {
            (
                format!("{prefix}-{i}"),
                format!("{prefix} story number {i}"),
                format!("https://news.example/{prefix}/{i}"),
            )
        })
        .collect()
}

fn rss_of(items: &[(String, String, String)]) -> String {
    let items: Vec<Item<'_>> = items
        .iter()
        .map(|(guid, title, link)| Item { guid, title, link })
        .collect();
    rss(&items)
}

/// Replaces what the feed server answers at `/feed`.
async fn set_feed(server: &MockServer, body: String) {
    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/feed"))
        .respond_with(ResponseTemplate::new(200).set_body_string(body))
        .mount(server)
        .await;
}

async fn seeded(engine: Engine, items: &[(String, String, String)]) -> (TestApp, MockServer) {
    seeded_at(engine, items, Utc::now()).await
}

/// A config feed serving `items`, polled once at `now`.
async fn seeded_at(
    engine: Engine,
    items: &[(String, String, String)],
    now: DateTime<Utc>,
) -> (TestApp, MockServer) {
    let server = MockServer::start().await;
    set_feed(&server, rss_of(items)).await;
    let t = spawn_app_on(engine, &[format!("{}/feed", server.uri())]).await;
    t.app.poll_all_once(now).await.expect("poll");
    (t, server)
}

fn ids(page: &Value, key: &str) -> Vec<i64> {
    page[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key}: {page}"))
        .iter()
        .map(|a| a["id"].as_i64().expect("integer id"))
        .collect()
}

fn minutes_after(t: DateTime<Utc>, m: i64) -> DateTime<Utc> {
    t + chrono::Duration::minutes(m)
}

engine_test! {
    async fn pagination_never_skips_or_repeats_while_new_articles_arrive_between_pages(engine) {
        let first = numbered("old", 0..10);
        let start = Utc::now();
        let (t, server) = seeded_at(engine, &first, start).await;
        let api = Api::read_write(&t).await;
        let before: Vec<i64> = ids(&api.get_ok("/api/v1/articles?limit=100").await, "articles");
        assert_eq!(before.len(), 10);

        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut round = 0;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/articles?limit=3&cursor={c}"),
                None => "/api/v1/articles?limit=3".to_owned(),
            };
            let page = api.get_ok(&path).await;
            seen.extend(ids(&page, "articles"));
            // New articles arrive between pages: first in the very second the
            // listed ones were first seen (ties on first_seen_at), then later.
            round += 1;
            let mut items = first.clone();
            items.extend(numbered(&format!("new{round}"), 0..4));
            set_feed(&server, rss_of(&items)).await;
            let now = if round == 1 {
                start
            } else {
                minutes_after(start, round as i64)
            };
            t.app.poll_all_once(now).await.expect("poll");
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen, before, "every article once, newest first");
        let after = ids(&api.get_ok("/api/v1/articles?limit=100").await, "articles");
        assert_eq!(after.len(), 10 + 4 * round);
        let distinct: HashSet<i64> = after.iter().copied().collect();
        assert_eq!(distinct.len(), after.len());
    }
}

engine_test! {
    async fn q_matches_ranked_words_and_its_pages_cover_every_hit_once(engine) {
        let mut items = numbered("chips", 0..5);
        items.push((
            "x".into(),
            "Weather is mild today".into(),
            "https://news.example/w".into(),
        ));
        items.push((
            "cn".into(),
            "清华大学发布人工智能研究报告".into(),
            "https://news.example/cn".into(),
        ));
        let (t, server) = seeded(engine, &items).await;
        let api = Api::read_write(&t).await;

        let all = api.get_ok("/api/v1/articles?q=chips&limit=100").await;
        let all_ids = ids(&all, "articles");
        assert_eq!(all_ids.len(), 5);
        let first = &all["articles"][0];
        assert!(first["snippet"].as_str().unwrap_or_default().contains('['));
        assert!(first["rank"].is_number());

        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/articles?q=chips&limit=2&cursor={c}"),
                None => "/api/v1/articles?q=chips&limit=2".to_owned(),
            };
            let page = api.get_ok(&path).await;
            seen.extend(ids(&page, "articles"));
            // More matching articles arrive: they must not enter this search.
            let mut more = items.clone();
            more.extend(numbered(&format!("chips-late-{}", seen.len()), 0..2));
            set_feed(&server, rss_of(&more)).await;
            t.app.poll_all_once(Utc::now()).await.expect("poll");
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen, all_ids);

        let cn = api
            .get_ok("/api/v1/articles?q=%E6%B8%85%E5%8D%8E%E5%A4%A7%E5%AD%A6")
            .await;
        assert_eq!(ids(&cn, "articles").len(), 1, "{cn}");
        let none = api.get_ok("/api/v1/articles?q=volcano").await;
        assert!(ids(&none, "articles").is_empty());
        assert!(none["next_cursor"].is_null());

        // A listing cursor is not a search cursor.
        let listing = api.get_ok("/api/v1/articles?limit=1").await;
        let c = listing["next_cursor"].as_str().expect("cursor");
        let r = api
            .get(&format!("/api/v1/articles?q=chips&cursor={c}"))
            .await;
        assert_eq!(r.status, 400);
        assert!(r.error_message().contains("`cursor`"), "{}", r.body);
    }
}

engine_test! {
    async fn filters_narrow_the_listing_and_one_article_shows_everything_stored(engine) {
        let (t, _server) = seeded(engine, &numbered("f", 0..3)).await;
        let api = Api::read_write(&t).await;
        let feeds = api.get_ok("/api/v1/feeds").await;
        let feed_id = feeds["feeds"][0]["id"].as_i64().expect("feed id");
        let all = api
            .get_ok(&format!(
                "/api/v1/articles?feed={feed_id}&since=1h&has_text=false&publisher="
            ))
            .await;
        assert_eq!(ids(&all, "articles").len(), 3);
        let none = api.get_ok("/api/v1/articles?feed=999").await;
        assert!(ids(&none, "articles").is_empty());
        let none = api
            .get_ok("/api/v1/articles?until=2000-01-01T00:00:00Z")
            .await;
        assert!(ids(&none, "articles").is_empty());
        let none = api.get_ok("/api/v1/articles?has_text=true").await;
        assert!(ids(&none, "articles").is_empty());

        let id = ids(&all, "articles")[0];
        execute(
            t.app.store(),
            &format!("UPDATE articles SET text = 'The full text.' WHERE id = {id}"),
        )
        .await;
        let one = api.get_ok(&format!("/api/v1/articles/{id}")).await;
        let a = &one["article"];
        assert_eq!(a["id"], id);
        assert_eq!(a["text"], "The full text.");
        assert!(a["url_key"].is_string(), "every stored column: {a}");
        assert!(a["authors"].is_array());
        assert_eq!(a["feeds"][0]["feed_id"], feed_id);
        assert!(a["links"][0]
            .as_str()
            .unwrap_or_default()
            .starts_with("https://news.example/f/"));
        let r = api.get("/api/v1/articles/424242").await;
        assert_eq!(r.status, 404);
        assert_eq!(r.error_code(), "not_found");
    }
}

engine_test! {
    async fn a_bad_parameter_is_a_400_that_names_it(engine) {
        let (t, _server) = seeded(engine, &numbered("p", 0..2)).await;
        let api = Api::read_write(&t).await;
        for (query, param) in [
            ("/api/v1/articles?limit=ten", "limit"),
            ("/api/v1/articles?limit=0", "limit"),
            ("/api/v1/articles?since=last-tuesday", "since"),
            ("/api/v1/articles?until=soon", "until"),
            ("/api/v1/articles?has_text=maybe", "has_text"),
            ("/api/v1/articles?feed=one", "feed"),
            ("/api/v1/articles?cursor=bm90LWEtY3Vyc29y", "cursor"),
            ("/api/v1/articles?sinse=24h", "sinse"),
            ("/api/v1/articles?fts=true", "fts"),
            ("/api/v1/articles?q=%28unbalanced&fts=true", "q"),
            ("/api/v1/articles/abc", "id"),
            ("/api/v1/feeds/-3", "id"),
            ("/feeds/x.atom", "feed_id"),
            ("/search.atom", "q"),
        ] {
            let r = api.get(query).await;
            assert_eq!(r.status, 400, "{query}: {}", r.body);
            assert_eq!(r.error_code(), "bad_parameter", "{query}: {}", r.body);
            assert!(
                r.error_message().contains(&format!("`{param}`")),
                "{query} should name {param}: {}",
                r.body
            );
        }
        let r = api.get("/api/v1/nothing-here").await;
        assert_eq!(r.status, 404);
        assert_eq!(r.error_code(), "not_found");
        let r = api
            .send(api.client.put(format!("{}/api/v1/feeds", api.base)))
            .await;
        assert_eq!(r.status, 405);
        assert_eq!(r.error_code(), "method_not_allowed");
    }
}

engine_test! {
    async fn with_a_token_every_route_but_the_probes_needs_it(engine) {
        let t = spawn_app_on(engine, &[]).await;
        let mut settings = t.app.settings().clone();
        settings.api.token = Some("tok-123-secret".into());
        let mut api = Api::start(t.app.store().clone(), settings, Access::ReadWrite).await;
        assert_eq!(api.get("/api/v1/feeds").await.status, 200, "with the token");
        api.token = None;
        for route in [
            "/api/v1/feeds",
            "/api/v1/articles",
            "/metrics",
            "/api/v1/openapi.json",
            "/search.atom?q=x",
        ] {
            let r = api.get(route).await;
            assert_eq!(r.status, 401, "{route}");
            assert_eq!(r.error_code(), "unauthorized");
            assert_eq!(
                r.headers
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok()),
                Some("Bearer")
            );
        }
        api.token = Some("tok-123-wrong".into());
        assert_eq!(api.get("/api/v1/feeds").await.status, 401);
        api.token = None;
        assert_eq!(api.get("/healthz").await.status, 200);
        let ready = api.get_ok("/readyz").await;
        assert_eq!(ready["status"], "ready");
        assert!(ready["schema_version"].as_i64().unwrap_or_default() > 0);
    }
}

engine_test! {
    async fn atom_and_json_feed_outputs_parse_with_feed_rs(engine) {
        let server = MockServer::start().await;
        let body = r#"<?xml version="1.0" encoding="UTF-8"?>
    <rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>Wire &amp; Co</title><link>https://wire.example/</link>
    <item><guid>a1</guid><title>Rates &amp; rise again</title><link>https://wire.example/a1?utm_source=rss</link>
    <description>Summary one &amp; more</description><dc:creator>Ann Writer</dc:creator>
    <source url="https://publisher.example">The Publisher</source><pubDate>Sat, 28 Nov 2026 01:00:00 GMT</pubDate></item>
    <item><guid>a2</guid><title>Second story</title><link>https://wire.example/a2</link>
    <description>Summary two</description><pubDate>Sat, 28 Nov 2026 02:00:00 GMT</pubDate></item>
    </channel></rss>"#;
        set_feed(&server, body.to_owned()).await;
        let t = spawn_app_on(engine, &[format!("{}/feed", server.uri())]).await;
        t.app.poll_all_once(Utc::now()).await.expect("poll");
        execute(
            t.app.store(),
            "UPDATE articles SET text = 'Full <b>text</b> & \"quotes\"' WHERE url = 'https://wire.example/a1'",
        )
        .await;
        // An edited article is searchable again after the next indexing round.
        t.app.store().index_pending().await.expect("index");
        let api = Api::read_write(&t).await;
        let feed_id = api.get_ok("/api/v1/feeds").await["feeds"][0]["id"]
            .as_i64()
            .expect("feed id");

        let r = api.get(&format!("/feeds/{feed_id}.atom")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.content_type.starts_with("application/atom+xml"));
        let atom = feed_rs::parser::parse(r.body.as_bytes()).expect("valid Atom");
        assert_eq!(atom.feed_type, feed_rs::model::FeedType::Atom);
        assert_eq!(atom.entries.len(), 2);
        let a1 = atom
            .entries
            .iter()
            .find(|e| e.links.iter().any(|l| l.href == "https://wire.example/a1"))
            .expect("link is the publisher URL without tracking parameters");
        assert_eq!(
            a1.title.as_ref().map(|t| t.content.as_str()),
            Some("Rates & rise again")
        );
        let content = a1.content.as_ref().and_then(|c| c.body.clone());
        assert_eq!(content.as_deref(), Some("Full <b>text</b> & \"quotes\""));
        let names: Vec<&str> = a1.authors.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, vec!["Ann Writer"]);
        assert!(r
            .body
            .contains("<title type=\"text\">The Publisher</title>"));
        let a2 = atom
            .entries
            .iter()
            .find(|e| e.links.iter().any(|l| l.href == "https://wire.example/a2"))
            .expect("second entry");
        let content = a2.content.as_ref().and_then(|c| c.body.clone());
        assert_eq!(
            content.as_deref(),
            Some("Summary two"),
            "summary without text"
        );

        let etag = r.headers.get("etag").cloned().expect("an ETag");
        let again = api
            .send(
                api.client
                    .get(format!("{}/feeds/{feed_id}.atom", api.base))
                    .header("if-none-match", etag),
            )
            .await;
        assert_eq!(again.status, 304, "a reader that has the feed gets 304");

        let r = api.get(&format!("/feeds/{feed_id}.json")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.content_type.starts_with("application/feed+json"));
        let jf = feed_rs::parser::parse(r.body.as_bytes()).expect("valid JSON Feed");
        assert_eq!(jf.feed_type, feed_rs::model::FeedType::JSON);
        assert_eq!(jf.entries.len(), 2);
        let v = r.json();
        assert_eq!(v["version"], "https://jsonfeed.org/version/1.1");
        let item = v["items"]
            .as_array()
            .and_then(|i| i.iter().find(|i| i["url"] == "https://wire.example/a1"))
            .expect("item");
        assert_eq!(item["content_text"], "Full <b>text</b> & \"quotes\"");
        assert_eq!(item["authors"][0]["name"], "Ann Writer");
        assert_eq!(item["_newsd"]["publisher"], "The Publisher");

        let r = api.get("/search.atom?q=rates").await;
        assert_eq!(r.status, 200, "{}", r.body);
        let found = feed_rs::parser::parse(r.body.as_bytes()).expect("valid Atom");
        assert_eq!(found.entries.len(), 1);

        assert_eq!(api.get("/feeds/999.atom").await.status, 404);
        assert_eq!(api.get(&format!("/feeds/{feed_id}.rss")).await.status, 404);
    }
}

engine_test! {
    async fn metrics_expose_counts_after_a_poll(engine) {
        let (t, _server) = seeded(engine, &numbered("m", 0..4)).await;
        let api = Api::read_write(&t).await;
        let r = api.get("/metrics").await;
        assert_eq!(r.status, 200);
        assert!(
            r.content_type.starts_with("text/plain"),
            "{}",
            r.content_type
        );
        for line in r.body.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.starts_with("newsd_"), "{line}");
        }
        for expected in [
            "newsd_articles 4\n",
            "newsd_feed_items 4\n",
            "newsd_feeds{status=\"ok\"} 1\n",
            "newsd_feeds{status=\"error\"} 0\n",
            "newsd_feed_errors 0\n",
            "newsd_google_links{status=\"pending\"} 0\n",
            "newsd_google_requests_total{egress=\"default\",kind=\"article_page\"} 0\n",
            "newsd_google_breaker_open{egress=\"default\"} 0\n",
        ] {
            assert!(
                r.body.contains(expected),
                "{expected:?} missing:\n{}",
                r.body
            );
        }
        let size = r
            .body
            .lines()
            .find_map(|l| l.strip_prefix("newsd_database_size_bytes "))
            .and_then(|v| v.parse::<u64>().ok())
            .expect("database size");
        assert!(size > 0);
    }
}

engine_test! {
    async fn feeds_are_added_by_url_or_google_intent_and_config_feeds_cannot_be_deleted(engine) {
        let (t, _server) = seeded(engine, &numbered("c", 0..1)).await;
        let api = Api::read_write(&t).await;
        let post = |body: Value| {
            api.client
                .post(format!("{}/api/v1/feeds", api.base))
                .header("content-type", "application/json")
                .body(body.to_string())
        };
        let r = api
            .send(post(
                serde_json::json!({ "url": "https://blog.example/rss", "name": "Blog" }),
            ))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let added = r.json()["feed"].clone();
        assert_eq!(added["origin"], "api");
        assert_eq!(added["health"]["next_poll_reason"], "new feed");
        let again = api
            .send(post(
                serde_json::json!({ "url": "https://blog.example/rss" }),
            ))
            .await;
        assert_eq!(again.status, 200);
        assert_eq!(again.json()["created"], false);

        let g = api
            .send(post(serde_json::json!({
                "google_news": { "search": "TSMC when:1d", "edition": "en-US" }
            })))
            .await;
        assert_eq!(g.status, 201, "{}", g.body);
        let url = g.json()["feed"]["url"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            url.contains("/rss/search?q=TSMC+when%3A1d&hl=en-US"),
            "{url}"
        );

        for bad in [
            serde_json::json!({ "url": "ftp://x.example/feed" }),
            serde_json::json!({}),
            serde_json::json!({ "google_news": { "topic": "WEATHER" } }),
        ] {
            let r = api.send(post(bad.clone())).await;
            assert_eq!(r.status, 400, "{bad}: {}", r.body);
            assert_eq!(r.error_code(), "bad_request");
        }

        let feeds = api.get_ok("/api/v1/feeds").await;
        let config_id = feeds["feeds"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["origin"] == "config"))
            .and_then(|f| f["id"].as_i64())
            .expect("config feed");
        let del = |id: i64| api.client.delete(format!("{}/api/v1/feeds/{id}", api.base));
        let r = api.send(del(config_id)).await;
        assert_eq!(r.status, 409, "{}", r.body);
        assert!(r.error_message().contains("config"), "{}", r.body);
        let id = added["id"].as_i64().expect("id");
        assert_eq!(api.send(del(id)).await.status, 200);
        assert_eq!(api.send(del(id)).await.status, 404);
        assert_eq!(api.get(&format!("/api/v1/feeds/{id}")).await.status, 404);
    }
}

engine_test! {
    async fn serve_refuses_writes_but_answers_reads(engine) {
        let (t, _server) = seeded(engine, &numbered("r", 0..2)).await;
        let api = Api::read_only(&t).await;
        assert_eq!(
            ids(&api.get_ok("/api/v1/articles").await, "articles").len(),
            2
        );
        let r = api
            .send(
                api.client
                    .post(format!("{}/api/v1/feeds", api.base))
                    .body(r#"{"url":"https://blog.example/rss"}"#),
            )
            .await;
        assert_eq!(r.status, 405, "{}", r.body);
        assert_eq!(r.error_code(), "read_only");
        let r = api
            .send(api.client.delete(format!("{}/api/v1/feeds/1", api.base)))
            .await;
        assert_eq!(r.status, 405);
        assert_eq!(r.error_code(), "read_only");
        assert_eq!(t.app.store().list_feeds().await.expect("feeds").len(), 1);
    }
}

engine_test! {
    async fn the_openapi_document_covers_every_route_and_every_documented_path_answers(engine) {
        let (t, _server) = seeded(engine, &numbered("o", 0..1)).await;
        let api = Api::read_only(&t).await;
        let doc = api.get_ok("/api/v1/openapi.json").await;
        assert_eq!(doc["openapi"], "3.1.0");
        let documented: BTreeSet<(String, String)> = doc["paths"]
            .as_object()
            .expect("paths")
            .iter()
            .flat_map(|(path, ops)| {
                ops.as_object()
                    .expect("operations")
                    .keys()
                    .map(move |m| (path.clone(), m.to_uppercase()))
            })
            .collect();
        let served: BTreeSet<(String, String)> = api::routes()
            .iter()
            .flat_map(|r| {
                r.documented_as.iter().flat_map(move |p| {
                    r.methods
                        .iter()
                        .map(move |m| ((*p).to_owned(), m.as_str().to_owned()))
                })
            })
            .collect();
        assert_eq!(documented, served, "routes and OpenAPI paths differ");

        for (path, method) in &documented {
            let concrete = path.replace("{id}", "1").replace("{feed_id}", "1");
            let url = format!("{}{concrete}", api.base);
            let req = match method.as_str() {
                "GET" => api.client.get(&url),
                "POST" => api.client.post(&url).body("{}"),
                "DELETE" => api.client.delete(&url),
                other => panic!("undocumented method {other}"),
            };
            let r = api.send(req).await;
            let unrouted = (r.status == 404 && r.body.contains("no such route"))
                || r.error_code() == "method_not_allowed";
            assert!(!unrouted, "{method} {path} does not answer: {}", r.body);
            assert!(r.status < 500, "{method} {path}: {}", r.body);
        }
    }
}

#[tokio::test]
async fn newsd_serve_refuses_a_public_address_without_a_token() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("public.toml");
    let db = dir.path().join("newsd.db");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n[api]\nlisten = \"0.0.0.0:0\"\n",
            db.display()
        ),
    )
    .expect("write config");
    let out = Command::new(env!("CARGO_BIN_EXE_newsd"))
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env_remove("NEWSD_CONFIG")
        .env_remove("NEWSD__API__TOKEN")
        .output()
        .expect("run newsd");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("api.listen"), "{}", stderr(&out));
    assert!(!db.exists(), "nothing was created");
}

/// Starts the real binary with `args`, JSON logs on stderr; returns it and
/// the base URL its API reported listening on.
fn spawn_daemon(t: &TestApp, args: &[&str]) -> (std::process::Child, String) {
    let mut full = vec!["--log-format", "json"];
    full.extend_from_slice(args);
    let mut child = t
        .cli_command(&full)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn newsd");
    let stderr_pipe = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
            let addr = serde_json::from_str::<Value>(&line)
                .ok()
                .and_then(|v| v["addr"].as_str().map(str::to_owned));
            if let Some(addr) = addr {
                let _ = tx.send(addr);
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(addr) => (child, format!("http://{addr}")),
        Err(_) => {
            let _ = child.kill();
            panic!("newsd {args:?} did not report its API address");
        }
    }
}

/// SIGTERM, then waits up to 10 s for a clean exit.
async fn terminate(mut child: std::process::Child) {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let start = std::time::Instant::now();
    let status = loop {
        if let Ok(Some(s)) = child.try_wait() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("newsd did not stop within 10 s of SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
}

async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    let text = client
        .get(url)
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

engine_test! {
    async fn newsd_serve_answers_reads_refuses_writes_and_stops_on_sigterm(engine) {
        let (t, _server) = seeded(engine, &numbered("s", 0..2)).await;
        let (child, base) = spawn_daemon(&t, &["serve"]);
        let client = reqwest::Client::new();
        let list = get_json(&client, &format!("{base}/api/v1/articles")).await;
        assert_eq!(ids(&list, "articles").len(), 2);
        let post = client
            .post(format!("{base}/api/v1/feeds"))
            .body(r#"{"url":"https://blog.example/rss"}"#)
            .send()
            .await
            .expect("POST");
        assert_eq!(post.status().as_u16(), 405);
        terminate(child).await;
    }
}

engine_test! {
    async fn newsd_run_serves_the_api_beside_the_scheduler_and_stops_it_on_sigterm(engine) {
        let server = MockServer::start().await;
        set_feed(&server, rss_of(&numbered("run", 0..3))).await;
        let t = spawn_app_on(engine, &[format!("{}/feed", server.uri())]).await;
        let (child, base) = spawn_daemon(&t, &["run"]);
        let client = reqwest::Client::new();
        let start = std::time::Instant::now();
        loop {
            let list = get_json(&client, &format!("{base}/api/v1/articles")).await;
            if ids(&list, "articles").len() == 3 {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(20), "never polled");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let post = client
            .post(format!("{base}/api/v1/feeds"))
            .body(r#"{"url":"https://blog.example/rss"}"#)
            .send()
            .await
            .expect("POST");
        assert_eq!(post.status().as_u16(), 201);
        terminate(child).await;
        assert!(
            client.get(format!("{base}/healthz")).send().await.is_err(),
            "the API stopped with the daemon"
        );
    }
}

const BUDGET: &str = "The city council voted on Tuesday to approve a new budget that increases \
    spending on public transport by twelve percent, the mayor said in a statement. The plan \
    includes three new bus lines, longer opening hours for the metro and a pilot program for \
    free fares for students. Opposition members criticised the cost and said the money would \
    be better spent on road repairs before the winter. The budget takes effect in January, \
    and the first new bus line is expected to open in the spring.";

const ROADS: &str = "Opposition members of the city council said on Tuesday that the new \
    transport budget ignores the state of the roads, which they described as the worst in a \
    decade. They want the council to spend the money on filling potholes and repairing bridges \
    before the winter, and warned that buses are of little use on broken streets. The mayor \
    replied that both can be done, and that road repairs have their own budget line next year.";

const FROGS: &str = "Scientists announced on Monday that a new species of frog had been found \
    in the rainforest, after a survey that lasted more than three years and covered dozens of \
    remote valleys. The frog is smaller than a fingernail and lives in leaf litter, where its \
    call can be mistaken for an insect. The team hopes the discovery will help protect the area \
    from logging, which has cleared large parts of the surrounding hills in recent years.";

engine_test! {
    async fn syndicated_copies_become_one_story_and_other_articles_on_the_topic_stay_apart(engine) {
        let server = MockServer::start().await;
        let items = [
            (
                "a",
                "City approves bigger transit budget",
                "https://one.example/budget",
            ),
            (
                "a1",
                "Transit spending rises twelve percent under new plan",
                "https://two.example/news/1234",
            ),
            (
                "a2",
                "Mayor's budget boosts buses, metro hours and student fares",
                "https://three.example/local/transit",
            ),
            (
                "b",
                "Opposition says roads should come before buses",
                "https://one.example/roads",
            ),
            (
                "c",
                "Tiny new frog species found in the rainforest",
                "https://four.example/frog",
            ),
        ];
        let feed: Vec<Item<'_>> = items
            .iter()
            .map(|(guid, title, link)| Item { guid, title, link })
            .collect();
        Mock::given(method("GET"))
            .and(path("/rss"))
            .respond_with(ResponseTemplate::new(200).set_body_string(rss(&feed)))
            .mount(&server)
            .await;
        let t = spawn_app_on(engine, &[format!("{}/rss", server.uri())]).await;
        t.app.poll_all_once(Utc::now()).await.expect("poll");
        t.app.cluster_once().await.expect("cluster");
        // Headlines alone join nothing here: each article starts a story.
        let api = Api::read_write(&t).await;
        let first = api.get_ok("/api/v1/stories").await;
        assert_eq!(
            first["stories"].as_array().map(Vec::len),
            Some(5),
            "{first}"
        );

        // Full text arrives (what the full-text worker stores): two lightly
        // edited copies of the budget story under other outlets' URLs.
        let copy1 = format!(
            "By Staff Reporter. {} Copyright 2026 Two News.",
            BUDGET.replace("on Tuesday", "on Tuesday evening")
        );
        let copy2 = BUDGET.replace("the mayor said in a statement", "Mayor Jane Doe said");
        for (url, text) in [
            ("https://one.example/budget", BUDGET.to_owned()),
            ("https://two.example/news/1234", copy1),
            ("https://three.example/local/transit", copy2),
            ("https://one.example/roads", ROADS.to_owned()),
            ("https://four.example/frog", FROGS.to_owned()),
        ] {
            let quoted = text.replace('\'', "''");
            execute(
                t.app.store(),
                &format!("UPDATE articles SET text = '{quoted}' WHERE url = '{url}'"),
            )
            .await;
            let stored = t
                .scalar(&format!(
                    "SELECT COUNT(*) FROM articles WHERE url = '{url}' AND text = '{quoted}'"
                ))
                .await;
            assert_eq!(stored, 1, "{url}");
        }
        t.app.index_new_articles().await;

        let listed = api.get_ok("/api/v1/stories").await;
        let stories = listed["stories"].as_array().cloned().unwrap_or_default();
        assert_eq!(stories.len(), 3, "{listed}");
        let big = stories
            .iter()
            .find(|s| s["size"] == 3)
            .unwrap_or_else(|| panic!("a story of three: {listed}"));
        assert_eq!(big["title"], "City approves bigger transit budget");
        let id = big["id"].as_i64().expect("id");
        let one = api.get_ok(&format!("/api/v1/stories/{id}")).await;
        let mut urls: Vec<String> = one["articles"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|a| a["url"].as_str().unwrap_or_default().to_owned())
            .collect();
        urls.sort();
        assert_eq!(
            urls,
            vec![
                "https://one.example/budget",
                "https://three.example/local/transit",
                "https://two.example/news/1234"
            ]
        );
        let filtered = api.get_ok(&format!("/api/v1/articles?story={id}")).await;
        let members = filtered["articles"].as_array().cloned().unwrap_or_default();
        assert_eq!(members.len(), 3);
        // Listings and the detail route name each article's story.
        assert!(members.iter().all(|a| a["story_id"] == id), "{filtered}");
        let member = members[0]["id"].as_i64().expect("article id");
        let detail = api.get_ok(&format!("/api/v1/articles/{member}")).await;
        assert_eq!(detail["article"]["story_id"], id, "{detail}");
        let all = api.get_ok("/api/v1/articles?limit=100").await;
        let others: Vec<&serde_json::Value> = all["articles"]
            .as_array()
            .map(|v| v.iter().filter(|a| a["story_id"] != id).collect())
            .unwrap_or_default();
        assert_eq!(others.len(), 2, "{all}");
        assert!(
            others.iter().all(|a| a["story_id"].is_i64()),
            "the roads and frog articles have stories of their own: {all}"
        );
        assert_eq!(api.get("/api/v1/stories/999999").await.status, 404);
        let paged = api.get_ok("/api/v1/stories?limit=2").await;
        let cursor = paged["next_cursor"]
            .as_str()
            .expect("a second page")
            .to_owned();
        let rest = api
            .get_ok(&format!("/api/v1/stories?limit=2&cursor={cursor}"))
            .await;
        assert_eq!(rest["stories"].as_array().map(Vec::len), Some(1));
    }
}

engine_test! {
    async fn saved_searches_are_added_listed_served_as_feeds_and_removed_and_serve_refuses_writes(engine) {
        let (t, _server) = seeded(engine, &numbered("s", 0..3)).await;
        t.app.index_new_articles().await;
        let api = Api::read_write(&t).await;
        let r = api
            .send(
                api.client
                    .post(format!("{}/api/v1/searches", api.base))
                    .body(r#"{"name":"mine","query":"story number"}"#),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let id = r.json()["search"]["id"].as_i64().unwrap();
        assert_eq!(r.json()["search"]["origin"], "api");
        let list = api.get_ok("/api/v1/searches").await;
        assert_eq!(list["searches"].as_array().unwrap().len(), 1);
        assert_eq!(api.get_ok(&format!("/api/v1/searches/{id}")).await["search"]["name"], "mine");
        let feed = api.get(&format!("/searches/{id}.atom")).await;
        assert_eq!(feed.status, 200, "{}", feed.body);
        assert!(feed.body.contains("<entry>"), "{}", feed.body);
        let feed = api.get_ok(&format!("/searches/{id}.json")).await;
        assert!(!feed["items"].as_array().unwrap().is_empty(), "{feed}");
        let bad = api
            .send(
                api.client
                    .post(format!("{}/api/v1/searches", api.base))
                    .body(r#"{"name":"x","query":"a","channels":["nope"]}"#),
            )
            .await;
        assert_eq!(bad.status, 400, "{}", bad.body);

        let ro = Api::read_only(&t).await;
        let r = ro
            .send(
                ro.client
                    .post(format!("{}/api/v1/searches", ro.base))
                    .body(r#"{"name":"other","query":"s1"}"#),
            )
            .await;
        assert_eq!(r.status, 405, "{}", r.body);
        let r = ro
            .send(ro.client.delete(format!("{}/api/v1/searches/{id}", ro.base)))
            .await;
        assert_eq!(r.status, 405);

        let r = api
            .send(api.client.delete(format!("{}/api/v1/searches/{id}", api.base)))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(api.get(&format!("/api/v1/searches/{id}")).await.status, 404);
    }
}
