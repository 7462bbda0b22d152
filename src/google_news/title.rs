//! Title normalisation for provisional (pre-resolution) identity of items.

use unicode_normalization::UnicodeNormalization;

/// Normalised titles that say nothing about the story.
const GENERIC: &[&str] = &[
    "live updates",
    "live",
    "live blog",
    "breaking news",
    "latest news",
    "top stories",
    "headlines",
    "news",
    "news in brief",
    "news briefs",
    "morning briefing",
    "evening briefing",
    "latest news and updates",
    "breaking news and updates",
    "live news and updates",
    "breaking news live updates",
    "latest news live updates",
    "live updates latest news",
    "what we know so far",
    "here s what we know",
    "heres what we know",
    "top news of the day",
    "todays top stories",
    "today s top stories",
    "速報",
    "ニュース速報",
    "最新ニュース",
];

fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || (c.is_ascii_punctuation() && c != '\'')
        || matches!(
            c,
            '\u{a1}' | '\u{a6}' | '\u{a7}' | '\u{ab}' | '\u{b6}' | '\u{b7}' | '\u{bb}' | '\u{bf}'
        )
        || ('\u{2000}'..='\u{206f}').contains(&c) && !is_apostrophe(c)
        || ('\u{3000}'..='\u{303f}').contains(&c)
        || c == '\u{30fb}'
        || ('\u{ff5f}'..='\u{ff65}').contains(&c)
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{02bc}' | '`')
}

/// Scripts written without spaces between words.
fn is_spaceless_script(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30ff}'   // Hiragana, Katakana
        | '\u{3400}'..='\u{4dbf}' // CJK ext. A
        | '\u{4e00}'..='\u{9fff}' // CJK unified
        | '\u{f900}'..='\u{faff}' // CJK compatibility
        | '\u{0e00}'..='\u{0eff}' // Thai, Lao
        | '\u{1000}'..='\u{109f}' // Myanmar
        | '\u{1780}'..='\u{17ff}' // Khmer
    )
}

/// A key for matching the same headline across feeds before resolution: NFKC, lowercase,
/// apostrophes dropped, other punctuation turned into spaces, whitespace collapsed.
/// `None` when the title is too generic to identify a story: fewer than 4 words (or, for
/// titles in scripts without spaces such as Japanese or Chinese, fewer than 12 characters),
/// or a stock phrase such as "Live updates" or "Breaking news".
pub fn normalized_title_key(title: &str) -> Option<String> {
    let mut key = String::with_capacity(title.len());
    let mut pending_space = false;
    let mut chars = 0usize;
    let mut spaceless = 0usize;
    for c in title.nfkc().flat_map(char::to_lowercase) {
        if is_apostrophe(c) {
            continue;
        }
        if is_separator(c) {
            pending_space = !key.is_empty();
            continue;
        }
        if pending_space {
            key.push(' ');
            pending_space = false;
        }
        key.push(c);
        chars += 1;
        if is_spaceless_script(c) {
            spaceless += 1;
        }
    }
    if key.is_empty() || GENERIC.contains(&key.as_str()) {
        return None;
    }
    let words = key.split(' ').count();
    let long_enough = if spaceless * 2 >= chars {
        chars >= 12
    } else {
        words >= 4
    };
    long_enough.then_some(key)
}

/// The provisional identity of an article: its publisher's host (lowercase,
/// without `www.`) and its [`normalized_title_key`], as `host|title`. A
/// Google item's publisher is its `<source url>`; an entry of a publisher's
/// own feed, the host of its link. `None` for a generic title or a URL
/// without a host.
pub fn provisional_key(title: &str, publisher: &url::Url) -> Option<String> {
    let host = publisher
        .host_str()?
        .trim_start_matches("www.")
        .to_ascii_lowercase();
    Some(format!("{host}|{}", normalized_title_key(title)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provisional_key_is_the_publisher_host_and_the_normalized_title() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        assert_eq!(
            provisional_key(
                "Harbour Bridge reopens, at last!",
                &u("https://www.City.example/a/b")
            )
            .as_deref(),
            Some("city.example|harbour bridge reopens at last")
        );
        assert_eq!(
            provisional_key(
                "Harbour Bridge reopens, at last!",
                &u("https://city.example")
            ),
            provisional_key(
                "harbour bridge reopens at last",
                &u("https://www.city.example/x?y=1")
            ),
        );
        assert_eq!(
            provisional_key("Live updates", &u("https://city.example/live")),
            None
        );
        assert_eq!(
            provisional_key("Bridge reopens today", &u("mailto:a@city.example")),
            None
        );
    }

    #[test]
    fn titles_fold_case_width_and_punctuation() {
        assert_eq!(
            normalized_title_key("  Trump   again shrinks TWO national monuments — in Utah! "),
            Some("trump again shrinks two national monuments in utah".into())
        );
        assert_eq!(
            normalized_title_key("India’s TCS unit to invest up to $7.4 billion"),
            normalized_title_key("INDIA'S TCS UNIT TO INVEST UP TO $7.4 BILLION")
        );
        assert_eq!(
            normalized_title_key("ＴＳＭＣ　熊本第２工場の建設開始を発表"),
            Some("tsmc 熊本第2工場の建設開始を発表".into())
        );
    }

    #[test]
    fn japanese_titles_need_twelve_characters() {
        assert_eq!(normalized_title_key("雪の交通影響"), None);
        assert_eq!(normalized_title_key("雪 の 交通 影響 です"), None);
        assert_eq!(
            normalized_title_key("雪の交通影響 首都高・東名など通行止め JR運転見合わせも | NHK"),
            Some("雪の交通影響 首都高 東名など通行止め jr運転見合わせも nhk".into())
        );
    }

    #[test]
    fn short_or_generic_titles_have_no_key() {
        for t in [
            "",
            "  ...  ",
            "Live updates",
            "LIVE UPDATES:",
            "Breaking News",
            "Latest news",
            "Latest News and Updates",
            "What we know so far",
            "Stocks fall sharply",
            "速報",
        ] {
            assert_eq!(normalized_title_key(t), None, "{t:?}");
        }
        assert!(normalized_title_key("Live updates: Israel strikes Gaza again").is_some());
    }
}
