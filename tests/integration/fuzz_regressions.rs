//! Replays every input in tests/fixtures/fuzz-regressions/<target>/ through
//! the same checks as the fuzz target of that name (fuzz/fuzz_targets/).

use std::path::Path;

use newsd::domain::{strip_tracking, CanonicalUrl};
use newsd::google_news as gn;
use url::Url;

fn feed_parse(data: &[u8]) {
    let base = Url::parse("https://example.com/feed.xml").expect("static url");
    if let Ok(feed) = newsd::feed::parse_feed(data, &base, 1000) {
        for e in &feed.entries {
            if let Some(html) = &e.summary_html {
                let _ = gn::parse_description_cluster(html);
            }
        }
    }
    let text = String::from_utf8_lossy(data);
    let _ = newsd::feed::html_to_text(&text);
    let _ = newsd::feed::decode_entities(&text);
    let _ = newsd::feed::discover_feed_links(&text, &base);
}

fn google_decode(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let base = Url::parse("https://news.google.com").expect("static url");
    match which % 5 {
        0 => drop(gn::decode_article_id(&text)),
        1 => drop(gn::parse_batchexecute(&text, &base)),
        2 => {
            let _ = gn::parse_article_page(&text);
            let _ = gn::parse_article_page_for(&text, Some("CBMi"));
        }
        3 => drop(gn::parse_description_cluster(&text)),
        _ => {
            let half = text.chars().count() / 2;
            let title: String = text.chars().take(half).collect();
            let source: String = text.chars().skip(half).collect();
            let _ = gn::strip_source_suffix(&title, &source);
        }
    }
}

fn url_normalize(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = CanonicalUrl::parse(s);
    let _ = newsd::domain::FeedUrl::parse(s);
    let Ok(url) = Url::parse(s) else {
        return;
    };
    let key = CanonicalUrl::from_url(&url);
    let stripped = strip_tracking(&url);
    assert_eq!(strip_tracking(&stripped), stripped);
    if matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty()) {
        assert_eq!(CanonicalUrl::from_url(&stripped), key);
        if let Ok(again) = Url::parse(&format!("{}://{}", url.scheme(), key.as_str())) {
            assert_eq!(
                CanonicalUrl::from_url(&again),
                key,
                "{url} -> {key} -> {again}"
            );
        }
    }
}

fn opml(data: &[u8]) {
    let _ = newsd::opml::parse(&String::from_utf8_lossy(data));
}

/// A fuzz target's checks over one input.
type Check = fn(&[u8]);

#[test]
fn every_saved_fuzz_input_passes_its_target_checks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz-regressions");
    let targets: [(&str, Check); 4] = [
        ("feed_parse", feed_parse),
        ("google_decode", google_decode),
        ("url_normalize", url_normalize),
        ("opml", opml),
    ];
    let mut replayed = 0;
    for (name, check) in targets {
        let Ok(dir) = std::fs::read_dir(root.join(name)) else {
            continue;
        };
        for entry in dir.flatten() {
            let data = std::fs::read(entry.path()).expect("read saved input");
            check(&data);
            replayed += 1;
        }
    }
    assert!(
        replayed >= 2,
        "the saved inputs were not found under {root:?}"
    );
}
