//! Full text end to end: a local publisher serving articles in several
//! charsets, redirects, a gzip bomb, a slow drip, a PDF, a consent wall and a
//! robots.txt, measured for politeness by the server itself.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;

use crate::helpers::{
    engine_test, execute, fetch_one, rss, spawn_app_env_on, stdout, Engine, Item, TestApp,
};

fn paragraphs(topic: &str) -> String {
    (1..=6)
        .map(|i| {
            format!(
                "<p>Paragraph {i} about {topic}: the council met on Tuesday and debated the plan at length, \
                 hearing from residents, engineers and the mayor before a vote that surprised many observers.</p>"
            )
        })
        .collect()
}

fn article_page(title: &str, body: &str, head_extra: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">{head_extra}<title>{title}</title></head>\
         <body><nav><a href=\"/\">Home</a> <a href=\"/world\">World</a></nav>\
         <article><h1>{title}</h1>{body}</article>\
         <footer>Copyright Example Publisher. Subscribe to our newsletter.</footer></body></html>"
    )
}

fn encoded(text: &str, enc: &'static encoding_rs::Encoding) -> Vec<u8> {
    enc.encode(text).0.into_owned()
}

#[derive(Clone, Default)]
struct Counters {
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
    starts: Arc<Mutex<Vec<Instant>>>,
}

struct Publisher {
    base: String,
    counters: Counters,
}

fn html_response(content_type: &'static str, body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn start_publisher() -> Publisher {
    let counters = Counters::default();
    let c = counters.clone();
    let track = move |path: String| {
        let c = c.clone();
        async move {
            if path != "/robots.txt" {
                c.starts.lock().unwrap().push(Instant::now());
            }
            let now = c.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            c.max_in_flight.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            c.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    };
    let jsonld = r#"<script type="application/ld+json">{"@context":"https://schema.org","@type":"NewsArticle",
        "headline":"Council approves the river plan","author":{"@type":"Person","name":"Ada Reporter"},
        "datePublished":"2026-11-27T08:30:00Z","dateModified":"2026-11-27T10:00:00Z"}</script>
        <link rel="canonical" href="/news/river-plan">"#;
    let t = track.clone();
    let router = axum::Router::new()
        .route(
            "/robots.txt",
            get(move || {
                let t = t.clone();
                async move {
                    t("/robots.txt".into()).await;
                    "User-agent: *\nDisallow: /private/\n"
                }
            }),
        )
        .route(
            "/news/{slug}",
            get({
                let track = track.clone();
                move |axum::extract::Path(slug): axum::extract::Path<String>| {
                    let track = track.clone();
                    async move {
                        track(format!("/news/{slug}")).await;
                        news(&slug, jsonld).await
                    }
                }
            }),
        )
        .route(
            "/private/{slug}",
            get(|| async { article_page("Secret", &paragraphs("secrets"), "") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Publisher {
        base: format!("http://{addr}"),
        counters,
    }
}

/// 20 MiB of spaces, gzipped once (about 20 KiB on the wire).
fn gzip_bomb() -> &'static [u8] {
    static BOMB: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BOMB.get_or_init(|| {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let spaces = vec![b' '; 1 << 20];
        for _ in 0..20 {
            gz.write_all(&spaces).unwrap();
        }
        gz.finish().unwrap()
    })
}

async fn news(slug: &str, jsonld: &str) -> Response {
    match slug {
        "river" => html_response(
            "text/html; charset=utf-8",
            article_page("Council approves the river plan", &(paragraphs("the river") + "<p>The word zanzibarite appears only in the body.</p>"), jsonld).into_bytes(),
        ),
        "river-plan" => html_response(
            "text/html; charset=utf-8",
            article_page("Council approves the river plan", &paragraphs("the river"), "").into_bytes(),
        ),
        "sjis" => html_response(
            "text/html; charset=Shift_JIS",
            encoded(&article_page("東京の記事", &paragraphs("東京都の新しい条例と市民の反応"), ""), encoding_rs::SHIFT_JIS),
        ),
        "gbk" => html_response(
            "text/html",
            encoded(
                &article_page("北京新闻", &paragraphs("北京市政府发布的新政策"), "").replace("utf-8", "gbk"),
                encoding_rs::GBK,
            ),
        ),
        "cp1251" => html_response(
            "text/html",
            encoded(
                &article_page("Новости Москвы", &paragraphs("городской совет Москвы"), "")
                    .replace("<meta charset=\"utf-8\">", "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1251\">"),
                encoding_rs::WINDOWS_1251,
            ),
        ),
        "latin1" => html_response(
            "text/html; charset=ISO-8859-1",
            encoded(&article_page("Café crème", &paragraphs("le café à Zürich où l'été est très chaud"), ""), encoding_rs::WINDOWS_1252),
        ),
        "hop1" => (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, "/news/hop2")]).into_response(),
        "hop2" => (StatusCode::FOUND, [(header::LOCATION, "/news/hopped")]).into_response(),
        "hopped" => html_response(
            "text/html",
            article_page("Arrived after two hops", &paragraphs("redirects"), "").into_bytes(),
        ),
        "bomb" => {
            let body = gzip_bomb().to_vec();
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, "text/html".parse().unwrap());
            h.insert(header::CONTENT_ENCODING, "gzip".parse().unwrap());
            (h, body).into_response()
        }
        "drip" => {
            let stream = futures::stream::unfold(0, |i| async move {
                if i >= 100 {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                Some((Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"<p>x</p>")), i + 1))
            });
            ([(header::CONTENT_TYPE, "text/html")], Body::from_stream(stream)).into_response()
        }
        "front" => html_response(
            "text/html",
            article_page(
                "Latest news",
                &(0..12)
                    .map(|i| format!("<div><h3><a href=\"/news/s{i}\">Story {i} about the budget</a></h3><p>Teaser {i}.</p></div>"))
                    .collect::<String>(),
                "",
            )
            .into_bytes(),
        ),
        "report.pdf" => html_response("application/pdf", b"%PDF-1.7 binary".to_vec()),
        "limited" => (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "3600")]).into_response(),
        "consent" => html_response(
            "text/html",
            b"<html><head><title>Before you continue</title></head><body><h1>Before you continue</h1>\
              <p>We use cookies and data to deliver our services.</p>\
              <form action=\"https://consent.example.com/save\" method=\"post\"><button>Accept all</button><button>Reject all</button></form></body></html>"
                .to_vec(),
        ),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

const SLUGS: [&str; 10] = [
    "river",
    "sjis",
    "gbk",
    "cp1251",
    "latin1",
    "hop1",
    "bomb",
    "drip",
    "report.pdf",
    "consent",
];

async fn setup(
    engine: Engine,
    extra_env: &[(&str, &str)],
) -> (Publisher, wiremock::MockServer, TestApp) {
    let publisher = start_publisher().await;
    let feed_server = wiremock::MockServer::start().await;
    let mut links: Vec<String> = SLUGS
        .iter()
        .map(|s| format!("{}/news/{s}", publisher.base))
        .collect();
    links.push(format!("{}/private/secret", publisher.base));
    let items: Vec<Item> = links
        .iter()
        .enumerate()
        .map(|(i, l)| Item {
            guid: Box::leak(format!("g{i}").into_boxed_str()),
            title: Box::leak(format!("Story {i}").into_boxed_str()),
            link: l,
        })
        .collect();
    wiremock::Mock::given(wiremock::matchers::path("/feed"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_string(rss(&items)))
        .mount(&feed_server)
        .await;
    let mut env = vec![
        ("NEWSD__HTTP__TIMEOUT", "2s"),
        ("NEWSD__HTTP__MAX_BODY_BYTES", "2MiB"),
    ];
    env.extend_from_slice(extra_env);
    let t = spawn_app_env_on(engine, &[format!("{}/feed", feed_server.uri())], "", &env).await;
    (publisher, feed_server, t)
}

async fn status_of(t: &TestApp, slug: &str) -> (String, Option<String>) {
    // (Slugs are the test's own constants: no quoting needed.)
    fetch_one(
        t.app.store(),
        &format!(
            "SELECT j.status, a.text FROM fulltext_jobs j JOIN articles a ON a.id = j.article_id WHERE a.url LIKE '%/{slug}'"
        ),
    )
    .await
}

engine_test! {
    async fn articles_get_clean_text_and_named_statuses_for_everything_else(engine) {
        let (_p, _f, t) = setup(engine, &[]).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        let r = t.app.drain_fulltext_once(Utc::now()).await.unwrap();
        assert_eq!(r.taken, 11, "{r:?}");

        let (s, text) = status_of(&t, "river-plan").await;
        assert_eq!(s, "done", "the canonical URL became the identity");
        let text = text.unwrap();
        assert!(text.contains("Paragraph 6 about the river"));
        assert!(
            !text.contains("Subscribe to our newsletter"),
            "boilerplate stays out"
        );
        let (authors, published, modified, canonical): (String, String, Option<String>, String) = fetch_one(
            t.app.store(),
            "SELECT authors, published_at, modified_at, canonical_url FROM articles WHERE url LIKE '%/river-plan'",
        )
        .await;
        assert!(authors.contains("Ada Reporter"), "{authors}");
        assert_eq!(published, "2026-11-28T01:00:00Z", "the feed's date is kept");
        assert_eq!(modified.as_deref(), Some("2026-11-27T10:00:00Z"));
        assert!(canonical.ends_with("/news/river-plan"));

        for (slug, needle) in [
            ("sjis", "東京都の新しい条例"),
            ("gbk", "北京市政府发布的新政策"),
            ("cp1251", "городской совет Москвы"),
            ("latin1", "le café à Zürich où l'été"),
            ("hopped", "Paragraph 3 about redirects"),
        ] {
            let (s, text) = status_of(&t, slug).await;
            assert_eq!(s, "done", "{slug}");
            assert!(text.unwrap().contains(needle), "{slug} decodes correctly");
        }
        for (slug, expected) in [
            ("bomb", "too_large"),
            ("report.pdf", "not_html"),
            ("consent", "pending"),
            ("secret", "disallowed"),
            ("drip", "pending"),
        ] {
            let (s, text) = status_of(&t, slug).await;
            assert_eq!(s, expected, "{slug}");
            assert_eq!(text, None, "{slug} keeps no text");
        }
        let (err,): (String,) = fetch_one(
            t.app.store(),
            "SELECT last_error FROM fulltext_jobs j JOIN articles a ON a.id = j.article_id WHERE a.url LIKE '%/consent'",
        )
        .await;
        assert!(err.contains("consent_wall"), "{err}");
        let (summary,): (Option<String>,) = fetch_one(
            t.app.store(),
            "SELECT summary FROM articles WHERE url LIKE '%/report.pdf'",
        )
        .await;
        assert_eq!(
            summary.as_deref(),
            Some("About Story 8"),
            "the feed summary is kept"
        );

        let out = t.cli(&["search", "zanzibarite"]);
        assert!(
            stdout(&out).contains("zanzibarite"),
            "body text is searchable: {}",
            stdout(&out)
        );
    }
}

engine_test! {
    async fn a_listing_page_keeps_its_summary_and_the_api_and_export_name_each_kind(engine) {
        let publisher = start_publisher().await;
        let feed_server = wiremock::MockServer::start().await;
        let links = [
            format!("{}/news/river-plan", publisher.base),
            format!("{}/news/front", publisher.base),
        ];
        let items = [
            Item { guid: "a", title: "Council approves the river plan", link: &links[0] },
            Item { guid: "b", title: "Latest news", link: &links[1] },
        ];
        wiremock::Mock::given(wiremock::matchers::path("/feed"))
            .respond_with(wiremock::ResponseTemplate::new(200).set_body_string(rss(&items)))
            .mount(&feed_server)
            .await;
        let t = spawn_app_env_on(engine, &[format!("{}/feed", feed_server.uri())], "", &[]).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        t.app.drain_fulltext_once(Utc::now()).await.unwrap();

        let (status, text) = status_of(&t, "front").await;
        assert_eq!(status, "not_article");
        assert_eq!(text, None, "a listing keeps no text");

        let api = crate::api::Api::read_write(&t).await;
        let list = api.get_ok("/api/v1/articles?limit=10").await;
        let kinds: std::collections::BTreeMap<String, serde_json::Value> = list["articles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["title"].as_str().unwrap().to_owned(), a["page_kind"].clone()))
            .collect();
        assert_eq!(kinds["Council approves the river plan"], "article", "{list}");
        assert_eq!(kinds["Latest news"], "listing", "{list}");
        let front = list["articles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["title"] == "Latest news")
            .unwrap();
        assert_eq!(front["summary"], "About Latest news", "the feed summary is kept");
        assert_eq!(front["has_text"], false);

        let out = t.cli(&["export", "--format", "jsonl"]);
        let exported: Vec<serde_json::Value> = stdout(&out)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let mut kinds: Vec<&str> = exported.iter().filter_map(|a| a["page_kind"].as_str()).collect();
        kinds.sort_unstable();
        assert_eq!(kinds, ["article", "listing"]);
    }
}

engine_test! {
    async fn one_host_never_sees_two_requests_at_once_and_the_delay_is_kept(engine) {
        let (p, _f, t) = setup(engine, &[("NEWSD__HTTP__PER_HOST_DELAY", "300ms")]).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        t.app.drain_fulltext_once(Utc::now()).await.unwrap();
        assert_eq!(p.counters.max_in_flight.load(Ordering::SeqCst), 1);
        let starts = p.counters.starts.lock().unwrap().clone();
        assert!(starts.len() >= 5);
        // The delay runs from one request's start to the next's, and these are
        // arrivals at the server: a request that reaches it late (the machine
        // busy) shortens the gap after it by as much, but never the whole span,
        // which only the first arrival's lateness can shorten.
        for w in starts.windows(2) {
            let gap = w[1].duration_since(w[0]);
            assert!(gap >= Duration::from_millis(100), "gap {gap:?}");
        }
        let span = starts[starts.len() - 1].duration_since(starts[0]);
        let kept = Duration::from_millis(300) * (starts.len() as u32 - 1);
        assert!(
            span + Duration::from_millis(100) >= kept,
            "{} requests in {span:?}",
            starts.len()
        );
    }
}

engine_test! {
    async fn a_restart_mid_queue_loses_no_work(engine) {
        let (_p, _f, t) = setup(engine, &[]).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        let now = Utc::now();
        // A worker takes two jobs and dies holding them.
        let taken = t
            .app
            .store()
            .lease_fulltext_jobs(now, now + chrono::Duration::minutes(5), 2)
            .await
            .unwrap();
        assert_eq!(taken.len(), 2);
        let restarted = t.restart().await;
        let r = restarted.fulltext().fulltext_once(now, 100).await.unwrap();
        assert_eq!(r.taken, 9, "leased work waits for its lease");
        let r = restarted
            .fulltext()
            .fulltext_once(now + chrono::Duration::minutes(6), 100)
            .await
            .unwrap();
        assert!(r.taken >= 2, "expired leases are taken up again: {r:?}");
        let leased_ids: Vec<i64> = taken.iter().map(|j| j.article_id).collect();
        for id in leased_ids {
            let (status, lease): (String, Option<String>) = fetch_one(
                restarted.store(),
                &format!("SELECT status, lease_until FROM fulltext_jobs WHERE article_id = {id}"),
            )
            .await;
            assert_ne!(status, "pending_lost");
            assert_eq!(lease, None, "finished or rescheduled, not stuck");
        }
    }
}

engine_test! {
    async fn kept_raw_pages_can_be_re_extracted(engine) {
        let (_p, _f, t) = setup(engine, &[("NEWSD__EXTRACT__KEEP_RAW_HTML", "true")]).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        t.app.drain_fulltext_once(Utc::now()).await.unwrap();
        execute(
            t.app.store(),
            "UPDATE articles SET text = NULL WHERE url LIKE '%/river-plan'",
        )
        .await;
        let out = t.cli(&["reextract"]);
        assert!(out.status.success(), "{}", crate::helpers::stderr(&out));
        // The page that lost its text is accepted again by the worker's
        // rule; the others extract as they did.
        let said = stdout(&out);
        assert!(said.contains("0 improved"), "{said}");
        assert!(said.contains("0 newly rejected, 1 newly accepted"), "{said}");
        let (_, text) = status_of(&t, "river-plan").await;
        assert!(text.unwrap().contains("Paragraph 6 about the river"));
    }
}

engine_test! {
    async fn a_host_that_asked_us_to_wait_is_not_fetched_again_even_after_a_restart(engine) {
        let publisher = start_publisher().await;
        let feed_server = wiremock::MockServer::start().await;
        let links = [
            format!("{}/news/limited", publisher.base),
            format!("{}/news/river", publisher.base),
        ];
        let items = [
            Item {
                guid: "l",
                title: "Limited",
                link: &links[0],
            },
            Item {
                guid: "r",
                title: "River",
                link: &links[1],
            },
        ];
        wiremock::Mock::given(wiremock::matchers::path("/feed"))
            .respond_with(wiremock::ResponseTemplate::new(200).set_body_string(rss(&items)))
            .mount(&feed_server)
            .await;
        let t = spawn_app_env_on(engine,
            &[format!("{}/feed", feed_server.uri())],
            "",
            &[("NEWSD__EXTRACT__MAX_CONCURRENT", "1")],
        )
        .await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        let now = Utc::now();
        t.app.fulltext().fulltext_once(now, 1).await.unwrap();
        let hits_before = publisher.counters.starts.lock().unwrap().len();
        assert_eq!(hits_before, 1, "only the limited page was asked for");
        let backoffs = t.app.store().host_backoffs(now).await.unwrap();
        assert_eq!(backoffs.len(), 1, "the host's wish is stored");

        let restarted = t.restart().await;
        let r = restarted.fulltext().fulltext_once(now, 10).await.unwrap();
        assert_eq!(r.stored, 0);
        assert_eq!(
            publisher.counters.starts.lock().unwrap().len(),
            hits_before,
            "no request to a host in backoff"
        );
    }
}

/// An article page of about `bytes`, nearly all of it inline script, JSON
/// state and style (half before the article, half after), as real pages at
/// the body cap are.
fn script_heavy_page(bytes: usize) -> String {
    let state = "{\"id\":1,\"teaser\":\"<p>Teaser kept in page state</p>\"},".repeat(4000);
    let chunk = format!(
        "<script>window.__STATE__ = [{state}{{}}];</script><style>.a > b {{ color: red }}</style>"
    );
    let half = chunk.repeat(bytes / 2 / chunk.len());
    let jsonld = r#"<script type="application/ld+json">{"@context":"https://schema.org","@type":"NewsArticle",
        "headline":"The harbour plan","author":{"@type":"Person","name":"Ben Writer"}}</script>"#;
    article_page(
        "The harbour plan",
        &paragraphs("the harbour"),
        &format!("{jsonld}{half}"),
    )
    .replace("</article>", &format!("</article>{half}"))
}

engine_test! {
    async fn pages_at_the_body_cap_made_of_scripts_store_their_article(engine) {
        let page = script_heavy_page(9 << 20);
        assert!(page.len() > 8 << 20 && page.len() < 10 << 20);
        let router = axum::Router::new().route(
            "/big/{n}",
            get(move || {
                let page = page.clone();
                async move { html_response("text/html; charset=utf-8", page.into_bytes()) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let feed_server = wiremock::MockServer::start().await;
        let links: Vec<String> = (0..2).map(|n| format!("{base}/big/{n}")).collect();
        let items: Vec<Item> = links
            .iter()
            .enumerate()
            .map(|(i, link)| Item {
                guid: Box::leak(format!("big{i}").into_boxed_str()),
                title: Box::leak(format!("Big {i}").into_boxed_str()),
                link,
            })
            .collect();
        wiremock::Mock::given(wiremock::matchers::path("/feed"))
            .respond_with(wiremock::ResponseTemplate::new(200).set_body_string(rss(&items)))
            .mount(&feed_server)
            .await;
        // A budget smaller than either page: they are extracted one by one.
        let env = [("NEWSD__EXTRACT__MAX_CONCURRENT_BYTES", "16KiB")];
        let t = spawn_app_env_on(engine, &[format!("{}/feed", feed_server.uri())], "", &env).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        let r = t.app.drain_fulltext_once(Utc::now()).await.unwrap();
        assert_eq!(r.stored, 2, "{r:?}");
        for n in 0..2 {
            let (s, text) = status_of(&t, &format!("big/{n}")).await;
            assert_eq!(s, "done");
            let text = text.unwrap();
            assert!(text.contains("Paragraph 6 about the harbour"), "{text}");
            assert!(!text.contains("Teaser kept in page state"));
        }
        let (authors,): (String,) = fetch_one(
            t.app.store(),
            "SELECT authors FROM articles WHERE url LIKE '%/big/0'",
        )
        .await;
        assert!(authors.contains("Ben Writer"), "the JSON-LD is read: {authors}");
    }
}
