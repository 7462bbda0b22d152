//! The full-text worker: takes jobs from the durable queue, fetches the
//! publisher's page politely (robots.txt, per-host limits, backoff), runs
//! extraction, and stores the result, or a named status that says why not.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tracing::{info, instrument, warn};
use url::Url;

use crate::config::Settings;
use crate::domain::{strip_tracking, CanonicalUrl};
use crate::extract::{decode_html, extract, prepare, ExtractOptions, Extracted, PageKind};
use crate::fetch::{host_key, FetchError, FetchRequest, Fetcher};
use crate::rules::RuleSet;
use crate::store::{ArticleContent, FulltextJob, FulltextStatus, Store};

/// robots.txt answers are kept this long.
const ROBOTS_TTL_HOURS: i64 = 24;
/// The product token matched against robots.txt groups.
const ROBOTS_AGENT: &str = "newsd";
/// Extracted text shorter than this is no article body.
const MIN_WORDS: usize = 40;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FulltextReport {
    pub taken: usize,
    pub stored: usize,
    pub deferred: usize,
    /// Jobs that ended (or will retry) without text, by status.
    pub without_text: Vec<(String, usize)>,
}

impl FulltextReport {
    fn count(&mut self, status: FulltextStatus) {
        self.count_named(status.as_str(), 1);
    }

    fn count_named(&mut self, status: &str, n: usize) {
        match self.without_text.iter_mut().find(|(s, _)| s == status) {
            Some((_, seen)) => *seen += n,
            None => self.without_text.push((status.to_owned(), n)),
        }
    }
}

enum Outcome {
    Stored,
    Deferred,
    /// Final status without text.
    Final(FulltextStatus, String, Option<u16>),
    /// Worth another try later (until attempts run out).
    Retry(FulltextStatus, String, Option<u16>, Option<DateTime<Utc>>),
}

/// The HTML being extracted at once, across jobs, in KiB
/// (`extract.max_concurrent_bytes`): an extraction takes memory in
/// proportion to its page, so four pages at the body cap must not all be
/// extracted together.
#[derive(Clone)]
struct ParseBudget {
    kib: Arc<tokio::sync::Semaphore>,
    total: u32,
}

impl ParseBudget {
    fn new(bytes: u64) -> Self {
        let total = u32::try_from(bytes.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .clamp(1, u32::MAX >> 3);
        ParseBudget {
            kib: Arc::new(tokio::sync::Semaphore::new(total as usize)),
            total,
        }
    }

    /// Waits until a page of `bytes` fits beside the others; one larger
    /// than the whole budget waits for all of it and runs alone.
    async fn admit(
        &self,
        bytes: usize,
    ) -> Result<tokio::sync::SemaphorePermit<'_>, tokio::sync::AcquireError> {
        let kib = u32::try_from(bytes.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .clamp(1, self.total);
        self.kib.acquire_many(kib).await
    }
}

/// Pages (as parsed) above this are extracted on the worker's one thread
/// for large pages.
const LARGE_PAGE_BYTES: usize = 1 << 20;

type Job = Box<dyn FnOnce() + Send>;

/// One long-lived thread that extracts the large pages, one after another.
/// glibc's malloc gives threads arenas of their own and keeps in each much
/// of what a freed tree leaves there, so the trees of large pages built on
/// whichever blocking thread is free would each leave their peak in another
/// arena: four pages of 10 MiB took 169 MiB that way, against 81 MiB with a
/// single arena (BENCHMARKS.md, "Memory at the body cap").
#[derive(Clone)]
struct LargePages {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl LargePages {
    fn spawn() -> std::io::Result<Self> {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        // Ends when the last clone of the worker is dropped.
        std::thread::Builder::new()
            .name("newsd-large-pages".to_owned())
            .spawn(move || queue.into_iter().for_each(|job| job()))?;
        Ok(LargePages { jobs })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // A panic fails this page, like one in a blocking task, and
            // leaves the thread for the next.
            let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
        });
        self.jobs
            .send(job)
            .map_err(|_| anyhow::anyhow!("the large-page extraction thread has stopped"))?;
        rx.await?
            .map_err(|_| anyhow::anyhow!("extraction panicked on a large page"))
    }
}

#[derive(Clone)]
pub struct FulltextWorker {
    store: Store,
    fetcher: Fetcher,
    settings: Settings,
    /// Rules on the text are decided when it arrives.
    rules: Arc<RuleSet>,
    /// Shared by the worker's clones, as is `large_pages`.
    parse_budget: ParseBudget,
    large_pages: LargePages,
}

impl FulltextWorker {
    pub fn new(
        store: Store,
        fetcher: Fetcher,
        settings: Settings,
        rules: Arc<RuleSet>,
    ) -> std::io::Result<Self> {
        let parse_budget = ParseBudget::new(settings.extract.max_concurrent_bytes.0);
        Ok(FulltextWorker {
            store,
            fetcher,
            settings,
            rules,
            parse_budget,
            large_pages: LargePages::spawn()?,
        })
    }

    /// Takes up to `max_jobs` due jobs and works them concurrently.
    pub async fn fulltext_once(
        &self,
        now: DateTime<Utc>,
        max_jobs: usize,
    ) -> anyhow::Result<FulltextReport> {
        let x = &self.settings.extract;
        let lease_until =
            now + chrono::Duration::from_std(x.lease.0).unwrap_or(chrono::Duration::minutes(5));
        let jobs = self
            .store
            .lease_fulltext_jobs(now, lease_until, max_jobs as i64)
            .await?;
        let mut report = FulltextReport {
            taken: jobs.len(),
            ..Default::default()
        };
        let outcomes: Vec<(FulltextJob, Outcome)> = futures::stream::iter(jobs)
            .map(|job| async move {
                let outcome = self.work(&job, now).await;
                (job, outcome)
            })
            .buffer_unordered(x.max_concurrent)
            .collect()
            .await;
        for (job, outcome) in outcomes {
            match outcome {
                Outcome::Stored => report.stored += 1,
                Outcome::Deferred => report.deferred += 1,
                Outcome::Final(status, error, http) => {
                    report.count(status);
                    self.store
                        .finish_fulltext_job(job.article_id, status, Some(&error), http, None, now)
                        .await?;
                }
                Outcome::Retry(status, error, http, at) => {
                    report.count(status);
                    let retry = if job.attempts >= x.max_attempts {
                        None
                    } else {
                        let backoff = x.retry_interval.0.as_secs_f64()
                            * 2f64.powi((job.attempts - 1).clamp(0, 20) as i32);
                        let backoff = now + chrono::Duration::seconds(backoff as i64);
                        Some(at.map_or(backoff, |a| a.max(backoff)))
                    };
                    self.store
                        .finish_fulltext_job(job.article_id, status, Some(&error), http, retry, now)
                        .await?;
                }
            }
        }
        self.store
            .save_host_backoffs(&self.fetcher.host_backoffs())
            .await?;
        Ok(report)
    }

    #[instrument(skip_all, fields(article_id = job.article_id, url = %job.url))]
    async fn work(&self, job: &FulltextJob, now: DateTime<Utc>) -> Outcome {
        match self.fetch_and_extract(job, now).await {
            Ok(o) => o,
            Err(e) => Outcome::Retry(FulltextStatus::Failed, format!("{e:#}"), None, None),
        }
    }

    async fn fetch_and_extract(
        &self,
        job: &FulltextJob,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Outcome> {
        let url = match Url::parse(&job.url) {
            Ok(u) => strip_tracking(&u),
            Err(e) => {
                return Ok(Outcome::Final(
                    FulltextStatus::Failed,
                    format!("invalid URL: {e}"),
                    None,
                ))
            }
        };
        if self.settings.http.respect_robots_txt && !self.robots_allow(&url, now).await? {
            return Ok(Outcome::Final(
                FulltextStatus::Disallowed,
                "robots.txt disallows fetching this page".to_owned(),
                None,
            ));
        }
        let mut req = FetchRequest::get(url.clone());
        req.headers.push((
            "User-Agent".to_owned(),
            self.settings.extract.user_agent.clone(),
        ));
        req.accept = Some("text/html,application/xhtml+xml;q=0.9,*/*;q=0.5".to_owned());
        let mut resp = match self.fetcher.fetch(req).await {
            Ok(r) => r,
            Err(FetchError::HostBackoff { until, .. }) => {
                self.store.defer_fulltext_job(job.article_id, until).await?;
                return Ok(Outcome::Deferred);
            }
            Err(e @ FetchError::Blocked { .. }) => {
                return Ok(Outcome::Final(FulltextStatus::Blocked, e.to_string(), None))
            }
            Err(e @ FetchError::BodyTooLarge { .. }) => {
                return Ok(Outcome::Final(
                    FulltextStatus::TooLarge,
                    e.to_string(),
                    None,
                ))
            }
            Err(e) => {
                return Ok(Outcome::Retry(
                    FulltextStatus::Failed,
                    e.to_string(),
                    None,
                    None,
                ))
            }
        };
        let status = resp.status;
        match status {
            200..=299 => {}
            404 | 410 => {
                return Ok(Outcome::Final(
                    FulltextStatus::NotFound,
                    format!("HTTP {status}"),
                    Some(status),
                ))
            }
            429 | 503 => {
                return Ok(Outcome::Retry(
                    FulltextStatus::Failed,
                    format!("HTTP {status}: the host asked us to wait"),
                    Some(status),
                    resp.retry_after,
                ))
            }
            _ => {
                return Ok(Outcome::Retry(
                    FulltextStatus::Failed,
                    format!("HTTP {status}"),
                    Some(status),
                    None,
                ))
            }
        }
        let content_type = resp.content_type.clone();
        if let Some(ct) = content_type.as_deref() {
            let ct = ct.to_ascii_lowercase();
            if !(ct.contains("html") || ct.starts_with("text/plain") || ct.is_empty()) {
                return Ok(Outcome::Final(
                    FulltextStatus::NotHtml,
                    format!(
                        "not an HTML page: {}",
                        ct.split(';').next().unwrap_or_default()
                    ),
                    Some(status),
                ));
            }
        }
        let final_url = resp.url.clone();
        let keep_raw = self.settings.extract.keep_raw_html;
        // Unless the raw page is kept, the body goes as soon as it is read:
        // the pages waiting for the parse budget hold only what is parsed.
        let body = if keep_raw {
            resp.body.clone()
        } else {
            std::mem::take(&mut resp.body)
        };
        let ct = content_type.clone();
        let html: String = tokio::task::spawn_blocking(move || {
            prepare(&decode_html(&body, ct.as_deref())).into_owned()
        })
        .await?;
        let permit = self.parse_budget.admit(html.len()).await?;
        let large = html.len() > LARGE_PAGE_BYTES;
        let opts = ExtractOptions {
            url: Some(final_url.clone()),
        };
        let work = move || extract(&html, &opts);
        let extracted: Extracted = if large {
            self.large_pages.run(work).await?
        } else {
            tokio::task::spawn_blocking(work).await?
        };
        drop(permit);
        let identity = identity_from(&url, &final_url, extracted.canonical_url.as_deref());
        let content = match decide(extracted, job.summary.as_deref()) {
            Decision::Keep(content) => *content,
            Decision::Refuse {
                status: s,
                kind,
                reason,
                retry,
            } => {
                self.store
                    .refuse_fulltext(job.article_id, kind, now)
                    .await?;
                return Ok(if retry {
                    Outcome::Retry(s, reason, Some(status), None)
                } else {
                    Outcome::Final(s, reason, Some(status))
                });
            }
        };
        let raw = keep_raw.then(|| {
            (
                final_url.as_str(),
                content_type.as_deref(),
                resp.body.to_vec(),
            )
        });
        let survivor = self
            .store
            .store_fulltext(
                job.article_id,
                &content,
                final_url.as_str(),
                identity,
                raw,
                now,
            )
            .await?;
        info!(survivor, words = content.word_count, "full text stored");
        if self.rules.needs_text() {
            let changed =
                crate::rules_cmd::reapply(&self.store, &self.rules, survivor, now).await?;
            if let Some((change, removal)) = changed {
                info!(
                    survivor,
                    ?change,
                    ?removal,
                    "rules applied to the full text"
                );
            }
        }
        Ok(Outcome::Stored)
    }

    async fn robots_allow(&self, url: &Url, now: DateTime<Utc>) -> anyhow::Result<bool> {
        let origin = url.origin().ascii_serialization();
        let body = match self.store.robots_cached(&origin).await? {
            Some((body, at)) if now - at < chrono::Duration::hours(ROBOTS_TTL_HOURS) => body,
            _ => {
                let body = self.fetch_robots(&origin).await;
                self.store
                    .cache_robots(&origin, body.as_deref(), now)
                    .await?;
                body
            }
        };
        Ok(match body {
            None => true,
            Some(txt) => texting_robots::Robot::new(ROBOTS_AGENT, txt.as_bytes())
                .map(|r| r.allowed(url.as_str()))
                .unwrap_or(true),
        })
    }

    /// The site's robots.txt; `None` when it has none we can use (which
    /// allows everything, as crawlers conventionally read it).
    async fn fetch_robots(&self, origin: &str) -> Option<String> {
        let url = Url::parse(&format!("{origin}/robots.txt")).ok()?;
        let mut req = FetchRequest::get(url);
        req.headers.push((
            "User-Agent".to_owned(),
            self.settings.extract.user_agent.clone(),
        ));
        match self.fetcher.fetch(req).await {
            Ok(r) if (200..300).contains(&r.status) => {
                Some(String::from_utf8_lossy(&r.body).into_owned())
            }
            Ok(_) => None,
            Err(e) => {
                warn!(%origin, error = %e, "robots.txt unavailable; treating as allow-all");
                None
            }
        }
    }
}

/// The language of a page that declares none, as an ISO 639-1 code where
/// one exists (else ISO 639-3); `None` unless the detector is confident.
fn detect_language(text: &str) -> Option<String> {
    let info = whatlang::detect(text).filter(|i| i.is_reliable())?;
    let code = info.lang().code();
    let two = match code {
        "eng" => "en",
        "fra" => "fr",
        "deu" => "de",
        "spa" => "es",
        "ita" => "it",
        "por" => "pt",
        "nld" => "nl",
        "rus" => "ru",
        "ukr" => "uk",
        "pol" => "pl",
        "ces" => "cs",
        "slk" => "sk",
        "swe" => "sv",
        "dan" => "da",
        "nob" => "nb",
        "fin" => "fi",
        "hun" => "hu",
        "ron" => "ro",
        "bul" => "bg",
        "ell" => "el",
        "tur" => "tr",
        "ara" => "ar",
        "heb" => "he",
        "pes" => "fa",
        "hin" => "hi",
        "ben" => "bn",
        "urd" => "ur",
        "jpn" => "ja",
        "cmn" => "zh",
        "kor" => "ko",
        "vie" => "vi",
        "tha" => "th",
        "ind" => "id",
        "hrv" => "hr",
        "srp" => "sr",
        "slv" => "sl",
        "lit" => "lt",
        "lav" => "lv",
        "est" => "et",
        "cat" => "ca",
        other => other,
    };
    Some(two.to_owned())
}

/// What the acceptance rule made of one extraction.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Keep(Box<ArticleContent>),
    /// The archive keeps the feed's summary alone; `retry` when the page
    /// may show the article on a later try (walls and checks).
    Refuse {
        status: FulltextStatus,
        kind: PageKind,
        reason: String,
        retry: bool,
    },
}

/// The one rule for what the archive keeps of an extraction, applied by the
/// full-text worker and by `newsd reextract` alike: an article's body; a
/// live blog's entries and a forum thread's posts as the extractor found
/// them, in the page's order; nothing from pages that are no article
/// (status `not_article`) or from walls; and no text too short, no better
/// than the feed's summary.
pub fn decide(extracted: Extracted, summary: Option<&str>) -> Decision {
    let kind = extracted.page_kind;
    let refuse = |status: FulltextStatus, reason: String, retry: bool| Decision::Refuse {
        status,
        kind,
        reason,
        retry,
    };
    let status = match kind {
        PageKind::ConsentWall => Some(FulltextStatus::ConsentWall),
        PageKind::BotCheck => Some(FulltextStatus::BotCheck),
        PageKind::LoginWall => Some(FulltextStatus::LoginWall),
        PageKind::EmptyShell => Some(FulltextStatus::EmptyShell),
        PageKind::Listing
        | PageKind::Collection
        | PageKind::Product
        | PageKind::Service
        | PageKind::Documentation => Some(FulltextStatus::NotArticle),
        PageKind::Article
        | PageKind::LiveBlog
        | PageKind::Forum
        | PageKind::Video
        | PageKind::Gallery => None,
    };
    if let Some(s) = status {
        let reason = if kind.is_wall() {
            format!("the page is not the article ({})", s.as_str())
        } else {
            format!("the page is a {} page, not an article", kind.as_str())
        };
        // Walls and checks may pass on a later try; the rest will not.
        let retry = matches!(s, FulltextStatus::ConsentWall | FulltextStatus::BotCheck);
        return refuse(s, reason, retry);
    }
    let Some(text) = extracted.text.filter(|t| !t.trim().is_empty()) else {
        return refuse(
            FulltextStatus::NotArticle,
            "no article text found".into(),
            false,
        );
    };
    if extracted.word_count < MIN_WORDS
        || !better_than_summary(&text, extracted.word_count, summary)
    {
        return refuse(
            FulltextStatus::Teaser,
            format!(
                "extracted text ({} words) is no better than the feed summary",
                extracted.word_count
            ),
            false,
        );
    }
    let lang = extracted.language.or_else(|| detect_language(&text));
    Decision::Keep(Box::new(ArticleContent {
        text,
        html: extracted.html,
        title: extracted.title,
        authors: extracted.authors,
        published_at: extracted.published_at,
        modified_at: extracted.modified_at,
        lang,
        lead_image: extracted.lead_image,
        canonical_url: extracted.canonical_url,
        site_name: extracted.site_name,
        word_count: extracted.word_count as i64,
        page_kind: Some(kind),
    }))
}

/// Keep full text only when it adds to the feed's summary: clearly longer,
/// not the same teaser again.
fn better_than_summary(text: &str, words: usize, summary: Option<&str>) -> bool {
    let Some(summary) = summary.filter(|s| !s.trim().is_empty()) else {
        return true;
    };
    let summary_words = crate::extract::word_count(summary);
    words as f64 > summary_words as f64 * 1.3 && text.len() > summary.len()
}

/// The identity the fetched page reveals: its canonical URL, else where the
/// redirects ended. Pointers at a site's front page are ignored (sites set
/// them on removed or paywalled articles), as are ones on another site.
fn identity_from(
    requested: &Url,
    final_url: &Url,
    canonical: Option<&str>,
) -> Option<(String, String)> {
    let usable = |u: &Url| {
        matches!(u.scheme(), "http" | "https")
            && u.path().trim_matches('/').len() > 1
            && host_key(u) == host_key(requested)
    };
    let candidate = canonical
        .and_then(|c| Url::parse(c).ok())
        .filter(usable)
        .or_else(|| Some(final_url.clone()).filter(|f| f != requested && usable(f)))?;
    Some((
        CanonicalUrl::from_url(&candidate).to_string(),
        strip_tracking(&candidate).to_string(),
    ))
}

/// Budget for `poll --once`: full-text rounds until the queue is empty, no
/// progress is made, or `budget` has passed.
pub async fn drain(
    worker: &FulltextWorker,
    now: DateTime<Utc>,
    budget: Duration,
) -> anyhow::Result<FulltextReport> {
    let deadline = tokio::time::Instant::now() + budget;
    let mut total = FulltextReport::default();
    let batch = worker.settings.extract.max_concurrent * 4;
    while tokio::time::Instant::now() < deadline {
        let r = match tokio::time::timeout_at(deadline, worker.fulltext_once(now, batch)).await {
            Ok(r) => r?,
            Err(_) => break,
        };
        if r.taken == 0 {
            break;
        }
        let progressed = r.stored > 0 || !r.without_text.is_empty();
        total.taken += r.taken;
        total.stored += r.stored;
        total.deferred += r.deferred;
        for (s, n) in r.without_text {
            total.count_named(&s, n);
        }
        if !progressed {
            break;
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_parse_budget_never_admits_more_than_it_holds_and_a_larger_page_runs_alone() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let budget = ParseBudget::new(4 << 20);
        let in_flight = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let sizes = [
            3 << 20,
            600 << 10,
            10 << 20,
            1 << 20,
            100,
            2 << 20,
            3 << 20,
            50 << 10,
        ];
        let tasks: Vec<_> = sizes
            .iter()
            .cycle()
            .take(40)
            .map(|&bytes| {
                let (budget, in_flight, most) = (budget.clone(), in_flight.clone(), most.clone());
                tokio::spawn(async move {
                    let _permit = budget.admit(bytes).await.unwrap();
                    // What the page holds of the budget: all of it at most.
                    let held = bytes.min(4 << 20);
                    let now = in_flight.fetch_add(held, Ordering::SeqCst) + held;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    in_flight.fetch_sub(held, Ordering::SeqCst);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let most = most.load(Ordering::SeqCst);
        assert!(most <= 4 << 20 && most > 3 << 20, "{most}");
    }

    #[tokio::test]
    async fn a_panic_on_the_large_page_thread_fails_that_page_only() {
        let lane = LargePages::spawn().unwrap();
        let failed = lane.run(|| -> usize { panic!("hostile page") }).await;
        assert!(failed.is_err());
        assert_eq!(lane.run(|| 7).await.unwrap(), 7);
    }

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn extracted(kind: PageKind, words: usize) -> Extracted {
        let text = "Residents packed the hall to hear the council debate the budget. "
            .repeat(words / 11 + 1);
        Extracted {
            word_count: crate::extract::word_count(&text),
            text: Some(text),
            page_kind: kind,
            ..Extracted::default()
        }
    }

    fn status_of(d: &Decision) -> Option<FulltextStatus> {
        match d {
            Decision::Keep(_) => None,
            Decision::Refuse { status, .. } => Some(*status),
        }
    }

    #[test]
    fn articles_live_blogs_and_forum_threads_keep_their_text_with_its_kind() {
        for kind in [PageKind::Article, PageKind::LiveBlog, PageKind::Forum] {
            let Decision::Keep(c) = decide(extracted(kind, 300), Some("A short summary.")) else {
                panic!("{kind:?} refused");
            };
            assert_eq!(c.page_kind, Some(kind));
            assert!(c.word_count >= 300);
            assert_eq!(
                c.lang.as_deref(),
                Some("en"),
                "detected when the page names none"
            );
        }
    }

    #[test]
    fn pages_that_are_no_article_are_named_not_article_and_keep_no_text() {
        for kind in [
            PageKind::Listing,
            PageKind::Collection,
            PageKind::Product,
            PageKind::Service,
            PageKind::Documentation,
        ] {
            let d = decide(extracted(kind, 600), None);
            assert_eq!(status_of(&d), Some(FulltextStatus::NotArticle), "{kind:?}");
            assert!(matches!(d, Decision::Refuse { kind: k, retry: false, .. } if k == kind));
        }
    }

    #[test]
    fn walls_are_refused_and_only_consent_and_bot_checks_are_tried_again() {
        let cases = [
            (PageKind::ConsentWall, FulltextStatus::ConsentWall, true),
            (PageKind::BotCheck, FulltextStatus::BotCheck, true),
            (PageKind::LoginWall, FulltextStatus::LoginWall, false),
            (PageKind::EmptyShell, FulltextStatus::EmptyShell, false),
        ];
        for (kind, status, again) in cases {
            let d = decide(extracted(kind, 600), None);
            assert_eq!(status_of(&d), Some(status));
            assert!(matches!(d, Decision::Refuse { retry, .. } if retry == again));
        }
    }

    #[test]
    fn text_too_short_or_no_longer_than_the_summary_is_a_teaser() {
        let short = decide(extracted(PageKind::Article, 20), None);
        assert_eq!(status_of(&short), Some(FulltextStatus::Teaser));
        let e = extracted(PageKind::Article, 60);
        let summary = e.text.clone();
        let same = decide(e, summary.as_deref());
        assert_eq!(status_of(&same), Some(FulltextStatus::Teaser));
        let empty = Extracted {
            text: Some("  ".into()),
            ..Extracted::default()
        };
        assert_eq!(
            status_of(&decide(empty, None)),
            Some(FulltextStatus::NotArticle)
        );
    }

    #[test]
    fn a_canonical_url_on_the_same_site_becomes_the_identity() {
        let id = identity_from(
            &u("https://m.paper.example/a/1?utm_source=x"),
            &u("https://m.paper.example/a/1"),
            Some("https://www.paper.example/news/a-1"),
        );
        assert_eq!(id.unwrap().0, "paper.example/news/a-1");
    }

    #[test]
    fn front_page_and_foreign_canonicals_are_ignored() {
        let req = u("https://paper.example/a/1");
        assert_eq!(
            identity_from(&req, &req, Some("https://paper.example/")),
            None
        );
        assert_eq!(
            identity_from(&req, &req, Some("https://other.example/a/1")),
            None
        );
        let moved = identity_from(&req, &u("https://paper.example/2026/a-1"), None);
        assert_eq!(moved.unwrap().0, "paper.example/2026/a-1");
    }

    #[test]
    fn an_undeclared_language_is_detected_when_the_text_is_clear() {
        let fr = "Le conseil municipal a voté mardi soir le nouveau plan de circulation \
                  après un long débat avec les habitants du quartier et les commerçants.";
        assert_eq!(detect_language(fr).as_deref(), Some("fr"));
        let ja = "東京都は新しい条例を発表し、市民の間で大きな反響を呼んでいます。今後の対応が注目されます。";
        assert_eq!(detect_language(ja).as_deref(), Some("ja"));
        assert_eq!(detect_language("ok"), None);
    }

    #[test]
    fn full_text_must_beat_the_feed_summary() {
        let summary = "One two three four five six seven eight nine ten.";
        assert!(!better_than_summary(summary, 10, Some(summary)));
        let long = summary.repeat(5);
        assert!(better_than_summary(&long, 50, Some(summary)));
        assert!(better_than_summary("anything", 5, None));
    }
}
