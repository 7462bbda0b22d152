//! Saved searches end to end: feeds on 127.0.0.1, a webhook receiver that
//! drops repeated `X-Newsd-Delivery` ids as the README tells receivers to,
//! and the daemon's `match_once` / `deliver_once` driven by the test's clock.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::helpers::{
    engine_test, execute, feed_server, rss, serve, spawn_app_with_on, Engine, Item,
};

const SECRET: &str = "hook-secret";
const HEADLINE: &str = "Chipmakers warn of a lithium shortage across European factories";

/// What an ntfy server saw of one message: title, click URL, body.
type NtfyRequest = (Option<String>, Option<String>, String);

/// What a receiver saw of one request: delivery id, signature, body.
type Request = (String, Option<String>, String);

#[derive(Clone, Default)]
struct Receiver {
    base: String,
    down: Arc<AtomicBool>,
    /// Every request: (delivery id, signature, body).
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Receiver {
    /// The bodies of distinct deliveries, first copy of each.
    fn events(&self) -> Vec<serde_json::Value> {
        let mut seen = HashSet::new();
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(id, _, _)| seen.insert(id.clone()))
            .map(|(_, _, body)| serde_json::from_str(body).unwrap())
            .collect()
    }
}

async fn receiver() -> Receiver {
    let r = Receiver::default();
    let (down, requests) = (r.down.clone(), r.requests.clone());
    let router = axum::Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: String| {
            let (down, requests) = (down.clone(), requests.clone());
            async move {
                let header = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                requests.lock().unwrap().push((
                    header("x-newsd-delivery").unwrap_or_default(),
                    header("x-newsd-signature"),
                    body,
                ));
                if down.load(Ordering::SeqCst) {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    Receiver {
        base: serve(router).await,
        ..r
    }
}

fn config(hook: &str, searches: &str) -> String {
    format!(
        r#"
[alerts]
hold = "0s"
retry_interval = "1m"
max_attempts = 3
[extract]
enabled = false
[[channels]]
name = "hook"
kind = "webhook"
url = "{hook}/hook"
secret = "{SECRET}"
[[channels]]
name = "blocked"
kind = "webhook"
url = "http://10.255.0.1/hook"
{searches}
"#
    )
}

const LITHIUM: &str = r#"
[[searches]]
name = "lithium"
query = "lithium shortage"
channels = ["hook"]
"#;

/// Copies of one story from three publishers: feed `n` links its own URL.
fn copies(n: usize) -> String {
    rss(&[Item {
        guid: &format!("copy-{n}"),
        title: HEADLINE,
        link: &format!("https://publisher{n}.example/lithium"),
    }])
}

/// Polls every feed, indexes and clusters: what the daemon does within its
/// first housekeeping rounds.
async fn ingest(t: &crate::helpers::TestApp) {
    t.app.poll_all_once(Utc::now()).await.unwrap();
    t.app.index_new_articles().await;
}

engine_test! {
    async fn syndicated_copies_notify_once_per_story_with_a_signature_that_verifies(engine) {
        let hook = receiver().await;
        let feeds = feed_server(copies).await;
        let t = spawn_app_with_on(engine, &[feeds.feed(1), feeds.feed(2)], &config(&hook.base, LITHIUM)).await;
        t.app.poll_all_once(Utc::now()).await.unwrap();
        let r = t.app.match_once(Utc::now()).await.unwrap();
        assert_eq!((r.matches, r.events), (2, 0), "held until clustered: {r:?}");

        t.app.index_new_articles().await;
        let r = t.app.match_once(Utc::now()).await.unwrap();
        assert_eq!(r.events, 1, "{r:?}");
        let d = t.app.deliver_once(Utc::now()).await.unwrap();
        assert_eq!(d.sent, 1, "{d:?}");

        // A third copy joins the story later: it is not sent again.
        t.app
            .store()
            .add_feed(&newsd::store::NewFeed { url: feeds.feed(3), name: None, interval_secs: None }, "cli", Utc::now())
            .await
            .unwrap();
        ingest(&t).await;
        let r = t.app.match_once(Utc::now()).await.unwrap();
        assert_eq!((r.matches, r.events), (1, 0), "{r:?}");
        t.app.deliver_once(Utc::now()).await.unwrap();

        let requests = hook.requests.lock().unwrap().clone();
        assert_eq!(requests.len(), 1);
        let (id, signature, body) = &requests[0];
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(signature.as_deref(), Some(format!("sha256={hex}").as_str()));
        let event: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(event["event_id"].as_str(), Some(id.as_str()));
        assert_eq!(event["search"]["name"], "lithium");
        assert_eq!(event["story"]["title"], HEADLINE);
        assert_eq!(event["articles"].as_array().unwrap().len(), 2, "both copies are listed: {event}");
    }
}

engine_test! {
    async fn a_word_only_in_the_body_notifies_when_the_full_text_arrives(engine) {
        let hook = receiver().await;
        let feeds = feed_server(copies).await;
        let search = "[[searches]]\nname = \"zanzi\"\nquery = \"zanzibarite\"\nchannels = [\"hook\"]\n";
        let t = spawn_app_with_on(engine, &[feeds.feed(1)], &config(&hook.base, search)).await;
        ingest(&t).await;
        assert_eq!(t.app.match_once(Utc::now()).await.unwrap().matches, 0);
        execute(t.app.store(), "UPDATE articles SET text = 'The mineral zanzibarite is scarce.'").await;
        t.app.index_new_articles().await;
        let r = t.app.match_once(Utc::now()).await.unwrap();
        assert_eq!((r.matches, r.events), (1, 1), "{r:?}");
        t.app.deliver_once(Utc::now()).await.unwrap();
        assert_eq!(hook.events().len(), 1);
    }
}

engine_test! {
    async fn a_digest_batches_stories_into_one_message_per_interval(engine) {
        let hook = receiver().await;
        let feeds = feed_server(|n| {
            rss(&[Item {
                guid: &format!("d{n}"),
                title: ["", "Lithium miners in Chile expand output", "Battery makers in Korea brace for lithium price jump"][n],
                link: &format!("https://p{n}.example/d"),
            }])
        })
        .await;
        let search = "[[searches]]\nname = \"digest\"\nquery = \"lithium\"\nchannels = [\"hook\"]\ndigest = \"1h\"\n";
        let t = spawn_app_with_on(engine, &[feeds.feed(1), feeds.feed(2)], &config(&hook.base, search)).await;
        ingest(&t).await;
        let r = t.app.match_once(Utc::now()).await.unwrap();
        assert_eq!((r.matches, r.events), (2, 0), "collected, not sent: {r:?}");
        let later = Utc::now() + Duration::hours(2);
        assert_eq!(t.app.match_once(later).await.unwrap().events, 1);
        t.app.deliver_once(later).await.unwrap();
        let events = hook.events();
        assert_eq!(events.len(), 1);
        let stories = events[0]["stories"].as_array().unwrap();
        assert_eq!(stories.len(), 2, "{}", events[0]);
        assert_eq!(t.app.match_once(later + Duration::hours(2)).await.unwrap().events, 0, "nothing new");
    }
}

engine_test! {
    async fn a_receiver_down_then_up_gets_every_event_exactly_once(engine) {
        let hook = receiver().await;
        let feeds = feed_server(|n| {
            rss(&[Item {
                guid: &format!("u{n}"),
                title: ["", "Chile nationalises lithium mines", "Bolivian lithium deal signed with investors", "Australian lithium exports hit record"][n],
                link: &format!("https://u{n}.example/x"),
            }])
        })
        .await;
        let search = "[[searches]]\nname = \"l\"\nquery = \"lithium\"\nchannels = [\"hook\"]\n";
        let t = spawn_app_with_on(engine, &[feeds.feed(1), feeds.feed(2), feeds.feed(3)], &config(&hook.base, search)).await;
        ingest(&t).await;
        assert_eq!(t.app.match_once(Utc::now()).await.unwrap().events, 3);
        hook.down.store(true, Ordering::SeqCst);
        let now = Utc::now();
        let d = t.app.deliver_once(now).await.unwrap();
        assert_eq!((d.sent, d.retried), (0, 3), "{d:?}");
        assert_eq!(t.app.deliver_once(now).await.unwrap(), Default::default(), "not before the backoff");
        hook.down.store(false, Ordering::SeqCst);
        let d = t.app.deliver_once(now + Duration::minutes(5)).await.unwrap();
        assert_eq!(d.sent, 3, "{d:?}");
        assert_eq!(t.app.deliver_once(now + Duration::hours(5)).await.unwrap(), Default::default());
        let requests = hook.requests.lock().unwrap().len();
        assert_eq!(requests, 6, "each sent twice: once refused, once taken");
        let events = hook.events();
        assert_eq!(events.len(), 3);
        let stories: HashSet<i64> = events.iter().map(|e| e["story"]["id"].as_i64().unwrap()).collect();
        assert_eq!(stories.len(), 3);
        let stats = t.app.store().alert_stats().await.unwrap();
        assert_eq!((stats.deliveries_sent, stats.deliveries_failed), (3, 0));
    }
}

engine_test! {
    async fn a_webhook_on_a_blocked_address_is_refused_and_marked_failed(engine) {
        let hook = receiver().await;
        let feeds = feed_server(copies).await;
        let search = "[[searches]]\nname = \"b\"\nquery = \"lithium\"\nchannels = [\"blocked\"]\n";
        let t = spawn_app_with_on(engine, &[feeds.feed(1)], &config(&hook.base, search)).await;
        ingest(&t).await;
        assert_eq!(t.app.match_once(Utc::now()).await.unwrap().events, 1);
        let d = t.app.deliver_once(Utc::now()).await.unwrap();
        assert_eq!(d.failed, 1, "{d:?}");
        let stats = t.app.store().alert_stats().await.unwrap();
        assert_eq!(stats.deliveries_failed, 1);
        let (error,): (String,) =
            crate::helpers::fetch_one(t.app.store(), "SELECT last_error FROM alert_deliveries").await;
        assert!(error.contains("not a public address"), "{error}");
        assert!(!error.contains("10.255.0.1/hook"), "the channel URL is not repeated: {error}");
    }
}

engine_test! {
    async fn a_restart_between_match_and_delivery_loses_nothing(engine) {
        let hook = receiver().await;
        let feeds = feed_server(copies).await;
        let t = spawn_app_with_on(engine, &[feeds.feed(1)], &config(&hook.base, LITHIUM)).await;
        ingest(&t).await;
        assert_eq!(t.app.match_once(Utc::now()).await.unwrap().events, 1);
        let app = t.restart().await;
        assert_eq!(app.deliver_once(Utc::now()).await.unwrap().sent, 1);
        assert_eq!(app.deliver_once(Utc::now()).await.unwrap().sent, 0);
        assert_eq!(hook.events().len(), 1);
    }
}

engine_test! {
    // The receiver must answer while the CLI runs and this thread waits.
    @tokio(flavor = "multi_thread", worker_threads = 2)
    async fn the_cli_adds_lists_runs_tests_and_removes_a_saved_search(engine) {
        let hook = receiver().await;
        let feeds = feed_server(copies).await;
        let t = spawn_app_with_on(engine, &[feeds.feed(1)], &config(&hook.base, "")).await;
        ingest(&t).await;
        // The queue is matched before the search exists, as the daemon would.
        t.app.match_once(Utc::now()).await.unwrap();
        let out = t.cli(&["searches", "add", "mine", "lithium", "shortage", "--channel", "hook"]);
        assert!(out.status.success(), "{}", crate::helpers::stderr(&out));
        let list = crate::helpers::stdout(&t.cli(&["searches", "list"]));
        assert!(list.contains("mine") && list.contains("[cli]"), "{list}");
        let run = crate::helpers::stdout(&t.cli(&["searches", "run", "mine", "--since", "7d"]));
        assert!(run.contains(HEADLINE), "past matches are printed: {run}");
        assert_eq!(t.app.match_once(Utc::now()).await.unwrap().events, 0, "run notifies nobody");
        let test = t.cli(&["searches", "test", "mine"]);
        assert!(test.status.success(), "{}{}", crate::helpers::stdout(&test), crate::helpers::stderr(&test));
        assert!(crate::helpers::stdout(&test).contains("hook: accepted (HTTP 204)"));
        assert_eq!(hook.events().len(), 1, "the sample went out");
        let out = t.cli(&["searches", "remove", "mine"]);
        assert!(out.status.success(), "{}", crate::helpers::stderr(&out));
        assert!(t.app.store().list_searches().await.unwrap().is_empty());
    }
}

engine_test! {
    async fn a_new_search_notifies_about_the_past_only_with_backfill(engine) {
        let hook = receiver().await;
        let feeds = feed_server(copies).await;
        let t = spawn_app_with_on(engine, &[feeds.feed(1)], &config(&hook.base, "")).await;
        ingest(&t).await;
        t.app.match_once(Utc::now()).await.unwrap();
        let searches = format!("{LITHIUM}\n[[searches]]\nname = \"past\"\nquery = \"lithium\"\nchannels = [\"hook\"]\nbackfill = true\n");
        std::fs::write(
            &t.config_path,
            std::fs::read_to_string(&t.config_path).unwrap() + &searches,
        )
        .unwrap();
        // Articles first seen in an earlier second than the searches.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let app = t.restart().await;
        let r = app.match_once(Utc::now()).await.unwrap();
        assert_eq!(r.events, 1, "{r:?}");
        app.deliver_once(Utc::now()).await.unwrap();
        let events = hook.events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["search"]["name"], "past");
    }
}

engine_test! {
    async fn a_search_in_the_engines_own_syntax_matches_through_the_index(engine) {
        let hook = receiver().await;
        let feeds = feed_server(copies).await;
        let raw = match engine {
            Engine::Sqlite => "lithi* AND shortage",
            Engine::Postgres => "lithi:* & shortage",
        };
        let search = format!("[[searches]]\nname = \"raw\"\nquery = \"{raw}\"\nfts = true\nchannels = [\"hook\"]\n");
        let t = spawn_app_with_on(engine, &[feeds.feed(1)], &config(&hook.base, &search)).await;
        ingest(&t).await;
        let r = t.app.match_once(Utc::now()).await.unwrap();
        assert_eq!((r.matches, r.events), (1, 1), "{r:?}");
    }
}

engine_test! {
    async fn ntfy_gets_the_headline_publisher_and_link_and_no_redirect_is_followed(engine) {
        let seen: Arc<Mutex<Vec<NtfyRequest>>> = Arc::default();
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (s, h) = (seen.clone(), hits.clone());
        let router = axum::Router::new()
            .route(
                "/topic",
                post(move |headers: HeaderMap, body: String| {
                    let s = s.clone();
                    async move {
                        let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
                        s.lock().unwrap().push((header("title"), header("click"), body));
                        StatusCode::OK
                    }
                }),
            )
            .route(
                "/moved",
                post(|| async { (StatusCode::TEMPORARY_REDIRECT, [("location", "/elsewhere")]) }),
            )
            .route(
                "/elsewhere",
                post(move || {
                    h.fetch_add(1, Ordering::SeqCst);
                    async { StatusCode::OK }
                }),
            );
        let base = serve(router).await;
        let feeds = feed_server(copies).await;
        let extra = format!(
            "{}\n[[channels]]\nname = \"phone\"\nkind = \"ntfy\"\nurl = \"{base}/topic\"\n\
             [[channels]]\nname = \"moved\"\nkind = \"webhook\"\nurl = \"{base}/moved\"\n\
             [[searches]]\nname = \"n\"\nquery = \"lithium\"\nchannels = [\"phone\", \"moved\"]\n",
            config("http://127.0.0.1:9", "")
        );
        let t = spawn_app_with_on(engine, &[feeds.feed(1)], &extra).await;
        ingest(&t).await;
        assert_eq!(t.app.match_once(Utc::now()).await.unwrap().events, 1);
        let d = t.app.deliver_once(Utc::now()).await.unwrap();
        assert_eq!((d.sent, d.retried), (1, 1), "the redirect is an answer to retry: {d:?}");
        assert_eq!(hits.load(Ordering::SeqCst), 0, "the redirect was not followed");
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].0.as_deref(), Some("newsd: n"));
        assert_eq!(seen[0].1.as_deref(), Some("https://publisher1.example/lithium"));
        assert_eq!(seen[0].2, HEADLINE);
    }
}

/// An email channel on the test's SMTP server (plain text: `tls=none`), one
/// that asks the same server for STARTTLS, which it does not offer, and one
/// on an address the guard blocks.
fn email_config(smtp: &crate::smtp::SmtpServer, searches: &str) -> String {
    format!(
        r#"
[alerts]
hold = "0s"
retry_interval = "1m"
max_attempts = 3
[extract]
enabled = false
[[channels]]
name = "desk"
kind = "email"
smtp_url = "smtp://alerts:pass%20word@{addr}?tls=none"
from = "newsd <newsd@example.com>"
to = ["desk@example.com", "Me <me@example.com>"]
[[channels]]
name = "starttls"
kind = "email"
smtp_url = "smtp://{addr}"
from = "newsd@example.com"
to = "desk@example.com"
[[channels]]
name = "blocked"
kind = "email"
smtp_url = "smtp://alerts:hunter2@10.255.0.2:25?tls=none"
from = "newsd@example.com"
to = "desk@example.com"
{searches}
"#,
        addr = smtp.addr
    )
}

engine_test! {
    async fn an_email_alert_reaches_every_recipient_once_per_story_as_text_and_html(engine) {
        let smtp = crate::smtp::smtp_server().await;
        let feeds = feed_server(copies).await;
        let search = "[[searches]]\nname = \"lithium\"\nquery = \"lithium shortage\"\nchannels = [\"desk\"]\n";
        let t = spawn_app_with_on(engine, &[feeds.feed(1), feeds.feed(2)], &email_config(&smtp, search)).await;
        ingest(&t).await;
        assert_eq!(t.app.match_once(Utc::now()).await.unwrap().events, 1);
        let d = t.app.deliver_once(Utc::now()).await.unwrap();
        assert_eq!(d.sent, 1, "{d:?}");

        let mails = smtp.mails.lock().unwrap().clone();
        assert_eq!(mails.len(), 1, "one message for the story: {mails:?}");
        let mail = &mails[0];
        assert_eq!(mail.auth.as_deref(), Some("\0alerts\0pass word"), "credentials from the URL");
        assert_eq!(mail.from, "<newsd@example.com>");
        assert_eq!(mail.to, ["<desk@example.com>", "<me@example.com>"]);
        let (event_id,): (String,) =
            crate::helpers::fetch_one(t.app.store(), "SELECT event_id FROM alert_events").await;
        assert!(mail.data.contains(&format!("X-Newsd-Delivery: {event_id}")), "{}", mail.data);
        assert!(mail.data.contains(&format!("Message-ID: <{event_id}@newsd>")), "{}", mail.data);
        assert!(mail.data.contains("Subject: newsd: lithium: Chipmakers warn"), "{}", mail.data);
        assert!(mail.data.contains("multipart/alternative"), "{}", mail.data);
        assert!(mail.data.contains("text/plain") && mail.data.contains("text/html"), "{}", mail.data);
        assert!(mail.data.contains("https://publisher1.example/lithium"), "{}", mail.data);
        assert!(mail.data.contains("https://publisher2.example/lithium"), "both copies listed: {}", mail.data);
        assert_eq!(t.app.deliver_once(Utc::now() + Duration::hours(1)).await.unwrap().sent, 0);
    }
}

engine_test! {
    async fn a_smtp_server_saying_try_later_is_retried_one_without_starttls_gets_nothing_and_a_blocked_one_fails(engine) {
        let smtp = crate::smtp::smtp_server().await;
        smtp.refuse.store(1, Ordering::SeqCst);
        let feeds = feed_server(copies).await;
        let search = "[[searches]]\nname = \"l\"\nquery = \"lithium\"\nchannels = [\"desk\", \"starttls\", \"blocked\"]\n";
        let t = spawn_app_with_on(engine, &[feeds.feed(1)], &email_config(&smtp, search)).await;
        ingest(&t).await;
        assert_eq!(t.app.match_once(Utc::now()).await.unwrap().events, 1);
        let now = Utc::now();
        let d = t.app.deliver_once(now).await.unwrap();
        assert_eq!((d.sent, d.retried, d.failed), (0, 2, 1), "{d:?}");
        let d = t.app.deliver_once(now + Duration::minutes(5)).await.unwrap();
        assert_eq!((d.sent, d.retried), (1, 1), "{d:?}");
        let mails = smtp.mails.lock().unwrap().clone();
        assert_eq!(mails.len(), 1, "nothing in plain text to the STARTTLS channel: {mails:?}");
        assert_eq!(mails[0].to.len(), 2, "the desk channel's message: {mails:?}");

        let (error,): (String,) = crate::helpers::fetch_one(
            t.app.store(),
            "SELECT last_error FROM alert_deliveries WHERE state = 'failed'",
        )
        .await;
        assert!(error.contains("not a public address"), "{error}");
        assert!(!error.contains("hunter2"), "the SMTP password is not stored: {error}");
    }
}

engine_test! {
    // The receiver answers while this thread waits on the daemon.
    @tokio(flavor = "multi_thread", worker_threads = 2)
    async fn a_sigkill_between_match_and_delivery_loses_nothing_and_sends_each_event_once(engine) {
        use std::process::{Command, Stdio};
        let hook = receiver().await;
        hook.down.store(true, Ordering::SeqCst);
        let feeds = feed_server(|n| {
            rss(&[Item {
                guid: &format!("k{n}"),
                title: ["", "Chile nationalises lithium mines", "Bolivian lithium deal signed with investors", "Australian lithium exports hit record"][n % 4],
                link: &format!("https://k{n}.example/x"),
            }])
        })
        .await;
        let archive = crate::helpers::archive_on(engine).await;
        let dir = archive.dir.path();
        let extra = format!(
            "[alerts]\nhold = \"0s\"\nretry_interval = \"1s\"\nmax_attempts = 50\n[extract]\nenabled = false\n\
             [[channels]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}/hook\"\n\
             [[searches]]\nname = \"l\"\nquery = \"lithium\"\nchannels = [\"hook\"]\n",
            hook.base
        );
        let config = crate::helpers::write_config(dir, &archive.url, &[feeds.feed(1), feeds.feed(2), feeds.feed(3)], &extra);
        let run = || {
            Command::new(env!("CARGO_BIN_EXE_newsd"))
                .arg("--config")
                .arg(&config)
                .arg("run")
                .env_remove("NEWSD_CONFIG")
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn newsd run")
        };
        let mut daemon = run();
        // Readable once the daemon has made and migrated the archive.
        let mut store = None;
        for _ in 0..200 {
            match newsd::store::Store::open_read_only(&archive.url, std::time::Duration::from_secs(5)).await {
                Ok(s) => {
                    store = Some(s);
                    break;
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        }
        let store = store.expect("the daemon made the archive within 10 s");
        let count = |sql: &'static str| {
            let store = store.clone();
            async move { newsd::store::testing::scalar_i64(&store, sql).await }
        };
        let until = |what: &'static str, sql: &'static str, want: i64| {
            async move {
                // Events wait for the daemon's first clustering round (30 s).
                for _ in 0..900 {
                    if count(sql).await >= want {
                        return;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                panic!("{what}: still under {want} after 90 s");
            }
        };

        until("deliveries tried", "SELECT COUNT(*) FROM alert_deliveries WHERE attempts > 0", 3).await;
        // SIGKILL: no destructor, no rollback, no unlock.
        let _ = daemon.kill();
        let _ = daemon.wait();
        let refused = hook.requests.lock().unwrap().len();
        assert!(refused >= 3, "each event was tried before the kill: {refused}");
        assert_eq!(count("SELECT COUNT(*) FROM alert_events").await, 3, "one event per story");

        hook.down.store(false, Ordering::SeqCst);
        let mut daemon = run();
        until("deliveries sent", "SELECT COUNT(*) FROM alert_deliveries WHERE state = 'sent'", 3).await;
        let _ = daemon.kill();
        let _ = daemon.wait();

        let requests = hook.requests.lock().unwrap().clone();
        let taken: Vec<&String> = requests[refused..].iter().map(|(id, _, _)| id).collect();
        let distinct: HashSet<&String> = taken.iter().copied().collect();
        assert_eq!(distinct.len(), 3, "every event arrived: {taken:?}");
        assert_eq!(taken.len(), 3, "and none twice: {taken:?}");
        assert_eq!(hook.events().len(), 3);
        assert_eq!(count("SELECT COUNT(*) FROM alert_events").await, 3, "nothing made twice");
    }
}
