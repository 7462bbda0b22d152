//! A feed entry seen through Google News: which article id it carries, what
//! the id already tells offline, and the provisional identity of its story.

use url::Url;

use super::{
    article_id_from_url, decode_article_id, parse_description_cluster, provisional_key,
    strip_source_suffix, DecodedId, Edition, RelatedItem,
};

/// What a Google News item contributes beyond an ordinary entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleItem {
    pub google_id: String,
    /// The publisher URL when the id carries it (old-format ids): no request needed.
    pub decoded_url: Option<String>,
    /// Why the id can never be resolved (e.g. a video id), if so.
    pub unresolvable: Option<String>,
    /// The headline without the `" - Publisher"` suffix.
    pub title: Option<String>,
    /// Normalized title + publisher host, when the title is specific enough.
    pub provisional_key: Option<String>,
    /// The edition of the feed the item came from (article-page GETs use it).
    pub edition: Edition,
    /// Related coverage: other outlets' articles on the same story.
    pub hints: Vec<RelatedItem>,
}

/// The fields of a parsed entry that matter here.
#[derive(Debug, Clone, Copy, Default)]
pub struct EntryFields<'a> {
    pub link: Option<&'a str>,
    pub title: Option<&'a str>,
    pub source_name: Option<&'a str>,
    pub source_url: Option<&'a str>,
    pub description_html: Option<&'a str>,
}

/// `None` when the entry's link is not a Google article link on `base`.
pub fn classify(
    base: &Url,
    feed_url: &Url,
    default_edition: &Edition,
    e: EntryFields<'_>,
) -> Option<GoogleItem> {
    let link = Url::parse(e.link?).ok()?;
    let google_id = article_id_from_url(base, &link)?;
    let (decoded_url, unresolvable) = match decode_article_id(&google_id) {
        Ok(DecodedId::Url(u)) => (Some(u), None),
        Ok(DecodedId::Token(_)) => (None, None),
        Err(err) => (None, Some(format!("article id cannot be resolved: {err}"))),
    };
    let title = e.title.map(|t| match e.source_name {
        Some(source) => strip_source_suffix(t, source),
        None => t.trim().to_owned(),
    });
    let publisher = e.source_url.and_then(|u| Url::parse(u).ok());
    let provisional_key = match (title.as_deref(), publisher) {
        (Some(t), Some(p)) => provisional_key(t, &p),
        _ => None,
    };
    let hints = e
        .description_html
        .map(parse_description_cluster)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|mut r| {
            r.google_id = Url::parse(&r.url)
                .ok()
                .and_then(|u| article_id_from_url(base, &u));
            (r.google_id.as_deref() != Some(google_id.as_str())).then_some(r)
        })
        .collect();
    Some(GoogleItem {
        google_id,
        decoded_url,
        unresolvable,
        title,
        provisional_key,
        edition: edition_of(feed_url).unwrap_or_else(|| default_edition.clone()),
        hints,
    })
}

/// The edition a Google News feed URL asks for (`hl`, `gl`, `ceid`).
pub fn edition_of(feed_url: &Url) -> Option<Edition> {
    let get = |k: &str| {
        feed_url
            .query_pairs()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.into_owned())
    };
    Edition::new(&get("hl")?, &get("gl")?, &get("ceid")?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://news.google.com").unwrap()
    }

    fn fixture_items(xml: &str) -> Vec<(String, String, String, String)> {
        let parsed = crate::feed::parse_feed(xml.as_bytes(), &base(), 1000).unwrap();
        parsed
            .entries
            .into_iter()
            .map(|e| {
                (
                    e.link.unwrap_or_default(),
                    e.title.unwrap_or_default(),
                    e.source_name.unwrap_or_default(),
                    e.source_url.unwrap_or_default(),
                )
            })
            .collect()
    }

    #[test]
    fn japanese_items_decode_offline_and_lose_the_publisher_suffix() {
        let xml = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/google-news/ja_JP_top_stories_2024-02-06_prettified.xml"
        ));
        let feed = Url::parse("https://news.google.com/rss?hl=ja&gl=JP&ceid=JP:ja").unwrap();
        let items = fixture_items(xml);
        let mut decoded = 0;
        for (link, title, source, source_url) in &items {
            let g = classify(
                &base(),
                &feed,
                &Edition::default(),
                EntryFields {
                    link: Some(link),
                    title: Some(title),
                    source_name: Some(source),
                    source_url: Some(source_url),
                    description_html: None,
                },
            )
            .unwrap();
            assert_eq!(g.edition.ceid, "JP:ja");
            let t = g.title.unwrap();
            assert!(
                !t.ends_with(&format!(" - {source}"))
                    || title.ends_with(&format!(" - {source} - {source}")),
                "{t}"
            );
            if g.decoded_url.is_some() {
                decoded += 1;
            }
        }
        assert!(
            decoded >= items.len() - 2,
            "old-format ids decode offline: {decoded}/{}",
            items.len()
        );
    }

    #[test]
    fn new_format_items_need_a_lookup_and_get_a_provisional_key() {
        let xml = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/google-news/en_US_search_quoted_phrase_bears_ears_2026.xml"
        ));
        let parsed = crate::feed::parse_feed(xml.as_bytes(), &base(), 1000).unwrap();
        let feed =
            Url::parse("https://news.google.com/rss/search?q=x&hl=en-US&gl=US&ceid=US:en").unwrap();
        let mut with_hints = 0;
        for e in &parsed.entries {
            let g = classify(
                &base(),
                &feed,
                &Edition::default(),
                EntryFields {
                    link: e.link.as_deref(),
                    title: e.title.as_deref(),
                    source_name: e.source_name.as_deref(),
                    source_url: e.source_url.as_deref(),
                    description_html: e.summary_html.as_deref(),
                },
            )
            .unwrap();
            assert!(g.decoded_url.is_none());
            assert!(g.unresolvable.is_none());
            if !g.hints.is_empty() {
                with_hints += 1;
                assert!(g.hints.len() >= 2);
            }
            for h in &g.hints {
                let id = h.google_id.as_deref().unwrap_or_default();
                assert!(h.url.contains(&format!("/articles/{id}?")), "{h:?}");
                assert_ne!(id, g.google_id, "the item itself is not its own hint");
            }
            if let Some(k) = &g.provisional_key {
                assert!(k.contains('|'));
            }
        }
        assert!(
            with_hints >= 1,
            "the fixture has a related-coverage cluster"
        );
    }

    #[test]
    fn links_elsewhere_are_not_google_items() {
        let feed = Url::parse("https://example.com/rss").unwrap();
        let e = EntryFields {
            link: Some("https://example.com/story"),
            ..Default::default()
        };
        assert!(classify(&base(), &feed, &Edition::default(), e).is_none());
    }
}
