//! Soak: the real `newsd run` against many feeds on loopback, most of them
//! healthy and changing at different rates, the rest misbehaving (429 with
//! Retry-After, 5xx, malformed XML, connection resets, answers slower than the
//! timeout), for a fixed number of scheduler rounds. Measures polls per minute,
//! scheduling lateness, memory and CPU of the daemon over time, and checks that
//! every entry the server served is in the archive.
//!
//! The default suite runs a small version (200 feeds, a few rounds) that fails
//! on a lost entry or a feed that stops being polled; the full run (10,000
//! feeds by default) is `#[ignore]`d, sized by `SOAK_*` variables, and its
//! results are in BENCHMARKS.md ("Soak").
//!
//! The feed server is a minimal HTTP/1.1 server over raw sockets rather than
//! axum, because a connection reset needs the socket itself.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Entries a feed document lists (newest first), as most feeds keep a window.
const WINDOW: u64 = 20;

/// How a feed behaves; drawn from the feed number so every run is the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Class {
    /// 0–3 new entries per poll at a feed-specific rate, no validators.
    Steady,
    /// ETag and Last-Modified; changes on every third request, 304 otherwise.
    Conditional,
    /// Every third request: 429 with Retry-After.
    RateLimited,
    /// Every third request: 500, 502 or 503.
    Flaky,
    /// Every second request: 200 with a body that is not a feed.
    Malformed,
    /// Every second request: the connection is reset (RST) after the request.
    Reset,
    /// Every third request: the answer comes after the client's timeout.
    Slow,
    /// Always 500.
    Dead,
}

const CLASSES: [Class; 8] = [
    Class::Steady,
    Class::Conditional,
    Class::RateLimited,
    Class::Flaky,
    Class::Malformed,
    Class::Reset,
    Class::Slow,
    Class::Dead,
];

/// splitmix64: a deterministic draw from two numbers.
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(b)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn class_of(feed: usize) -> Class {
    match mix(feed as u64, 0xC1A5) % 100 {
        0..=59 => Class::Steady,
        60..=79 => Class::Conditional,
        80..=84 => Class::RateLimited,
        85..=89 => Class::Flaky,
        90..=92 => Class::Malformed,
        93..=95 => Class::Reset,
        96..=98 => Class::Slow,
        _ => Class::Dead,
    }
}

/// New entries a healthy answer brings: 0..=rate, rate 0–3 per feed.
fn new_entries(feed: usize, request: u64) -> u64 {
    let rate = mix(feed as u64, 1) % 4;
    mix(feed as u64, request + 2) % (rate + 1)
}

#[derive(Debug, Default)]
struct FeedState {
    requests: u64,
    /// Entries that exist: ids `0..created`, the newest `WINDOW` listed.
    created: u64,
    /// Every entry below this went out in a complete, well-formed 200.
    served: u64,
    /// 200 and 304 answers written in full.
    good: u64,
    /// Bumped when the conditional feed's document changes.
    version: u64,
    /// Entries that left the window before any answer carried them (must stay 0).
    never_served: u64,
}

enum Reply {
    /// A complete HTTP response; `served` marks the entries it carries.
    Http {
        bytes: Vec<u8>,
        served: Option<u64>,
    },
    Reset,
    /// Written after `delay`, when the client has given up.
    Late {
        delay: Duration,
        bytes: Vec<u8>,
    },
}

struct FeedServer {
    feeds: Vec<Mutex<FeedState>>,
    urls: Vec<String>,
    /// Catch-up mode: every feed answers its current document, nothing new.
    calm: AtomicBool,
    slow_delay: Duration,
    retry_after_secs: u64,
    requests: AtomicU64,
}

fn lock(m: &Mutex<FeedState>) -> std::sync::MutexGuard<'_, FeedState> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn response(status: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

fn document(feed: usize, created: u64) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>Soak feed {feed}</title><link>https://pub{p}.example/</link>",
        p = feed % 97
    );
    for e in (created.saturating_sub(WINDOW)..created).rev() {
        s.push_str(&format!(
            "<item><guid isPermaLink=\"false\">soak-f{feed}-e{e}</guid>\
             <title>Story {e} from feed {feed}: a headline of ordinary length</title>\
             <link>https://pub{p}.example/{feed}/{e}</link>\
             <description>&lt;p&gt;Entry {e} of feed {feed}. {pad}&lt;/p&gt;</description>\
             <pubDate>Sat, 28 Nov 2026 {h:02}:{m:02}:00 GMT</pubDate></item>",
            p = feed % 97,
            pad = "Some words of summary text, as feeds carry. ".repeat(4),
            h = (e / 60) % 24,
            m = e % 60,
        ));
    }
    s.push_str("</channel></rss>");
    s
}

impl FeedServer {
    fn ok(&self, feed: usize, st: &mut FeedState, new: u64, etag: bool) -> Reply {
        st.created += new;
        let oldest_listed = st.created.saturating_sub(WINDOW);
        if oldest_listed > st.served {
            st.never_served += oldest_listed - st.served;
        }
        let mut headers = vec![(
            "Content-Type",
            "application/rss+xml; charset=utf-8".to_owned(),
        )];
        if etag {
            headers.push(("ETag", format!("\"v{}\"", st.version)));
        }
        Reply::Http {
            bytes: response("200 OK", &headers, document(feed, st.created).as_bytes()),
            served: Some(st.created),
        }
    }

    fn reply(&self, feed: usize, if_none_match: Option<&str>) -> Reply {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let Some(slot) = self.feeds.get(feed) else {
            return Reply::Http {
                bytes: response("404 Not Found", &[], b""),
                served: None,
            };
        };
        let mut st = lock(slot);
        let n = st.requests;
        st.requests += 1;
        let class = class_of(feed);
        if self.calm.load(Ordering::Relaxed) {
            return self.ok(feed, &mut st, 0, class == Class::Conditional);
        }
        let steady =
            |this: &Self, st: &mut FeedState| this.ok(feed, st, new_entries(feed, n), false);
        match class {
            Class::Steady => steady(self, &mut st),
            Class::Conditional => {
                let etag = format!("\"v{}\"", st.version);
                if n.is_multiple_of(3) {
                    st.version += 1;
                    let new = 1 + mix(feed as u64, n) % 3;
                    self.ok(feed, &mut st, new, true)
                } else if if_none_match == Some(etag.as_str()) {
                    Reply::Http {
                        bytes: response("304 Not Modified", &[("ETag", etag)], b""),
                        served: None,
                    }
                } else {
                    self.ok(feed, &mut st, 0, true)
                }
            }
            Class::RateLimited if n % 3 == 2 => Reply::Http {
                bytes: response(
                    "429 Too Many Requests",
                    &[("Retry-After", self.retry_after_secs.to_string())],
                    b"slow down",
                ),
                served: None,
            },
            Class::Flaky if n % 3 == 1 => {
                let status = [
                    "500 Internal Server Error",
                    "502 Bad Gateway",
                    "503 Service Unavailable",
                ][((n / 3) % 3) as usize];
                Reply::Http {
                    bytes: response(status, &[], b"oops"),
                    served: None,
                }
            }
            Class::Malformed if n % 2 == 1 => {
                // Alternately a document cut off mid-item and tags that do not nest.
                let body = if n % 4 == 1 {
                    let doc = document(feed, st.created);
                    doc[..doc.len() * 2 / 3].to_owned()
                } else {
                    "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>x</item>\
                     <item><guid>broken</channel></guid></rss"
                        .to_owned()
                };
                Reply::Http {
                    bytes: response(
                        "200 OK",
                        &[("Content-Type", "application/rss+xml".to_owned())],
                        body.as_bytes(),
                    ),
                    served: None,
                }
            }
            Class::Reset if n % 2 == 1 => Reply::Reset,
            Class::Slow if n % 3 == 2 => Reply::Late {
                delay: self.slow_delay,
                // Nothing new: an answer nobody reads must not count as served.
                bytes: response("200 OK", &[], document(feed, st.created).as_bytes()),
            },
            Class::Dead => Reply::Http {
                bytes: response("500 Internal Server Error", &[], b"down"),
                served: None,
            },
            _ => steady(self, &mut st),
        }
    }

    fn delivered(&self, feed: usize, served: Option<u64>) {
        if let Some(slot) = self.feeds.get(feed) {
            let mut st = lock(slot);
            st.good += 1;
            if let Some(upto) = served {
                st.served = st.served.max(upto);
            }
        }
    }
}

/// The request line's feed number and the `If-None-Match` header; `None` at
/// end of stream.
async fn read_request(conn: &mut BufReader<TcpStream>) -> Option<(usize, Option<String>)> {
    let mut line = String::new();
    if conn.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let feed = line
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.strip_prefix("/f/"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX);
    let mut if_none_match = None;
    loop {
        let mut h = String::new();
        if conn.read_line(&mut h).await.ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("if-none-match") {
                if_none_match = Some(v.trim().to_owned());
            }
        }
    }
    Some((feed, if_none_match))
}

async fn serve_connection(stream: TcpStream, server: Arc<FeedServer>) {
    let mut conn = BufReader::new(stream);
    while let Some((feed, inm)) = read_request(&mut conn).await {
        let reply = server.reply(feed, inm.as_deref());
        match reply {
            Reply::Http { bytes, served } => {
                if conn.get_mut().write_all(&bytes).await.is_err() {
                    return;
                }
                if bytes.starts_with(b"HTTP/1.1 200") || bytes.starts_with(b"HTTP/1.1 304") {
                    server.delivered(feed, served);
                }
            }
            Reply::Reset => {
                // SO_LINGER 0 turns the close into a RST, as a crashing
                // proxy would send; it cannot block here (nothing is queued).
                #[allow(deprecated)]
                let _ = conn.get_ref().set_linger(Some(Duration::ZERO));
                return;
            }
            Reply::Late { delay, bytes } => {
                tokio::time::sleep(delay).await;
                let _ = conn.get_mut().write_all(&bytes).await;
                return;
            }
        }
    }
}

/// The host (listener) a feed is served from: spread evenly, except that
/// `crowded_pct` percent of the feeds share host 0, as many feeds of one big
/// platform share one politeness budget.
fn host_of(feed: usize, plan: &Plan) -> usize {
    if mix(feed as u64, 7) % 100 < plan.crowded_pct {
        0
    } else {
        feed % plan.hosts
    }
}

/// Binds one listener per host address 127.0.X.Y and serves `feeds` feeds
/// spread over them, so per-host politeness (keyed by IP) sees `hosts` hosts.
async fn start_server(plan: &Plan) -> Arc<FeedServer> {
    let mut bases = Vec::with_capacity(plan.hosts);
    let mut listeners = Vec::with_capacity(plan.hosts);
    for h in 0..plan.hosts {
        let ip = format!("127.0.{}.{}", 1 + h / 250, 1 + h % 250);
        let listener = TcpListener::bind((ip.as_str(), 0))
            .await
            .expect("bind a loopback address");
        let addr = listener.local_addr().expect("local addr");
        bases.push(format!("http://{addr}"));
        listeners.push(listener);
    }
    let server = Arc::new(FeedServer {
        feeds: (0..plan.feeds).map(|_| Mutex::default()).collect(),
        urls: (0..plan.feeds)
            .map(|f| format!("{}/f/{f}", bases[host_of(f, plan)]))
            .collect(),
        calm: AtomicBool::new(false),
        slow_delay: plan.timeout + Duration::from_secs(2),
        retry_after_secs: 2 * plan.interval.as_secs(),
        requests: AtomicU64::new(0),
    });
    for listener in listeners {
        let server = server.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_connection(stream, server.clone()));
            }
        });
    }
    server
}

#[derive(Debug, Clone)]
struct Plan {
    feeds: usize,
    hosts: usize,
    /// Every feed's interval: min, default and max interval are all this, so
    /// a round is one interval long and failing feeds are retried every round.
    interval: Duration,
    rounds: u32,
    timeout: Duration,
    sample_every: Duration,
    max_concurrent_fetches: usize,
    /// Percent of the feeds on one shared host (see [`host_of`]).
    crowded_pct: u64,
    /// `stories.window` when set: a window a run can fill (the shipped 72 h
    /// keeps growing through any soak), so memory can be seen to level off.
    story_window: Option<Duration>,
    /// `newsd run` processes sharing the archive (`SOAK_INSTANCES`; more
    /// than one needs `SOAK_ENGINE=postgres`).
    instances: usize,
    /// The archive's engine (`SOAK_ENGINE`: `sqlite` or `postgres`, on the
    /// server `NEWSD_TEST_POSTGRES_URL` names).
    engine: newsd::store::EngineKind,
}

impl Plan {
    fn small() -> Plan {
        Plan {
            feeds: 200,
            hosts: 100,
            interval: Duration::from_secs(4),
            rounds: 4,
            timeout: Duration::from_secs(1),
            sample_every: Duration::from_secs(2),
            max_concurrent_fetches: 16,
            crowded_pct: 0,
            story_window: None,
            instances: 1,
            engine: newsd::store::EngineKind::Sqlite,
        }
    }

    /// When the daemon's memory should have levelled off: the story window
    /// (if the run sets one) is full, plus one round of polls and one of
    /// clustering over it. `None` when the window outlasts the run.
    fn memory_settled(&self) -> Option<Duration> {
        let at = self.story_window? + self.interval * 2;
        (at < self.interval * self.rounds).then_some(at)
    }

    fn from_env() -> Plan {
        let var = |name: &str, default: u64| -> u64 {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        Plan {
            feeds: var("SOAK_FEEDS", 10_000) as usize,
            hosts: var("SOAK_HOSTS", 500) as usize,
            interval: Duration::from_secs(var("SOAK_INTERVAL_SECS", 60)),
            rounds: var("SOAK_ROUNDS", 12) as u32,
            timeout: Duration::from_secs(var("SOAK_TIMEOUT_SECS", 3)),
            sample_every: Duration::from_secs(var("SOAK_SAMPLE_SECS", 30)),
            max_concurrent_fetches: var("SOAK_CONCURRENCY", 16) as usize,
            crowded_pct: var("SOAK_CROWDED_PCT", 0),
            story_window: std::env::var("SOAK_STORY_WINDOW_SECS")
                .ok()
                .and_then(|v| v.parse().ok())
                .map(Duration::from_secs),
            instances: var("SOAK_INSTANCES", 1).max(1) as usize,
            engine: match std::env::var("SOAK_ENGINE").as_deref() {
                Ok("postgres") => newsd::store::EngineKind::Postgres,
                _ => newsd::store::EngineKind::Sqlite,
            },
        }
    }

    fn config(&self, dir: &Path, db: &str, api_port: u16, urls: &[String]) -> std::path::PathBuf {
        let iv = format!("{}s", self.interval.as_secs());
        let mut toml = format!(
            "[database]\nurl = \"{db}\"\n\
             [api]\nlisten = \"127.0.0.1:{api_port}\"\n\
             [http]\nallow_networks = [\"127.0.0.0/8\"]\n\
             timeout = \"{timeout}s\"\nconnect_timeout = \"2s\"\n\
             [scheduler]\ndefault_interval = \"{iv}\"\nmin_interval = \"{iv}\"\nmax_interval = \"{iv}\"\n\
             max_concurrent_fetches = {conc}\nshutdown_grace = \"5s\"\n\
             [extract]\nenabled = false\n\
             [google_news]\nresolve = false\n",
            timeout = self.timeout.as_secs(),
            conc = self.max_concurrent_fetches,
        );
        if let Some(w) = self.story_window {
            toml.push_str(&format!("[stories]\nwindow = \"{}s\"\n", w.as_secs()));
        }
        for url in urls {
            toml.push_str(&format!("\n[[feeds]]\nurl = \"{url}\"\n"));
        }
        let path = dir.join("newsd.toml");
        std::fs::write(&path, toml).expect("write soak config");
        path
    }
}

fn newsd(config: &Path, args: &[&str], log: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_newsd"));
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .env_remove("NEWSD_CONFIG")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null());
    match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
    {
        Ok(f) => cmd.stderr(f),
        Err(_) => cmd.stderr(Stdio::null()),
    };
    cmd
}

/// RSS (KiB) and user+system CPU (clock ticks) of a process.
fn proc_usage(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name: state is 0, utime 11, stime 12.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some((rss, ticks))
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// What `/metrics` says about polls: total, per outcome, lateness buckets.
#[derive(Debug, Clone, Default)]
struct Scrape {
    polls: u64,
    outcomes: Vec<(String, u64)>,
    bounds: Vec<f64>,
    /// Cumulative, `+Inf` last.
    cumulative: Vec<u64>,
}

fn parse_metrics(text: &str) -> Scrape {
    let mut s = Scrape::default();
    for line in text.lines() {
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(v) = value.parse::<f64>() else {
            continue;
        };
        if let Some(o) = name.strip_prefix("newsd_polls_total{outcome=\"") {
            s.polls += v as u64;
            s.outcomes
                .push((o.trim_end_matches("\"}").to_owned(), v as u64));
        } else if let Some(le) = name.strip_prefix("newsd_poll_lateness_seconds_bucket{le=\"") {
            let le = le.trim_end_matches("\"}");
            if le != "+Inf" {
                s.bounds.push(le.parse().unwrap_or(f64::INFINITY));
            }
            s.cumulative.push(v as u64);
        }
    }
    s
}

/// The q-quantile of a cumulative histogram, interpolated linearly within its
/// bucket as Prometheus' `histogram_quantile` does; infinite past the last bound.
fn quantile(bounds: &[f64], cumulative: &[u64], q: f64) -> Option<f64> {
    let total = *cumulative.last()?;
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let i = cumulative.iter().position(|&c| c as f64 >= rank)?;
    if i >= bounds.len() {
        return Some(f64::INFINITY);
    }
    let (lo, below) = if i == 0 {
        (0.0, 0)
    } else {
        (bounds[i - 1], cumulative[i - 1])
    };
    let inside = (cumulative[i] - below).max(1) as f64;
    Some(lo + (bounds[i] - lo) * (rank - below as f64) / inside)
}

fn diff(later: &[u64], earlier: &[u64]) -> Vec<u64> {
    later
        .iter()
        .zip(earlier.iter().chain(std::iter::repeat(&0)))
        .map(|(a, b)| a.saturating_sub(*b))
        .collect()
}

#[derive(Debug, Clone)]
struct Sample {
    at: Duration,
    rss_kib: u64,
    cpu_ticks: u64,
    scrape: Scrape,
    served_requests: u64,
}

async fn scrape(client: &reqwest::Client, base: &str) -> Option<Scrape> {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    Some(parse_metrics(&text))
}

fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if let Ok(Some(status)) = child.try_wait() {
            assert!(status.success(), "newsd run exited with {status}");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("newsd run did not stop within 30 s of SIGTERM");
}

/// Entries served and not in `feed_items`, per feed: `(feed, entry)`.
async fn missing_entries(db: &str, server: &FeedServer) -> Vec<(usize, u64)> {
    let store = newsd::store::Store::open_read_only(db, Duration::from_secs(5))
        .await
        .expect("open the archive");
    let guids = newsd::store::testing::strings(&store, "SELECT guid FROM feed_items").await;
    store.close().await;
    let stored: HashSet<(usize, u64)> = guids
        .iter()
        .flatten()
        .filter_map(|g| {
            let (f, e) = g.strip_prefix("soak-f")?.split_once("-e")?;
            Some((f.parse().ok()?, e.parse().ok()?))
        })
        .collect();
    let mut missing = Vec::new();
    for (f, slot) in server.feeds.iter().enumerate() {
        let served = lock(slot).served;
        missing.extend(
            (0..served)
                .filter(|e| !stored.contains(&(f, *e)))
                .map(|e| (f, e)),
        );
    }
    missing
}

/// The instances' samples taken together: polls, outcomes, lateness and CPU
/// summed, RSS the largest instance's.
fn combined(parts: Vec<((u64, u64), Scrape)>) -> ((u64, u64), Scrape) {
    let mut rss = 0;
    let mut cpu = 0;
    let mut all = Scrape::default();
    for ((r, c), s) in parts {
        rss = rss.max(r);
        cpu += c;
        all.polls += s.polls;
        for (o, n) in s.outcomes {
            match all.outcomes.iter_mut().find(|(k, _)| *k == o) {
                Some((_, m)) => *m += n,
                None => all.outcomes.push((o, n)),
            }
        }
        if all.bounds.is_empty() {
            all.bounds = s.bounds;
        }
        if all.cumulative.len() < s.cumulative.len() {
            all.cumulative.resize(s.cumulative.len(), 0);
        }
        for (a, b) in all.cumulative.iter_mut().zip(&s.cumulative) {
            *a += b;
        }
    }
    ((rss, cpu), all)
}

/// One sample of every instance, or `None` if one did not answer.
async fn sample_all(
    client: &reqwest::Client,
    runs: &[(u32, String)],
) -> Option<((u64, u64), Scrape)> {
    let mut parts = Vec::new();
    for (pid, base) in runs {
        parts.push((proc_usage(*pid)?, scrape(client, base).await?));
    }
    Some(combined(parts))
}

struct Outcome {
    samples: Vec<Sample>,
    missing_before_catch_up: usize,
    served_entries: u64,
}

async fn soak(plan: Plan) -> Outcome {
    let server = start_server(&plan).await;
    let dir = TempDir::new().expect("temp dir");
    let archive = newsd::store::testing::TestArchive::new(plan.engine)
        .await
        .expect("SOAK_ENGINE=postgres needs NEWSD_TEST_POSTGRES_URL");
    assert!(
        plan.instances == 1 || plan.engine == newsd::store::EngineKind::Postgres,
        "several instances need SOAK_ENGINE=postgres"
    );
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port()
    };
    let ports: Vec<u16> = (0..plan.instances).map(|_| free_port()).collect();
    let config = plan.config(dir.path(), &archive.url, ports[0], &server.urls);
    let log = dir.path().join("newsd.log");
    let db = archive.url.clone();
    let client = reqwest::Client::new();

    let mut children: Vec<Child> = ports
        .iter()
        .enumerate()
        .map(|(i, port)| {
            newsd(&config, &["run"], &log)
                .env("NEWSD__INSTANCE__NAME", format!("soak-{i}"))
                .env("NEWSD__API__LISTEN", format!("127.0.0.1:{port}"))
                .spawn()
                .expect("spawn newsd run")
        })
        .collect();
    let runs: Vec<(u32, String)> = children
        .iter()
        .zip(&ports)
        .map(|(c, port)| (c.id(), format!("http://127.0.0.1:{port}")))
        .collect();
    let crowded_base = match plan.crowded_pct {
        0 => "-".to_owned(),
        _ => format!(
            "{}/",
            server.urls[0].rsplit_once("/f/").map_or("", |(b, _)| b)
        ),
    };
    let started = Instant::now();
    let duration = plan.interval * plan.rounds;
    let mut samples = Vec::new();
    let mut next_sample = Duration::ZERO;
    loop {
        for run in &mut children {
            if let Ok(Some(status)) = run.try_wait() {
                panic!(
                    "newsd run exited early ({status}):\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        }
        let at = started.elapsed();
        if at >= next_sample {
            if let Some(((rss_kib, cpu_ticks), scrape)) = sample_all(&client, &runs).await {
                samples.push(Sample {
                    at,
                    rss_kib,
                    cpu_ticks,
                    scrape,
                    served_requests: server.requests.load(Ordering::Relaxed),
                });
                next_sample = at + plan.sample_every;
            }
        }
        if at >= duration {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if let Some(((rss_kib, cpu_ticks), scrape)) = sample_all(&client, &runs).await {
        samples.push(Sample {
            at: started.elapsed(),
            rss_kib,
            cpu_ticks,
            scrape,
            served_requests: server.requests.load(Ordering::Relaxed),
        });
    }
    // A feed the scheduler stopped taking would be long overdue by now.
    let overdue = {
        let store = newsd::store::Store::open_read_only(&db, Duration::from_secs(5))
            .await
            .expect("open the archive");
        let cutoff = chrono::Utc::now()
            - chrono::Duration::from_std(plan.interval * 3 + plan.timeout * 2).expect("duration");
        // The crowded host cannot serve its feeds every round (politeness).
        let n = newsd::store::testing::scalar_i64(
            &store,
            &format!(
                "SELECT COUNT(*) FROM feeds WHERE enabled AND next_poll_at < '{}' \
                 AND url NOT LIKE '{crowded_base}%'",
                newsd::store::ts(cutoff)
            ),
        )
        .await;
        store.close().await;
        n
    };
    for run in &mut children {
        terminate(run);
    }

    let missing_before = missing_entries(&db, &server).await;
    // Catch up as after any shutdown: polls cancelled by SIGTERM may have been
    // answered in full; a calm server serves every feed's window once more.
    server.calm.store(true, Ordering::SeqCst);
    let out = newsd(&config, &["poll", "--once"], &log)
        .output()
        .expect("run poll --once");
    assert!(
        out.status.success(),
        "poll --once failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let missing = missing_entries(&db, &server).await;

    let served_entries: u64 = server.feeds.iter().map(|s| lock(s).served).sum();
    let never_served: u64 = server.feeds.iter().map(|s| lock(s).never_served).sum();
    report(
        &plan,
        &samples,
        served_entries,
        missing_before.len(),
        overdue,
    );

    assert_eq!(
        never_served, 0,
        "the server let entries scroll away unserved"
    );
    assert!(served_entries > 0, "nothing was served");
    assert!(
        missing.is_empty(),
        "{} of {served_entries} served entries are not in the archive, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert_eq!(overdue, 0, "feeds the scheduler stopped polling");
    // Faulty feeds must not starve the others: every healthy feed was answered
    // in most rounds, and every feed was asked at least twice.
    let min_good = u64::from(plan.rounds / 2).max(1);
    for (f, slot) in server.feeds.iter().enumerate() {
        let st = lock(slot);
        // Feeds on the crowded host wait for its politeness budget by design.
        let crowded = plan.crowded_pct > 0 && host_of(f, &plan) == 0;
        assert!(
            crowded || st.requests >= 2,
            "feed {f} ({:?}) was polled {} times",
            class_of(f),
            st.requests
        );
        if matches!(class_of(f), Class::Steady | Class::Conditional) && !crowded {
            assert!(
                st.good >= min_good,
                "healthy feed {f} ({:?}) answered only {} times in {} rounds",
                class_of(f),
                st.good,
                plan.rounds
            );
        }
    }
    Outcome {
        samples,
        missing_before_catch_up: missing_before.len(),
        served_entries,
    }
}

fn report(plan: &Plan, samples: &[Sample], served: u64, missing_before: usize, overdue: i64) {
    let hz = clock_ticks();
    let mut classes = vec![0usize; CLASSES.len()];
    for f in 0..plan.feeds {
        classes[CLASSES.iter().position(|c| *c == class_of(f)).unwrap_or(0)] += 1;
    }
    println!("\n## soak: {plan:?}");
    println!(
        "feed classes: {}",
        CLASSES
            .iter()
            .zip(&classes)
            .map(|(c, n)| format!("{c:?} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("\n| t (s) | RSS MiB | CPU s | polls | polls/min since last | lateness p99 since last (s) |");
    println!("|---:|---:|---:|---:|---:|---:|");
    let mut prev: Option<&Sample> = None;
    for s in samples {
        let (rate, p99) = match prev {
            Some(p) => {
                let mins = (s.at - p.at).as_secs_f64() / 60.0;
                let polls = s.scrape.polls.saturating_sub(p.scrape.polls);
                let d = diff(&s.scrape.cumulative, &p.scrape.cumulative);
                (
                    format!("{:.0}", polls as f64 / mins),
                    quantile(&s.scrape.bounds, &d, 0.99).map_or("-".into(), |q| format!("{q:.2}")),
                )
            }
            None => ("-".into(), "-".into()),
        };
        println!(
            "| {:.0} | {:.1} | {:.1} | {} | {rate} | {p99} |",
            s.at.as_secs_f64(),
            s.rss_kib as f64 / 1024.0,
            s.cpu_ticks as f64 / hz,
            s.scrape.polls,
        );
        prev = Some(s);
    }
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return;
    };
    // Steady state: from the first sample after round one (the start-up burst
    // of every feed due at once) to the end.
    let warm = samples
        .iter()
        .find(|s| s.at >= plan.interval + plan.sample_every / 2)
        .unwrap_or(first);
    let mins = (last.at - warm.at).as_secs_f64() / 60.0;
    let polls = last.scrape.polls.saturating_sub(warm.scrape.polls);
    let d = diff(&last.scrape.cumulative, &warm.scrape.cumulative);
    let ticks = last.cpu_ticks.saturating_sub(warm.cpu_ticks) as f64;
    let q = |c: &[u64], q: f64| quantile(&last.scrape.bounds, c, q).unwrap_or(f64::NAN);
    println!("\nwhole run: {} polls in {:.1} min = {:.0}/min; server answered {} requests; CPU {:.1} s = {:.2} ms/poll; lateness p50 {:.2} s, p99 {:.2} s",
        last.scrape.polls,
        last.at.as_secs_f64() / 60.0,
        last.scrape.polls as f64 / (last.at.as_secs_f64() / 60.0),
        last.served_requests,
        last.cpu_ticks as f64 / hz,
        last.cpu_ticks as f64 / hz * 1000.0 / last.scrape.polls.max(1) as f64,
        q(&last.scrape.cumulative, 0.5),
        q(&last.scrape.cumulative, 0.99),
    );
    println!(
        "steady state (t = {:.0}..{:.0} s): {polls} polls = {:.0}/min; CPU {:.2} ms/poll; lateness p50 {:.2} s, p99 {:.2} s; RSS {:.1} → {:.1} MiB (peak sample {:.1})",
        warm.at.as_secs_f64(),
        last.at.as_secs_f64(),
        polls as f64 / mins,
        ticks / hz * 1000.0 / polls.max(1) as f64,
        q(&d, 0.5),
        q(&d, 0.99),
        warm.rss_kib as f64 / 1024.0,
        last.rss_kib as f64 / 1024.0,
        samples.iter().map(|s| s.rss_kib).max().unwrap_or(0) as f64 / 1024.0,
    );
    if let Some((from, slope)) = plan
        .memory_settled()
        .and_then(|from| Some((from, rss_slope(samples, from, Duration::MAX)?)))
    {
        let settled = samples.iter().find(|s| s.at >= from).unwrap_or(last);
        println!(
            "after the story window filled (t = {:.0}..{:.0} s): RSS {:.1} → {:.1} MiB, {slope:.2} MiB/min (least squares)",
            settled.at.as_secs_f64(),
            last.at.as_secs_f64(),
            settled.rss_kib as f64 / 1024.0,
            last.rss_kib as f64 / 1024.0,
        );
    }
    println!("outcomes: {:?}", last.scrape.outcomes);
    println!(
        "entries served: {served}; missing at shutdown (before catch-up): {missing_before}; feeds overdue > 3 rounds: {overdue}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faulty_feeds_neither_lose_entries_nor_stop_the_healthy_ones_over_several_rounds() {
    let plan = Plan::small();
    let outcome = soak(plan.clone()).await;
    let last = outcome.samples.last().expect("samples");
    assert!(
        last.scrape.polls >= (plan.feeds as u64) * 2,
        "only {} polls",
        last.scrape.polls
    );
    assert!(outcome.served_entries > plan.feeds as u64);
    assert!(
        outcome.missing_before_catch_up as u64 <= outcome.served_entries / 20,
        "{} entries missing at shutdown",
        outcome.missing_before_catch_up
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: 10,000 feeds for 12 rounds of 60 s by default; see BENCHMARKS.md (Soak)"]
async fn ten_thousand_feeds_soak_for_a_fixed_number_of_rounds() {
    let plan = Plan::from_env();
    let outcome = soak(plan.clone()).await;
    let (Some(settled), Some(last)) = (plan.memory_settled(), outcome.samples.last()) else {
        return;
    };
    // Too short a settled stretch cannot tell a trend from the steps in it.
    if last.at < settled + Duration::from_secs(20 * 60) {
        return;
    }
    let mid = settled + (last.at - settled) / 2;
    let early = rss_slope(&outcome.samples, settled, mid).expect("samples in the first half");
    let late = rss_slope(&outcome.samples, mid, last.at + Duration::from_secs(1))
        .expect("samples in the second half");
    println!(
        "RSS slope after the window filled: first half {early:.2}, second half {late:.2} MiB/min"
    );
    assert!(
        levels_off(early, late),
        "memory does not level off: RSS grew {early:.2} MiB/min over the first half of the \
         settled run and {late:.2} over the second"
    );
}

/// RSS growth over the second half of a run's settled stretch (MiB a minute)
/// that is too much whatever came before.
const MAX_LATE_SLOPE: f64 = 0.5;
/// Growth too small to tell from the allocator's steps over half an hour.
const FLAT_SLOPE: f64 = 0.1;

/// Whether memory levels off, from the RSS slopes over the first and second
/// half of the settled stretch: the late growth is small and, unless it is
/// flat already, at most half the early one. A leak grows as fast late as
/// early; a heap settling into its fragmentation slows down (run 8 in
/// BENCHMARKS.md: the live heap is flat).
fn levels_off(early: f64, late: f64) -> bool {
    late <= MAX_LATE_SLOPE && (late <= FLAT_SLOPE || late <= early / 2.0)
}

#[test]
fn memory_levels_off_when_growth_slows_to_half_and_not_when_it_keeps_its_pace() {
    // Runs 11 and 12 of BENCHMARKS.md (pools keep their connections).
    assert!(levels_off(0.85, 0.37));
    assert!(levels_off(0.70, 0.25));
    assert!(levels_off(0.05, 0.08), "flat throughout");
    // Run 10: connections recycled at 30 minutes, a step in the second half.
    assert!(!levels_off(0.52, 0.32));
    assert!(!levels_off(0.6, 0.6), "a steady leak");
    assert!(!levels_off(2.0, 0.9), "slowing, but still too fast");
}

/// RSS growth in MiB a minute over the samples taken from `from` until
/// before `until` (least squares, so one high or low sample moves it little).
fn rss_slope(samples: &[Sample], from: Duration, until: Duration) -> Option<f64> {
    let points: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| s.at >= from && s.at < until)
        .map(|s| (s.at.as_secs_f64() / 60.0, s.rss_kib as f64 / 1024.0))
        .collect();
    slope(&points)
}

/// The least-squares slope through `points`; `None` for fewer than four, too
/// few to tell a trend from noise.
fn slope(points: &[(f64, f64)]) -> Option<f64> {
    if points.len() < 4 {
        return None;
    }
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = points.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

#[test]
fn the_slope_is_that_of_the_line_the_points_lie_around() {
    let line: Vec<(f64, f64)> = (0..8)
        .map(|x| (f64::from(x), 2.0 * f64::from(x) + 1.0))
        .collect();
    assert!((slope(&line).expect("a slope") - 2.0).abs() < 1e-9);
    // Samples going up and down around a level have a slope near zero.
    let level = [
        (0.0, 70.0),
        (1.0, 73.0),
        (2.0, 69.0),
        (3.0, 72.0),
        (4.0, 70.0),
        (5.0, 71.0),
    ];
    assert!(slope(&level).expect("a slope").abs() < 0.5);
    assert_eq!(slope(&line[..3]), None);
}

#[test]
fn quantiles_interpolate_within_the_bucket_that_holds_the_rank() {
    let bounds = [1.0, 2.0, 4.0];
    // 50 in (0, 1], 40 in (1, 2], 9 in (2, 4], 1 above.
    let cumulative = [50, 90, 99, 100];
    assert_eq!(quantile(&bounds, &cumulative, 0.5), Some(1.0));
    assert_eq!(quantile(&bounds, &cumulative, 0.7), Some(1.5));
    assert_eq!(quantile(&bounds, &cumulative, 0.99), Some(4.0));
    assert_eq!(quantile(&bounds, &cumulative, 1.0), Some(f64::INFINITY));
    assert_eq!(quantile(&bounds, &[0, 0, 0, 0], 0.99), None);
}
