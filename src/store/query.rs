//! Listing and search, whatever the engine: what a query asks for, what it
//! returns, and how search text becomes index expressions. The SQL that runs
//! the queries is in `query_sqlite.rs`.

use chrono::{DateTime, Utc};

use crate::store::error::{Result, StoreError};
use crate::store::stats::Stats;

/// How many matches a search ranks at most: the newest that pass the
/// filters. Ranking costs a bm25 score per candidate, so this bounds a
/// search for a common word; narrower searches (fewer matches, or `since`,
/// `feed`, `publisher` filters) are ranked in full.
pub const SEARCH_CANDIDATES: i64 = 2_000;

/// Filters shared by listings, searches and feeds out. `None` = no filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArticleFilter {
    pub feed_id: Option<i64>,
    /// Exact publisher name, case-insensitive (ASCII).
    pub publisher: Option<String>,
    /// A language tag, which also finds its subtags (`en` finds `en-US`);
    /// case-insensitive.
    pub lang: Option<String>,
    /// First seen at or after.
    pub since: Option<DateTime<Utc>>,
    /// First seen before.
    pub until: Option<DateTime<Utc>>,
    pub has_text: Option<bool>,
    /// Members of one story (see `Store::cluster_pending`).
    pub story_id: Option<i64>,
    /// Articles a `[[rules]]` tag rule gave this tag (exact).
    pub tag: Option<String>,
}

/// What a listed article carries of its full text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemText {
    /// Only whether it has one (`has_text`): the text is not read.
    Flag,
    /// The text itself too (feeds out).
    Full,
}

/// Where a newest-first page ends: the last row's `(first_seen_at, id)`.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenKey {
    pub first_seen_at: String,
    pub id: i64,
}

/// Where a ranked search page ends: its last article (`id`, and its `rank`
/// then, used only if that article no longer matches). `max_id` is the
/// newest article when the first page was served: later pages never include
/// articles that arrived since, so they cannot push results across pages.
#[derive(Debug, Clone, PartialEq)]
pub struct RankKey {
    pub rank: f64,
    pub id: i64,
    pub max_id: i64,
}

/// How search results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchOrder {
    /// Best bm25 rank first (ties: newest id first), keyset-paginated.
    Rank,
    /// Newest first (feeds out); first page only.
    Newest,
}

/// What a search looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchText {
    /// Words that must all occur, in any script. Quotes, operators and
    /// parentheses in them are plain characters: no text is an error.
    Words(String),
    /// The engine's own query syntax (`newsd search --fts`, the API's
    /// `fts=true`), given to the word index as it is: FTS5 query syntax on
    /// SQLite (`semicond* OR weather`), `to_tsquery` syntax in the `simple`
    /// configuration on PostgreSQL (`semicond:* | weather`). The one input
    /// in an engine's own query language; a syntax error is
    /// [`StoreError::SearchSyntax`].
    Fts5(String),
}

impl SearchText {
    /// `text` as plain words, or as FTS5 syntax where the user asked for it.
    pub fn new(text: impl Into<String>, fts5: bool) -> Self {
        let text = text.into();
        if fts5 {
            SearchText::Fts5(text)
        } else {
            SearchText::Words(text)
        }
    }

    fn as_str(&self) -> &str {
        match self {
            SearchText::Words(t) | SearchText::Fts5(t) => t,
        }
    }

    /// Which index answers, with which expression, and the words left to a
    /// substring scan. Text without a word is [`StoreError::EmptySearch`].
    pub(super) fn text_match(&self) -> Result<TextMatch> {
        let words: Vec<&str> = self.as_str().split_whitespace().collect();
        if words.is_empty() {
            return Err(StoreError::EmptySearch);
        }
        let quoted = |words: &[&str]| words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ");
        Ok(match self {
            SearchText::Fts5(raw) => TextMatch {
                index: Some((TextIndex::Words, raw.clone())),
                likes: Vec::new(),
            },
            SearchText::Words(text) if !text.chars().any(is_unspaced_script) => TextMatch {
                index: Some((TextIndex::Words, quoted(&words))),
                likes: Vec::new(),
            },
            SearchText::Words(_) => {
                // Trigrams need three characters: shorter words are looked
                // for in the rows the index (or the filters) leave.
                let (long, short): (Vec<&str>, Vec<&str>) =
                    words.iter().partition(|w| w.chars().count() >= 3);
                TextMatch {
                    index: (!long.is_empty()).then(|| (TextIndex::Trigram, quoted(&long))),
                    likes: short.iter().map(|w| like_pattern(w)).collect(),
                }
            }
        })
    }
}

impl Default for SearchText {
    fn default() -> Self {
        SearchText::Words(String::new())
    }
}

/// Plain words: text is read as FTS5 syntax only when that is asked for.
impl From<&str> for SearchText {
    fn from(words: &str) -> Self {
        SearchText::Words(words.to_owned())
    }
}

#[derive(Debug, Clone)]
pub struct ArticleSearch {
    pub text: SearchText,
    pub order: SearchOrder,
    /// What the articles found carry of their full text.
    pub item_text: ItemText,
}

/// An article as listed: everything but the feed items' details.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ArticleItem {
    pub id: i64,
    pub url: Option<String>,
    pub title: Option<String>,
    pub summary: Option<String>,
    /// The full text, read for feeds out only ([`ItemText::Full`]); lists
    /// report `has_text` instead.
    #[serde(skip_serializing)]
    pub text: Option<String>,
    pub has_text: bool,
    pub publisher: Option<String>,
    pub publisher_url: Option<String>,
    pub authors: Vec<String>,
    pub published_at: Option<String>,
    pub first_seen_at: String,
    pub updated_at: String,
    pub feed_ids: Vec<i64>,
    /// The story it belongs to (see `Store::cluster_pending`); null until clustered.
    pub story_id: Option<i64>,
    /// Tags `[[rules]]` gave it, sorted.
    pub tags: Vec<String>,
    /// What its fetched page was (`article`, `live_blog`, `listing`, …); null
    /// until a page was extracted.
    pub page_kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rank: Option<f64>,
}

/// A search as `newsd search` asks it: the best-ranked page of matches.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    pub text: SearchText,
    pub since: Option<DateTime<Utc>>,
    pub feed_id: Option<i64>,
    /// Only articles with this tag (`[[rules]]`).
    pub tag: Option<String>,
    /// Clamped to 1-1000.
    pub limit: i64,
}

impl SearchQuery {
    /// The same search as the API asks it, and the page size.
    pub(super) fn as_article_search(&self) -> (ArticleSearch, ArticleFilter, i64) {
        let search = ArticleSearch {
            text: self.text.clone(),
            order: SearchOrder::Rank,
            item_text: ItemText::Flag,
        };
        let filter = ArticleFilter {
            feed_id: self.feed_id,
            since: self.since,
            tag: self.tag.clone(),
            ..Default::default()
        };
        (search, filter, self.limit.clamp(1, 1000))
    }
}

/// One article `newsd search` found (its `--json` line).
#[derive(Debug, Clone, serde::Serialize)]
pub struct SearchHit {
    pub id: i64,
    pub url: Option<String>,
    pub title: Option<String>,
    pub publisher: Option<String>,
    pub published_at: Option<String>,
    pub first_seen_at: String,
    pub tags: Vec<String>,
    pub snippet: Option<String>,
    pub rank: f64,
}

impl From<ArticleItem> for SearchHit {
    fn from(a: ArticleItem) -> Self {
        SearchHit {
            id: a.id,
            url: a.url,
            title: a.title,
            publisher: a.publisher,
            published_at: a.published_at,
            first_seen_at: a.first_seen_at,
            tags: a.tags,
            snippet: a.snippet,
            rank: a.rank.unwrap_or_default(),
        }
    }
}

/// One article with everything stored about it: every column of its
/// `articles` row (whatever the schema version adds), then what hangs off it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ArticleDetail {
    /// Column name to value; `authors` as a JSON array.
    #[serde(flatten)]
    pub columns: serde_json::Map<String, serde_json::Value>,
    /// Every feed entry that pointed at this article.
    pub feeds: Vec<ArticleFeedItem>,
    /// The distinct links the feeds gave, as they gave them.
    pub links: Vec<String>,
    pub google_links: Vec<ArticleGoogleLink>,
    /// Other outlets' coverage of the same story (Google's cluster).
    pub story_hints: Vec<StoryHint>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ArticleFeedItem {
    pub feed_id: i64,
    pub feed_url: String,
    pub feed_name: Option<String>,
    pub feed_title: Option<String>,
    pub entry_key: String,
    pub guid: Option<String>,
    pub link: Option<String>,
    /// The Google id of `link`, when the article has a Google link of it.
    pub google_id: Option<String>,
    pub first_seen_at: String,
    pub last_seen_at: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ArticleGoogleLink {
    pub google_id: String,
    /// How the link was placed: `decoded` (offline), `joined` (an article
    /// known through a publisher URL, or a resolved story; no lookup),
    /// `resolved` (GET + POST), `failed` (see `last_error`); `pending` until
    /// then.
    pub status: String,
    pub publisher_url: Option<String>,
    pub attempts: i64,
    /// Article-page GETs the link cost, consent retries included.
    pub gets: i64,
    pub last_error: Option<String>,
    pub first_seen_at: String,
    pub resolved_at: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct StoryHint {
    pub url: String,
    pub title: Option<String>,
    pub source: Option<String>,
}

/// What `/metrics` reports, computed at scrape time.
#[derive(Debug, Clone, Default)]
pub struct ApiMetrics {
    pub articles: i64,
    pub articles_with_text: i64,
    pub feed_items: i64,
    /// `(status, count)`; disabled feeds count as `disabled`, unpolled ones as `new`.
    pub feeds_by_status: Vec<(String, i64)>,
    pub feeds_failing: i64,
    /// Consecutive errors summed over enabled feeds.
    pub feed_consecutive_errors: i64,
    pub google_links_by_status: Vec<(String, i64)>,
    pub database_bytes: u64,
    pub schema_version: i64,
}

impl ApiMetrics {
    /// The metrics from what each engine reads: `failing` is `(feeds
    /// failing, consecutive errors summed)` over enabled feeds.
    pub(crate) fn assemble(
        stats: Stats,
        feeds_by_status: Vec<(String, i64)>,
        failing: (i64, i64),
        google_links_by_status: Vec<(String, i64)>,
        schema_version: i64,
    ) -> Self {
        let (feeds_failing, feed_consecutive_errors) = failing;
        ApiMetrics {
            articles: stats.articles,
            articles_with_text: stats.articles_with_text,
            feed_items: stats.feed_items,
            feeds_by_status,
            feeds_failing,
            feed_consecutive_errors,
            google_links_by_status,
            database_bytes: stats.database_bytes,
            schema_version,
        }
    }
}

/// The full-text indexes a search can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TextIndex {
    /// Words split at spaces and punctuation.
    Words,
    /// Every run of three characters: finds words inside unspaced scripts.
    Trigram,
}

/// How a search's text is matched (see [`SearchText::text_match`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TextMatch {
    /// The index that answers and the expression for it, in FTS5 syntax;
    /// `None` when no word is long enough for an index, and the newest
    /// [`SEARCH_CANDIDATES`] articles are scanned instead.
    pub index: Option<(TextIndex, String)>,
    /// `LIKE` patterns (escaped with `\`) of the words no index answers.
    pub likes: Vec<String>,
}

/// Scripts written without spaces between words: the word index cannot split
/// them, so they go through the trigram index (or a scan when too short).
pub(crate) fn is_unspaced_script(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0x0E00..=0x0E7F    // Thai
        | 0x20000..=0x2FA1F) // CJK extensions B+
}

/// A plain word as an FTS5 string literal: stray quotes and operators are inert.
fn quote(word: &str) -> String {
    format!("\"{}\"", word.replace('"', "\"\""))
}

/// The words of an index expression that [`SearchText::text_match`]
/// quoted for FTS5 (plain words only), as they were typed: PostgreSQL
/// builds its own query from them. Quoted words hold no whitespace, so the
/// spaces between them are exactly the separators.
pub(super) fn unquote(expr: &str) -> Vec<String> {
    expr.split(' ')
        .map(|w| {
            let inner = w
                .strip_prefix('"')
                .and_then(|w| w.strip_suffix('"'))
                .unwrap_or(w);
            inner.replace("\"\"", "\"")
        })
        .collect()
}

/// Finds `word` anywhere in a text, `%` and `_` in it included.
pub(super) fn like_pattern(word: &str) -> String {
    let escaped = word
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> TextMatch {
        SearchText::Words(text.into()).text_match().unwrap()
    }

    #[test]
    fn plain_words_are_quoted_so_operators_and_stray_quotes_are_just_words() {
        assert_eq!(
            words("chips AND \"Paris ("),
            TextMatch {
                index: Some((
                    TextIndex::Words,
                    "\"chips\" \"AND\" \"\"\"Paris\" \"(\"".into()
                )),
                likes: vec![],
            }
        );
    }

    #[test]
    fn fts5_syntax_reaches_the_word_index_as_given() {
        let m = SearchText::new("semicond* OR weather", true)
            .text_match()
            .unwrap();
        assert_eq!(
            m.index,
            Some((TextIndex::Words, "semicond* OR weather".into()))
        );
        assert!(m.likes.is_empty());
    }

    #[test]
    fn text_without_a_word_is_an_empty_search_in_either_syntax() {
        for fts5 in [false, true] {
            let err = SearchText::new(" \t ", fts5).text_match().unwrap_err();
            assert!(matches!(err, StoreError::EmptySearch), "{err}");
        }
    }

    #[test]
    fn unspaced_scripts_use_trigrams_and_leave_short_words_to_a_scan() {
        assert_eq!(
            words("大学 研究成果"),
            TextMatch {
                index: Some((TextIndex::Trigram, "\"研究成果\"".into())),
                likes: vec!["%大学%".into()],
            }
        );
        assert_eq!(
            words("天気"),
            TextMatch {
                index: None,
                likes: vec!["%天気%".into()],
            }
        );
        // One unspaced word sends them all to the trigram index, Latin ones too.
        assert_eq!(
            words("TSMC 半導体"),
            TextMatch {
                index: Some((TextIndex::Trigram, "\"TSMC\" \"半導体\"".into())),
                likes: vec![],
            }
        );
    }

    #[test]
    fn quoted_words_unquote_to_what_was_typed() {
        let m = words("chips AND \"Paris (");
        let (_, expr) = m.index.unwrap();
        assert_eq!(unquote(&expr), vec!["chips", "AND", "\"Paris", "("]);
    }

    #[test]
    fn like_patterns_match_percent_and_underscore_literally() {
        assert_eq!(like_pattern("5%_a\\b"), "%5\\%\\_a\\\\b%");
    }

    #[test]
    fn scripts_without_spaces_are_told_from_spaced_ones() {
        for c in ['清', 'の', 'カ', '한', 'ก', '𠀀'] {
            assert!(is_unspaced_script(c), "{c}");
        }
        for c in ['a', 'é', 'я', 'α', '1', '，'] {
            assert!(!is_unspaced_script(c), "{c}");
        }
    }

    #[test]
    fn a_cli_search_is_the_apis_first_ranked_page_with_its_limit_clamped() {
        let q = SearchQuery {
            text: "chips".into(),
            feed_id: Some(3),
            limit: 5_000,
            ..Default::default()
        };
        let (search, filter, limit) = q.as_article_search();
        assert_eq!(search.text, SearchText::Words("chips".into()));
        assert_eq!(search.order, SearchOrder::Rank);
        assert_eq!(filter.feed_id, Some(3));
        assert_eq!(limit, 1000);
        let q = SearchQuery { limit: 0, ..q };
        assert_eq!(q.as_article_search().2, 1);
    }
}
