//! The full-text queue on PostgreSQL: leases, outcomes, extracted content (whose canonical URL joins the identity model), robots.txt cache and host backoffs.

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
    pub async fn lease_fulltext_jobs(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<FulltextJob>> {
        todo!("postgres: lease_fulltext_jobs")
    }

    pub async fn finish_fulltext_job(
        &self,
        article_id: i64,
        status: FulltextStatus,
        error: Option<&str>,
        http_status: Option<u16>,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        todo!("postgres: finish_fulltext_job")
    }

    pub async fn defer_fulltext_job(&self, article_id: i64, until: DateTime<Utc>) -> Result<()> {
        todo!("postgres: defer_fulltext_job")
    }

    pub async fn store_fulltext(
        &self,
        article_id: i64,
        content: &ArticleContent,
        final_url: &str,
        identity: Option<(String, String)>,
        raw: Option<(&str, Option<&str>, Vec<u8>)>,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        todo!("postgres: store_fulltext")
    }

    pub async fn robots_cached(
        &self,
        host: &str,
    ) -> Result<Option<(Option<String>, DateTime<Utc>)>> {
        todo!("postgres: robots_cached")
    }

    pub async fn cache_robots(
        &self,
        host: &str,
        body: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        todo!("postgres: cache_robots")
    }

    pub async fn save_host_backoffs(&self, backoffs: &[(String, DateTime<Utc>)]) -> Result<()> {
        todo!("postgres: save_host_backoffs")
    }

    pub async fn host_backoffs(&self, now: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>> {
        todo!("postgres: host_backoffs")
    }

    pub async fn fulltext_stats(&self) -> Result<FulltextStats> {
        todo!("postgres: fulltext_stats")
    }

    pub async fn raw_pages(
        &self,
        since: Option<DateTime<Utc>>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String, Option<String>, Vec<u8>)>> {
        todo!("postgres: raw_pages")
    }
}
