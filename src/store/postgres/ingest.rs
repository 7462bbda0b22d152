//! The poll write path on PostgreSQL: one transaction per poll, each entry
//! stored as the identity model says (`store::identity`): plain entries
//! through the one merge by identity, Google items joining the article of
//! their Google id or provisional story, or creating an unresolved one.
//! Rows are bound as arrays (`unnest`), a few statements per poll: one
//! statement per entry, the round trips would take most of the time.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::feeds::apply_feed_update;
use super::identity::{merge_entries, EntryArticle};
use super::PostgresStore;
use crate::domain::CanonicalUrl;
use crate::store::error::{Result, StoreError};
use crate::store::feeds::PollUpdate;
use crate::store::google_links::{GoogleEntry, LinkStatus};
use crate::store::identity::{
    article_key, is_placed, joins_provisionally, link_status, provisional_window_start,
    unresolved_key, ArticleRef,
};
use crate::store::ingest::{NewEntry, PollStored};
use crate::store::time::ts;

impl PostgresStore {
    pub async fn record_poll(
        &self,
        feed_id: i64,
        entries: impl Into<Vec<NewEntry>>,
        now: DateTime<Utc>,
        update: impl Into<PollUpdate>,
    ) -> Result<PollStored> {
        self.writable("storing a poll")?;
        let entries = entries.into();
        let update = update.into();
        let mut tx = self.pool.begin().await?;
        let stored = store_entries(&mut tx, feed_id, &entries, now).await?;
        apply_feed_update(&mut tx, feed_id, &update.settle(stored.new_items, now)).await?;
        tx.commit().await?;
        Ok(stored)
    }
}

/// One poll's entries within the caller's transaction.
async fn store_entries(
    tx: &mut PgConnection,
    feed_id: i64,
    entries: &[NewEntry],
    at: DateTime<Utc>,
) -> Result<PollStored> {
    let mut stored = PollStored::default();
    if entries.is_empty() {
        return Ok(stored);
    }
    let now = ts(at);
    let mut seen = mark_seen(&mut *tx, feed_id, entries, &now).await?;
    let pruned = pruned_entries(&mut *tx, feed_id, entries).await?;
    let mut plain = Vec::new();
    let mut google_rows: Vec<GoogleRow<'_>> = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        if pruned.contains(&i) {
            continue;
        }
        // Also skips a key repeated within the poll.
        if !seen.insert(entry.entry_key.as_str().to_owned()) {
            continue;
        }
        let article = entry_article(feed_id, &now, entry);
        let Some(google) = &entry.google else {
            plain.push((entry, article));
            continue;
        };
        let row = GoogleRow {
            feed_id,
            at,
            now: &now,
            entry,
            google,
        };
        if !google.decoded {
            google_rows.push(row);
            continue;
        }
        // An id that carried its URL (old ids, rare now) is stored on its
        // own, after the Google items before it, which it may join.
        store_google(&mut *tx, &google_rows, &mut stored).await?;
        google_rows.clear();
        let created = merge_entries(&mut *tx, &[&article]).await? == [true];
        let article_id: i64 = sqlx::query_scalar(
            "SELECT id FROM articles WHERE md5(url_key) = md5($1) AND url_key = $1",
        )
        .bind(&article.url_key)
        .fetch_one(&mut *tx)
        .await?;
        note_decoded(&mut *tx, &row, article_id).await?;
        insert_items(&mut *tx, &[(&row, article_id)]).await?;
        stored.new_items += 1;
        if created {
            stored.new_articles += 1;
        }
    }
    store_google(&mut *tx, &google_rows, &mut stored).await?;
    store_plain(&mut *tx, feed_id, &plain, &mut stored).await?;
    Ok(stored)
}

/// Marks the entries the feed showed before as seen now; returns their keys.
async fn mark_seen(
    tx: &mut PgConnection,
    feed_id: i64,
    entries: &[NewEntry],
    now: &str,
) -> Result<HashSet<String>> {
    let keys: Vec<&str> = entries.iter().map(|e| e.entry_key.as_str()).collect();
    let seen: Vec<String> = sqlx::query_scalar(
        "UPDATE feed_items SET last_seen_at = $3 WHERE feed_id = $1 AND entry_key = ANY($2) \
         RETURNING entry_key",
    )
    .bind(feed_id)
    .bind(&keys)
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    Ok(seen.into_iter().collect())
}

/// Entries retention pruned stay gone: the positions (in `entries`) of those
/// whose feed entry, URL or Google id carries a tombstone.
async fn pruned_entries(
    tx: &mut PgConnection,
    feed_id: i64,
    entries: &[NewEntry],
) -> Result<HashSet<usize>> {
    let keys: Vec<&str> = entries.iter().map(|e| e.entry_key.as_str()).collect();
    let urls: Vec<Option<&str>> = entries
        .iter()
        .map(|e| e.url_key.as_ref().map(CanonicalUrl::as_str))
        .collect();
    let ids: Vec<Option<&str>> = entries
        .iter()
        .map(|e| e.google.as_ref().map(|g| g.google_id.as_str()))
        .collect();
    let pruned: Vec<i64> = sqlx::query_scalar(
        "SELECT v.ord - 1 FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY \
           AS v(entry_key, url_key, google_id, ord) WHERE \
         EXISTS (SELECT 1 FROM tombstones WHERE kind = 'entry' AND feed_id = $1 \
           AND md5(key) = md5(v.entry_key) AND key = v.entry_key) \
         OR EXISTS (SELECT 1 FROM tombstones WHERE kind = 'url' AND feed_id = 0 \
           AND md5(key) = md5(v.url_key) AND key = v.url_key) \
         OR EXISTS (SELECT 1 FROM tombstones WHERE kind = 'google' AND feed_id = 0 \
           AND md5(key) = md5(v.google_id) AND key = v.google_id)",
    )
    .bind(feed_id)
    .bind(&keys)
    .bind(&urls)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    Ok(pruned.into_iter().map(|i| i as usize).collect())
}

/// An entry's article fields, keyed by its identity.
fn entry_article<'a>(feed_id: i64, now: &'a str, e: &'a NewEntry) -> EntryArticle<'a> {
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
        authors: authors(e),
        published_at: e.published_at.map(ts),
        provisional_key: e.provisional_key.clone(),
    }
}

fn authors(e: &NewEntry) -> String {
    serde_json::to_string(&e.authors).unwrap_or_else(|_| "[]".into())
}

/// The poll's new entries without Google bookkeeping: their articles, then
/// their feed items.
async fn store_plain(
    tx: &mut PgConnection,
    feed_id: i64,
    rows: &[(&NewEntry, EntryArticle<'_>)],
    stored: &mut PollStored,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let articles: Vec<&EntryArticle<'_>> = rows.iter().map(|(_, a)| a).collect();
    let created = merge_entries(&mut *tx, &articles).await?;
    stored.new_articles += created.iter().filter(|c| **c).count();

    let now = rows[0].1.now;
    let keys: Vec<&str> = rows.iter().map(|(e, _)| e.entry_key.as_str()).collect();
    let guids: Vec<Option<&str>> = rows.iter().map(|(e, _)| e.guid.as_deref()).collect();
    let links: Vec<Option<&str>> = rows.iter().map(|(e, _)| e.link.as_deref()).collect();
    let url_keys: Vec<&str> = rows.iter().map(|(_, a)| a.url_key.as_str()).collect();
    let items = sqlx::query(
        "INSERT INTO feed_items (feed_id, first_seen_at, last_seen_at, entry_key, guid, link, article_id) \
         SELECT $1, $2, $2, v.entry_key, v.guid, v.link, a.id \
         FROM unnest($3::text[], $4::text[], $5::text[], $6::text[]) AS v(entry_key, guid, link, url_key) \
         JOIN articles AS a ON md5(a.url_key) = md5(v.url_key) AND a.url_key = v.url_key",
    )
    .bind(feed_id)
    .bind(now)
    .bind(&keys)
    .bind(&guids)
    .bind(&links)
    .bind(&url_keys)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if items != rows.len() as u64 {
        return Err(StoreError::Inconsistent(format!(
            "stored {items} of {} feed items",
            rows.len()
        )));
    }
    stored.new_items += rows.len();
    Ok(())
}

/// A new Google item of the poll, as `store_google` binds it.
struct GoogleRow<'a> {
    feed_id: i64,
    at: DateTime<Utc>,
    /// `at` as stored.
    now: &'a str,
    entry: &'a NewEntry,
    google: &'a GoogleEntry,
}

/// A new Google link: its item, the article it goes to, its status, and the
/// publisher URL when the id carried it.
struct NewLink<'a, 'r> {
    item: &'a GoogleRow<'r>,
    article_id: i64,
    status: LinkStatus,
    publisher_url: Option<&'a str>,
}

/// The Google items whose ids carry no URL: each joins the article of the
/// same Google id or of the same provisional story (title + publisher host
/// within `store::identity::PROVISIONAL_WINDOW`), or creates an unresolved
/// one. What one item creates, a later item sees, as if they were stored one
/// after another; an article the archive holds comes before one created
/// here, as the lowest id would.
async fn store_google(
    tx: &mut PgConnection,
    rows: &[GoogleRow<'_>],
    stored: &mut PollStored,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    lock_google_identities(&mut *tx, rows).await?;
    let mut links = known_links(&mut *tx, rows).await?;
    let windows: Vec<String> = rows
        .iter()
        .map(|r| ts(provisional_window_start(r.at)))
        .collect();
    let stories = known_stories(&mut *tx, rows, &links, &windows).await?;

    let mut new: Vec<&GoogleRow<'_>> = Vec::new();
    // Provisional key -> the first article created here with it.
    let mut new_stories: HashMap<&str, usize> = HashMap::new();
    let mut link_rows: Vec<(&GoogleRow<'_>, ArticleRef, LinkStatus)> = Vec::new();
    let mut items: Vec<(&GoogleRow<'_>, ArticleRef)> = Vec::with_capacity(rows.len());
    for (r, window) in rows.iter().zip(&windows) {
        let g = r.google;
        stored.new_items += 1;
        if let Some(&article) = links.get(g.google_id.as_str()) {
            items.push((r, article));
            continue;
        }
        let key = g.provisional_key.as_deref();
        let found = key.and_then(|k| stories.get(&(k, window.as_str())));
        let earlier = key
            .and_then(|k| new_stories.get(k))
            .filter(|&&n| joins_provisionally(new[n].at, r.at));
        let (article, resolved) = match (found, earlier) {
            (Some((id, resolution)), _) => {
                (ArticleRef::Stored(*id), is_placed(resolution.as_deref()))
            }
            (None, Some(&n)) => (ArticleRef::New(n), false),
            (None, None) => {
                if let Some(k) = key {
                    new_stories.entry(k).or_insert(new.len());
                }
                new.push(r);
                stored.new_articles += 1;
                (ArticleRef::New(new.len() - 1), false)
            }
        };
        let status = link_status(g.unresolvable.is_some(), resolved);
        links.insert(&g.google_id, article);
        link_rows.push((r, article, status));
        items.push((r, article));
    }

    let ids = insert_unresolved(&mut *tx, &new).await?;
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
    insert_links(&mut *tx, &links).await?;
    insert_items(&mut *tx, &items).await
}

/// Takes a transaction lock on each Google id and provisional key of the
/// rows, so that two polls storing the same story at once (two feeds
/// carrying it, on one instance or several) decide one after the other:
/// neither has a unique constraint to fall back on (a provisional story is
/// a title within a time window, and an unresolved article's key is its own
/// id), so without the lock both would create an article. Locks are taken
/// in one order, so two polls cannot deadlock on them; the next statements
/// (READ COMMITTED) see what the other poll committed.
async fn lock_google_identities(tx: &mut PgConnection, rows: &[GoogleRow<'_>]) -> Result<()> {
    let keys: Vec<String> = rows
        .iter()
        .flat_map(|r| {
            let g = r.google;
            std::iter::once(format!("id:{}", g.google_id))
                .chain(g.provisional_key.iter().map(|k| format!("story:{k}")))
        })
        .collect();
    sqlx::query(
        "SELECT COUNT(pg_advisory_xact_lock(h)) \
         FROM (SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest($1::text[]) AS k ORDER BY h) AS v",
    )
    .bind(&keys)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The archive's articles for the rows' Google ids.
async fn known_links<'a>(
    tx: &mut PgConnection,
    rows: &'a [GoogleRow<'_>],
) -> Result<HashMap<&'a str, ArticleRef>> {
    let ids: Vec<&str> = rows.iter().map(|r| r.google.google_id.as_str()).collect();
    let found: Vec<(String, i64)> =
        sqlx::query_as("SELECT google_id, article_id FROM google_links WHERE google_id = ANY($1)")
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await?;
    let found: HashMap<String, i64> = found.into_iter().collect();
    Ok(ids
        .into_iter()
        .filter_map(|id| Some((id, ArticleRef::Stored(*found.get(id)?))))
        .collect())
}

/// For each (provisional key, window start) of the rows not joining by
/// Google id: the archive's first article of that story and its resolution.
async fn known_stories<'a>(
    tx: &mut PgConnection,
    rows: &'a [GoogleRow<'_>],
    links: &HashMap<&str, ArticleRef>,
    windows: &'a [String],
) -> Result<HashMap<(&'a str, &'a str), (i64, Option<String>)>> {
    let wanted: Vec<(&str, &str)> = rows
        .iter()
        .zip(windows)
        .filter(|(r, _)| !links.contains_key(r.google.google_id.as_str()))
        .filter_map(|(r, w)| Some((r.google.provisional_key.as_deref()?, w.as_str())))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    let keys: Vec<&str> = wanted.iter().map(|w| w.0).collect();
    let starts: Vec<&str> = wanted.iter().map(|w| w.1).collect();
    let found: Vec<(i64, i64, Option<String>)> = sqlx::query_as(
        "SELECT v.ord, s.id, s.resolution \
         FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS v(key, start, ord) \
         CROSS JOIN LATERAL (SELECT a.id, a.resolution FROM articles AS a \
           WHERE a.provisional_key IS NOT NULL AND md5(a.provisional_key) = md5(v.key) \
             AND a.provisional_key = v.key AND a.first_seen_at >= v.start \
           ORDER BY a.id LIMIT 1) AS s",
    )
    .bind(&keys)
    .bind(&starts)
    .fetch_all(&mut *tx)
    .await?;
    Ok(found
        .into_iter()
        .filter_map(|(ord, id, resolution)| {
            Some((
                *wanted.get(usize::try_from(ord - 1).ok()?)?,
                (id, resolution),
            ))
        })
        .collect())
}

/// Creates the unresolved articles of `new`, keyed by
/// `identity::unresolved_key`; their ids in order. The ids are drawn first,
/// since each article's key is made of its id.
async fn insert_unresolved(tx: &mut PgConnection, new: &[&GoogleRow<'_>]) -> Result<Vec<i64>> {
    if new.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<i64> = sqlx::query_scalar(
        "SELECT nextval(pg_get_serial_sequence('articles', 'id')) FROM generate_series(1, $1)",
    )
    .bind(new.len() as i64)
    .fetch_all(&mut *tx)
    .await?;
    ids.sort_unstable();
    let e = |f: fn(&NewEntry) -> Option<String>| -> Vec<Option<String>> {
        new.iter().map(|r| f(r.entry)).collect()
    };
    let keys: Vec<String> = ids.iter().copied().map(unresolved_key).collect();
    let nows: Vec<&str> = new.iter().map(|r| r.now).collect();
    let provisional: Vec<Option<&str>> = new
        .iter()
        .map(|r| r.google.provisional_key.as_deref())
        .collect();
    sqlx::query(
        "INSERT INTO articles (id, url, url_key, title, summary, publisher, publisher_url, authors, \
           published_at, first_seen_at, updated_at, resolution, provisional_key) \
         SELECT v.id, v.url, v.url_key, v.title, v.summary, v.publisher, v.publisher_url, v.authors, \
           v.published_at, v.now, v.now, 'unresolved', v.provisional_key \
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
           $7::text[], $8::text[], $9::text[], $10::text[], $11::text[]) \
           AS v(id, url, url_key, title, summary, publisher, publisher_url, authors, published_at, \
             now, provisional_key)",
    )
    .bind(&ids)
    .bind(e(|e| e.link.clone()))
    .bind(&keys)
    .bind(e(|e| e.title.clone()))
    .bind(e(|e| e.summary.clone()))
    .bind(e(|e| e.publisher.clone()))
    .bind(e(|e| e.publisher_url.clone()))
    .bind(e(|e| Some(authors(e))))
    .bind(e(|e| e.published_at.map(ts)))
    .bind(&nows)
    .bind(&provisional)
    .execute(&mut *tx)
    .await?;
    Ok(ids)
}

/// New Google links and the related coverage they carry. A link whose id
/// carried the publisher URL is resolved as it is stored. An id linked
/// already (feeds overlap, or another writer stored it meanwhile) keeps
/// its link.
async fn insert_links(tx: &mut PgConnection, links: &[NewLink<'_, '_>]) -> Result<()> {
    if links.is_empty() {
        return Ok(());
    }
    let g = |f: fn(&NewLink<'_, '_>) -> Option<String>| -> Vec<Option<String>> {
        links.iter().map(f).collect()
    };
    let article_ids: Vec<i64> = links.iter().map(|l| l.article_id).collect();
    sqlx::query(
        "INSERT INTO google_links (google_id, article_id, hl, gl, ceid, status, last_error, \
           next_try_at, first_seen_at, publisher_url, resolved_at) \
         SELECT v.google_id, v.article_id, v.hl, v.gl, v.ceid, v.status, v.last_error, v.now, \
           v.now, v.publisher_url, CASE WHEN v.publisher_url IS NULL THEN NULL ELSE v.now END \
         FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], \
           $7::text[], $8::text[], $9::text[]) \
           AS v(google_id, article_id, hl, gl, ceid, status, last_error, now, publisher_url) \
         ON CONFLICT (google_id) DO NOTHING",
    )
    .bind(g(|l| Some(l.item.google.google_id.clone())))
    .bind(&article_ids)
    .bind(g(|l| Some(l.item.google.hl.clone())))
    .bind(g(|l| Some(l.item.google.gl.clone())))
    .bind(g(|l| Some(l.item.google.ceid.clone())))
    .bind(g(|l| Some(l.status.as_str().to_owned())))
    .bind(g(|l| l.item.google.unresolvable.clone()))
    .bind(g(|l| Some(l.item.now.to_owned())))
    .bind(g(|l| l.publisher_url.map(str::to_owned)))
    .execute(&mut *tx)
    .await?;

    let hints: Vec<(i64, &crate::store::google_links::Hint)> = links
        .iter()
        .flat_map(|l| l.item.google.hints.iter().map(move |h| (l.article_id, h)))
        .collect();
    if hints.is_empty() {
        return Ok(());
    }
    let hint_articles: Vec<i64> = hints.iter().map(|(id, _)| *id).collect();
    let urls: Vec<&str> = hints.iter().map(|(_, h)| h.url.as_str()).collect();
    let titles: Vec<&str> = hints.iter().map(|(_, h)| h.title.as_str()).collect();
    let sources: Vec<Option<&str>> = hints.iter().map(|(_, h)| h.source.as_deref()).collect();
    let google_ids: Vec<Option<&str>> = hints.iter().map(|(_, h)| h.google_id.as_deref()).collect();
    sqlx::query(
        "INSERT INTO story_hints (article_id, url, title, source, google_id) \
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[]) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&hint_articles)
    .bind(&urls)
    .bind(&titles)
    .bind(&sources)
    .bind(&google_ids)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// New Google feed items, each linked to its article.
async fn insert_items(tx: &mut PgConnection, items: &[(&GoogleRow<'_>, i64)]) -> Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let feeds: Vec<i64> = items.iter().map(|(r, _)| r.feed_id).collect();
    let keys: Vec<&str> = items
        .iter()
        .map(|(r, _)| r.entry.entry_key.as_str())
        .collect();
    let articles: Vec<i64> = items.iter().map(|(_, id)| *id).collect();
    let guids: Vec<Option<&str>> = items.iter().map(|(r, _)| r.entry.guid.as_deref()).collect();
    let links: Vec<Option<&str>> = items.iter().map(|(r, _)| r.entry.link.as_deref()).collect();
    let nows: Vec<&str> = items.iter().map(|(r, _)| r.now).collect();
    sqlx::query(
        "INSERT INTO feed_items (feed_id, entry_key, article_id, guid, link, first_seen_at, \
           last_seen_at) \
         SELECT v.feed_id, v.entry_key, v.article_id, v.guid, v.link, v.now, v.now \
         FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[]) \
           AS v(feed_id, entry_key, article_id, guid, link, now)",
    )
    .bind(&feeds)
    .bind(&keys)
    .bind(&articles)
    .bind(&guids)
    .bind(&links)
    .bind(&nows)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Records a Google id whose publisher URL was decoded offline (`item`'s
/// `url`), and gives the article its provisional key so later items of the
/// story join it.
async fn note_decoded(tx: &mut PgConnection, item: &GoogleRow<'_>, article_id: i64) -> Result<()> {
    sqlx::query(
        "UPDATE articles SET resolution = 'resolved', \
           provisional_key = COALESCE(provisional_key, $2) WHERE id = $1",
    )
    .bind(article_id)
    .bind(&item.google.provisional_key)
    .execute(&mut *tx)
    .await?;
    let link = NewLink {
        item,
        article_id,
        status: LinkStatus::Decoded,
        publisher_url: item.entry.url.as_deref(),
    };
    insert_links(tx, &[link]).await
}
