//! Parsing speed of `feed::parse_feed` alone, without a server or a store:
//! the best of several passes over the same documents, so a run on shared
//! cores can still be compared with another build.
//!
//! ```text
//! cargo run --release --example feed_parse_timing -- [--feeds 200] [--passes 15]
//! ```

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use url::Url;

use newsd::feed::parse_feed;

const ITEMS: usize = 100;

/// An RSS 2.0 document shaped like a publisher's section feed (as in `ingest_bench`).
fn document(feed: usize) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\">\n<channel>\n\
         <title>Publisher {feed} &#8211; Section</title>\n<link>https://publisher.example/section/{feed}</link>\n\
         <description>Latest news</description>\n\
         <atom:link href=\"https://publisher.example/feed/{feed}.xml\" rel=\"self\" type=\"application/rss+xml\"/>\n"
    );
    for item in 0..ITEMS {
        s.push_str(&format!(
            "<item>\n<title>Council approves the new budget for {feed} after a long debate {item}</title>\n\
             <link>https://publisher.example/{feed}/{item}</link>\n\
             <guid isPermaLink=\"false\">urn:bench:{feed}:{item}</guid>\n\
             <description>&lt;p&gt;The council met on Tuesday and, after hours of debate about schools, roads and \
             the harbour, approved a budget that raises spending on transport by a tenth while keeping taxes \
             where they were last year, officials said.&lt;/p&gt;</description>\n\
             <category>politics</category>\n<pubDate>Mon, 02 Nov 2026 10:{:02}:00 GMT</pubDate>\n</item>\n",
            item % 60
        ));
    }
    s.push_str("</channel>\n</rss>\n");
    s
}

fn arg(name: &str, default: usize) -> Result<usize> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .context("missing value")?
            .parse()
            .with_context(|| format!("{name} takes a number")),
        None => Ok(default),
    }
}

fn main() -> Result<()> {
    let feeds = arg("--feeds", 200)?;
    let passes = arg("--passes", 15)?;
    let docs: Vec<String> = (0..feeds).map(document).collect();
    let base = Url::parse("https://publisher.example/feed.xml")?;
    let mut best = Duration::MAX;
    let mut entries = 0;
    for _ in 0..passes {
        let t = Instant::now();
        entries = 0;
        for d in &docs {
            entries += parse_feed(d.as_bytes(), &base, 1000)?.entries.len();
        }
        best = best.min(t.elapsed());
    }
    println!(
        "{feeds} feeds, {entries} entries: best of {passes} passes {:.1} ms ({:.0} entries/s)",
        best.as_secs_f64() * 1e3,
        entries as f64 / best.as_secs_f64()
    );
    Ok(())
}
