//! Resolving Google News links to publisher URLs within Google's budget.
//!
//! One round (`resolve_once`) spends at most the article-page GETs it is
//! given, keeps every signature it reads in the database, and POSTs the held
//! signatures in one tagged `batchexecute` call once enough have gathered (or
//! when asked to flush). HTTP 429 from Google opens a breaker, stored in the
//! database, during which nothing is sent to Google at all.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{info, instrument, warn};
use url::Url;

use crate::config::GoogleNewsSettings;
use crate::fetch::{FetchError, FetchRequest, FetchResponse, Fetcher};
use crate::google_news::{
    accept_publisher_url, article_page_url, batchexecute_body, batchexecute_url, decode_article_id,
    is_consent_redirect, parse_article_page_for, parse_batchexecute, rss_article_page_url,
    unwrap_consent_redirect, BatchAnswer, DecodedId, Edition, PageError, Signature,
    BATCHEXECUTE_CONTENT_TYPE,
};
use crate::store::{PendingLink, Store};

/// Consent cookies that make Google's EU consent wall step aside.
const CONSENT_COOKIES: &str = "SOCS=CAI; CONSENT=YES+";

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ResolveReport {
    pub gets: usize,
    pub posts: usize,
    pub resolved: usize,
    pub failed: usize,
    /// Set when the breaker is open: nothing was sent.
    pub cooling_down_until: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("Google rate limit (HTTP 429): lookups paused until {until}")]
    RateLimited { until: DateTime<Utc> },
    #[error("consent wall: Google asked for consent and the consent cookies did not help")]
    Consent,
    #[error("article page: {0}")]
    Page(#[from] PageError),
    #[error("HTTP {status} from {url}")]
    Status { status: u16, url: String },
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("batchexecute answer: {0}")]
    Answer(String),
    #[error("database: {0}")]
    Store(#[from] crate::store::StoreError),
}

#[derive(Clone)]
pub struct Resolver {
    store: Store,
    fetcher: Fetcher,
    settings: GoogleNewsSettings,
    base: Url,
}

/// How a publisher URL was obtained (for `newsd resolve`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    Offline(String),
    Stored(String),
    Online(String),
}

impl Resolver {
    pub fn new(store: Store, fetcher: Fetcher, settings: GoogleNewsSettings) -> Self {
        let base = settings.base();
        Resolver {
            store,
            fetcher,
            settings,
            base,
        }
    }

    /// One round: up to `max_gets` article-page GETs, then a POST of the held
    /// signatures if a batch is full, the oldest has waited `post_delay`, no
    /// unsigned link is left, or `flush` is set.
    #[instrument(skip_all, fields(max_gets, flush))]
    pub async fn resolve_once(
        &self,
        now: DateTime<Utc>,
        max_gets: usize,
        flush: bool,
    ) -> anyhow::Result<ResolveReport> {
        let mut report = ResolveReport::default();
        let budget = self.store.google_budget().await?;
        if let Some(until) = budget.open_until.filter(|u| *u > now) {
            report.cooling_down_until = Some(crate::store::ts(until));
            return Ok(report);
        }
        let unsigned = self
            .store
            .pending_google_links(now, false, max_gets as i64)
            .await?;
        for link in &unsigned {
            match self.fetch_signature(link, now).await {
                Ok(sig) => {
                    report.gets += 1;
                    self.store
                        .save_signature(&link.google_id, &sig.signature, sig.timestamp)
                        .await?;
                }
                Err(ResolveError::RateLimited { until }) => {
                    report.gets += 1;
                    report.cooling_down_until = Some(crate::store::ts(until));
                    return Ok(report);
                }
                Err(e) => {
                    report.gets += 1;
                    report.failed += 1;
                    warn!(google_id = %link.google_id, error = %e, "article page lookup failed");
                    self.fail(link, &e.to_string(), now, true).await?;
                }
            }
        }
        let signed = self
            .store
            .pending_google_links(now, true, self.settings.batch_size as i64)
            .await?;
        if signed.is_empty() {
            return Ok(report);
        }
        let unsigned_left = !self
            .store
            .pending_google_links(now, false, 1)
            .await?
            .is_empty();
        let waited_long = budget
            .last_get_at
            .is_some_and(|t| now - t >= chrono_dur(self.settings.post_delay.0));
        let full = signed.len() >= self.settings.batch_size;
        if !(flush || full || !unsigned_left || waited_long) {
            return Ok(report);
        }
        match self.post_batch(&signed, now, &mut report).await {
            Ok(()) => {}
            Err(ResolveError::RateLimited { until }) => {
                report.cooling_down_until = Some(crate::store::ts(until));
            }
            Err(e) => {
                warn!(error = %e, "batchexecute failed");
                for link in &signed {
                    self.fail(link, &e.to_string(), now, false).await?;
                    report.failed += 1;
                }
            }
        }
        Ok(report)
    }

    async fn fail(
        &self,
        link: &PendingLink,
        error: &str,
        now: DateTime<Utc>,
        drop_signature: bool,
    ) -> anyhow::Result<()> {
        self.store
            .fail_google_link(
                &link.google_id,
                error,
                now,
                self.settings.retry_interval.0,
                self.settings.max_attempts,
                drop_signature,
            )
            .await?;
        Ok(())
    }

    async fn trip(
        &self,
        resp_retry_after: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> ResolveError {
        let cooldown = now + chrono_dur(self.settings.cooldown.0);
        let until = resp_retry_after.map_or(cooldown, |r| r.max(cooldown));
        if let Err(e) = self.store.trip_google_breaker(until, now).await {
            warn!(error = %e, "cannot record the Google breaker");
        }
        warn!(%until, "Google answered 429: pausing all Google lookups");
        ResolveError::RateLimited { until }
    }

    async fn get(
        &self,
        url: Url,
        cookies: bool,
        now: DateTime<Utc>,
    ) -> Result<FetchResponse, ResolveError> {
        let mut req = FetchRequest::get(url);
        if cookies {
            req.headers
                .push(("Cookie".to_owned(), CONSENT_COOKIES.to_owned()));
        }
        self.send(req, true, now).await
    }

    /// GETs the article page (the RSS form first, the web form as fallback)
    /// and reads its signature; steps past a consent wall once with cookies.
    async fn fetch_signature(
        &self,
        link: &PendingLink,
        now: DateTime<Utc>,
    ) -> Result<Signature, ResolveError> {
        let edition = Edition {
            hl: link.hl.clone(),
            gl: link.gl.clone(),
            ceid: link.ceid.clone(),
        };
        let mut last_err = None;
        for url in [
            rss_article_page_url(&self.base, &link.google_id, &edition),
            article_page_url(&self.base, &link.google_id, &edition),
        ] {
            match self.signature_from(url, now).await {
                Ok(sig) => return Ok(sig),
                Err(e @ ResolveError::RateLimited { .. }) => return Err(e),
                Err(e @ ResolveError::Consent) => return Err(e),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or(ResolveError::Page(PageError::MissingAttributes)))
    }

    async fn signature_from(
        &self,
        url: Url,
        now: DateTime<Utc>,
    ) -> Result<Signature, ResolveError> {
        let mut target = url;
        for cookies in [false, true] {
            let resp = self.get(target.clone(), cookies, now).await?;
            let consent_redirect = is_consent_redirect(&resp.url);
            if !consent_redirect && !(200..300).contains(&resp.status) {
                return Err(ResolveError::Status {
                    status: resp.status,
                    url: resp.url.to_string(),
                });
            }
            let html = String::from_utf8_lossy(&resp.body);
            let id = target
                .path_segments()
                .and_then(|mut s| s.next_back().map(str::to_owned));
            match (
                consent_redirect,
                parse_article_page_for(&html, id.as_deref()),
            ) {
                (false, Ok(sig)) => return Ok(sig),
                (true, _) | (_, Err(PageError::Consent)) => {
                    // The consent page is never kept: retry once, with consent cookies,
                    // at the page it wanted to continue to.
                    if let Some(cont) = unwrap_consent_redirect(&resp.url)
                        .filter(|c| c.host_str() == self.base.host_str())
                    {
                        target = cont;
                    }
                    continue;
                }
                (false, Err(e)) => return Err(e.into()),
            }
        }
        Err(ResolveError::Consent)
    }

    /// Every request to Google goes through here: counted in the budget, and
    /// a 429 (or a host backoff the HTTP layer holds) trips the breaker.
    async fn send(
        &self,
        req: FetchRequest,
        is_get: bool,
        now: DateTime<Utc>,
    ) -> Result<FetchResponse, ResolveError> {
        let resp = self.fetcher.fetch(req).await;
        self.store.count_google_request(is_get, now).await?;
        let resp = match resp {
            Ok(r) => r,
            Err(FetchError::HostBackoff { until, .. }) => {
                return Err(self.trip(Some(until), now).await)
            }
            Err(e) => return Err(e.into()),
        };
        if resp.status == 429 {
            return Err(self.trip(resp.retry_after, now).await);
        }
        Ok(resp)
    }

    /// One tagged batchexecute POST: counted in the budget, a 429 trips the
    /// breaker, the answer frames are parsed.
    async fn send_batch(
        &self,
        reqs: &[(&str, &str, &Signature)],
        now: DateTime<Utc>,
    ) -> Result<Vec<BatchAnswer>, ResolveError> {
        let req = FetchRequest::post(
            batchexecute_url(&self.base),
            BATCHEXECUTE_CONTENT_TYPE,
            batchexecute_body(reqs).into_bytes(),
        );
        let resp = self.send(req, false, now).await?;
        if !(200..300).contains(&resp.status) {
            return Err(ResolveError::Status {
                status: resp.status,
                url: resp.url.to_string(),
            });
        }
        let text = String::from_utf8_lossy(&resp.body);
        parse_batchexecute(&text, &self.base).map_err(|e| ResolveError::Answer(e.to_string()))
    }

    async fn post_batch(
        &self,
        links: &[PendingLink],
        now: DateTime<Utc>,
        report: &mut ResolveReport,
    ) -> Result<(), ResolveError> {
        let tags: Vec<String> = (1..=links.len()).map(|i| i.to_string()).collect();
        let sigs: Vec<Signature> = links
            .iter()
            .map(|l| Signature {
                signature: l.signature.clone().unwrap_or_default(),
                timestamp: l.sig_timestamp.unwrap_or_default(),
                id: Some(l.google_id.clone()),
            })
            .collect();
        let reqs: Vec<(&str, &str, &Signature)> = links
            .iter()
            .zip(&tags)
            .zip(&sigs)
            .map(|((l, t), s)| (t.as_str(), l.google_id.as_str(), s))
            .collect();
        report.posts += 1;
        let answers = self.send_batch(&reqs, now).await?;
        for (link, tag) in links.iter().zip(&tags) {
            // Answers are matched by tag, never by position; a batch of one may
            // come back untagged.
            let answer = answers
                .iter()
                .find(|(t, _)| t == tag)
                .or_else(|| (links.len() == 1 && answers.len() == 1).then(|| &answers[0]));
            match answer {
                Some((_, Ok(url))) => {
                    let article = self
                        .store
                        .resolve_google_link(&link.google_id, url, now)
                        .await?;
                    info!(google_id = %link.google_id, %url, article, "Google link resolved");
                    report.resolved += 1;
                }
                Some((_, Err(e))) => {
                    self.fail(link, &format!("batchexecute answer: {e}"), now, true)
                        .await
                        .map_err(|e| ResolveError::Answer(e.to_string()))?;
                    report.failed += 1;
                }
                None => {
                    self.fail(link, "batchexecute gave no answer for this id", now, true)
                        .await
                        .map_err(|e| ResolveError::Answer(e.to_string()))?;
                    report.failed += 1;
                }
            }
        }
        Ok(())
    }

    /// `newsd resolve`: offline decode, else what the archive knows, else one
    /// GET + POST now (the breaker still applies).
    pub async fn resolve_one(
        &self,
        url_or_id: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Resolution> {
        let id = match Url::parse(url_or_id) {
            Ok(u) => crate::google_news::article_id_from_url(&self.base, &u).ok_or_else(|| {
                anyhow::anyhow!(
                    "{url_or_id} is not a Google News article link on {}",
                    self.base
                )
            })?,
            Err(_) => url_or_id.trim().to_owned(),
        };
        if let DecodedId::Url(u) = decode_article_id(&id)? {
            return Ok(Resolution::Offline(u));
        }
        if let Some((_, Some(url))) = self.store.google_link(&id).await? {
            return Ok(Resolution::Stored(url));
        }
        let budget = self.store.google_budget().await?;
        if let Some(until) = budget.open_until.filter(|u| *u > now) {
            anyhow::bail!("Google lookups are paused after HTTP 429 until {until}");
        }
        let link = PendingLink {
            google_id: id.clone(),
            article_id: 0,
            hl: self.settings.edition.hl.clone(),
            gl: self.settings.edition.gl.clone(),
            ceid: self.settings.edition.ceid.clone(),
            signature: None,
            sig_timestamp: None,
            attempts: 0,
        };
        let sig = self.fetch_signature(&link, now).await?;
        let answers = self.send_batch(&[("1", id.as_str(), &sig)], now).await?;
        let url = answers
            .into_iter()
            .next()
            .ok_or_else(|| anyhow::anyhow!("batchexecute gave no answer"))?
            .1?;
        Ok(Resolution::Online(accept_publisher_url(&url, &self.base)?))
    }
}

fn chrono_dur(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}
