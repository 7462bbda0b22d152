//! Subscriptions as SQL on PostgreSQL: config sync, the CLI's and API's feed changes, the due-feed queries, and the feed row updates of a poll.

#![allow(
    unused_variables,
    unused_imports,
    dead_code,
    clippy::too_many_arguments
)] // SKELETON: remove when implemented

use chrono::{DateTime, Utc};

use super::PostgresStore;
use crate::store::*;

impl PostgresStore {
    pub async fn sync_config_feeds(
        &self,
        feeds: &[NewFeed],
        now: DateTime<Utc>,
    ) -> Result<SyncReport> {
        todo!("postgres: sync_config_feeds")
    }

    pub async fn add_feed(
        &self,
        feed: &NewFeed,
        origin: &str,
        now: DateTime<Utc>,
    ) -> Result<(FeedRow, bool)> {
        todo!("postgres: add_feed")
    }

    pub async fn find_feed(&self, id_or_url: &str) -> Result<Option<FeedRow>> {
        todo!("postgres: find_feed")
    }

    pub async fn feed_by_id(&self, id: i64) -> Result<Option<FeedRow>> {
        todo!("postgres: feed_by_id")
    }

    pub async fn remove_feed(&self, id_or_url: &str) -> Result<RemoveOutcome> {
        todo!("postgres: remove_feed")
    }

    pub async fn set_feed_enabled(
        &self,
        id_or_url: &str,
        enabled: bool,
        now: DateTime<Utc>,
    ) -> Result<FeedRow> {
        todo!("postgres: set_feed_enabled")
    }

    pub async fn list_feeds(&self) -> Result<Vec<FeedRow>> {
        todo!("postgres: list_feeds")
    }

    pub async fn due_feeds(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<FeedRow>> {
        todo!("postgres: due_feeds")
    }

    pub async fn enabled_feeds(&self) -> Result<Vec<FeedRow>> {
        todo!("postgres: enabled_feeds")
    }

    pub async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>> {
        todo!("postgres: next_due_at")
    }

    pub async fn due_feeds_page(
        &self,
        now: DateTime<Utc>,
        after: Option<&FeedRow>,
        limit: u32,
    ) -> Result<Vec<FeedRow>> {
        todo!("postgres: due_feeds_page")
    }

    pub async fn next_due_after(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
        todo!("postgres: next_due_after")
    }

    pub async fn record_poll_outcome(&self, feed_id: i64, update: &FeedUpdate) -> Result<()> {
        todo!("postgres: record_poll_outcome")
    }
}

/// Applies one poll's feed row update inside the poll's transaction.
pub(super) async fn apply_feed_update(
    conn: &mut sqlx::PgConnection,
    feed_id: i64,
    update: &FeedUpdate,
) -> Result<()> {
    todo!("postgres: feeds::apply_feed_update")
}
