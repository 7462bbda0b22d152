//! API latency benchmark: p50/p99 of `/api/v1/articles` listings and
//! searches over real HTTP against an archive of generated articles, while a
//! writer loop keeps ingesting through the store (`record_poll`, then
//! `index_pending`, and `cluster_pending` every 30 s as the daemon does).
//!
//! ```text
//! cargo run --release --example api_bench -- [--articles 1000000] [--db PATH]
//!     [--requests 200] [--ingest-per-sec 100] [--regenerate] [--database-url URL]
//! ```
//!
//! `--database-url` runs the requests against another archive holding the
//! same articles, e.g. the PostgreSQL copy of `--db` made with
//! `newsd copy --to URL` (the query terms come from `--db`'s sidecar).
//!
//! The archive is generated once with bulk SQL (batches of 2,000 rows bound
//! as one JSON array, then one FTS5 `rebuild` per index) and cached at
//! `--db` (default `$CARGO_TARGET_DIR` or `target`, `api_bench/articles-N.db`).
//! A run works on a copy-free reuse of that file: the writer loop adds rows
//! to it, which later runs simply see as more archive.
//!
//! Text: a word-bigram chain trained on the article bodies of
//! `/work/shared/extraction/ground-truth.json` (real English news prose,
//! so word frequencies follow the real long tail), plus 5 % Japanese
//! articles built from the headlines in `tests/fixtures/google-news/ja_*.xml`.
//! Sizes: titles 7–15 words, summaries 20–60 words, full text on 60 % of
//! articles with a log-normal length (median ~450 words, 80–3,000),
//! sanitized HTML beside it. 120 feeds of Zipf-distributed size (8 % of
//! articles in two feeds), 400 publishers (Zipf), first seen over 180 days.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use newsd::api::{self, Access, ApiState};
use newsd::config::Settings;
use newsd::domain::{CanonicalUrl, EntryKey};
use newsd::store::{FeedStatus, FeedUpdate, NewEntry, NewFeed, Store};
use rand::distributions::{Distribution, WeightedIndex};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::sqlite::{SqliteConnectOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};

const FEEDS: usize = 120;
const PUBLISHERS: usize = 400;
const SPAN_DAYS: i64 = 180;
const BATCH: usize = 2_000;
/// Every 100th generated article's distinct words are counted, to pick
/// query terms by document frequency.
const DF_SAMPLE: usize = 100;

struct Args {
    articles: usize,
    db: PathBuf,
    requests: usize,
    ingest_per_sec: usize,
    regenerate: bool,
    database_url: Option<String>,
}

fn args() -> Result<Args> {
    let mut a = Args {
        articles: 1_000_000,
        db: PathBuf::new(),
        requests: 200,
        ingest_per_sec: 100,
        regenerate: false,
        database_url: None,
    };
    let mut db = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--articles" => a.articles = value()?.parse().context("--articles")?,
            "--db" => db = Some(PathBuf::from(value()?)),
            "--requests" => a.requests = value()?.parse().context("--requests")?,
            "--ingest-per-sec" => {
                a.ingest_per_sec = value()?.parse().context("--ingest-per-sec")?
            }
            "--regenerate" => a.regenerate = true,
            "--database-url" => a.database_url = Some(value()?),
            other => bail!("unknown flag {other}"),
        }
    }
    a.db = match db {
        Some(p) => p,
        None => {
            let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
            Path::new(&target)
                .join("api_bench")
                .join(format!("articles-{}.db", a.articles))
        }
    };
    Ok(a)
}

/// A word-bigram chain over real news prose.
struct Chain {
    words: Vec<String>,
    /// For each word, the words that followed it and how often.
    next: Vec<(Vec<u32>, WeightedIndex<u32>)>,
    starts: Vec<u32>,
}

impl Chain {
    fn train(corpus: &[String]) -> Result<Chain> {
        let mut ids: HashMap<String, u32> = HashMap::new();
        let mut words: Vec<String> = Vec::new();
        let mut follow: Vec<HashMap<u32, u32>> = Vec::new();
        let mut starts = Vec::new();
        for doc in corpus {
            let mut prev: Option<u32> = None;
            for w in doc.split_whitespace() {
                let id = *ids.entry(w.to_owned()).or_insert_with(|| {
                    words.push(w.to_owned());
                    follow.push(HashMap::new());
                    (words.len() - 1) as u32
                });
                match prev {
                    Some(p) => *follow[p as usize].entry(id).or_default() += 1,
                    None => starts.push(id),
                }
                if w.ends_with('.') {
                    prev = None;
                } else {
                    prev = Some(id);
                }
            }
        }
        let next = follow
            .into_iter()
            .map(|m| {
                let (ws, counts): (Vec<u32>, Vec<u32>) = if m.is_empty() {
                    (vec![0], vec![1])
                } else {
                    m.into_iter().unzip()
                };
                Ok((ws, WeightedIndex::new(counts)?))
            })
            .collect::<Result<_>>()?;
        if starts.is_empty() {
            bail!("empty corpus");
        }
        Ok(Chain {
            words,
            next,
            starts,
        })
    }

    fn words(&self, rng: &mut StdRng, n: usize, out: &mut String) {
        let mut cur = self.starts[rng.gen_range(0..self.starts.len())];
        for i in 0..n {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(&self.words[cur as usize]);
            let (ws, dist) = &self.next[cur as usize];
            cur = if self.words[cur as usize].ends_with('.') {
                self.starts[rng.gen_range(0..self.starts.len())]
            } else {
                ws[dist.sample(rng)]
            };
        }
    }
}

/// Plain words of a generated text, as the word index would see them.
fn terms(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() >= 3 && w.chars().all(|c| c.is_ascii_alphabetic()))
        .map(str::to_lowercase)
}

fn corpus() -> Result<(Vec<String>, Vec<String>)> {
    let gt = "/work/shared/extraction/ground-truth.json";
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(gt).with_context(|| format!("reading {gt}"))?,
    )?;
    let bodies: Vec<String> = v
        .as_object()
        .context("ground truth is an object")?
        .values()
        .filter_map(|a| a.get("articleBody")?.as_str().map(str::to_owned))
        .filter(|b| b.is_ascii() || b.chars().filter(|c| c.is_ascii()).count() * 10 > b.len() * 9)
        .collect();
    let title_re = regex::Regex::new(r"(?s)<title>(.*?)</title>").context("regex")?;
    let mut ja = Vec::new();
    for e in std::fs::read_dir("tests/fixtures/google-news")? {
        let p = e?.path();
        if p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("ja_"))
        {
            let xml = std::fs::read_to_string(&p)?;
            ja.extend(
                title_re
                    .captures_iter(&xml)
                    .map(|c| {
                        c[1].trim()
                            .split(" - ")
                            .next()
                            .unwrap_or_default()
                            .to_owned()
                    })
                    .filter(|t| t.chars().count() > 8),
            );
        }
    }
    if ja.is_empty() {
        bail!("no Japanese headlines in tests/fixtures/google-news/ja_*.xml");
    }
    Ok((bodies, ja))
}

fn zipf_weights(n: usize, s: f64) -> Result<WeightedIndex<f64>> {
    Ok(WeightedIndex::new(
        (1..=n).map(|k| 1.0 / (k as f64).powf(s)),
    )?)
}

fn publisher_name(i: usize) -> String {
    const A: [&str; 20] = [
        "Daily", "Morning", "Evening", "Global", "National", "City", "Metro", "Valley", "Coast",
        "Northern", "Southern", "Capital", "Harbor", "River", "Mountain", "Prairie", "Island",
        "Union", "Federal", "Pacific",
    ];
    const B: [&str; 20] = [
        "Times",
        "Herald",
        "Post",
        "Tribune",
        "Journal",
        "Gazette",
        "Chronicle",
        "Observer",
        "Courier",
        "Dispatch",
        "Ledger",
        "Monitor",
        "Register",
        "Sentinel",
        "Star",
        "Record",
        "Review",
        "Standard",
        "Telegraph",
        "Wire",
    ];
    format!("The {} {} {}", A[i % 20], B[(i / 20) % 20], i / 400 + 1)
}

fn slug(s: &str) -> String {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(8)
        .collect::<Vec<_>>()
        .join("-")
        .to_lowercase()
}

fn ts(t: DateTime<Utc>) -> String {
    newsd::store::ts(t)
}

/// Query terms picked from the sampled document frequencies.
#[derive(serde::Serialize, serde::Deserialize)]
struct Picked {
    articles: usize,
    /// (term, estimated share of articles containing it)
    selective: Vec<(String, f64)>,
    broad: Vec<(String, f64)>,
    ja: Vec<String>,
    /// The newest generated first_seen_at.
    newest: String,
    small_feed: i64,
    big_feed: i64,
    rare_publisher: String,
    common_publisher: String,
}

async fn generate(path: &Path, n: usize) -> Result<Picked> {
    let t0 = Instant::now();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    for suffix in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", path.display()));
        if p.exists() {
            std::fs::remove_file(&p)?;
        }
    }
    let url = format!("sqlite://{}", path.display());
    // The real migrations and feeds, through the store.
    let store = Store::open(&url, Duration::from_secs(30)).await?;
    let now = Utc::now();
    for f in 0..FEEDS {
        let url = if f < 20 {
            format!("https://news.google.com/rss/search?q=topic{f}&hl=en-US&gl=US&ceid=US:en")
        } else {
            format!("https://feeds{f}.example/rss.xml")
        };
        store
            .add_feed(
                &NewFeed {
                    url,
                    name: Some(format!("feed {f}")),
                    interval_secs: None,
                },
                "cli",
                now,
            )
            .await?;
    }
    store.close().await;

    // Bulk load on one connection without a journal: it is a throwaway file
    // until it is complete.
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .synchronous(SqliteSynchronous::Off)
        // A batch refers to the story still open, inserted with the next batch.
        .foreign_keys(false)
        .pragma("cache_size", "-262144")
        .connect()
        .await
        .context("opening the bulk-load connection")?;
    // Without a journal if SQLite lets go of WAL mode now; WAL otherwise.
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode = OFF")
        .fetch_one(&mut conn)
        .await
        .unwrap_or_else(|_| "wal".into());
    println!("bulk load journal mode: {mode}");

    let (bodies, ja) = corpus()?;
    let chain = Chain::train(&bodies)?;
    let mut rng = StdRng::seed_from_u64(42);
    let feed_dist = zipf_weights(FEEDS, 1.0)?;
    let pub_dist = zipf_weights(PUBLISHERS, 0.9)?;
    let text_len = rand_distr_lognormal(450.0, 0.7);
    let span = SPAN_DAYS * 86_400;
    let start = now - chrono::Duration::seconds(span);
    let mut df: HashMap<String, u32> = HashMap::new();
    let mut sampled = 0u32;
    let mut story = 0i64;
    let mut story_size = 0i64;
    let mut rows = Vec::with_capacity(BATCH);
    let mut items = Vec::with_capacity(BATCH);
    let mut stories: Vec<serde_json::Value> = Vec::new();
    let mut bytes = 0usize;
    for i in 1..=n {
        let seen = start + chrono::Duration::milliseconds((span * 1000) * i as i64 / n as i64);
        let japanese = rng.gen_bool(0.05);
        let publisher = if japanese {
            pub_dist.sample(&mut rng) % 20 + 380
        } else {
            pub_dist.sample(&mut rng)
        };
        let (title, summary, text, lang) = if japanese {
            let pick = |rng: &mut StdRng, k: usize| {
                (0..k)
                    .map(|_| ja[rng.gen_range(0..ja.len())].clone())
                    .collect::<Vec<_>>()
                    .join("。")
            };
            let k = rng.gen_range(15..60);
            let text = rng.gen_bool(0.6).then(|| pick(&mut rng, k));
            (pick(&mut rng, 1), pick(&mut rng, 3), text, "ja")
        } else {
            let mut title = String::new();
            let k = rng.gen_range(7..=15);
            chain.words(&mut rng, k, &mut title);
            let title = title.trim_end_matches('.').to_owned();
            let mut summary = String::new();
            let k = rng.gen_range(20..=60);
            chain.words(&mut rng, k, &mut summary);
            let text = rng.gen_bool(0.6).then(|| {
                let words = (text_len.sample(&mut rng) as usize).clamp(80, 3_000);
                let mut t = String::with_capacity(words * 6);
                chain.words(&mut rng, words, &mut t);
                t
            });
            let lang = if rng.gen_bool(0.1) { "en-GB" } else { "en" };
            (title, summary, text, lang)
        };
        if i % DF_SAMPLE == 0 && !japanese {
            sampled += 1;
            let mut seen_terms = HashSet::new();
            for s in [&title, &summary].into_iter().chain(text.as_ref()) {
                for t in terms(s) {
                    seen_terms.insert(t);
                }
            }
            for t in seen_terms {
                *df.entry(t).or_default() += 1;
            }
        }
        if story_size == 0 || !rng.gen_bool(0.3) {
            story += 1;
            story_size = 0;
            stories.push(serde_json::json!({"id": story, "seen": ts(seen), "title": title}));
        }
        story_size += 1;
        if let Some(s) = stories.last_mut() {
            s["size"] = story_size.into();
        }
        let host = slug(&publisher_name(publisher));
        let url = format!(
            "https://{host}.example/{}/{}-{i}",
            seen.format("%Y/%m"),
            slug(&title)
        );
        let html = text.as_ref().map(|t| {
            t.split(". ")
                .collect::<Vec<_>>()
                .chunks(4)
                .map(|p| format!("<p>{}.</p>", p.join(". ")))
                .collect::<String>()
        });
        bytes += title.len() + summary.len() + text.as_ref().map_or(0, |t| t.len());
        let published = seen - chrono::Duration::minutes(rng.gen_range(5..600));
        rows.push(serde_json::json!({
            "id": i,
            "url": url,
            "key": url.trim_start_matches("https://"),
            "title": title,
            "summary": summary,
            "wc": text.as_ref().map(|t| t.split_whitespace().count()),
            "text": text,
            "html": html,
            "publisher": publisher_name(publisher),
            "purl": format!("https://{host}.example/"),
            "authors": format!("[\"Reporter {}\"]", rng.gen_range(0..5_000)),
            "pub": ts(published),
            "seen": ts(seen),
            "lang": lang,
            "story": story,
        }));
        let feed = feed_dist.sample(&mut rng) as i64 + 1;
        items.push(serde_json::json!({"feed": feed, "article": i, "link": url, "seen": ts(seen)}));
        if rng.gen_bool(0.08) {
            let other = (feed % FEEDS as i64) + 1;
            items.push(
                serde_json::json!({"feed": other, "article": i, "link": url, "seen": ts(seen)}),
            );
        }
        if rows.len() == BATCH || i == n {
            let closed = if i == n {
                stories.len()
            } else {
                stories.len() - 1
            };
            let done: Vec<serde_json::Value> = stories.drain(..closed).collect();
            load_batch(&mut conn, &rows, &items, &done)
                .await
                .context("loading a batch")?;
            rows.clear();
            items.clear();
            if i % 100_000 == 0 || i == n {
                println!(
                    "generated {i} articles ({:.0} MB of text) in {:.0} s",
                    bytes as f64 / 1e6,
                    t0.elapsed().as_secs_f64()
                );
            }
        }
    }
    // Old articles' full-text jobs ended long ago; the queue index stays small.
    sqlx::query("UPDATE fulltext_jobs SET status = 'not_found', attempts = 1")
        .execute(&mut conn)
        .await?;
    // The trigram index holds the articles in unspaced scripts only
    // (migration 0007): the generated Japanese ones.
    sqlx::query("INSERT INTO trigram_rows (article_id) SELECT id FROM articles WHERE lang = 'ja'")
        .execute(&mut conn)
        .await
        .context("listing the trigram index's rows")?;
    let t = Instant::now();
    for table in ["articles_fts", "articles_trigram"] {
        sqlx::query(&format!("INSERT INTO {table} ({table}) VALUES ('rebuild')"))
            .execute(&mut conn)
            .await?;
        println!("{table} rebuilt in {:.0} s", t.elapsed().as_secs_f64());
    }
    sqlx::query("DELETE FROM fts_pending")
        .execute(&mut conn)
        .await?;
    sqlx::query("PRAGMA journal_mode = WAL")
        .execute(&mut conn)
        .await
        .context("back to WAL")?;
    conn.close().await?;
    let store = Store::open(&url, Duration::from_secs(30))
        .await
        .context("reopening")?;
    store.maintenance().await.context("maintenance")?;
    store.close().await;

    let share = |c: u32| f64::from(c) / f64::from(sampled.max(1));
    let mut by_df: Vec<(String, f64)> = df.into_iter().map(|(t, c)| (t, share(c))).collect();
    by_df.sort_by(|a, b| a.0.cmp(&b.0));
    let mut prng = StdRng::seed_from_u64(7);
    let mut selective: Vec<(String, f64)> = by_df
        .iter()
        .filter(|(_, s)| (0.001..0.008).contains(s))
        .cloned()
        .collect();
    let mut broad: Vec<(String, f64)> = by_df.iter().filter(|(_, s)| *s >= 0.2).cloned().collect();
    use rand::seq::SliceRandom;
    selective.shuffle(&mut prng);
    broad.shuffle(&mut prng);
    selective.truncate(50);
    broad.truncate(20);
    let mut ja_terms: Vec<String> = ja
        .iter()
        .filter_map(|t| {
            let cs: Vec<char> = t.chars().filter(|c| !c.is_ascii()).collect();
            (cs.len() >= 4).then(|| cs[..4].iter().collect())
        })
        .collect();
    ja_terms.shuffle(&mut prng);
    ja_terms.truncate(20);
    println!(
        "generated {n} articles in {:.0} s ({} selective, {} broad terms)",
        t0.elapsed().as_secs_f64(),
        selective.len(),
        broad.len()
    );
    Ok(Picked {
        articles: n,
        selective,
        broad,
        ja: ja_terms,
        newest: ts(now),
        small_feed: FEEDS as i64,
        big_feed: 1,
        rare_publisher: publisher_name(PUBLISHERS - 30),
        common_publisher: publisher_name(0),
    })
}

fn rand_distr_lognormal(median: f64, sigma: f64) -> impl Distribution<f64> {
    // Box–Muller over two uniforms: no rand_distr dependency for one curve.
    struct LogNormal(f64, f64);
    impl Distribution<f64> for LogNormal {
        fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
            let (u1, u2): (f64, f64) = (rng.gen_range(1e-12..1.0), rng.gen());
            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            (self.0.ln() + self.1 * z).exp()
        }
    }
    LogNormal(median, sigma)
}

async fn load_batch(
    conn: &mut sqlx::SqliteConnection,
    rows: &[serde_json::Value],
    items: &[serde_json::Value],
    stories: &[serde_json::Value],
) -> Result<()> {
    let mut tx = conn.begin().await?;
    sqlx::query(
        "INSERT INTO stories (id, first_seen_at, size, title, updated_at) \
         SELECT value->>'id', value->>'seen', value->>'size', value->>'title', value->>'seen' \
         FROM json_each(?)",
    )
    .bind(serde_json::to_string(stories)?)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO articles (id, url, url_key, title, summary, text, html, publisher, \
         publisher_url, authors, published_at, first_seen_at, updated_at, lang, word_count, \
         extracted_at, story_id, cluster_due) \
         SELECT value->>'id', value->>'url', value->>'key', value->>'title', value->>'summary', \
         value->>'text', value->>'html', value->>'publisher', value->>'purl', value->>'authors', \
         value->>'pub', value->>'seen', value->>'seen', value->>'lang', value->>'wc', \
         CASE WHEN value->>'text' IS NOT NULL THEN value->>'seen' END, value->>'story', NULL \
         FROM json_each(?)",
    )
    .bind(serde_json::to_string(rows)?)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO feed_items (feed_id, entry_key, article_id, guid, link, first_seen_at, last_seen_at) \
         SELECT value->>'feed', 'link:' || (value->>'link'), value->>'article', value->>'link', \
         value->>'link', value->>'seen', value->>'seen' FROM json_each(?)",
    )
    .bind(serde_json::to_string(items)?)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The writer loop: one feed poll of new entries per tick through the real
/// store path, indexed right after; clustering every 30 s.
async fn ingest(
    store: Store,
    per_sec: usize,
    stop: tokio_util::sync::CancellationToken,
) -> Result<(usize, Duration)> {
    let (feed, _) = store
        .add_feed(
            &NewFeed {
                url: format!(
                    "https://ingest.example/{}.xml",
                    Utc::now().timestamp_millis()
                ),
                name: None,
                interval_secs: None,
            },
            "cli",
            Utc::now(),
        )
        .await?;
    let mut rng = StdRng::seed_from_u64(Utc::now().timestamp_millis() as u64);
    let mut stored = 0;
    let mut busy = Duration::ZERO;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_cluster = Instant::now();
    let mut round = 0;
    while !stop.is_cancelled() {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => break,
        }
        round += 1;
        let now = Utc::now();
        let entries: Vec<NewEntry> = (0..per_sec)
            .map(|j| {
                let k = format!("{}/{round}/{j}", feed.id);
                NewEntry {
                    entry_key: EntryKey::from_stored(format!("id:{k}")),
                    guid: Some(k.clone()),
                    link: Some(format!("https://live.example/{k}")),
                    url: Some(format!("https://live.example/{k}")),
                    url_key: Some(CanonicalUrl::from_stored(format!("live.example/{k}"))),
                    title: Some(format!(
                        "Live update {round} on markets and weather number {}",
                        rng.gen_range(0..1_000_000)
                    )),
                    summary: Some("A short summary of the latest developments in the region, with officials saying more details would follow later today.".into()),
                    publisher: Some("Live Wire".into()),
                    published_at: Some(now),
                    ..Default::default()
                }
            })
            .collect();
        let t = Instant::now();
        let u = FeedUpdate {
            last_status: FeedStatus::Ok,
            next_poll_at: now,
            polled_at: now,
            fetch_url: feed.url.clone(),
            ..Default::default()
        };
        let r = store
            .record_poll(feed.id, &entries[..], now, u.clone())
            .await?;
        store.index_pending().await?;
        if last_cluster.elapsed() >= Duration::from_secs(30) {
            store
                .cluster_pending(now, newsd::cluster::default_window())
                .await?;
            last_cluster = Instant::now();
        }
        busy += t.elapsed();
        stored += r.new_articles;
    }
    Ok((stored, busy))
}

struct Class {
    name: String,
    paths: Vec<String>,
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A listing cursor pointing `days_back` days into the archive.
fn deep_cursor(newest: DateTime<Utc>, days_back: f64) -> String {
    use base64::Engine;
    let at = newest - chrono::Duration::seconds((days_back * 86_400.0) as i64);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("s\n{}\n{}", ts(at), i64::MAX))
}

fn classes(p: &Picked, requests: usize) -> Vec<Class> {
    let mut rng = StdRng::seed_from_u64(11);
    let newest = newsd::store::parse_ts(&p.newest).unwrap_or_else(Utc::now);
    let cycle =
        |v: &[String]| -> Vec<String> { (0..requests).map(|i| v[i % v.len()].clone()).collect() };
    let repeat = |s: &str| vec![s.to_owned(); requests];
    let sel: Vec<String> = p.selective.iter().map(|(t, _)| t.clone()).collect();
    let broad: Vec<String> = p.broad.iter().map(|(t, _)| t.clone()).collect();
    let since_1d = enc(&ts(newest - chrono::Duration::days(1)));
    let since_30d = enc(&ts(newest - chrono::Duration::days(30)));
    let a = "/api/v1/articles";
    vec![
        Class {
            name: "list: first page".into(),
            paths: repeat(&format!("{a}?limit=20")),
        },
        Class {
            name: "list: deep keyset page (1-179 days back)".into(),
            paths: (0..requests)
                .map(|_| {
                    format!(
                        "{a}?limit=20&cursor={}",
                        deep_cursor(newest, rng.gen_range(1.0..179.0))
                    )
                })
                .collect(),
        },
        Class {
            name: format!("list: feed={} (largest feed)", p.big_feed),
            paths: repeat(&format!("{a}?limit=20&feed={}", p.big_feed)),
        },
        Class {
            name: format!("list: feed={} (smallest feed)", p.small_feed),
            paths: repeat(&format!("{a}?limit=20&feed={}", p.small_feed)),
        },
        Class {
            name: "list: feed=smallest, deep keyset page".into(),
            paths: (0..requests)
                .map(|_| {
                    format!(
                        "{a}?limit=20&feed={}&cursor={}",
                        p.small_feed,
                        deep_cursor(newest, rng.gen_range(1.0..179.0))
                    )
                })
                .collect(),
        },
        Class {
            name: "list: publisher (common)".into(),
            paths: repeat(&format!(
                "{a}?limit=20&publisher={}",
                enc(&p.common_publisher)
            )),
        },
        Class {
            name: "list: publisher (rare)".into(),
            paths: repeat(&format!(
                "{a}?limit=20&publisher={}",
                enc(&p.rare_publisher)
            )),
        },
        Class {
            name: "list: since=1 day".into(),
            paths: repeat(&format!("{a}?limit=20&since={since_1d}")),
        },
        Class {
            name: "list: lang=ja".into(),
            paths: repeat(&format!("{a}?limit=20&lang=ja")),
        },
        Class {
            name: "search: selective term (<1%)".into(),
            paths: cycle(&sel)
                .iter()
                .map(|t| format!("{a}?limit=20&q={}", enc(t)))
                .collect(),
        },
        Class {
            name: "search: broad AND selective term".into(),
            paths: (0..requests)
                .map(|i| {
                    format!(
                        "{a}?limit=20&q={}+{}",
                        enc(&broad[i % broad.len()]),
                        enc(&sel[i % sel.len()])
                    )
                })
                .collect(),
        },
        Class {
            name: "search: selective term + since=30d".into(),
            paths: cycle(&sel)
                .iter()
                .map(|t| format!("{a}?limit=20&q={}&since={since_30d}", enc(t)))
                .collect(),
        },
        Class {
            name: "search: Japanese (trigram)".into(),
            paths: cycle(&p.ja)
                .iter()
                .map(|t| format!("{a}?limit=20&q={}", enc(t)))
                .collect(),
        },
        Class {
            name: "search: broad term (>=20%)".into(),
            paths: cycle(&broad)
                .iter()
                .map(|t| format!("{a}?limit=20&q={}", enc(t)))
                .collect(),
        },
        Class {
            name: "search: broad term, feed=smallest".into(),
            paths: cycle(&broad)
                .iter()
                .map(|t| format!("{a}?limit=20&q={}&feed={}", enc(t), p.small_feed))
                .collect(),
        },
        Class {
            name: "search.atom: broad term, newest first".into(),
            paths: cycle(&broad)
                .iter()
                .map(|t| format!("/search.atom?q={}", enc(t)))
                .collect(),
        },
    ]
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> Result<()> {
    // Server-side errors (an answer 500) are logged; RUST_LOG=debug for more.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let args = args()?;
    let sidecar = PathBuf::from(format!("{}.terms.json", args.db.display()));
    let picked: Picked = if args.regenerate || !args.db.exists() || !sidecar.exists() {
        let p = generate(&args.db, args.articles).await?;
        std::fs::write(&sidecar, serde_json::to_vec_pretty(&p)?)?;
        p
    } else {
        println!("reusing {} (--regenerate to rebuild)", args.db.display());
        serde_json::from_slice(&std::fs::read(&sidecar)?)?
    };
    let url = match &args.database_url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", args.db.display()),
    };
    let store = Store::open(&url, Duration::from_secs(5)).await?;
    let stored: i64 = store.max_article_id().await?;
    let db_bytes = store.stats().await?.database_bytes;
    println!(
        "archive: {} generated articles, max id {stored}, {:.2} GB",
        picked.articles,
        db_bytes as f64 / 1e9
    );
    let settings = Settings::load_with_env(None, Vec::new())?.settings;
    let listener = api::bind("127.0.0.1:0".parse()?).await?;
    let addr = listener.local_addr()?;
    let stop = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(api::serve(
        listener,
        ApiState::new(store.clone(), settings, Access::ReadWrite),
        stop.clone(),
    ));
    let writer = (args.ingest_per_sec > 0)
        .then(|| tokio::spawn(ingest(store.clone(), args.ingest_per_sec, stop.clone())));
    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    println!(
        "\n| query | requests | p50 ms | p99 ms | max ms | mean results |\n|---|---:|---:|---:|---:|---:|"
    );
    let t_all = Instant::now();
    for class in classes(&picked, args.requests) {
        // Two unmeasured requests warm the connection and the page cache path.
        for path in class.paths.iter().take(2) {
            client
                .get(format!("{base}{path}"))
                .send()
                .await?
                .bytes()
                .await?;
        }
        let mut lat = Vec::with_capacity(class.paths.len());
        let mut results = 0usize;
        for path in &class.paths {
            let t = Instant::now();
            let resp = client.get(format!("{base}{path}")).send().await?;
            let status = resp.status();
            let body = resp.bytes().await?;
            lat.push(t.elapsed());
            if !status.is_success() {
                bail!("{path}: HTTP {status}: {}", String::from_utf8_lossy(&body));
            }
            results += if path.starts_with("/search.atom") {
                String::from_utf8_lossy(&body).matches("<entry>").count()
            } else {
                serde_json::from_slice::<serde_json::Value>(&body)?["articles"]
                    .as_array()
                    .map_or(0, Vec::len)
            };
        }
        lat.sort();
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            class.name,
            lat.len(),
            pct(&lat, 0.5),
            pct(&lat, 0.99),
            pct(&lat, 1.0),
            results as f64 / lat.len().max(1) as f64
        );
    }
    let elapsed = t_all.elapsed();
    stop.cancel();
    if let Some(w) = writer {
        let (n, busy) = w.await??;
        println!(
            "\nconcurrent ingest: {n} articles stored through record_poll in {:.0} s ({:.0}/s), writer busy {:.0}% of the time",
            elapsed.as_secs_f64(),
            n as f64 / elapsed.as_secs_f64(),
            100.0 * busy.as_secs_f64() / elapsed.as_secs_f64()
        );
    }
    server.await??;
    store.close().await;
    let terms = |v: &[(String, f64)]| {
        v.iter()
            .take(8)
            .map(|(t, s)| format!("{t} {:.2}%", s * 100.0))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "selective terms (share of articles, sampled): {}",
        terms(&picked.selective)
    );
    println!("broad terms: {}", terms(&picked.broad));
    Ok(())
}
