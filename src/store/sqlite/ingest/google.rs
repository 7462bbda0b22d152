//! Google items whose id carries no URL: each joins the article of its
//! Google id or of its provisional story, or creates an unresolved one,
//! set-based, as the identity model (`store::identity`) says.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use super::super::keys::key_hash;
use super::super::sql::{padded, placeholders, CHUNK_ROWS};
use crate::store::error::Result;
use crate::store::google_links::{GoogleEntry, Hint, LinkStatus};
use crate::store::identity::{
    is_placed, joins_provisionally, link_status, provisional_window_start, unresolved_key,
    ArticleRef,
};
use crate::store::ingest::{NewEntry, PollStored};
use crate::store::time::ts;

/// A group's new Google item whose id carries no URL, as `store_google`
/// binds it.
pub(super) struct GoogleRow<'a> {
    pub poll: usize,
    pub feed_id: i64,
    pub at: DateTime<Utc>,
    /// `at` as stored.
    pub now: &'a str,
    pub entry: &'a NewEntry,
    pub google: &'a GoogleEntry,
    /// `key_hash` of the Google id and of the provisional key: each
    /// statement that binds them reads them here.
    pub id_hash: i64,
    pub provisional_hash: Option<i64>,
}

/// A new Google link: its item, the article it goes to, its status, and the
/// publisher URL when the id carried it.
struct NewLink<'a, 'r> {
    item: &'a GoogleRow<'r>,
    article_id: i64,
    status: LinkStatus,
    publisher_url: Option<&'a str>,
}

/// The Google part of storing a group's new items (whose ids carry no URL),
/// set-based: each item joins the article of the same Google id or of the
/// same provisional story (title + publisher host within
/// `store::identity::PROVISIONAL_WINDOW`), or creates an unresolved one. What one item
/// creates, a later item of the group sees, as if they were stored one after
/// another; an article the archive holds comes before one created here, as
/// the lowest id would. A few statements per up to `CHUNK_ROWS` items: one at
/// a time, the statements' round trips took most of the writer's time.
pub(super) async fn store_google(
    conn: &mut SqliteConnection,
    rows: &[GoogleRow<'_>],
    stored: &mut [PollStored],
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut links = known_links(conn, rows).await?;
    let windows: Vec<String> = rows
        .iter()
        .map(|r| ts(provisional_window_start(r.at)))
        .collect();
    let stories = known_stories(conn, rows, &links, &windows).await?;

    let mut new: Vec<&GoogleRow<'_>> = Vec::new();
    // Provisional key -> the first article created here with it.
    let mut new_stories: HashMap<&str, usize> = HashMap::new();
    let mut link_rows: Vec<(&GoogleRow<'_>, ArticleRef, LinkStatus)> = Vec::new();
    let mut items: Vec<(&GoogleRow<'_>, ArticleRef)> = Vec::with_capacity(rows.len());
    for (r, window) in rows.iter().zip(&windows) {
        let g = r.google;
        if let Some(&article) = links.get(g.google_id.as_str()) {
            items.push((r, article));
            stored[r.poll].new_items += 1;
            continue;
        }
        let key = g.provisional_key.as_deref();
        let found = key.and_then(|k| stories.get(&(k, window.as_str())));
        let earlier = key
            .and_then(|k| new_stories.get(k))
            .filter(|&&n| joins_provisionally(new[n].at, r.at));
        let (article, created, resolved) = match (found, earlier) {
            (Some((id, resolution)), _) => (
                ArticleRef::Stored(*id),
                false,
                is_placed(resolution.as_deref()),
            ),
            (None, Some(&n)) => (ArticleRef::New(n), false, false),
            (None, None) => {
                if let Some(k) = key {
                    new_stories.entry(k).or_insert(new.len());
                }
                new.push(r);
                (ArticleRef::New(new.len() - 1), true, false)
            }
        };
        let status = link_status(g.unresolvable.is_some(), resolved);
        links.insert(&g.google_id, article);
        link_rows.push((r, article, status));
        items.push((r, article));
        stored[r.poll].new_items += 1;
        if created {
            stored[r.poll].new_articles += 1;
        }
    }

    let ids = insert_unresolved(conn, &new).await?;
    let id_of = |article: ArticleRef| article.id(&ids);
    let links: Vec<NewLink<'_, '_>> = link_rows
        .into_iter()
        .map(|(item, article, status)| {
            Ok(NewLink {
                item,
                article_id: id_of(article)?,
                status,
                publisher_url: None,
            })
        })
        .collect::<Result<_>>()?;
    let items: Vec<(&GoogleRow<'_>, i64)> = items
        .into_iter()
        .map(|(r, article)| Ok((r, id_of(article)?)))
        .collect::<Result<_>>()?;
    insert_links(conn, &links, LinkIds::New).await?;
    insert_items(conn, &items).await
}

/// The archive's articles for the rows' Google ids.
async fn known_links<'a>(
    conn: &mut SqliteConnection,
    rows: &'a [GoogleRow<'_>],
) -> Result<HashMap<&'a str, ArticleRef>> {
    let mut links = HashMap::new();
    for chunk in rows.chunks(CHUNK_ROWS) {
        let (size, padded_rows) = padded(chunk);
        // Rows come back by their position in the chunk.
        let sql = format!(
            "SELECT v.column1, g.article_id FROM (VALUES {}) AS v \
             CROSS JOIN google_link_keys AS k ON k.fresh IN (0, 1) AND k.id_hash = v.column3 \
             CROSS JOIN google_links AS g ON g.article_id = k.article_id AND g.google_id = v.column2",
            placeholders(size, 3)
        );
        let mut q = sqlx::query_as::<_, (i64, i64)>(&sql);
        for (k, r) in padded_rows.enumerate() {
            q = q
                .bind(r.map(|_| k as i64))
                .bind(r.map(|r| &r.google.google_id))
                .bind(r.map(|r| r.id_hash));
        }
        for (k, article_id) in q.fetch_all(&mut *conn).await? {
            if let Some(r) = chunk.get(k as usize) {
                links.insert(r.google.google_id.as_str(), ArticleRef::Stored(article_id));
            }
        }
    }
    Ok(links)
}

/// For each (provisional key, window start) of the rows not joining by
/// Google id: the archive's first article of that story and its resolution.
async fn known_stories<'a>(
    conn: &mut SqliteConnection,
    rows: &'a [GoogleRow<'_>],
    links: &HashMap<&str, ArticleRef>,
    windows: &'a [String],
) -> Result<HashMap<(&'a str, &'a str), (i64, Option<String>)>> {
    // With the key's hash, which the key decides.
    let wanted: Vec<(&str, &str, i64)> = rows
        .iter()
        .zip(windows)
        .filter(|(r, _)| !links.contains_key(r.google.google_id.as_str()))
        .filter_map(|(r, w)| {
            Some((
                r.google.provisional_key.as_deref()?,
                w.as_str(),
                r.provisional_hash?,
            ))
        })
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut stories = HashMap::new();
    for chunk in wanted.chunks(CHUNK_ROWS) {
        let (size, padded_rows) = padded(chunk);
        // Rows come back by their position in the chunk.
        let sql = format!(
            "SELECT v.column1, a.id, a.resolution FROM (VALUES {}) AS v \
             CROSS JOIN articles AS a ON a.id = (SELECT s.id FROM provisional_keys AS k \
               CROSS JOIN articles AS s ON s.id = k.article_id \
               WHERE k.fresh IN (0, 1) AND k.provisional_hash = v.column4 \
                 AND s.provisional_key = v.column2 AND s.first_seen_at >= v.column3 \
               ORDER BY s.id LIMIT 1)",
            placeholders(size, 4)
        );
        let mut q = sqlx::query_as::<_, (i64, i64, Option<String>)>(&sql);
        for (k, w) in padded_rows.enumerate() {
            q = q
                .bind(w.map(|_| k as i64))
                .bind(w.map(|w| w.0))
                .bind(w.map(|w| w.1))
                .bind(w.map(|w| w.2));
        }
        for (k, id, resolution) in q.fetch_all(&mut *conn).await? {
            if let Some(&(key, window, _)) = chunk.get(k as usize) {
                stories.insert((key, window), (id, resolution));
            }
        }
    }
    Ok(stories)
}

/// Creates the unresolved articles of `new`, keyed by
/// `identity::unresolved_key`; their ids in order. The ids are the next free
/// ones, as SQLite would choose them: this connection is the only writer and
/// holds the transaction.
async fn insert_unresolved(
    conn: &mut SqliteConnection,
    new: &[&GoogleRow<'_>],
) -> Result<Vec<i64>> {
    if new.is_empty() {
        return Ok(Vec::new());
    }
    let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM articles")
        .fetch_one(&mut *conn)
        .await?;
    let ids: Vec<i64> = (last + 1..).take(new.len()).collect();
    for (chunk, ids) in new.chunks(CHUNK_ROWS).zip(ids.chunks(CHUNK_ROWS)) {
        let (size, padded_rows) = padded(chunk);
        let sql = format!(
            "INSERT INTO articles (id, url, url_key, title, summary, publisher, publisher_url, authors, \
               published_at, first_seen_at, updated_at, resolution, provisional_key, provisional_hash) \
             SELECT v.column1, v.column2, v.column12, v.column3, v.column4, v.column5, v.column6, \
               v.column7, v.column8, v.column9, v.column9, 'unresolved', v.column10, v.column11 \
             FROM (VALUES {}) AS v WHERE v.column1 IS NOT NULL",
            placeholders(size, 12)
        );
        let mut q = sqlx::query(&sql);
        let ids = ids.iter().copied().map(Some).chain(std::iter::repeat(None));
        for (r, id) in padded_rows.zip(ids) {
            let e = r.map(|r| r.entry);
            q = q
                .bind(id)
                .bind(e.and_then(|e| e.link.as_deref()))
                .bind(e.and_then(|e| e.title.as_deref()))
                .bind(e.and_then(|e| e.summary.as_deref()))
                .bind(e.and_then(|e| e.publisher.as_deref()))
                .bind(e.and_then(|e| e.publisher_url.as_deref()))
                .bind(e.map(|e| serde_json::to_string(&e.authors).unwrap_or_else(|_| "[]".into())))
                .bind(e.and_then(|e| e.published_at.map(ts)))
                .bind(r.map(|r| r.now))
                .bind(r.and_then(|r| r.google.provisional_key.as_deref()))
                .bind(r.and_then(|r| r.provisional_hash))
                .bind(id.map(unresolved_key));
        }
        q.execute(&mut *conn).await?;
    }
    Ok(ids)
}

/// Whether the ids of the links `insert_links` gets may be linked already.
#[derive(Clone, Copy)]
enum LinkIds {
    /// `store_google` looked every id up in this transaction and passes each
    /// new id once: a second lookup would read both key tiers and the link
    /// row again for every link.
    New,
    /// The decoded path meets ids again when feeds overlap: an id the
    /// archive links already is left as it is.
    MaybeLinked,
}

/// New Google links and the related coverage they carry. A link whose id
/// carried the publisher URL is resolved as it is stored.
async fn insert_links(
    conn: &mut SqliteConnection,
    links: &[NewLink<'_, '_>],
    ids: LinkIds,
) -> Result<()> {
    let unlinked = match ids {
        LinkIds::New => "",
        LinkIds::MaybeLinked => {
            "AND NOT EXISTS (SELECT 1 FROM google_link_keys AS k \
               CROSS JOIN google_links AS g ON g.article_id = k.article_id AND g.google_id = v.column1 \
               WHERE k.fresh IN (0, 1) AND k.id_hash = v.column10)"
        }
    };
    for chunk in links.chunks(CHUNK_ROWS) {
        let (size, padded_rows) = padded(chunk);
        let sql = format!(
            "INSERT INTO google_links (google_id, id_hash, article_id, hl, gl, ceid, status, \
               last_error, next_try_at, first_seen_at, publisher_url, resolved_at) \
             SELECT v.column1, v.column10, v.column2, v.column3, v.column4, v.column5, v.column6, \
               v.column7, v.column8, v.column8, v.column9, \
               CASE WHEN v.column9 IS NULL THEN NULL ELSE v.column8 END \
             FROM (VALUES {}) AS v WHERE v.column1 IS NOT NULL {unlinked}",
            placeholders(size, 10)
        );
        let mut q = sqlx::query(&sql);
        for link in padded_rows {
            let g = link.map(|l| l.item.google);
            q = q
                .bind(g.map(|g| &g.google_id))
                .bind(link.map(|l| l.article_id))
                .bind(g.map(|g| &g.hl))
                .bind(g.map(|g| &g.gl))
                .bind(g.map(|g| &g.ceid))
                .bind(link.map(|l| l.status.as_str()))
                .bind(g.and_then(|g| g.unresolvable.as_deref()))
                .bind(link.map(|l| l.item.now))
                .bind(link.and_then(|l| l.publisher_url))
                .bind(link.map(|l| l.item.id_hash));
        }
        q.execute(&mut *conn).await?;
    }
    let hints: Vec<(i64, &Hint)> = links
        .iter()
        .flat_map(|l| l.item.google.hints.iter().map(move |h| (l.article_id, h)))
        .collect();
    for chunk in hints.chunks(CHUNK_ROWS) {
        let (size, padded_rows) = padded(chunk);
        let sql = format!(
            "INSERT INTO story_hints (article_id, url, title, source, google_id, google_hash) \
             SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6 \
             FROM (VALUES {}) AS v WHERE v.column1 IS NOT NULL ON CONFLICT DO NOTHING",
            placeholders(size, 6)
        );
        let mut q = sqlx::query(&sql);
        for h in padded_rows {
            let hint = h.map(|(_, hint)| *hint);
            let google_id = hint.and_then(|h| h.google_id.as_deref());
            q = q
                .bind(h.map(|(id, _)| *id))
                .bind(hint.map(|h| &h.url))
                .bind(hint.map(|h| &h.title))
                .bind(hint.and_then(|h| h.source.as_deref()))
                .bind(google_id)
                .bind(google_id.map(key_hash));
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The group's new Google feed items, each linked to its article.
pub(super) async fn insert_items(
    conn: &mut SqliteConnection,
    items: &[(&GoogleRow<'_>, i64)],
) -> Result<()> {
    for chunk in items.chunks(CHUNK_ROWS) {
        let (size, padded_rows) = padded(chunk);
        let sql = format!(
            "INSERT INTO feed_items (feed_id, entry_key, article_id, guid, link, first_seen_at, \
               last_seen_at) \
             SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, v.column6 \
             FROM (VALUES {}) AS v WHERE v.column1 IS NOT NULL",
            placeholders(size, 6)
        );
        let mut q = sqlx::query(&sql);
        for item in padded_rows {
            let r = item.map(|(r, _)| *r);
            q = q
                .bind(r.map(|r| r.feed_id))
                .bind(r.map(|r| r.entry.entry_key.as_str()))
                .bind(item.map(|(_, id)| *id))
                .bind(r.and_then(|r| r.entry.guid.as_deref()))
                .bind(r.and_then(|r| r.entry.link.as_deref()))
                .bind(r.map(|r| r.now));
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Records a Google id whose publisher URL was decoded offline (`item`'s
/// `url`), and gives the article its provisional key so later items of the
/// story join it.
pub(super) async fn note_decoded(
    conn: &mut SqliteConnection,
    item: &GoogleRow<'_>,
    article_id: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE articles SET resolution = 'resolved', \
           provisional_hash = CASE WHEN provisional_key IS NULL THEN ?3 ELSE provisional_hash END, \
           provisional_key = COALESCE(provisional_key, ?2) \
         WHERE id = ?1",
    )
    .bind(article_id)
    .bind(&item.google.provisional_key)
    .bind(item.provisional_hash)
    .execute(&mut *conn)
    .await?;
    let link = NewLink {
        item,
        article_id,
        status: LinkStatus::Decoded,
        publisher_url: item.entry.url.as_deref(),
    };
    insert_links(conn, &[link], LinkIds::MaybeLinked).await
}
