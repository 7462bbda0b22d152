//! Per-host politeness across processes: a [`HostGate`] is shared state
//! (the PostgreSQL archive's, in `store`) that every instance claims a
//! host's slot from before a hop, so `http.per_host_concurrency` and
//! `http.per_host_delay` hold for all of them together. `fetch` stays free
//! of SQL: it only knows this trait.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

/// How long a request waits before asking again when every slot of its host
/// is taken: a hop holds one for about a response time, so a few tens of
/// milliseconds keep the wait short without flooding the gate.
const FULL_POLL: Duration = Duration::from_millis(25);

/// The gate could not be asked (the database is unreachable): the request is
/// not sent, as it could break the politeness promised to the host.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct GateError(pub String);

/// What one claim must respect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateRule {
    /// Hops in flight to one host across all processes.
    pub concurrency: usize,
    /// The least gap between two starts (the delay and its start margin).
    pub spacing: Duration,
    /// A slot not released by then is free again (its process died).
    pub lease: Duration,
}

/// What a claim gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The hop may start now; release `slot` when it ends.
    Granted { slot: u64 },
    /// Every slot is taken: ask again shortly.
    Full,
    /// The last start was too recent: ask again after this.
    Spacing(Duration),
}

pub trait HostGate: Send + Sync {
    /// Claims a slot of `host` (a `host_key`) atomically: at most
    /// `rule.concurrency` granted at once, each start `rule.spacing` after
    /// the one before it.
    fn claim<'a>(
        &'a self,
        host: &'a str,
        rule: GateRule,
    ) -> BoxFuture<'a, Result<Claim, GateError>>;

    /// Frees a slot `claim` granted.
    fn release<'a>(&'a self, host: &'a str, slot: u64) -> BoxFuture<'a, Result<(), GateError>>;
}

/// A granted slot, released when the hop ends; a hop abandoned halfway (its
/// future dropped) releases it in the background, or its lease expires.
pub(super) struct SharedSlot {
    gate: Arc<dyn HostGate>,
    host: String,
    slot: Option<u64>,
}

impl SharedSlot {
    /// Waits until `gate` grants a slot of `host`.
    pub(super) async fn claim(
        gate: &Arc<dyn HostGate>,
        host: &str,
        rule: GateRule,
    ) -> Result<SharedSlot, GateError> {
        loop {
            match gate.claim(host, rule).await? {
                Claim::Granted { slot } => {
                    return Ok(SharedSlot {
                        gate: Arc::clone(gate),
                        host: host.to_owned(),
                        slot: Some(slot),
                    })
                }
                Claim::Full => tokio::time::sleep(FULL_POLL).await,
                Claim::Spacing(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    pub(super) async fn release(mut self) {
        if let Some(slot) = self.slot.take() {
            if let Err(e) = self.gate.release(&self.host, slot).await {
                // The lease frees it a little later.
                tracing::warn!(host = %self.host, error = %e, "cannot release a host slot");
            }
        }
    }
}

impl Drop for SharedSlot {
    fn drop(&mut self) {
        let Some(slot) = self.slot.take() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let gate = Arc::clone(&self.gate);
        let host = std::mem::take(&mut self.host);
        runtime.spawn(async move {
            if let Err(e) = gate.release(&host, slot).await {
                tracing::warn!(%host, error = %e, "cannot release a host slot");
            }
        });
    }
}
