//! Story clustering benchmark: precision and recall of the title and text
//! rules on labelled pairs, and the cost of clustering a new article against
//! archives of generated rows.
//!
//! ```text
//! cargo run --example cluster_bench -- [N ...]
//! ```
//!
//! - Titles: every pair of items in one Google related-coverage list
//!   (`<ol>` in tests/fixtures/google-news/*.xml) is a positive; pairs from two
//!   different lists of the same feed are negatives (mostly right: two lists
//!   can be about one event).
//! - Texts: pages from /work/shared/extraction/html/*.html.gz through
//!   `newsd::extract::extract`; two lightly edited rewrites of each are
//!   positives with the original and with each other, pairs of different
//!   pages are negatives.
//! - Cost: N generated, already clustered rows (default 10,000, 100,000 and
//!   1,000,000) first seen at 10,000 a day, then new articles clustered one
//!   per call (a polling round that brought one article), 100 in one call,
//!   and 1,000 in one call whose headlines (and no text) share words with
//!   every row.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::Utc;
use newsd::cluster;
use newsd::extract::{extract, ExtractOptions};
use newsd::store::Store;

fn decode(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

/// The related-coverage lists of one feed file, each as its titles.
fn clusters(xml: &str) -> Vec<Vec<String>> {
    let ol = regex::Regex::new(r"(?s)<ol>(.*?)</ol>").expect("static regex");
    let a = regex::Regex::new(r"(?s)<a [^>]*>(.*?)</a>").expect("static regex");
    // Descriptions are escaped (or CDATA); decoding twice handles both.
    let text = decode(&decode(xml));
    ol.captures_iter(&text)
        .map(|c| {
            a.captures_iter(&c[1])
                .map(|t| t[1].trim().to_owned())
                // Google's own link to the full coverage page is no headline.
                .filter(|t| !t.is_empty() && !t.starts_with("View full coverage"))
                .collect::<Vec<_>>()
        })
        .filter(|c| c.len() >= 2)
        .collect()
}

#[derive(Default)]
struct Counts {
    tp: usize,
    fp: usize,
    fn_: usize,
    tn: usize,
    /// Pairs a rule could not judge (a title or text too short).
    skipped: usize,
}

impl Counts {
    fn add(&mut self, same: bool, predicted: Option<bool>) {
        match (same, predicted) {
            (_, None) => self.skipped += 1,
            (true, Some(true)) => self.tp += 1,
            (true, Some(false)) => self.fn_ += 1,
            (false, Some(true)) => self.fp += 1,
            (false, Some(false)) => self.tn += 1,
        }
    }

    fn report(&self, name: &str) {
        let p = self.tp as f64 / (self.tp + self.fp).max(1) as f64;
        let r = self.tp as f64 / (self.tp + self.fn_).max(1) as f64;
        println!(
            "{name}: precision {p:.3} recall {r:.3} (tp {} fp {} fn {} tn {}, {} pairs not judged)",
            self.tp, self.fp, self.fn_, self.tn, self.skipped
        );
    }
}

fn judge(a: Option<u64>, b: Option<u64>, same: fn(u64, u64) -> bool) -> Option<bool> {
    Some(same(a?, b?))
}

fn titles() -> Result<()> {
    let mut counts = Counts::default();
    let mut hist = [[0usize; 65]; 2];
    for entry in std::fs::read_dir("tests/fixtures/google-news")? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "xml") {
            continue;
        }
        let cs = clusters(&std::fs::read_to_string(&path)?);
        let hashed: Vec<Vec<Option<u64>>> = cs
            .iter()
            .map(|c| c.iter().map(|t| cluster::title_simhash(t)).collect())
            .collect();
        for (i, ci) in hashed.iter().enumerate() {
            for (j, cj) in hashed.iter().enumerate().skip(i) {
                for (x, a) in ci.iter().enumerate() {
                    for (y, b) in cj.iter().enumerate() {
                        if i == j && y <= x {
                            continue;
                        }
                        counts.add(i == j, judge(*a, *b, cluster::same_title));
                        if let (Some(a), Some(b)) = (a, b) {
                            hist[usize::from(i == j)][cluster::distance(*a, *b) as usize] += 1;
                        }
                    }
                }
            }
        }
    }
    counts.report(&format!(
        "titles, SimHash (distance <= {}, the rule before)",
        cluster::TITLE_MAX_DISTANCE
    ));
    print_hist(&hist);
    title_terms()
}

/// The content-word rule the store applies: weights from the headlines of
/// one feed file (standing in for the 72-hour window).
fn title_terms() -> Result<()> {
    let mut counts = Counts::default();
    let mut sims = [[0usize; 11]; 2];
    for entry in std::fs::read_dir("tests/fixtures/google-news")? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "xml") {
            continue;
        }
        let cs = clusters(&std::fs::read_to_string(&path)?);
        let terms: Vec<Vec<Vec<String>>> = cs
            .iter()
            .map(|c| c.iter().map(|t| cluster::title_terms(t)).collect())
            .collect();
        let mut idf = cluster::TitleIdf::default();
        for t in terms.iter().flatten() {
            idf.add(t);
        }
        for (i, ci) in terms.iter().enumerate() {
            for (j, cj) in terms.iter().enumerate().skip(i) {
                for (x, a) in ci.iter().enumerate() {
                    for (y, b) in cj.iter().enumerate() {
                        if i == j && y <= x {
                            continue;
                        }
                        let judged = (a.len() >= cluster::MIN_TITLE_TERMS
                            && b.len() >= cluster::MIN_TITLE_TERMS)
                            .then(|| cluster::title_similarity(a, b, &idf));
                        counts.add(i == j, judged.map(|s| s.is_some()));
                        if let Some(Some(s)) = judged {
                            sims[usize::from(i == j)][((s * 10.0) as usize).min(10)] += 1;
                        }
                    }
                }
            }
        }
    }
    counts.report(&format!(
        "titles, content words (>= {} shared, weight >= {}, weighted Jaccard >= {})",
        cluster::MIN_SHARED_TERMS,
        cluster::MIN_SHARED_WEIGHT,
        cluster::MIN_TITLE_SIMILARITY
    ));
    for (label, h) in [("same", &sims[1]), ("different", &sims[0])] {
        println!("  accepted pairs by similarity (tenths), {label}: {h:?}");
    }
    Ok(())
}

fn print_hist(hist: &[[usize; 65]; 2]) {
    for (label, h) in [("same", &hist[1]), ("different", &hist[0])] {
        let cells: Vec<String> = (0..=64)
            .step_by(4)
            .map(|d| {
                format!(
                    "{d}-{}:{}",
                    d + 3,
                    h[d..(d + 4).min(65)].iter().sum::<usize>()
                )
            })
            .collect();
        println!("  distance histogram, {label}: {}", cells.join(" "));
    }
}

/// A light edit: a byline and a footer, one sentence dropped, a few words
/// changed, the way syndicated copies differ.
fn rewrite(text: &str, variant: usize) -> String {
    let sentences: Vec<&str> = text.split_inclusive(". ").collect();
    let drop = (variant * 7 + 3) % sentences.len().max(1);
    let mut body: String = sentences
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != drop || sentences.len() < 4)
        .map(|(_, s)| *s)
        .collect();
    for (from, to) in [
        (" said ", " stated "),
        (" but ", " however "),
        (" the ", " this "),
    ]
    .iter()
    .skip(variant % 2)
    .take(2)
    {
        body = body.replacen(from, to, 3);
    }
    match variant {
        0 => format!("By Wire Staff. {body} Distributed by Example Wire."),
        _ => format!(
            "{body} This article originally appeared elsewhere and is republished with permission."
        ),
    }
}

fn texts() -> Result<()> {
    let dir = "/work/shared/extraction/html";
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {dir}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    paths.sort();
    let mut originals = Vec::new();
    for p in paths.iter().take(60) {
        let mut html = String::new();
        use std::io::Read as _;
        if flate2::read::GzDecoder::new(std::fs::File::open(p)?)
            .read_to_string(&mut html)
            .is_err()
        {
            continue;
        }
        let text = extract(&html, &ExtractOptions { url: None }).text;
        if let Some(t) = text.filter(|t| cluster::text_simhash(t).is_some()) {
            originals.push(t);
        }
    }
    println!("text pages with enough text: {}", originals.len());
    let mut counts = Counts::default();
    let mut hist = [[0usize; 65]; 2];
    let mut add = |a: &str, b: &str, same: bool, counts: &mut Counts| {
        let (ha, hb) = (cluster::text_simhash(a), cluster::text_simhash(b));
        counts.add(same, judge(ha, hb, cluster::same_text));
        if let (Some(x), Some(y)) = (ha, hb) {
            hist[usize::from(same)][cluster::distance(x, y) as usize] += 1;
        }
    };
    for (i, t) in originals.iter().enumerate() {
        let (r0, r1) = (rewrite(t, 0), rewrite(t, 1));
        add(t, &r0, true, &mut counts);
        add(t, &r1, true, &mut counts);
        add(&r0, &r1, true, &mut counts);
        for u in originals.iter().skip(i + 1) {
            add(t, u, false, &mut counts);
        }
    }
    counts.report(&format!(
        "texts (distance <= {})",
        cluster::TEXT_MAX_DISTANCE
    ));
    print_hist(&hist);
    Ok(())
}

async fn cost(n: i64) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = Store::open(&url, Duration::from_secs(30)).await?;
    let now = Utc::now();
    // 10,000 articles a day (a busy archive): from 30,000 rows on, the
    // 72-hour window is full whatever N is.
    let span_secs = 86_400 * n / 10_000;
    let t0 = Instant::now();
    // Stories of two articles each; half the rows carry a text hash. Titles
    // have six content words, most shared with many other rows, so the title
    // rule weighs nearly every pair (its worst case).
    sqlx::query(
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?1 / 2) \
         INSERT INTO stories (id, first_seen_at, size, title, updated_at) \
         SELECT i, ?2, 2, 'generated', ?2 FROM s",
    )
    .bind(n)
    .bind(newsd::store::ts(now))
    .execute(store.pool())
    .await?;
    sqlx::query(
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?1) \
         INSERT INTO articles (url_key, title, first_seen_at, updated_at, story_id, title_simhash, \
                               text_simhash, cluster_due) \
         SELECT 'gen/' || i, \
                'Report ' || (i % 997) || ' on topic ' || (i % 101) || ' in region ' || (i % 53), \
                strftime('%Y-%m-%dT%H:%M:%SZ', ?2, '-' || (i * ?3 / ?1) || ' seconds'), ?2, \
                (i + 1) / 2, random(), CASE WHEN i % 2 = 0 THEN random() END, NULL FROM s",
    )
    .bind(n)
    .bind(newsd::store::ts(now))
    .bind(span_secs)
    .execute(store.pool())
    .await?;
    let window: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM articles WHERE first_seen_at >= strftime('%Y-%m-%dT%H:%M:%SZ', ?, '-72 hours')",
    )
    .bind(newsd::store::ts(now))
    .fetch_one(store.pool())
    .await?;
    println!(
        "N = {n}: generated in {:.1} s, {window} rows within 72 h",
        t0.elapsed().as_secs_f64()
    );
    let text = "word ".repeat(10);
    let insert_titled = |k: String, title: String| {
        let store = store.clone();
        let text = text.clone();
        async move {
            sqlx::query(
                "INSERT INTO articles (url_key, title, text, first_seen_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?4)",
            )
            .bind(&k)
            .bind(title)
            .bind(format!(
                "{text} {k} {}",
                "filler words follow here ".repeat(12)
            ))
            .bind(newsd::store::ts(now))
            .execute(store.pool())
            .await
        }
    };
    let insert = |k: String| {
        let title = format!("A fresh headline about {k} and more");
        insert_titled(k, title)
    };
    let rounds = 20;
    let mut one = Duration::ZERO;
    for r in 0..rounds {
        insert(format!("single/{r}")).await?;
        let t = Instant::now();
        store
            .cluster_pending(now, newsd::cluster::default_window())
            .await?;
        one += t.elapsed();
    }
    for r in 0..100 {
        insert(format!("batch/{r}")).await?;
    }
    let t = Instant::now();
    let done = store
        .cluster_pending(now, newsd::cluster::default_window())
        .await?;
    let batch = t.elapsed();
    println!(
        "N = {n}: {:.2} ms per article clustered alone (mean of {rounds}), {:.3} ms per article in a batch of {}",
        one.as_secs_f64() * 1000.0 / f64::from(rounds),
        batch.as_secs_f64() * 1000.0 / done.examined.max(1) as f64,
        done.examined
    );
    // A busy round (the soak brings ~3,400 articles every 30 s) whose
    // headlines share their common words with every row of the window, so
    // that a scan weighs every pair.
    for r in 0..1_000 {
        let title = format!(
            "Report {} on topic {} in region {}",
            r % 997,
            r % 101,
            r % 53
        );
        insert_titled(format!("round/{r}"), title).await?;
    }
    // Without text: near-identical texts would join each other by the text
    // rule before the headlines are looked at.
    sqlx::query("UPDATE articles SET text = NULL WHERE url_key LIKE 'round/%'")
        .execute(store.pool())
        .await?;
    let t = Instant::now();
    let done = store
        .cluster_pending(now, newsd::cluster::default_window())
        .await?;
    println!(
        "N = {n}: {:.3} ms per article in a round of {} sharing words with every row",
        t.elapsed().as_secs_f64() * 1000.0 / done.examined.max(1) as f64,
        done.examined
    );
    store.close().await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    titles()?;
    if std::env::args().any(|a| a == "--titles") {
        return Ok(());
    }
    texts()?;
    let sizes: Vec<i64> = std::env::args()
        .skip(1)
        .filter(|a| a != "--titles")
        .map(|a| a.parse().context("N must be an integer"))
        .collect::<Result<_>>()?;
    let sizes = if sizes.is_empty() {
        vec![10_000, 100_000, 1_000_000]
    } else {
        sizes
    };
    for n in sizes {
        cost(n).await?;
    }
    Ok(())
}
