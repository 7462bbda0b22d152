//! Saved searches and the alert outbox as SQLite statements (see
//! `store::alerts`).

use chrono::{DateTime, Utc};

use super::SqliteStore;
use crate::store::alerts::{
    candidate_of, held_of, json_text, queued_of, search_row, stats_of, AlertCandidate, AlertStats,
    CandidateColumns, Delivery, DeliveryOutcome, DeliveryState, HeldColumns, HeldMatch, NewEvent,
    NewMatch, NewSearch, Promotion, QueuedColumns, QueuedMatch, SearchColumns, SearchOrigin,
    SearchRemoval, SearchRow, StatsColumns, ALERT_ARTICLE, ALERT_STATS, HELD_MATCH, SEARCH_COLUMNS,
};
use crate::store::error::{Result, StoreError};
use crate::store::feeds::SyncReport;
use crate::store::time::ts;

impl SqliteStore {
    pub async fn sync_config_searches(
        &self,
        searches: &[NewSearch],
        now: DateTime<Utc>,
    ) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        let mut tx = self.begin_write().await?;
        let rows: Vec<SearchColumns> =
            sqlx::query_as(&format!("SELECT {SEARCH_COLUMNS} FROM searches"))
                .fetch_all(&mut *tx)
                .await?;
        let existing = rows
            .into_iter()
            .map(search_row)
            .collect::<Result<Vec<_>>>()?;
        for s in searches {
            match existing.iter().find(|r| r.name == s.name) {
                Some(row) if row.as_new() == *s && row.enabled => {}
                Some(row) => {
                    update_search(&mut tx, row, s, SearchOrigin::Config, now).await?;
                    report.updated += 1;
                }
                None => {
                    insert_search(&mut tx, s, SearchOrigin::Config, now).await?;
                    report.added += 1;
                }
            }
        }
        for row in &existing {
            if row.origin == SearchOrigin::Config
                && row.enabled
                && !searches.iter().any(|s| s.name == row.name)
            {
                sqlx::query(
                    "UPDATE searches SET enabled = 0, disabled_reason = 'removed_from_config', \
                     updated_at = ? WHERE id = ?",
                )
                .bind(ts(now))
                .bind(row.id)
                .execute(&mut *tx)
                .await?;
                report.disabled += 1;
            }
        }
        tx.commit().await?;
        Ok(report)
    }

    pub async fn add_search(
        &self,
        search: &NewSearch,
        origin: SearchOrigin,
        now: DateTime<Utc>,
    ) -> Result<(SearchRow, bool)> {
        let mut tx = self.begin_write().await?;
        let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM searches WHERE name = ?")
            .bind(&search.name)
            .fetch_optional(&mut *tx)
            .await?;
        let (id, added) = match existing {
            Some(id) => (id, false),
            None => (insert_search(&mut tx, search, origin, now).await?, true),
        };
        tx.commit().await?;
        let row = self
            .find_search(&id.to_string())
            .await?
            .ok_or_else(|| StoreError::Inconsistent(format!("search {id} vanished")))?;
        Ok((row, added))
    }

    pub async fn list_searches(&self) -> Result<Vec<SearchRow>> {
        let rows: Vec<SearchColumns> = sqlx::query_as(&format!(
            "SELECT {SEARCH_COLUMNS} FROM searches ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(search_row).collect()
    }

    pub async fn find_search(&self, id_or_name: &str) -> Result<Option<SearchRow>> {
        let row: Option<SearchColumns> = sqlx::query_as(&format!(
            "SELECT {SEARCH_COLUMNS} FROM searches WHERE name = ?1 \
             OR (CAST(id AS TEXT) = ?1 AND NOT EXISTS (SELECT 1 FROM searches WHERE name = ?1))"
        ))
        .bind(id_or_name)
        .fetch_optional(&self.writer)
        .await?;
        row.map(search_row).transpose()
    }

    pub async fn remove_search(&self, id_or_name: &str) -> Result<SearchRemoval> {
        let Some(row) = self.find_search(id_or_name).await? else {
            return Ok(SearchRemoval::NotFound);
        };
        if row.origin == SearchOrigin::Config {
            return Err(StoreError::InvalidInput(format!(
                "search {:?} is managed by the config file; remove it from the config's [[searches]] instead",
                row.name
            )));
        }
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM searches WHERE id = ?")
            .bind(row.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(SearchRemoval::Removed(Box::new(row)))
    }

    /// Articles still waiting for the word index wait here too: a search
    /// in FTS5 syntax asks the index about them.
    pub async fn pending_alert_articles(&self, limit: i64) -> Result<Vec<AlertCandidate>> {
        let rows: Vec<CandidateColumns> = sqlx::query_as(
            "SELECT p.article_id, a.id, a.title, a.summary, a.text, a.publisher, a.lang, \
             a.first_seen_at, (SELECT json_group_array(feed_id) FROM feed_items WHERE article_id = a.id) \
             FROM alert_pending p LEFT JOIN articles a ON a.id = p.article_id \
             WHERE NOT EXISTS (SELECT 1 FROM fts_pending f WHERE f.article_id = p.article_id) \
             ORDER BY p.article_id LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.writer)
        .await?;
        Ok(rows.into_iter().map(candidate_of).collect())
    }

    /// The batch's articles go into a word index of their own, a temporary
    /// one on one reader connection with the archive's columns and
    /// tokenizer, which every query reads: the cost follows the batch, not
    /// the archive (asking the archive's index about a range of new ids cost
    /// three times as much at 1M articles as at 10k, BENCHMARKS.md).
    pub async fn fts_matches(
        &self,
        queries: &[(i64, &str)],
        ids: &[i64],
    ) -> Result<Vec<(i64, Result<Vec<i64>>)>> {
        if queries.is_empty() || ids.is_empty() {
            return Ok(queries
                .iter()
                .map(|&(id, _)| (id, Ok(Vec::new())))
                .collect());
        }
        let mut conn = self.pool.acquire().await?;
        sqlx::query(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.alert_batch USING fts5 ( \
             title, summary, text, tokenize = 'unicode61 remove_diacritics 2')",
        )
        .execute(&mut *conn)
        .await?;
        // Left over if an earlier batch failed half-way.
        sqlx::query("DELETE FROM temp.alert_batch")
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "INSERT INTO temp.alert_batch (rowid, title, summary, text) \
             SELECT id, title, summary, text FROM articles \
             WHERE id IN (SELECT value FROM json_each(?))",
        )
        .bind(json_text(&ids))
        .execute(&mut *conn)
        .await?;
        let mut out = Vec::with_capacity(queries.len());
        for &(search_id, raw) in queries {
            let found =
                sqlx::query_scalar("SELECT rowid FROM temp.alert_batch WHERE alert_batch MATCH ?")
                    .bind(raw)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(|e| match e {
                        sqlx::Error::Database(db) => StoreError::SearchSyntax {
                            query: raw.to_owned(),
                            reason: db.message().to_owned(),
                        },
                        e => e.into(),
                    });
            out.push((search_id, found));
        }
        sqlx::query("DELETE FROM temp.alert_batch")
            .execute(&mut *conn)
            .await?;
        Ok(out)
    }

    pub async fn record_matches(
        &self,
        done: &[i64],
        matches: &[NewMatch],
        now: DateTime<Utc>,
        due_at: DateTime<Utc>,
    ) -> Result<usize> {
        let mut tx = self.begin_write().await?;
        let pairs: Vec<[i64; 2]> = matches
            .iter()
            .map(|m| [m.search_id, m.article_id])
            .collect();
        let added = sqlx::query(
            "INSERT INTO alert_matches (search_id, article_id, matched_at, due_at, state) \
             SELECT value ->> 0, value ->> 1, ?, ?, 'held' FROM json_each(?) WHERE true \
             ON CONFLICT DO NOTHING",
        )
        .bind(ts(now))
        .bind(ts(due_at))
        .bind(json_text(&pairs))
        .execute(&mut *tx)
        .await?
        .rows_affected() as usize;
        sqlx::query(
            "DELETE FROM alert_pending WHERE article_id IN (SELECT value FROM json_each(?))",
        )
        .bind(json_text(&done))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(added)
    }

    pub async fn held_matches(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<HeldMatch>> {
        let rows: Vec<HeldColumns> = sqlx::query_as(&format!(
            "SELECT {HELD_MATCH}, {ALERT_ARTICLE} FROM alert_matches m \
             LEFT JOIN articles a ON a.id = m.article_id LEFT JOIN stories s ON s.id = a.story_id \
             WHERE m.state = 'held' AND m.due_at <= ? ORDER BY m.id LIMIT ?"
        ))
        .bind(ts(now))
        .bind(limit)
        .fetch_all(&self.writer)
        .await?;
        Ok(rows.into_iter().map(held_of).collect())
    }

    pub async fn queued_matches(&self, search_id: i64) -> Result<Vec<QueuedMatch>> {
        let rows: Vec<QueuedColumns> = sqlx::query_as(&format!(
            "SELECT m.id, {ALERT_ARTICLE} FROM alert_matches m \
             JOIN articles a ON a.id = m.article_id JOIN stories s ON s.id = m.story_id \
             WHERE m.search_id = ? AND m.state = 'queued' ORDER BY m.id"
        ))
        .bind(search_id)
        .fetch_all(&self.writer)
        .await?;
        Ok(rows.into_iter().filter_map(queued_of).collect())
    }

    pub async fn apply_promotion(
        &self,
        promotion: &Promotion,
        digest_of: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for (match_id, state, story) in &promotion.decisions {
            sqlx::query(
                "UPDATE alert_matches SET state = ?, story_id = coalesce(?, story_id) WHERE id = ?",
            )
            .bind(state.as_str())
            .bind(story)
            .bind(match_id)
            .execute(&mut *tx)
            .await?;
        }
        for e in &promotion.events {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO alert_events (event_id, search_id, created_at, payload) \
                 VALUES (?, ?, ?, ?) RETURNING id",
            )
            .bind(&e.event_id)
            .bind(e.search_id)
            .bind(ts(now))
            .bind(&e.payload)
            .fetch_one(&mut *tx)
            .await?;
            insert_event_rows(&mut tx, id, e, now).await?;
        }
        if let Some(search_id) = digest_of {
            sqlx::query("UPDATE searches SET digest_at = ? WHERE id = ?")
                .bind(ts(now))
                .bind(search_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn due_deliveries(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Delivery>> {
        let rows: Vec<(i64, String, i64, String, i64, String)> = sqlx::query_as(
            "SELECT d.id, e.event_id, e.search_id, d.channel, d.attempts, e.payload \
             FROM alert_deliveries d JOIN alert_events e ON e.id = d.event_id \
             WHERE d.state = 'pending' AND d.next_try_at <= ? ORDER BY d.next_try_at, d.id LIMIT ?",
        )
        .bind(ts(now))
        .bind(limit)
        .fetch_all(&self.writer)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| Delivery {
                id: r.0,
                event_id: r.1,
                search_id: r.2,
                channel: r.3,
                attempts: u32::try_from(r.4).unwrap_or(u32::MAX),
                payload: r.5,
            })
            .collect())
    }

    pub async fn next_delivery_at(&self) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT min(next_try_at) FROM alert_deliveries WHERE state = 'pending'",
        )
        .fetch_one(&self.writer)
        .await?)
    }

    pub async fn finish_delivery(
        &self,
        id: i64,
        outcome: &DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (state, next, error, status) = match outcome {
            DeliveryOutcome::Sent { status } => (DeliveryState::Sent, None, None, Some(*status)),
            DeliveryOutcome::Retry { at, error, status } => {
                (DeliveryState::Pending, Some(*at), Some(error), *status)
            }
            DeliveryOutcome::Failed { error, status } => {
                (DeliveryState::Failed, None, Some(error), *status)
            }
        };
        sqlx::query(
            "UPDATE alert_deliveries SET state = ?, attempts = attempts + 1, \
             next_try_at = coalesce(?, next_try_at), last_error = ?, last_status = ?, \
             sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END WHERE id = ?",
        )
        .bind(state.as_str())
        .bind(next.map(ts))
        .bind(error)
        .bind(status.map(i64::from))
        .bind(state.as_str())
        .bind(ts(now))
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn alert_stats(&self) -> Result<AlertStats> {
        let counts: StatsColumns = sqlx::query_as(ALERT_STATS).fetch_one(&self.pool).await?;
        Ok(stats_of(counts))
    }
}

async fn insert_event_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    id: i64,
    e: &NewEvent,
    now: DateTime<Utc>,
) -> Result<()> {
    for m in &e.match_ids {
        sqlx::query("UPDATE alert_matches SET event_id = ? WHERE id = ?")
            .bind(id)
            .bind(m)
            .execute(&mut **tx)
            .await?;
    }
    for c in &e.channels {
        sqlx::query(
            "INSERT INTO alert_deliveries (event_id, channel, state, next_try_at) \
             VALUES (?, ?, 'pending', ?) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(c)
        .bind(ts(now))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn insert_search(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    s: &NewSearch,
    origin: SearchOrigin,
    now: DateTime<Utc>,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO searches (name, query, fts, feeds, publishers, lang, channels, digest_secs, \
         backfill, origin, matches_since, digest_at, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?12) RETURNING id",
    )
    .bind(&s.name)
    .bind(&s.query)
    .bind(i64::from(s.fts))
    .bind(json_text(&s.feeds))
    .bind(json_text(&s.publishers))
    .bind(&s.lang)
    .bind(json_text(&s.channels))
    .bind(s.digest_secs)
    .bind(i64::from(s.backfill))
    .bind(origin.as_str())
    .bind((!s.backfill).then(|| ts(now)))
    .bind(ts(now))
    .fetch_one(&mut **tx)
    .await?)
}

/// An edit of a search: a changed query or filter applies to articles first
/// seen from now on, so the edit does not notify about the past.
async fn update_search(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    row: &SearchRow,
    s: &NewSearch,
    origin: SearchOrigin,
    now: DateTime<Utc>,
) -> Result<()> {
    let matching_changed = row.query != s.query
        || row.fts != s.fts
        || row.feeds != s.feeds
        || row.publishers != s.publishers
        || row.lang != s.lang
        || row.backfill != s.backfill;
    let since = if s.backfill {
        None
    } else if matching_changed || !row.enabled {
        Some(ts(now))
    } else {
        row.matches_since.clone()
    };
    sqlx::query(
        "UPDATE searches SET query = ?, fts = ?, feeds = ?, publishers = ?, lang = ?, \
         channels = ?, digest_secs = ?, backfill = ?, origin = ?, enabled = 1, \
         disabled_reason = NULL, matches_since = ?, updated_at = ? WHERE id = ?",
    )
    .bind(&s.query)
    .bind(i64::from(s.fts))
    .bind(json_text(&s.feeds))
    .bind(json_text(&s.publishers))
    .bind(&s.lang)
    .bind(json_text(&s.channels))
    .bind(s.digest_secs)
    .bind(i64::from(s.backfill))
    .bind(origin.as_str())
    .bind(since)
    .bind(ts(now))
    .bind(row.id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
