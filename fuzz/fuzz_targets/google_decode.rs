//! Google News inputs: article ids, batchexecute answers, article pages and
//! description clusters. The first byte picks the decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newsd::google_news as gn;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let Ok(base) = url::Url::parse("https://news.google.com") else {
        return;
    };
    match which % 5 {
        0 => {
            let _ = gn::decode_article_id(&text);
        }
        1 => {
            let _ = gn::parse_batchexecute(&text, &base);
        }
        2 => {
            let _ = gn::parse_article_page(&text);
            let _ = gn::parse_article_page_for(&text, Some("CBMi"));
        }
        3 => {
            let _ = gn::parse_description_cluster(&text);
        }
        _ => {
            let half = text.chars().count() / 2;
            let title: String = text.chars().take(half).collect();
            let source: String = text.chars().skip(half).collect();
            let _ = gn::strip_source_suffix(&title, &source);
        }
    }
});
