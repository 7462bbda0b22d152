//! The daemon's polling slice against local feed servers.

use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Utc;
use newsd::app::PollStatus;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, SqliteConnection};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use wiremock::matchers::{header, header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{counting_server, engine_test, rss, spawn_app_on, spawn_app_with_on, Item};

fn item<'a>(guid: &'a str, title: &'a str, link: &'a str) -> Item<'a> {
    Item { guid, title, link }
}

async fn serve(server: &MockServer, at: &str, body: String) {
    Mock::given(method("GET"))
        .and(path(at))
        .respond_with(ResponseTemplate::new(200).set_body_string(body))
        .mount(server)
        .await;
}

engine_test! {
    async fn new_entries_are_stored_exactly_once_across_repeated_polls(engine) {
        let server = MockServer::start().await;
        let body = rss(&[
            item("a", "First", "https://n.example/1"),
            item("b", "Second", "https://n.example/2"),
        ]);
        serve(&server, "/feed", body).await;
        let t = spawn_app_on(engine, &[format!("{}/feed", server.uri())]).await;
        let r = t.app.poll_all_once(Utc::now()).await.unwrap();
        assert_eq!(
            r[0].status,
            PollStatus::Ok {
                new_items: 2,
                new_articles: 2
            }
        );
        for _ in 0..3 {
            let r = t.app.poll_all_once(Utc::now()).await.unwrap();
            assert_eq!(
                r[0].status,
                PollStatus::Ok {
                    new_items: 0,
                    new_articles: 0
                }
            );
        }
        assert_eq!(t.article_count().await, 2);
    }
}

engine_test! {
    async fn the_same_article_in_two_feeds_is_one_article_with_two_feed_links(engine) {
        let server = MockServer::start().await;
        serve(
            &server,
            "/one",
            rss(&[item("x1", "Shared story", "https://n.example/shared")]),
        )
        .await;
        serve(
            &server,
            "/two",
            rss(&[item(
                "y9",
                "Shared story",
                "https://www.n.example/shared?utm_source=two&utm_medium=rss",
            )]),
        )
        .await;
        let t = spawn_app_on(engine, &[
            format!("{}/one", server.uri()),
            format!("{}/two", server.uri()),
        ])
        .await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        assert_eq!(t.article_count().await, 1);
        let page = t.app.store().export_page(None, 0, 10).await.unwrap();
        assert_eq!(page[0].feeds.len(), 2);
        assert_eq!(page[0].links.len(), 2, "both original links are kept");
    }
}

engine_test! {
    async fn tracking_parameter_variants_of_one_url_merge(engine) {
        let server = MockServer::start().await;
        serve(
            &server,
            "/feed",
            rss(&[
                item("1", "A", "https://n.example/story?id=5&utm_campaign=x"),
                item("2", "A", "https://n.example/story?fbclid=abc&id=5"),
                item("3", "A", "https://N.EXAMPLE/story?id=5#top"),
                item("4", "B", "https://n.example/story?id=6"),
            ]),
        )
        .await;
        let t = spawn_app_on(engine, &[format!("{}/feed", server.uri())]).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        assert_eq!(t.article_count().await, 2);
    }
}

engine_test! {
    async fn second_poll_sends_validators_and_a_304_stores_nothing(engine) {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/feed"))
            .and(header("if-none-match", "\"v1\""))
            .and(header_exists("if-modified-since"))
            .respond_with(ResponseTemplate::new(304))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/feed"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("etag", "\"v1\"")
                    .insert_header("last-modified", "Sat, 28 Nov 2026 01:00:00 GMT")
                    .set_body_string(rss(&[item("a", "A", "https://n.example/a")])),
            )
            .up_to_n_times(1)
            .mount(&server)
            .await;
        let t = spawn_app_on(engine, &[format!("{}/feed", server.uri())]).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        let r = t.app.poll_all_once(Utc::now()).await.unwrap();
        assert_eq!(r[0].status, PollStatus::NotModified);
        let requests = server.received_requests().await.unwrap();
        assert_eq!(
            requests[1].headers.get("if-modified-since").unwrap(),
            "Sat, 28 Nov 2026 01:00:00 GMT"
        );
        let feed = &t.app.store().list_feeds().await.unwrap()[0];
        assert_eq!(
            feed.etag.as_deref(),
            Some("\"v1\""),
            "validators survive a 304"
        );
        assert_eq!(feed.last_status.map(|s| s.as_str()), Some("not_modified"));
        assert_eq!(t.article_count().await, 1);
    }
}

engine_test! {
    async fn too_many_requests_with_retry_after_postpones_that_feed_and_not_others(engine) {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/limited"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "7200"))
            .mount(&server)
            .await;
        serve(
            &server,
            "/fine",
            rss(&[item("a", "A", "https://n.example/a")]),
        )
        .await;
        let t = spawn_app_on(engine, &[
            format!("{}/limited", server.uri()),
            format!("{}/fine", server.uri()),
        ])
        .await;
        let now = Utc::now();
        t.app.poll_all_once(now).await.unwrap();
        let feeds = t.app.store().list_feeds().await.unwrap();
        let limited = feeds.iter().find(|f| f.url.ends_with("/limited")).unwrap();
        let fine = feeds.iter().find(|f| f.url.ends_with("/fine")).unwrap();
        let wait = limited.next_poll().unwrap() - now;
        assert!(
            wait >= chrono::Duration::seconds(7190),
            "postponed by {wait}"
        );
        assert!(limited
            .next_poll_reason
            .as_deref()
            .unwrap()
            .contains("Retry-After"));
        // A quiet feed's interval at most doubles per poll, plus 10% jitter.
        assert!(fine.next_poll().unwrap() - now <= chrono::Duration::minutes(33));
        assert_eq!(fine.error_count, 0);

        // `poll --once` ignores the schedule but not a live Retry-After.
        let r = t.app.poll_all_once(Utc::now()).await.unwrap();
        let limited_report = r.iter().find(|r| r.url.ends_with("/limited")).unwrap();
        assert!(matches!(limited_report.status, PollStatus::Deferred { .. }));
        let requests = server.received_requests().await.unwrap();
        assert_eq!(
            requests
                .iter()
                .filter(|r| r.url.path() == "/limited")
                .count(),
            1,
            "no request during the Retry-After window"
        );
    }
}

engine_test! {
    async fn a_malformed_feed_records_its_error_and_the_other_feeds_still_land(engine) {
        let server = MockServer::start().await;
        serve(
            &server,
            "/broken",
            "<rss><channel><item><title>oops</chan".to_owned(),
        )
        .await;
        serve(
            &server,
            "/good",
            rss(&[item("a", "A", "https://n.example/a")]),
        )
        .await;
        let t = spawn_app_on(engine, &[
            format!("{}/broken", server.uri()),
            format!("{}/good", server.uri()),
        ])
        .await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        t.app.poll_all_once(Utc::now()).await.unwrap();
        let feeds = t.app.store().list_feeds().await.unwrap();
        let broken = feeds.iter().find(|f| f.url.ends_with("/broken")).unwrap();
        assert_eq!(broken.last_status.map(|s| s.as_str()), Some("error"));
        assert!(broken
            .last_error
            .as_deref()
            .unwrap()
            .contains("malformed feed"));
        assert_eq!(broken.error_count, 2);
        assert_eq!(t.article_count().await, 1);
    }
}

engine_test! {
    async fn an_html_page_instead_of_a_feed_names_the_feeds_it_advertises(engine) {
        let server = MockServer::start().await;
        serve(
            &server,
            "/page",
            r#"<!doctype html><html><head><link rel="alternate" type="application/rss+xml" href="/real.xml"></head></html>"#
                .to_owned(),
        )
        .await;
        let t = spawn_app_on(engine, &[format!("{}/page", server.uri())]).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        let feed = &t.app.store().list_feeds().await.unwrap()[0];
        let err = feed.last_error.as_deref().unwrap();
        assert!(err.contains(&format!("{}/real.xml", server.uri())), "{err}");
    }
}

engine_test! {
    async fn per_host_concurrency_is_never_exceeded_across_feeds(engine) {
        let server = counting_server(Duration::from_millis(40)).await;
        let feeds: Vec<String> = (0..8)
            .map(|i| format!("{}/feed/{i}", server.base))
            .collect();
        let t = spawn_app_with_on(engine, &feeds, "").await;
        let r = t.app.poll_all_once(Utc::now()).await.unwrap();
        assert_eq!(r.len(), 8);
        assert_eq!(server.hits.load(Ordering::SeqCst), 8);
        assert_eq!(server.max_in_flight.load(Ordering::SeqCst), 1);
        assert_eq!(t.article_count().await, 8);
    }
}

engine_test! {
    async fn data_and_polling_state_survive_a_restart(engine) {
        let server = MockServer::start().await;
        serve(
            &server,
            "/feed",
            rss(&[item("a", "A", "https://n.example/a")]),
        )
        .await;
        let t = spawn_app_on(engine, &[format!("{}/feed", server.uri())]).await;
        let now = Utc::now();
        t.app.poll_all_once(now).await.unwrap();
        let before = t.app.store().list_feeds().await.unwrap()[0].clone();
        let again = t.restart().await;
        let after = again.store().list_feeds().await.unwrap()[0].clone();
        assert_eq!(before.next_poll_at, after.next_poll_at);
        assert_eq!(before.current_interval_secs, after.current_interval_secs);
        assert!(
            again.poll_due_once(now).await.unwrap().is_empty(),
            "not due right after a poll"
        );
        assert_eq!(again.store().stats().await.unwrap().articles, 1);
    }
}

engine_test! {
    async fn the_scheduler_polls_only_due_feeds_by_the_injected_clock(engine) {
        let server = MockServer::start().await;
        serve(&server, "/a", rss(&[item("a", "A", "https://n.example/a")])).await;
        serve(&server, "/b", rss(&[item("b", "B", "https://n.example/b")])).await;
        let t = spawn_app_with_on(engine,
            &[format!("{}/a", server.uri()), format!("{}/b", server.uri())],
            "",
        )
        .await;
        let now = Utc::now();
        assert_eq!(
            t.app.poll_due_once(now).await.unwrap().len(),
            2,
            "new feeds are due at once"
        );
        assert!(t
            .app
            .poll_due_once(now + chrono::Duration::minutes(1))
            .await
            .unwrap()
            .is_empty());
        let next = t.app.store().next_due_at().await.unwrap().unwrap();
        let gap = next - now;
        assert!(
            gap >= chrono::Duration::minutes(4),
            "min interval with jitter: {gap}"
        );
        assert!(
            gap <= chrono::Duration::minutes(33),
            "at most twice the default, with jitter: {gap}"
        );
        let later = now + chrono::Duration::hours(25);
        assert_eq!(t.app.poll_due_once(later).await.unwrap().len(), 2);
    }
}

engine_test! {
    async fn the_next_poll_is_planned_from_how_many_entries_the_writer_found_new(engine) {
        let server = MockServer::start().await;
        let body = rss(&[
            item("1", "One", "https://n.example/1"),
            item("2", "Two", "https://n.example/2"),
            item("3", "Three", "https://n.example/3"),
        ]);
        serve(&server, "/feed", body).await;
        let t = spawn_app_on(engine, &[format!("{}/feed", server.uri())]).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        let first = t.app.store().list_feeds().await.unwrap()[0].clone();
        assert_eq!(first.new_per_poll, Some(3.0));
        assert!(
            first
                .next_poll_reason
                .as_deref()
                .is_some_and(|r| r.starts_with("adaptive: about 3.0 new entries per poll")),
            "{:?}",
            first.next_poll_reason
        );
        // The same three entries again: none is new, and the average falls.
        t.app.poll_all_once(Utc::now()).await.unwrap();
        let second = t.app.store().list_feeds().await.unwrap()[0].clone();
        let rate = second.new_per_poll.expect("a rate");
        assert!((rate - 2.1).abs() < 1e-9, "{rate}");
    }
}

engine_test! {
    async fn one_dispatch_round_starts_one_poll_per_host_and_the_next_round_takes_the_other_feed(engine) {
        let server = MockServer::start().await;
        serve(&server, "/a", rss(&[item("a", "A", "https://n.example/a")])).await;
        serve(&server, "/b", rss(&[item("b", "B", "https://n.example/b")])).await;
        let t = spawn_app_on(engine, &[format!("{}/a", server.uri()), format!("{}/b", server.uri())]).await;
        let dispatch = t
            .app
            .dispatcher(TaskTracker::new(), CancellationToken::new());
        let now = Utc::now();
        for round in ["first", "second"] {
            let started = dispatch.dispatch_due_once(now).await.started;
            assert_eq!(
                started.len(),
                1,
                "{round} round: one poll per host at a time"
            );
            for poll in started {
                let report = poll.await.expect("join");
                assert!(
                    matches!(report.status, PollStatus::Ok { new_items: 1, .. }),
                    "{report}"
                );
            }
        }
        assert!(
            dispatch.dispatch_due_once(now).await.started.is_empty(),
            "both feeds polled: nothing is due at the same clock"
        );
        assert_eq!(t.article_count().await, 2);
    }
}

engine_test! {
    async fn a_redirected_feed_is_followed_hop_by_hop_and_a_410_disables_it(engine) {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/old"))
            .respond_with(ResponseTemplate::new(302).insert_header("location", "/mid"))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/mid"))
            .respond_with(ResponseTemplate::new(307).insert_header("location", "/feed"))
            .mount(&server)
            .await;
        serve(
            &server,
            "/feed",
            rss(&[item("a", "A", "https://n.example/a")]),
        )
        .await;
        Mock::given(method("GET"))
            .and(path("/gone"))
            .respond_with(ResponseTemplate::new(410))
            .mount(&server)
            .await;
        let t = spawn_app_on(engine, &[
            format!("{}/old", server.uri()),
            format!("{}/gone", server.uri()),
        ])
        .await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        let paths: Vec<String> = server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .map(|r| r.url.path().to_owned())
            .collect();
        for p in ["/old", "/mid", "/feed"] {
            assert!(
                paths.contains(&p.to_owned()),
                "hop {p} requested: {paths:?}"
            );
        }
        assert_eq!(t.article_count().await, 1);
        let feeds = t.app.store().list_feeds().await.unwrap();
        let gone = feeds.iter().find(|f| f.url.ends_with("/gone")).unwrap();
        assert!(!gone.enabled);
        assert_eq!(gone.disabled_reason.as_deref(), Some("gone"));
        let old = feeds.iter().find(|f| f.url.ends_with("/old")).unwrap();
        assert!(
            old.fetch_url.ends_with("/old"),
            "temporary redirects never move a feed"
        );
        let r = t.app.poll_all_once(Utc::now()).await.unwrap();
        assert_eq!(r.len(), 1, "a gone feed is not polled again");
        let f = t
            .app
            .store()
            .set_feed_enabled(&gone.url, true, Utc::now())
            .await
            .unwrap();
        assert!(f.enabled);
    }
}

engine_test! {
    async fn a_permanent_redirect_seen_three_polls_in_a_row_moves_the_fetch_url(engine) {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/old"))
            .respond_with(ResponseTemplate::new(301).insert_header("location", "/new"))
            .mount(&server)
            .await;
        serve(
            &server,
            "/new",
            rss(&[item("a", "A", "https://n.example/a")]),
        )
        .await;
        let old = format!("{}/old", server.uri());
        let t = spawn_app_on(engine, std::slice::from_ref(&old)).await;
        for expected_moved in [false, false, true] {
            t.app.poll_all_once(Utc::now()).await.unwrap();
            let f = &t.app.store().list_feeds().await.unwrap()[0];
            assert_eq!(f.url, old, "the configured URL stays the key");
            assert_eq!(f.fetch_url.ends_with("/new"), expected_moved);
        }
    }
}

/// Twelve feeds on one host, which politeness serves one per second, and one
/// feed elsewhere, listed last (so due last), with 4 fetch permits. Returns
/// how long the lone feed waited for its first poll, the crowded host's most
/// requests at once and its polls meanwhile.
async fn lone_feed_behind_a_crowded_host(
    engine: crate::helpers::Engine,
    per_host_concurrency: &str,
) -> (Duration, usize, usize) {
    use std::sync::{Arc, Mutex};
    use tokio_util::sync::CancellationToken;

    let crowded = counting_server(Duration::ZERO).await;
    let first_hit: Arc<Mutex<Option<std::time::Instant>>> = Arc::default();
    let seen = first_hit.clone();
    let router = axum::Router::new().route(
        "/lone",
        axum::routing::get(move || {
            let seen = seen.clone();
            async move {
                seen.lock()
                    .expect("lock")
                    .get_or_insert_with(std::time::Instant::now);
                rss(&[item("lone-1", "Lone", "https://lone.example/1")])
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0")
        .await
        .expect("bind 127.0.0.2");
    let lone = format!("http://{}/lone", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let mut feeds: Vec<String> = (0..12)
        .map(|i| format!("{}/feed/{i}", crowded.base))
        .collect();
    feeds.push(lone);
    let t = crate::helpers::spawn_app_env_on(
        engine,
        &feeds,
        "",
        &[
            ("NEWSD__HTTP__ALLOW_NETWORKS", "127.0.0.1/32,127.0.0.2/32"),
            ("NEWSD__HTTP__PER_HOST_DELAY", "1s"),
            ("NEWSD__HTTP__PER_HOST_CONCURRENCY", per_host_concurrency),
            ("NEWSD__SCHEDULER__MAX_CONCURRENT_FETCHES", "4"),
        ],
    )
    .await;

    let stop = CancellationToken::new();
    let (app, stopper) = (t.app.clone(), stop.clone());
    let start = std::time::Instant::now();
    let run = tokio::spawn(async move { app.run_until_stopped(stopper).await });
    // The crowded host's first request too: on PostgreSQL it claims its slot
    // from the database first, and the lone feed may be done before it starts.
    while (first_hit.lock().expect("lock").is_none() || crowded.hits.load(Ordering::SeqCst) == 0)
        && start.elapsed() < Duration::from_secs(15)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let waited = first_hit
        .lock()
        .expect("lock")
        .map(|at| at - start)
        .expect("the lone feed was never polled");
    let crowded_polls = crowded.hits.load(Ordering::SeqCst);
    stop.cancel();
    run.await.expect("join").expect("run");
    (
        waited,
        crowded.max_in_flight.load(Ordering::SeqCst),
        crowded_polls,
    )
}

// The daemon used to hand all 4 permits to the crowded host's queue, where
// they waited for its slot or its spacing: the lone feed waited 8–10 s.

engine_test! {
    @tokio(flavor = "multi_thread", worker_threads = 2)
    async fn many_due_feeds_of_one_host_do_not_hold_up_a_feed_on_another_host(engine) {
        let (waited, max_in_flight, crowded_polls) = lone_feed_behind_a_crowded_host(engine, "1").await;
        assert!(
            waited < Duration::from_secs(3),
            "the lone feed waited {waited:?} behind the crowded host"
        );
        assert_eq!(
            max_in_flight, 1,
            "politeness still holds on the crowded host"
        );
        // On loaded cores the lone feed may be polled before the crowded
        // host's first answer is counted; spacing caps the count.
        assert!(crowded_polls <= 5, "{crowded_polls}");
    }
}

engine_test! {
    @tokio(flavor = "multi_thread", worker_threads = 2)
    async fn feeds_waiting_out_their_hosts_spacing_do_not_hold_fetch_permits(engine) {
        // Four requests at once are allowed, but one per second: the spacing
        // alone used to fill every permit.
        let (waited, _, crowded_polls) = lone_feed_behind_a_crowded_host(engine, "4").await;
        assert!(
            waited < Duration::from_secs(3),
            "the lone feed waited {waited:?} behind the crowded host's spacing"
        );
        // On loaded cores the lone feed may be polled before the crowded
        // host's first answer is counted; spacing caps the count.
        assert!(crowded_polls <= 5, "{crowded_polls}");
    }
}

/// Two feeds, one fetch permit, and the database's write lock held by
/// another connection: the first poll's entries wait for the writer.
async fn two_feeds_behind_a_held_write_lock(
) -> (MockServer, crate::helpers::TestApp, SqliteConnection) {
    let server = MockServer::start().await;
    serve(
        &server,
        "/a",
        rss(&[item("a1", "Alpha", "https://a.example/1")]),
    )
    .await;
    serve(
        &server,
        "/b",
        rss(&[item("b1", "Beta", "https://b.example/1")]),
    )
    .await;
    let t = crate::helpers::spawn_app_env(
        &[format!("{}/a", server.uri()), format!("{}/b", server.uri())],
        "",
        &[
            ("NEWSD__SCHEDULER__MAX_CONCURRENT_FETCHES", "1"),
            ("NEWSD__DATABASE__BUSY_TIMEOUT", "30s"),
        ],
    )
    .await;
    let mut lock = SqliteConnectOptions::new()
        .filename(t.app.store().location())
        .connect()
        .await
        .expect("second connection");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut lock)
        .await
        .expect("write lock");
    (server, t, lock)
}

/// Waits until the server has been asked for every path in `paths`.
async fn fetched_within(server: &MockServer, paths: &[&str], limit: Duration) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        let seen: Vec<String> = server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(|r| r.url.path().to_owned())
            .collect();
        if paths.iter().all(|p| seen.iter().any(|s| s == p)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn a_poll_waiting_for_the_writer_hands_its_fetch_permit_to_the_next_feed() {
    let (server, t, mut lock) = two_feeds_behind_a_held_write_lock().await;
    let app = t.app.clone();
    let polls = tokio::spawn(async move { app.poll_all_once(Utc::now()).await });
    let both = fetched_within(&server, &["/a", "/b"], Duration::from_secs(5)).await;
    sqlx::query("ROLLBACK").execute(&mut lock).await.unwrap();
    assert!(
        both,
        "the second feed was not fetched while the first waited for the writer"
    );
    let reports = polls.await.expect("join").expect("polls");
    assert!(reports
        .iter()
        .all(|r| matches!(r.status, PollStatus::Ok { new_items: 1, .. })));
    assert_eq!(t.article_count().await, 2);
}

#[tokio::test]
async fn the_daemon_fetches_the_next_due_feed_while_a_parsed_poll_waits_for_the_writer() {
    let (server, t, mut lock) = two_feeds_behind_a_held_write_lock().await;
    let stop = tokio_util::sync::CancellationToken::new();
    let (app, stopper) = (t.app.clone(), stop.clone());
    let run = tokio::spawn(async move { app.run_until_stopped(stopper).await });
    let both = fetched_within(&server, &["/a", "/b"], Duration::from_secs(5)).await;
    sqlx::query("ROLLBACK").execute(&mut lock).await.unwrap();
    assert!(
        both,
        "the second feed was not fetched while the first waited for the writer"
    );
    let start = std::time::Instant::now();
    while t.article_count().await < 2 && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    run.await.expect("join").expect("run");
    assert_eq!(t.article_count().await, 2);
}
