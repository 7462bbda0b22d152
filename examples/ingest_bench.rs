//! Ingest benchmark: N local RSS feeds, R rounds of `App::poll_all_once`.
//!
//! The feed server runs in a child process (this same binary with
//! `--serve-only`), so the peak RSS reported is the ingester's alone. Every
//! round the server switches to a fresh set of documents (the round number is
//! part of every guid and link) before the timer starts, and sends no ETag or
//! Last-Modified, so every poll is a full fetch of 100 new items.
//!
//! ```text
//! cargo run --release --example ingest_bench -- --feeds 5000 --rounds 2
//! cargo run --release --example ingest_bench -- --serve-only --feeds 5000 --port 0
//! ```
//!
//! `--serve-only` prints `LISTENING <port>` and serves `/feed/{i}.xml`;
//! `GET /advance/{round}` regenerates every document for that round and
//! answers once they are ready (used by `bench/feedparser_baseline.py` too).

use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Result};
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use url::Url;

use newsd::app::{fetch_config, App, PollStatus};
use newsd::config::Settings;
use newsd::feed::parse_feed;
use newsd::fetch::{FetchRequest, Fetcher};
use newsd::poll::to_new_entry;
use newsd::store::{FeedStatus, FeedUpdate, NewEntry, NewFeed, Store};

#[path = "support/child_server.rs"]
mod child_server;
use child_server::ChildServer;

const ITEMS_PER_FEED: usize = 100;

#[derive(Parser, Debug)]
#[command(about = "newsd ingest benchmark")]
struct Args {
    /// Number of feeds.
    #[arg(long, default_value_t = 100)]
    feeds: usize,
    /// Poll rounds (each brings 100 fresh items per feed).
    #[arg(long, default_value_t = 3)]
    rounds: u64,
    /// scheduler.max_concurrent_fetches and http.per_host_concurrency (all
    /// feeds are on 127.0.0.1, which counts as one host).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Only run the feed server (prints `LISTENING <port>`).
    #[arg(long)]
    serve_only: bool,
    /// Port for `--serve-only` (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// After the measured run, time fetch, parse and store separately.
    #[arg(long)]
    breakdown: bool,
    /// Feeds used by `--breakdown`.
    #[arg(long, default_value_t = 1000)]
    breakdown_feeds: usize,
    /// Keep the database in this directory (created if missing) instead of a
    /// temporary one, to inspect it afterwards (`sqlite3`, `dbstat`).
    #[arg(long)]
    keep_db: Option<std::path::PathBuf>,
    /// Ingest into this archive instead of a new SQLite file: e.g. an empty
    /// PostgreSQL database, `postgres://newsd:newsd@127.0.0.1/bench` (the
    /// benchmark's check needs it empty). The peak RSS is then newsd's
    /// alone, without the server's.
    #[arg(long)]
    database_url: Option<String>,
    /// Print one JSON line with the results (for bench/ingest.sh).
    #[arg(long)]
    json: bool,
    /// What the feeds look like: `plain` publisher RSS, or `google`, shaped
    /// like a real Google News search feed (new-format article ids,
    /// `Headline - Publisher` titles, `<source>`, HTML link descriptions, one
    /// related-coverage cluster per feed).
    #[arg(long, value_enum, default_value_t = Shape::Plain)]
    shape: Shape,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Shape {
    Plain,
    Google,
}

impl Shape {
    fn document(self, feed: usize, round: u64) -> String {
        match self {
            Shape::Plain => rss_document(feed, round),
            Shape::Google => google_document(feed, round),
        }
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if args.serve_only {
        rt.block_on(serve(args.feeds, args.port, args.shape))
    } else {
        rt.block_on(bench(&args))
    }
}

// ---------------------------------------------------------------- documents

const WORDS: &[&str] = &[
    "government",
    "council",
    "minister",
    "election",
    "budget",
    "report",
    "market",
    "shares",
    "climate",
    "storm",
    "coast",
    "city",
    "village",
    "police",
    "court",
    "ruling",
    "appeal",
    "health",
    "hospital",
    "vaccine",
    "study",
    "researchers",
    "university",
    "school",
    "teachers",
    "strike",
    "union",
    "workers",
    "energy",
    "prices",
    "inflation",
    "bank",
    "rates",
    "housing",
    "rents",
    "tenants",
    "football",
    "league",
    "season",
    "coach",
    "transfer",
    "final",
    "film",
    "festival",
    "museum",
    "exhibition",
    "artist",
    "novel",
    "review",
    "technology",
    "startup",
    "software",
    "security",
    "breach",
    "data",
    "privacy",
    "regulators",
    "europe",
    "asia",
    "africa",
    "america",
    "summit",
    "talks",
    "ceasefire",
    "border",
    "refugees",
    "aid",
    "drought",
    "harvest",
    "farmers",
    "exports",
    "trade",
    "tariffs",
    "factory",
    "jobs",
    "unemployment",
    "railway",
    "airport",
    "delays",
    "bridge",
    "road",
    "traffic",
    "mayor",
    "protest",
    "reform",
    "pension",
    "tax",
    "spending",
    "deficit",
    "investigation",
    "scandal",
    "resigns",
    "announces",
    "warns",
    "approves",
    "rejects",
    "launches",
    "record",
    "historic",
    "new",
    "first",
    "local",
    "national",
    "global",
    "weekly",
    "annual",
    "emergency",
    "plan",
    "deal",
    "vote",
];

/// Deterministic pseudo-random numbers (splitmix64).
struct Rng(u64);

impl Rng {
    fn new(round: u64, feed: usize, item: usize) -> Self {
        Rng(round
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add((feed as u64) << 20)
            .wrapping_add(item as u64))
    }
    /// A stream of its own for each (round, feed, item): `new`'s streams
    /// are one stream shifted by a step per round, so values drawn a
    /// different number of steps in repeat in the next round (harmless for
    /// text, not for ids that must be unique).
    fn unique(round: u64, feed: usize, item: usize) -> Self {
        let mut seed = Rng(round);
        let mut mixed = Rng(seed.next() ^ feed as u64);
        let mut mixed = Rng(mixed.next() ^ item as u64);
        Rng(mixed.next())
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn word(&mut self) -> &'static str {
        WORDS[(self.next() % WORDS.len() as u64) as usize]
    }
}

fn push_capitalized(out: &mut String, word: &str) {
    let mut c = word.chars();
    if let Some(f) = c.next() {
        out.extend(f.to_uppercase());
        out.push_str(c.as_str());
    }
}

fn sentence(rng: &mut Rng, out: &mut String, min_chars: usize) {
    let start = out.len();
    let mut first = true;
    while out.len() - start < min_chars {
        let w = rng.word();
        if first {
            push_capitalized(out, w);
            first = false;
        } else {
            out.push(' ');
            out.push_str(w);
        }
    }
    out.push('.');
}

/// When round `round`'s documents were built: an hour after the last's.
fn round_time(round: u64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
        + chrono::Duration::hours(round as i64)
}

/// One RSS 2.0 document: feed `feed` as it looks in round `round`.
fn rss_document(feed: usize, round: u64) -> String {
    let base = round_time(round);
    let publisher = feed % 50;
    let mut s = String::with_capacity(ITEMS_PER_FEED * 700 + 600);
    let _ = write!(
        s,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\">\n<channel>\n\
         <title>Publisher {publisher} &#8211; Section {feed}</title>\n\
         <link>https://publisher{publisher}.example/section/{feed}</link>\n\
         <description>Latest news from publisher {publisher}, section {feed}</description>\n\
         <language>en-us</language>\n\
         <lastBuildDate>{}</lastBuildDate>\n\
         <atom:link href=\"https://publisher{publisher}.example/feed/{feed}.xml\" rel=\"self\" type=\"application/rss+xml\"/>\n",
        base.to_rfc2822()
    );
    for item in 0..ITEMS_PER_FEED {
        let mut rng = Rng::new(round, feed, item);
        let mut title = String::new();
        sentence(&mut rng, &mut title, 55);
        title.pop();
        let mut desc = String::new();
        while desc.len() < 290 {
            if !desc.is_empty() {
                desc.push(' ');
            }
            sentence(&mut rng, &mut desc, 60);
        }
        let category = rng.word();
        let published = base - chrono::Duration::minutes((item * 7) as i64);
        let _ = write!(
            s,
            "<item>\n\
             <title>{title}</title>\n\
             <link>https://publisher{publisher}.example/{round}/{feed}/{item}</link>\n\
             <guid isPermaLink=\"false\">urn:bench:{round}:{feed}:{item}</guid>\n\
             <description>&lt;p&gt;{desc}&lt;/p&gt;</description>\n\
             <category>{category}</category>\n\
             <pubDate>{}</pubDate>\n\
             </item>\n",
            published.to_rfc2822()
        );
    }
    s.push_str("</channel>\n</rss>\n");
    s
}

/// Publishers of the Google-shaped feeds: (name, homepage).
fn google_publisher(p: u64) -> (String, String) {
    const KINDS: [&str; 5] = ["Times", "Post", "Herald", "Tribune", "Journal"];
    let place = WORDS[(p as usize * 7) % WORDS.len()];
    let kind = KINDS[p as usize % KINDS.len()];
    let mut name = String::from("The ");
    push_capitalized(&mut name, place);
    name.push(' ');
    name.push_str(kind);
    let home = format!("https://www.{place}{}.example", kind.to_lowercase());
    (name, home)
}

/// A new-format Google News article id (what feeds carry since 2024): base64
/// of `08 13 22 <len> AU_yqL…` (an opaque token only Google can map), a
/// third of them with the second (AMP) token real ids often carry.
fn google_article_id(rng: &mut Rng) -> String {
    use base64::Engine as _;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    fn token(rng: &mut Rng, out: &mut Vec<u8>, field: &[u8]) {
        let len = 130 + (rng.next() % 80) as usize;
        out.extend_from_slice(field);
        out.push(0x80 | (len & 0x7f) as u8);
        out.push((len >> 7) as u8);
        out.extend_from_slice(b"AU_yqL");
        out.extend((6..len).map(|_| ALPHABET[(rng.next() % 64) as usize]));
    }
    let mut bytes = vec![0x08, 0x13];
    token(rng, &mut bytes, &[0x22]);
    if rng.next().is_multiple_of(3) {
        token(rng, &mut bytes, &[0xd2, 0x01]);
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// One related-coverage link as Google writes it into a description
/// (entity-escaped, as in the feed).
fn google_link_html(s: &mut String, link: &str, headline: &str, publisher: &str) {
    let _ = write!(
        s,
        "&lt;a href=\"{link}\" target=\"_blank\"&gt;{headline}&lt;/a&gt;&amp;nbsp;&amp;nbsp;\
         &lt;font color=\"#6f6f6f\"&gt;{publisher}&lt;/font&gt;"
    );
}

/// One document shaped like a real Google News search feed (compare
/// `tests/fixtures/google-news/`): one line, Google's channel elements,
/// items of `Headline - Publisher`, a news.google.com link with a new-format
/// id, the id as guid, `<source>`, and an HTML description linking the item;
/// the first item carries a nine-story related-coverage `<ol>` as in the
/// real search feed this was modelled on.
fn google_document(feed: usize, round: u64) -> String {
    let base = round_time(round);
    let mut s = String::with_capacity(ITEMS_PER_FEED * 1500 + 1200);
    let query = format!("{} {feed}", WORDS[feed % WORDS.len()]);
    let q = query.replace(' ', "+");
    let _ = write!(
        s,
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><rss version=\"2.0\" \
         xmlns:media=\"http://search.yahoo.com/mrss/\"><channel><generator>NFE/5.0</generator>\
         <title>\"{query}\" - Google News</title>\
         <link>https://news.google.com/search?q={q}&amp;hl=en-US&amp;gl=US&amp;ceid=US:en</link>\
         <language>en-US</language><webMaster>news-webmaster@google.com</webMaster>\
         <copyright>Copyright © 2026 Google. All rights reserved. This XML feed is made available \
         solely for the purpose of rendering Google News results within a personal feed reader for \
         personal, non-commercial use. Any other use of the feed is expressly prohibited. By \
         accessing this feed or using these results in any manner whatsoever, you agree to be bound \
         by the foregoing restrictions.</copyright><lastBuildDate>{}</lastBuildDate><image>\
         <title>Google News</title><url>https://lh3.googleusercontent.com/-DR60l-K8vnyi99NZovm9HlXyZwQ85GMDxiwJWzoasZYCUrPuUM_P_4Rb7ei03j-0nRs0c4F=w256</url>\
         <link>https://news.google.com/</link><height>256</height><width>256</width></image>\
         <description>Google News</description>",
        base.to_rfc2822().replace("+0000", "GMT")
    );
    for item in 0..ITEMS_PER_FEED {
        let mut rng = Rng::unique(round, feed, item);
        let (publisher, home) = google_publisher(rng.next() % 50);
        let min_chars = 25 + (rng.next() % 90) as usize;
        let mut headline = String::new();
        sentence(&mut rng, &mut headline, min_chars);
        headline.pop();
        let id = google_article_id(&mut rng);
        let link = format!("https://news.google.com/rss/articles/{id}?oc=5");
        let mut desc = String::new();
        if item == 0 {
            desc.push_str("&lt;ol&gt;&lt;li&gt;");
            google_link_html(&mut desc, &link, &headline, &publisher);
            desc.push_str("&lt;/li&gt;");
            for _ in 1..9 {
                let (other, _) = google_publisher(rng.next() % 50);
                let mut related = String::new();
                let min_chars = 40 + (rng.next() % 60) as usize;
                sentence(&mut rng, &mut related, min_chars);
                related.pop();
                let related_link = format!(
                    "https://news.google.com/rss/articles/{}?oc=5",
                    google_article_id(&mut rng)
                );
                desc.push_str("&lt;li&gt;");
                google_link_html(&mut desc, &related_link, &related, &other);
                desc.push_str("&lt;/li&gt;");
            }
            desc.push_str("&lt;/ol&gt;");
        } else {
            google_link_html(&mut desc, &link, &headline, &publisher);
        }
        let published = base - chrono::Duration::minutes((rng.next() % 4000) as i64);
        let _ = write!(
            s,
            "<item><title>{headline} - {publisher}</title><link>{link}</link>\
             <guid isPermaLink=\"false\">{id}</guid><pubDate>{}</pubDate>\
             <description>{desc}</description><source url=\"{home}\">{publisher}</source></item>",
            published.to_rfc2822().replace("+0000", "GMT")
        );
    }
    s.push_str("</channel></rss>");
    s
}

// ------------------------------------------------------------------- server

struct ServerState {
    feeds: usize,
    shape: Shape,
    /// (round, documents of that round)
    docs: RwLock<(Option<u64>, Arc<Vec<Bytes>>)>,
}

async fn serve(feeds: usize, port: u16, shape: Shape) -> Result<()> {
    let state = Arc::new(ServerState {
        feeds,
        shape,
        docs: RwLock::new((None, Arc::new(Vec::new()))),
    });
    let app = Router::new()
        .route("/feed/{file}", get(feed_handler))
        .route("/advance/{round}", get(advance_handler))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let port = listener.local_addr()?.port();
    println!("LISTENING {port}");
    axum::serve(listener, app).await?;
    Ok(())
}

async fn feed_handler(
    State(s): State<Arc<ServerState>>,
    UrlPath(file): UrlPath<String>,
) -> Response {
    let Some(i) = file
        .strip_suffix(".xml")
        .and_then(|n| n.parse::<usize>().ok())
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let docs = s.docs.read().unwrap_or_else(|p| p.into_inner()).1.clone();
    match docs.get(i) {
        Some(body) => (
            [(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8")],
            body.clone(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn advance_handler(
    State(s): State<Arc<ServerState>>,
    UrlPath(round): UrlPath<u64>,
) -> Response {
    if s.docs.read().unwrap_or_else(|p| p.into_inner()).0 == Some(round) {
        return "ok\n".into_response();
    }
    let (n, shape) = (s.feeds, s.shape);
    let built = tokio::task::spawn_blocking(move || {
        (0..n)
            .map(|i| Bytes::from(shape.document(i, round)))
            .collect::<Vec<_>>()
    })
    .await;
    match built {
        Ok(docs) => {
            *s.docs.write().unwrap_or_else(|p| p.into_inner()) = (Some(round), Arc::new(docs));
            "ok\n".into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Starts `--serve-only` in a child process.
fn spawn_server(feeds: usize, shape: Shape) -> Result<ChildServer> {
    ChildServer::start(
        &std::env::current_exe()?,
        &[
            "--serve-only".into(),
            "--port".into(),
            "0".into(),
            "--feeds".into(),
            feeds.to_string(),
            "--shape".into(),
            format!("{shape:?}").to_lowercase(),
        ],
    )
}

async fn advance(client: &reqwest::Client, base: &str, round: u64) -> Result<()> {
    let resp = client
        .get(format!("{base}/advance/{round}"))
        .timeout(Duration::from_secs(600))
        .send()
        .await?;
    ensure!(
        resp.status().is_success(),
        "advance failed: {}",
        resp.status()
    );
    Ok(())
}

// -------------------------------------------------------------------- bench

/// A `/proc/self/status` field in MiB (`VmRSS`, `VmHWM`).
fn proc_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Bytes this process has written and read so far (`wchar`, `rchar` of
/// `/proc/self/io`: the WAL frames and the checkpoints that copy them back;
/// the pages read, cached or not, and the feed bodies), in MB.
fn io_mb() -> (f64, f64) {
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    let field = |name: &str| {
        io.lines()
            .find_map(|l| {
                l.strip_prefix(name)?
                    .strip_prefix(": ")?
                    .parse::<f64>()
                    .ok()
            })
            .map_or(f64::NAN, |b| b / 1e6)
    };
    (field("wchar"), field("rchar"))
}

/// User + system CPU seconds of this process so far (`/proc/self/stat`,
/// assuming the usual 100 clock ticks per second).
fn cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| stat_cpu(&s))
        .map_or(f64::NAN, |(_, secs)| secs)
}

/// The name and user + system CPU seconds in a `/proc/.../stat` line.
fn stat_cpu(stat: &str) -> Option<(String, f64)> {
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    // Fields after the `(comm)`: state is field 3, utime 14, stime 15.
    let f: Vec<&str> = stat.get(close + 2..)?.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some((stat[open + 1..close].to_owned(), ticks / 100.0))
}

/// CPU seconds of each thread of this process so far, by (name, tid)
/// (`/proc/self/task/*/stat`): which thread the rounds kept busy.
fn thread_cpu_secs() -> std::collections::BTreeMap<(String, u32), f64> {
    let mut out = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in tasks.flatten() {
        let Ok(tid) = task.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        if let Some((name, secs)) = stat_cpu(&stat) {
            out.insert((name, tid), secs);
        }
    }
    out
}

fn write_config(
    path: &Path,
    db_url: &str,
    base: &str,
    feeds: usize,
    concurrency: usize,
) -> Result<()> {
    let mut s = String::new();
    writeln!(s, "[database]\nurl = \"{db_url}\"\n")?;
    writeln!(s, "[scheduler]\nmax_concurrent_fetches = {concurrency}\n")?;
    writeln!(
        s,
        "[http]\nallow_networks = [\"127.0.0.1/32\"]\nper_host_delay = \"0s\"\n\
         per_host_concurrency = {concurrency}\n"
    )?;
    for i in 0..feeds {
        writeln!(s, "[[feeds]]\nurl = \"{base}/feed/{i}.xml\"")?;
    }
    std::fs::write(path, s)?;
    Ok(())
}

async fn bench(args: &Args) -> Result<()> {
    ensure!(
        args.feeds > 0 && args.rounds > 0,
        "--feeds and --rounds must be > 0"
    );
    let server = spawn_server(args.feeds, args.shape)?;
    let base = server.base.clone();
    let dir = tempfile::tempdir()?;
    let db_dir = match &args.keep_db {
        Some(keep) => {
            std::fs::create_dir_all(keep)?;
            keep.clone()
        }
        None => dir.path().to_owned(),
    };
    let db_url = match &args.database_url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", db_dir.join("bench.db").display()),
    };
    let cfg = dir.path().join("newsd.toml");
    write_config(&cfg, &db_url, &base, args.feeds, args.concurrency)?;
    let loaded = Settings::load_with_env(Some(&cfg), Vec::<(String, String)>::new())?;
    for w in &loaded.warnings {
        eprintln!("config warning: {w}");
    }
    let app = App::build(loaded.settings).await?;
    app.sync_config_feeds(Utc::now()).await?;
    let client = reqwest::Client::new();
    let doc_bytes = args.shape.document(0, 0).len();

    let rss_before = proc_mib("VmRSS");
    let mut poll_time = Duration::ZERO;
    let mut poll_cpu = 0.0;
    let mut new_items = 0usize;
    let mut failures = 0usize;
    for round in 0..args.rounds {
        advance(&client, &base, round).await?;
        let t = Instant::now();
        let cpu0 = cpu_secs();
        let io0 = io_mb();
        let threads0 = thread_cpu_secs();
        let reports = app.poll_all_once(Utc::now()).await?;
        let took = t.elapsed();
        poll_cpu += cpu_secs() - cpu0;
        let mut busiest: Vec<(f64, String)> = thread_cpu_secs()
            .into_iter()
            .map(|(key, cpu)| {
                let before = threads0.get(&key).copied().unwrap_or(0.0);
                (cpu - before, format!("{} {}", key.0, key.1))
            })
            .collect();
        busiest.sort_by(|a, b| b.0.total_cmp(&a.0));
        let busiest: Vec<String> = busiest
            .iter()
            .take(4)
            .map(|(cpu, name)| format!("{name} {cpu:.2}s"))
            .collect();
        eprintln!(
            "round {round}: busiest threads (CPU): {}",
            busiest.join(", ")
        );
        let io1 = io_mb();
        eprintln!(
            "round {round}: wrote {:.0} MB, read {:.0} MB",
            io1.0 - io0.0,
            io1.1 - io0.1
        );
        poll_time += took;
        let mut round_new = 0;
        for r in &reports {
            match &r.status {
                PollStatus::Ok { new_items: n, .. } => round_new += n,
                _ => {
                    failures += 1;
                    if failures <= 5 {
                        eprintln!("poll failed: {r}");
                    }
                }
            }
        }
        new_items += round_new;
        eprintln!(
            "round {round}: {} feeds, {round_new} new entries in {:.2}s ({:.0}/s), RSS {:.1} MiB",
            reports.len(),
            took.as_secs_f64(),
            round_new as f64 / took.as_secs_f64(),
            proc_mib("VmRSS"),
        );
    }
    let peak = proc_mib("VmHWM");
    let rss_after = proc_mib("VmRSS");
    let stats = app.store().stats().await?;
    let expected = args.feeds as u64 * ITEMS_PER_FEED as u64 * args.rounds;
    let ok = failures == 0
        && stats.articles as u64 == expected
        && stats.feed_items as u64 == expected
        && new_items as u64 == expected;
    let rate = new_items as f64 / poll_time.as_secs_f64();
    eprintln!(
        "newsd: feeds={} rounds={} concurrency={} doc={} B | new entries {} (articles {}, feed_items {}, expected {}) | \
         poll time {:.2}s (CPU {:.2}s = {:.2} cores busy) | {:.0} entries/s | RSS before first round {:.1} MiB, after {:.1} MiB, peak (VmHWM) {:.1} MiB | db {:.1} MiB",
        args.feeds,
        args.rounds,
        args.concurrency,
        doc_bytes,
        new_items,
        stats.articles,
        stats.feed_items,
        expected,
        poll_time.as_secs_f64(),
        poll_cpu,
        poll_cpu / poll_time.as_secs_f64(),
        rate,
        rss_before,
        rss_after,
        peak,
        stats.database_bytes as f64 / 1048576.0,
    );
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "impl": "newsd",
                "feeds": args.feeds,
                "rounds": args.rounds,
                "concurrency": args.concurrency,
                "doc_bytes": doc_bytes,
                "new_entries": new_items,
                "articles": stats.articles,
                "expected": expected,
                "correct": ok,
                "failed_polls": failures,
                "seconds": poll_time.as_secs_f64(),
                "cpu_seconds": poll_cpu,
                "entries_per_sec": rate,
                "rss_before_mib": rss_before,
                "peak_rss_mib": peak,
                "db_mib": stats.database_bytes as f64 / 1048576.0,
            })
        );
    }
    if args.breakdown {
        breakdown(args, &app, &client, &base, dir.path()).await?;
    }
    if !ok {
        bail!("correctness check failed: stored {} articles, {} feed items, {new_items} new entries, {failures} failed polls; expected {expected}",
            stats.articles, stats.feed_items);
    }
    Ok(())
}

/// Store variants timed by `--breakdown`: a label and the SQL that changes
/// the shipped schema before the run (each on a fresh database). They show
/// what each part of the write path costs.
const STORE_VARIANTS: &[(&str, &[&str])] = &[
    ("as shipped", &[]),
    (
        "no search indexing",
        &[
            "DROP TRIGGER articles_ai",
            "DROP TRIGGER articles_ad",
            "DROP TRIGGER articles_au",
        ],
    ),
    (
        "no secondary indexes",
        &[
            "DROP INDEX articles_first_seen",
            "DROP INDEX feed_items_article",
            "DROP INDEX feed_items_feed_seen",
        ],
    ),
];

/// Times each stage alone on a fresh round: fetch (concurrent, as the app
/// does), parse (one thread), store (one poll after another, as the write
/// lock serializes them anyway) in the schema variants of `STORE_VARIANTS`.
async fn breakdown(
    args: &Args,
    app: &App,
    client: &reqwest::Client,
    base: &str,
    dir: &Path,
) -> Result<()> {
    let k = args.breakdown_feeds.min(args.feeds);
    let round = args.rounds + 1;
    advance(client, base, round).await?;
    let entries_n = (k * ITEMS_PER_FEED) as f64;

    let fetcher = Fetcher::new(fetch_config(app.settings()))?;
    let t = Instant::now();
    let bodies: Vec<(Url, Bytes)> = futures::stream::iter(0..k)
        .map(|i| {
            let fetcher = fetcher.clone();
            let base = base.to_owned();
            async move {
                let url = Url::parse(&format!("{base}/feed/{i}.xml"))?;
                let mut req = FetchRequest::get(url.clone());
                req.ignore_host_backoff = true;
                let resp = fetcher.fetch(req).await?;
                anyhow::Ok((url, resp.body))
            }
        })
        .buffered(args.concurrency)
        .try_collect()
        .await?;
    let fetch_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut feed_rs_only = Duration::ZERO;
    let mut parsed: Vec<Vec<NewEntry>> = Vec::with_capacity(k);
    let google = &app.settings().google_news;
    let (google_base, edition) = (google.base(), &google.edition);
    for (url, body) in &bodies {
        let t2 = Instant::now();
        let _ = feed_rs::parser::parse(&body[..])?;
        feed_rs_only += t2.elapsed();
        let feed = parse_feed(body, url, 1000)?;
        parsed.push(
            feed.entries
                .iter()
                .filter_map(|e| to_new_entry(e, url, &google_base, edition))
                .collect(),
        );
    }
    let parse_s = t.elapsed().as_secs_f64() - feed_rs_only.as_secs_f64();

    // Store: one poll after another (the one writer connection serializes
    // them anyway), then the search indexing that follows a round.
    let mut store_s = Vec::new();
    for (n, (label, tweaks)) in STORE_VARIANTS.iter().enumerate() {
        let url = format!("sqlite://{}", dir.join(format!("store-{n}.db")).display());
        let store = Store::open(&url, Duration::from_secs(5)).await?;
        let feeds: Vec<NewFeed> = (0..k)
            .map(|i| NewFeed {
                url: format!("{base}/feed/{i}.xml"),
                name: None,
                interval_secs: None,
            })
            .collect();
        store.sync_config_feeds(&feeds, Utc::now()).await?;
        for sql in *tweaks {
            sqlx::query(sql).execute(store.pool()).await?;
        }
        let rows = store.enabled_feeds().await?;
        let now = Utc::now();
        let t = Instant::now();
        for (row, entries) in rows.iter().zip(&parsed) {
            let update = FeedUpdate {
                last_status: FeedStatus::Ok,
                next_poll_at: now + chrono::Duration::minutes(15),
                next_poll_reason: "bench".into(),
                polled_at: now,
                success: true,
                fetch_url: row.fetch_url.clone(),
                ..Default::default()
            };
            store
                .record_poll(row.id, entries.as_slice(), now, update.clone())
                .await?;
        }
        store.index_pending().await?;
        let s = t.elapsed().as_secs_f64();
        let articles = store.stats().await?.articles as usize;
        ensure!(
            articles == k * ITEMS_PER_FEED,
            "breakdown stored {articles}"
        );
        store.close().await;
        store_s.push((*label, s));
    }

    eprintln!("breakdown over {k} feeds ({entries_n} entries), each stage alone:");
    eprintln!(
        "  fetch (concurrency {}):        {:>7.2}s  {:>9.0} entries/s",
        args.concurrency,
        fetch_s,
        entries_n / fetch_s
    );
    let frs = feed_rs_only.as_secs_f64();
    eprintln!(
        "  feed-rs parse alone (1 thread): {:>7.2}s  {:>9.0} entries/s",
        frs,
        entries_n / frs
    );
    eprintln!(
        "  parse_feed + to_new_entry:      {:>7.2}s  {:>9.0} entries/s",
        parse_s,
        entries_n / parse_s
    );
    for (label, s) in &store_s {
        eprintln!(
            "  store + index, {label:<25} {:>7.2}s  {:>9.0} entries/s",
            s,
            entries_n / s
        );
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "breakdown_feeds": k,
                "fetch_s": fetch_s,
                "feed_rs_s": frs,
                "parse_feed_s": parse_s,
                "store_s": store_s
                    .iter()
                    .map(|(l, s)| (l.to_string(), serde_json::json!(s)))
                    .collect::<serde_json::Map<_, _>>(),
            })
        );
    }
    Ok(())
}
