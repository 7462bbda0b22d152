//! Newtypes parsed at the edge: once a value has one of these types it is valid.

use std::fmt;

use sha2::{Digest, Sha256};
use url::Url;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    #[error("not a valid URL: {0}")]
    Parse(String),
    #[error("unsupported scheme {0:?} (only http and https)")]
    Scheme(String),
    #[error("URL has no host")]
    NoHost,
}

fn parse_http(raw: &str) -> Result<Url, UrlError> {
    let url = Url::parse(raw.trim()).map_err(|e| UrlError::Parse(format!("{raw:?}: {e}")))?;
    match url.scheme() {
        "http" | "https" => {}
        other => return Err(UrlError::Scheme(other.to_owned())),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(UrlError::NoHost);
    }
    Ok(url)
}

/// The URL a feed is subscribed under (http or https).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FeedUrl(Url);

impl FeedUrl {
    pub fn parse(raw: &str) -> Result<Self, UrlError> {
        parse_http(raw).map(FeedUrl)
    }
    pub fn as_url(&self) -> &Url {
        &self.0
    }
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for FeedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// Query parameters that only track the reader and never select content.
fn is_tracking_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("utm_")
        || matches!(
            n.as_str(),
            "fbclid"
                | "gclid"
                | "dclid"
                | "gbraid"
                | "wbraid"
                | "msclkid"
                | "mc_cid"
                | "mc_eid"
                | "ocid"
                | "igshid"
                | "yclid"
                | "_hsenc"
                | "_hsmi"
                | "mkt_tok"
                | "cmpid"
                | "smid"
                | "rss"
                | "ito"
                | "at_medium"
                | "at_campaign"
                | "ns_mchannel"
                | "ns_source"
                | "ns_campaign"
                | "ns_linkname"
                | "ns_fee"
                | "spm"
                | "taid"
                | "oc"
        )
}

/// A URL as fetched: the original, with tracking parameters removed but
/// nothing else changed (no scheme upgrade, no query reordering).
pub fn strip_tracking(url: &Url) -> Url {
    let mut out = url.clone();
    if url.query().is_some() {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !is_tracking_param(k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let had = url.query_pairs().count();
        if kept.len() != had {
            if kept.is_empty() {
                out.set_query(None);
            } else {
                out.query_pairs_mut().clear().extend_pairs(kept);
            }
        }
    }
    out
}

/// An article's identity: its normalized URL. Used for dedupe only, never fetched.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CanonicalUrl(String);

impl CanonicalUrl {
    /// Lowercase scheme and host, no default port, no fragment, no tracking
    /// parameters, remaining query pairs sorted, `http` and `https` folded
    /// together, a trailing slash on a non-root path dropped.
    pub fn from_url(url: &Url) -> Self {
        let mut host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        // Every leading `www.` goes (not just one), so that a key normalizes
        // to itself; a host made only of `www.` labels keeps its last one.
        while let Some(rest) = host.strip_prefix("www.").filter(|r| !r.is_empty()) {
            host = rest.to_owned();
        }
        let mut s = String::with_capacity(url.as_str().len());
        s.push_str(&host);
        if let Some(port) = url.port() {
            s.push(':');
            s.push_str(&port.to_string());
        }
        let path = url.path();
        let path = if path.len() > 1 {
            path.trim_end_matches('/')
        } else {
            ""
        };
        s.push_str(path);
        let mut pairs: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !is_tracking_param(k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if !pairs.is_empty() {
            pairs.sort();
            let mut ser = url::form_urlencoded::Serializer::new(String::new());
            ser.extend_pairs(pairs);
            s.push('?');
            s.push_str(&ser.finish());
        }
        CanonicalUrl(s)
    }

    pub fn parse(raw: &str) -> Result<Self, UrlError> {
        parse_http(raw).map(|u| Self::from_url(&u))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_stored(s: String) -> Self {
        CanonicalUrl(s)
    }
}

impl fmt::Display for CanonicalUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An entry's identity within one feed. `Default` is the empty key, only
/// a starting point for building an entry field by field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct EntryKey(String);

/// The longest guid or link an entry key holds as it is, in characters.
/// A longer one is keyed by its hash: a Google News guid is ~480
/// characters, and holding it in the key and in the key's unique index
/// doubled the bytes every new Google item wrote (the guid column keeps it).
pub const ENTRY_KEY_MAX_CHARS: usize = 64;

impl EntryKey {
    /// guid/id first, then the link, then a hash of title and date.
    pub fn derive(
        guid: Option<&str>,
        link: Option<&str>,
        title: Option<&str>,
        date: Option<&str>,
    ) -> Option<Self> {
        if let Some(g) = guid.map(str::trim).filter(|g| !g.is_empty()) {
            return Some(Self::of("id", g));
        }
        if let Some(l) = link.map(str::trim).filter(|l| !l.is_empty()) {
            return Some(Self::of("link", l));
        }
        let title = title.map(str::trim).filter(|t| !t.is_empty())?;
        let mut h = Sha256::new();
        h.update(title.as_bytes());
        h.update([0]);
        h.update(date.unwrap_or_default().as_bytes());
        Some(EntryKey(format!("hash:{}", hex(&h.finalize()[..16]))))
    }

    /// `<kind>:<value>`, or `<kind>-sha256:<first 16 bytes of the value's
    /// SHA-256, hex>` for a value over [`ENTRY_KEY_MAX_CHARS`].
    fn of(kind: &str, value: &str) -> Self {
        if value.chars().count() <= ENTRY_KEY_MAX_CHARS {
            return EntryKey(format!("{kind}:{value}"));
        }
        EntryKey(format!(
            "{kind}-sha256:{}",
            hex(&Sha256::digest(value.as_bytes())[..16])
        ))
    }

    /// The key an entry stored as `stored` has now, when that differs: keys
    /// written before long values were hashed (migration 0015).
    pub fn rekeyed(stored: &str) -> Option<Self> {
        let (kind, value) = stored.split_once(':')?;
        if !matches!(kind, "id" | "link") || value.chars().count() <= ENTRY_KEY_MAX_CHARS {
            return None;
        }
        Some(Self::of(kind, value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A key as the archive stored it.
    pub fn from_stored(s: String) -> Self {
        EntryKey(s)
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> String {
        CanonicalUrl::parse(s).unwrap().to_string()
    }

    #[test]
    fn tracking_parameter_variants_normalize_to_one_identity() {
        let a = key("https://Example.com/story?id=7&utm_source=rss&utm_medium=feed");
        let b = key("http://www.example.com:80/story?fbclid=abc&id=7#comments");
        let c = key("https://example.com/story/?gclid=1&id=7&mc_cid=2&mc_eid=3&ocid=x");
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a, "example.com/story?id=7");
    }

    #[test]
    fn a_key_normalizes_to_itself_even_with_repeated_www_labels() {
        // Found by the property tests: `www.www.0.aa` gave `www.0.aa`, whose
        // own key is `0.aa`, so one article could get two identities.
        assert_eq!(key("http://www.www.0.aa/"), "0.aa");
        assert_eq!(key("http://0.aa/"), "0.aa");
        assert_eq!(key("https://www.www./x"), "www./x");
        let k = key("https://WWW.www.Example.com:8080/a/?b=1#f");
        assert_eq!(key(&format!("https://{k}")), k);
    }

    #[test]
    fn query_order_does_not_change_identity_but_values_do() {
        assert_eq!(
            key("https://e.com/a?x=1&y=2"),
            key("https://e.com/a?y=2&x=1")
        );
        assert_ne!(key("https://e.com/a?x=1"), key("https://e.com/a?x=2"));
    }

    #[test]
    fn fetch_urls_lose_only_tracking_parameters() {
        let u = Url::parse("http://Example.com/a?z=1&utm_source=x&b=2").unwrap();
        assert_eq!(strip_tracking(&u).as_str(), "http://example.com/a?z=1&b=2");
        let u = Url::parse("http://example.com/a?utm_source=x").unwrap();
        assert_eq!(strip_tracking(&u).as_str(), "http://example.com/a");
        let u = Url::parse("http://example.com/a?q=hello+world").unwrap();
        assert_eq!(
            strip_tracking(&u).as_str(),
            "http://example.com/a?q=hello+world"
        );
    }

    #[test]
    fn feed_urls_must_be_http() {
        assert!(FeedUrl::parse("https://example.com/rss").is_ok());
        assert_eq!(
            FeedUrl::parse("file:///etc/passwd").unwrap_err(),
            UrlError::Scheme("file".into())
        );
        assert!(FeedUrl::parse("not a url").is_err());
    }

    #[test]
    fn entry_key_prefers_guid_then_link_then_hash() {
        assert_eq!(
            EntryKey::derive(Some("g1"), Some("http://x"), None, None)
                .unwrap()
                .as_str(),
            "id:g1"
        );
        assert_eq!(
            EntryKey::derive(Some("  "), Some("http://x"), None, None)
                .unwrap()
                .as_str(),
            "link:http://x"
        );
        let h1 = EntryKey::derive(None, None, Some("T"), Some("2026")).unwrap();
        let h2 = EntryKey::derive(None, None, Some("T"), Some("2026")).unwrap();
        assert_eq!(h1, h2);
        assert!(h1.as_str().starts_with("hash:"));
        assert!(EntryKey::derive(None, None, None, None).is_none());
    }

    #[test]
    fn a_guid_or_link_over_sixty_four_characters_is_keyed_by_its_hash() {
        let at_limit = "g".repeat(ENTRY_KEY_MAX_CHARS);
        assert_eq!(
            EntryKey::derive(Some(&at_limit), None, None, None)
                .unwrap()
                .as_str(),
            format!("id:{at_limit}")
        );
        let long = "CBMi".repeat(120);
        let key = EntryKey::derive(Some(&long), None, None, None).unwrap();
        assert_eq!(
            key.as_str(),
            format!("id-sha256:{}", hex(&Sha256::digest(long.as_bytes())[..16]))
        );
        assert_ne!(
            key,
            EntryKey::derive(Some(&format!("{long}x")), None, None, None).unwrap()
        );
        let url = format!("https://news.example/{}", "a".repeat(60));
        assert!(EntryKey::derive(None, Some(&url), None, None)
            .unwrap()
            .as_str()
            .starts_with("link-sha256:"));
        // Counted in characters, as SQLite's length() counts them.
        let wide = "清".repeat(ENTRY_KEY_MAX_CHARS);
        assert_eq!(
            EntryKey::derive(Some(&wide), None, None, None)
                .unwrap()
                .as_str(),
            format!("id:{wide}")
        );
    }

    #[test]
    fn a_stored_long_key_is_rekeyed_as_derive_keys_it_now() {
        let long = "CBMi".repeat(120);
        let now = EntryKey::derive(Some(&long), None, None, None).unwrap();
        assert_eq!(EntryKey::rekeyed(&format!("id:{long}")), Some(now.clone()));
        let url = format!("https://news.example/{}", "a".repeat(60));
        assert_eq!(
            EntryKey::rekeyed(&format!("link:{url}")),
            EntryKey::derive(None, Some(&url), None, None)
        );
        assert_eq!(EntryKey::rekeyed("id:short"), None);
        assert_eq!(EntryKey::rekeyed(now.as_str()), None);
        assert_eq!(EntryKey::rekeyed(&format!("hash:{long}")), None);
    }
}
