//! Retention: pruning the oldest articles by age and by database size.
//!
//! An article goes with everything hanging off it (feed items, Google links,
//! story hints, full-text job, raw page: foreign keys cascade; its full-text
//! index rows: the `articles_ad` trigger). Feeds and the Google budget stay.
//! Each pruned article leaves tombstones so `record_poll` does not store it
//! again when a feed re-emits the entry.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::SqliteStore;
use crate::store::error::Result;
use crate::store::retention::{PruneReport, RetentionPolicy};
use crate::store::time::ts;

/// When no `max_age` is set, articles a feed showed within this window are
/// still protected from size pruning: the feed still shows them.
const DEFAULT_PROTECT: Duration = Duration::from_secs(24 * 3600);

/// Size pruning stops after this many batches even when still over the
/// limit (each batch also stops the loop when it deletes nothing).
const MAX_SIZE_ROUNDS: usize = 10_000;

/// Pages handed back to the OS per `incremental_vacuum` statement, so the
/// write lock is released between chunks.
const VACUUM_CHUNK: i64 = 2_000;

/// The articles retention may remove: no feed item of theirs was seen at or
/// after ?1 (the feed no longer shows them). Oldest first.
const ELIGIBLE: &str = "FROM articles a WHERE NOT EXISTS (SELECT 1 FROM feed_items fi \
     WHERE fi.article_id = a.id AND fi.last_seen_at >= ?1)";

impl SqliteStore {
    pub async fn prune(
        &self,
        now: DateTime<Utc>,
        policy: &RetentionPolicy,
        dry_run: bool,
    ) -> Result<PruneReport> {
        let mut report = PruneReport {
            dry_run,
            bytes_before: self.file_bytes(),
            used_bytes_before: self.used_bytes().await?,
            ..PruneReport::default()
        };
        let protect = policy.max_age.unwrap_or(DEFAULT_PROTECT);
        let protect_since = ts(now - chrono::Duration::from_std(protect).unwrap_or_default());
        let batch = policy.batch.max(1) as i64;

        if let Some(max_age) = policy.max_age {
            let cutoff = ts(now - chrono::Duration::from_std(max_age).unwrap_or_default());
            if dry_run {
                let (n, first, last): (i64, Option<String>, Option<String>) =
                    sqlx::query_as(&format!(
                        "SELECT COUNT(*), MIN(first_seen_at), MAX(first_seen_at) {ELIGIBLE} \
                         AND a.first_seen_at < ?2"
                    ))
                    .bind(&protect_since)
                    .bind(&cutoff)
                    .fetch_one(&self.pool)
                    .await?;
                report.by_age = n as u64;
                report.note(first, last);
            } else {
                loop {
                    let (n, first, last) = self
                        .prune_batch(&protect_since, Some(&cutoff), batch, now)
                        .await?;
                    if n == 0 {
                        break;
                    }
                    report.by_age += n;
                    report.note(first, last);
                }
            }
        }

        if let Some(limit) = policy.max_db_bytes {
            let mut used = if dry_run {
                // Assume the age pruning freed its share of the used bytes.
                let per = self.bytes_per_article().await?;
                report
                    .used_bytes_before
                    .saturating_sub(per.saturating_mul(report.by_age))
            } else {
                self.reclaim().await?;
                self.used_bytes().await?
            };
            for _ in 0..MAX_SIZE_ROUNDS {
                if used <= limit {
                    break;
                }
                let per = self.bytes_per_article().await?.max(1);
                // Enough articles to cover the excess, a batch at most.
                let want = (used - limit).div_ceil(per).clamp(1, batch as u64) as i64;
                if dry_run {
                    // Everything the age phase would take comes first.
                    let (n, first, last): (i64, Option<String>, Option<String>) =
                        sqlx::query_as(&format!(
                            "SELECT COUNT(*), MIN(first_seen_at), MAX(first_seen_at) FROM \
                             (SELECT a.first_seen_at {ELIGIBLE} ORDER BY a.first_seen_at, a.id \
                              LIMIT ?3 OFFSET ?2)"
                        ))
                        .bind(&protect_since)
                        .bind((report.by_age + report.by_size) as i64)
                        .bind(want)
                        .fetch_one(&self.pool)
                        .await?;
                    if n == 0 {
                        break;
                    }
                    report.by_size += n as u64;
                    report.note(first, last);
                    used = used.saturating_sub(per.saturating_mul(n as u64));
                } else {
                    let (n, first, last) =
                        self.prune_batch(&protect_since, None, want, now).await?;
                    if n == 0 {
                        break;
                    }
                    report.by_size += n;
                    report.note(first, last);
                    self.reclaim().await?;
                    used = self.used_bytes().await?;
                }
            }
            report.used_bytes_after = used;
        }

        report.articles = report.by_age + report.by_size;
        if dry_run {
            if policy.max_db_bytes.is_none() {
                let per = self.bytes_per_article().await?;
                report.used_bytes_after = report
                    .used_bytes_before
                    .saturating_sub(per.saturating_mul(report.articles));
            }
            report.bytes_after = report.bytes_before;
        } else {
            if report.articles > 0 {
                self.reclaim().await?;
                // Hands the WAL the deletions filled back too; passive, so a
                // busy reader only delays it.
                sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&self.writer)
                    .await?;
            }
            report.used_bytes_after = self.used_bytes().await?;
            report.bytes_after = self.file_bytes();
        }
        Ok(report)
    }

    /// Deletes up to `limit` of the oldest eligible articles (first seen
    /// before `cutoff`, when given) in one transaction, tombstones first.
    /// Returns how many went and their first/last `first_seen_at`.
    async fn prune_batch(
        &self,
        protect_since: &str,
        cutoff: Option<&str>,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<(u64, Option<String>, Option<String>)> {
        let mut tx = self.begin_write().await?;
        let rows: Vec<(i64, String)> = sqlx::query_as(&format!(
            "SELECT a.id, a.first_seen_at {ELIGIBLE} AND (?2 IS NULL OR a.first_seen_at < ?2) \
             ORDER BY a.first_seen_at, a.id LIMIT ?3"
        ))
        .bind(protect_since)
        .bind(cutoff)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok((0, None, None));
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let ids_json = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
        let now_s = ts(now);
        for insert in [
            "INSERT OR IGNORE INTO tombstones (kind, feed_id, key, pruned_at) \
             SELECT 'entry', feed_id, entry_key, ?2 FROM feed_items \
             WHERE article_id IN (SELECT value FROM json_each(?1))",
            "INSERT OR IGNORE INTO tombstones (kind, feed_id, key, pruned_at) \
             SELECT 'url', 0, url_key, ?2 FROM articles \
             WHERE id IN (SELECT value FROM json_each(?1))",
            "INSERT OR IGNORE INTO tombstones (kind, feed_id, key, pruned_at) \
             SELECT 'google', 0, google_id, ?2 FROM google_links \
             WHERE article_id IN (SELECT value FROM json_each(?1))",
        ] {
            sqlx::query(insert)
                .bind(&ids_json)
                .bind(&now_s)
                .execute(&mut *tx)
                .await?;
        }
        let n = sqlx::query("DELETE FROM articles WHERE id IN (SELECT value FROM json_each(?1))")
            .bind(&ids_json)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        let first = rows.first().map(|r| r.1.clone());
        let last = rows.last().map(|r| r.1.clone());
        Ok((n, first, last))
    }

    /// Hands free pages back to the file system, a chunk per statement.
    async fn reclaim(&self) -> Result<()> {
        for _ in 0..MAX_SIZE_ROUNDS {
            let free: i64 = sqlx::query_scalar("PRAGMA freelist_count")
                .fetch_one(&self.writer)
                .await?;
            if free == 0 {
                break;
            }
            sqlx::query(&format!("PRAGMA incremental_vacuum({VACUUM_CHUNK})"))
                .execute(&self.writer)
                .await?;
            let after: i64 = sqlx::query_scalar("PRAGMA freelist_count")
                .fetch_one(&self.writer)
                .await?;
            // auto_vacuum off (an old database): nothing to hand back.
            if after >= free {
                break;
            }
        }
        Ok(())
    }

    /// Bytes in pages that hold data (not on the free list).
    async fn used_bytes(&self) -> Result<u64> {
        let (pages, free, size): (i64, i64, i64) = sqlx::query_as(
            "SELECT p.page_count, f.freelist_count, s.page_size \
             FROM pragma_page_count() p, pragma_freelist_count() f, pragma_page_size() s",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((pages - free).max(0) as u64 * size.max(0) as u64)
    }

    /// Used bytes per article: what deleting one article frees, roughly
    /// (indexes and side tables included).
    async fn bytes_per_article(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM articles")
            .fetch_one(&self.pool)
            .await?;
        Ok(self.used_bytes().await? / n.max(1) as u64)
    }

    /// The database file plus its WAL, as the file system sees them.
    fn file_bytes(&self) -> u64 {
        [
            self.path.clone(),
            PathBuf::from(format!("{}-wal", self.path.display())),
        ]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
    }
}
