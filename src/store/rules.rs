//! What `[[rules]]` write (the decisions are `crate::rules`): a poll's
//! blocked entries and tags, and `newsd rules apply` over stored articles.

/// A poll's rulings, written after its entries (`Store::record_rulings`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rulings {
    /// Entry keys of the feed not stored: each gets an `entry` tombstone.
    pub blocked: Vec<String>,
    /// (entry key, tag): the tag goes to the entry's article.
    pub tagged: Vec<(String, String)>,
}

impl Rulings {
    pub fn is_empty(&self) -> bool {
        self.blocked.is_empty() && self.tagged.is_empty()
    }
}

/// A stored article as the rules see it, with its feeds and tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuledArticle {
    pub id: i64,
    pub title: Option<String>,
    pub url: Option<String>,
    pub publisher: Option<String>,
    pub summary: Option<String>,
    pub text: Option<String>,
    pub first_seen_at: String,
    /// (feed id, feed URL) of each feed linking it.
    pub feeds: Vec<(i64, String)>,
    pub tags: Vec<String>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct RuledColumns {
    pub(crate) id: i64,
    title: Option<String>,
    url: Option<String>,
    publisher: Option<String>,
    summary: Option<String>,
    text: Option<String>,
    first_seen_at: String,
}

/// The columns of [`RuledColumns`], of `articles a`.
pub(crate) const RULED_COLUMNS: &str =
    "a.id, a.title, a.url, a.publisher, a.summary, a.text, a.first_seen_at";

/// Articles with their feeds and tags, from rows of (article id, feed id,
/// feed URL) and (article id, tag).
pub(crate) fn ruled_articles(
    rows: Vec<RuledColumns>,
    feeds: &[(i64, i64, String)],
    tags: &[(i64, String)],
) -> Vec<RuledArticle> {
    rows.into_iter()
        .map(|r| RuledArticle {
            feeds: feeds
                .iter()
                .filter(|f| f.0 == r.id)
                .map(|f| (f.1, f.2.clone()))
                .collect(),
            tags: tags
                .iter()
                .filter(|t| t.0 == r.id)
                .map(|t| t.1.clone())
                .collect(),
            id: r.id,
            title: r.title,
            url: r.url,
            publisher: r.publisher,
            summary: r.summary,
            text: r.text,
            first_seen_at: r.first_seen_at,
        })
        .collect()
}

/// What removing an article's links did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Links of other feeds remain: the article stays.
    Unlinked,
    /// No link remained: the article is deleted, with its tombstones.
    Deleted,
    /// The article was not there (already removed).
    Missing,
}
