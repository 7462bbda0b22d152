//! `newsd extract` and `newsd reextract`: extraction on demand, for seeing
//! why a page came out wrong and for scoring the extractor.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Utc};
use url::Url;

use crate::config::Settings;
use crate::extract::{decode_html, extract, ExtractOptions, Extracted};
use crate::fetch::{FetchRequest, Fetcher};
use crate::fulltext::{decide, Decision};
use crate::store::Store;

/// One page: a URL is fetched through the normal HTTP layer, anything else
/// is read as a file.
pub async fn one(settings: &Settings, source: &str, json: bool) -> anyhow::Result<()> {
    let (html, url) = match Url::parse(source) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => {
            let fetcher = Fetcher::new(crate::app::fetch_config(settings))?;
            let mut req = FetchRequest::get(url.clone());
            req.headers
                .push(("User-Agent".to_owned(), settings.extract.user_agent.clone()));
            let resp = fetcher
                .fetch(req)
                .await
                .with_context(|| format!("fetching {url}"))?;
            if !(200..300).contains(&resp.status) {
                anyhow::bail!("HTTP {} from {}", resp.status, resp.url);
            }
            (
                decode_html(&resp.body, resp.content_type.as_deref()).into_owned(),
                Some(resp.url),
            )
        }
        _ => {
            let bytes = std::fs::read(source).with_context(|| format!("reading {source}"))?;
            (decode_html(&bytes, None).into_owned(), None)
        }
    };
    let e = extract(&html, &ExtractOptions { url });
    let mut out = std::io::stdout().lock();
    let written = if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&as_json(&e))?)
    } else {
        writeln!(out, "{}", e.text.as_deref().unwrap_or_default())
    };
    match written {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn as_json(e: &Extracted) -> serde_json::Value {
    serde_json::json!({
        "page_kind": e.page_kind.as_str(),
        "title": e.title,
        "authors": e.authors,
        "published_at": e.published_at.map(crate::store::ts),
        "modified_at": e.modified_at.map(crate::store::ts),
        "language": e.language,
        "site_name": e.site_name,
        "canonical_url": e.canonical_url,
        "lead_image": e.lead_image,
        "description": e.description,
        "word_count": e.word_count,
        "text": e.text,
        "html": e.html,
    })
}

/// Every `IN_DIR/<id>.html` to `OUT_DIR/<id>.txt`, in one process (what the
/// benchmark scorer's `--batch-cmd` calls). `IN_DIR/urls.tsv` (`id<TAB>url`)
/// lets relative links and canonical URLs resolve. `jobs` pages are
/// extracted at once (one per core when None): extraction is pure and
/// CPU-bound, so it scales with cores.
pub fn batch(in_dir: &Path, out_dir: &Path, jobs: Option<usize>) -> anyhow::Result<()> {
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let urls: HashMap<String, String> = std::fs::read_to_string(in_dir.join("urls.tsv"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (id, url) = l.split_once('\t')?;
            Some((id.trim().to_owned(), url.trim().to_owned()))
        })
        .collect();
    let mut pages = Vec::new();
    for entry in
        std::fs::read_dir(in_dir).with_context(|| format!("reading {}", in_dir.display()))?
    {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("html") {
            continue;
        }
        if let Some(id) = path.file_stem().and_then(|s| s.to_str()) {
            pages.push((id.to_owned(), path.clone()));
        }
    }
    let jobs = jobs
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .unwrap_or(1)
        .clamp(1, pages.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<()> {
                    while let Some((id, path)) =
                        pages.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                    {
                        let text = match std::fs::read(path) {
                            Ok(bytes) => {
                                let html = decode_html(&bytes, None);
                                let url = urls.get(id).and_then(|u| Url::parse(u).ok());
                                extract(&html, &ExtractOptions { url })
                                    .text
                                    .unwrap_or_default()
                            }
                            Err(e) => {
                                eprintln!("{}: {e}", path.display());
                                String::new()
                            }
                        };
                        std::fs::write(out_dir.join(format!("{id}.txt")), text)?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("an extraction worker panicked")))
        })
    })
}

/// What `newsd reextract` did, page by page, against what was stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reextracted {
    /// Raw pages read.
    pub pages: u64,
    /// Text kept before and now, and different.
    pub improved: u64,
    /// The same text as before, or refused before and now.
    pub unchanged: u64,
    /// Text kept before that the acceptance rule now refuses.
    pub newly_rejected: u64,
    /// No text before, text kept now.
    pub newly_accepted: u64,
}

/// Re-runs extraction over kept raw pages and keeps what the full-text
/// worker's acceptance rule ([`crate::fulltext::decide`]) keeps, with a
/// progress bar on a terminal.
pub async fn reextract(store: &Store, since: Option<DateTime<Utc>>) -> anyhow::Result<Reextracted> {
    let progress = crate::progress::Progress::new("raw pages", store.count_raw_pages(since).await?);
    let mut after = 0;
    let mut done = Reextracted::default();
    loop {
        let page = store.raw_pages(since, after, 100).await?;
        let Some(last) = page.last() else { break };
        after = last.0;
        for (article_id, url, content_type, body) in page {
            done.pages += 1;
            progress.inc(1);
            let Some(before) = store.text_state(article_id).await? else {
                continue;
            };
            let html = decode_html(&body, content_type.as_deref());
            let e = extract(
                &html,
                &ExtractOptions {
                    url: Url::parse(&url).ok(),
                },
            );
            let now = Utc::now();
            match (decide(e, before.summary.as_deref()), before.text) {
                (Decision::Keep(content), old) => {
                    match old {
                        Some(old) if old == content.text => done.unchanged += 1,
                        Some(_) => done.improved += 1,
                        None => done.newly_accepted += 1,
                    }
                    store
                        .store_fulltext(article_id, &content, &url, None, None, now)
                        .await?;
                }
                (
                    Decision::Refuse {
                        status,
                        kind,
                        reason,
                        ..
                    },
                    old,
                ) => {
                    if old.is_some() {
                        done.newly_rejected += 1;
                    } else {
                        done.unchanged += 1;
                    }
                    store.refuse_fulltext(article_id, kind, now).await?;
                    store
                        .finish_fulltext_job(article_id, status, Some(&reason), None, None, now)
                        .await?;
                }
            }
        }
    }
    progress.finish();
    store.index_pending().await?;
    Ok(done)
}
