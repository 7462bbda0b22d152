//! The identity model's statements on PostgreSQL (rules: `store::identity`):
//! the merge of entries into articles, the merge of two articles when one
//! takes the other's identity, the split of a wrongly joined Google link,
//! and full-text queueing. Nothing else in the engine creates, merges or
//! splits articles (the ingest path's unresolved Google articles excepted:
//! they have no identity yet).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::PostgresStore;
use crate::store::error::Result;
use crate::store::identity::{
    link_names_id, placed_joins, PlacedCandidate, FILLED_FROM_ENTRIES, FILLED_FROM_MERGED,
};
use crate::store::time::ts;

impl PostgresStore {
    /// Gives an article the identity that just became known (a resolved
    /// link, a canonical URL), merging it into the article that holds it
    /// already if one does. Returns the surviving id.
    pub async fn assign_identity(&self, article_id: i64, url_key: &str, url: &str) -> Result<i64> {
        self.writable("assigning an article's identity")?;
        let mut tx = self.pool.begin().await?;
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
        self.writable("joining Google links to placed articles")?;
        let mut tx = self.pool.begin().await?;
        let candidates: Vec<PlacedCandidate> = sqlx::query_as(
            "SELECT a.id, a.first_seen_at, p.first_seen_at, p.resolution, p.url_key, p.url \
             FROM articles AS a CROSS JOIN articles AS p \
             WHERE a.id = ANY($1) AND a.resolution = 'unresolved' AND a.provisional_key IS NOT NULL \
               AND p.provisional_key IS NOT NULL AND md5(p.provisional_key) = md5(a.provisional_key) \
               AND p.provisional_key = a.provisional_key AND p.id != a.id AND p.url IS NOT NULL \
             ORDER BY a.id, p.id",
        )
        .bind(article_ids)
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
pub(super) async fn join_unlooked_siblings(conn: &mut PgConnection, article_id: i64) -> Result<()> {
    sqlx::query(
        "UPDATE google_links SET status = 'joined', last_error = NULL \
         WHERE article_id = $1 AND status = 'pending' AND signature IS NULL",
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
    /// `store::identity::entry_provisional_key`, for a new article.
    pub provisional_key: Option<String>,
}

/// The merge of entries into articles by identity, set-based (one insert
/// and one update for all rows, the rows bound as arrays): an article
/// already holding a row's `url_key` keeps what it has and gets what it
/// lacks; otherwise a new article, created by the first row with that key.
/// Returns, per row, whether it created its article. New articles with a
/// URL to fetch are queued for full text. `ON CONFLICT` makes a concurrent
/// writer's article with the same key the one both use.
pub(super) async fn merge_entries(
    conn: &mut PgConnection,
    rows: &[&EntryArticle<'_>],
) -> Result<Vec<bool>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let col = |f: fn(&EntryArticle<'_>) -> Option<String>| -> Vec<Option<String>> {
        rows.iter().map(|r| f(r)).collect()
    };
    let now = col(|r| Some(r.now.to_owned()));
    let url = col(|r| r.url.map(str::to_owned));
    let url_key = col(|r| Some(r.url_key.clone()));
    let title = col(|r| r.title.map(str::to_owned));
    let summary = col(|r| r.summary.map(str::to_owned));
    let publisher = col(|r| r.publisher.map(str::to_owned));
    let publisher_url = col(|r| r.publisher_url.map(str::to_owned));
    let authors = col(|r| Some(r.authors.clone()));
    let published_at = col(|r| r.published_at.clone());
    let provisional_key = col(|r| r.provisional_key.clone());

    // In row order, so the first row with a new key creates its article.
    let inserted: Vec<(i64, String)> = sqlx::query_as(
        "INSERT INTO articles (first_seen_at, updated_at, url, url_key, title, summary, \
           publisher, publisher_url, authors, published_at, provisional_key) \
         SELECT v.now, v.now, v.url, v.url_key, v.title, v.summary, v.publisher, v.publisher_url, \
           v.authors, v.published_at, v.provisional_key \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
           $7::text[], $8::text[], $9::text[], $10::text[]) WITH ORDINALITY \
           AS v(now, url, url_key, title, summary, publisher, publisher_url, authors, published_at, \
             provisional_key, ord) \
         ORDER BY v.ord \
         ON CONFLICT ((md5(url_key))) DO NOTHING \
         RETURNING id, url_key",
    )
    .bind(&now)
    .bind(&url)
    .bind(&url_key)
    .bind(&title)
    .bind(&summary)
    .bind(&publisher)
    .bind(&publisher_url)
    .bind(&authors)
    .bind(&published_at)
    .bind(&provisional_key)
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<i64> = inserted.iter().map(|(id, _)| *id).collect();
    let mut new_keys: HashSet<String> = inserted.into_iter().map(|(_, k)| k).collect();
    let created: Vec<bool> = rows.iter().map(|r| new_keys.remove(&r.url_key)).collect();
    // Those without a URL to fetch are passed over there.
    queue_fulltext(conn, &ids, None).await?;

    // The rows that did not create their article fill what it lacks (the
    // first such row of a key); only articles missing something are
    // touched, since every update rewrites the row and its search document.
    let seen: Vec<usize> = (0..rows.len()).filter(|&i| !created[i]).collect();
    if seen.is_empty() {
        return Ok(created);
    }
    let pick = |v: &[Option<String>]| -> Vec<Option<String>> {
        seen.iter().map(|&i| v[i].clone()).collect()
    };
    let fill = FILLED_FROM_ENTRIES
        .iter()
        .map(|c| format!("{c} = COALESCE(articles.{c}, v.{c})"))
        .collect::<Vec<_>>()
        .join(", ");
    let lacking = FILLED_FROM_ENTRIES
        .iter()
        .map(|c| format!("(articles.{c} IS NULL AND v.{c} IS NOT NULL)"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let sql = format!(
        "UPDATE articles SET {fill}, \
           authors = CASE WHEN articles.authors = '[]' THEN v.authors ELSE articles.authors END \
         FROM (SELECT DISTINCT ON (md5(u.url_key)) u.* FROM unnest($1::text[], $2::text[], \
             $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY \
             AS u(url_key, {cols}, authors, ord) ORDER BY md5(u.url_key), u.ord) AS v \
         WHERE md5(articles.url_key) = md5(v.url_key) AND articles.url_key = v.url_key \
           AND ({lacking} OR (articles.authors = '[]' AND v.authors != '[]'))",
        cols = FILLED_FROM_ENTRIES.join(", "),
    );
    sqlx::query(&sql)
        .bind(pick(&url_key))
        .bind(pick(&title))
        .bind(pick(&summary))
        .bind(pick(&publisher))
        .bind(pick(&publisher_url))
        .bind(pick(&published_at))
        .bind(pick(&authors))
        .execute(&mut *conn)
        .await?;
    Ok(created)
}

/// Queues articles for full text if they have a URL to fetch (`url`: the
/// publisher's article) and no text yet, due at `at` (a stored timestamp),
/// or when first seen.
pub(super) async fn queue_fulltext(
    conn: &mut PgConnection,
    article_ids: &[i64],
    at: Option<&str>,
) -> Result<()> {
    if article_ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO fulltext_jobs (article_id, status, next_try_at, created_at, updated_at) \
         SELECT a.id, 'pending', COALESCE($2, a.first_seen_at), COALESCE($2, a.first_seen_at), \
           COALESCE($2, a.first_seen_at) FROM articles AS a \
         WHERE a.id = ANY($1) AND a.url IS NOT NULL AND a.text IS NULL \
           AND COALESCE(a.resolution, '') != 'unresolved' \
         ON CONFLICT (article_id) DO NOTHING",
    )
    .bind(article_ids)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Gives `article_id` the identity `url_key` (with `url` to fetch). If
/// another article holds it, the two merge into that one (the survivor),
/// whose id comes back. Used by resolution and full text, inside their
/// transactions.
pub(super) async fn assign_identity(
    conn: &mut PgConnection,
    article_id: i64,
    url_key: &str,
    url: &str,
) -> Result<i64> {
    // Locked, so a concurrent merge cannot delete the survivor under us.
    let holder: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM articles WHERE md5(url_key) = md5($1) AND url_key = $1 AND id != $2 \
         FOR UPDATE",
    )
    .bind(url_key)
    .bind(article_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(survivor) = holder else {
        sqlx::query("UPDATE articles SET url_key = $2, url = $3 WHERE id = $1")
            .bind(article_id)
            .bind(url_key)
            .bind(url)
            .execute(&mut *conn)
            .await?;
        return Ok(article_id);
    };
    // Everything that hangs off the merged article moves to the survivor.
    for sql in [
        "UPDATE feed_items SET article_id = $2 WHERE article_id = $1",
        "UPDATE google_links SET article_id = $2 WHERE article_id = $1",
        "INSERT INTO story_hints (article_id, url, title, source, google_id) \
         SELECT $2, url, title, source, google_id FROM story_hints WHERE article_id = $1 \
         ON CONFLICT DO NOTHING",
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
           first_seen_at = LEAST(articles.first_seen_at, m.first_seen_at) \
         FROM (SELECT * FROM articles WHERE id = $1) AS m WHERE articles.id = $2"
    ))
    .bind(article_id)
    .bind(survivor)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM articles WHERE id = $1")
        .bind(article_id)
        .execute(&mut *conn)
        .await?;
    Ok(survivor)
}

/// Moves one Google link's items from `from` to the article holding `key`
/// (created as a copy of `from` when none does).
pub(super) async fn split_link(
    conn: &mut PgConnection,
    google_id: &str,
    from: i64,
    key: &str,
    url: &str,
    now: DateTime<Utc>,
) -> Result<i64> {
    sqlx::query(
        "INSERT INTO articles (url, url_key, title, summary, publisher, publisher_url, authors, \
           published_at, first_seen_at, updated_at, resolution, provisional_key) \
         SELECT $2, $3, title, summary, publisher, publisher_url, authors, published_at, \
           first_seen_at, $4, 'resolved', provisional_key FROM articles WHERE id = $1 \
         ON CONFLICT ((md5(url_key))) DO NOTHING",
    )
    .bind(from)
    .bind(url)
    .bind(key)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?;
    let to: i64 =
        sqlx::query_scalar("SELECT id FROM articles WHERE md5(url_key) = md5($1) AND url_key = $1")
            .bind(key)
            .fetch_one(&mut *conn)
            .await?;
    let items: Vec<(i64, Option<String>)> =
        sqlx::query_as("SELECT id, link FROM feed_items WHERE article_id = $1")
            .bind(from)
            .fetch_all(&mut *conn)
            .await?;
    let moved: Vec<i64> = items
        .into_iter()
        .filter(|(_, link)| link.as_deref().is_some_and(|l| link_names_id(l, google_id)))
        .map(|(item, _)| item)
        .collect();
    sqlx::query("UPDATE feed_items SET article_id = $2 WHERE id = ANY($1)")
        .bind(&moved)
        .bind(to)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE google_links SET article_id = $3 WHERE google_id = $1 AND article_id = $2")
        .bind(google_id)
        .bind(from)
        .bind(to)
        .execute(&mut *conn)
        .await?;
    Ok(to)
}
