//! Recognising Google News article links on the configured base host.

use url::Url;

use super::decode::MAX_ID_LEN;

/// The article id of a Google News link, when `link` is one of
/// `/rss/articles/{id}`, `/articles/{id}`, `/read/{id}` or `/__i/rss/rd/articles/{id}`
/// on the host of `base` (and under its path prefix, if it has one).
/// Links on any other host, including `news.google.com` when the base is different,
/// are not recognised.
pub fn article_id_from_url(base: &Url, link: &Url) -> Option<String> {
    if !matches!(link.scheme(), "http" | "https") {
        return None;
    }
    let base_host = base.host_str()?;
    let host = link.host_str()?;
    if !host.eq_ignore_ascii_case(base_host) {
        return None;
    }
    if base.port().is_some() && base.port_or_known_default() != link.port_or_known_default() {
        return None;
    }
    let mut segs: Vec<&str> = link.path_segments()?.collect();
    let prefix: Vec<&str> = base
        .path_segments()
        .map(|s| s.filter(|p| !p.is_empty()).collect())
        .unwrap_or_default();
    if !prefix.is_empty() && segs.starts_with(&prefix) {
        segs.drain(..prefix.len());
    }
    if segs.last() == Some(&"") {
        segs.pop();
    }
    let id = match segs.as_slice() {
        ["rss", "articles", id]
        | ["articles", id]
        | ["read", id]
        | ["__i", "rss", "rd", "articles", id] => *id,
        _ => return None,
    };
    let valid = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    valid.then(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    const GN: &str = "https://news.google.com";

    #[test]
    fn all_four_link_shapes_are_recognised_on_the_base_host() {
        for path in [
            "/rss/articles/CBMiabc?oc=5",
            "/articles/CBMiabc?hl=en-US&gl=US&ceid=US:en",
            "/read/CBMiabc",
            "/__i/rss/rd/articles/CBMiabc?oc=5",
            "/articles/CBMiabc/",
        ] {
            assert_eq!(
                article_id_from_url(&u(GN), &u(&format!("{GN}{path}"))),
                Some("CBMiabc".into()),
                "{path}"
            );
        }
    }

    #[test]
    fn links_on_other_hosts_or_paths_are_not_articles() {
        let base = u(GN);
        for link in [
            "https://evil.example/rss/articles/CBMiabc",
            "https://news.google.com.evil.example/read/CBMiabc",
            "https://news.google.com/stories/CAAqabc",
            "https://news.google.com/rss/articles/",
            "https://news.google.com/rss/articles/a%20b",
            "https://news.google.com/topics/CAAqabc",
            "ftp://news.google.com/read/CBMiabc",
        ] {
            assert_eq!(article_id_from_url(&base, &u(link)), None, "{link}");
        }
    }

    #[test]
    fn a_custom_base_host_port_and_prefix_are_honoured() {
        let base = u("http://127.0.0.1:4321/prefix");
        assert_eq!(
            article_id_from_url(&base, &u("http://127.0.0.1:4321/prefix/rss/articles/CBMi1")),
            Some("CBMi1".into())
        );
        assert_eq!(
            article_id_from_url(&base, &u("http://127.0.0.1:4321/articles/CBMi1")),
            Some("CBMi1".into())
        );
        assert_eq!(
            article_id_from_url(&base, &u("http://127.0.0.1:9/articles/CBMi1")),
            None
        );
        assert_eq!(
            article_id_from_url(&base, &u("https://news.google.com/rss/articles/CBMi1")),
            None
        );
    }

    #[test]
    fn legacy_2019_links_yield_their_ids() {
        let feed = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/google-news/en_US_top_stories_2019-11-14_legacy_format.xml"
        ));
        let start = feed.find("<link>https://news.google.com/__i/").unwrap_or(0) + 6;
        let end = feed[start..].find('<').map_or(start, |e| start + e);
        let link = u(&feed[start..end]);
        let id = article_id_from_url(&u(GN), &link).unwrap_or_default();
        assert!(id.starts_with("CAIi") || id.starts_with("CBMi"), "{id}");
    }
}
