//! Plain entries (no Google bookkeeping): their articles through the one
//! merge by identity, then their feed items, a few statements per chunk.

use sqlx::SqliteConnection;

use super::super::identity::{merge_entries, EntryArticle};
use super::super::keys::key_hash;
use super::super::sql::{padded, placeholders, CHUNK_ROWS};
use crate::domain::CanonicalUrl;
use crate::store::error::{Result, StoreError};
use crate::store::identity::article_key;
use crate::store::ingest::{NewEntry, PollStored};
use crate::store::time::ts;

/// A new entry without Google bookkeeping, as `store_plain` binds it.
pub(super) struct PlainRow<'a> {
    poll: usize,
    feed_id: i64,
    entry_key: &'a str,
    guid: Option<&'a str>,
    link: Option<&'a str>,
    article: EntryArticle<'a>,
}

impl<'a> PlainRow<'a> {
    pub(super) fn new(poll: usize, feed_id: i64, now: &'a str, e: &'a NewEntry) -> Self {
        PlainRow {
            poll,
            feed_id,
            entry_key: e.entry_key.as_str(),
            guid: e.guid.as_deref(),
            link: e.link.as_deref(),
            article: entry_article(feed_id, now, e),
        }
    }
}

/// An entry's article fields, keyed by its identity.
pub(super) fn entry_article<'a>(feed_id: i64, now: &'a str, e: &'a NewEntry) -> EntryArticle<'a> {
    let provisional_key = e.provisional_key.clone();
    EntryArticle {
        now,
        url: e.url.as_deref(),
        url_key: article_key(
            feed_id,
            e.url_key.as_ref().map(CanonicalUrl::as_str),
            e.entry_key.as_str(),
        ),
        title: e.title.as_deref(),
        summary: e.summary.as_deref(),
        publisher: e.publisher.as_deref(),
        publisher_url: e.publisher_url.as_deref(),
        authors: serde_json::to_string(&e.authors).unwrap_or_else(|_| "[]".into()),
        published_at: e.published_at.map(ts),
        provisional_hash: provisional_key.as_deref().map(key_hash),
        provisional_key,
    }
}

/// A group's new entries without Google bookkeeping: each article new to
/// the archive is counted for the first poll that brought it.
pub(super) async fn store_plain(
    conn: &mut SqliteConnection,
    rows: &[PlainRow<'_>],
    stored: &mut [PollStored],
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let articles: Vec<&EntryArticle<'_>> = rows.iter().map(|r| &r.article).collect();
    let created = merge_entries(conn, &articles).await?;
    for (r, _) in rows.iter().zip(created).filter(|(_, created)| *created) {
        stored[r.poll].new_articles += 1;
    }

    let mut items = 0;
    for chunk in rows.chunks(CHUNK_ROWS) {
        let (size, padded_rows) = padded(chunk);
        // CROSS JOIN keeps the entries outermost: one url_key index lookup each.
        let sql = format!(
            "INSERT INTO feed_items (feed_id, first_seen_at, last_seen_at, entry_key, guid, link, article_id) \
             SELECT v.column1, v.column2, v.column2, v.column3, v.column4, v.column5, a.id \
             FROM (VALUES {}) AS v CROSS JOIN articles AS a ON a.url_key = v.column6",
            placeholders(size, 6)
        );
        let mut q = sqlx::query(&sql);
        for r in padded_rows {
            q = q
                .bind(r.map(|r| r.feed_id))
                .bind(r.map(|r| r.article.now))
                .bind(r.map(|r| r.entry_key))
                .bind(r.and_then(|r| r.guid))
                .bind(r.and_then(|r| r.link))
                .bind(r.map(|r| &r.article.url_key));
        }
        items += q.execute(&mut *conn).await?.rows_affected();
    }
    if items != rows.len() as u64 {
        return Err(StoreError::Inconsistent(format!(
            "stored {items} of {} feed items",
            rows.len()
        )));
    }
    for r in rows {
        stored[r.poll].new_items += 1;
    }
    Ok(())
}
