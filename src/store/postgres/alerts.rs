//! Saved searches and the alert outbox as PostgreSQL statements (see
//! `store::alerts`).

use chrono::{DateTime, Utc};

use super::PostgresStore;
use crate::store::alerts::{
    candidate_of, held_of, json_text, queued_of, search_row, stats_of, AlertCandidate, AlertStats,
    CandidateColumns, Delivery, DeliveryOutcome, DeliveryState, HeldColumns, HeldMatch, NewEvent,
    NewMatch, NewSearch, Promotion, QueuedColumns, QueuedMatch, SearchColumns, SearchOrigin,
    SearchRemoval, SearchRow, StatsColumns, ALERT_ARTICLE, ALERT_STATS, HELD_MATCH, SEARCH_COLUMNS,
};
use crate::store::error::{Result, StoreError};
use crate::store::feeds::SyncReport;
use crate::store::time::ts;

impl PostgresStore {
    pub async fn sync_config_searches(
        &self,
        searches: &[NewSearch],
        now: DateTime<Utc>,
    ) -> Result<SyncReport> {
        self.writable("sync config searches")?;
        let mut report = SyncReport::default();
        let mut tx = self.pool.begin().await?;
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
                     updated_at = $1 WHERE id = $2",
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
        self.writable("add search")?;
        let mut tx = self.pool.begin().await?;
        let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM searches WHERE name = $1")
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
            "SELECT {SEARCH_COLUMNS} FROM searches WHERE name = $1 \
             OR (CAST(id AS TEXT) = $1 AND NOT EXISTS (SELECT 1 FROM searches WHERE name = $1))"
        ))
        .bind(id_or_name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(search_row).transpose()
    }

    pub async fn remove_search(&self, id_or_name: &str) -> Result<SearchRemoval> {
        self.writable("remove search")?;
        let Some(row) = self.find_search(id_or_name).await? else {
            return Ok(SearchRemoval::NotFound);
        };
        if row.origin == SearchOrigin::Config {
            return Err(StoreError::InvalidInput(format!(
                "search {:?} is managed by the config file; remove it from the config's [[searches]] instead",
                row.name
            )));
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM searches WHERE id = $1")
            .bind(row.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(SearchRemoval::Removed(Box::new(row)))
    }

    pub async fn pending_alert_articles(&self, limit: i64) -> Result<Vec<AlertCandidate>> {
        let rows: Vec<CandidateColumns> = sqlx::query_as(
            "SELECT p.article_id, a.id, a.title, a.summary, a.text, a.publisher, a.lang, \
             a.first_seen_at, (SELECT coalesce(json_agg(feed_id ORDER BY feed_id)::text, '[]') FROM feed_items WHERE article_id = a.id) \
             FROM alert_pending p LEFT JOIN articles a ON a.id = p.article_id \
             ORDER BY p.article_id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(candidate_of).collect())
    }

    pub async fn fts_matches(
        &self,
        queries: &[(i64, &str)],
        ids: &[i64],
    ) -> Result<Vec<(i64, Result<Vec<i64>>)>> {
        let mut out = Vec::with_capacity(queries.len());
        for &(search_id, raw) in queries {
            // The article ids lead: each is one primary-key visit, whatever
            // the size of the archive.
            let found = sqlx::query_scalar(
                "SELECT article_id FROM article_search \
                 WHERE article_id = ANY($2) AND search @@ to_tsquery('simple', $1)",
            )
            .bind(raw)
            .bind(ids)
            .fetch_all(&self.pool)
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
        Ok(out)
    }

    pub async fn record_matches(
        &self,
        done: &[i64],
        matches: &[NewMatch],
        now: DateTime<Utc>,
        due_at: DateTime<Utc>,
    ) -> Result<usize> {
        self.writable("record matches")?;
        let mut tx = self.pool.begin().await?;
        let (searches, articles): (Vec<i64>, Vec<i64>) =
            matches.iter().map(|m| (m.search_id, m.article_id)).unzip();
        let added = sqlx::query(
            "INSERT INTO alert_matches (search_id, article_id, matched_at, due_at, state) \
             SELECT s, a, $3, $4, 'held' FROM UNNEST($1::bigint[], $2::bigint[]) AS m (s, a) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&searches)
        .bind(&articles)
        .bind(ts(now))
        .bind(ts(due_at))
        .execute(&mut *tx)
        .await?
        .rows_affected() as usize;
        sqlx::query("DELETE FROM alert_pending WHERE article_id = ANY($1)")
            .bind(done)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(added)
    }

    pub async fn held_matches(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<HeldMatch>> {
        let rows: Vec<HeldColumns> = sqlx::query_as(&format!(
            "SELECT {HELD_MATCH}, {ALERT_ARTICLE} FROM alert_matches m \
             LEFT JOIN articles a ON a.id = m.article_id LEFT JOIN stories s ON s.id = a.story_id \
             WHERE m.state = 'held' AND m.due_at <= $1 ORDER BY m.id LIMIT $2"
        ))
        .bind(ts(now))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(held_of).collect())
    }

    pub async fn queued_matches(&self, search_id: i64) -> Result<Vec<QueuedMatch>> {
        let rows: Vec<QueuedColumns> = sqlx::query_as(&format!(
            "SELECT m.id, {ALERT_ARTICLE} FROM alert_matches m \
             JOIN articles a ON a.id = m.article_id JOIN stories s ON s.id = m.story_id \
             WHERE m.search_id = $1 AND m.state = 'queued' ORDER BY m.id"
        ))
        .bind(search_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().filter_map(queued_of).collect())
    }

    pub async fn apply_promotion(
        &self,
        promotion: &Promotion,
        digest_of: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.writable("apply promotion")?;
        let mut tx = self.pool.begin().await?;
        for (match_id, state, story) in &promotion.decisions {
            sqlx::query(
                "UPDATE alert_matches SET state = $1, story_id = coalesce($2, story_id) WHERE id = $3",
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
                 VALUES ($1, $2, $3, $4) RETURNING id",
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
            sqlx::query("UPDATE searches SET digest_at = $1 WHERE id = $2")
                .bind(ts(now))
                .bind(search_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Claims the due deliveries for this instance: another instance's
    /// claim is skipped until it runs out, so nothing is sent twice.
    pub async fn due_deliveries(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Delivery>> {
        self.writable("claim deliveries")?;
        let holder = self.holder();
        let mut tx = self.pool.begin().await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "WITH due AS (SELECT id FROM alert_deliveries WHERE state = 'pending' \
               AND next_try_at <= $1 AND (lease_until IS NULL OR lease_until <= $1 OR leased_by = $3) \
               ORDER BY next_try_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) \
             UPDATE alert_deliveries d SET leased_by = $3, lease_until = $4 \
             FROM due WHERE d.id = due.id RETURNING d.id",
        )
        .bind(ts(now))
        .bind(limit)
        .bind(&holder.name)
        .bind(ts(holder.until(now)))
        .fetch_all(&mut *tx)
        .await?;
        let rows: Vec<(i64, String, i64, String, i64, String)> = sqlx::query_as(
            "SELECT d.id, e.event_id, e.search_id, d.channel, d.attempts, e.payload \
             FROM alert_deliveries d JOIN alert_events e ON e.id = d.event_id \
             WHERE d.id = ANY($1) ORDER BY d.next_try_at, d.id",
        )
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
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
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn finish_delivery(
        &self,
        id: i64,
        outcome: &DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.writable("finish delivery")?;
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
            "UPDATE alert_deliveries SET state = $1, attempts = attempts + 1, \
             next_try_at = coalesce($2, next_try_at), last_error = $3, last_status = $4, \
             leased_by = NULL, lease_until = NULL, \
             sent_at = CASE WHEN $5::text = 'sent' THEN $6 ELSE sent_at END WHERE id = $7",
        )
        .bind(state.as_str())
        .bind(next.map(ts))
        .bind(error)
        .bind(status.map(i64::from))
        .bind(state.as_str())
        .bind(ts(now))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn alert_stats(&self) -> Result<AlertStats> {
        let counts: StatsColumns = sqlx::query_as(ALERT_STATS).fetch_one(&self.pool).await?;
        Ok(stats_of(counts))
    }
}

async fn insert_event_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    id: i64,
    e: &NewEvent,
    now: DateTime<Utc>,
) -> Result<()> {
    for m in &e.match_ids {
        sqlx::query("UPDATE alert_matches SET event_id = $1 WHERE id = $2")
            .bind(id)
            .bind(m)
            .execute(&mut **tx)
            .await?;
    }
    for c in &e.channels {
        sqlx::query(
            "INSERT INTO alert_deliveries (event_id, channel, state, next_try_at) \
             VALUES ($1, $2, 'pending', $3) ON CONFLICT DO NOTHING",
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
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    s: &NewSearch,
    origin: SearchOrigin,
    now: DateTime<Utc>,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO searches (name, query, fts, feeds, publishers, lang, channels, digest_secs, \
         backfill, origin, matches_since, digest_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $12) RETURNING id",
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
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
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
        "UPDATE searches SET query = $1, fts = $2, feeds = $3, publishers = $4, lang = $5, \
         channels = $6, digest_secs = $7, backfill = $8, origin = $9, enabled = 1, \
         disabled_reason = NULL, matches_since = $10, updated_at = $11 WHERE id = $12",
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
