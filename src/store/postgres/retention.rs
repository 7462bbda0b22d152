//! Retention on PostgreSQL: pruning beyond the policy, with tombstones.

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
    pub async fn prune(
        &self,
        now: DateTime<Utc>,
        policy: &RetentionPolicy,
        dry_run: bool,
    ) -> Result<PruneReport> {
        todo!("postgres: prune")
    }
}
