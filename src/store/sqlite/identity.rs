//! The identity model's statements (rules and decisions:
//! `store::identity`): the one merge of entries into articles by identity,
//! the merge of two articles when one takes the other's identity, the split
//! of a Google link whose provisional merge turned out wrong, and the
//! full-text queueing that follows an article's URL to fetch. Nothing else
//! in the engine creates, merges or splits articles (the ingest path's
//! unresolved Google articles excepted: they have no identity yet).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use super::sql::{padded, placeholders, CHUNK_ROWS};
use super::SqliteStore;
use crate::store::error::Result;
use crate::store::identity::{
    link_names_id, placed_joins, PlacedCandidate, FILLED_FROM_ENTRIES, FILLED_FROM_MERGED,
};
use crate::store::time::ts;

impl SqliteStore {
    /// Gives an article the identity that just became known (a resolved
    /// link, a canonical URL), merging it into the article that holds it
    /// already if one does. Returns the surviving id.
    pub async fn assign_identity(&self, article_id: i64, url_key: &str, url: &str) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let survivor = assign_identity(&mut tx, article_id, url_key, url).await?;
        tx.commit().await?;
        Ok(survivor)
    }

    /// Of these articles, each unresolved one whose provisional key a placed
    /// article holds (`store::identity::is_placed`, within the window)
    /// merges into it, its unsigned pending links `joined`. Returns the
    /// articles that merged.
    pub async fn join_placed_articles(&self, article_ids: &[i64]) -> Result<Vec<i64>> {
        if article_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write().await?;
        let ids = serde_json::to_string(article_ids).unwrap_or_else(|_| "[]".into());
        let candidates: Vec<PlacedCandidate> = sqlx::query_as(
            "SELECT a.id, a.first_seen_at, p.first_seen_at, p.resolution, p.url_key, p.url \
             FROM json_each(?1) AS j CROSS JOIN articles AS a ON a.id = j.value \
             CROSS JOIN provisional_keys AS k ON k.fresh IN (0, 1) \
               AND k.provisional_hash = a.provisional_hash \
             CROSS JOIN articles AS p ON p.id = k.article_id \
             WHERE a.resolution = 'unresolved' AND a.provisional_key IS NOT NULL \
               AND p.id != a.id AND p.provisional_key = a.provisional_key AND p.url IS NOT NULL \
             ORDER BY a.id, p.id",
        )
        .bind(ids)
        .fetch_all(&mut *tx)
        .await?;
        let mut joined = Vec::new();
        for (unresolved, url_key, url) in placed_joins(candidates) {
            let survivor = assign_identity(&mut tx, unresolved, &url_key, &url).await?;
            join_unlooked_siblings(&mut tx, survivor).await?;
            joined.push(unresolved);
        }
        tx.commit().await?;
        Ok(joined)
    }
}

/// Provisional siblings of a placed article that have not spent a GET
/// yet join it, as later items of its story do: no lookup of their own.
/// Siblings already holding a signature are still resolved (and split off
/// if they turn out to be another article).
pub(super) async fn join_unlooked_siblings(
    conn: &mut SqliteConnection,
    article_id: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE google_links SET status = 'joined', last_error = NULL \
         WHERE article_id = ? AND status = 'pending' AND signature IS NULL",
    )
    .bind(article_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// An entry's article fields, as the merge binds them.
pub(super) struct EntryArticle<'a> {
    pub now: &'a str,
    pub url: Option<&'a str>,
    /// The article identity (`store::identity::article_key`).
    pub url_key: String,
    pub title: Option<&'a str>,
    pub summary: Option<&'a str>,
    pub publisher: Option<&'a str>,
    pub publisher_url: Option<&'a str>,
    /// JSON array.
    pub authors: String,
    pub published_at: Option<String>,
    /// `store::identity::entry_provisional_key`, for a new article, with
    /// its `key_hash`.
    pub provisional_key: Option<String>,
    pub provisional_hash: Option<i64>,
}

/// The merge of entries into articles by identity, set-based (a few
/// statements per up to `CHUNK_ROWS` entries; one at a time, the round
/// trips took most of the writer's time): an article already holding a
/// row's `url_key` keeps what it has and gets what it lacks; otherwise a
/// new article, created by the first row with that key. Returns, per row,
/// whether it created its article. New articles with a URL to fetch are
/// queued for full text.
pub(super) async fn merge_entries(
    conn: &mut SqliteConnection,
    rows: &[&EntryArticle<'_>],
) -> Result<Vec<bool>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    // Only the identities the archive holds come back: few, next to the new.
    let mut known: HashSet<String> = HashSet::new();
    for chunk in rows.chunks(CHUNK_ROWS) {
        let (size, padded_rows) = padded(chunk);
        let sql = format!(
            "SELECT a.url_key FROM (VALUES {}) AS v CROSS JOIN articles AS a ON a.url_key = v.column1",
            placeholders(size, 1)
        );
        let mut q = sqlx::query_scalar::<_, String>(&sql);
        for r in padded_rows {
            q = q.bind(r.map(|r| &r.url_key));
        }
        known.extend(q.fetch_all(&mut *conn).await?);
    }
    let created: Vec<bool> = rows
        .iter()
        .map(|r| known.insert(r.url_key.clone()))
        .collect();
    let (new, seen_before): (Vec<_>, Vec<_>) =
        rows.iter().zip(&created).partition(|(_, &created)| created);
    let new: Vec<&EntryArticle<'_>> = new.into_iter().map(|(r, _)| *r).collect();
    let seen_before: Vec<&EntryArticle<'_>> = seen_before.into_iter().map(|(r, _)| *r).collect();

    let mut inserted = Vec::with_capacity(new.len());
    for chunk in new.chunks(CHUNK_ROWS) {
        let (size, padded_rows) = padded(chunk);
        // No ON CONFLICT: every identity here is new (checked above, within
        // this write transaction), so a conflict is an error to report.
        let sql = format!(
            "INSERT INTO articles (first_seen_at, updated_at, url, url_key, title, summary, \
               publisher, publisher_url, authors, published_at, provisional_key, provisional_hash) \
             SELECT v.column1, v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, \
               v.column7, v.column8, v.column9, v.column10, v.column11 FROM (VALUES {}) AS v \
             WHERE v.column3 IS NOT NULL RETURNING id",
            placeholders(size, 11)
        );
        let mut q = sqlx::query_scalar::<_, i64>(&sql);
        for r in padded_rows {
            let r = r.copied();
            q = q
                .bind(r.map(|r| r.now))
                .bind(r.and_then(|r| r.url))
                .bind(r.map(|r| &r.url_key))
                .bind(r.and_then(|r| r.title))
                .bind(r.and_then(|r| r.summary))
                .bind(r.and_then(|r| r.publisher))
                .bind(r.and_then(|r| r.publisher_url))
                .bind(r.map(|r| &r.authors))
                .bind(r.and_then(|r| r.published_at.as_deref()))
                .bind(r.and_then(|r| r.provisional_key.as_deref()))
                .bind(r.and_then(|r| r.provisional_hash));
        }
        inserted.extend(q.fetch_all(&mut *conn).await?);
    }
    // Those without a URL to fetch are passed over there.
    queue_fulltext(conn, &inserted, None).await?;

    // After the insert, so that an article new in this batch also gets what
    // a later entry of it has and it lacks; only articles missing something
    // are touched, since an update re-queues the article for the search
    // index.
    let fill = FILLED_FROM_ENTRIES
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = COALESCE(articles.{c}, v.column{})", i + 2))
        .collect::<Vec<_>>()
        .join(", ");
    let lacking = FILLED_FROM_ENTRIES
        .iter()
        .enumerate()
        .map(|(i, c)| format!("(articles.{c} IS NULL AND v.column{} IS NOT NULL)", i + 2))
        .collect::<Vec<_>>()
        .join(" OR ");
    let authors = FILLED_FROM_ENTRIES.len() + 2;
    for chunk in seen_before.chunks(CHUNK_ROWS) {
        let (size, padded_rows) = padded(chunk);
        let sql = format!(
            "UPDATE articles SET {fill}, \
               authors = CASE WHEN articles.authors = '[]' THEN v.column{authors} ELSE articles.authors END \
             FROM (VALUES {}) AS v \
             WHERE articles.url_key = v.column1 AND ({lacking} \
               OR (articles.authors = '[]' AND v.column{authors} != '[]'))",
            placeholders(size, authors)
        );
        let mut q = sqlx::query(&sql);
        for r in padded_rows {
            let r = r.copied();
            q = q
                .bind(r.map(|r| &r.url_key))
                .bind(r.and_then(|r| r.title))
                .bind(r.and_then(|r| r.summary))
                .bind(r.and_then(|r| r.publisher))
                .bind(r.and_then(|r| r.publisher_url))
                .bind(r.and_then(|r| r.published_at.as_deref()))
                .bind(r.map(|r| &r.authors));
        }
        q.execute(&mut *conn).await?;
    }
    Ok(created)
}

/// Queues articles for full text if they have a URL to fetch (`url`: the
/// publisher's article) and no text yet, due at `at`, or when first seen.
pub(super) async fn queue_fulltext(
    conn: &mut SqliteConnection,
    article_ids: &[i64],
    at: Option<&str>,
) -> Result<()> {
    if article_ids.is_empty() {
        return Ok(());
    }
    let ids = serde_json::to_string(article_ids).unwrap_or_else(|_| "[]".into());
    sqlx::query(
        "INSERT INTO fulltext_jobs (article_id, status, next_try_at, created_at, updated_at) \
         SELECT a.id, 'pending', COALESCE(?2, a.first_seen_at), COALESCE(?2, a.first_seen_at), \
           COALESCE(?2, a.first_seen_at) FROM json_each(?1) AS j CROSS JOIN articles AS a \
           ON a.id = j.value \
         WHERE a.url IS NOT NULL AND a.text IS NULL AND COALESCE(a.resolution, '') != 'unresolved' \
         ON CONFLICT (article_id) DO NOTHING",
    )
    .bind(ids)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Gives `article_id` the identity `url_key` (with `url` to fetch). If
/// another article holds it, the two merge into that one (the survivor),
/// whose id comes back.
pub(super) async fn assign_identity(
    conn: &mut SqliteConnection,
    article_id: i64,
    url_key: &str,
    url: &str,
) -> Result<i64> {
    let holder: Option<i64> =
        sqlx::query_scalar("SELECT id FROM articles WHERE url_key = ? AND id != ?")
            .bind(url_key)
            .bind(article_id)
            .fetch_optional(&mut *conn)
            .await?;
    match holder {
        None => {
            sqlx::query("UPDATE articles SET url_key = ?2, url = ?3 WHERE id = ?1")
                .bind(article_id)
                .bind(url_key)
                .bind(url)
                .execute(&mut *conn)
                .await?;
            Ok(article_id)
        }
        Some(survivor) => {
            // Everything that hangs off the merged article moves to the survivor.
            for sql in [
                "UPDATE feed_items SET article_id = ?2 WHERE article_id = ?1",
                "UPDATE google_links SET article_id = ?2 WHERE article_id = ?1",
                "INSERT OR IGNORE INTO story_hints (article_id, url, title, source, google_id, google_hash) \
                 SELECT ?2, url, title, source, google_id, google_hash FROM story_hints WHERE article_id = ?1",
            ] {
                sqlx::query(sql)
                    .bind(article_id)
                    .bind(survivor)
                    .execute(&mut *conn)
                    .await?;
            }
            let fill = FILLED_FROM_MERGED
                .iter()
                .map(|c| format!("{c} = COALESCE(articles.{c}, m.{c})"))
                .collect::<Vec<_>>()
                .join(", ");
            sqlx::query(&format!(
                "UPDATE articles SET {fill}, \
                   first_seen_at = MIN(articles.first_seen_at, m.first_seen_at) \
                 FROM (SELECT * FROM articles WHERE id = ?1) AS m WHERE articles.id = ?2"
            ))
            .bind(article_id)
            .bind(survivor)
            .execute(&mut *conn)
            .await?;
            sqlx::query("DELETE FROM articles WHERE id = ?")
                .bind(article_id)
                .execute(&mut *conn)
                .await?;
            Ok(survivor)
        }
    }
}

/// Moves one Google link's items from `from` to the article holding `key`
/// (created as a copy of `from` when none does).
pub(super) async fn split_link(
    conn: &mut SqliteConnection,
    google_id: &str,
    from: i64,
    key: &str,
    url: &str,
    now: DateTime<Utc>,
) -> Result<i64> {
    sqlx::query(
        "INSERT INTO articles (url, url_key, title, summary, publisher, publisher_url, authors, published_at, \
         first_seen_at, updated_at, resolution, provisional_key, provisional_hash) \
         SELECT ?2, ?3, title, summary, publisher, publisher_url, authors, published_at, first_seen_at, ?4, \
         'resolved', provisional_key, provisional_hash FROM articles WHERE id = ?1 \
         ON CONFLICT (url_key) DO NOTHING",
    )
    .bind(from)
    .bind(url)
    .bind(key)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?;
    let to: i64 = sqlx::query_scalar("SELECT id FROM articles WHERE url_key = ?")
        .bind(key)
        .fetch_one(&mut *conn)
        .await?;
    let items: Vec<(i64, Option<String>)> =
        sqlx::query_as("SELECT id, link FROM feed_items WHERE article_id = ?")
            .bind(from)
            .fetch_all(&mut *conn)
            .await?;
    for (item, _) in items
        .iter()
        .filter(|(_, link)| link.as_deref().is_some_and(|l| link_names_id(l, google_id)))
    {
        sqlx::query("UPDATE feed_items SET article_id = ?2 WHERE id = ?1")
            .bind(item)
            .bind(to)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("UPDATE google_links SET article_id = ?3 WHERE article_id = ?2 AND google_id = ?1")
        .bind(google_id)
        .bind(from)
        .bind(to)
        .execute(&mut *conn)
        .await?;
    Ok(to)
}
