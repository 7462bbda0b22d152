//! Saved-search benchmark: what 1,000 saved searches cost the ingest, per new
//! article at any archive size, and how long an alert takes in the daemon.
//!
//! ```text
//! # matching: --feeds local feeds of 100 new items per round, polled over
//! # HTTP then matched, rounds with --searches saved searches alternating
//! # with rounds without, on a fresh archive of --fresh articles or on an
//! # existing one (--db, e.g. api_bench's 1M archive)
//! cargo run --release --example alerts_bench -- match --fresh 10000 [--searches 1000] [--fts-every 20]
//! cargo run --release --example alerts_bench -- match --db target/api_bench/articles-1000000.db
//! # delay: `newsd run` in process, a feed gaining a matching item every
//! # --every, a webhook receiver; first poll to delivery, p50/p99
//! cargo run --release --example alerts_bench -- delay [--minutes 6] [--hold 2m]
//! ```
//!
//! Words come from the article bodies of `/work/shared/extraction/ground-truth.json`
//! (real English news prose); queries are 1–3 words of frequency ranks
//! 1,000–20,000 (`--ranks`), 5 % in the engine's raw syntax (`w1 OR w2`), 10 %
//! limited to a publisher.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use newsd::app::App;
use newsd::config::Settings;
use newsd::domain::{CanonicalUrl, EntryKey};
use newsd::store::{FeedStatus, FeedUpdate, NewEntry, NewFeed, NewSearch, SearchOrigin, Store};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

const PUBLISHERS: usize = 50;

fn vocabulary() -> Result<Vec<String>> {
    let gt = "/work/shared/extraction/ground-truth.json";
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(gt).with_context(|| format!("reading {gt}"))?,
    )?;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for a in v.as_object().context("ground truth is an object")?.values() {
        let Some(body) = a.get("articleBody").and_then(|b| b.as_str()) else {
            continue;
        };
        for w in body
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.len() >= 3 && w.chars().all(|c| c.is_ascii_alphabetic()))
        {
            *counts.entry(w.to_lowercase()).or_default() += 1;
        }
    }
    let mut words: Vec<(String, usize)> = counts.into_iter().collect();
    words.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(words.into_iter().map(|(w, _)| w).collect())
}

fn sentence(rng: &mut StdRng, words: &[String], n: usize) -> String {
    // Frequent words often, rare ones sometimes, as in prose.
    (0..n)
        .map(|_| {
            let rank = (rng.gen::<f64>().powi(3) * words.len() as f64) as usize;
            words[rank.min(words.len() - 1)].as_str()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

struct Gen {
    rng: StdRng,
    words: Vec<String>,
    serial: u64,
}

impl Gen {
    fn entries(&mut self, feed: i64, n: usize, now: DateTime<Utc>) -> Vec<NewEntry> {
        (0..n)
            .map(|_| {
                self.serial += 1;
                let k = format!("{feed}/{}/{}", now.timestamp_micros(), self.serial);
                let (t, m) = (self.rng.gen_range(7..15), self.rng.gen_range(20..60));
                let title = sentence(&mut self.rng, &self.words, t);
                let summary = sentence(&mut self.rng, &self.words, m);
                NewEntry {
                    entry_key: EntryKey::from_stored(format!("id:{k}")),
                    guid: Some(k.clone()),
                    link: Some(format!("https://alerts.example/{k}")),
                    url: Some(format!("https://alerts.example/{k}")),
                    url_key: Some(CanonicalUrl::from_stored(format!("alerts.example/{k}"))),
                    title: Some(title),
                    summary: Some(summary),
                    publisher: Some(format!("Publisher {}", self.rng.gen_range(0..PUBLISHERS))),
                    published_at: Some(now),
                    ..Default::default()
                }
            })
            .collect()
    }
}

fn searches(
    rng: &mut StdRng,
    words: &[String],
    n: usize,
    fts_every: usize,
    ranks: (usize, usize),
) -> Vec<NewSearch> {
    let mid = &words[ranks.0.min(words.len())..ranks.1.min(words.len())];
    (0..n)
        .map(|i| {
            let k = rng.gen_range(1..=3);
            let picked: Vec<&String> = mid.choose_multiple(rng, k).collect();
            let fts = fts_every > 0 && i % fts_every == 0;
            let query = if fts {
                picked
                    .iter()
                    .map(|w| w.as_str())
                    .collect::<Vec<_>>()
                    .join(" OR ")
            } else {
                picked
                    .iter()
                    .map(|w| w.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            NewSearch {
                name: format!("bench-{i}"),
                query,
                fts,
                feeds: Vec::new(),
                publishers: if i % 10 == 3 {
                    vec![format!("Publisher {}", rng.gen_range(0..PUBLISHERS))]
                } else {
                    Vec::new()
                },
                lang: None,
                channels: Vec::new(),
                digest_secs: None,
                backfill: false,
            }
        })
        .collect()
}

async fn store_round(
    store: &Store,
    feed: i64,
    entries: &[NewEntry],
    now: DateTime<Utc>,
) -> Result<()> {
    let update = FeedUpdate {
        last_status: FeedStatus::Ok,
        next_poll_at: now,
        polled_at: now,
        fetch_url: format!("https://alerts.example/{feed}.xml"),
        ..Default::default()
    };
    store.record_poll(feed, entries, now, update).await?;
    store.index_pending().await?;
    Ok(())
}

fn flag<T: std::str::FromStr>(args: &[String], name: &str) -> Result<Option<T>> {
    match args.iter().position(|a| a == name) {
        None => Ok(None),
        Some(i) => match args.get(i + 1).map(|v| v.parse::<T>()) {
            Some(Ok(v)) => Ok(Some(v)),
            _ => bail!("{name} needs a value"),
        },
    }
}

/// Feed documents of one round: `feeds` RSS feeds of `per_feed` new items.
fn documents(gen: &mut Gen, feeds: usize, per_feed: usize, round: usize) -> Vec<String> {
    let esc = |s: &str| html_escape::encode_text(s).into_owned();
    (0..feeds)
        .map(|f| {
            let items: String = gen
                .entries(f as i64, per_feed, Utc::now())
                .iter()
                .map(|e| {
                    format!(
                        "<item><guid>r{round}-{}</guid><title>{}</title><link>{}</link>\
                         <description>{}</description><author>{}</author></item>\n",
                        e.guid.as_deref().unwrap_or_default(),
                        esc(e.title.as_deref().unwrap_or_default()),
                        esc(e.link.as_deref().unwrap_or_default()),
                        esc(e.summary.as_deref().unwrap_or_default()),
                        esc(e.publisher.as_deref().unwrap_or_default()),
                    )
                })
                .collect();
            format!(
                "<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel><title>Feed {f}</title>\n{items}</channel></rss>"
            )
        })
        .collect()
}

async fn bench_match(args: &[String]) -> Result<()> {
    let n_searches: usize = flag(args, "--searches")?.unwrap_or(1000);
    let feeds: usize = flag(args, "--feeds")?.unwrap_or(20);
    let per_feed = 100;
    let rounds: usize = flag(args, "--rounds")?.unwrap_or(4);
    let fresh: Option<usize> = flag(args, "--fresh")?;
    let dir = std::env::temp_dir().join(format!("alerts_bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db: PathBuf = match (flag::<String>(args, "--db")?, fresh) {
        (Some(p), None) => PathBuf::from(p),
        (None, Some(_)) => dir.join("archive.db"),
        _ => bail!("give one of --db PATH and --fresh N"),
    };
    let docs: Arc<std::sync::RwLock<Vec<String>>> = Arc::default();
    let served = docs.clone();
    let router = axum::Router::new().route(
        "/feed/{i}",
        axum::routing::get(move |axum::extract::Path(i): axum::extract::Path<usize>| {
            let served = served.clone();
            async move {
                served
                    .read()
                    .ok()
                    .and_then(|d| d.get(i).cloned())
                    .unwrap_or_default()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });
    let mut config = format!(
        "[database]\nurl = \"sqlite://{}\"\n[http]\nallow_networks = [\"127.0.0.1/32\"]\n\
         per_host_delay = \"0s\"\nper_host_concurrency = 16\n[extract]\nenabled = false\n",
        db.display()
    );
    for f in 0..feeds {
        config.push_str(&format!("[[feeds]]\nurl = \"{base}/feed/{f}\"\n"));
    }
    let config_path = dir.join("newsd.toml");
    std::fs::write(&config_path, config)?;
    let app = App::build(Settings::load_with_env(Some(&config_path), Vec::new())?.settings).await?;
    app.sync_config_feeds(Utc::now()).await?;
    let store = app.store().clone();
    let mut gen = Gen {
        rng: StdRng::seed_from_u64(21),
        words: vocabulary()?,
        serial: 0,
    };
    if let Some(n) = fresh {
        let (feed, _) = store
            .add_feed(
                &NewFeed {
                    url: "https://alerts.example/archive.xml".to_owned(),
                    name: None,
                    interval_secs: None,
                },
                "cli",
                Utc::now(),
            )
            .await?;
        let t = Instant::now();
        for chunk in 0..n.div_ceil(1000) {
            let entries = gen.entries(feed.id, 1000.min(n - chunk * 1000), Utc::now());
            store_round(&store, feed.id, &entries, Utc::now()).await?;
        }
        println!(
            "fresh archive of {n} articles in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        // Its articles stay; the feed itself is not there to poll.
        store
            .set_feed_enabled(&feed.id.to_string(), false, Utc::now())
            .await?;
    }
    // Only this run's feeds are polled: an archive made by another benchmark
    // has feeds on hosts that do not exist here.
    for f in store.list_feeds().await? {
        if f.enabled && !f.url.starts_with(&base) {
            store
                .set_feed_enabled(&f.id.to_string(), false, Utc::now())
                .await?;
        }
    }
    // Whatever is queued (the fresh archive, an earlier run) is not this run's work.
    app.match_once(Utc::now()).await?;
    let stored = store.stats().await?.articles;
    println!("archive: {stored} articles, {}", db.display());

    let mut rng = StdRng::seed_from_u64(1000);
    // One search in `--fts-every` (default 20: 5 %) is in the engine's syntax; 0: none.
    let fts_every: usize = flag(args, "--fts-every")?.unwrap_or(20);
    // Query words by their frequency rank in the prose: specific terms, as
    // alerts follow names and topics (`--ranks 200-5000` for broad ones).
    let ranks = match flag::<String>(args, "--ranks")?
        .as_deref()
        .map(|r| r.split_once('-'))
    {
        None => (1000, 20000),
        Some(Some((lo, hi))) => (lo.parse()?, hi.parse()?),
        Some(None) => bail!("--ranks LO-HI"),
    };
    let defs = searches(&mut rng, &gen.words, n_searches, fts_every, ranks);
    println!(
        "{n_searches} searches of 1-3 words of frequency ranks {}-{}",
        ranks.0, ranks.1
    );
    println!(
        "\n{feeds} feeds of {per_feed} new items per round, polled over HTTP (`poll_all_once`), then matched (`match_once`)\n\n\
         | searches | round | poll ms | match ms | match µs/article | matches | poll+match articles/s |\n|---:|---:|---:|---:|---:|---:|---:|"
    );
    // (poll, match, articles, matches) per arm, the arms alternating round
    // by round so that both see the same machine.
    let mut arms = [(Duration::ZERO, Duration::ZERO, 0usize, 0usize); 2];
    for round in 0..rounds * 2 {
        let arm = round % 2;
        let with = if arm == 1 { n_searches } else { 0 };
        if with > 0 {
            for s in &defs {
                store.add_search(s, SearchOrigin::Cli, Utc::now()).await?;
            }
        }
        let fresh_docs = documents(&mut gen, feeds, per_feed, round);
        *docs.write().map_err(|_| anyhow::anyhow!("poisoned"))? = fresh_docs;
        let t = Instant::now();
        let polls = app.poll_all_once(Utc::now()).await?;
        let polled_in = t.elapsed();
        let new: usize = polls
            .iter()
            .map(|p| match &p.status {
                newsd::app::PollStatus::Ok { new_items, .. } => *new_items,
                _ => 0,
            })
            .sum();
        if new != feeds * per_feed {
            bail!("stored {new} new articles of {}", feeds * per_feed);
        }
        let t = Instant::now();
        let r = app.match_once(Utc::now()).await?;
        let matched_in = t.elapsed();
        println!(
            "| {with} | {round} | {:.0} | {:.0} | {:.1} | {} | {:.0} |",
            polled_in.as_secs_f64() * 1e3,
            matched_in.as_secs_f64() * 1e3,
            matched_in.as_secs_f64() * 1e6 / new as f64,
            r.matches,
            new as f64 / (polled_in + matched_in).as_secs_f64()
        );
        // The first pair warms the caches and the prepared statements.
        if round >= 2 {
            let a = &mut arms[arm];
            a.0 += polled_in;
            a.1 += matched_in;
            a.2 += new;
            a.3 += r.matches;
        }
        if with > 0 {
            for s in &defs {
                store.remove_search(&s.name).await?;
            }
        }
    }
    println!("\n| searches | poll+match articles/s | match µs/article | matches per article |\n|---:|---:|---:|---:|");
    let rate = |a: &(Duration, Duration, usize, usize)| a.2 as f64 / (a.0 + a.1).as_secs_f64();
    for (arm, a) in arms.iter().enumerate() {
        println!(
            "| {} | {:.0} | {:.1} | {:.2} |",
            if arm == 1 { n_searches } else { 0 },
            rate(a),
            a.1.as_secs_f64() * 1e6 / a.2.max(1) as f64,
            a.3 as f64 / a.2.max(1) as f64
        );
    }
    println!(
        "\nratio with searches / without: {:.2}",
        rate(&arms[1]) / rate(&arms[0])
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// When a webhook body arrived, and the body.
type Arrival = (DateTime<Utc>, serde_json::Value);

async fn bench_delay(args: &[String]) -> Result<()> {
    let minutes: f64 = flag(args, "--minutes")?.unwrap_or(6.0);
    let hold: String = flag(args, "--hold")?.unwrap_or_else(|| "2m".to_owned());
    let every: u64 = flag(args, "--every")?.unwrap_or(5);
    let started = Utc::now();
    // A feed that gains one matching item every `every` seconds.
    let feed = axum::Router::new().route(
        "/feed.xml",
        axum::routing::get(move || async move {
            let n = ((Utc::now() - started).num_seconds().max(0) as u64) / every;
            let items: String = (0..=n)
                .rev()
                .take(50)
                .map(|i| {
                    format!(
                        "<item><guid>item-{i}</guid><title>Lithium report number {i} from the mines</title>\
                         <link>https://delay.example/{i}</link></item>"
                    )
                })
                .collect();
            format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>{items}</channel></rss>")
        }),
    );
    let arrivals: Arc<Mutex<Vec<Arrival>>> = Arc::default();
    let seen = arrivals.clone();
    let hook = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let seen = seen.clone();
            async move {
                if let Ok(v) = serde_json::from_str(&body) {
                    seen.lock().map(|mut s| s.push((Utc::now(), v))).ok();
                }
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let serve = |router: axum::Router| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, router).await });
        anyhow::Ok(addr)
    };
    let (feed_addr, hook_addr) = (serve(feed).await?, serve(hook).await?);
    let dir = std::env::temp_dir().join(format!("alerts_bench-delay-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let config = dir.join("newsd.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[database]
url = "sqlite://{db}"
[http]
allow_networks = ["127.0.0.1/32"]
per_host_delay = "0s"
[scheduler]
min_interval = "{every}s"
[extract]
enabled = false
[alerts]
hold = "{hold}"
[[feeds]]
url = "http://{feed_addr}/feed.xml"
interval = "{every}s"
[[channels]]
name = "hook"
kind = "webhook"
url = "http://{hook_addr}/hook"
[[searches]]
name = "lithium"
query = "lithium mines"
channels = ["hook"]
"#,
            db = dir.join("archive.db").display()
        ),
    )?;
    let loaded = Settings::load_with_env(Some(&config), Vec::new())?;
    let app = App::build(loaded.settings).await?;
    app.sync_config_feeds(Utc::now()).await?;
    app.sync_config_searches(Utc::now()).await?;
    let stop = tokio_util::sync::CancellationToken::new();
    let daemon = {
        let (app, stop) = (app.clone(), stop.clone());
        tokio::spawn(async move { app.run_until_stopped(stop).await })
    };
    println!("daemon running for {minutes} min: an item every {every} s, alerts.hold = {hold}");
    tokio::time::sleep(Duration::from_secs_f64(minutes * 60.0)).await;
    stop.cancel();
    daemon.await??;
    let arrivals = arrivals.lock().map(|a| a.clone()).unwrap_or_default();
    let mut delays: Vec<f64> = arrivals
        .iter()
        .filter_map(|(at, v)| {
            let first: DateTime<Utc> = v["articles"][0]["first_seen_at"].as_str()?.parse().ok()?;
            Some((*at - first).num_milliseconds() as f64 / 1e3)
        })
        .collect();
    delays.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| delays[((delays.len() - 1) as f64 * p).round() as usize];
    if delays.is_empty() {
        bail!("no alert arrived");
    }
    println!(
        "{} alerts; first poll to delivery: p50 {:.1} s, p99 {:.1} s, max {:.1} s",
        delays.len(),
        pct(0.5),
        pct(0.99),
        delays[delays.len() - 1]
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("match") => bench_match(&args).await,
        Some("delay") => bench_delay(&args).await,
        _ => bail!("usage: alerts_bench match (--fresh N | --db PATH) | delay [--minutes M]"),
    }
}
