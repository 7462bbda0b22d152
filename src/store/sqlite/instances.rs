//! The instance registry, singleton leases and config feed syncs on SQLite,
//! with the statements PostgreSQL runs (`store::instances`). One writer holds
//! an SQLite archive, so the queues' claims always succeed and hold nothing.

use chrono::{DateTime, Utc};

use super::SqliteStore;
use crate::store::error::Result;
use crate::store::instances::{InstanceRow, RELEASE_SINGLETONS};

impl SqliteStore {
    crate::store::instances::portable_instance_methods!(pool, writer);

    /// The live instances (on SQLite, the one writer); an SQLite archive
    /// leases no queue rows.
    pub async fn live_instances(&self, now: DateTime<Utc>) -> Result<Vec<InstanceRow>> {
        self.registered_instances(now).await
    }

    async fn release_leases(tx: &mut sqlx::SqliteConnection, name: &str) -> Result<()> {
        sqlx::query(RELEASE_SINGLETONS)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        Ok(())
    }

    /// Nothing but singleton jobs is leased on SQLite.
    async fn renew_leases(
        _tx: &mut sqlx::SqliteConnection,
        _name: &str,
        _now: DateTime<Utc>,
        _until: DateTime<Utc>,
    ) -> Result<()> {
        Ok(())
    }

    /// The one writer's claims never meet another's.
    pub async fn claim_feed(&self, _feed_id: i64, _now: DateTime<Utc>, _due: bool) -> Result<bool> {
        Ok(true)
    }

    pub async fn claim_google_links(
        &self,
        ids: &[String],
        _now: DateTime<Utc>,
    ) -> Result<Vec<String>> {
        Ok(ids.to_vec())
    }
}
