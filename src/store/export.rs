//! Articles as `newsd export` writes them.

#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportArticle {
    pub id: i64,
    pub url: Option<String>,
    pub title: Option<String>,
    pub publisher: Option<String>,
    pub published_at: Option<String>,
    pub summary: Option<String>,
    pub text: Option<String>,
    /// What its fetched page was (`extract::PageKind`); None until extracted.
    pub page_kind: Option<String>,
    pub authors: Vec<String>,
    pub feeds: Vec<String>,
    pub links: Vec<String>,
    /// Tags `[[rules]]` gave it, sorted.
    pub tags: Vec<String>,
    pub first_seen_at: String,
}

/// An export row's columns that every engine reads alike; each engine's row
/// adds its article's feeds and links, stored as its engine lists them.
#[derive(sqlx::FromRow)]
pub(crate) struct ExportColumns {
    id: i64,
    url: Option<String>,
    title: Option<String>,
    publisher: Option<String>,
    published_at: Option<String>,
    summary: Option<String>,
    text: Option<String>,
    page_kind: Option<String>,
    /// A JSON array of names.
    authors: String,
    first_seen_at: String,
}

impl ExportColumns {
    /// The article with its `feeds`, `links` and `tags`; unreadable authors export as none.
    pub(crate) fn into_article(
        self,
        feeds: Vec<String>,
        links: Vec<String>,
        tags: Vec<String>,
    ) -> ExportArticle {
        ExportArticle {
            id: self.id,
            url: self.url,
            title: self.title,
            publisher: self.publisher,
            published_at: self.published_at,
            summary: self.summary,
            text: self.text,
            page_kind: self.page_kind,
            authors: serde_json::from_str(&self.authors).unwrap_or_default(),
            feeds,
            links,
            tags,
            first_seen_at: self.first_seen_at,
        }
    }
}
