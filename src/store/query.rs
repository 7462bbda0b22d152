//! Listing and search: filters, pages and cursors, and what they return.

pub use super::sqlite::query::{
    ApiMetrics, ArticleDetail, ArticleFeedItem, ArticleFilter, ArticleGoogleLink, ArticleItem,
    ArticleSearch, ItemText, RankKey, SearchOrder, SeenKey, StoryHint,
};
pub use super::sqlite::search::{is_unspaced_script, SearchHit, SearchQuery};
