//! The poll write path on PostgreSQL: one transaction per poll, each entry stored as the identity model says (`store::identity`).

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
    pub async fn record_poll(
        &self,
        feed_id: i64,
        entries: impl Into<Vec<NewEntry>>,
        now: DateTime<Utc>,
        update: impl Into<PollUpdate>,
    ) -> Result<PollStored> {
        todo!("postgres: record_poll")
    }
}
