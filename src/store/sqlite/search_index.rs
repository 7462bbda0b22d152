//! The search indexes' queue: articles stored or changed wait in
//! `fts_pending` until a batch of them is indexed, on the write thread.

use std::sync::atomic::Ordering;

use futures::TryStreamExt;

use super::SqliteStore;
use crate::store::error::Result;
use crate::store::query::is_unspaced_script;

/// An article waiting for the search indexes: id, title, summary, text.
type PendingRow = (i64, Option<String>, Option<String>, Option<String>);

/// Articles indexed per transaction: large enough that FTS5 writes few
/// segments per round.
const INDEX_BATCH: i64 = 2000;

impl SqliteStore {
    pub async fn index_pending(&self) -> Result<usize> {
        let store = self.clone();
        self.write_lane("search indexing")?
            .run(async move {
                let mut total = 0;
                while let Some(n) = store.index_batch().await? {
                    total += n;
                }
                Ok(total)
            })
            .await
    }

    /// Indexes in the background, on the write thread between polls, once a
    /// batch's worth of new articles waits: the indexing then overlaps with
    /// the fetching and parsing of the next polls instead of following them.
    pub(super) fn index_when_a_batch_waits(&self, added: usize) {
        let Some(lane) = &self.lane else { return };
        let waiting = lane.unindexed.fetch_add(added, Ordering::Relaxed) + added;
        if waiting < INDEX_BATCH as usize || lane.indexing.swap(true, Ordering::AcqRel) {
            return;
        }
        lane.unindexed.store(0, Ordering::Relaxed);
        let store = self.clone();
        let done = lane.clone();
        lane.spawn(async move {
            if let Err(e) = store.index_batch().await {
                tracing::warn!(error = %e, "background search indexing failed; the articles stay queued");
            }
            done.indexing.store(false, Ordering::Release);
        });
    }

    /// One batch of `index_pending`, in its own transaction; `None` when
    /// nothing was waiting.
    async fn index_batch(&self) -> Result<Option<usize>> {
        let mut tx = self.begin_write().await?;
        let upto: Option<i64> = sqlx::query_scalar(
            "SELECT max(article_id) FROM \
             (SELECT article_id FROM fts_pending ORDER BY article_id LIMIT ?)",
        )
        .bind(INDEX_BATCH)
        .fetch_one(&mut *tx)
        .await?;
        let Some(upto) = upto else {
            return Ok(None);
        };
        // Only texts with a character outside ASCII can be in such a script:
        // SQLite compares lengths in characters and bytes, so only those
        // rows come over to be checked here (sending every row was a large
        // part of the write thread's time). Streamed, not collected: a
        // batch of long texts (hostile pages are capped only by the body
        // size) never sits in memory at once.
        let mut unspaced = Vec::new();
        {
            let mut rows = sqlx::query_as::<_, PendingRow>(
                "SELECT a.id, a.title, a.summary, a.text FROM fts_pending p \
                 CROSS JOIN articles a ON a.id = p.article_id WHERE p.article_id <= ? \
                 AND (length(CAST(a.title AS BLOB)) != length(a.title) \
                   OR length(CAST(a.summary AS BLOB)) != length(a.summary) \
                   OR length(CAST(a.text AS BLOB)) != length(a.text))",
            )
            .bind(upto)
            .fetch(&mut *tx);
            while let Some((id, title, summary, text)) = rows.try_next().await? {
                if [title, summary, text]
                    .iter()
                    .flatten()
                    .any(|s| s.chars().any(is_unspaced_script))
                {
                    unspaced.push(id);
                }
            }
        }
        // CROSS JOIN keeps the queue outermost: with a plain join SQLite
        // may carry `<= upto` over to articles.id and walk the whole
        // archive up to it, every batch.
        sqlx::query(
            "INSERT INTO articles_fts (rowid, title, summary, text) \
             SELECT a.id, a.title, a.summary, a.text FROM fts_pending p \
             CROSS JOIN articles a ON a.id = p.article_id WHERE p.article_id <= ?",
        )
        .bind(upto)
        .execute(&mut *tx)
        .await?;
        if !unspaced.is_empty() {
            let ids = serde_json::to_string(&unspaced).unwrap_or_else(|_| "[]".into());
            sqlx::query(
                "INSERT OR IGNORE INTO trigram_rows (article_id) \
                 SELECT value FROM json_each(?)",
            )
            .bind(&ids)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO articles_trigram (rowid, title, summary, text) \
                 SELECT a.id, a.title, a.summary, a.text FROM json_each(?) j \
                 CROSS JOIN articles a ON a.id = j.value",
            )
            .bind(&ids)
            .execute(&mut *tx)
            .await?;
        }
        let n = sqlx::query("DELETE FROM fts_pending WHERE article_id <= ?")
            .bind(upto)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(Some(n as usize))
    }
}
