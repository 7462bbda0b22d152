//! The instance registry, singleton leases and config feed syncs on SQLite,
//! with the statements PostgreSQL runs (`store::instances`). One writer holds
//! an SQLite archive, so the queues' claims always succeed and hold nothing.

use chrono::{DateTime, Utc};

use super::SqliteStore;
use crate::store::error::Result;
use crate::store::instances::{
    instance_row, parse_urls, urls_json, InstanceColumns, InstanceRow, LiveInstance, NewInstance,
    Singleton, CLAIM_SINGLETON, DEREGISTER, HEARTBEAT, HELD_SINGLETONS, LAST_FEED_SYNC,
    LIVE_BY_NAME, LIVE_FEED_LISTS, LIVE_INSTANCES, REGISTER, RELEASE_SINGLETONS, RENEW_SINGLETONS,
    SAVE_FEED_SYNC,
};
use crate::store::time::ts;

impl SqliteStore {
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

    pub async fn register_instance(
        &self,
        me: &NewInstance,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        dead: Option<&str>,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
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
        sqlx::query(RELEASE_SINGLETONS)
            .bind(&me.name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn heartbeat(
        &self,
        name: &str,
        token: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
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

    pub async fn deregister_instance(&self, name: &str, token: &str) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        let ours = sqlx::query(DEREGISTER)
            .bind(name)
            .bind(token)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if ours {
            sqlx::query(RELEASE_SINGLETONS)
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn claim_singleton(&self, job: Singleton, now: DateTime<Utc>) -> Result<bool> {
        let holder = self.holder();
        let got: Option<String> = sqlx::query_scalar(CLAIM_SINGLETON)
            .bind(job.as_str())
            .bind(&holder.name)
            .bind(ts(now))
            .bind(ts(holder.until(now)))
            .fetch_optional(&self.writer)
            .await?;
        Ok(got.is_some())
    }

    /// The live instances (on SQLite, the one writer), with the singleton
    /// jobs each runs; an SQLite archive leases no queue rows.
    pub async fn live_instances(&self, now: DateTime<Utc>) -> Result<Vec<InstanceRow>> {
        let rows: Vec<InstanceColumns> = sqlx::query_as(LIVE_INSTANCES)
            .bind(ts(now))
            .fetch_all(&self.pool)
            .await?;
        let singletons: Vec<(String, String)> = sqlx::query_as(HELD_SINGLETONS)
            .bind(ts(now))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|c| {
                let mut row = instance_row(c);
                row.singletons = singletons
                    .iter()
                    .filter(|(_, holder)| *holder == row.name)
                    .map(|(job, _)| job.clone())
                    .collect();
                row
            })
            .collect())
    }

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
        sqlx::query(SAVE_FEED_SYNC)
            .bind(urls_json(urls))
            .bind(by)
            .bind(ts(now))
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// The one writer's claims never meet another's.
    pub async fn claim_feed(&self, _feed_id: i64, _now: DateTime<Utc>, _due: bool) -> Result<bool> {
        Ok(true)
    }

    pub async fn release_feed(&self, _feed_id: i64) -> Result<()> {
        Ok(())
    }

    pub async fn claim_google_links(
        &self,
        ids: &[String],
        _now: DateTime<Utc>,
    ) -> Result<Vec<String>> {
        Ok(ids.to_vec())
    }
}
