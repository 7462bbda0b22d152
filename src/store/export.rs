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
    pub authors: Vec<String>,
    pub feeds: Vec<String>,
    pub links: Vec<String>,
    pub first_seen_at: String,
}
