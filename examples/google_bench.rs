//! Google News resolution benchmark.
//!
//! 1. Requests to Google per resolved article while a mixed backlog drains. A
//!    fake Google on 127.0.0.1 (wiremock, as in
//!    `tests/integration/google_news.rs`) serves search feeds, article pages
//!    carrying `data-n-a-sg`/`data-n-a-ts` and a `batchexecute` endpoint
//!    answering tagged calls; the same server serves the publishers' own RSS
//!    feeds, which carry some of the stories too (`--pub-pct`). The feeds are
//!    polled once (`App::poll_all_once`), then the backlog is drained either
//!    the way the daemon does it (`App::resolve_once` in a loop, the injected
//!    clock advanced by `google_news.get_interval` per round, the learned pace
//!    and the settle time as shipped) or the way `newsd poll --once` does it
//!    (`App::drain_resolution_once`, repeated 15 minutes apart until nothing
//!    is pending). Article-page GETs and batchexecute POSTs are counted by the
//!    fake server, against the floor: the stories that only a new-format id
//!    can place (no publisher-feed link, no old-format id), which the
//!    benchmark knows from how it builds the corpus.
//! 2. Article ids decoded per second offline: `decode_article_id` over the real
//!    ids of `tests/fixtures/google-news/*.xml`, against base64 decoding alone.
//!
//! ```text
//! cargo run --release --example google_bench
//! cargo run --release --example google_bench -- --feeds 4 --items 50 --dup-pct 15 --old-pct 10 --pub-pct 40
//! ```

use std::collections::{HashMap, HashSet};
use std::hint::black_box;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use clap::Parser;
use rand::distributions::Alphanumeric;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use wiremock::matchers::{method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use newsd::app::{App, PollStatus};
use newsd::config::Settings;
use newsd::google_news::{decode_article_id, encode_old_format_id, stand_in, DecodedId};
use newsd::resolver::ResolveReport;

#[derive(Parser, Debug)]
#[command(about = "newsd Google News resolution benchmark")]
struct Args {
    /// Google News search feeds served.
    #[arg(long, default_value_t = 4)]
    feeds: usize,
    /// Items per feed.
    #[arg(long, default_value_t = 50)]
    items: usize,
    /// Percent of all items that are a second copy of a story already in
    /// another feed (same title and `<source url>`, a different id).
    #[arg(long, default_value_t = 15)]
    dup_pct: usize,
    /// Percent of all items with an old-format id (decodes offline).
    #[arg(long, default_value_t = 10)]
    old_pct: usize,
    /// Percent of stories that their publisher's own feed carries too.
    #[arg(long, default_value_t = 40)]
    pub_pct: usize,
    /// Minimum duration of each decode measurement, in seconds.
    #[arg(long, default_value_t = 1.0)]
    decode_secs: f64,
    /// Seed of the item layout.
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(args.feeds >= 2, "--feeds must be at least 2");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let corpus = Corpus::build(&args)?;
    println!(
        "corpus: {} Google feeds x {} items = {} items; {} stories; {} old-format items; \
         {} stories in 2 feeds under 2 ids; {} new-format links; {} stories also in their \
         publisher's own feed ({} publisher feeds); floor: {} stories only a new-format id places",
        args.feeds,
        args.items,
        corpus.items(),
        corpus.stories.len(),
        corpus.old_items(),
        corpus.pairs(),
        corpus.items() - corpus.old_items(),
        corpus.in_publisher_feeds(),
        PUBLISHERS,
        corpus.floor(),
    );
    let daemon = rt.block_on(drain_scenario(&corpus, Mode::Daemon))?;
    let once = rt.block_on(drain_scenario(&corpus, Mode::Once))?;
    print_drain_table(&corpus, &[daemon, once]);
    println!();
    let decode = decode_bench(Duration::from_secs_f64(args.decode_secs))?;
    print_decode_table(&decode);
    Ok(())
}

// ------------------------------------------------------------------ corpus

const PUBLISHERS: usize = 25;

const SUBJECTS: &[&str] = &[
    "City council",
    "Regional court",
    "Health ministry",
    "Central bank",
    "Teachers union",
    "Port authority",
    "State university",
    "Energy regulator",
    "Transit agency",
    "Football league",
    "Weather service",
    "Housing board",
];
const VERBS: &[&str] = &[
    "approves",
    "rejects",
    "delays",
    "announces",
    "reviews",
    "defends",
    "expands",
    "questions",
];
const OBJECTS: &[&str] = &[
    "new budget plan",
    "river park project",
    "rail line extension",
    "school meal program",
    "rent cap proposal",
    "hospital merger",
    "coastal flood barrier",
    "stadium renovation",
    "water price increase",
    "night bus service",
];

struct Story {
    title: String,
    source: String,
    source_url: String,
    publisher_url: String,
    /// Its publisher's own feed carries it too.
    in_publisher_feed: bool,
}

struct Item {
    id: String,
    story: usize,
    old_format: bool,
}

struct Corpus {
    stories: Vec<Story>,
    /// Items of each feed, in feed order.
    feeds: Vec<Vec<Item>>,
}

/// A new-format article id: an opaque random token only Google can map
/// (real ones are `AU_yqL…`, 150 to 240 bytes), so ids sort in no particular
/// order, as Google's do.
fn token_id(rng: &mut StdRng) -> String {
    let token: String = (0..160)
        .map(|_| char::from(rng.sample(Alphanumeric)))
        .collect();
    encode_old_format_id(&format!("AU_yqL{token}"))
}

impl Corpus {
    fn build(a: &Args) -> Result<Corpus> {
        let total = a.feeds * a.items;
        let pairs = total * a.dup_pct / 100;
        let old = total * a.old_pct / 100;
        ensure!(2 * pairs + old <= total, "too many duplicates and old ids");
        let singles = total - 2 * pairs;
        let n_stories = pairs + singles;
        let mut rng = StdRng::seed_from_u64(a.seed);
        let stories: Vec<Story> = (0..n_stories)
            .map(|i| {
                let p = i % PUBLISHERS;
                let title = format!(
                    "{} {} {} in district {} after {} weeks",
                    SUBJECTS[i % SUBJECTS.len()],
                    VERBS[(i / SUBJECTS.len()) % VERBS.len()],
                    OBJECTS[(i / 7) % OBJECTS.len()],
                    i + 1,
                    2 + i % 9
                );
                Story {
                    publisher_url: format!(
                        "https://www.pub{p}.example/news/2026/11/28/story-{i}.html"
                    ),
                    title,
                    source: format!("Publisher {p} News"),
                    source_url: format!("https://www.pub{p}.example"),
                    in_publisher_feed: rng.gen_range(0..100) < a.pub_pct,
                }
            })
            .collect();
        let mut feeds: Vec<Vec<Item>> = (0..a.feeds).map(|_| Vec::new()).collect();
        let new_item = |story: usize, rng: &mut StdRng| Item {
            id: token_id(rng),
            story,
            old_format: false,
        };
        // Stories 0..pairs appear in two different feeds, under two ids.
        for s in 0..pairs {
            let f1 = s % a.feeds;
            let f2 = (f1 + 1 + (s / a.feeds) % (a.feeds - 1)) % a.feeds;
            feeds[f1].push(new_item(s, &mut rng));
            feeds[f2].push(new_item(s, &mut rng));
        }
        // The others once; the last `old` of them with an old-format id.
        let mut slots: Vec<usize> = Vec::new();
        for (f, items) in feeds.iter().enumerate() {
            ensure!(items.len() <= a.items, "feed {f} overfull");
            slots.extend(std::iter::repeat_n(f, a.items - items.len()));
        }
        slots.shuffle(&mut rng);
        ensure!(slots.len() == singles, "slot count");
        for (k, (s, f)) in (pairs..n_stories).zip(slots).enumerate() {
            let item = if k >= singles - old {
                Item {
                    id: encode_old_format_id(&format!(
                        "{}?utm_source=google",
                        stories[s].publisher_url
                    )),
                    story: s,
                    old_format: true,
                }
            } else {
                new_item(s, &mut rng)
            };
            feeds[f].push(item);
        }
        for items in &mut feeds {
            items.shuffle(&mut rng);
        }
        Ok(Corpus { stories, feeds })
    }

    fn in_publisher_feeds(&self) -> usize {
        self.stories.iter().filter(|s| s.in_publisher_feed).count()
    }

    /// Whether something besides a new-format id places story `s`: its
    /// publisher's feed, or an old-format id.
    fn placeable_offline(&self, s: usize) -> bool {
        self.stories[s].in_publisher_feed || self.all().any(|i| i.story == s && i.old_format)
    }

    /// Stories only a new-format id can place: the fewest article-page GETs
    /// that can resolve the corpus.
    fn floor(&self) -> usize {
        (0..self.stories.len())
            .filter(|&s| !self.placeable_offline(s))
            .count()
    }

    /// Publisher `p`'s own RSS feed.
    fn publisher_xml(&self, p: usize) -> String {
        let mut s = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Publisher {p} News</title><link>https://www.pub{p}.example/</link>"#
        );
        for (i, st) in self.stories.iter().enumerate() {
            if i % PUBLISHERS == p && st.in_publisher_feed {
                s.push_str(&format!(
                    "<item><title>{}</title><link>{}</link><guid>{}</guid>\
                     <pubDate>Sat, 28 Nov 2026 01:00:00 GMT</pubDate><description>About it</description></item>",
                    st.title, st.publisher_url, st.publisher_url
                ));
            }
        }
        s.push_str("</channel></rss>");
        s
    }

    fn items(&self) -> usize {
        self.feeds.iter().map(Vec::len).sum()
    }

    fn old_items(&self) -> usize {
        self.all().filter(|i| i.old_format).count()
    }

    /// Stories that appear twice (in two feeds, under two ids).
    fn pairs(&self) -> usize {
        self.items() - self.stories.len()
    }

    fn all(&self) -> impl Iterator<Item = &Item> {
        self.feeds.iter().flatten()
    }

    fn stories_by_id(&self) -> HashMap<String, usize> {
        self.all().map(|i| (i.id.clone(), i.story)).collect()
    }

    fn feed_xml(&self, f: usize, base: &str) -> String {
        let mut s = format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><generator>NFE/5.0</generator><title>"topic {f}" when:1d - Google News</title><link>https://news.google.com/search?q=topic{f}&amp;hl=en-US&amp;gl=US&amp;ceid=US:en</link><language>en-US</language><webMaster>news-webmaster@google.com</webMaster><copyright>2026 Google Inc.</copyright><lastBuildDate>Sat, 28 Nov 2026 02:00:00 GMT</lastBuildDate><description>Google News</description>"#
        );
        for (j, it) in self.feeds[f].iter().enumerate() {
            let st = &self.stories[it.story];
            let link = format!("{base}/rss/articles/{}?oc=5", it.id);
            s.push_str(&format!(
                "<item><title>{t} - {src}</title><link>{link}</link>\
                 <guid isPermaLink=\"false\">{id}</guid>\
                 <pubDate>Sat, 28 Nov 2026 01:{m:02}:00 GMT</pubDate>\
                 <description>&lt;a href=\"{link}\" target=\"_blank\"&gt;{t}&lt;/a&gt;&amp;nbsp;&amp;nbsp;&lt;font color=\"#6f6f6f\"&gt;{src}&lt;/font&gt;</description>\
                 <source url=\"{su}\">{src}</source></item>",
                t = st.title,
                src = st.source,
                id = it.id,
                m = j % 60,
                su = st.source_url,
            ));
        }
        s.push_str("</channel></rss>");
        s
    }
}

// ------------------------------------------------------------- fake Google

#[derive(Debug, Clone)]
enum Event {
    Get(String),
    Post(Vec<String>),
}

/// What the fake Google saw, in order.
#[derive(Clone, Default)]
struct Log {
    events: Arc<Mutex<Vec<Event>>>,
    bad_signatures: Arc<Mutex<usize>>,
}

impl Log {
    fn push(&self, e: Event) {
        self.events.lock().unwrap().push(e);
    }
}

/// An article page carrying the signature for the id in its path.
struct ArticlePage(Log);

impl Respond for ArticlePage {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let id = req
            .url
            .path()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        self.0.push(Event::Get(id.clone()));
        ResponseTemplate::new(200).set_body_string(stand_in::article_page(&id))
    }
}

/// batchexecute: answers every tagged `Fbv4je` call from `answers` (id →
/// publisher URL), in reverse order so that matching by position would fail.
struct Batch {
    answers: Arc<HashMap<String, String>>,
    log: Log,
}

impl Respond for Batch {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body = String::from_utf8_lossy(&req.body).into_owned();
        let mut found = Vec::new();
        let mut ids = Vec::new();
        for call in stand_in::batch_calls(&body).into_iter().rev() {
            if call.signature != format!("SIG_{}", call.id) {
                *self.log.bad_signatures.lock().unwrap() += 1;
            } else if let Some(url) = self.answers.get(&call.id) {
                found.push((call.tag, url.clone()));
            }
            ids.push(call.id);
        }
        self.log.push(Event::Post(ids));
        let body = stand_in::batch_answer(found);
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/json; charset=utf-8")
            .set_body_string(body)
    }
}

struct FakeGoogle {
    server: MockServer,
    log: Log,
}

impl FakeGoogle {
    async fn start(corpus: &Corpus) -> FakeGoogle {
        let server = MockServer::start().await;
        let log = Log::default();
        let answers: HashMap<String, String> = corpus
            .all()
            .map(|i| (i.id.clone(), corpus.stories[i.story].publisher_url.clone()))
            .collect();
        Mock::given(method("POST"))
            .and(path("/_/DotsSplashUi/data/batchexecute"))
            .respond_with(Batch {
                answers: Arc::new(answers),
                log: log.clone(),
            })
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex("^(/rss)?/articles/[^/]+$"))
            .respond_with(ArticlePage(log.clone()))
            .mount(&server)
            .await;
        for p in 0..PUBLISHERS {
            Mock::given(method("GET"))
                .and(path(format!("/pub{p}/rss")))
                .respond_with(
                    ResponseTemplate::new(200)
                        .insert_header("content-type", "application/rss+xml")
                        .set_body_string(corpus.publisher_xml(p)),
                )
                .mount(&server)
                .await;
        }
        for f in 0..corpus.feeds.len() {
            Mock::given(method("GET"))
                .and(path("/rss/search"))
                .and(query_param("q", format!("topic{f} when:1d")))
                .respond_with(
                    ResponseTemplate::new(200)
                        .insert_header("content-type", "application/xml; charset=utf-8")
                        .set_body_string(corpus.feed_xml(f, &server.uri())),
                )
                .mount(&server)
                .await;
        }
        FakeGoogle { server, log }
    }

    fn feed_url(&self, f: usize) -> String {
        format!(
            "{}/rss/search?q=topic{f}+when%3A1d&hl=en-US&gl=US&ceid=US:en",
            self.server.uri()
        )
    }

    fn publisher_feed_url(&self, p: usize) -> String {
        format!("{}/pub{p}/rss", self.server.uri())
    }

    /// (article-page GETs, batchexecute POSTs, Google feed GETs, anything
    /// else); the publishers' feeds are not Google's.
    async fn requests(&self) -> (usize, usize, usize, usize) {
        let reqs = self.server.received_requests().await.unwrap_or_default();
        let (mut gets, mut posts, mut feeds, mut other) = (0, 0, 0, 0);
        for r in &reqs {
            let p = r.url.path();
            match r.method.as_str() {
                "GET" if p.contains("/articles/") => gets += 1,
                "GET" if p == "/rss/search" => feeds += 1,
                "GET" if p.starts_with("/pub") => {}
                "POST" if p.ends_with("/batchexecute") => posts += 1,
                _ => other += 1,
            }
        }
        (gets, posts, feeds, other)
    }
}

// ------------------------------------------------------------------ drain

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The daemon: `App::resolve_once` (the GETs the pace has tokens for,
    /// POST when ready).
    Daemon,
    /// `newsd poll --once`: `App::drain_resolution_once`.
    Once,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Daemon => "daemon: resolve_once loop",
            Mode::Once => "poll --once: drain_resolution_once",
        }
    }
}

struct DrainResult {
    mode: Mode,
    rounds: usize,
    report: ResolveReport,
    gets: usize,
    posts: usize,
    other_requests: usize,
    batch_sizes: Vec<usize>,
    /// Articles whose Google link was resolved by a lookup.
    articles_online: i64,
    /// Articles created by the poll.
    articles_total: i64,
    links_decoded: i64,
    links_joined: i64,
    /// GETs for a story that its publisher's feed or an old-format id placed.
    gets_placeable: usize,
    /// GETs for an id whose story had been looked up under another id already.
    repeat_gets: usize,
    /// … of which the story had been resolved already (its other id POSTed).
    repeat_gets_after_resolved: usize,
    drain_time: Duration,
}

async fn drain_scenario(corpus: &Corpus, mode: Mode) -> Result<DrainResult> {
    let g = FakeGoogle::start(corpus).await;
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("newsd.db");
    let mut toml = format!(
        "[database]\nurl = \"sqlite://{}\"\n\n[http]\nallow_networks = [\"127.0.0.1/32\"]\n\
         per_host_delay = \"0s\"\n\n[google_news]\nbase_url = \"{}\"\n",
        db.display(),
        g.server.uri()
    );
    for f in 0..corpus.feeds.len() {
        toml.push_str(&format!("\n[[feeds]]\nurl = \"{}\"\n", g.feed_url(f)));
    }
    for p in 0..PUBLISHERS {
        toml.push_str(&format!(
            "\n[[feeds]]\nurl = \"{}\"\n",
            g.publisher_feed_url(p)
        ));
    }
    let config = dir.path().join("newsd.toml");
    std::fs::write(&config, toml)?;
    let settings = Settings::load_with_env(Some(&config), vec![])
        .context("loading the bench config")?
        .settings;
    let step = chrono::Duration::from_std(settings.google_news.get_interval.0)?;
    let app = App::build(settings).await?;
    let mut now: DateTime<Utc> = Utc::now();
    app.sync_config_feeds(now).await?;

    let polls = app.poll_all_once(now).await?;
    let mut new_items = 0;
    for p in &polls {
        match &p.status {
            PollStatus::Ok { new_items: n, .. } => new_items += n,
            other => bail!("poll of {} failed: {other:?}", p.url),
        }
    }
    ensure!(
        new_items == corpus.items() + corpus.in_publisher_feeds(),
        "{new_items} new items stored"
    );
    let (_, _, feed_gets, _) = g.requests().await;
    ensure!(feed_gets == corpus.feeds.len(), "feed GETs: {feed_gets}");

    let started = Instant::now();
    let mut total = ResolveReport::default();
    let mut rounds = 0;
    loop {
        let r = match mode {
            Mode::Daemon => app.resolve_once(now).await?,
            Mode::Once => app.drain_resolution_once(now).await?,
        };
        rounds += 1;
        total.gets += r.gets;
        total.posts += r.posts;
        total.resolved += r.resolved;
        total.failed += r.failed;
        total.joined += r.joined;
        if let Some(until) = r.cooling_down_until {
            bail!("breaker opened (until {until}) after {rounds} rounds");
        }
        now += match mode {
            Mode::Daemon => step,
            Mode::Once => chrono::Duration::minutes(15),
        };
        let q = app.store().google_queue_stats().await?;
        if q.pending == 0 {
            break;
        }
        ensure!(rounds < 100_000, "backlog does not drain: {q:?}");
    }
    let drain_time = started.elapsed();

    let pool = app.store().pool();
    let count = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(pool)
            .await
            .with_context(|| sql.to_owned())
    };
    let articles_total = count("SELECT COUNT(*) FROM articles").await?;
    let articles_online = count(
        "SELECT COUNT(DISTINCT article_id) FROM google_links WHERE status = 'resolved' \
         AND article_id NOT IN (SELECT article_id FROM google_links WHERE status = 'decoded')",
    )
    .await?;
    let unresolved = count("SELECT COUNT(*) FROM articles WHERE resolution <> 'resolved'").await?;
    ensure!(
        articles_total == corpus.stories.len() as i64,
        "{articles_total} articles for {} stories",
        corpus.stories.len()
    );
    ensure!(unresolved == 0, "{unresolved} articles left unresolved");
    let urls: HashSet<String> = sqlx::query_scalar("SELECT url FROM articles")
        .fetch_all(pool)
        .await?
        .into_iter()
        .collect();
    for s in &corpus.stories {
        ensure!(
            urls.contains(&s.publisher_url),
            "{} missing",
            s.publisher_url
        );
    }
    let q = app.store().google_queue_stats().await?;

    let (gets, posts, _, other_requests) = g.requests().await;
    ensure!(
        *g.log.bad_signatures.lock().unwrap() == 0,
        "a POST carried a wrong signature"
    );
    let events = g.log.events.lock().unwrap().clone();
    let story_of = corpus.stories_by_id();
    let mut looked_up: HashSet<usize> = HashSet::new();
    let mut resolved: HashSet<usize> = HashSet::new();
    let (mut repeat_gets, mut repeat_gets_after_resolved) = (0, 0);
    let mut gets_placeable = 0;
    let mut batch_sizes = Vec::new();
    for e in &events {
        match e {
            Event::Get(id) => {
                let s = story_of[id];
                if corpus.placeable_offline(s) {
                    gets_placeable += 1;
                }
                if !looked_up.insert(s) {
                    repeat_gets += 1;
                    if resolved.contains(&s) {
                        repeat_gets_after_resolved += 1;
                    }
                }
            }
            Event::Post(ids) => {
                batch_sizes.push(ids.len());
                resolved.extend(ids.iter().map(|id| story_of[id]));
            }
        }
    }
    Ok(DrainResult {
        mode,
        rounds,
        report: total,
        gets,
        posts,
        other_requests,
        batch_sizes,
        articles_online,
        articles_total,
        links_decoded: q.decoded,
        links_joined: q.joined,
        gets_placeable,
        repeat_gets,
        repeat_gets_after_resolved,
        drain_time,
    })
}

fn print_drain_table(corpus: &Corpus, results: &[DrainResult]) {
    let floor = corpus.floor().max(1);
    println!(
        "\nRequests to Google per resolved article ({} Google items and {} publisher-feed items, \
         backlog drained from one poll; floor: {floor} stories only a new-format id places)\n",
        corpus.items(),
        corpus.in_publisher_feeds(),
    );
    println!(
        "| drain path | rounds | article-page GETs (200) | GETs / floor | GETs on stories placed otherwise | batchexecute POSTs | articles resolved online | POSTs / article resolved online | joined before lookup | wall time |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in results {
        println!(
            "| {} | {} | {} | {:.3} | {} | {} | {} | {:.3} | {} | {:.2} s |",
            r.mode.name(),
            r.rounds,
            r.gets,
            r.gets as f64 / floor as f64,
            r.gets_placeable,
            r.posts,
            r.articles_online,
            r.posts as f64 / r.articles_online.max(1) as f64,
            r.report.joined,
            r.drain_time.as_secs_f64(),
        );
    }
    // A decoder resolving each id on its own: 1 GET + 1 POST per looked-up id.
    let ids = corpus.items() - corpus.old_items();
    println!(
        "| one-at-a-time decoder (1 GET + 1 POST per id) | {ids} | {ids} | {:.3} | | {ids} | | | | |",
        ids as f64 / floor as f64,
    );
    println!();
    for r in results {
        let all = r.articles_total.max(1) as f64;
        println!(
            "{}: {} articles in all ({} links decoded offline, {} joined without a lookup); \
             over all of them {:.3} GETs/article, {:.3} POSTs/article; \
             resolver counted {} GETs / {} POSTs / {} failed; other requests to Google: {}; \
             POST batch sizes {:?}; GETs for a story already looked up under another id: {} \
             ({} after it had resolved); targets (GETs <= 1.1 x floor, POSTs <= 0.1 per article \
             resolved online): {}",
            r.mode.name(),
            r.articles_total,
            r.links_decoded,
            r.links_joined,
            r.gets as f64 / all,
            r.posts as f64 / all,
            r.report.gets,
            r.report.posts,
            r.report.failed,
            r.other_requests,
            r.batch_sizes,
            r.repeat_gets,
            r.repeat_gets_after_resolved,
            verdict(r, floor),
        );
    }
}

fn verdict(r: &DrainResult, floor: usize) -> &'static str {
    let gets_met = r.gets as f64 <= 1.1 * floor as f64;
    let posts_met = r.posts as f64 <= 0.1 * r.articles_online.max(1) as f64;
    match (gets_met, posts_met) {
        (true, true) => "both met",
        (false, true) => "GETs missed, POSTs met",
        (true, false) => "GETs met, POSTs missed",
        (false, false) => "both missed",
    }
}

// ----------------------------------------------------------------- decode

/// The engine `decode_article_id` uses.
const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// All `…/articles/<id>` ids of the fixtures, deduplicated.
fn fixture_ids() -> Result<Vec<String>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/google-news");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| dir.display().to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f)?;
        for part in text.split("/articles/").skip(1) {
            let id: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            if !id.is_empty() && seen.insert(id.clone()) {
                out.push(id);
            }
        }
    }
    Ok(out)
}

/// Runs `f` over `ids` in full passes until `min` has passed; ids per second.
fn rate(ids: &[String], min: Duration, mut f: impl FnMut(&str) -> usize) -> f64 {
    let started = Instant::now();
    let mut n = 0usize;
    let mut sink = 0usize;
    loop {
        for id in ids {
            sink = sink.wrapping_add(f(black_box(id)));
        }
        n += ids.len();
        if started.elapsed() >= min {
            break;
        }
    }
    black_box(sink);
    n as f64 / started.elapsed().as_secs_f64()
}

struct DecodeResult {
    old: usize,
    new: usize,
    errors: usize,
    rows: Vec<(&'static str, usize, f64)>,
}

fn decode_bench(min: Duration) -> Result<DecodeResult> {
    let ids = fixture_ids()?;
    ensure!(!ids.is_empty(), "no ids in the fixtures");
    let (mut old_ids, mut new_ids, mut errors) = (Vec::new(), Vec::new(), 0);
    for id in &ids {
        match decode_article_id(id) {
            Ok(DecodedId::Url(_)) => old_ids.push(id.clone()),
            Ok(DecodedId::Token(_)) => new_ids.push(id.clone()),
            Err(_) => errors += 1,
        }
    }
    let full = |id: &str| match decode_article_id(id) {
        Ok(DecodedId::Url(u)) | Ok(DecodedId::Token(u)) => u.len(),
        Err(_) => 1,
    };
    let b64 = |id: &str| ENGINE.decode(id.as_bytes()).map_or(1, |b| b.len());
    // Three alternating runs each, the median kept.
    let mut runs: [Vec<f64>; 4] = Default::default();
    for _ in 0..3 {
        runs[0].push(rate(&ids, min, full));
        runs[1].push(rate(&ids, min, b64));
        runs[2].push(rate(&old_ids, min, full));
        runs[3].push(rate(&new_ids, min, full));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let [a, b, c, d] = &mut runs;
    Ok(DecodeResult {
        old: old_ids.len(),
        new: new_ids.len(),
        errors,
        rows: vec![
            ("decode_article_id, all fixture ids", ids.len(), median(a)),
            ("base64 decoding only, same ids", ids.len(), median(b)),
            (
                "decode_article_id, old-format ids",
                old_ids.len(),
                median(c),
            ),
            (
                "decode_article_id, new-format ids",
                new_ids.len(),
                median(d),
            ),
        ],
    })
}

fn print_decode_table(d: &DecodeResult) {
    println!(
        "Offline id decoding ({} distinct ids from tests/fixtures/google-news: {} old-format, \
         {} new-format, {} rejected e.g. video ids; median of 3 runs of >= 1 s)\n",
        d.old + d.new + d.errors,
        d.old,
        d.new,
        d.errors
    );
    println!("| loop | ids | ids/s | ns/id |");
    println!("|---|---:|---:|---:|");
    for (name, n, r) in &d.rows {
        println!("| {name} | {n} | {:.0} | {:.0} |", r, 1e9 / r);
    }
}
