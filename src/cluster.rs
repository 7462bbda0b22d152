//! Story clustering rules (pure, no IO): title normalization, shingles,
//! 64-bit SimHash and the similarity decisions the store applies.
//!
//! Two articles are one story when (checked by the store in this order)
//! Google lists one in the other's related coverage, their texts are near
//! duplicates, or their headlines share enough rare content words (weighted
//! by how rare each word is among the headlines of the comparison window).
//! The thresholds below were chosen with `examples/cluster_bench.rs` (see
//! BENCHMARKS.md).

use std::collections::HashMap;

/// Largest Hamming distance between two text SimHashes that still counts as
/// the same text. On the benchmark's pairs, lightly edited copies (byline and
/// footer added, a sentence cut, a few words changed) land at 0-19 bits and
/// different articles at 20 or more (around 32: independent bits). 12 keeps
/// most copies while a random pair falls this close with a chance of about
/// 5e-7, so a 72-hour window of ~16k candidates rarely yields a false match.
pub const TEXT_MAX_DISTANCE: u32 = 12;

/// Largest Hamming distance between two title SimHashes that still counts as
/// the same headline. No longer what the store decides by (it never matched
/// a pair of Google's differently worded headlines: see
/// [`title_similarity`]); the hashes are still stored. Titles have few features, so a changed word moves many
/// bits: this only catches headlines that are nearly word for word the same
/// (one outlet's headline republished by another). Differently worded
/// coverage of one event (16-40 bits apart, like unrelated headlines) is left
/// to Google's related-coverage hints and to the text rule.
pub const TITLE_MAX_DISTANCE: u32 = 6;

/// Headlines with fewer content words than this are not compared by words.
pub const MIN_TITLE_TERMS: usize = 3;

/// Two headlines must share at least this many content words...
pub const MIN_SHARED_TERMS: usize = 2;

/// ...whose weights (see [`TitleIdf`]) add up to at least this many
/// "words seen once in the window" (three rare names, or more common words):
/// common words alone ("black friday deals", "week 11 nfl") never join two
/// stories...
pub const MIN_SHARED_WEIGHT: f64 = 3.0;

/// ...and make up at least this share of the weight of the words of both
/// headlines (weighted Jaccard). Chosen on Google's related-coverage lists
/// (`examples/cluster_bench.rs`): precision 0.964, recall 0.127 there; 2.0
/// and 0.25 gave 0.931 / 0.169, letting in same-topic headlines of different
/// events (deal roundups, daily war updates), and precision comes first.
pub const MIN_TITLE_SIMILARITY: f64 = 0.25;

/// Fewer tokens than this and a title says too little ("Live updates",
/// "Weather") to be matched on.
pub const MIN_TITLE_TOKENS: usize = 4;

/// Fewer tokens than this and a text is not compared (a teaser or a paywall
/// stub would match every other stub).
pub const MIN_TEXT_TOKENS: usize = 40;

/// How far apart (first seen) two articles may be and still be compared, by
/// default (`stories.window`).
pub const WINDOW_HOURS: i64 = 72;

pub fn default_window() -> chrono::Duration {
    chrono::Duration::hours(WINDOW_HOURS)
}

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

fn is_hiragana(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x309F)
}

/// Words that say nothing about which event a headline reports.
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "also", "amid", "an", "and", "are", "as", "at", "be", "been", "before",
    "being", "but", "by", "can", "could", "did", "do", "does", "for", "from", "had", "has", "have",
    "he", "her", "his", "how", "i", "if", "in", "into", "is", "it", "its", "just", "may", "might",
    "more", "most", "new", "no", "not", "of", "on", "or", "our", "out", "over", "said", "say",
    "says", "she", "so", "than", "that", "the", "their", "then", "these", "they", "this", "those",
    "to", "under", "up", "via", "vs", "was", "we", "were", "what", "when", "where", "which",
    "while", "who", "why", "will", "with", "would", "you", "your",
];

/// A headline's content words, sorted and distinct: tokens without the
/// outlet's name (also Japanese `｜outlet`, `：outlet`, `（outlet）`), stop
/// words and one-letter words; runs of CJK characters as character pairs
/// (pairs containing hiragana, mostly grammar, are dropped).
pub fn title_terms(title: &str) -> Vec<String> {
    let mut head = title.trim();
    for sep in [" - ", " | ", " – ", " — ", "｜", "："] {
        if let Some(i) = head.rfind(sep) {
            let (rest, tail) = (&head[..i], &head[i + sep.len()..]);
            // An outlet name is short and follows a longer headline.
            if tail.chars().count() <= 40
                && rest.chars().count() >= tail.chars().count()
                && tokens(rest).len() >= MIN_TITLE_TERMS
            {
                head = rest.trim_end();
            }
        }
    }
    if head.ends_with('）') {
        if let Some(i) = head.rfind('（') {
            if head[i..].chars().count() <= 22 && i > 0 {
                head = head[..i].trim_end();
            }
        }
    }
    let mut out = Vec::new();
    let mut prev: Option<char> = None;
    for t in tokens(head) {
        let mut chars = t.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if is_cjk(c) => {
                if let Some(p) = prev.filter(|p| !is_hiragana(*p) && !is_hiragana(c)) {
                    out.push(format!("{p}{c}"));
                }
                prev = Some(c);
            }
            _ => {
                prev = None;
                if t.chars().count() >= 2 && STOP_WORDS.binary_search(&t.as_str()).is_err() {
                    out.push(t);
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// How rare each content word is among the headlines of a comparison
/// window: a word in every other headline ("live", "2024") weighs little, a
/// name seen once weighs most.
const MIN_WINDOW: u32 = 1_000;

#[derive(Debug, Default, Clone)]
pub struct TitleIdf {
    df: HashMap<String, u32>,
    n: u32,
}

impl TitleIdf {
    pub fn add(&mut self, terms: &[String]) {
        self.n += 1;
        for t in terms {
            *self.df.entry(t.clone()).or_default() += 1;
        }
    }

    /// `ln((n + 1) / (df + 0.5))` for `n` headlines of which `df` have the
    /// word, in units of `ln(n + 1)` so thresholds
    /// mean the same in a window of 300 headlines or 30,000: a word seen
    /// once weighs a little under 1.
    pub fn weight(&self, term: &str) -> f64 {
        term_weight(self.n, self.df.get(term).copied().unwrap_or(0))
    }
}

/// The weight [`TitleIdf::weight`] gives a word found in `df` of `n`
/// headlines; for callers that count words themselves.
pub fn term_weight(n: u32, df: u32) -> f64 {
    // A small archive counts as a window of MIN_WINDOW headlines (the
    // rest without the word): otherwise two copies of one headline in a
    // window of three make every word common and nothing matches.
    let n = f64::from(n.max(MIN_WINDOW)) + 1.0;
    let df = f64::from(df) + 0.5;
    ((n / df).ln() / n.ln().max(1.0)).max(0.0)
}

/// Which of a headline's content words (given by their weights) any headline
/// that [`title_similarity`] accepts as a match must share at least one of,
/// as indexes into `weights`; empty when no headline can match.
///
/// The lightest words whose weights add up to less than
/// [`MIN_SHARED_WEIGHT`] can be left out: a headline sharing nothing but
/// some of them shares too little weight to match. So a candidate search
/// only needs the headlines that share one of the remaining, rarer words,
/// and finds every match a scan of all headlines would.
pub fn decisive_terms(weights: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|a, b| weights[*a].total_cmp(&weights[*b]));
    // The margin covers rounding: the similarity adds the shared weights in
    // another order than this sum does.
    const MARGIN: f64 = 1e-9;
    let mut light = 0.0;
    let mut skipped = 0;
    for &i in &order {
        if light + weights[i] + MARGIN >= MIN_SHARED_WEIGHT {
            break;
        }
        light += weights[i];
        skipped += 1;
    }
    if skipped == order.len() {
        // Even all of its words together weigh too little.
        return Vec::new();
    }
    order.split_off(skipped)
}

/// Weighted Jaccard similarity of two headlines' content words (sorted,
/// distinct, from [`title_terms`]), or `None` when they do not share enough
/// rare words to count as one event (see the thresholds above).
pub fn title_similarity(a: &[String], b: &[String], idf: &TitleIdf) -> Option<f64> {
    title_similarity_by(a, b, Ord::cmp, |t| idf.weight(t))
}

/// [`title_similarity`] over words in any representation (the store's are
/// interned): `cmp` orders them as their text does, `weight` weighs them as
/// [`TitleIdf::weight`] would.
pub fn title_similarity_by<T>(
    a: &[T],
    b: &[T],
    cmp: impl Fn(&T, &T) -> std::cmp::Ordering,
    weight: impl Fn(&T) -> f64,
) -> Option<f64> {
    if a.len() < MIN_TITLE_TERMS || b.len() < MIN_TITLE_TERMS {
        return None;
    }
    // Most pairs in a window share no word or one: counted first, without
    // weighing anything.
    if shared_count(a, b, &cmp) < MIN_SHARED_TERMS {
        return None;
    }
    let (mut i, mut j) = (0, 0);
    let (mut shared, mut shared_weight, mut union_weight) = (0, 0.0, 0.0);
    while i < a.len() || j < b.len() {
        let ord = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => cmp(x, y),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        match ord {
            std::cmp::Ordering::Equal => {
                let w = weight(&a[i]);
                shared += 1;
                shared_weight += w;
                union_weight += w;
                i += 1;
                j += 1;
            }
            std::cmp::Ordering::Less => {
                union_weight += weight(&a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                union_weight += weight(&b[j]);
                j += 1;
            }
        }
    }
    if shared < MIN_SHARED_TERMS || shared_weight < MIN_SHARED_WEIGHT || union_weight <= 0.0 {
        return None;
    }
    let sim = shared_weight / union_weight;
    (sim >= MIN_TITLE_SIMILARITY).then_some(sim)
}

/// How many words two sorted, distinct lists share.
fn shared_count<T>(a: &[T], b: &[T], cmp: impl Fn(&T, &T) -> std::cmp::Ordering) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match cmp(&a[i], &b[j]) {
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
        }
    }
    n
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

/// Text SimHashes are looked up by bands (multi-index hashing): the 64 bits
/// split into this many bands of 16...
pub const TEXT_BANDS: usize = 4;

/// ...and two hashes within [`TEXT_MAX_DISTANCE`] bits of each other differ
/// in at most this many bits of at least one band (pigeonhole: were every
/// band 4 or more bits apart, the hashes would be 16 or more apart). So
/// looking up each band's value and its neighbours within this distance
/// finds every near duplicate: 697 probes per band, each into a bucket of
/// about 1/65,536 of the texts.
pub const TEXT_BAND_RADIUS: u32 = TEXT_MAX_DISTANCE / TEXT_BANDS as u32;

const _: () = assert!((TEXT_BAND_RADIUS + 1) * TEXT_BANDS as u32 > TEXT_MAX_DISTANCE);
const _: () = assert!(TEXT_BANDS * 16 == 64);

/// The bands of a text SimHash, as [`TEXT_BANDS`] 16-bit values.
pub fn text_bands(h: u64) -> [u16; TEXT_BANDS] {
    std::array::from_fn(|b| (h >> (16 * b)) as u16)
}

/// Every 16-bit mask of at most [`TEXT_BAND_RADIUS`] set bits: a band's
/// value XOR each of these is every value a near duplicate's band can take.
pub fn text_band_probes() -> &'static [u16] {
    static PROBES: std::sync::LazyLock<Vec<u16>> = std::sync::LazyLock::new(|| {
        (0..=u16::MAX)
            .filter(|m| m.count_ones() <= TEXT_BAND_RADIUS)
            .collect()
    });
    &PROBES
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

    /// A small deterministic generator, so the tests need no dependency.
    fn next(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        feature_hash(&[state.to_string()])
    }

    #[test]
    fn every_text_within_the_distance_shares_a_probed_band_value() {
        let probes = text_band_probes();
        assert_eq!(probes.len(), 1 + 16 + 120 + 560);
        // The worst case: 3 bits off in every band, 12 in all.
        let spread = 0x0007_0007_0007_0007u64;
        assert!(same_text(0, spread));
        let (ba, bb) = (text_bands(0), text_bands(spread));
        assert!((0..TEXT_BANDS).any(|i| probes.contains(&(ba[i] ^ bb[i]))));
        let mut state = 7;
        for _ in 0..20_000 {
            let a = next(&mut state);
            // Flip up to TEXT_MAX_DISTANCE random bits (some may repeat).
            let flips = next(&mut state) % u64::from(TEXT_MAX_DISTANCE + 1);
            let mut b = a;
            for _ in 0..flips {
                b ^= 1 << (next(&mut state) % 64);
            }
            assert!(same_text(a, b));
            let (ba, bb) = (text_bands(a), text_bands(b));
            assert!(
                (0..TEXT_BANDS).any(|i| probes.contains(&(ba[i] ^ bb[i]))),
                "{a:x} / {b:x}"
            );
        }
    }

    #[test]
    fn every_accepted_headline_shares_a_decisive_word() {
        // Headlines about a few events (each named by a few rarer words,
        // some shared between events) plus common words, so that many pairs
        // share words and some are accepted.
        let mut state = 11;
        let events: Vec<Vec<u64>> = (0..40)
            .map(|_| (0..6).map(|_| next(&mut state) % 200).collect())
            .collect();
        let mut titles = Vec::new();
        for _ in 0..400 {
            let event = &events[(next(&mut state) % 40) as usize];
            let mut t: Vec<String> = event
                .iter()
                .filter(|_| !next(&mut state).is_multiple_of(4))
                .map(|w| format!("rare{w}"))
                .collect();
            for _ in 0..next(&mut state) % 4 {
                t.push(format!("common{}", next(&mut state) % 10));
            }
            t.sort();
            t.dedup();
            titles.push(t);
        }
        let mut idf = TitleIdf::default();
        for t in &titles {
            idf.add(t);
        }
        let mut accepted = 0;
        for a in &titles {
            let weights: Vec<f64> = a.iter().map(|t| idf.weight(t)).collect();
            let decisive = decisive_terms(&weights);
            for b in &titles {
                if title_similarity(a, b, &idf).is_some() {
                    accepted += 1;
                    assert!(decisive.iter().any(|i| b.contains(&a[*i])), "{a:?} / {b:?}");
                }
            }
        }
        assert!(
            accepted > 400,
            "only {accepted} accepted pairs: the test says little"
        );
    }

    #[test]
    fn stop_words_are_sorted_for_the_binary_search() {
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
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
    fn window(titles: &[&str]) -> TitleIdf {
        let mut idf = TitleIdf::default();
        for t in titles {
            idf.add(&title_terms(t));
        }
        idf
    }

    #[test]
    fn title_terms_drop_outlets_stop_words_and_hiragana_pairs() {
        assert_eq!(
            title_terms("The plague: In China, 2 patients are diagnosed - CNN"),
            vec!["china", "diagnosed", "patients", "plague"]
        );
        assert_eq!(
            title_terms("雪の影響で中央線が運転見合わせ：朝日新聞デジタル"),
            vec!["中央", "央線", "影響", "見合", "転見", "運転"]
        );
    }

    #[test]
    fn differently_worded_headlines_naming_the_same_rare_things_are_one_story() {
        let a = "Two people diagnosed with pneumonic plague in China - BBC";
        let b = "China confirms two cases of pneumonic plague in Inner Mongolia - Reuters";
        let idf = window(&[a, b, "Stocks rally as China trade talks resume"]);
        let sim = title_similarity(&title_terms(a), &title_terms(b), &idf);
        assert!(sim.is_some(), "{:?} / {:?}", title_terms(a), title_terms(b));
    }

    #[test]
    fn headlines_sharing_only_common_words_are_not_one_story() {
        let a = "Walmart Black Friday deals are already here";
        let b = "Best Black Friday phone deals: iPhone 11 Pro and more";
        // A window where "black", "friday" and "deals" are everywhere.
        let mut titles = vec![a, b];
        titles.extend(std::iter::repeat_n(
            "Black Friday deals on TVs and laptops",
            50,
        ));
        let idf = window(&titles);
        assert_eq!(
            title_similarity(&title_terms(a), &title_terms(b), &idf),
            None
        );
    }

    #[test]
    fn the_same_headline_matches_even_in_a_tiny_archive() {
        let a = "Council approves new transport budget for next year - Daily Planet";
        let b = "Council approves new transport budget for next year | Metro News";
        let idf = window(&[a, b]);
        assert!(title_similarity(&title_terms(a), &title_terms(b), &idf).is_some());
        let short = window(&["Live updates", "Live updates"]);
        assert_eq!(
            title_similarity(
                &title_terms("Live updates"),
                &title_terms("Live updates"),
                &short
            ),
            None
        );
    }
}
