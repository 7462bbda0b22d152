//! Retention: what a policy keeps and what a pruning pass did.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Articles first seen longer ago than this go. `None`: no age limit.
    pub max_age: Option<Duration>,
    /// Oldest articles go while the database's used pages exceed this.
    pub max_db_bytes: Option<u64>,
    /// Articles deleted per transaction.
    pub batch: usize,
}

impl RetentionPolicy {
    /// Whether the policy would ever prune anything.
    pub fn is_active(&self) -> bool {
        self.max_age.is_some() || self.max_db_bytes.is_some()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PruneReport {
    pub dry_run: bool,
    /// Articles pruned (or that would be, for a dry run).
    pub articles: u64,
    /// Of those, pruned for their age.
    pub by_age: u64,
    /// Of those, pruned to get under `max_db_bytes`.
    pub by_size: u64,
    pub oldest_first_seen: Option<String>,
    pub newest_first_seen: Option<String>,
    /// Database file plus WAL, before and after (after = before for a dry run).
    pub bytes_before: u64,
    pub bytes_after: u64,
    /// Bytes in use (pages not on the free list); what `max_db_bytes` is
    /// compared against. For a dry run, `used_bytes_after` is an estimate.
    pub used_bytes_before: u64,
    pub used_bytes_after: u64,
}

impl PruneReport {
    pub fn bytes_reclaimed(&self) -> u64 {
        self.bytes_before.saturating_sub(self.bytes_after)
    }

    /// Widens the report's first-seen range by a pruned batch's.
    pub fn note(&mut self, first: Option<String>, last: Option<String>) {
        if self.oldest_first_seen.is_none() {
            self.oldest_first_seen = first;
        }
        if last.is_some() {
            self.newest_first_seen = last;
        }
    }
}
