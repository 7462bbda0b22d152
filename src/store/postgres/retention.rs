//! Retention on PostgreSQL: pruning the oldest articles by age and by
//! database size, with tombstones (as on SQLite, `sqlite/retention.rs`).
//!
//! An article goes with everything hanging off it (feed items, Google links,
//! story hints, full-text job, raw page: foreign keys cascade; the search
//! document is a column of the row). Feeds and the Google budget stay. Each
//! pruned article leaves tombstones (`entry`, `url`, `google`) so
//! `record_poll` does not store it again when a feed re-emits the entry.
//!
//! Size: `retention.max_db_bytes` is compared against
//! `pg_database_size(current_database())`, the whole database on disk
//! (tables, indexes, TOAST, free space inside them). Deleting rows does not
//! make that smaller: autovacuum marks the space free for the next inserts
//! of the same tables, but does not hand it back to the operating system
//! (only `VACUUM FULL`, which locks the tables, would). So where SQLite
//! reclaims pages and measures again, here the size left after each batch
//! is an estimate, the size before less the articles' share of it
//! (`used_bytes_*`), and `bytes_before` / `bytes_after` are
//! `pg_database_size` as measured before and after the pass.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::PostgresStore;
use crate::store::error::Result;
use crate::store::retention::{PruneReport, RetentionPolicy};
use crate::store::time::ts;

/// When no `max_age` is set, articles a feed showed within this window are
/// still protected from size pruning: the feed still shows them.
const DEFAULT_PROTECT: Duration = Duration::from_secs(24 * 3600);

/// Size pruning stops after this many batches even when still over the
/// limit (each batch also stops the loop when it deletes nothing).
const MAX_SIZE_ROUNDS: usize = 10_000;

/// The articles retention may remove: no feed item of theirs was seen at or
/// after $1 (the feed no longer shows them). Oldest first.
const ELIGIBLE: &str = "FROM articles a WHERE NOT EXISTS (SELECT 1 FROM feed_items fi \
     WHERE fi.article_id = a.id AND fi.last_seen_at >= $1)";

impl PostgresStore {
    pub async fn prune(
        &self,
        now: DateTime<Utc>,
        policy: &RetentionPolicy,
        dry_run: bool,
    ) -> Result<PruneReport> {
        if !dry_run {
            self.writable("prune articles")?;
        }
        let size = self.database_bytes().await?;
        let mut report = PruneReport {
            dry_run,
            bytes_before: size,
            used_bytes_before: size,
            ..PruneReport::default()
        };
        // Measured once: the database does not shrink as articles go.
        let per = self.bytes_per_article(size).await?;
        let protect = policy.max_age.unwrap_or(DEFAULT_PROTECT);
        let protect_since = ts(now - chrono::Duration::from_std(protect).unwrap_or_default());
        let batch = policy.batch.max(1) as i64;

        if let Some(max_age) = policy.max_age {
            let cutoff = ts(now - chrono::Duration::from_std(max_age).unwrap_or_default());
            if dry_run {
                let (n, first, last): (i64, Option<String>, Option<String>) =
                    sqlx::query_as(&format!(
                        "SELECT COUNT(*), MIN(first_seen_at), MAX(first_seen_at) {ELIGIBLE} \
                         AND a.first_seen_at < $2"
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
            let mut used = size.saturating_sub(per.saturating_mul(report.by_age));
            let per = per.max(1);
            for _ in 0..MAX_SIZE_ROUNDS {
                if used <= limit {
                    break;
                }
                // Enough articles to cover the excess, a batch at most.
                let want = (used - limit).div_ceil(per).clamp(1, batch as u64) as i64;
                let (n, first, last) = if dry_run {
                    // Everything the age phase would take comes first.
                    let (n, first, last): (i64, Option<String>, Option<String>) =
                        sqlx::query_as(&format!(
                            "SELECT COUNT(*), MIN(first_seen_at), MAX(first_seen_at) FROM \
                             (SELECT a.first_seen_at {ELIGIBLE} ORDER BY a.first_seen_at, a.id \
                              LIMIT $3 OFFSET $2) s"
                        ))
                        .bind(&protect_since)
                        .bind((report.by_age + report.by_size) as i64)
                        .bind(want)
                        .fetch_one(&self.pool)
                        .await?;
                    (n as u64, first, last)
                } else {
                    self.prune_batch(&protect_since, None, want, now).await?
                };
                if n == 0 {
                    break;
                }
                report.by_size += n;
                report.note(first, last);
                used = used.saturating_sub(per.saturating_mul(n));
            }
        }

        report.articles = report.by_age + report.by_size;
        report.used_bytes_after = size.saturating_sub(per.saturating_mul(report.articles));
        report.bytes_after = if dry_run {
            report.bytes_before
        } else {
            self.database_bytes().await?
        };
        Ok(report)
    }

    /// Deletes up to `limit` of the oldest eligible articles (first seen
    /// before `cutoff`, when given) in one transaction, tombstones first.
    /// Returns how many went and their first/last `first_seen_at`. Articles
    /// another writer holds are left for the next pass.
    async fn prune_batch(
        &self,
        protect_since: &str,
        cutoff: Option<&str>,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<(u64, Option<String>, Option<String>)> {
        let mut tx = self.pool.begin().await?;
        let rows: Vec<(i64, String)> = sqlx::query_as(&format!(
            "SELECT a.id, a.first_seen_at {ELIGIBLE} \
             AND ($2::text IS NULL OR a.first_seen_at < $2) \
             ORDER BY a.first_seen_at, a.id LIMIT $3 FOR UPDATE OF a SKIP LOCKED"
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
        let now_s = ts(now);
        for insert in [
            "INSERT INTO tombstones (kind, feed_id, key, pruned_at) \
             SELECT 'entry', feed_id, entry_key, $2 FROM feed_items \
             WHERE article_id = ANY($1) ON CONFLICT DO NOTHING",
            "INSERT INTO tombstones (kind, feed_id, key, pruned_at) \
             SELECT 'url', 0, url_key, $2 FROM articles \
             WHERE id = ANY($1) ON CONFLICT DO NOTHING",
            "INSERT INTO tombstones (kind, feed_id, key, pruned_at) \
             SELECT 'google', 0, google_id, $2 FROM google_links \
             WHERE article_id = ANY($1) ON CONFLICT DO NOTHING",
        ] {
            sqlx::query(insert)
                .bind(&ids)
                .bind(&now_s)
                .execute(&mut *tx)
                .await?;
        }
        let n = sqlx::query("DELETE FROM articles WHERE id = ANY($1)")
            .bind(&ids)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        let first = rows.first().map(|r| r.1.clone());
        let last = rows.last().map(|r| r.1.clone());
        Ok((n, first, last))
    }

    /// `pg_database_size(current_database())`: what `max_db_bytes` means here.
    async fn database_bytes(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
            .fetch_one(&self.pool)
            .await?;
        Ok(n.max(0) as u64)
    }

    /// Database bytes per article: what deleting one article frees for
    /// reuse, roughly (indexes and side tables included).
    async fn bytes_per_article(&self, size: u64) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM articles")
            .fetch_one(&self.pool)
            .await?;
        Ok(size / n.max(1) as u64)
    }
}
