//! The instance registry, singleton leases and config feed syncs on
//! PostgreSQL (the statements are `store::instances`'), and the renewal and
//! release of every lease an instance holds on the queues.

use chrono::{DateTime, Utc};

use super::PostgresStore;
use crate::store::error::{Result, StoreError};
use crate::store::instances::{
    instance_row, parse_urls, urls_json, InstanceColumns, InstanceRow, LiveInstance, NewInstance,
    Singleton, CLAIM_SINGLETON, DEREGISTER, HEARTBEAT, HELD_SINGLETONS, LAST_FEED_SYNC,
    LIVE_BY_NAME, LIVE_FEED_LISTS, LIVE_INSTANCES, REGISTER, RELEASE_SINGLETONS, RENEW_SINGLETONS,
    SAVE_FEED_SYNC,
};
use crate::store::time::ts;

/// The queues whose rows an instance leases, by table.
const LEASED: [&str; 3] = ["feeds", "google_links", "alert_deliveries"];

impl PostgresStore {
    pub async fn instance_by_name(&self, name: &str) -> Result<Option<LiveInstance>> {
        let row: Option<(String, String, String, i64, String, String)> =
            sqlx::query_as(LIVE_BY_NAME)
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| LiveInstance {
            name: r.0,
            token: r.1,
            host: r.2,
            pid: r.3,
            heartbeat_at: r.4,
            lease_until: r.5,
        }))
    }

    /// Registers `me` unless a live instance holds the name; `dead` is the
    /// token of a holder known to be dead. Work the name held before (a run
    /// that died) is released for anyone to take.
    pub async fn register_instance(
        &self,
        me: &NewInstance,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        dead: Option<&str>,
    ) -> Result<bool> {
        self.writable("register an instance")?;
        let mut tx = self.pool.begin().await?;
        let got: Option<String> = sqlx::query_scalar(REGISTER)
            .bind(&me.name)
            .bind(&me.token)
            .bind(&me.host)
            .bind(i64::from(me.pid))
            .bind(&me.version)
            .bind(ts(now))
            .bind(ts(until))
            .bind(urls_json(&me.feed_urls))
            .bind(dead)
            .fetch_optional(&mut *tx)
            .await?;
        if got.is_none() {
            return Ok(false);
        }
        release_all(&mut tx, &me.name).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Says `name` is alive until `until` and renews what it holds; false
    /// when the registration is gone (another run took the name).
    pub async fn heartbeat(
        &self,
        name: &str,
        token: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool> {
        self.writable("heartbeat")?;
        let mut tx = self.pool.begin().await?;
        let alive = sqlx::query(HEARTBEAT)
            .bind(name)
            .bind(token)
            .bind(ts(now))
            .bind(ts(until))
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if alive {
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
            // A job's own lease (`extract.lease`) may be the longer one.
            sqlx::query(
                "UPDATE fulltext_jobs SET lease_until = GREATEST(lease_until, $3) \
                 WHERE leased_by = $1 AND lease_until > $2",
            )
            .bind(name)
            .bind(ts(now))
            .bind(ts(until))
            .execute(&mut *tx)
            .await?;
            sqlx::query(RENEW_SINGLETONS)
                .bind(name)
                .bind(ts(now))
                .bind(ts(until))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(alive)
    }

    /// A clean stop: the name and everything it held are free at once.
    pub async fn deregister_instance(&self, name: &str, token: &str) -> Result<()> {
        self.writable("deregister an instance")?;
        let mut tx = self.pool.begin().await?;
        let ours = sqlx::query(DEREGISTER)
            .bind(name)
            .bind(token)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if ours {
            release_all(&mut tx, name).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn claim_singleton(&self, job: Singleton, now: DateTime<Utc>) -> Result<bool> {
        self.writable("claim a singleton job")?;
        let holder = self.holder();
        let got: Option<String> = sqlx::query_scalar(CLAIM_SINGLETON)
            .bind(job.as_str())
            .bind(&holder.name)
            .bind(ts(now))
            .bind(ts(holder.until(now)))
            .fetch_optional(&self.pool)
            .await?;
        Ok(got.is_some())
    }

    /// The live instances at `now`, with what each holds.
    pub async fn live_instances(&self, now: DateTime<Utc>) -> Result<Vec<InstanceRow>> {
        let rows: Vec<InstanceColumns> = sqlx::query_as(LIVE_INSTANCES)
            .bind(ts(now))
            .fetch_all(&self.pool)
            .await?;
        let mut out: Vec<InstanceRow> = rows.into_iter().map(instance_row).collect();
        let singletons: Vec<(String, String)> = sqlx::query_as(HELD_SINGLETONS)
            .bind(ts(now))
            .fetch_all(&self.pool)
            .await?;
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
            row.singletons = singletons
                .iter()
                .filter(|(_, holder)| *holder == row.name)
                .map(|(job, _)| job.clone())
                .collect();
        }
        Ok(out)
    }

    /// The config feed URLs of every live instance but `me`.
    pub async fn other_feed_lists(&self, me: &str, now: DateTime<Utc>) -> Result<Vec<String>> {
        let lists: Vec<String> = sqlx::query_scalar(LIVE_FEED_LISTS)
            .bind(ts(now))
            .bind(me)
            .fetch_all(&self.pool)
            .await?;
        Ok(lists.iter().flat_map(|l| parse_urls(l)).collect())
    }

    pub async fn last_feed_sync(&self) -> Result<Option<(Vec<String>, String)>> {
        let row: Option<(String, String)> = sqlx::query_as(LAST_FEED_SYNC)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(urls, by)| (parse_urls(&urls), by)))
    }

    pub async fn save_feed_sync(
        &self,
        urls: &[String],
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.writable("record a feed sync")?;
        sqlx::query(SAVE_FEED_SYNC)
            .bind(urls_json(urls))
            .bind(by)
            .bind(ts(now))
            .execute(&self.pool)
            .await?;
        Ok(())
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

    /// Gives a feed back once its poll is over (stored or not).
    pub async fn release_feed(&self, feed_id: i64) -> Result<()> {
        self.writable("release a feed")?;
        sqlx::query(
            "UPDATE feeds SET leased_by = NULL, lease_until = NULL WHERE id = $1 AND leased_by = $2",
        )
        .bind(feed_id)
        .bind(&self.holder().name)
        .execute(&self.pool)
        .await?;
        Ok(())
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
