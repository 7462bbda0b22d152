//! Story clustering rules (pure, no IO): title normalization, shingles,
//! 64-bit SimHash and the similarity decisions the store applies.
//!
//! Two articles are one story when (checked by the store in this order)
//! Google lists one in the other's related coverage, their texts are near
//! duplicates, or their titles are near-identical. The thresholds below were
//! chosen with `examples/cluster_bench.rs` (see BENCHMARKS.md).

/// Largest Hamming distance between two text SimHashes that still counts as
/// the same text. On the benchmark's pairs, lightly edited copies (byline and
/// footer added, a sentence cut, a few words changed) land at 0-19 bits and
/// different articles at 20 or more (around 32: independent bits). 12 keeps
/// most copies while a random pair falls this close with a chance of about
/// 5e-7, so a 72-hour window of ~16k candidates rarely yields a false match.
pub const TEXT_MAX_DISTANCE: u32 = 12;

/// Largest Hamming distance between two title SimHashes that still counts as
/// the same headline. Titles have few features, so a changed word moves many
/// bits: this only catches headlines that are nearly word for word the same
/// (one outlet's headline republished by another). Differently worded
/// coverage of one event (16-40 bits apart, like unrelated headlines) is left
/// to Google's related-coverage hints and to the text rule.
pub const TITLE_MAX_DISTANCE: u32 = 6;

/// Fewer tokens than this and a title says too little ("Live updates",
/// "Weather") to be matched on.
pub const MIN_TITLE_TOKENS: usize = 4;

/// Fewer tokens than this and a text is not compared (a teaser or a paywall
/// stub would match every other stub).
pub const MIN_TEXT_TOKENS: usize = 40;

/// How far apart (first seen) two articles may be and still be compared.
pub const WINDOW_HOURS: i64 = 72;

/// Whether a character is written without spaces between words (Han, kana,
/// Hangul), so it is a token on its own.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x3400..=0x4DBF    // CJK Extension A
        | 0x4E00..=0x9FFF    // CJK Unified Ideographs
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0xF900..=0xFAFF    // CJK Compatibility Ideographs
        | 0x20000..=0x2FA1F) // Extensions B and later
}

/// Lowercase tokens: runs of letters and digits, and each CJK character on
/// its own (character shingles for scripts without word spaces).
pub fn tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in s.chars() {
        if is_cjk(c) {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            out.push(c.to_string());
        } else if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// A headline without the outlet's name Google (and many feeds) append
/// ("Title - Publisher", "Title | Publisher"), as tokens.
pub fn title_tokens(title: &str) -> Vec<String> {
    let mut head = title.trim();
    for sep in [" - ", " | ", " – ", " — "] {
        if let Some(i) = head.rfind(sep) {
            let tail = &head[i + sep.len()..];
            let rest = &head[..i];
            // Only a short tail after a long enough head is an outlet name;
            // otherwise the dash is part of the headline.
            if tokens(tail).len() <= 4 && tokens(rest).len() >= MIN_TITLE_TOKENS {
                head = rest;
                break;
            }
        }
    }
    tokens(head)
}

/// Stable 64-bit hash of a feature (FNV-1a, then a SplitMix64 finalizer so
/// every output bit depends on every input bit). Stable across builds and
/// platforms because the result is stored.
fn feature_hash(parts: &[String]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h ^= 0x1f;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        for b in p.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// Charikar's SimHash: each bit is the majority vote of the features' hashes.
fn simhash<'a>(features: impl Iterator<Item = &'a [String]>) -> u64 {
    let mut votes = [0i64; 64];
    for f in features {
        let h = feature_hash(f);
        for (bit, v) in votes.iter_mut().enumerate() {
            if (h >> bit) & 1 == 1 {
                *v += 1;
            } else {
                *v -= 1;
            }
        }
    }
    votes
        .iter()
        .enumerate()
        .filter(|(_, v)| **v > 0)
        .fold(0u64, |acc, (bit, _)| acc | (1 << bit))
}

/// SimHash of a text over token 3-shingles (word 3-grams; character 3-grams
/// for CJK), or `None` for a text too short to compare.
pub fn text_simhash(text: &str) -> Option<u64> {
    let t = tokens(text);
    if t.len() < MIN_TEXT_TOKENS {
        return None;
    }
    Some(simhash(t.windows(3)))
}

/// SimHash of a headline over its single tokens and token pairs (order
/// matters a little, wording a lot), or `None` for a too short one.
pub fn title_simhash(title: &str) -> Option<u64> {
    let t = title_tokens(title);
    if t.len() < MIN_TITLE_TOKENS {
        return None;
    }
    Some(simhash(t.windows(1).chain(t.windows(2))))
}

pub fn distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

pub fn same_text(a: u64, b: u64) -> bool {
    distance(a, b) <= TEXT_MAX_DISTANCE
}

pub fn same_title(a: u64, b: u64) -> bool {
    distance(a, b) <= TITLE_MAX_DISTANCE
}

/// SQLite stores the hash as a signed 64-bit integer, bit for bit.
pub fn to_db(h: u64) -> i64 {
    i64::from_ne_bytes(h.to_ne_bytes())
}

pub fn from_db(v: i64) -> u64 {
    u64::from_ne_bytes(v.to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "The city council voted on Tuesday to approve a new budget that \
        increases spending on public transport by twelve percent, the mayor said in a \
        statement. The plan includes three new bus lines, longer opening hours for the \
        metro and a pilot program for free fares for students. Opposition members \
        criticised the cost and said the money would be better spent on road repairs \
        before the winter. The budget takes effect in January.";

    #[test]
    fn tokens_lowercase_words_and_split_cjk_into_characters() {
        assert_eq!(tokens("Hello, World 42!"), vec!["hello", "world", "42"]);
        assert_eq!(tokens("東京で地震"), vec!["東", "京", "で", "地", "震"]);
        assert_eq!(tokens("AI技術"), vec!["ai", "技", "術"]);
    }

    #[test]
    fn a_trailing_publisher_name_is_dropped_from_titles() {
        assert_eq!(
            title_tokens("Council approves new transport budget - The Daily Planet"),
            tokens("Council approves new transport budget")
        );
        // A short head keeps its dash: it is part of the headline.
        assert_eq!(
            title_tokens("Q3 - results beat forecasts"),
            tokens("Q3 results beat forecasts")
        );
    }

    #[test]
    fn the_same_headline_from_two_outlets_is_the_same_title() {
        let a = title_simhash("Council approves new transport budget - Daily Planet").unwrap();
        let b = title_simhash("Council approves new transport budget | Metro News").unwrap();
        assert!(same_title(a, b));
    }

    #[test]
    fn different_headlines_on_one_topic_are_not_the_same_title() {
        let a = title_simhash("Council approves new transport budget for next year").unwrap();
        let b = title_simhash("Opposition slams mayor over road repair delays in winter").unwrap();
        assert!(!same_title(a, b), "distance {}", distance(a, b));
    }

    #[test]
    fn short_titles_and_texts_are_not_compared() {
        assert_eq!(title_simhash("Live updates"), None);
        assert_eq!(text_simhash("Too short to say anything."), None);
    }

    #[test]
    fn a_lightly_edited_copy_is_the_same_text() {
        let edited = TEXT.replace("on Tuesday", "on Tuesday evening");
        let a = text_simhash(TEXT).unwrap();
        let b = text_simhash(&format!("By Staff Reporter. {edited}")).unwrap();
        assert!(same_text(a, b), "distance {}", distance(a, b));
    }

    #[test]
    fn a_different_text_is_not_the_same_text() {
        let other = "Scientists announced on Monday that a new species of frog had been \
            found in the rainforest, after a survey that lasted more than three years and \
            covered dozens of remote valleys. The frog is smaller than a fingernail and \
            lives in leaf litter, where its call can be mistaken for an insect. The team \
            hopes the discovery will help protect the area from logging.";
        let a = text_simhash(TEXT).unwrap();
        let b = text_simhash(other).unwrap();
        assert!(!same_text(a, b), "distance {}", distance(a, b));
    }

    #[test]
    fn cjk_copies_match_by_character_shingles() {
        let text = "東京都は火曜日、公共交通機関への支出を増やす新しい予算案を承認したと市長が声明で発表した。\
            計画には新しいバス路線三本、地下鉄の営業時間延長、学生向け運賃無料化の試験事業が含まれる。";
        let edited = format!("{text}（共同）");
        let a = text_simhash(text).unwrap();
        let b = text_simhash(&edited).unwrap();
        assert!(same_text(a, b), "distance {}", distance(a, b));
    }

    #[test]
    fn hashes_survive_the_round_trip_through_a_signed_column() {
        for h in [0, 1, u64::MAX, 1 << 63, 0x0123_4567_89ab_cdef] {
            assert_eq!(from_db(to_db(h)), h);
        }
    }

    #[test]
    fn the_feature_hash_is_stable_because_it_is_stored() {
        assert_eq!(
            simhash([vec!["a".to_owned()]].iter().map(Vec::as_slice)),
            feature_hash(&["a".to_owned()])
        );
        assert_eq!(
            feature_hash(&["newsd".to_owned()]),
            feature_hash(&["newsd".to_owned()])
        );
    }
}
