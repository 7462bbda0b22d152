//! Stories (articles that tell the same news) as every engine lists them.

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoryItem {
    pub id: i64,
    pub title: Option<String>,
    pub size: i64,
    pub first_seen_at: String,
    pub updated_at: String,
}

/// What one `Store::cluster_pending` call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClusterReport {
    /// Articles given a story (or re-examined once their text arrived).
    pub examined: usize,
    /// Of those, the ones that joined an existing story.
    pub joined: usize,
}

pub(super) mod window;
