//! What a poll hands the store: its entries, already normalized by the
//! pure stages (`feed`, `google_news`), and what storing them did.

use chrono::{DateTime, Utc};

use crate::domain::{CanonicalUrl, EntryKey};
use crate::store::google_links::GoogleEntry;

/// One feed entry, ready to store.
#[derive(Debug, Clone, Default)]
pub struct NewEntry {
    /// Identity within the feed (see `domain::EntryKey`).
    pub entry_key: EntryKey,
    pub guid: Option<String>,
    /// The `<link>` exactly as the feed gave it.
    pub link: Option<String>,
    /// The URL to fetch (tracking parameters stripped).
    pub url: Option<String>,
    /// Article identity (normalized URL); `None` for entries without a link.
    pub url_key: Option<CanonicalUrl>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub publisher: Option<String>,
    pub publisher_url: Option<String>,
    pub authors: Vec<String>,
    pub published_at: Option<DateTime<Utc>>,
    /// Set for items that arrived through a Google News link.
    pub google: Option<GoogleEntry>,
    /// The provisional identity a new article of this entry is stored with
    /// (`store::identity::entry_provisional_key`), computed where entries
    /// are built (the poll's parse threads), not on the writer's.
    pub provisional_key: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollStored {
    /// Entries this feed had not shown before.
    pub new_items: usize,
    /// Articles the archive had not seen through any feed.
    pub new_articles: usize,
}
