//! Story clustering on PostgreSQL.

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
    pub async fn cluster_pending(
        &self,
        now: DateTime<Utc>,
        span: chrono::Duration,
    ) -> Result<ClusterReport> {
        todo!("postgres: cluster_pending")
    }

    pub async fn list_stories(
        &self,
        after: Option<&SeenKey>,
        limit: i64,
    ) -> Result<Vec<StoryItem>> {
        todo!("postgres: list_stories")
    }

    pub async fn story(&self, id: i64) -> Result<Option<StoryItem>> {
        todo!("postgres: story")
    }
}
