//! Feed-parser test suite runner: every input of a gofeed-style `testdata/`
//! tree polled through the daemon (a local HTTP server on 127.0.0.1 serves
//! the file with its content type; `App::poll_all_once` fetches, parses and
//! stores it into a fresh SQLite archive), then what was stored compared with
//! the expected JSON beside the input.
//!
//! ```text
//! cargo run --release --example feed_suite -- /path/to/gofeed/testdata [--verbose] [--feedparser FILE]
//! ```
//!
//! Prints files parsed, entries stored, and how often feed titles, entry
//! titles, links and guids match the expected output (only where the
//! expected output has the field, and entries only of files whose every
//! expected entry was stored). newsd stores titles as text, so an expected
//! title is compared as text too (its markup reduced to one line).
//! `--feedparser` reads `bench/feedparser_suite.py`'s output and scores it by
//! the same rules on the same entries.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use serde_json::Value;
use url::Url;

use newsd::app::{App, PollStatus};
use newsd::config::Settings;
use newsd::feed::{clean_text, html_to_text};

#[derive(Default)]
struct Tally {
    compared: usize,
    matched: usize,
}

impl Tally {
    fn add(&mut self, expected: Option<&str>, got: Option<&str>) {
        if let Some(want) = expected.filter(|w| !w.is_empty()) {
            self.compared += 1;
            if got == Some(want) {
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

/// One implementation's matches.
#[derive(Default)]
struct Scores {
    feed_titles: Tally,
    titles: Tally,
    links: Tally,
    guids: Tally,
}

/// What one implementation got from a file.
#[derive(Default)]
struct Got {
    feed_title: Option<String>,
    /// `(title, link, guid)` of each entry, in document order.
    entries: Vec<(Option<String>, Option<String>, Option<String>)>,
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

/// The Content-Type each input is served with (`bench/feedparser_suite.py`
/// gives feedparser the same).
fn content_type(path: &Path) -> &'static str {
    if path.extension().is_some_and(|e| e == "json") {
        "application/feed+json"
    } else {
        "application/xml"
    }
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

/// Compared as newsd stores titles: markup reduced to one line of text.
fn as_title(t: String) -> String {
    clean_text(&html_to_text(&t))
}

/// Compared as newsd serializes URLs (`http://a.org` is `http://a.org/`).
fn as_url(l: String) -> String {
    Url::parse(&l).map_or(l, String::from)
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

/// Each input's bytes and the Content-Type it is served with, by index.
type Served = Arc<Vec<(Vec<u8>, &'static str)>>;

async fn serve_file(State(files): State<Served>, UrlPath(i): UrlPath<usize>) -> Response {
    match files.get(i) {
        Some((body, ty)) => ([(header::CONTENT_TYPE, *ty)], body.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// An entry's stored title, feed-item link and guid, and its article's summary.
type StoredRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// What polling `url` once stored in a fresh archive: the poll's outcome (an
/// error when it stored nothing), the feed title, entries, and every stored
/// title and summary.
async fn poll_once(dir: &Path, url: &str) -> Result<(Result<Got, String>, Vec<String>)> {
    let cfg = dir.join("newsd.toml");
    std::fs::write(
        &cfg,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n\
             [http]\nallow_networks = [\"127.0.0.1/32\"]\nper_host_delay = \"0s\"\n\
             [[feeds]]\nurl = \"{url}\"\n",
            dir.join("suite.db").display()
        ),
    )?;
    let loaded = Settings::load_with_env(Some(&cfg), Vec::<(String, String)>::new())?;
    let app = App::build(loaded.settings).await?;
    app.sync_config_feeds(Utc::now()).await?;
    let report = app
        .poll_all_once(Utc::now())
        .await?
        .pop()
        .context("one feed polled")?;
    let pool = app.store().pool();
    let (feed_title, last_error): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT title, last_error FROM feeds")
            .fetch_one(pool)
            .await?;
    let rows: Vec<StoredRow> = sqlx::query_as(
        "SELECT a.title, fi.link, fi.guid, a.summary FROM feed_items fi \
             JOIN articles a ON a.id = fi.article_id ORDER BY fi.id",
    )
    .fetch_all(pool)
    .await?;
    pool.close().await;
    let texts = feed_title
        .iter()
        .chain(rows.iter().flat_map(|r| r.0.iter().chain(r.3.iter())))
        .cloned()
        .collect();
    let outcome = match report.status {
        PollStatus::Ok { .. } => Ok(Got {
            feed_title,
            entries: rows.into_iter().map(|(t, l, g, _)| (t, l, g)).collect(),
        }),
        other => Err(last_error.unwrap_or_else(|| format!("{other:?}"))),
    };
    Ok((outcome, texts))
}

/// feedparser's findings per input path, from `bench/feedparser_suite.py`.
fn read_feedparser(path: &Path, root: &Path) -> Result<HashMap<PathBuf, Option<Got>>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = HashMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line)?;
        let file = v
            .get("file")
            .and_then(Value::as_str)
            .context("a file name")?;
        let s = |v: Option<&Value>| v.and_then(Value::as_str).map(clean_text);
        let got = (v.get("parsed") == Some(&Value::Bool(true))).then(|| Got {
            feed_title: s(v.get("title")).map(as_title),
            entries: v
                .get("entries")
                .and_then(Value::as_array)
                .map(|es| {
                    es.iter()
                        .map(|e| {
                            (
                                s(e.get("title")).map(as_title),
                                s(e.get("link")).map(as_url),
                                s(e.get("id")),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
        });
        out.insert(root.join(file), got);
    }
    Ok(out)
}

/// Where `verbose`, says which entry titles of `file` differ.
struct Scoring<'a> {
    file: &'a str,
    verbose: bool,
}

fn score(
    s: &mut Scores,
    want: &Value,
    want_items: &[Value],
    got: &Got,
    entries: bool,
    how: &Scoring<'_>,
) {
    let Scoring { file, verbose } = *how;
    let want_title = want.get("title").and_then(text).map(as_title);
    s.feed_titles
        .add(want_title.as_deref(), got.feed_title.as_deref());
    if !entries {
        return;
    }
    for (i, want) in want_items.iter().enumerate() {
        let (title, link, guid) = got.entries.get(i).cloned().unwrap_or_default();
        let want_title = want.get("title").and_then(text).map(as_title);
        if verbose && want_title.is_some() && want_title != title {
            println!("entry title differs: {file}: {title:?} (expected {want_title:?})");
        }
        s.titles.add(want_title.as_deref(), title.as_deref());
        s.links
            .add(expected_link(want).map(as_url).as_deref(), link.as_deref());
        let want_guid = want.get("guid").or_else(|| want.get("id")).and_then(text);
        s.guids.add(want_guid.as_deref(), guid.as_deref());
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(root) = args.next() else {
        bail!("usage: feed_suite <testdata dir> [--verbose] [--feedparser FILE]");
    };
    let root = PathBuf::from(root);
    let (mut verbose, mut feedparser) = (false, None);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--verbose" => verbose = true,
            "--feedparser" => {
                feedparser = Some(PathBuf::from(args.next().context("--feedparser FILE")?))
            }
            other => bail!("unknown argument {other}"),
        }
    }
    let feedparser = feedparser.map(|p| read_feedparser(&p, &root)).transpose()?;
    let mut files = Vec::new();
    for sub in ["parser", "translator"] {
        inputs(&root.join(sub), &mut files)?;
    }
    let served = files
        .iter()
        .map(|(input, _)| Ok((std::fs::read(input)?, content_type(input))))
        .collect::<Result<Vec<_>>>()?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let router = Router::new()
        .route("/f/{i}", get(serve_file))
        .with_state(Arc::new(served));
    tokio::spawn(async move { axum::serve(listener, router).await });

    let started = std::time::Instant::now();
    let (mut parsed, mut kept, mut expected_entries, mut dirty) = (0, 0, 0, 0);
    let (mut fp_parsed, mut fp_kept) = (0, 0);
    let (mut newsd, mut python) = (Scores::default(), Scores::default());
    let mut refused = Vec::new();
    for (i, (input, expected)) in files.iter().enumerate() {
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
        let dir = tempfile::tempdir()?;
        let (outcome, texts) = poll_once(dir.path(), &format!("http://{addr}/f/{i}")).await?;
        for t in texts.iter().filter(|t| unclean(t)) {
            dirty += 1;
            if verbose {
                println!("unclean text: {}: {t:?}", input.display());
            }
        }
        let all_stored = outcome
            .as_ref()
            .is_ok_and(|g| g.entries.len() >= want_items.len());
        // Both are scored on the same fields: feedparser on the entries
        // newsd's score counts, and a file one refused as nothing matching.
        let none = Got::default();
        let file = input.display().to_string();
        let quiet = Scoring {
            file: &file,
            verbose: false,
        };
        let loud = Scoring {
            file: &file,
            verbose,
        };
        if let Some(fp) = feedparser.as_ref() {
            let got = fp.get(input).and_then(Option::as_ref).unwrap_or(&none);
            score(&mut python, &want, &want_items, got, all_stored, &quiet);
        }
        let got = match outcome {
            Ok(g) => g,
            Err(e) => {
                score(&mut newsd, &want, &want_items, &none, false, &quiet);
                refused.push(format!("{}: {e}", input.display()));
                continue;
            }
        };
        parsed += 1;
        kept += got.entries.len();
        if verbose {
            let want_title = want.get("title").and_then(text).map(as_title);
            if want_title.is_some() && want_title != got.feed_title {
                println!(
                    "feed title differs: {}: {:?} (expected {want_title:?})",
                    input.display(),
                    got.feed_title
                );
            }
            if !all_stored {
                println!(
                    "fewer entries: {} ({} of {})",
                    input.display(),
                    got.entries.len(),
                    want_items.len()
                );
            }
        }
        score(&mut newsd, &want, &want_items, &got, all_stored, &loud);
    }
    if let Some(fp) = &feedparser {
        for got in fp.values().flatten() {
            fp_parsed += 1;
            fp_kept += got.entries.len();
        }
    }
    if verbose {
        for r in &refused {
            println!("refused: {r}");
        }
    }
    println!(
        "inputs: {} (polled in {:.1} s)",
        files.len(),
        started.elapsed().as_secs_f64()
    );
    println!("parsed: {parsed} (refused {})", refused.len());
    println!("entries stored: {kept} (expected output has {expected_entries})");
    println!("stored titles, summaries and feed titles with a tag, an entity or a control character: {dirty}");
    let rows = [
        (
            "feed titles matching",
            &newsd.feed_titles,
            &python.feed_titles,
        ),
        ("entry titles matching", &newsd.titles, &python.titles),
        ("entry links matching", &newsd.links, &python.links),
        ("entry guids matching", &newsd.guids, &python.guids),
    ];
    for (what, n, p) in rows {
        if feedparser.is_some() {
            println!("{what}: {n} (feedparser {p})");
        } else {
            println!("{what}: {n}");
        }
    }
    if feedparser.is_some() {
        println!("feedparser: parsed {fp_parsed}, entries {fp_kept}");
    }
    Ok(())
}
