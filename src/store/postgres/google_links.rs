//! The Google News resolution queue on PostgreSQL: due links, signatures, failures with backoff, resolution (through the identity model), the breaker and request counts.

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
    pub async fn pending_google_links(
        &self,
        now: DateTime<Utc>,
        signed: bool,
        limit: i64,
    ) -> Result<Vec<PendingLink>> {
        todo!("postgres: pending_google_links")
    }

    pub async fn google_link(
        &self,
        google_id: &str,
    ) -> Result<Option<(LinkStatus, Option<String>)>> {
        todo!("postgres: google_link")
    }

    pub async fn save_signature(
        &self,
        google_id: &str,
        signature: &str,
        timestamp: i64,
    ) -> Result<()> {
        todo!("postgres: save_signature")
    }

    pub async fn fail_google_link(
        &self,
        google_id: &str,
        error: &str,
        now: DateTime<Utc>,
        retry_base: std::time::Duration,
        max_attempts: i64,
        drop_signature: bool,
    ) -> Result<()> {
        todo!("postgres: fail_google_link")
    }

    pub async fn resolve_google_link(
        &self,
        google_id: &str,
        publisher_url: &str,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        todo!("postgres: resolve_google_link")
    }

    pub async fn google_budget(&self) -> Result<Budget> {
        todo!("postgres: google_budget")
    }

    pub async fn trip_google_breaker(
        &self,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        todo!("postgres: trip_google_breaker")
    }

    pub async fn count_google_request(&self, get: bool, now: DateTime<Utc>) -> Result<()> {
        todo!("postgres: count_google_request")
    }

    pub async fn google_queue_stats(&self) -> Result<GoogleQueueStats> {
        todo!("postgres: google_queue_stats")
    }
}
