//! The daemon's only HTTP client. Every request goes through the SSRF guard and per-host
//! politeness; redirects are followed here, hop by hop, so each hop gets both.

mod error;
mod gate;
mod politeness;
mod proxy;
mod ssrf;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use tracing::{debug, instrument};
use url::{Host, Url};

pub use error::FetchError;
pub use gate::{Claim, GateError, GateRule, HostGate};
pub use ipnet::IpNet;
pub use politeness::{host_key, parse_retry_after};
pub use proxy::{ProxyUrl, ProxyUrlError};
pub use ssrf::is_blocked_ip;

use gate::SharedSlot;
use politeness::{start_margin, Politeness};
use ssrf::{blocked_in_chain, check_name_before_proxy, GuardedResolver, PreCheck};

#[derive(Debug, Clone)]
pub struct FetchConfig {
    pub user_agent: String,
    pub connect_timeout: Duration,
    /// Deadline for one hop: sending, headers and the whole body. Queueing for the host's
    /// politeness slot is not counted.
    pub timeout: Duration,
    /// Cap on the decoded body, so compression bombs stop at the cap.
    pub max_body_bytes: u64,
    pub max_redirects: u32,
    pub per_host_concurrency: usize,
    pub per_host_delay: Duration,
    /// Non-public networks that may nevertheless be fetched (tests, intranet feeds).
    pub allow_networks: Vec<IpNet>,
    /// Forward proxy for every request; targets are still checked against the SSRF guard here.
    pub proxy: Option<ProxyUrl>,
    /// A body arriving slower than this (bytes/s, averaged over `min_transfer_window`) is
    /// abandoned before the total timeout; 0 turns the check off.
    pub min_transfer_rate: u64,
    pub min_transfer_window: Duration,
    /// Cap on a response's header block (names, values and line overhead summed).
    pub max_header_bytes: usize,
    /// The source address every connection binds to; None: the system's choice.
    pub local_address: Option<std::net::IpAddr>,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            user_agent: concat!("newsd/", env!("CARGO_PKG_VERSION")).to_owned(),
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            max_body_bytes: 10 * 1024 * 1024,
            max_redirects: 10,
            per_host_concurrency: 2,
            per_host_delay: Duration::from_secs(1),
            allow_networks: Vec::new(),
            proxy: None,
            min_transfer_rate: 1024,
            min_transfer_window: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
            local_address: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

#[derive(Clone)]
pub struct FetchRequest {
    pub url: Url,
    pub method: Method,
    /// `(content_type, bytes)`.
    pub body: Option<(String, Vec<u8>)>,
    /// Sent as If-None-Match on the first hop.
    pub etag: Option<String>,
    /// Sent as If-Modified-Since on the first hop.
    pub last_modified: Option<String>,
    /// Extra headers; credentials-like ones are dropped when a redirect changes host.
    pub headers: Vec<(String, String)>,
    pub accept: Option<String>,
    /// Feeds must keep polling a host that rate-limits article fetches; everything else honours
    /// the host's backoff.
    pub ignore_host_backoff: bool,
    /// Whether a redirect is followed; when not, the 3xx is the response
    /// (alert receivers: a hook must not be moved elsewhere by its server).
    pub follow_redirects: bool,
}

/// Written by hand so that a `?req` in a log line shows which headers were sent but not the
/// values of credential ones (the consent cookies, any Authorization).
impl std::fmt::Debug for FetchRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                let secret = CROSS_HOST_STRIPPED.contains(&k.to_ascii_lowercase().as_str());
                (k.as_str(), if secret { "<redacted>" } else { v.as_str() })
            })
            .collect();
        f.debug_struct("FetchRequest")
            .field("url", &self.url.as_str())
            .field("method", &self.method)
            .field("body", &self.body.as_ref().map(|(ct, b)| (ct, b.len())))
            .field("etag", &self.etag)
            .field("last_modified", &self.last_modified)
            .field("headers", &headers)
            .field("accept", &self.accept)
            .field("ignore_host_backoff", &self.ignore_host_backoff)
            .field("follow_redirects", &self.follow_redirects)
            .finish()
    }
}

impl FetchRequest {
    pub fn get(url: Url) -> Self {
        Self {
            url,
            method: Method::Get,
            body: None,
            etag: None,
            last_modified: None,
            headers: Vec::new(),
            accept: None,
            ignore_host_backoff: false,
            follow_redirects: true,
        }
    }

    pub fn post(url: Url, content_type: impl Into<String>, body: Vec<u8>) -> Self {
        Self {
            method: Method::Post,
            body: Some((content_type.into(), body)),
            ..Self::get(url)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub url: Url,
    pub status: u16,
}

#[derive(Debug, Clone)]
pub struct FetchResponse {
    /// URL of the final hop.
    pub url: Url,
    pub status: u16,
    pub content_type: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub retry_after: Option<DateTime<Utc>>,
    /// All headers of the final response (names lowercase), for anything not parsed above.
    pub headers: Vec<(String, String)>,
    /// Decoded body; empty for 304.
    pub body: Bytes,
    /// Every redirect response on the way, in order (the final response is not included).
    pub hops: Vec<Hop>,
}

#[derive(Clone)]
pub struct Fetcher {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("cfg", &self.inner.cfg)
            .finish_non_exhaustive()
    }
}

struct Inner {
    client: reqwest::Client,
    cfg: FetchConfig,
    politeness: Politeness,
    /// Shared with other processes (PostgreSQL): consulted after `politeness`.
    gate: Option<Arc<dyn HostGate>>,
}

/// Headers that authenticate to one site and must not leak to another via a redirect.
const CROSS_HOST_STRIPPED: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

impl Fetcher {
    pub fn new(cfg: FetchConfig) -> Result<Self, FetchError> {
        Self::with_host_gate(cfg, None)
    }

    /// A client whose per-host politeness also holds across the processes
    /// sharing `gate`.
    pub fn with_host_gate(
        cfg: FetchConfig,
        gate: Option<Arc<dyn HostGate>>,
    ) -> Result<Self, FetchError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(cfg.user_agent.clone())
            .connect_timeout(cfg.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            // hyper's HTTP/1 limits (about 400 KiB of head, 100 fields) are fixed; for HTTP/2 the
            // header list limit is settable, so it is the same cap `send_hop` enforces.
            .http2_max_header_list_size(u32::try_from(cfg.max_header_bytes).unwrap_or(u32::MAX))
            .local_address(cfg.local_address)
            .dns_resolver(Arc::new(GuardedResolver {
                allow: Arc::new(cfg.allow_networks.clone()),
                proxy_host: cfg.proxy.as_ref().map(ProxyUrl::host),
            }));
        builder = match &cfg.proxy {
            // Only the configured proxy: proxies from the environment (HTTP_PROXY, ...) would
            // bypass the checks made for `http.proxy`.
            Some(p) => builder.proxy(
                reqwest::Proxy::all(p.expose().as_str())
                    // reqwest's message could quote the URL, credentials and all.
                    .map_err(|_| FetchError::InvalidProxy(format!("cannot use proxy {p}")))?,
            ),
            // A proxy from the environment would resolve names itself, out of the guard's reach.
            None => builder.no_proxy(),
        };
        let client = builder.build().map_err(FetchError::Client)?;
        let politeness = Politeness::new(cfg.per_host_concurrency, cfg.per_host_delay);
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                cfg,
                politeness,
                gate,
            }),
        })
    }

    /// Hosts currently backed off, for persisting across restarts.
    pub fn host_backoffs(&self) -> Vec<(String, DateTime<Utc>)> {
        self.inner.politeness.active_backoffs(Utc::now())
    }

    /// Re-installs a persisted backoff; `host` is a `host_key`.
    /// When a request to `url`'s host could start without waiting out the
    /// per-host spacing; `None` when it could start now.
    pub fn host_ready_at(&self, url: &Url) -> Option<tokio::time::Instant> {
        self.inner.politeness.next_start(&host_key(url))
    }

    pub fn restore_host_backoff(&self, host: &str, until: DateTime<Utc>) {
        self.inner.politeness.restore(host, until);
    }

    #[instrument(skip_all, fields(url = %req.url))]
    pub async fn fetch(&self, req: FetchRequest) -> Result<FetchResponse, FetchError> {
        let cfg = &self.inner.cfg;
        let body = req.body.map(|(ct, b)| (ct, Bytes::from(b)));
        let mut method = req.method;
        let mut body = if method == Method::Post { body } else { None };
        let mut url = req.url;
        let first_host = url.host_str().map(str::to_owned);
        let mut hops = Vec::new();

        loop {
            check_url(&url, &cfg.allow_networks)?;
            if cfg.proxy.is_some() {
                check_before_proxy(&url, cfg).await?;
            }
            let key = host_key(&url);
            if !req.ignore_host_backoff {
                self.fail_if_backed_off(&key)?;
            }

            let mut headers = HeaderMap::new();
            if let Some(accept) = &req.accept {
                headers.insert(header::ACCEPT, header_value("accept", accept)?);
            }
            let same_host = url.host_str().map(str::to_owned) == first_host;
            for (name, value) in &req.headers {
                if !same_host && CROSS_HOST_STRIPPED.contains(&name.to_ascii_lowercase().as_str()) {
                    continue;
                }
                let hn = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| FetchError::InvalidHeader { name: name.clone() })?;
                headers.append(hn, header_value(name, value)?);
            }
            // Validators belong to the resource first asked for, not to wherever it moved.
            if hops.is_empty() {
                if let Some(etag) = &req.etag {
                    headers.insert(header::IF_NONE_MATCH, header_value("if-none-match", etag)?);
                }
                if let Some(lm) = &req.last_modified {
                    headers.insert(
                        header::IF_MODIFIED_SINCE,
                        header_value("if-modified-since", lm)?,
                    );
                }
            }

            let permit = self.inner.politeness.acquire(&key).await;
            let shared = match &self.inner.gate {
                Some(gate) => Some(
                    SharedSlot::claim(gate, &key, self.gate_rule())
                        .await
                        .map_err(|e| FetchError::HostGate {
                            host: key.clone(),
                            reason: e.to_string(),
                        })?,
                ),
                None => None,
            };
            if !req.ignore_host_backoff {
                // Another request may have been refused while this one queued.
                self.fail_if_backed_off(&key)?;
            }
            debug!(%url, ?method, "request");
            let hop = tokio::time::timeout(
                cfg.timeout,
                self.send_hop(&url, method, body.as_ref(), headers),
            )
            .await
            .unwrap_or_else(|_| {
                Err(FetchError::Timeout {
                    url: url.clone(),
                    after: cfg.timeout,
                })
            });
            if let Some(shared) = shared {
                shared.release().await;
            }
            drop(permit);
            let resp = hop?;
            let status = resp.status;
            debug!(%url, status, "response");

            if status == 429 || status == 503 {
                let until =
                    self.inner
                        .politeness
                        .record_refusal(&key, resp.retry_after, Utc::now());
                tracing::info!(host = %key, %until, status, "host backed off");
            } else if status < 400 {
                self.inner.politeness.record_success(&key);
            }

            let location = match status {
                301 | 302 | 303 | 307 | 308 if req.follow_redirects => resp.location.as_deref(),
                _ => None,
            };
            let Some(location) = location else {
                return Ok(resp.into_response(url, hops));
            };
            let next = url.join(location).map_err(|e| FetchError::InvalidUrl {
                url: location.to_owned(),
                reason: format!("bad redirect from {url}: {e}"),
            })?;
            hops.push(Hop {
                url: url.clone(),
                status,
            });
            if hops.len() > cfg.max_redirects as usize {
                return Err(FetchError::TooManyRedirects {
                    url: next,
                    limit: cfg.max_redirects,
                });
            }
            // 303 always, and 301/302 for POST as every browser does, continue as a body-less GET.
            if status == 303 || (matches!(status, 301 | 302) && method == Method::Post) {
                method = Method::Get;
                body = None;
            }
            url = next;
        }
    }

    /// The per-host limits as the shared gate applies them: a slot's lease
    /// outlives any hop, which the timeout bounds. The start margin counts
    /// twice: between the start the database records and the request
    /// leaving stand the claim's commit and a wake-up (a 100 ms delay was
    /// seen arriving 94 ms apart from two processes with one margin).
    fn gate_rule(&self) -> GateRule {
        let cfg = &self.inner.cfg;
        GateRule {
            concurrency: cfg.per_host_concurrency.max(1),
            spacing: cfg.per_host_delay + start_margin(cfg.per_host_delay) * 2,
            lease: cfg.timeout.saturating_mul(2),
        }
    }

    fn fail_if_backed_off(&self, key: &str) -> Result<(), FetchError> {
        match self.inner.politeness.backed_off_until(key, Utc::now()) {
            Some(until) => Err(FetchError::HostBackoff {
                host: key.to_owned(),
                until,
            }),
            None => Ok(()),
        }
    }

    async fn send_hop(
        &self,
        url: &Url,
        method: Method,
        body: Option<&(String, Bytes)>,
        headers: HeaderMap,
    ) -> Result<RawResponse, FetchError> {
        let cfg = &self.inner.cfg;
        let mut rb = match method {
            Method::Get => self.inner.client.get(url.clone()),
            Method::Post => self.inner.client.post(url.clone()),
        }
        .headers(headers);
        if let Some((ct, bytes)) = body {
            rb = rb
                .header(header::CONTENT_TYPE, header_value("content-type", ct)?)
                .body(bytes.clone());
        }
        let resp = rb.send().await.map_err(|e| map_reqwest(url, e, cfg))?;

        let h = resp.headers();
        // Counted as on the wire: "name: value\r\n".
        let header_bytes: usize = h.iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
        if header_bytes > cfg.max_header_bytes {
            return Err(FetchError::HeadersTooLarge {
                url: url.clone(),
                limit: cfg.max_header_bytes,
            });
        }
        let get = |name: HeaderName| {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.trim().to_owned())
        };
        let mut raw = RawResponse {
            status: resp.status().as_u16(),
            content_type: get(header::CONTENT_TYPE),
            etag: get(header::ETAG),
            last_modified: get(header::LAST_MODIFIED),
            retry_after: get(header::RETRY_AFTER).and_then(|v| parse_retry_after(&v, Utc::now())),
            location: get(header::LOCATION),
            headers: h
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect(),
            body: Bytes::new(),
        };

        // reqwest drops Content-Length when it decodes, so a present one is the decoded size.
        if resp
            .content_length()
            .is_some_and(|n| n > cfg.max_body_bytes)
        {
            return Err(FetchError::BodyTooLarge {
                url: url.clone(),
                limit: cfg.max_body_bytes,
            });
        }
        let cap = usize::try_from(cfg.max_body_bytes).unwrap_or(usize::MAX);
        let hint = resp
            .content_length()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0);
        let mut buf = BytesMut::with_capacity(hint.min(cap));
        let mut stream = resp.bytes_stream();
        let mut rate = RateFloor::new(cfg.min_transfer_rate, cfg.min_transfer_window);
        loop {
            // A server that sends nothing at all must be caught too, so the wait for the next
            // chunk ends with the current window.
            let next = match rate.window_end() {
                Some(end) => match tokio::time::timeout_at(end, stream.next()).await {
                    Ok(next) => next,
                    Err(_) => {
                        rate.check(url)?;
                        continue;
                    }
                },
                None => stream.next().await,
            };
            let Some(chunk) = next else { break };
            let chunk = chunk.map_err(|e| map_reqwest(url, e, cfg))?;
            if buf.len().saturating_add(chunk.len()) > cap {
                return Err(FetchError::BodyTooLarge {
                    url: url.clone(),
                    limit: cfg.max_body_bytes,
                });
            }
            buf.extend_from_slice(&chunk);
            rate.add(chunk.len());
            rate.check(url)?;
        }
        raw.body = buf.freeze();
        Ok(raw)
    }
}

/// The minimum transfer rate, judged over consecutive windows of the body download: a window
/// that ends with fewer than `rate × window` bytes aborts it. Tumbling windows rather than one
/// average since the start, so a fast start cannot pay for a stall later.
struct RateFloor {
    min_rate: u64,
    window: Duration,
    start: Instant,
    bytes: u64,
}

impl RateFloor {
    fn new(min_rate: u64, window: Duration) -> Self {
        Self {
            min_rate,
            window,
            start: Instant::now(),
            bytes: 0,
        }
    }

    /// When the current window closes; `None` when the check is off.
    fn window_end(&self) -> Option<Instant> {
        (self.min_rate > 0 && !self.window.is_zero()).then(|| self.start + self.window)
    }

    fn add(&mut self, n: usize) {
        self.bytes = self.bytes.saturating_add(n as u64);
    }

    /// At the end of a window: fail if it fell short, else start the next one.
    fn check(&mut self, url: &Url) -> Result<(), FetchError> {
        let Some(end) = self.window_end() else {
            return Ok(());
        };
        if Instant::now() < end {
            return Ok(());
        }
        let needed = (self.min_rate as f64 * self.window.as_secs_f64()) as u64;
        if self.bytes < needed {
            return Err(FetchError::TooSlow {
                url: url.clone(),
                got: self.bytes,
                window: self.window,
                min_rate: self.min_rate,
            });
        }
        self.start = Instant::now();
        self.bytes = 0;
        Ok(())
    }
}

struct RawResponse {
    status: u16,
    content_type: Option<String>,
    etag: Option<String>,
    last_modified: Option<String>,
    retry_after: Option<DateTime<Utc>>,
    location: Option<String>,
    headers: Vec<(String, String)>,
    body: Bytes,
}

impl RawResponse {
    fn into_response(self, url: Url, hops: Vec<Hop>) -> FetchResponse {
        FetchResponse {
            url,
            status: self.status,
            content_type: self.content_type,
            etag: self.etag,
            last_modified: self.last_modified,
            retry_after: self.retry_after,
            headers: self.headers,
            body: self.body,
            hops,
        }
    }
}

fn header_value(name: &str, value: &str) -> Result<HeaderValue, FetchError> {
    HeaderValue::from_str(value).map_err(|_| FetchError::InvalidHeader {
        name: name.to_owned(),
    })
}

/// Scheme/host sanity, plus the SSRF check for IP literals (the resolver never sees those).
fn check_url(url: &Url, allow: &[IpNet]) -> Result<(), FetchError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FetchError::InvalidUrl {
            url: url.to_string(),
            reason: format!("unsupported scheme {:?}", url.scheme()),
        });
    }
    let ip = match url.host() {
        Some(Host::Ipv4(ip)) => ip.into(),
        Some(Host::Ipv6(ip)) => ip.into(),
        Some(Host::Domain(_)) => return Ok(()),
        None => {
            return Err(FetchError::InvalidUrl {
                url: url.to_string(),
                reason: "no host".into(),
            })
        }
    };
    if is_blocked_ip(ip, allow) {
        return Err(FetchError::Blocked {
            url: url.clone(),
            addr: ip,
        });
    }
    Ok(())
}

/// Proxy mode: the proxy resolves and dials the target, so its name is resolved and checked
/// here first (IP literals were checked by `check_url`).
async fn check_before_proxy(url: &Url, cfg: &FetchConfig) -> Result<(), FetchError> {
    let Some(Host::Domain(host)) = url.host() else {
        return Ok(());
    };
    let port = url.port_or_known_default().unwrap_or(80);
    let check = tokio::time::timeout(
        cfg.connect_timeout,
        check_name_before_proxy(host, port, &cfg.allow_networks),
    )
    .await
    .unwrap_or_else(|_| Err(PreCheck::Unresolved("lookup timed out".to_owned())));
    match check {
        Ok(()) => Ok(()),
        Err(PreCheck::Blocked(addr)) => Err(FetchError::Blocked {
            url: url.clone(),
            addr,
        }),
        Err(PreCheck::Unresolved(reason)) => Err(FetchError::Unresolved {
            url: url.clone(),
            reason,
        }),
    }
}

impl Fetcher {
    /// The one address a client that is not HTTP (SMTP) may dial for `url`'s host, under the same
    /// guard as every request: resolved once here and refused when any address is blocked, so the
    /// address checked is the address the caller connects to. `url` must carry no credentials: it
    /// is named in the error.
    pub async fn public_addr(&self, url: &Url, port: u16) -> Result<SocketAddr, FetchError> {
        let cfg = &self.inner.cfg;
        let host = match url.host() {
            Some(Host::Ipv4(ip)) => return self.checked(url, SocketAddr::new(ip.into(), port)),
            Some(Host::Ipv6(ip)) => return self.checked(url, SocketAddr::new(ip.into(), port)),
            Some(Host::Domain(host)) => host,
            None => {
                return Err(FetchError::InvalidUrl {
                    url: url.to_string(),
                    reason: "no host".to_owned(),
                })
            }
        };
        let unresolved = |reason: String| FetchError::Unresolved {
            url: url.clone(),
            reason,
        };
        let addrs: Vec<SocketAddr> =
            tokio::time::timeout(cfg.connect_timeout, tokio::net::lookup_host((host, port)))
                .await
                .map_err(|_| unresolved("lookup timed out".to_owned()))?
                .map_err(|e| unresolved(e.to_string()))?
                .collect();
        if let Some(a) = addrs
            .iter()
            .find(|a| is_blocked_ip(a.ip(), &cfg.allow_networks))
        {
            return Err(FetchError::Blocked {
                url: url.clone(),
                addr: a.ip(),
            });
        }
        addrs
            .into_iter()
            .next()
            .ok_or_else(|| unresolved("no addresses".to_owned()))
    }

    fn checked(&self, url: &Url, addr: SocketAddr) -> Result<SocketAddr, FetchError> {
        if is_blocked_ip(addr.ip(), &self.inner.cfg.allow_networks) {
            return Err(FetchError::Blocked {
                url: url.clone(),
                addr: addr.ip(),
            });
        }
        Ok(addr)
    }

    /// The timeout of a whole request, for clients that are not HTTP.
    pub fn timeout(&self) -> Duration {
        self.inner.cfg.timeout
    }
}

/// hyper refuses a response head over its fixed HTTP/1 limits before `send_hop` sees it.
fn head_too_large(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if e.downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_parse_too_large)
        {
            return true;
        }
        cur = e.source();
    }
    false
}

fn map_reqwest(url: &Url, e: reqwest::Error, cfg: &FetchConfig) -> FetchError {
    if let Some(addr) = blocked_in_chain(&e) {
        return FetchError::Blocked {
            url: url.clone(),
            addr,
        };
    }
    if head_too_large(&e) {
        return FetchError::HeadersTooLarge {
            url: url.clone(),
            limit: cfg.max_header_bytes,
        };
    }
    if e.is_timeout() {
        FetchError::Timeout {
            url: url.clone(),
            after: cfg.connect_timeout.min(cfg.timeout),
        }
    } else if e.is_connect() {
        FetchError::Connect {
            url: url.clone(),
            source: e,
        }
    } else {
        FetchError::Http {
            url: url.clone(),
            source: e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fetch_request_shows_its_headers_but_not_credential_values() {
        let mut req = FetchRequest::get(Url::parse("https://news.example/a").unwrap());
        req.headers
            .push(("Cookie".into(), "SOCS=CAI; CONSENT=YES+".into()));
        req.headers
            .push(("authorization".into(), "Bearer tok-s3cret".into()));
        req.headers.push(("User-Agent".into(), "newsd-test".into()));
        let shown = format!("{req:?}");
        assert!(!shown.contains("SOCS=CAI"), "{shown}");
        assert!(!shown.contains("tok-s3cret"), "{shown}");
        assert!(
            shown.contains("Cookie") && shown.contains("newsd-test"),
            "{shown}"
        );
    }
}
