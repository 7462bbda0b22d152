//! The archive's headline numbers, for `newsd stats` and `/metrics`.

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Stats {
    pub feeds: i64,
    pub feeds_enabled: i64,
    pub feeds_failing: i64,
    pub articles: i64,
    pub articles_with_text: i64,
    pub feed_items: i64,
    pub database_bytes: u64,
}
