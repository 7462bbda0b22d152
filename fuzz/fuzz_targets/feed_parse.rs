//! Feed bytes as a hostile server sends them: parse, then the text helpers
//! the parser's output goes through.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(base) = url::Url::parse("https://example.com/feed.xml") else {
        return;
    };
    if let Ok(feed) = newsd::feed::parse_feed(data, &base, 1000) {
        for e in &feed.entries {
            if let Some(html) = &e.summary_html {
                let _ = newsd::google_news::parse_description_cluster(html);
            }
        }
    }
    let text = String::from_utf8_lossy(data);
    let _ = newsd::feed::html_to_text(&text);
    let _ = newsd::feed::decode_entities(&text);
    let _ = newsd::feed::discover_feed_links(&text, &base);
});
