//! The full-text queue's jobs and what extraction stored, as every engine
//! returns them.

use chrono::{DateTime, Utc};

#[derive(Debug, Clone)]
pub struct FulltextJob {
    pub article_id: i64,
    pub url: String,
    pub summary: Option<String>,
    pub attempts: i64,
}

/// What extraction produced, as stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArticleContent {
    pub text: String,
    pub html: Option<String>,
    pub title: Option<String>,
    pub authors: Vec<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub modified_at: Option<DateTime<Utc>>,
    pub lang: Option<String>,
    pub lead_image: Option<String>,
    pub canonical_url: Option<String>,
    pub site_name: Option<String>,
    pub word_count: i64,
    /// What the page was; None from callers that did not classify it.
    pub page_kind: Option<crate::extract::PageKind>,
}

/// An article's full-text state, as `newsd reextract` compares it with a
/// new extraction.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct TextState {
    pub summary: Option<String>,
    pub text: Option<String>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FulltextStats {
    pub pending: i64,
    pub done: i64,
    pub other: Vec<(String, i64)>,
}

impl FulltextStats {
    /// The stats from `(status, job count)` rows, one per status; `pending`
    /// and `done` get their own fields, every other status is listed in
    /// the rows' order.
    pub(crate) fn from_counts(rows: Vec<(String, i64)>) -> Self {
        let mut s = FulltextStats::default();
        for (status, n) in rows {
            match status.as_str() {
                "pending" => s.pending = n,
                "done" => s.done = n,
                _ => s.other.push((status, n)),
            }
        }
        s
    }
}

/// Where an article's full-text job stands, stored as its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FulltextStatus {
    Pending,
    Done,
    /// robots.txt disallows fetching the page.
    Disallowed,
    NotHtml,
    NotFound,
    /// The SSRF guard refused the address.
    Blocked,
    TooLarge,
    ConsentWall,
    BotCheck,
    LoginWall,
    EmptyShell,
    NotArticle,
    /// The page's text is no better than the feed's summary.
    Teaser,
    Failed,
}

impl FulltextStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FulltextStatus::Pending => "pending",
            FulltextStatus::Done => "done",
            FulltextStatus::Disallowed => "disallowed",
            FulltextStatus::NotHtml => "not_html",
            FulltextStatus::NotFound => "not_found",
            FulltextStatus::Blocked => "blocked",
            FulltextStatus::TooLarge => "too_large",
            FulltextStatus::ConsentWall => "consent_wall",
            FulltextStatus::BotCheck => "bot_check",
            FulltextStatus::LoginWall => "login_wall",
            FulltextStatus::EmptyShell => "empty_shell",
            FulltextStatus::NotArticle => "not_article",
            FulltextStatus::Teaser => "teaser",
            FulltextStatus::Failed => "failed",
        }
    }
}

/// A refused page's kind recorded and any text it had dropped (`$1` the
/// article, `$2` the kind, `$3` now). Portable (`$n`): both engines run it.
pub(crate) const REFUSE_FULLTEXT: &str = "UPDATE articles SET page_kind = $2, \
    text = NULL, html = NULL, word_count = NULL, updated_at = $3 WHERE id = $1";

/// The columns of [`TextState`] for article `$1`. Portable.
pub(crate) const TEXT_STATE: &str = "SELECT summary, text FROM articles WHERE id = $1";

/// A raw page as every engine stores it (`raw_pages.body_gz`).
pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

/// A stored raw page's body.
pub(crate) fn gunzip(data: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    let _ = flate2::read::GzDecoder::new(data).read_to_end(&mut out);
    out
}
