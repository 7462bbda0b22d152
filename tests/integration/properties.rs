//! Properties over the pure parsers: hostile bytes from feeds, Google pages and
//! OPML files must never panic, and URL identity must be stable. Case counts
//! are kept small so the whole file runs in a few seconds in `cargo test`.

use newsd::domain::{strip_tracking, CanonicalUrl};
use newsd::feed::{decode_entities, html_to_text, parse_feed};
use newsd::google_news::Edition;
use newsd::google_news::{
    decode_article_id, normalized_title_key, parse_article_page, parse_article_page_for,
    parse_batchexecute, parse_description_cluster, strip_source_suffix,
};
use proptest::prelude::*;
use url::Url;

const FIXTURES: [&[u8]; 4] = [
    include_bytes!("../fixtures/google-news/en_IN_search_TCS_2026-09-06_excerpt_with_cluster.xml"),
    include_bytes!("../fixtures/google-news/en_US_search_quoted_phrase_bears_ears_2026.xml"),
    include_bytes!("../fixtures/google-news/en_US_top_stories_2019-11-14_legacy_format.xml"),
    include_bytes!("../fixtures/google-news/ja_JP_top_stories_2024-02-06_prettified.xml"),
];

const PAGE: &str = include_str!("../fixtures/google-news/article_page_and_consent_snippets.html");
const BATCH: &str = include_str!("../fixtures/google-news/batchexecute_response_Fbv4je_single.txt");

fn base() -> Url {
    Url::parse("https://news.google.com/rss").expect("static url")
}

/// One edit of a document: the kinds of damage a truncated download, a broken
/// proxy or a hostile publisher produce.
#[derive(Debug, Clone)]
enum Mutation {
    Flip {
        at: usize,
        byte: u8,
    },
    Insert {
        at: usize,
        bytes: Vec<u8>,
    },
    Delete {
        at: usize,
        len: usize,
    },
    Truncate {
        at: usize,
    },
    /// Copy a slice of the document somewhere else (duplicated tags, items).
    Splice {
        from: usize,
        len: usize,
        to: usize,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let markup = prop::sample::select(vec![
        &b"<"[..],
        b">",
        b"&",
        b"&amp;",
        b"&#x110000;",
        b"&#99999999999;",
        b"]]>",
        b"<![CDATA[",
        b"</item>",
        b"<item>",
        b"<source url=\"",
        b"\xe6\x97\xa5",
        b"\xff\xfe",
        b"\0",
        b"<!DOCTYPE x [<!ENTITY a \"aaaaaaaa\">]>",
        b"&a;",
        b"xmlns:",
    ]);
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip { at, byte }),
        (
            any::<usize>(),
            prop_oneof![
                markup.prop_map(<[u8]>::to_vec),
                prop::collection::vec(any::<u8>(), 1..16)
            ]
        )
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (any::<usize>(), 1usize..64).prop_map(|(at, len)| Mutation::Delete { at, len }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), 1usize..512, any::<usize>())
            .prop_map(|(from, len, to)| Mutation::Splice { from, len, to }),
    ]
}

fn apply(doc: &mut Vec<u8>, m: &Mutation) {
    let n = doc.len().max(1);
    match m {
        Mutation::Flip { at, byte } => {
            if !doc.is_empty() {
                let i = at % doc.len();
                doc[i] = *byte;
            }
        }
        Mutation::Insert { at, bytes } => {
            let i = at % (doc.len() + 1);
            doc.splice(i..i, bytes.iter().copied());
        }
        Mutation::Delete { at, len } => {
            let i = at % n;
            let end = (i + len).min(doc.len());
            if i < end {
                doc.drain(i..end);
            }
        }
        Mutation::Truncate { at } => doc.truncate(at % n),
        Mutation::Splice { from, len, to } => {
            if !doc.is_empty() {
                let i = from % doc.len();
                let end = (i + len).min(doc.len());
                let piece = doc[i..end].to_vec();
                let j = to % (doc.len() + 1);
                doc.splice(j..j, piece);
            }
        }
    }
}

/// Any http(s) URL the `url` crate accepts, built from parts that stress
/// normalization: case, `www.` prefixes, ports, dot segments, trailing
/// slashes, tracking and repeated query keys, percent-escapes, fragments.
fn http_url() -> impl Strategy<Value = Url> {
    let scheme = prop::sample::select(vec!["http", "https", "HTTP"]);
    let host = prop_oneof![
        "(www\\.){0,3}[a-zA-Z0-9-]{1,12}(\\.[a-zA-Z]{2,6}){1,2}\\.?",
        Just("127.0.0.1".to_owned()),
        Just("[::1]".to_owned()),
        Just("xn--bcher-kva.example".to_owned()),
        Just("bücher.example".to_owned()),
        Just("WWW.Example.COM".to_owned()),
    ];
    let port = prop::option::of(prop::sample::select(vec![80u16, 443, 8080, 1]));
    let path = "(/([a-zA-Z0-9._~-]|%[0-9A-Fa-f]{2}|\\.\\.|\\.|日本|;|=|@|\\+){0,6}){0,5}/?";
    let key = prop_oneof![
        Just("utm_source".to_owned()),
        Just("UTM_Medium".to_owned()),
        Just("fbclid".to_owned()),
        Just("id".to_owned()),
        Just("".to_owned()),
        "[a-z%+&=;]{1,6}",
    ];
    let value = "([a-zA-Z0-9 +%&=/?#]|%[0-9A-Fa-f]{2}|é){0,8}";
    let query = prop::option::of(prop::collection::vec((key, value), 0..5));
    let fragment = prop::option::of("[a-z#?]{0,5}");
    (scheme, host, port, path, query, fragment).prop_filter_map(
        "the url crate rejects it",
        |(scheme, host, port, path, query, fragment)| {
            let mut s = format!("{scheme}://{host}");
            if let Some(p) = port {
                s.push_str(&format!(":{p}"));
            }
            s.push_str(&path);
            if let Some(q) = query {
                s.push('?');
                let pairs: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
                s.push_str(&pairs.join("&"));
            }
            if let Some(f) = fragment {
                s.push('#');
                s.push_str(&f);
            }
            Url::parse(&s)
                .ok()
                .filter(|u| u.host_str().is_some_and(|h| !h.is_empty()))
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parse_feed_never_panics_on_arbitrary_bytes(
        body in prop::collection::vec(any::<u8>(), 0..2048),
        max_entries in 0usize..50,
    ) {
        let _ = parse_feed(&body, &base(), max_entries);
    }

    #[test]
    fn parse_feed_never_panics_on_feed_shaped_text(
        body in "(<\\?xml version=\"1.0\"\\?>)?<(rss|feed|rdf:RDF)( version=\"2.0\"| xmlns=\"http://www.w3.org/2005/Atom\")?>(<channel>|<title>|<item>|<entry>|<guid>|<link>|<source url=\"[a-z:/.&;#0-9]{0,20}\">|</[a-z]{1,7}>|&[a-z#0-9]{0,8};?|[a-zé日 ]{0,8}|<!\\[CDATA\\[|\\]\\]>){0,40}",
    ) {
        let _ = parse_feed(body.as_bytes(), &base(), 100);
    }

    #[test]
    fn html_to_text_and_decode_entities_never_panic(s in "\\PC{0,300}") {
        let _ = html_to_text(&s);
        let _ = decode_entities(&s);
    }

    #[test]
    fn html_and_entity_shaped_strings_never_panic(
        s in "(<[/!]?[a-zA-Z]{0,7}[^<>]{0,6}>?|&#?[xX]?[0-9a-zA-Z]{0,10};?|[日本語é]|[ \\n\\t<>&;]){0,60}",
    ) {
        let text = html_to_text(&s);
        prop_assert!(text.lines().all(|l| l == l.trim() && !l.is_empty()), "{text:?}");
        let _ = decode_entities(&s);
    }

    #[test]
    fn canonical_url_of_a_canonical_url_is_the_same_key(url in http_url()) {
        let key = CanonicalUrl::from_url(&url);
        let again = Url::parse(&format!("{}://{}", url.scheme(), key.as_str()));
        prop_assert!(again.is_ok(), "key {key} of {url} does not parse back");
        if let Ok(again) = again {
            prop_assert_eq!(CanonicalUrl::from_url(&again), key.clone(), "{} -> {} -> {}", url, key, again);
        }
        prop_assert_eq!(CanonicalUrl::from_url(&strip_tracking(&url)), key);
    }

    #[test]
    fn canonical_url_and_strip_tracking_never_panic_on_any_parsable_url(s in "\\PC{0,120}") {
        let _ = CanonicalUrl::parse(&s);
        if let Ok(u) = Url::parse(&s) {
            let _ = CanonicalUrl::from_url(&u);
            let stripped = strip_tracking(&u);
            prop_assert!(stripped.query_pairs().all(|(k, _)| !k.to_ascii_lowercase().starts_with("utm_")));
            prop_assert_eq!(strip_tracking(&stripped), stripped.clone());
        }
    }

    #[test]
    fn strip_tracking_keeps_everything_but_tracking_parameters(url in http_url()) {
        let stripped = strip_tracking(&url);
        prop_assert_eq!(stripped.host_str(), url.host_str());
        prop_assert_eq!(stripped.path(), url.path());
        prop_assert_eq!(stripped.fragment(), url.fragment());
        let ids = |u: &Url| u.query_pairs().filter(|(k, _)| k == "id").count();
        prop_assert_eq!(ids(&stripped), ids(&url));
        prop_assert!(stripped
            .query_pairs()
            .all(|(k, _)| !k.to_ascii_lowercase().starts_with("utm_") && k != "fbclid"));
    }

    #[test]
    fn google_decoders_never_panic_on_arbitrary_text(s in "\\PC{0,400}") {
        let _ = decode_article_id(&s);
        let _ = parse_batchexecute(&s, &base());
        let _ = parse_article_page(&s);
        let _ = parse_article_page_for(&s, Some("CBMi"));
        let _ = parse_description_cluster(&s);
        let _ = normalized_title_key(&s);
        let half: String = s.chars().skip(s.chars().count() / 2).collect();
        let _ = strip_source_suffix(&s, &half);
    }

    #[test]
    fn google_decoders_never_panic_on_arbitrary_bytes_as_lossy_text(
        b in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let s = String::from_utf8_lossy(&b);
        let _ = decode_article_id(&s);
        let _ = parse_batchexecute(&s, &base());
        let _ = parse_article_page(&s);
        let _ = parse_description_cluster(&s);
    }

    #[test]
    fn strip_source_suffix_never_panics_and_never_grows(title in "\\PC{0,60}", source in "\\PC{0,20}") {
        let glued = format!("{title} - {source}");
        for t in [&title, &glued] {
            let out = strip_source_suffix(t, &source);
            prop_assert!(out.len() <= t.len());
        }
    }

    #[test]
    fn opml_parse_never_panics(s in "\\PC{0,300}") {
        let _ = newsd::opml::parse(&s);
    }

    #[test]
    fn opml_shaped_text_never_panics(
        s in "(<opml>|<body>|<outline( (xmlUrl|title|text)=(\"[^\"]{0,12}\"|'[^']{0,5}'|x)){0,3}/?>|</outline>|</body>|</opml>|&[a-z#0-9]{0,6};?|<!--|-->|<\\?x\\?>){0,20}",
    ) {
        let _ = newsd::opml::parse(&s);
    }
}

proptest! {
    // Mutated real documents are large: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn parse_feed_never_panics_on_mutated_real_google_news_feeds(
        which in 0usize..FIXTURES.len(),
        edits in prop::collection::vec(mutation(), 1..8),
    ) {
        let mut doc = FIXTURES[which].to_vec();
        for m in &edits {
            apply(&mut doc, m);
        }
        // The whole pure pipeline a poll runs: parse, then Google classification
        // (id decoding, title keys, clusters) and URL identity per entry.
        if let Ok(feed) = parse_feed(&doc, &base(), 500) {
            let edition = Edition::parse("en-US").expect("static edition");
            let google = Url::parse("https://news.google.com").expect("static url");
            for e in &feed.entries {
                let _ = newsd::poll::to_new_entry(e, &base(), &google, &edition);
            }
        }
        let text = String::from_utf8_lossy(&doc);
        let _ = parse_description_cluster(&text);
    }

    #[test]
    fn google_page_and_answer_parsers_never_panic_on_mutated_real_documents(
        edits in prop::collection::vec(mutation(), 1..8),
    ) {
        for doc in [PAGE, BATCH] {
            let mut doc = doc.as_bytes().to_vec();
            for m in &edits {
                apply(&mut doc, m);
            }
            let text = String::from_utf8_lossy(&doc);
            let _ = parse_article_page(&text);
            let _ = parse_batchexecute(&text, &base());
        }
    }
}
