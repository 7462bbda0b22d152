//! Feed-parser test suite runner: every input of a gofeed-style `testdata/`
//! tree through `feed::parse_feed` and `poll::to_new_entry` (the daemon's
//! parse-and-normalize step), compared with the expected JSON beside it.
//!
//! ```text
//! cargo run --release --example feed_suite -- /path/to/gofeed/testdata [--verbose]
//! ```
//!
//! Prints files parsed, entries kept, and how often feed titles, entry
//! titles, links and guids match the expected output (only where the
//! expected output has the field). newsd stores titles as text, so an
//! expected title is compared as text too (its markup reduced).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::Value;
use url::Url;

use newsd::feed::{clean_text, html_to_text, parse_feed};
use newsd::google_news::Edition;
use newsd::poll::to_new_entry;

#[derive(Default)]
struct Tally {
    compared: usize,
    matched: usize,
}

impl Tally {
    fn add(&mut self, expected: Option<String>, got: Option<&str>) {
        if let Some(want) = expected.filter(|w| !w.is_empty()) {
            self.compared += 1;
            if got == Some(want.as_str()) {
                self.matched += 1;
            }
        }
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} of {}", self.matched, self.compared)
    }
}

fn inputs(dir: &Path, out: &mut Vec<(PathBuf, PathBuf)>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            inputs(&path, out)?;
            continue;
        }
        let name = path.to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".xml") {
            out.push((path.clone(), PathBuf::from(format!("{stem}.json"))));
        } else if let Some(stem) = name.strip_suffix(".json") {
            // JSON Feed inputs sit beside `<name>_expected.json`.
            let expected = PathBuf::from(format!("{stem}_expected.json"));
            if expected.exists() {
                out.push((path.clone(), expected));
            }
        }
    }
    Ok(())
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(clean_text(s)),
        Value::Object(o) => o.get("value").and_then(text),
        _ => None,
    }
}

fn expected_link(item: &Value) -> Option<String> {
    if let Some(l) = item.get("link").and_then(text) {
        return Some(l);
    }
    item.get("links")?
        .as_array()?
        .iter()
        .find(|l| {
            l.get("rel")
                .and_then(Value::as_str)
                .is_none_or(|r| r == "alternate")
        })
        .and_then(|l| l.get("href").and_then(text).or_else(|| text(l)))
}

/// Markup a reader would show raw: an HTML tag, an entity, a control character.
fn unclean(text: &str) -> bool {
    let tag = text.match_indices('<').any(|(i, _)| {
        let rest = text[i + 1..].trim_start_matches('/');
        rest.starts_with(|c: char| c.is_ascii_alphabetic())
            && rest.find('>').is_some_and(|g| {
                !rest[..g].contains(char::is_whitespace) || rest[..g].contains('=')
            })
    });
    let entity = text.match_indices('&').any(|(i, _)| {
        let rest = &text[i + 1..];
        let len = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'#')
            .count();
        len > 0 && rest[len..].starts_with(';')
    });
    tag || entity
        || text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(root) = args.next() else {
        bail!("usage: feed_suite <testdata dir> [--verbose]");
    };
    let verbose = args.any(|a| a == "--verbose");
    let base = Url::parse("http://127.0.0.1/feed")?;
    let google = Url::parse("https://news.google.com/")?;
    let mut files = Vec::new();
    for sub in ["parser", "translator"] {
        inputs(&Path::new(&root).join(sub), &mut files)?;
    }
    let (mut parsed, mut kept, mut expected_entries) = (0, 0, 0);
    let (mut feed_titles, mut titles, mut links, mut guids) = Default::default();
    let mut refused = Vec::new();
    let mut dirty = 0;
    for (input, expected) in &files {
        let body = std::fs::read(input)?;
        let want: Value = std::fs::read(expected)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        let want_items: Vec<Value> = want
            .get("items")
            .or_else(|| want.get("entries"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        expected_entries += want_items.len();
        let feed = match parse_feed(&body, &base, 1000) {
            Ok(f) => f,
            Err(e) => {
                refused.push(format!("{}: {e}", input.display()));
                continue;
            }
        };
        parsed += 1;
        let want_title = want.get("title").and_then(text).map(|t| html_to_text(&t));
        if verbose && want_title.is_some() && want_title.as_deref() != feed.title.as_deref() {
            println!(
                "feed title differs: {}: {:?} (expected {:?})",
                input.display(),
                feed.title,
                want_title
            );
        }
        Tally::add(&mut feed_titles, want_title, feed.title.as_deref());
        let stored: Vec<_> = feed
            .entries
            .iter()
            .filter_map(|e| to_new_entry(e, &base, &google, &Edition::default()))
            .collect();
        kept += stored.len();
        let texts = feed.title.iter().chain(
            stored
                .iter()
                .flat_map(|e| e.title.iter().chain(e.summary.iter())),
        );
        for t in texts {
            if unclean(t) {
                dirty += 1;
                if verbose {
                    println!("unclean text: {}: {t:?}", input.display());
                }
            }
        }
        if stored.len() == feed.entries.len() {
            for (got, want) in feed.entries.iter().zip(&want_items) {
                Tally::add(
                    &mut titles,
                    want.get("title").and_then(text).map(|t| html_to_text(&t)),
                    got.title.as_deref(),
                );
                // Compared as newsd serializes URLs (`http://a.org` is `http://a.org/`).
                let want_link = expected_link(want).map(|l| Url::parse(&l).map_or(l, String::from));
                if verbose && want_link.is_some() && want_link.as_deref() != got.link.as_deref() {
                    println!(
                        "entry link differs: {}: {:?} (expected {:?})",
                        input.display(),
                        got.link,
                        want_link
                    );
                }
                Tally::add(&mut links, want_link, got.link.as_deref());
                Tally::add(
                    &mut guids,
                    want.get("guid").or_else(|| want.get("id")).and_then(text),
                    got.guid.as_deref(),
                );
            }
        }
        if verbose && stored.len() < want_items.len() {
            println!(
                "fewer entries: {} ({} of {})",
                input.display(),
                stored.len(),
                want_items.len()
            );
        }
    }
    if verbose {
        for r in &refused {
            println!("refused: {r}");
        }
    }
    println!("inputs: {}", files.len());
    println!("parsed: {parsed} (refused {})", refused.len());
    println!("entries stored: {kept} (expected output has {expected_entries})");
    println!("stored titles, summaries and feed titles with a tag, an entity or a control character: {dirty}");
    println!("feed titles matching: {feed_titles}");
    println!("entry titles matching: {titles}");
    println!("entry links matching: {links}");
    println!("entry guids matching: {guids}");
    Ok(())
}
