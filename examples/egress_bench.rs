//! Google resolutions per hour with one egress and with several.
//!
//! A stand-in for Google on 127.0.0.1 allows each source address a bucket of
//! article-page GETs (`--allow-burst`, refilled at one per `--allow-ms`) and
//! answers 429 past it, as Google does per IP address; it serves a search
//! feed of new-format links (each needs its GET) and a batchexecute endpoint.
//! For each instance count, `n` newsd instances (`App`s in this process) share
//! one fresh PostgreSQL archive, instance `i` with `http.local_address =
//! 127.0.0.{i+2}` and `google_news.egress = "egress-{i}"`, and resolve as the
//! daemon does (`resolve_once` round after round) for `--seconds`. Reported:
//! article-page GETs answered and links resolved (distinct), per hour, and
//! their ratios to one egress. Each instance claims the links it looks up
//! (under its own `instance.name`), so no two look one link up. The pace is compressed
//! (`google_news.get_interval` = 1.1 × `--allow-ms`, `get_burst` one under
//! the allowance's; Google's own pace is about 30 s), which scales the
//! rates, not their ratios.
//!
//! ```text
//! NEWSD_TEST_POSTGRES_URL=postgres://newsd:newsd@127.0.0.1/newsd \
//!     cargo run --release --example egress_bench -- --instances 1,3 --seconds 30
//! ```

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use clap::Parser;
use tokio::time::Instant;

use newsd::app::App;
use newsd::config::Settings;
use newsd::google_news::{encode_old_format_id, stand_in};
use newsd::store::testing::TestArchive;
use newsd::store::EngineKind;

#[derive(Parser, Debug)]
#[command(about = "newsd Google resolutions per hour by egress count")]
struct Args {
    /// Instance (egress) counts to measure, comma-separated.
    #[arg(long, default_value = "1,3", value_delimiter = ',')]
    instances: Vec<usize>,
    /// How long each count resolves.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// The stand-in's refill per source address; the instances' pace is a
    /// tenth slower.
    #[arg(long, default_value_t = 100)]
    allow_ms: u64,
    /// GETs a source address may send back to back.
    #[arg(long, default_value_t = 3.0)]
    allow_burst: f64,
}

#[derive(Default)]
struct Google {
    buckets: Mutex<Vec<(std::net::IpAddr, f64, Instant)>>,
    answered: Mutex<usize>,
    refused: Mutex<usize>,
    burst: f64,
    every: Duration,
}

impl Google {
    fn allow(&self, from: std::net::IpAddr) -> bool {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let i = match buckets.iter().position(|(ip, _, _)| *ip == from) {
            Some(i) => i,
            None => {
                buckets.push((from, self.burst, now));
                buckets.len() - 1
            }
        };
        let (_, tokens, at) = &mut buckets[i];
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() / self.every.as_secs_f64())
            .min(self.burst);
        *at = now;
        let ok = *tokens >= 1.0;
        if ok {
            *tokens -= 1.0;
        }
        ok
    }
}

async fn article_page(
    State(g): State<Arc<Google>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
) -> Response {
    if !g.allow(peer.ip()) {
        *g.refused.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], "").into_response();
    }
    *g.answered.lock().unwrap_or_else(|e| e.into_inner()) += 1;
    stand_in::article_page(&id).into_response()
}

async fn batchexecute(body: String) -> String {
    let calls = stand_in::batch_calls(&body).into_iter();
    stand_in::batch_answer(calls.map(|c| (c.tag, format!("https://publisher.example/{}", c.id))))
}

fn search_feed(base: &str, items: usize) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel>\
         <title>\"bench\" - Google News</title><link>https://news.google.com/</link>",
    );
    for i in 0..items {
        let id = encode_old_format_id(&format!("AU_yqLegress{i:06}_token_payload_0123456789"));
        let link = format!("{base}/rss/articles/{id}?oc=5");
        s.push_str(&format!(
            "<item><title>Story {i} of the egress benchmark - Paper</title><link>{link}</link>\
             <guid isPermaLink=\"false\">{id}</guid><pubDate>Sat, 28 Nov 2026 01:00:00 GMT</pubDate>\
             <source url=\"https://paper.example\">Paper</source></item>"
        ));
    }
    s.push_str("</channel></rss>");
    s
}

async fn serve(g: Arc<Google>, items: usize) -> Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let feed = search_feed(&base, items);
    let router = axum::Router::new()
        .route("/rss/search", get(move || std::future::ready(feed.clone())))
        .route("/rss/articles/{id}", get(article_page))
        .route("/_/DotsSplashUi/data/batchexecute", post(batchexecute))
        .with_state(g);
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    Ok(base)
}

struct Measured {
    resolved: i64,
    answered: usize,
    refused: usize,
}

async fn measure(args: &Args, n: usize) -> Result<Measured> {
    let every = Duration::from_millis(args.allow_ms);
    let google = Arc::new(Google {
        burst: args.allow_burst,
        every,
        ..Google::default()
    });
    // Enough links that none runs out: each egress spends one per interval.
    let items = n * (args.seconds * 1000 / args.allow_ms.max(1)) as usize * 2 + 50;
    let base = serve(google.clone(), items).await?;
    let Some(archive) = TestArchive::new(EngineKind::Postgres).await else {
        bail!("set NEWSD_TEST_POSTGRES_URL to a PostgreSQL server the benchmark may create databases on");
    };
    let config = archive.dir.path().join("newsd.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{}\"\n[scheduler]\nmax_entries_per_poll = {items}\n\
             [http]\nallow_networks = [\"127.0.0.1/32\"]\n\
             per_host_delay = \"0s\"\nper_host_concurrency = 4\n\
             [google_news]\nbase_url = \"{base}\"\nsettle = \"0s\"\nget_interval = \"{}ms\"\n\
             get_burst = {}\ncooldown = \"2s\"\n\
             [[feeds]]\nurl = \"{base}/rss/search?hl=en-US&gl=US&ceid=US:en\"\n",
            archive.url,
            // Under the allowance, as a learned pace settles: a tenth slower
            // and a GET less back to back, so that a GET sent late followed by
            // one on time is no 429 (at a compressed pace, jitter of tens of
            // milliseconds is a large part of an interval).
            args.allow_ms * 11 / 10,
            (args.allow_burst.floor() - 1.0).max(1.0)
        ),
    )?;
    let mut apps = Vec::new();
    for i in 0..n {
        let env = vec![
            (
                "NEWSD__GOOGLE_NEWS__EGRESS".to_owned(),
                format!("egress-{i}"),
            ),
            (
                "NEWSD__HTTP__LOCAL_ADDRESS".to_owned(),
                format!("127.0.0.{}", i + 2),
            ),
            // Instances in one process: each claims links under its own name.
            ("NEWSD__INSTANCE__NAME".to_owned(), format!("bench-{i}")),
        ];
        let settings = Settings::load_with_env(Some(&config), env)?.settings;
        apps.push(App::build(settings).await.context("an instance")?);
    }
    apps[0].sync_config_feeds(Utc::now()).await?;
    apps[0].poll_all_once(Utc::now()).await?;
    let end = Instant::now() + Duration::from_secs(args.seconds);
    let rounds = apps.iter().cloned().map(|app| {
        tokio::spawn(async move {
            while Instant::now() < end {
                app.resolver().resolve_once(Utc::now(), 10, true).await?;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            anyhow::Ok(())
        })
    });
    for r in futures::future::join_all(rounds).await {
        r??;
    }
    let resolved = apps[0].store().google_queue_stats().await?.resolved;
    let answered = *google.answered.lock().unwrap_or_else(|e| e.into_inner());
    let refused = *google.refused.lock().unwrap_or_else(|e| e.into_inner());
    Ok(Measured {
        resolved,
        answered,
        refused,
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let per_hour = |n: f64| n * 3600.0 / args.seconds as f64;
    let mut first: Option<(f64, f64)> = None;
    println!(
        "stand-in: {} GETs back to back, one more per {} ms, per source address; {} s per count",
        args.allow_burst, args.allow_ms, args.seconds
    );
    for &n in &args.instances {
        let m = measure(&args, n).await?;
        let (gets, resolved) = (per_hour(m.answered as f64), per_hour(m.resolved as f64));
        let (gets_1, resolved_1) = *first.get_or_insert((gets, resolved));
        println!(
            "{n} egress(es): {} GETs answered ({gets:.0}/h, {:.2}x one egress), {} refused (429); \
             {} links resolved ({resolved:.0}/h, {:.2}x)",
            m.answered,
            gets / gets_1,
            m.refused,
            m.resolved,
            resolved / resolved_1
        );
    }
    Ok(())
}
