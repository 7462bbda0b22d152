//! The instance registry, singleton leases and config feed syncs on
//! PostgreSQL (the statements are `store::instances`'), and the renewal and
//! release of every lease an instance holds on the queues.

use chrono::{DateTime, Utc};

use super::PostgresStore;
use crate::store::error::{Result, StoreError};
use crate::store::instances::{InstanceRow, RELEASE_SINGLETONS};
use crate::store::time::ts;

/// The queues whose rows an instance leases, by table.
const LEASED: [&str; 3] = ["feeds", "google_links", "alert_deliveries"];

impl PostgresStore {
    crate::store::instances::portable_instance_methods!(pool, pool);

    async fn release_leases(tx: &mut sqlx::PgConnection, name: &str) -> Result<()> {
        release_all(tx, name).await
    }

    /// The claims on the queues, renewed; a full-text job's own lease
    /// (`extract.lease`) may be the longer one.
    async fn renew_leases(
        tx: &mut sqlx::PgConnection,
        name: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<()> {
        for table in LEASED {
            sqlx::query(&format!(
                "UPDATE {table} SET lease_until = $3 WHERE leased_by = $1 AND lease_until > $2"
            ))
            .bind(name)
            .bind(ts(now))
            .bind(ts(until))
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE fulltext_jobs SET lease_until = GREATEST(lease_until, $3) \
             WHERE leased_by = $1 AND lease_until > $2",
        )
        .bind(name)
        .bind(ts(now))
        .bind(ts(until))
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    /// The live instances at `now`, with what each holds.
    pub async fn live_instances(&self, now: DateTime<Utc>) -> Result<Vec<InstanceRow>> {
        let mut out = self.registered_instances(now).await?;
        let held: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT name, \
               (SELECT count(*) FROM feeds WHERE leased_by = i.name AND lease_until > $1), \
               (SELECT count(*) FROM google_links WHERE leased_by = i.name AND lease_until > $1), \
               (SELECT count(*) FROM fulltext_jobs WHERE leased_by = i.name AND lease_until > $1), \
               (SELECT count(*) FROM alert_deliveries WHERE leased_by = i.name AND lease_until > $1) \
             FROM instances i WHERE lease_until > $1",
        )
        .bind(ts(now))
        .fetch_all(&self.pool)
        .await?;
        for row in &mut out {
            if let Some(h) = held.iter().find(|h| h.0 == row.name) {
                (
                    row.feeds,
                    row.google_links,
                    row.fulltext_jobs,
                    row.deliveries,
                ) = (h.1, h.2, h.3, h.4);
            }
        }
        Ok(out)
    }

    /// Claims a feed for this instance's poll: false when another instance
    /// holds it, or, with `due`, when it is no longer due (another instance
    /// polled it since it was read).
    pub async fn claim_feed(&self, feed_id: i64, now: DateTime<Utc>, due: bool) -> Result<bool> {
        self.writable("claim a feed")?;
        let holder = self.holder();
        Ok(sqlx::query(
            "UPDATE feeds SET leased_by = $2, lease_until = $3 WHERE id = $1 AND enabled \
             AND (lease_until IS NULL OR lease_until <= $4 OR leased_by = $2) \
             AND (NOT $5 OR next_poll_at <= $4)",
        )
        .bind(feed_id)
        .bind(&holder.name)
        .bind(ts(holder.until(now)))
        .bind(ts(now))
        .bind(due)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    /// Claims the pending Google links among `ids` that no other instance
    /// holds; returns the ones claimed.
    pub async fn claim_google_links(
        &self,
        ids: &[String],
        now: DateTime<Utc>,
    ) -> Result<Vec<String>> {
        self.writable("claim Google links")?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let holder = self.holder();
        Ok(sqlx::query_scalar(
            "UPDATE google_links SET leased_by = $2, lease_until = $3 \
             WHERE google_id = ANY($1) AND status = 'pending' \
             AND (lease_until IS NULL OR lease_until <= $4 OR leased_by = $2) RETURNING google_id",
        )
        .bind(ids)
        .bind(&holder.name)
        .bind(ts(holder.until(now)))
        .bind(ts(now))
        .fetch_all(&self.pool)
        .await?)
    }
}

async fn release_all(tx: &mut sqlx::PgConnection, name: &str) -> Result<()> {
    for table in LEASED {
        sqlx::query(&format!(
            "UPDATE {table} SET leased_by = NULL, lease_until = NULL WHERE leased_by = $1"
        ))
        .bind(name)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "UPDATE fulltext_jobs SET leased_by = NULL, lease_until = NULL WHERE leased_by = $1",
    )
    .bind(name)
    .execute(&mut *tx)
    .await?;
    sqlx::query(RELEASE_SINGLETONS)
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
    Ok(())
}
