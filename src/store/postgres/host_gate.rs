//! The instances' shared per-host politeness on PostgreSQL (`fetch::HostGate`):
//! per host the last start (`host_gates`) and the hops in flight
//! (`host_gate_slots`), claimed under a transaction-scoped advisory lock on
//! the host so two instances never both see a free slot. Times are the
//! server's clock, the one clock every instance shares.

use std::sync::atomic::{AtomicU64, Ordering};

use futures::future::BoxFuture;
use sqlx::PgPool;

use super::PostgresStore;
use crate::fetch::{Claim, GateError, GateRule, HostGate};
use crate::store::error::Result;

/// The first key of the two-key advisory locks on hosts ("hg" in ASCII): the
/// two-key space never meets the one-key space of the writer lock.
const HOST_LOCK_CLASS: i32 = 0x6867;

pub struct PgHostGate {
    pool: PgPool,
    /// This process, among the holders of slots.
    holder: i64,
    hops: AtomicU64,
}

impl PostgresStore {
    /// The shared per-host politeness of the instances on this archive; a
    /// reader sends nothing worth sharing (and cannot write the slots).
    pub fn host_gate(&self) -> Option<PgHostGate> {
        (!self.read_only).then(|| PgHostGate {
            pool: self.pool.clone(),
            holder: rand::random(),
            hops: AtomicU64::new(0),
        })
    }
}

impl PgHostGate {
    async fn try_claim(&self, host: &str, rule: GateRule) -> Result<Claim> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .bind(HOST_LOCK_CLASS)
            .bind(host)
            .execute(&mut *tx)
            .await?;
        let (busy, wait_secs): (i64, Option<f64>) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM host_gate_slots \
                     WHERE host = $1 AND lease_until > clock_timestamp()), \
                    (SELECT EXTRACT(EPOCH FROM last_start + make_interval(secs => $2) \
                         - clock_timestamp())::float8 FROM host_gates WHERE host = $1)",
        )
        .bind(host)
        .bind(rule.spacing.as_secs_f64())
        .fetch_one(&mut *tx)
        .await?;
        if usize::try_from(busy).unwrap_or(usize::MAX) >= rule.concurrency {
            return Ok(Claim::Full);
        }
        if let Some(wait) = wait_secs.filter(|w| *w > 0.0) {
            return Ok(Claim::Spacing(std::time::Duration::from_secs_f64(
                wait.min(rule.spacing.as_secs_f64()),
            )));
        }
        let hop = self.hops.fetch_add(1, Ordering::Relaxed);
        // The start is recorded before the commit, so the commit must not wait
        // for the disk (tens of milliseconds on a busy one) before the request
        // leaves; the rows matter only while their hops last anyway.
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "WITH expired AS (DELETE FROM host_gate_slots \
                 WHERE host = $1 AND lease_until <= clock_timestamp()), \
             slot AS (INSERT INTO host_gate_slots (host, holder, hop, lease_until) \
                 VALUES ($1, $2, $3, clock_timestamp() + make_interval(secs => $4))) \
             INSERT INTO host_gates (host, last_start) VALUES ($1, clock_timestamp()) \
             ON CONFLICT (host) DO UPDATE SET last_start = EXCLUDED.last_start",
        )
        .bind(host)
        .bind(self.holder)
        .bind(hop as i64)
        .bind(rule.lease.as_secs_f64())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Claim::Granted { slot: hop })
    }

    async fn free(&self, host: &str, slot: u64) -> Result<()> {
        sqlx::query("DELETE FROM host_gate_slots WHERE host = $1 AND holder = $2 AND hop = $3")
            .bind(host)
            .bind(self.holder)
            .bind(slot as i64)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

impl HostGate for PgHostGate {
    fn claim<'a>(
        &'a self,
        host: &'a str,
        rule: GateRule,
    ) -> BoxFuture<'a, std::result::Result<Claim, GateError>> {
        Box::pin(async move {
            self.try_claim(host, rule)
                .await
                .map_err(|e| GateError(e.to_string()))
        })
    }

    fn release<'a>(
        &'a self,
        host: &'a str,
        slot: u64,
    ) -> BoxFuture<'a, std::result::Result<(), GateError>> {
        Box::pin(async move {
            self.free(host, slot)
                .await
                .map_err(|e| GateError(e.to_string()))
        })
    }
}
