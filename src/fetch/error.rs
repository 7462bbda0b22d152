use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use url::Url;

/// Everything that can go wrong fetching one URL. Variants carry the URL of the hop that failed
/// (which may differ from the requested URL after redirects) so log lines are self-explanatory.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("invalid URL {url}: {reason}")]
    InvalidUrl { url: String, reason: String },

    #[error("invalid request header {name:?}")]
    InvalidHeader { name: String },

    #[error("blocked request to {url}: address {addr} is not a public address")]
    Blocked { url: Url, addr: IpAddr },

    #[error("too many redirects (limit {limit}) at {url}")]
    TooManyRedirects { url: Url, limit: u32 },

    #[error("response body of {url} exceeds {limit} bytes")]
    BodyTooLarge { url: Url, limit: u64 },

    #[error(
        "response body of {url} arrived too slowly: {got} bytes in {window:?}, \
         below the minimum of {min_rate} bytes/s (http.min_transfer_rate)"
    )]
    TooSlow {
        url: Url,
        got: u64,
        window: Duration,
        min_rate: u64,
    },

    #[error(
        "response headers of {url} are too large (limit {limit} bytes in all, \
         and at most 100 header fields; http.max_header_bytes)"
    )]
    HeadersTooLarge { url: Url, limit: usize },

    #[error(
        "cannot resolve {url} to check its address before sending it through the proxy: {reason}"
    )]
    Unresolved { url: Url, reason: String },

    #[error("invalid http.proxy: {0}")]
    InvalidProxy(String),

    #[error("request to {url} timed out after {after:?}")]
    Timeout { url: Url, after: Duration },

    #[error("cannot connect to {url}: {}", cause(source))]
    Connect {
        url: Url,
        #[source]
        source: reqwest::Error,
    },

    #[error("HTTP error for {url}: {}", cause(source))]
    Http {
        url: Url,
        #[source]
        source: reqwest::Error,
    },

    #[error("host {host} is backed off until {until}")]
    HostBackoff { host: String, until: DateTime<Utc> },

    #[error("cannot claim a slot of host {host} from the instances' shared politeness: {reason}")]
    HostGate { host: String, reason: String },

    #[error("cannot build HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// reqwest's own message ("error sending request for url …") says little;
/// the innermost cause (DNS failure, refused connection, TLS error) is what a
/// user can act on.
fn cause(e: &reqwest::Error) -> String {
    let mut inner: &dyn std::error::Error = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}
