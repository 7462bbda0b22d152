//! Several instances on one archive: claimed feeds, names, config feed
//! syncs and singleton jobs (PostgreSQL for the contended parts; what every
//! engine shares runs on both).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use newsd::app::{App, Housekeeping};

use crate::helpers::{
    engine_test, generated_rss, load_settings, postgres_configured, serve, spawn_app_env_on,
    Engine, TestApp,
};

/// Another instance on `t`'s archive and config, named `name`.
async fn instance(t: &TestApp, name: &str, feeds: Option<&[String]>) -> App {
    let mut env = t.env.clone();
    env.push(("NEWSD__INSTANCE__NAME".into(), name.into()));
    let mut settings = load_settings(&t.config_path, &env);
    if let Some(feeds) = feeds {
        settings
            .feeds
            .retain(|f| f.url.as_ref().is_some_and(|u| feeds.contains(u)));
    }
    App::build(settings).await.expect("app builds")
}

/// A feed server that records, per feed, how many requests were in flight
/// at once at most, and answers each after a pause (so overlaps show).
struct CountingFeeds {
    base: String,
    hits: Arc<AtomicUsize>,
    max_in_flight: Arc<Mutex<HashMap<usize, (usize, usize)>>>,
}

async fn counting_feeds(items: usize) -> CountingFeeds {
    use axum::extract::Path;
    use axum::routing::get;
    let hits = Arc::new(AtomicUsize::new(0));
    let in_flight: Arc<Mutex<HashMap<usize, (usize, usize)>>> = Arc::default();
    let (h, f) = (hits.clone(), in_flight.clone());
    let router = axum::Router::new().route(
        "/feed/{n}",
        get(move |Path(n): Path<usize>| {
            let (h, f) = (h.clone(), f.clone());
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                {
                    let mut m = f.lock().unwrap();
                    let e = m.entry(n).or_default();
                    e.0 += 1;
                    e.1 = e.1.max(e.0);
                }
                tokio::time::sleep(Duration::from_millis(40)).await;
                f.lock().unwrap().entry(n).or_default().0 -= 1;
                generated_rss(items, |i| {
                    (
                        format!("f{n}-{i}"),
                        format!("Story {i} of feed {n} about the harbour expansion"),
                        format!("https://pub{n}.example/news/{i}"),
                    )
                })
            }
        }),
    );
    CountingFeeds {
        base: serve(router).await,
        hits,
        max_in_flight: in_flight,
    }
}

const QUIET: &str = "[extract]\nenabled = false\n[google_news]\nresolve = false\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_poll_every_due_feed_once_and_store_each_entry_once() {
    if !postgres_configured("three instances") {
        return;
    }
    let server = counting_feeds(25).await;
    let feeds: Vec<String> = (0..30)
        .map(|n| format!("{}/feed/{n}", server.base))
        .collect();
    let t = spawn_app_env_on(
        Engine::Postgres,
        &feeds,
        QUIET,
        &[("NEWSD__INSTANCE__NAME", "a")],
    )
    .await;
    let (b, c) = (instance(&t, "b", None).await, instance(&t, "c", None).await);
    let now = Utc::now();
    for app in [&t.app, &b, &c] {
        app.register(now).await.unwrap();
        app.sync_config_feeds(now).await.unwrap();
    }
    let (ra, rb, rc) = tokio::join!(
        t.app.poll_due_once(now),
        b.poll_due_once(now),
        c.poll_due_once(now)
    );
    let counts = [ra.unwrap().len(), rb.unwrap().len(), rc.unwrap().len()];
    assert_eq!(
        counts.iter().sum::<usize>(),
        30,
        "each due feed polled once: {counts:?}"
    );
    assert_eq!(
        server.hits.load(Ordering::SeqCst),
        30,
        "no feed fetched twice"
    );
    let overlaps: Vec<_> = server
        .max_in_flight
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, (_, max))| *max > 1)
        .map(|(n, _)| *n)
        .collect();
    assert!(
        overlaps.is_empty(),
        "feeds polled by two instances at once: {overlaps:?}"
    );
    assert_eq!(t.article_count().await, 30 * 25, "every entry stored once");
    assert_eq!(t.scalar("SELECT COUNT(*) FROM feed_items").await, 30 * 25);
    assert_eq!(
        t.scalar("SELECT COUNT(*) FROM feeds WHERE leased_by IS NOT NULL")
            .await,
        0,
        "every claim given back once its poll was stored"
    );
    let stats = t.cli(&["stats"]);
    let out = crate::helpers::stdout(&stats);
    for name in ["a", "b", "c"] {
        assert!(out.contains(&format!("instance {name}: pid")), "{out}");
    }
    // `poll --once`'s path beside a live instance holding a feed leaves that
    // feed alone.
    let held = t.scalar("SELECT MIN(id) FROM feeds").await;
    assert!(t
        .app
        .store()
        .claim_feed(held, Utc::now(), false)
        .await
        .unwrap());
    let polled = b.poll_all_once(Utc::now()).await.unwrap();
    assert_eq!(polled.len(), 29, "the feed a holds was not polled by b");
}

engine_test! {
    async fn a_second_live_instance_with_the_same_name_is_refused_naming_the_first(engine) {
        let t = spawn_app_env_on(engine, &[], QUIET, &[("NEWSD__INSTANCE__NAME", "desk")]).await;
        let now = Utc::now();
        t.app.register(now).await.expect("the first registers");
        let twin = instance(&t, "desk", None).await;
        let err = twin.register(now).await.expect_err("a live name is refused");
        let msg = format!("{err:#}");
        assert!(msg.contains("another newsd instance named \"desk\""), "{msg}");
        assert!(msg.contains(&format!("pid {}", std::process::id())), "{msg}");
        let other = instance(&t, "desk-2", None).await;
        other.register(now).await.expect("another name is fine");
        t.app.deregister().await;
        twin.register(now).await.expect("free once the first stopped cleanly");
        let names: Vec<String> = twin
            .store()
            .live_instances(now)
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.name)
            .collect();
        assert_eq!(names, ["desk", "desk-2"]);
    }
}

engine_test! {
    async fn an_instance_with_a_shorter_feed_list_disables_no_feed_another_live_one_lists(engine) {
        let feeds = vec!["https://a.example/rss".to_string(), "https://b.example/rss".to_string()];
        let t = spawn_app_env_on(engine, &feeds, QUIET, &[("NEWSD__INSTANCE__NAME", "full")]).await;
        let now = Utc::now();
        t.app.register(now).await.unwrap();
        t.app.sync_config_feeds(now).await.unwrap();
        let older = instance(&t, "older", Some(&feeds[..1])).await;
        older.register(now).await.unwrap();
        older.sync_config_feeds(now).await.unwrap();
        assert_eq!(
            t.scalar("SELECT COUNT(*) FROM feeds WHERE enabled").await,
            2,
            "b.example stays: the live instance `full` lists it"
        );
        // Once `full` is gone, the remaining config is the archive's.
        t.app.deregister().await;
        older.sync_config_feeds(now).await.unwrap();
        assert_eq!(t.scalar("SELECT COUNT(*) FROM feeds WHERE enabled").await, 1);
        // And `newsd feeds disable` switches one off whatever the configs say.
        let out = t.cli(&["feeds", "disable", &feeds[0]]);
        assert!(out.status.success(), "{}", crate::helpers::stderr(&out));
        assert_eq!(t.scalar("SELECT COUNT(*) FROM feeds WHERE enabled").await, 0);
    }
}

engine_test! {
    async fn clustering_runs_on_one_instance_and_moves_to_another_within_a_lease_of_its_death(engine) {
        let extra = format!("{QUIET}[instance]\nlease = \"3s\"\n");
        let t = spawn_app_env_on(engine, &[], &extra, &[("NEWSD__INSTANCE__NAME", "first")]).await;
        let second = instance(&t, "second", None).await;
        let t0 = Utc::now();
        t.app.register(t0).await.unwrap();
        second.register(t0).await.unwrap();
        let (mut s1, mut s2) = (Housekeeping::new(t0), Housekeeping::new(t0));
        let due = t0 + chrono::Duration::seconds(31);
        assert!(t.app.housekeeping_once(&mut s1, due).await.clustered, "first takes clustering");
        assert!(!second.housekeeping_once(&mut s2, due).await.clustered, "only one instance clusters");
        // `first` dies (no heartbeat, no deregistration); its claim runs out.
        let later = due + chrono::Duration::seconds(2);
        assert!(!second.housekeeping_once(&mut s2, later).await.clustered, "still within first's lease");
        let after = due + chrono::Duration::seconds(4);
        assert!(second.heartbeat_once(after).await.unwrap());
        assert!(second.housekeeping_once(&mut s2, after).await.clustered, "second took over");
        let rows = second.store().live_instances(after).await.unwrap();
        assert_eq!(rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["second"], "first is dead");
        assert!(rows[0].singletons.contains(&"cluster".to_string()), "{rows:?}");
    }
}

/// Publisher pages for full text, counting the fetches per path.
struct Publisher {
    base: String,
    fetches: Arc<Mutex<HashMap<String, usize>>>,
}

async fn publisher() -> Publisher {
    use axum::extract::Path;
    use axum::routing::get;
    let fetches: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let f = fetches.clone();
    let router = axum::Router::new().route(
        "/news/{slug}",
        get(move |Path(slug): Path<String>| {
            let f = f.clone();
            async move {
                *f.lock().unwrap().entry(slug.clone()).or_default() += 1;
                // Slow enough that a killed instance dies with pages in flight.
                tokio::time::sleep(Duration::from_millis(150)).await;
                let para = format!(
                    "<p>The council approved the harbour expansion plan for {slug} after a long \
                     debate about dredging, shipping lanes and the cost to local fishing crews, \
                     who asked for compensation and a say in the timetable of the works.</p>"
                );
                axum::response::Html(format!(
                    "<html><head><title>Harbour {slug}</title></head><body><article>\
                     <h1>Harbour expansion {slug}</h1>{}</article></body></html>",
                    para.repeat(8)
                ))
            }
        }),
    );
    Publisher {
        base: serve(router).await,
        fetches,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_instance_of_three_loses_no_entry_and_its_work_is_taken_over_once() {
    use std::process::{Command, Stdio};
    if !postgres_configured("sigkill one of three") {
        return;
    }
    let publisher = publisher().await;
    let google = crate::google_news::FakeGoogle::start().await;
    google.serve_article_pages().await;
    let titles: Vec<String> = (0..30)
        .map(|i| format!("Harbour story number {i} for the coast"))
        .collect();
    let items: Vec<crate::google_news::GItem<'_>> = (0..30)
        .map(|i| {
            let id = crate::google_news::token_id(&format!("k{i}"));
            // `localhost`: a host other than the stand-in Google's 127.0.0.1.
            let page = publisher.base.replace("127.0.0.1", "localhost");
            google.answer(&id, &format!("{page}/news/g{i}"));
            crate::google_news::GItem {
                id,
                title: &titles[i],
                source: "Coast Post",
                source_url: "https://coast.example",
            }
        })
        .collect();
    google.serve_feed("/rss/search", &items).await;
    let base = publisher.base.clone();
    let plain = crate::helpers::feed_server(move |n| {
        generated_rss(20, |i| {
            (
                format!("p{n}-{i}"),
                format!("Plain story {i} of feed {n}"),
                format!("{base}/news/p{n}x{i}"),
            )
        })
    })
    .await;
    let mut feeds: Vec<String> = (0..10).map(|n| plain.feed(n)).collect();
    feeds.push(google.feed_url("/rss/search"));
    let archive = crate::helpers::archive_on(Engine::Postgres).await;
    let extra = format!(
        "[instance]\nlease = \"3s\"\n[extract]\nlease = \"4s\"\nretry_interval = \"1s\"\n{}",
        google.config()
    );
    let config = crate::helpers::write_config(archive.dir.path(), &archive.url, &feeds, &extra);
    let logs = archive.dir.path().to_path_buf();
    let start = |name: &str| {
        Command::new(env!("CARGO_BIN_EXE_newsd"))
            .arg("--config")
            .arg(&config)
            .arg("run")
            .env_remove("NEWSD_CONFIG")
            .env("NEWSD__INSTANCE__NAME", name)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(logs.join(name)).expect("log file"))
            .spawn()
            .expect("spawn newsd run")
    };
    let mut daemons: Vec<_> = ["a", "b", "c"].iter().map(|n| start(n)).collect();
    let mut store = None;
    for _ in 0..200 {
        if let Ok(s) =
            newsd::store::Store::open_read_only(&archive.url, Duration::from_secs(5)).await
        {
            store = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let store = store.expect("the instances made the archive within 10 s");
    let count = |sql: &'static str| {
        let store = store.clone();
        async move { newsd::store::testing::scalar_i64(&store, sql).await }
    };
    // Kill one while pages are being fetched and links resolved.
    for _ in 0..600 {
        if count("SELECT COUNT(*) FROM articles WHERE text IS NOT NULL").await >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = daemons[1].kill();
    let _ = daemons[1].wait();
    let expected = 10 * 20 + 30;
    let mut settled = false;
    for _ in 0..600 {
        let with_text = count("SELECT COUNT(*) FROM articles WHERE text IS NOT NULL").await;
        let resolved = count("SELECT COUNT(*) FROM google_links WHERE status = 'resolved'").await;
        if with_text >= expected && resolved >= 30 {
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for d in daemons.iter_mut() {
        let _ = d.kill();
        let _ = d.wait();
    }
    let log = |name: &str| std::fs::read_to_string(logs.join(name)).unwrap_or_default();
    assert!(
        settled,
        "all work done by the two survivors: {} articles, {} with text, {} links, {} resolved; logs:\n{}\n{}",
        count("SELECT COUNT(*) FROM articles").await,
        count("SELECT COUNT(*) FROM articles WHERE text IS NOT NULL").await,
        count("SELECT COUNT(*) FROM google_links").await,
        count("SELECT COUNT(*) FROM google_links WHERE status = 'resolved'").await,
        log("a"),
        log("c")
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM articles").await,
        expected,
        "no entry lost or stored twice"
    );
    assert_eq!(count("SELECT COUNT(*) FROM feed_items").await, expected);
    assert_eq!(
        count("SELECT COUNT(*) FROM fulltext_jobs WHERE status = 'pending'").await,
        0
    );
    // Each link looked up once; the killed instance had at most one lookup
    // in flight.
    let gets = google.article_page_gets().await;
    assert!((30..=31).contains(&gets), "article-page GETs: {gets}");
    let fetches = publisher.fetches.lock().unwrap().clone();
    assert_eq!(fetches.len() as i64, expected, "every page fetched");
    let again: usize = fetches.values().map(|n| n - 1).sum();
    // Only what the killed instance held when it died is fetched again:
    // at most the jobs one full-text round leases (2 × extract.max_concurrent).
    assert!(again <= 8, "pages fetched twice: {again} ({fetches:?})");
}
