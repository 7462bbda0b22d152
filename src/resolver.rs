//! Resolving Google News links to publisher URLs within Google's budget.
//!
//! One round (`resolve_once`) spends only the tokens of the learned pace
//! (`google_news::pace`, stored in the database): one article-page GET per
//! token, a consent retry on credit. It keeps every signature it reads in
//! the database, and POSTs the held signatures in one tagged `batchexecute`
//! call once enough have gathered (or when asked to flush). A lockout (HTTP
//! 429, or a redirect to Google's `/sorry/` page) halves the pace and opens
//! a breaker, stored in the database, during which nothing is sent to
//! Google at all. A new link waits `google_news.settle` before a GET may be
//! spent on it, so that a publisher's feed or a sibling item can place its
//! article first (the store joins such links without a lookup).
//!
//! The budget is the egress's (`google_news.egress`), shared by every
//! instance that names it: each token is taken from the store, under the
//! row's lock, right before its GET, and each answer or lockout is applied
//! to the stored pace the same way, so instances on one egress together keep
//! one instance's pace and none sends a GET while its breaker is open.
//!
//! Where newsd differs from the protocol note's late-2026 update
//! (`google-news-protocol.md`, section 7):
//! - It GETs only `/rss/articles/{id}?hl=…&gl=…&ceid=…`, as the note says,
//!   and never falls back to `/articles/{id}` or `/read/{id}`; but it follows
//!   redirects through the HTTP layer (`http.max_redirects`, to any host the
//!   SSRF guard allows), not only on news.google.com within 3 hops: a hop to
//!   `/sorry/` on any host is caught as a lockout, and a consent wall is
//!   stepped past once with cookies.
//! - Consent: no cookie on the first GET, the `SOCS`/`CONSENT` cookies on the
//!   retry only (the note reports decoders disagreeing; this costs a GET only
//!   where a wall appears).
//! - Rate limits: instead of a fixed pause between page GETs, a token bucket
//!   whose interval is learned from lockouts; and the POSTs, which the note
//!   says do not count, are held back by the same breaker.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{info, instrument, warn};
use url::Url;

use crate::config::GoogleNewsSettings;
use crate::fetch::{FetchError, FetchRequest, FetchResponse, Fetcher};
use crate::google_news::watch::{ProtocolWatch, Step};
use crate::google_news::{
    accept_publisher_url, batchexecute_body, batchexecute_url, decode_article_id,
    is_consent_redirect, is_lockout_page, parse_article_page_for, parse_batchexecute,
    rss_article_page_url, unwrap_consent_redirect, BatchAnswer, DecodedId, Edition, Pace,
    PageError, Signature, BATCHEXECUTE_CONTENT_TYPE,
};
use crate::rules::RuleSet;
use crate::store::{LinkPlacement, LinkStatus, PaceEvent, PendingLink, Store, TokenGrant};

/// Consent cookies that make Google's EU consent wall step aside.
const CONSENT_COOKIES: &str = "SOCS=CAI; CONSENT=YES+";

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ResolveReport {
    pub gets: usize,
    pub posts: usize,
    pub resolved: usize,
    pub failed: usize,
    /// Articles placed, just before their lookup, by an article known
    /// through a publisher URL: no GET spent on them.
    pub joined: usize,
    /// Set when the breaker is open: nothing was sent.
    pub cooling_down_until: Option<String>,
}

/// How Google locked newsd out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lockout {
    /// HTTP 429.
    TooManyRequests,
    /// A redirect to Google's `/sorry/` page.
    SorryPage,
    /// The HTTP layer still backs off from Google's host after a 429.
    HostBackoff,
}

impl std::fmt::Display for Lockout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Lockout::TooManyRequests => "HTTP 429",
            Lockout::SorryPage => "a redirect to Google's /sorry/ page",
            Lockout::HostBackoff => "the HTTP layer's backoff from Google after a 429",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("Google locked us out ({why}): lookups paused until {until}")]
    LockedOut { until: DateTime<Utc>, why: Lockout },
    #[error("no token for an article-page GET before {next}: the learned pace allows no more now")]
    NoToken { next: DateTime<Utc> },
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

/// What one lookup spends: the GETs it sends, the first on the token taken
/// for it, any later one (a consent retry) on credit.
struct Spend<'a> {
    gets: usize,
    google_id: Option<&'a str>,
}

#[derive(Clone)]
pub struct Resolver {
    store: Store,
    fetcher: Fetcher,
    settings: GoogleNewsSettings,
    base: Url,
    /// Rules on `url` see a Google item's publisher URL once it resolves.
    rules: Arc<RuleSet>,
    /// In memory: a restart forgets a failing streak, which only delays
    /// the warning by its window.
    watch: Arc<Mutex<ProtocolWatch>>,
}

impl ResolveError {
    /// A failure Google answered (not a lockout, a network fault or the
    /// database): what a protocol change looks like.
    fn is_answered_failure(&self) -> bool {
        matches!(
            self,
            ResolveError::Page(_)
                | ResolveError::Status { .. }
                | ResolveError::Consent
                | ResolveError::Answer(_)
        )
    }
}

/// How a publisher URL was obtained (for `newsd resolve`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The id carries the URL.
    Offline(String),
    /// The archive placed the link already, offline or by a lookup.
    Stored {
        url: String,
        placement: LinkPlacement,
    },
    /// Looked up now (GET + POST), spending `gets` GETs; `archived` is what
    /// the archive held for the link, if anything (a `joined` link is
    /// verified this way).
    Online {
        url: String,
        gets: usize,
        archived: Option<LinkPlacement>,
    },
}

impl Resolver {
    pub fn new(
        store: Store,
        fetcher: Fetcher,
        settings: GoogleNewsSettings,
        rules: Arc<RuleSet>,
    ) -> Self {
        let base = settings.base();
        Resolver {
            store,
            fetcher,
            settings,
            base,
            rules,
            watch: Arc::default(),
        }
    }

    fn watch(&self) -> MutexGuard<'_, ProtocolWatch> {
        // A panic while holding it cannot leave the streaks inconsistent.
        self.watch.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn step_succeeded(&self, step: Step) {
        self.watch().succeeded(step);
    }

    /// Logs one clear warning when every answered attempt of `step` has
    /// failed for an hour.
    fn step_failed(&self, step: Step, error: &ResolveError, now: DateTime<Utc>) {
        if !error.is_answered_failure() {
            return;
        }
        let failing = self.watch().failed(step, &error.to_string(), now);
        if let Some(f) = failing {
            warn!(
                step = f.step.as_str(),
                failures = f.failures,
                since = %f.since,
                last_error = %f.last_error,
                "Google may have changed its protocol: every {} Google answered since {} failed \
                 ({} times); Google links stay queued until this is fixed",
                f.step.as_str(),
                f.since,
                f.failures
            );
        }
    }

    /// The stored pace refilled to `now` (a fresh, full bucket before the
    /// first GET).
    pub async fn pace(&self, now: DateTime<Utc>) -> Result<Pace, crate::store::StoreError> {
        let rule = self.settings.pace_rule();
        let stored = self.store.google_budget(self.egress()).await?.pace;
        Ok(rule.refilled(stored.unwrap_or_else(|| rule.fresh(now)), now))
    }

    /// When the next article-page GET may be sent: the next token, or the
    /// breaker's end if that is later.
    pub async fn next_get_at(
        &self,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, crate::store::StoreError> {
        let budget = self.store.google_budget(self.egress()).await?;
        let rule = self.settings.pace_rule();
        let pace = rule.refilled(budget.pace.unwrap_or_else(|| rule.fresh(now)), now);
        let token = rule.next_token_at(&pace);
        Ok(budget.open_until.map_or(token, |u| u.max(token)))
    }

    /// One round: up to `max_gets` article-page GETs, as many as the pace
    /// has tokens for, on links that have settled; then a POST of the held
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
        let budget = self.store.google_budget(self.egress()).await?;
        if let Some(until) = budget.open_until.filter(|u| *u > now) {
            report.cooling_down_until = Some(crate::store::ts(until));
            return Ok(report);
        }
        let rule = self.settings.pace_rule();
        // What the pace has now bounds the links read; each token is still
        // taken from the store right before its GET, as other instances on
        // the egress spend from the same bucket.
        let pace = rule.refilled(budget.pace.unwrap_or_else(|| rule.fresh(now)), now);
        // A link is due for its GET once its next try is `settle` behind: a
        // new link settles, and a retry (minutes to days apart) waits that
        // much longer.
        let settled = now - chrono_dur(self.settings.settle.0);
        let affordable = max_gets.min(pace.tokens.max(0.0).floor() as usize);
        let unsigned = if affordable == 0 {
            Vec::new()
        } else {
            let placeable = self
                .placeable_links(settled, affordable, &mut report)
                .await?;
            self.claimed(placeable, now).await?
        };
        for link in &unsigned {
            match self
                .store
                .take_google_token(self.egress(), &rule, now)
                .await?
            {
                TokenGrant::Taken => {}
                TokenGrant::CoolingDown(until) => {
                    report.cooling_down_until = Some(crate::store::ts(until));
                    return Ok(report);
                }
                TokenGrant::NotBefore(_) => break,
            }
            let mut spend = Spend {
                gets: 0,
                google_id: Some(&link.google_id),
            };
            let outcome = self.fetch_signature(link, &mut spend, now).await;
            report.gets += spend.gets;
            match outcome {
                Ok(sig) => {
                    self.step_succeeded(Step::ArticlePage);
                    self.record_pace(PaceEvent::Succeeded, now).await?;
                    self.store
                        .save_signature(&link.google_id, &sig.signature, sig.timestamp)
                        .await?;
                }
                Err(ResolveError::LockedOut { until, .. }) => {
                    report.cooling_down_until = Some(crate::store::ts(until));
                    return Ok(report);
                }
                Err(e) => {
                    self.step_failed(Step::ArticlePage, &e, now);
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
        let signed = self.claimed(signed, now).await?;
        if signed.is_empty() {
            return Ok(report);
        }
        let unsigned_left = !self
            .store
            .pending_google_links(settled, false, 1)
            .await?
            .is_empty();
        let waited_long = budget
            .last_get_at
            .is_some_and(|t| now - t >= chrono_dur(self.settings.post_delay.0));
        let full = signed.len() >= self.settings.batch_size;
        if !(flush || full || !unsigned_left || waited_long) {
            return Ok(report);
        }
        // Another instance on the egress may have been locked out since.
        let budget = self.store.google_budget(self.egress()).await?;
        if let Some(until) = budget.open_until.filter(|u| *u > now) {
            report.cooling_down_until = Some(crate::store::ts(until));
            return Ok(report);
        }
        match self.post_batch(&signed, now, &mut report).await {
            Ok(()) => {}
            Err(ResolveError::LockedOut { until, .. }) => {
                report.cooling_down_until = Some(crate::store::ts(until));
            }
            Err(e) => {
                self.step_failed(Step::Batchexecute, &e, now);
                warn!(error = %e, "batchexecute failed");
                for link in &signed {
                    self.fail(link, &e.to_string(), now, false).await?;
                    report.failed += 1;
                }
            }
        }
        Ok(report)
    }

    /// The next `limit` settled links due for a GET, once those whose article
    /// a publisher URL places now have joined it instead (each round of
    /// joins takes links out of the queue, so this ends).
    /// The links of `links` this instance holds now: another instance on
    /// the archive may be looking the rest up.
    async fn claimed(
        &self,
        links: Vec<PendingLink>,
        now: DateTime<Utc>,
    ) -> Result<Vec<PendingLink>, crate::store::StoreError> {
        let ids: Vec<String> = links.iter().map(|l| l.google_id.clone()).collect();
        let held = self.store.claim_google_links(&ids, now).await?;
        Ok(links
            .into_iter()
            .filter(|l| held.contains(&l.google_id))
            .collect())
    }

    async fn placeable_links(
        &self,
        settled: DateTime<Utc>,
        limit: usize,
        report: &mut ResolveReport,
    ) -> Result<Vec<PendingLink>, crate::store::StoreError> {
        loop {
            let links = self
                .store
                .pending_google_links(settled, false, limit as i64)
                .await?;
            let mut articles: Vec<i64> = links.iter().map(|l| l.article_id).collect();
            articles.sort_unstable();
            articles.dedup();
            let joined = self.store.join_placed_articles(&articles).await?;
            if joined.is_empty() {
                return Ok(links);
            }
            info!(
                articles = joined.len(),
                "Google links joined articles known through a publisher URL, no GET spent"
            );
            report.joined += joined.len();
        }
    }

    /// The egress this instance's Google requests leave from.
    fn egress(&self) -> &str {
        &self.settings.egress
    }

    async fn record_pace(
        &self,
        event: PaceEvent,
        now: DateTime<Utc>,
    ) -> Result<(), crate::store::StoreError> {
        self.store
            .record_google_pace(self.egress(), &self.settings.pace_rule(), event, now)
            .await
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
        why: Lockout,
        now: DateTime<Utc>,
    ) -> ResolveError {
        let cooldown = now + chrono_dur(self.settings.cooldown.0);
        let until = resp_retry_after.map_or(cooldown, |r| r.max(cooldown));
        let lockout = PaceEvent::LockedOut {
            until,
            rate_limited: why == Lockout::TooManyRequests,
        };
        if let Err(e) = self.record_pace(lockout, now).await {
            warn!(error = %e, "cannot record the Google breaker");
        }
        warn!(%until, %why, "Google locked us out: pausing all Google lookups and halving the pace");
        ResolveError::LockedOut { until, why }
    }

    async fn get(
        &self,
        url: Url,
        cookies: bool,
        spend: &mut Spend<'_>,
        now: DateTime<Utc>,
    ) -> Result<FetchResponse, ResolveError> {
        let mut req = FetchRequest::get(url);
        if cookies {
            req.headers
                .push(("Cookie".to_owned(), CONSENT_COOKIES.to_owned()));
        }
        if spend.gets > 0 {
            self.record_pace(PaceEvent::Credit, now).await?;
        }
        let sent = self.send(req, Some(spend.google_id), now).await;
        if !matches!(
            sent,
            Err(ResolveError::LockedOut {
                why: Lockout::HostBackoff,
                ..
            })
        ) {
            spend.gets += 1;
        }
        let resp = sent?;
        let locked_out = std::iter::once(&resp.url)
            .chain(resp.hops.iter().map(|h| &h.url))
            .any(is_lockout_page);
        if locked_out {
            return Err(self.trip(resp.retry_after, Lockout::SorryPage, now).await);
        }
        Ok(resp)
    }

    /// GETs the article page (`/rss/articles/{id}`, the one form Google still
    /// serves to non-browser clients) and reads its signature; steps past a
    /// consent wall once with cookies.
    async fn fetch_signature(
        &self,
        link: &PendingLink,
        spend: &mut Spend<'_>,
        now: DateTime<Utc>,
    ) -> Result<Signature, ResolveError> {
        let edition = Edition {
            hl: link.hl.clone(),
            gl: link.gl.clone(),
            ceid: link.ceid.clone(),
        };
        let mut target = rss_article_page_url(&self.base, &link.google_id, &edition);
        for cookies in [false, true] {
            let resp = self.get(target.clone(), cookies, spend, now).await?;
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

    /// Every request to Google goes through here: counted in the budget (a
    /// GET for a link in that link's cost too), and a 429 (or a host backoff
    /// the HTTP layer holds) trips the breaker.
    async fn send(
        &self,
        req: FetchRequest,
        get_for: Option<Option<&str>>,
        now: DateTime<Utc>,
    ) -> Result<FetchResponse, ResolveError> {
        let resp = self.fetcher.fetch(req).await;
        // A request the HTTP layer held back was never sent: it costs nothing.
        if !matches!(resp, Err(FetchError::HostBackoff { .. })) {
            self.store
                .count_google_request(self.egress(), get_for.is_some(), get_for.flatten(), now)
                .await?;
        }
        let resp = match resp {
            Ok(r) => r,
            Err(FetchError::HostBackoff { until, .. }) => {
                return Err(self.trip(Some(until), Lockout::HostBackoff, now).await)
            }
            Err(e) => return Err(e.into()),
        };
        if resp.status == 429 {
            return Err(self
                .trip(resp.retry_after, Lockout::TooManyRequests, now)
                .await);
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
        let resp = self.send(req, None, now).await?;
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
        match answers.iter().find_map(|(_, a)| a.as_ref().err()) {
            _ if answers.iter().any(|(_, a)| a.is_ok()) => self.step_succeeded(Step::Batchexecute),
            Some(e) => self.step_failed(
                Step::Batchexecute,
                &ResolveError::Answer(e.to_string()),
                now,
            ),
            None => self.step_failed(
                Step::Batchexecute,
                &ResolveError::Answer("no answer for any id of the batch".into()),
                now,
            ),
        }
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
                    if self.rules.needs_url() {
                        let changed =
                            crate::rules_cmd::reapply(&self.store, &self.rules, article, now)
                                .await?;
                        if let Some((change, removal)) = changed {
                            info!(
                                article,
                                ?change,
                                ?removal,
                                "rules applied to the resolved link"
                            );
                        }
                    }
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
        let archived = self.store.google_link_placement(&id).await?;
        if let Some(placement) = archived.as_ref().filter(|p| {
            matches!(p.status, LinkStatus::Resolved | LinkStatus::Decoded)
                && p.publisher_url.is_some()
        }) {
            return Ok(Resolution::Stored {
                url: placement.publisher_url.clone().unwrap_or_default(),
                placement: placement.clone(),
            });
        }
        let rule = self.settings.pace_rule();
        match self
            .store
            .take_google_token(self.egress(), &rule, now)
            .await?
        {
            TokenGrant::Taken => {}
            TokenGrant::CoolingDown(until) => {
                anyhow::bail!("Google lookups are paused after a lockout until {until}")
            }
            TokenGrant::NotBefore(next) => return Err(ResolveError::NoToken { next }.into()),
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
        // Counted in the budget, not in the link's cost: that is what its
        // placement took, and a check on demand leaves the placement as it is.
        let mut spend = Spend {
            gets: 0,
            google_id: None,
        };
        let sig = self.fetch_signature(&link, &mut spend, now).await;
        let gets = spend.gets;
        if sig.is_ok() {
            self.record_pace(PaceEvent::Succeeded, now).await?;
        }
        let sig = sig?;
        let answers = self.send_batch(&[("1", id.as_str(), &sig)], now).await?;
        let url = answers
            .into_iter()
            .next()
            .ok_or_else(|| anyhow::anyhow!("batchexecute gave no answer"))?
            .1?;
        Ok(Resolution::Online {
            url: accept_publisher_url(&url, &self.base)?,
            gets,
            archived,
        })
    }
}

fn chrono_dur(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use wiremock::matchers::{method, path, path_regex};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use crate::app::App;
    use crate::config::Settings;

    /// The log lines written while a test holds the subscriber.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }

    #[tokio::test]
    async fn one_warning_names_the_step_when_every_article_page_google_answers_has_no_signature_for_an_hour(
    ) {
        let google = MockServer::start().await;
        let id = crate::google_news::encode_old_format_id("AU_yqLwatch_token_payload_0123456789");
        let link = format!("{}/rss/articles/{id}?oc=5", google.uri());
        Mock::given(method("GET"))
            .and(path("/rss/search"))
            .respond_with(ResponseTemplate::new(200).set_body_string(format!(
                "<rss version=\"2.0\"><channel><title>t</title><item><title>A story Google \
                 now pages differently - Paper</title><link>{link}</link><guid>{id}</guid>\
                 <source url=\"https://paper.example\">Paper</source></item></channel></rss>"
            )))
            .mount(&google)
            .await;
        Mock::given(method("GET"))
            .and(path_regex("^/rss/articles/"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_string("<html><body>a new layout</body></html>"),
            )
            .mount(&google)
            .await;
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("newsd.toml");
        std::fs::write(
            &config,
            format!(
                "[database]\nurl = \"sqlite://{}\"\n[http]\nallow_networks = [\"127.0.0.1/32\"]\n\
                 per_host_delay = \"0s\"\n[google_news]\nbase_url = \"{}\"\nsettle = \"0s\"\n\
                 retry_interval = \"10m\"\nmax_attempts = 20\n\
                 [[feeds]]\nurl = \"{}/rss/search?hl=en-US&gl=US&ceid=US:en\"\n",
                dir.path().join("newsd.db").display(),
                google.uri(),
                google.uri()
            ),
        )
        .unwrap();
        let settings = Settings::load_with_env(Some(&config), Vec::new())
            .unwrap()
            .settings;
        let app = App::build(settings).await.unwrap();
        let t0 = chrono::Utc::now();
        app.sync_config_feeds(t0).await.unwrap();
        app.poll_all_once(t0).await.unwrap();

        let logs = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        // Retried 10, 20, 40, 80, 160 minutes apart: six failures over five hours.
        let mut at = t0;
        for wait in [0, 10, 20, 40, 80, 160] {
            at += chrono::Duration::minutes(wait) + chrono::Duration::seconds(1);
            let r = app.resolver().resolve_once(at, 1, true).await.unwrap();
            assert_eq!((r.gets, r.failed), (1, 1), "{r:?}");
        }
        let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        let warnings: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("Google may have changed its protocol"))
            .collect();
        assert_eq!(warnings.len(), 1, "{text}");
        assert!(
            warnings[0].contains("article-page GET (signature)"),
            "{}",
            warnings[0]
        );
        assert!(warnings[0].contains("WARN"), "{}", warnings[0]);
    }
}
