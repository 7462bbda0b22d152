//! The full-text queue's jobs and what extraction stored, as every engine
//! returns them.

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FulltextJob {
    pub article_id: i64,
    pub url: String,
    pub summary: Option<String>,
    pub attempts: i64,
}

/// What extraction produced, as stored.
#[derive(Debug, Clone, Default)]
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
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FulltextStats {
    pub pending: i64,
    pub done: i64,
    pub other: Vec<(String, i64)>,
}
