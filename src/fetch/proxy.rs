//! The optional forward proxy (`http.proxy`). Its URL may carry credentials
//! (`http://user:pass@proxy:3128`), so it has its own type whose `Debug` and
//! `Display` never show them: a log line, an error or a config dump can print
//! it without leaking the password.

use std::fmt;

use url::Url;

/// An `http://` or `https://` proxy URL. Requests for every target (http and
/// https) go through it; https targets are tunnelled with CONNECT.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl(Url);

/// Why a proxy URL was refused. Never contains the URL itself, which may hold
/// a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProxyUrlError(&'static str);

impl ProxyUrl {
    pub fn parse(s: &str) -> Result<Self, ProxyUrlError> {
        let url = Url::parse(s.trim()).map_err(|_| {
            ProxyUrlError("not a URL (expected e.g. \"http://proxy.example:3128\")")
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ProxyUrlError(
                "only http:// and https:// proxies are supported",
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(ProxyUrlError("the proxy URL needs a host"));
        }
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err(ProxyUrlError(
                "a proxy URL is scheme, optional user:password@, host and port, nothing else",
            ));
        }
        Ok(Self(url))
    }

    /// The full URL, credentials included: only for handing to the HTTP client.
    pub(super) fn expose(&self) -> &Url {
        &self.0
    }

    /// The proxy's host as the HTTP client will look it up (lowercase; IPv6 without brackets).
    pub(super) fn host(&self) -> String {
        match self.0.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(h) => h.to_string(),
            None => String::new(),
        }
    }

    pub fn has_credentials(&self) -> bool {
        !self.0.username().is_empty() || self.0.password().is_some()
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let u = &self.0;
        let creds = if self.has_credentials() {
            "<redacted>@"
        } else {
            ""
        };
        let host = u.host_str().unwrap_or("");
        match u.port_or_known_default() {
            Some(port) => write!(f, "{}://{creds}{host}:{port}", u.scheme()),
            None => write!(f, "{}://{creds}{host}", u.scheme()),
        }
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show_in_display_or_debug() {
        let p = ProxyUrl::parse("http://alice:s3cret-pw@proxy.example:3128").unwrap();
        for shown in [p.to_string(), format!("{p:?}")] {
            assert!(!shown.contains("alice"), "{shown}");
            assert!(!shown.contains("s3cret-pw"), "{shown}");
            assert!(shown.contains("proxy.example:3128"), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
        }
        // The client still gets them.
        assert_eq!(p.expose().password(), Some("s3cret-pw"));
    }

    #[test]
    fn a_proxy_without_credentials_is_shown_as_is() {
        let p = ProxyUrl::parse("https://proxy.example").unwrap();
        assert_eq!(p.to_string(), "https://proxy.example:443");
        assert!(!p.has_credentials());
    }

    #[test]
    fn bad_proxy_urls_are_refused_without_echoing_them() {
        for bad in [
            "socks5://u:hunter2@proxy:1080",
            "proxy:3128 hunter2",
            "http://u:hunter2@proxy:3128/path",
            "file:///hunter2",
        ] {
            let err = ProxyUrl::parse(bad).unwrap_err().to_string();
            assert!(!err.contains("hunter2"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_host_is_what_the_client_resolves() {
        assert_eq!(
            ProxyUrl::parse("http://U:P@Proxy.Example:8080")
                .unwrap()
                .host(),
            "proxy.example"
        );
        assert_eq!(ProxyUrl::parse("http://[::1]:8080").unwrap().host(), "::1");
    }
}
