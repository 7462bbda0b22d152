//! Story clustering over the stored articles (the rules are in
//! [`crate::cluster`], the comparison window in
//! [`crate::store::stories::window`]) and the story listings.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use futures::TryStreamExt;
use sqlx::SqliteConnection;

use super::sql::from_row;
use super::SqliteStore;
use crate::cluster;
use crate::store::error::Result;
use crate::store::query::SeenKey;
use crate::store::stories::window::{
    batch_range, hashes, CandidateRow, Due, DueRow, Weights, Window, BATCH,
};
use crate::store::stories::{ClusterReport, StoryItem};
use crate::store::time::ts;

from_row!(StoryItem {
    id,
    title,
    size,
    first_seen_at,
    updated_at
});

impl SqliteStore {
    pub async fn cluster_pending(
        &self,
        now: DateTime<Utc>,
        span: Duration,
    ) -> Result<ClusterReport> {
        let mut report = ClusterReport::default();
        // Read once and carried from batch to batch: re-reading the window's
        // headlines and splitting them into words was most of a batch's cost.
        // Only this call's own clustering changes which articles are
        // candidates; an edit other writers make meanwhile (a title filled in
        // later, a merged duplicate) is seen by the next call.
        let mut window = Window::new(span);
        loop {
            let mut tx = self.begin_write().await?;
            let due: Vec<DueRow> = sqlx::query_as(
                "SELECT id, title, text, first_seen_at, story_id, cluster_due FROM articles \
                 WHERE cluster_due IS NOT NULL ORDER BY id LIMIT ?",
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
        Ok(sqlx::query_as(
            "SELECT id, title, size, first_seen_at, updated_at FROM stories \
             WHERE size > 0 AND (?1 IS NULL OR first_seen_at < ?1 OR (first_seen_at = ?1 AND id < ?2)) \
             ORDER BY first_seen_at DESC, id DESC LIMIT ?3",
        )
        .bind(at)
        .bind(id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn story(&self, id: i64) -> Result<Option<StoryItem>> {
        Ok(sqlx::query_as(
            "SELECT id, title, size, first_seen_at, updated_at FROM stories WHERE id = ? AND size > 0",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }
}

/// The story Google's related coverage puts this article in: one of the
/// articles its hints point to, or one whose hints point to it (hints and
/// items meet by Google id: related coverage lists Google links only).
async fn hinted_story(conn: &mut SqliteConnection, article_id: i64) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT MIN(story_id) FROM ( \
           SELECT a.story_id FROM story_hints h \
             CROSS JOIN google_link_keys k ON k.fresh IN (0, 1) AND k.id_hash = h.google_hash \
             CROSS JOIN google_links g ON g.article_id = k.article_id AND g.google_id = h.google_id \
             CROSS JOIN articles a ON a.id = g.article_id \
             WHERE h.article_id = ?1 AND a.id != ?1 AND a.story_id IS NOT NULL \
           UNION ALL \
           SELECT a.story_id FROM google_links g \
             JOIN story_hints h ON h.google_hash = g.id_hash AND h.google_id = g.google_id \
             JOIN articles a ON a.id = h.article_id \
             WHERE g.article_id = ?1 AND a.id != ?1 AND a.story_id IS NOT NULL)",
    )
    .bind(article_id)
    .fetch_one(&mut *conn)
    .await?)
}

/// Reads the clustered articles first seen in `[lo, hi]` into the window.
async fn load(
    conn: &mut SqliteConnection,
    window: &mut Window,
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
) -> Result<()> {
    let mut rows = sqlx::query_as::<_, CandidateRow>(
        "SELECT id, story_id, first_seen_at, title, text_simhash FROM articles \
         WHERE first_seen_at >= ? AND first_seen_at <= ? AND story_id IS NOT NULL \
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
    conn: &mut SqliteConnection,
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
            let alone: i64 = sqlx::query_scalar("SELECT size FROM stories WHERE id = ?")
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
        (None, None) => sqlx::query_scalar(
            "INSERT INTO stories (first_seen_at, size, title, updated_at) VALUES (?, 0, ?, ?) RETURNING id",
        )
        .bind(&row.first_seen_at)
        .bind(&row.title)
        .bind(ts(now))
        .fetch_one(&mut *conn)
        .await?,
    };
    if let Some(old) = row.story_id {
        touched.insert(old);
    }
    touched.insert(story);
    sqlx::query(
        "UPDATE articles SET story_id = ?2, title_simhash = ?3, text_simhash = ?4, cluster_due = NULL \
         WHERE id = ?1",
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
async fn refresh_story(conn: &mut SqliteConnection, story: i64, now: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "UPDATE stories SET \
           size = (SELECT COUNT(*) FROM articles WHERE story_id = ?1), \
           first_seen_at = COALESCE((SELECT MIN(first_seen_at) FROM articles WHERE story_id = ?1), first_seen_at), \
           title = COALESCE((SELECT title FROM articles WHERE story_id = ?1 AND title IS NOT NULL \
                             ORDER BY first_seen_at, id LIMIT 1), title), \
           updated_at = ?2 \
         WHERE id = ?1",
    )
    .bind(story)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}
