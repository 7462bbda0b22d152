//! Story clustering on PostgreSQL (the rules are in [`crate::cluster`], the
//! comparison window in [`crate::store::stories::window`]) and the story
//! listings. As on SQLite, except that related coverage meets on the Google
//! ids themselves (no hash columns) and the due articles of a batch are
//! locked (`SKIP LOCKED`), so two writers clustering at once never decide
//! the same article twice.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use futures::TryStreamExt;
use sqlx::PgConnection;

use super::PostgresStore;
use crate::cluster;
use crate::store::error::Result;
use crate::store::query::SeenKey;
use crate::store::stories::window::{
    batch_range, hashes, CandidateRow, Due, DueRow, Weights, Window, BATCH,
};
use crate::store::stories::{ClusterReport, StoryItem};
use crate::store::time::ts;

type StoryRow = (i64, Option<String>, i64, String, String);

fn story_item((id, title, size, first_seen_at, updated_at): StoryRow) -> StoryItem {
    StoryItem {
        id,
        title,
        size,
        first_seen_at,
        updated_at,
    }
}

impl PostgresStore {
    pub async fn cluster_pending(
        &self,
        now: DateTime<Utc>,
        span: Duration,
    ) -> Result<ClusterReport> {
        self.writable("cluster stories")?;
        let mut report = ClusterReport::default();
        // Read once and carried from batch to batch, as on SQLite: an edit
        // other writers make meanwhile is seen by the next call.
        let mut window = Window::new(span);
        loop {
            let mut tx = self.pool.begin().await?;
            let due: Vec<DueRow> = sqlx::query_as(
                "SELECT id, title, text, first_seen_at, story_id, cluster_due FROM articles \
                 WHERE cluster_due IS NOT NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
            )
            .bind(BATCH)
            .fetch_all(&mut *tx)
            .await?;
            if due.is_empty() {
                break;
            }
            let (seen, lo, hi) = batch_range(&due, now, span);
            for (lo, hi) in window.retarget(lo, hi) {
                load(&mut tx, &mut window, lo, hi).await?;
            }
            let (due, weights) = window.prepare(&due, &seen);
            let mut touched = BTreeSet::new();
            for me in &due {
                let joined =
                    cluster_one(&mut tx, me, &weights, &mut window, &mut touched, now).await?;
                report.examined += 1;
                report.joined += usize::from(joined);
            }
            // In id order, so two writers refreshing the same stories take
            // their row locks in one order and never deadlock.
            for story in touched {
                refresh_story(&mut tx, story, now).await?;
            }
            tx.commit().await?;
        }
        Ok(report)
    }

    pub async fn list_stories(
        &self,
        after: Option<&SeenKey>,
        limit: i64,
    ) -> Result<Vec<StoryItem>> {
        let (at, id) = match after {
            Some(k) => (Some(k.first_seen_at.clone()), k.id),
            None => (None, 0),
        };
        let rows: Vec<StoryRow> = sqlx::query_as(
            "SELECT id, title, size, first_seen_at, updated_at FROM stories \
             WHERE size > 0 AND ($1::text IS NULL OR first_seen_at < $1 \
                                 OR (first_seen_at = $1 AND id < $2)) \
             ORDER BY first_seen_at DESC, id DESC LIMIT $3",
        )
        .bind(at)
        .bind(id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(story_item).collect())
    }

    pub async fn story(&self, id: i64) -> Result<Option<StoryItem>> {
        let row: Option<StoryRow> = sqlx::query_as(
            "SELECT id, title, size, first_seen_at, updated_at FROM stories \
             WHERE id = $1 AND size > 0",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(story_item))
    }
}

/// The story Google's related coverage puts this article in: one of the
/// articles its hints point to, or one whose hints point to it (hints and
/// items meet by Google id: related coverage lists Google links only).
async fn hinted_story(conn: &mut PgConnection, article_id: i64) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT MIN(story_id) FROM ( \
           SELECT a.story_id FROM story_hints h \
             JOIN google_links g ON g.google_id = h.google_id \
             JOIN articles a ON a.id = g.article_id \
             WHERE h.article_id = $1 AND a.id <> $1 AND a.story_id IS NOT NULL \
           UNION ALL \
           SELECT a.story_id FROM google_links g \
             JOIN story_hints h ON h.google_id = g.google_id \
             JOIN articles a ON a.id = h.article_id \
             WHERE g.article_id = $1 AND a.id <> $1 AND a.story_id IS NOT NULL) s",
    )
    .bind(article_id)
    .fetch_one(&mut *conn)
    .await?)
}

/// Reads the clustered articles first seen in `[lo, hi]` into the window.
async fn load(
    conn: &mut PgConnection,
    window: &mut Window,
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
) -> Result<()> {
    let mut rows = sqlx::query_as::<_, CandidateRow>(
        "SELECT id, story_id, first_seen_at, title, text_simhash FROM articles \
         WHERE first_seen_at >= $1 AND first_seen_at <= $2 AND story_id IS NOT NULL \
         AND (title_simhash IS NOT NULL OR text_simhash IS NOT NULL)",
    )
    .bind(ts(lo))
    .bind(ts(hi))
    .fetch(&mut *conn);
    // Row by row: the rows and their words as strings would take
    // several times the window's own memory.
    while let Some(r) = rows.try_next().await? {
        window.add_row(r);
    }
    Ok(())
}

/// Clusters one article; true when it joined an existing story.
async fn cluster_one(
    conn: &mut PgConnection,
    me: &Due<'_>,
    weights: &Weights,
    window: &mut Window,
    touched: &mut BTreeSet<i64>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let row = me.row;
    let (title, text) = hashes(row);
    let (hinted, alone) = match row.story_id {
        Some(current) if row.cluster_due == 2 => {
            let alone: i64 = sqlx::query_scalar("SELECT size FROM stories WHERE id = $1")
                .bind(current)
                .fetch_optional(&mut *conn)
                .await?
                .unwrap_or(0);
            (None, alone)
        }
        _ => (hinted_story(conn, row.id).await?, 0),
    };
    let target = window.target(me, text, weights, hinted, alone);
    let story = match (target, row.story_id) {
        (Some(s), _) => s,
        (None, Some(current)) => current,
        (None, None) => {
            sqlx::query_scalar(
                "INSERT INTO stories (first_seen_at, size, title, updated_at) \
             VALUES ($1, 0, $2, $3) RETURNING id",
            )
            .bind(&row.first_seen_at)
            .bind(&row.title)
            .bind(ts(now))
            .fetch_one(&mut *conn)
            .await?
        }
    };
    if let Some(old) = row.story_id {
        touched.insert(old);
    }
    touched.insert(story);
    sqlx::query(
        "UPDATE articles SET story_id = $2, title_simhash = $3, text_simhash = $4, \
         cluster_due = NULL WHERE id = $1",
    )
    .bind(row.id)
    .bind(story)
    .bind(title.map(cluster::to_db))
    .bind(text.map(cluster::to_db))
    .execute(&mut *conn)
    .await?;
    window.clustered(me, story, title, text);
    Ok(target.is_some() && target != row.story_id)
}

/// Size, first sighting and representative title (the earliest titled
/// member's) from the story's members.
async fn refresh_story(conn: &mut PgConnection, story: i64, now: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "UPDATE stories SET \
           size = (SELECT COUNT(*) FROM articles WHERE story_id = $1), \
           first_seen_at = COALESCE((SELECT MIN(first_seen_at) FROM articles WHERE story_id = $1), first_seen_at), \
           title = COALESCE((SELECT title FROM articles WHERE story_id = $1 AND title IS NOT NULL \
                             ORDER BY first_seen_at, id LIMIT 1), title), \
           updated_at = $2 \
         WHERE id = $1",
    )
    .bind(story)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}
