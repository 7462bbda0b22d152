//! Article identity: any URL the `url` crate accepts normalizes without
//! panicking, and a canonical key normalizes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newsd::domain::{strip_tracking, CanonicalUrl};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = CanonicalUrl::parse(s);
    let _ = newsd::domain::FeedUrl::parse(s);
    let Ok(url) = url::Url::parse(s) else {
        return;
    };
    let key = CanonicalUrl::from_url(&url);
    let stripped = strip_tracking(&url);
    assert_eq!(strip_tracking(&stripped), stripped);
    if matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty()) {
        assert_eq!(CanonicalUrl::from_url(&stripped), key);
        if let Ok(again) = url::Url::parse(&format!("{}://{}", url.scheme(), key.as_str())) {
            assert_eq!(
                CanonicalUrl::from_url(&again),
                key,
                "{url} -> {key} -> {again}"
            );
        }
    }
});
