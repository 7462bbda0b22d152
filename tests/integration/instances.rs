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
