use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::{SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use crate::domain::EntryKey;

use super::feeds::{FeedUpdate, PollUpdate};
use super::google::{
    insert_items, key_hash, note_decoded, settle_keys, store_google, GoogleEntry, GoogleRow,
    SettledKeys, FRESH_KEYS_LIMIT, MERGE_SLICE,
};
use super::{ts, Result, Store, StoreError};

/// One feed entry, ready to store.
#[derive(Debug, Clone, Default)]
pub struct NewEntry {
    /// Identity within the feed (see `domain::EntryKey`).
    pub entry_key: String,
    pub guid: Option<String>,
    /// The `<link>` exactly as the feed gave it.
    pub link: Option<String>,
    /// The URL to fetch (tracking parameters stripped).
    pub url: Option<String>,
    /// Article identity (normalized URL); `None` for entries without a link.
    pub url_key: Option<String>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub publisher: Option<String>,
    pub publisher_url: Option<String>,
    pub authors: Vec<String>,
    pub published_at: Option<DateTime<Utc>>,
    /// Set for items that arrived through a Google News link.
    pub google: Option<GoogleEntry>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollStored {
    /// Entries this feed had not shown before.
    pub new_items: usize,
    /// Articles the archive had not seen through any feed.
    pub new_articles: usize,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportArticle {
    pub id: i64,
    pub url: Option<String>,
    pub title: Option<String>,
    pub publisher: Option<String>,
    pub published_at: Option<String>,
    pub summary: Option<String>,
    pub text: Option<String>,
    pub authors: Vec<String>,
    pub feeds: Vec<String>,
    pub links: Vec<String>,
    pub first_seen_at: String,
}

#[derive(sqlx::FromRow)]
struct ArticleExportRow {
    id: i64,
    url: Option<String>,
    title: Option<String>,
    publisher: Option<String>,
    published_at: Option<String>,
    summary: Option<String>,
    text: Option<String>,
    authors: String,
    feeds: Option<String>,
    links: Option<String>,
    first_seen_at: String,
}

/// Splits a `group_concat` made with the unit separator.
fn split_group(s: Option<String>) -> Vec<String> {
    s.map(|s| {
        s.split('\u{1f}')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

impl Store {
    /// Stores one poll: the feed row update and every entry, in one
    /// transaction, so a crash leaves the whole poll or none of it.
    /// `update` is the feed row's new state; its schedule, when it has one
    /// to plan, is planned from how many entries were new.
    ///
    /// Polls that finish while another is being written are committed
    /// together (see `write_polls`).
    pub async fn record_poll(
        &self,
        feed_id: i64,
        entries: impl Into<Vec<NewEntry>>,
        now: DateTime<Utc>,
        update: impl Into<PollUpdate>,
    ) -> Result<PollStored> {
        let (reply, stored) = oneshot::channel();
        let job = PollJob {
            feed_id,
            entries: entries.into(),
            now,
            update: update.into(),
            reply,
        };
        self.write_lane("storing a poll")?
            .polls
            .send(job)
            .map_err(|_| StoreError::LaneStopped("the poll writer is gone".into()))?;
        let stored = stored
            .await
            .map_err(|_| StoreError::LaneStopped("the poll writer dropped a poll".into()))??;
        self.index_when_a_batch_waits(stored.new_articles);
        Ok(stored)
    }

    /// Records a poll that stored no entries (errors, 304s).
    pub async fn record_poll_outcome(&self, feed_id: i64, update: &FeedUpdate) -> Result<()> {
        self.record_poll(feed_id, Vec::new(), Utc::now(), update.clone())
            .await
            .map(drop)
    }

    /// Gives an article the identity that just became known (a resolved link,
    /// a canonical URL). If another article already holds that identity, the
    /// two merge: feed items move to the survivor, empty fields are filled
    /// from the merged one, and it disappears. Returns the surviving id.
    pub async fn assign_identity(&self, article_id: i64, url_key: &str, url: &str) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let survivor = assign_identity_in(&mut tx, article_id, url_key, url).await?;
        tx.commit().await?;
        Ok(survivor)
    }

    /// Articles in first-seen order, page by page, for `newsd export`.
    pub async fn export_page(
        &self,
        since: Option<DateTime<Utc>>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<ExportArticle>> {
        let rows: Vec<ArticleExportRow> = sqlx::query_as(
            "SELECT a.id, a.url, a.title, a.publisher, a.published_at, a.summary, a.text, a.authors, \
               (SELECT group_concat(url, char(31)) FROM (SELECT DISTINCT f.url FROM feed_items fi \
                 JOIN feeds f ON f.id = fi.feed_id WHERE fi.article_id = a.id ORDER BY f.url)) AS feeds, \
               (SELECT group_concat(link, char(31)) FROM (SELECT DISTINCT fi.link FROM feed_items fi \
                 WHERE fi.article_id = a.id AND fi.link IS NOT NULL ORDER BY fi.link)) AS links, \
               a.first_seen_at \
             FROM articles a WHERE a.id > ?1 AND (?2 IS NULL OR a.first_seen_at >= ?2) \
             ORDER BY a.id LIMIT ?3",
        )
        .bind(after_id)
        .bind(since.map(ts))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| ExportArticle {
                id: r.id,
                url: r.url,
                title: r.title,
                publisher: r.publisher,
                published_at: r.published_at,
                summary: r.summary,
                text: r.text,
                authors: serde_json::from_str(&r.authors).unwrap_or_default(),
                feeds: split_group(r.feeds),
                links: split_group(r.links),
                first_seen_at: r.first_seen_at,
            })
            .collect())
    }
}

/// A poll waiting for the poll writer.
pub(super) struct PollJob {
    feed_id: i64,
    entries: Vec<NewEntry>,
    now: DateTime<Utc>,
    update: PollUpdate,
    reply: oneshot::Sender<Result<PollStored>>,
}

/// Entries per group commit: about a tenth of a second of writing, so other
/// writers (resolution, full text, indexing) wait no longer than that.
const GROUP_ENTRIES: usize = 2_000;

/// The poll writer, on the write thread: takes the polls waiting when it is
/// free and commits them in one transaction. Each commit writes every page it
/// changed to the WAL once, and polls share most of theirs (the feed table,
/// the ends of the append-mostly indexes), so a group costs far fewer page
/// writes than its polls one by one. A group with a failing poll is rolled
/// back and its polls are written one by one, each with its own outcome.
pub(super) async fn write_polls(
    writer: SqlitePool,
    settled: Arc<SettledKeys>,
    mut jobs: mpsc::UnboundedReceiver<PollJob>,
) {
    // A second poll of a feed already in the group starts the next group:
    // within a group each feed's row is written once, and a poll must see
    // the entries the previous poll of its feed stored.
    let mut next: Option<PollJob> = None;
    let mut unchecked = 0;
    loop {
        let first = match next.take() {
            Some(job) => job,
            None => match jobs.recv().await {
                Some(job) => job,
                None => break,
            },
        };
        let mut size = first.entries.len().max(1);
        let mut feeds = HashSet::from([first.feed_id]);
        let mut group = vec![first];
        while size < GROUP_ENTRIES {
            let Ok(job) = jobs.try_recv() else { break };
            if !feeds.insert(job.feed_id) {
                next = Some(job);
                break;
            }
            size += job.entries.len().max(1);
            group.push(job);
        }
        write_and_reply(&writer, &settled, group).await;
        unchecked += size;
        if unchecked >= KEY_CHECK_ENTRIES {
            unchecked = 0;
            if let Err(e) = settle_keys(&writer, &settled, FRESH_KEYS_LIMIT, MERGE_SLICE).await {
                tracing::warn!(error = %e, "could not merge the fresh lookup keys; retried later");
            }
        }
    }
}

/// Entries the poll writer stores between looks at the fresh key tiers (a
/// look counts them).
const KEY_CHECK_ENTRIES: usize = 4_096;

async fn write_and_reply(writer: &SqlitePool, settled: &SettledKeys, group: Vec<PollJob>) {
    if group.len() > 1 {
        if let Ok(results) = write_group(writer, settled, &group).await {
            for (job, stored) in group.into_iter().zip(results) {
                let _ = job.reply.send(Ok(stored));
            }
            return;
        }
    }
    for job in group {
        let result = write_group(writer, settled, std::slice::from_ref(&job)).await;
        // One job, one result.
        let _ = job.reply.send(result.map(|mut one| one.swap_remove(0)));
    }
}

/// Writes and commits every poll of `group`, or none of them; their results
/// in order.
async fn write_group(
    writer: &SqlitePool,
    settled: &SettledKeys,
    group: &[PollJob],
) -> Result<Vec<PollStored>> {
    if let Err(e) = settled.fill(writer).await {
        tracing::warn!(error = %e, "could not fill the settled-key filters; lookups read both tiers");
    }
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    let results = record_group_in(&mut tx, settled, group).await?;
    tx.commit().await?;
    Ok(results)
}

/// The row counts multi-row statements are written for; the largest is
/// also the most rows a statement takes (at 10 parameters a row far below
/// SQLite's limit of 32,766).
const STATEMENT_ROWS: [usize; 3] = [8, 64, 512];
pub(super) const CHUNK_ROWS: usize = STATEMENT_ROWS[2];

/// A chunk's rows, then `None` up to the statement size that fits it (bound
/// as NULLs, which the statements skip). Statements of a few sizes stay
/// prepared in sqlx's statement cache; one per row count did not fit in it,
/// and every poll group paid for parsing statements thousands of
/// parameters long (~7 % of the writer thread).
pub(super) fn padded<T>(chunk: &[T]) -> (usize, impl Iterator<Item = Option<&T>>) {
    let rows = STATEMENT_ROWS
        .into_iter()
        .find(|&size| size >= chunk.len())
        .unwrap_or(chunk.len());
    let padding = std::iter::repeat_n(None, rows - chunk.len());
    (rows, chunk.iter().map(Some).chain(padding))
}

/// The polls of a group (distinct feeds) within the caller's transaction.
/// Each step is one statement for the whole group, not one per poll: every
/// statement is a round trip to sqlx's SQLite thread, and with a statement
/// per poll and step the round trips, not SQLite's work, took most of the
/// writer's time.
async fn record_group_in(
    tx: &mut SqliteConnection,
    settled: &SettledKeys,
    group: &[PollJob],
) -> Result<Vec<PollStored>> {
    let mut stored = vec![PollStored::default(); group.len()];
    let nows: Vec<String> = group.iter().map(|job| ts(job.now)).collect();
    let entries: Vec<Entry<'_>> = group
        .iter()
        .enumerate()
        .flat_map(|(poll, job)| {
            job.entries.iter().map(move |entry| Entry {
                poll,
                feed_id: job.feed_id,
                entry,
            })
        })
        .collect();
    if !entries.is_empty() {
        let mut seen = mark_seen(&mut *tx, &entries, &nows).await?;
        let pruned = pruned_entries(&mut *tx, &entries).await?;
        let mut plain = Vec::new();
        let mut google_rows = Vec::new();
        for (
            i,
            &Entry {
                poll,
                feed_id,
                entry,
            },
        ) in entries.iter().enumerate()
        {
            if pruned.contains(&i) {
                continue;
            }
            // Also skips a key repeated within its poll.
            if !seen.insert((feed_id, entry.entry_key.clone())) {
                continue;
            }
            let Some(google) = &entry.google else {
                plain.push(PlainRow::new(poll, feed_id, &nows[poll], entry));
                continue;
            };
            let row = GoogleRow {
                poll,
                feed_id,
                at: group[poll].now,
                now: &nows[poll],
                entry,
                google,
                id_hash: key_hash(&google.google_id),
                provisional_hash: google.provisional_key.as_deref().map(key_hash),
            };
            if !google.decoded {
                google_rows.push(row);
                continue;
            }
            // An id that carried its URL (old ids, rare now) is stored on its
            // own, after the Google items before it, which it may join.
            store_google(&mut *tx, settled, &google_rows, &mut stored).await?;
            google_rows.clear();
            let url_key = identity_key(feed_id, entry);
            let (article_id, created) = merge_entry(&mut *tx, &url_key, entry, &nows[poll]).await?;
            note_decoded(&mut *tx, &row, article_id).await?;
            insert_items(&mut *tx, &[(&row, article_id)]).await?;
            stored[poll].new_items += 1;
            if created {
                stored[poll].new_articles += 1;
            }
        }
        store_google(&mut *tx, settled, &google_rows, &mut stored).await?;
        store_plain(&mut *tx, &plain, &mut stored).await?;
    }
    let updates: Vec<(i64, FeedUpdate)> = group
        .iter()
        .zip(&stored)
        .map(|(job, stored)| (job.feed_id, job.update.settle(stored.new_items, job.now)))
        .collect();
    Store::apply_feed_updates(&mut *tx, &updates).await?;
    Ok(stored)
}

/// An entry of a group and the poll (index in the group) it came with.
#[derive(Clone, Copy)]
struct Entry<'a> {
    poll: usize,
    feed_id: i64,
    entry: &'a NewEntry,
}

/// Marks the entries their feeds showed before as seen now; returns them as
/// (feed, entry key).
async fn mark_seen(
    tx: &mut SqliteConnection,
    entries: &[Entry<'_>],
    nows: &[String],
) -> Result<HashSet<(i64, String)>> {
    let mut seen = HashSet::new();
    for chunk in entries.chunks(CHUNK_ROWS) {
        let (rows, padded_rows) = padded(chunk);
        let sql = format!(
            "UPDATE feed_items SET last_seen_at = v.column3 FROM (VALUES {}) AS v \
             WHERE feed_items.feed_id = v.column1 AND feed_items.entry_key = v.column2 \
             RETURNING feed_items.feed_id, feed_items.entry_key",
            placeholders(rows, 3)
        );
        let mut q = sqlx::query_as::<_, (i64, String)>(&sql);
        for e in padded_rows {
            q = q
                .bind(e.map(|e| e.feed_id))
                .bind(e.map(|e| &e.entry.entry_key))
                .bind(e.map(|e| &nows[e.poll]));
        }
        seen.extend(q.fetch_all(&mut *tx).await?);
    }
    Ok(seen)
}

/// Entries retention pruned stay gone: the positions (in `entries`) of those
/// whose feed entry, URL or Google id carries a tombstone.
async fn pruned_entries(
    tx: &mut SqliteConnection,
    entries: &[Entry<'_>],
) -> Result<HashSet<usize>> {
    let mut pruned = HashSet::new();
    for (c, chunk) in entries.chunks(CHUNK_ROWS).enumerate() {
        let (rows, padded_rows) = padded(chunk);
        let sql = format!(
            "SELECT v.column1 FROM (VALUES {}) AS v WHERE \
             EXISTS (SELECT 1 FROM tombstones WHERE kind = 'entry' AND feed_id = v.column2 \
               AND key = v.column3) \
             OR EXISTS (SELECT 1 FROM tombstones WHERE kind = 'url' AND feed_id = 0 \
               AND key = v.column4) \
             OR EXISTS (SELECT 1 FROM tombstones WHERE kind = 'google' AND feed_id = 0 \
               AND key = v.column5)",
            placeholders(rows, 5)
        );
        let mut q = sqlx::query_scalar::<_, i64>(&sql);
        for (k, e) in padded_rows.enumerate() {
            q = q
                .bind(e.map(|_| (c * CHUNK_ROWS + k) as i64))
                .bind(e.map(|e| e.feed_id))
                .bind(e.map(|e| &e.entry.entry_key))
                .bind(e.and_then(|e| e.entry.url_key.as_deref()))
                .bind(e.and_then(|e| e.entry.google.as_ref().map(|g| g.google_id.as_str())));
        }
        pruned.extend(q.fetch_all(&mut *tx).await?.into_iter().map(|i| i as usize));
    }
    Ok(pruned)
}

/// Entry keys of feed items and entry tombstones written before long guids
/// and links were keyed by hash (migration 0015) take their present form;
/// how many changed. A no-op once done: the migration's partial indexes
/// find the keys still to do. Runs when a writer opens the database, before
/// any poll looks an entry up, in batches that each commit, so an
/// interrupted run carries on at the next start.
pub(super) async fn rekey_long_entries(pool: &SqlitePool) -> Result<u64> {
    let mut changed = 0;
    let select_items = long_items_sql();
    // Past rows an update left as they were (a key already taken: not
    // possible short of a hash collision), so that each is looked at once.
    let mut after = 0;
    loop {
        let rows: Vec<(i64, String)> = sqlx::query_as(&select_items)
            .bind(after)
            .fetch_all(pool)
            .await?;
        let Some(&(last, _)) = rows.last() else { break };
        after = last;
        let mut tx = pool.begin().await?;
        for (id, key) in &rows {
            let Some(now) = EntryKey::rekeyed(key) else {
                continue;
            };
            changed += sqlx::query("UPDATE OR IGNORE feed_items SET entry_key = ? WHERE id = ?")
                .bind(now.as_str())
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
    }
    let select_tombstones = long_tombstones_sql();
    let mut after = (i64::MIN, String::new());
    loop {
        let rows: Vec<(i64, String)> = sqlx::query_as(&select_tombstones)
            .bind(after.0)
            .bind(&after.1)
            .fetch_all(pool)
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.clone();
        let mut tx = pool.begin().await?;
        for (feed_id, key) in &rows {
            let Some(now) = EntryKey::rekeyed(key) else {
                continue;
            };
            // A tombstone is only ever looked up, so one already under the
            // new key may be replaced.
            changed += sqlx::query(
                "UPDATE OR REPLACE tombstones SET key = ?3 \
                 WHERE kind = 'entry' AND feed_id = ?1 AND key = ?2",
            )
            .bind(feed_id)
            .bind(key)
            .bind(now.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
    }
    Ok(changed)
}

/// Entry keys `rekey_long_entries` rewrites: the condition of migration
/// 0015's partial indexes, which the planner uses only for this very text.
fn long_key(column: &str) -> String {
    format!(
        "((substr({column}, 1, 3) = 'id:' AND length({column}) > 67) \
          OR (substr({column}, 1, 5) = 'link:' AND length({column}) > 69))"
    )
}

fn long_items_sql() -> String {
    format!(
        "SELECT id, entry_key FROM feed_items WHERE {} AND id > ? ORDER BY id LIMIT 5000",
        long_key("entry_key")
    )
}

fn long_tombstones_sql() -> String {
    format!(
        "SELECT feed_id, key FROM tombstones INDEXED BY tombstones_long_keys \
         WHERE kind = 'entry' AND {} \
         AND (feed_id, key) > (?, ?) ORDER BY feed_id, key LIMIT 5000",
        long_key("key")
    )
}

/// An entry's article identity: its normalized URL, or for an entry without
/// a link one of its own within its feed.
fn identity_key(feed_id: i64, e: &NewEntry) -> String {
    e.url_key
        .clone()
        .unwrap_or_else(|| format!("feed:{feed_id}/{}", e.entry_key))
}

/// A new entry without Google bookkeeping, as `store_plain` binds it.
struct PlainRow<'a> {
    poll: usize,
    feed_id: i64,
    now: &'a str,
    entry_key: &'a str,
    guid: Option<&'a str>,
    link: Option<&'a str>,
    url: Option<&'a str>,
    url_key: String,
    title: Option<&'a str>,
    summary: Option<&'a str>,
    publisher: Option<&'a str>,
    publisher_url: Option<&'a str>,
    authors: String,
    published_at: Option<String>,
}

impl<'a> PlainRow<'a> {
    fn new(poll: usize, feed_id: i64, now: &'a str, e: &'a NewEntry) -> Self {
        PlainRow {
            poll,
            feed_id,
            now,
            entry_key: &e.entry_key,
            guid: e.guid.as_deref(),
            link: e.link.as_deref(),
            url: e.url.as_deref(),
            url_key: identity_key(feed_id, e),
            title: e.title.as_deref(),
            summary: e.summary.as_deref(),
            publisher: e.publisher.as_deref(),
            publisher_url: e.publisher_url.as_deref(),
            authors: serde_json::to_string(&e.authors).unwrap_or_else(|_| "[]".into()),
            published_at: e.published_at.map(ts),
        }
    }
}

/// `(?, ?, …), (…)`: `rows` groups of `per_row` parameters. Anonymous on
/// purpose: sqlx looks up every parameter's name, which SQLite finds by a
/// linear search among the named ones, so numbered parameters (`?NNN`) make
/// binding quadratic in their number.
pub(super) fn placeholders(rows: usize, per_row: usize) -> String {
    let group = format!("({})", vec!["?"; per_row].join(", "));
    vec![group; rows].join(", ")
}

/// The dedupe for a group's new entries without Google bookkeeping,
/// set-based: a few statements per up to `CHUNK_ROWS` entries instead of two
/// or three per entry. Same rule as `merge_entry`: an article already holding
/// the entry's `url_key` keeps what it has and gets what it lacks; otherwise
/// a new article, counted for the first poll that brought it.
async fn store_plain(
    conn: &mut SqliteConnection,
    rows: &[PlainRow<'_>],
    stored: &mut [PollStored],
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
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
    let (mut new, mut seen_before) = (Vec::new(), Vec::new());
    for r in rows {
        if known.insert(r.url_key.clone()) {
            new.push(r);
        } else {
            seen_before.push(r);
        }
    }

    for chunk in new.chunks(CHUNK_ROWS) {
        let (size, padded_rows) = padded(chunk);
        // No ON CONFLICT: every identity here is new (checked above, within
        // this write transaction), so a conflict is an error to report.
        let sql = format!(
            "INSERT INTO articles (first_seen_at, updated_at, url, url_key, title, summary, \
               publisher, publisher_url, authors, published_at) \
             SELECT v.column1, v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, \
               v.column7, v.column8, v.column9 FROM (VALUES {}) AS v WHERE v.column3 IS NOT NULL",
            placeholders(size, 9)
        );
        let mut q = sqlx::query(&sql);
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
                .bind(r.and_then(|r| r.published_at.as_deref()));
        }
        q.execute(&mut *conn).await?;
    }
    for r in &new {
        stored[r.poll].new_articles += 1;
    }

    // After the insert, so that an article new in this group also gets what
    // a later entry of the group has and it lacks; only articles missing
    // something are touched, since an update re-queues the article for the
    // search index.
    for chunk in seen_before.chunks(CHUNK_ROWS) {
        let (size, padded_rows) = padded(chunk);
        let sql = format!(
            "UPDATE articles SET title = COALESCE(articles.title, v.column2), \
               summary = COALESCE(articles.summary, v.column3), \
               publisher = COALESCE(articles.publisher, v.column4), \
               publisher_url = COALESCE(articles.publisher_url, v.column5), \
               published_at = COALESCE(articles.published_at, v.column6), \
               authors = CASE WHEN articles.authors = '[]' THEN v.column7 ELSE articles.authors END \
             FROM (VALUES {}) AS v \
             WHERE articles.url_key = v.column1 AND ( \
               (articles.title IS NULL AND v.column2 IS NOT NULL) \
               OR (articles.summary IS NULL AND v.column3 IS NOT NULL) \
               OR (articles.publisher IS NULL AND v.column4 IS NOT NULL) \
               OR (articles.publisher_url IS NULL AND v.column5 IS NOT NULL) \
               OR (articles.published_at IS NULL AND v.column6 IS NOT NULL) \
               OR (articles.authors = '[]' AND v.column7 != '[]'))",
            placeholders(size, 7)
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
                .bind(r.map(|r| r.now))
                .bind(r.map(|r| r.entry_key))
                .bind(r.and_then(|r| r.guid))
                .bind(r.and_then(|r| r.link))
                .bind(r.map(|r| &r.url_key));
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

/// The dedupe for a new entry: the article holding `url_key`, or a new one.
/// Returns the article id and whether it was created.
async fn merge_entry(
    conn: &mut SqliteConnection,
    url_key: &str,
    e: &NewEntry,
    now: &str,
) -> Result<(i64, bool)> {
    let authors = serde_json::to_string(&e.authors).unwrap_or_else(|_| "[]".into());
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO articles (url, url_key, title, summary, publisher, publisher_url, authors, \
         published_at, first_seen_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9) \
         ON CONFLICT (url_key) DO NOTHING RETURNING id",
    )
    .bind(&e.url)
    .bind(url_key)
    .bind(&e.title)
    .bind(&e.summary)
    .bind(&e.publisher)
    .bind(&e.publisher_url)
    .bind(&authors)
    .bind(e.published_at.map(ts))
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = inserted {
        return Ok((id, true));
    }
    // Seen before through another feed: keep what we have, fill what is missing.
    let id: i64 = sqlx::query_scalar(
        "UPDATE articles SET title = COALESCE(title, ?2), summary = COALESCE(summary, ?3), \
         publisher = COALESCE(publisher, ?4), publisher_url = COALESCE(publisher_url, ?5), \
         published_at = COALESCE(published_at, ?6), \
         authors = CASE WHEN authors = '[]' THEN ?7 ELSE authors END \
         WHERE url_key = ?1 RETURNING id",
    )
    .bind(url_key)
    .bind(&e.title)
    .bind(&e.summary)
    .bind(&e.publisher)
    .bind(&e.publisher_url)
    .bind(e.published_at.map(ts))
    .bind(&authors)
    .fetch_one(&mut *conn)
    .await?;
    Ok((id, false))
}

pub(super) async fn assign_identity_in(
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
            sqlx::query(
                "UPDATE articles SET \
                   title = COALESCE(articles.title, m.title), summary = COALESCE(articles.summary, m.summary), \
                   text = COALESCE(articles.text, m.text), publisher = COALESCE(articles.publisher, m.publisher), \
                   publisher_url = COALESCE(articles.publisher_url, m.publisher_url), \
                   published_at = COALESCE(articles.published_at, m.published_at), \
                   first_seen_at = MIN(articles.first_seen_at, m.first_seen_at) \
                 FROM (SELECT * FROM articles WHERE id = ?1) AS m WHERE articles.id = ?2",
            )
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

#[cfg(test)]
mod tests {
    use super::super::feeds::NewFeed;
    use super::super::google::Hint;
    use super::super::test_support::temp_store;
    use super::*;
    use crate::domain::CanonicalUrl;

    fn entry(key: &str, link: &str) -> NewEntry {
        NewEntry {
            entry_key: key.into(),
            link: Some(link.into()),
            url: Some(link.into()),
            url_key: Some(CanonicalUrl::parse(link).unwrap().to_string()),
            title: Some(format!("Title {key}")),
            ..Default::default()
        }
    }

    async fn feed(store: &Store, url: &str) -> i64 {
        let f = NewFeed {
            url: url.into(),
            name: None,
            interval_secs: None,
        };
        store.add_feed(&f, "cli", Utc::now()).await.unwrap().0.id
    }

    async fn two_feeds(store: &Store) -> (i64, i64) {
        (
            feed(store, "https://f.example/1").await,
            feed(store, "https://f.example/2").await,
        )
    }

    fn update(now: DateTime<Utc>) -> FeedUpdate {
        FeedUpdate {
            last_status: "ok".into(),
            next_poll_at: now,
            polled_at: now,
            success: true,
            fetch_url: "https://f.example/".into(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn entries_stored_under_long_keys_are_rekeyed_once_and_a_repoll_adds_nothing() {
        let (store, _d) = temp_store().await;
        let f = feed(&store, "https://f.example/long").await;
        let now = Utc::now();
        let long_guid = format!("CBMi{}", "x".repeat(100));
        let long_link = format!("https://n.example/{}", "y".repeat(80));
        let old_keys = [format!("id:{long_guid}"), format!("link:{long_link}")];
        let entries: Vec<NewEntry> = old_keys
            .iter()
            .enumerate()
            .map(|(i, k)| NewEntry {
                guid: (i == 0).then(|| long_guid.clone()),
                ..entry(k, &format!("https://n.example/{i}"))
            })
            .collect();
        store
            .record_poll(f, entries.clone(), now, update(now))
            .await
            .unwrap();
        let pruned = format!("id:{}", "z".repeat(65));
        sqlx::query(
            "INSERT INTO tombstones (kind, feed_id, key, pruned_at) VALUES ('entry', ?, ?, ?), \
             ('entry', ?, 'id:short', ?)",
        )
        .bind(f)
        .bind(&pruned)
        .bind(ts(now))
        .bind(f)
        .bind(ts(now))
        .execute(&store.writer)
        .await
        .unwrap();

        assert_eq!(rekey_long_entries(&store.writer).await.unwrap(), 3);
        assert_eq!(rekey_long_entries(&store.writer).await.unwrap(), 0);

        let keys: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT entry_key, guid FROM feed_items WHERE feed_id = ? ORDER BY id")
                .bind(f)
                .fetch_all(&store.pool)
                .await
                .unwrap();
        let now_keys: Vec<String> = vec![
            EntryKey::derive(Some(&long_guid), None, None, None)
                .unwrap()
                .as_str()
                .into(),
            EntryKey::derive(None, Some(&long_link), None, None)
                .unwrap()
                .as_str()
                .into(),
        ];
        assert_eq!(
            keys,
            vec![
                (now_keys[0].clone(), Some(long_guid.clone())),
                (now_keys[1].clone(), None)
            ]
        );
        let tombstones: Vec<String> =
            sqlx::query_scalar("SELECT key FROM tombstones WHERE feed_id = ? ORDER BY key")
                .bind(f)
                .fetch_all(&store.pool)
                .await
                .unwrap();
        let pruned_now = EntryKey::rekeyed(&pruned).unwrap();
        assert_eq!(tombstones, vec![pruned_now.as_str(), "id:short"]);

        let again: Vec<NewEntry> = entries
            .into_iter()
            .zip(&now_keys)
            .map(|(e, k)| NewEntry {
                entry_key: k.clone(),
                ..e
            })
            .collect();
        let stored = store.record_poll(f, again, now, update(now)).await.unwrap();
        assert_eq!(stored, PollStored::default());
    }

    #[tokio::test]
    async fn the_search_for_long_keys_reads_only_the_partial_indexes() {
        let (store, _d) = temp_store().await;
        for (sql, index) in [
            (long_items_sql(), "feed_items_long_keys"),
            (long_tombstones_sql(), "tombstones_long_keys"),
        ] {
            let plan: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
                    .bind(0)
                    .bind("")
                    .fetch_all(&store.pool)
                    .await
                    .unwrap();
            let steps: Vec<&str> = plan.iter().map(|p| p.3.as_str()).collect();
            assert_eq!(steps.len(), 1, "{steps:?}");
            assert!(steps[0].contains(index), "{steps:?}");
        }
    }

    #[tokio::test]
    async fn a_failing_poll_committed_with_others_fails_alone() {
        let (store, _d) = temp_store().await;
        let (f1, f2) = two_feeds(&store).await;
        let now = Utc::now();
        // Holding the write connection makes the polls below queue up, so
        // the poll writer takes them as one group.
        let held = store.begin_write().await.unwrap();
        let poll = |feed_id: i64, key: &str| {
            let store = store.clone();
            let e = entry(key, &format!("https://n.example/{key}"));
            tokio::spawn(async move { store.record_poll(feed_id, vec![e], now, update(now)).await })
        };
        let first = poll(f1, "first");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        // No such feed: its feed item breaks the foreign key.
        let (good, bad, other) = (poll(f1, "a"), poll(9_999, "b"), poll(f2, "c"));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        drop(held);
        for ok in [first, good, other] {
            assert_eq!(ok.await.unwrap().unwrap().new_articles, 1);
        }
        assert!(bad.await.unwrap().is_err());
        let urls: Vec<String> = sqlx::query_scalar("SELECT url FROM articles ORDER BY url")
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert_eq!(
            urls,
            [
                "https://n.example/a",
                "https://n.example/c",
                "https://n.example/first"
            ]
        );
    }

    #[tokio::test]
    async fn polls_written_as_one_group_store_what_they_would_one_after_another() {
        let (store, _d) = temp_store().await;
        let (a, b) = two_feeds(&store).await;
        let now = Utc::now();
        let with_etag = move |etag: &str| {
            let mut u = update(now);
            u.etag = Some(etag.into());
            u.clone()
        };
        let bare = NewEntry {
            summary: None,
            ..entry("x", "https://n.example/x")
        };
        let full = NewEntry {
            summary: Some("What x is about".into()),
            ..entry("x", "https://n.example/x")
        };
        // Holding the write connection queues the polls into one group.
        let held = store.begin_write().await.unwrap();
        let poll = |feed_id: i64, entries: Vec<NewEntry>, etag: &str| {
            let (store, make) = (store.clone(), with_etag(etag));
            tokio::spawn(async move { store.record_poll(feed_id, entries, now, make).await })
        };
        let a1 = poll(a, vec![bare.clone()], "a1");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let b1 = poll(b, vec![full, entry("y", "https://n.example/y")], "b1");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        // The same feed again: it must see what its first poll stored.
        let a2 = poll(a, vec![bare, entry("z", "https://n.example/z")], "a2");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        drop(held);
        let stored = |new_items, new_articles| PollStored {
            new_items,
            new_articles,
        };
        assert_eq!(a1.await.unwrap().unwrap(), stored(1, 1));
        assert_eq!(b1.await.unwrap().unwrap(), stored(2, 1));
        assert_eq!(a2.await.unwrap().unwrap(), stored(1, 1));
        let summary: Option<String> =
            sqlx::query_scalar("SELECT summary FROM articles WHERE url = 'https://n.example/x'")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(summary.as_deref(), Some("What x is about"));
        let etags: Vec<Option<String>> = sqlx::query_scalar("SELECT etag FROM feeds ORDER BY id")
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert_eq!(etags, [Some("a2".to_owned()), Some("b1".to_owned())]);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM feed_items").await, 4);
    }

    fn google(key: &str, id: &str, story: Option<&str>) -> NewEntry {
        NewEntry {
            entry_key: key.into(),
            link: Some(format!("https://news.google.com/rss/articles/{id}?oc=5")),
            title: Some(format!("Headline of {id}")),
            google: Some(GoogleEntry {
                google_id: id.into(),
                provisional_key: story.map(str::to_owned),
                hl: "en-US".into(),
                gl: "US".into(),
                ceid: "US:en".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// `entry`, listing Google id H as related coverage.
    fn hinted(mut entry: NewEntry) -> NewEntry {
        if let Some(g) = entry.google.as_mut() {
            g.hints = vec![Hint {
                url: "https://news.google.com/rss/articles/H".into(),
                title: "Other".into(),
                source: None,
                google_id: Some("H".into()),
            }];
        }
        entry
    }

    /// The Google id in the link of the feed item `item`, as `google` gives
    /// it.
    fn google_id_of(item: &str) -> String {
        format!("replace(replace({item}.link, 'https://news.google.com/rss/articles/', ''), '?oc=5', '')")
    }

    /// Every feed item with the Google id its article was created for (its
    /// first item's) and its link's status, in feed and key order.
    async fn google_items(store: &Store) -> Vec<(String, String, Option<String>)> {
        sqlx::query_as(&format!(
            "SELECT fi.entry_key, \
                   (SELECT {} FROM feed_items first WHERE first.article_id = a.id \
                    ORDER BY first.id LIMIT 1), g.status FROM feed_items fi \
                 JOIN articles a ON a.id = fi.article_id \
                 LEFT JOIN google_links g ON g.google_id = {} \
                 ORDER BY fi.feed_id, fi.entry_key",
            google_id_of("first"),
            google_id_of("fi")
        ))
        .fetch_all(store.pool())
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn google_items_of_one_group_join_what_earlier_items_created_as_one_after_another_would()
    {
        let now = Utc::now();
        let hinted = hinted(google("a1", "G1", Some("p.example|story one")));
        let mut video = google("b3", "G4", None);
        if let Some(g) = video.google.as_mut() {
            g.unresolvable = Some("a video id".into());
        }
        let polls = [
            vec![hinted, google("a2", "G2", Some("p.example|known story"))],
            vec![
                google("b1", "G1", Some("p.example|story one")),
                google("b2", "G3", Some("p.example|story one")),
                video,
                google("b4", "G5", Some("p.example|story two")),
                google("b5", "G6", Some("p.example|story two")),
            ],
        ];
        let mut results = Vec::new();
        for grouped in [true, false] {
            let (store, _d) = temp_store().await;
            let (a, b) = two_feeds(&store).await;
            let earlier = google("k", "G0", Some("p.example|known story"));
            store
                .record_poll(a, vec![earlier], now, update(now))
                .await
                .unwrap();
            sqlx::query("UPDATE articles SET resolution = 'resolved'")
                .execute(store.pool())
                .await
                .unwrap();
            let mut stored = Vec::new();
            let mut handles = Vec::new();
            let held = if grouped {
                // Holding the write connection keeps the writer on a poll of a
                // third feed, so the polls of `a` and `b` queue into one group.
                let c = feed(&store, "https://f.example/3").await;
                let held = store.begin_write().await.unwrap();
                let writer = store.clone();
                let blocker = tokio::spawn(async move {
                    writer.record_poll(c, Vec::new(), now, update(now)).await
                });
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                Some((held, blocker))
            } else {
                None
            };
            for (feed_id, entries) in [a, b].into_iter().zip(polls.clone()) {
                let store = store.clone();
                let poll =
                    async move { store.record_poll(feed_id, entries, now, update(now)).await };
                if grouped {
                    handles.push(tokio::spawn(poll));
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                } else {
                    stored.push(poll.await.unwrap());
                }
            }
            if let Some((held, blocker)) = held {
                drop(held);
                blocker.await.unwrap().unwrap();
            }
            for h in handles {
                stored.push(h.await.unwrap().unwrap());
            }
            let hints: i64 = count(&store, "SELECT COUNT(*) FROM story_hints").await;
            let misnamed: i64 = count(
                &store,
                "SELECT COUNT(*) FROM articles WHERE resolution = 'unresolved' AND url_key != 'gn:' || id",
            )
            .await;
            assert_eq!(misnamed, 0, "an unresolved article is keyed by its own id");
            results.push((stored, google_items(&store).await, hints));
        }
        let stored = |new_items, new_articles| PollStored {
            new_items,
            new_articles,
        };
        let item = |key: &str, article: &str, status: &str| {
            (key.to_owned(), article.to_owned(), Some(status.to_owned()))
        };
        let expected = (
            vec![stored(2, 1), stored(5, 2)],
            vec![
                item("a1", "G1", "pending"),
                // The archive's resolved story: no lookup of its own.
                item("a2", "G0", "joined"),
                item("k", "G0", "pending"),
                item("b1", "G1", "pending"),
                // The story the group's first item created.
                item("b2", "G1", "pending"),
                item("b3", "G4", "failed"),
                item("b4", "G5", "pending"),
                // The story an earlier item of its own poll created.
                item("b5", "G5", "pending"),
            ],
            1,
        );
        assert_eq!(results[0], expected, "written as one group");
        assert_eq!(results[1], expected, "written one after another");
    }

    #[tokio::test]
    async fn a_google_id_seen_in_several_feeds_and_polls_has_one_link() {
        let (store, _d) = temp_store().await;
        let (a, b) = two_feeds(&store).await;
        let now = Utc::now();
        let mut decoded = google("d", "GD", None);
        decoded.url = Some("https://pub.example/story".into());
        decoded.url_key = Some("pub.example/story".into());
        if let Some(g) = decoded.google.as_mut() {
            g.decoded = true;
        }
        for feed in [a, b, a] {
            let entries = vec![google("p", "GP", None), decoded.clone()];
            store
                .record_poll(feed, entries, now, update(now))
                .await
                .unwrap();
        }
        let links: Vec<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT google_id, status, publisher_url FROM google_links ORDER BY google_id",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        assert_eq!(
            links,
            [
                (
                    "GD".to_owned(),
                    "decoded".to_owned(),
                    Some("https://pub.example/story".to_owned())
                ),
                ("GP".to_owned(), "pending".to_owned(), None),
            ]
        );
        assert_eq!(count(&store, "SELECT COUNT(*) FROM feed_items").await, 4);
    }

    /// The key tables hold exactly what the rows they index imply.
    async fn assert_keys_match_rows(store: &Store) {
        let pairs = |sql: &'static str| async move {
            let mut rows: Vec<(i64, i64)> =
                sqlx::query_as(sql).fetch_all(store.pool()).await.unwrap();
            rows.sort_unstable();
            rows
        };
        assert_eq!(
            pairs("SELECT DISTINCT id_hash, article_id FROM google_link_keys").await,
            pairs("SELECT DISTINCT id_hash, article_id FROM google_links").await,
        );
        assert_eq!(
            pairs("SELECT DISTINCT provisional_hash, article_id FROM provisional_keys").await,
            pairs(
                "SELECT provisional_hash, id FROM articles \
                 WHERE provisional_key IS NOT NULL AND provisional_hash IS NOT NULL"
            )
            .await,
        );
    }

    async fn settle_all_keys(store: &Store) -> u64 {
        settle_keys(&store.writer, &store.settled, 1, 2)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn google_ids_and_stories_are_found_before_and_after_their_keys_settle() {
        let (store, _d) = temp_store().await;
        let (a, b) = two_feeds(&store).await;
        let now = Utc::now();
        let first = vec![
            google("1", "G1", None),
            google("2", "G2", Some("p.example|two")),
        ];
        let stored = store.record_poll(a, first, now, update(now)).await.unwrap();
        assert_eq!(stored.new_articles, 2);
        assert_keys_match_rows(&store).await;
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) FROM google_link_keys WHERE fresh = 1"
            )
            .await,
            2
        );
        // Settling G1/G2 while G3's story stays fresh: lookups read both tiers.
        assert_eq!(settle_all_keys(&store).await, 3);
        let later = vec![google("3", "G3", Some("p.example|three"))];
        store.record_poll(a, later, now, update(now)).await.unwrap();
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) FROM google_link_keys WHERE fresh = 0"
            )
            .await,
            2
        );
        let again = vec![
            // The same ids in another feed: links known, settled or fresh.
            google("a", "G1", None),
            google("c", "G3", None),
            // New ids of known stories: provisional keys, settled or fresh.
            google("b", "G2b", Some("p.example|two")),
            google("d", "G3b", Some("p.example|three")),
        ];
        let stored = store.record_poll(b, again, now, update(now)).await.unwrap();
        assert_eq!(stored.new_items, 4);
        assert_eq!(stored.new_articles, 0);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM articles").await, 3);
        assert_eq!(
            store
                .google_link("G1")
                .await
                .unwrap()
                .map(|(status, _)| status),
            Some("pending".to_owned())
        );
        assert_keys_match_rows(&store).await;
    }

    #[tokio::test]
    async fn lookup_keys_follow_their_rows_through_resolution_merges_and_deletes() {
        let (store, _d) = temp_store().await;
        let f = feed(&store, "https://f.example/1").await;
        let now = Utc::now();
        let entries = vec![
            entry("p", "https://pub.example/x"),
            hinted(google("g", "G1", Some("pub.example|x"))),
            google("h", "G2", Some("pub.example|y")),
        ];
        store
            .record_poll(f, entries, now, update(now))
            .await
            .unwrap();
        settle_all_keys(&store).await;
        // G1's provisional article merges into the publisher's.
        let survivor = store
            .resolve_google_link("G1", "https://pub.example/x", now)
            .await
            .unwrap();
        assert_keys_match_rows(&store).await;
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) FROM google_link_keys WHERE id_hash = (SELECT id_hash FROM google_links WHERE google_id = 'G1')"
            )
            .await,
            1
        );
        assert_eq!(
            store
                .resolve_google_link("G1", "https://pub.example/x", now)
                .await
                .unwrap(),
            survivor
        );
        sqlx::query("DELETE FROM articles")
            .execute(&store.writer)
            .await
            .unwrap();
        assert_keys_match_rows(&store).await;
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM google_link_keys").await,
            0
        );
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM provisional_keys").await,
            0
        );
    }

    #[tokio::test]
    async fn the_related_coverage_of_a_merged_google_article_still_meets_links_by_hash() {
        let (store, _d) = temp_store().await;
        let f = feed(&store, "https://f.example/1").await;
        let now = Utc::now();
        let hinted = hinted(google("g", "G1", None));
        let entries = vec![entry("p", "https://pub.example/x"), hinted];
        store
            .record_poll(f, entries, now, update(now))
            .await
            .unwrap();
        let survivor = store
            .resolve_google_link("G1", "https://pub.example/x", now)
            .await
            .unwrap();
        let hints: Vec<(i64, Option<i64>)> =
            sqlx::query_as("SELECT article_id, google_hash FROM story_hints")
                .fetch_all(store.pool())
                .await
                .unwrap();
        // The merged article is gone, and its hints with it.
        assert_eq!(hints, [(survivor, Some(key_hash("H")))]);
    }

    #[tokio::test]
    async fn an_article_new_in_a_poll_gets_what_a_later_entry_of_that_poll_has_and_it_lacks() {
        let (store, _d) = temp_store().await;
        let f = feed(&store, "https://f.example/rss").await;
        let now = Utc::now();
        let es = [
            NewEntry {
                summary: None,
                ..entry("x", "https://n.example/x")
            },
            NewEntry {
                summary: Some("What x is about".into()),
                ..entry("x-again", "https://n.example/x")
            },
        ];
        let r = store
            .record_poll(f, &es[..], now, update(now))
            .await
            .unwrap();
        assert_eq!((r.new_items, r.new_articles), (2, 1));
        let summary: Option<String> = sqlx::query_scalar("SELECT summary FROM articles")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(summary.as_deref(), Some("What x is about"));
    }

    #[tokio::test]
    async fn repeated_polls_store_each_entry_once() {
        let (store, _d) = temp_store().await;
        let f = feed(&store, "https://f.example/rss").await;
        let now = Utc::now();
        let es = [
            entry("a", "https://n.example/1"),
            entry("b", "https://n.example/2"),
        ];
        let r = store
            .record_poll(f, &es[..], now, update(now))
            .await
            .unwrap();
        assert_eq!(
            r,
            PollStored {
                new_items: 2,
                new_articles: 2
            }
        );
        let r = store
            .record_poll(f, &es[..], now, update(now))
            .await
            .unwrap();
        assert_eq!(r, PollStored::default());
    }

    #[tokio::test]
    async fn one_article_in_two_feeds_is_one_row_with_two_feed_links() {
        let (store, _d) = temp_store().await;
        let f1 = feed(&store, "https://f1.example/rss").await;
        let f2 = feed(&store, "https://f2.example/rss").await;
        let now = Utc::now();
        store
            .record_poll(
                f1,
                &[entry("x", "https://n.example/s?utm_source=a")],
                now,
                update(now),
            )
            .await
            .unwrap();
        let r = store
            .record_poll(
                f2,
                &[entry("y", "http://www.n.example/s")],
                now,
                update(now),
            )
            .await
            .unwrap();
        assert_eq!(
            r,
            PollStored {
                new_items: 1,
                new_articles: 0
            }
        );
        let page = store.export_page(None, 0, 10).await.unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].feeds.len(), 2);
        assert_eq!(page[0].links.len(), 2);
        assert_eq!(page[0].text, None);
    }

    #[tokio::test]
    async fn assigning_a_known_identity_merges_two_articles_keeping_links() {
        let (store, _d) = temp_store().await;
        let f1 = feed(&store, "https://f1.example/rss").await;
        let f2 = feed(&store, "https://f2.example/rss").await;
        let now = Utc::now();
        store
            .record_poll(
                f1,
                &[entry("a", "https://n.example/real")],
                now,
                update(now),
            )
            .await
            .unwrap();
        store
            .record_poll(
                f2,
                &[entry("b", "https://redirector.example/x")],
                now,
                update(now),
            )
            .await
            .unwrap();
        let page = store.export_page(None, 0, 10).await.unwrap();
        let redirect_id = page[1].id;
        let key = CanonicalUrl::parse("https://n.example/real").unwrap();
        let survivor = store
            .assign_identity(redirect_id, key.as_str(), "https://n.example/real")
            .await
            .unwrap();
        assert_eq!(survivor, page[0].id);
        let page = store.export_page(None, 0, 10).await.unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].feeds.len(), 2);
        assert_eq!(
            page[0].links,
            vec![
                "https://n.example/real".to_owned(),
                "https://redirector.example/x".to_owned()
            ]
        );
    }

    #[tokio::test]
    async fn deferred_indexing_keeps_the_search_indexes_consistent_through_updates_and_merges() {
        let (store, _d) = temp_store().await;
        let f = feed(&store, "https://f.example/rss").await;
        let now = Utc::now();
        store
            .record_poll(
                f,
                &[entry("a", "https://n.example/indexed")],
                now,
                update(now),
            )
            .await
            .unwrap();
        assert_eq!(store.index_pending().await.unwrap(), 1);
        // A second article stays pending while it is updated and merged away.
        store
            .record_poll(
                f,
                &[entry("b", "https://n.example/pending")],
                now,
                update(now),
            )
            .await
            .unwrap();
        let page = store.export_page(None, 0, 10).await.unwrap();
        let (indexed, pending) = (page[0].id, page[1].id);
        sqlx::query("UPDATE articles SET text = 'body words quokka' WHERE id IN (?, ?)")
            .bind(indexed)
            .bind(pending)
            .execute(store.pool())
            .await
            .unwrap();
        let key = CanonicalUrl::parse("https://n.example/indexed").unwrap();
        store
            .assign_identity(pending, key.as_str(), "https://n.example/indexed")
            .await
            .unwrap();
        store.index_pending().await.unwrap();
        store.check_search_indexes().await.unwrap();
        let hits = store
            .search(&crate::store::SearchQuery {
                text: "quokka".into(),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].id, indexed);
    }

    #[tokio::test]
    async fn entries_without_links_are_kept_per_feed() {
        let (store, _d) = temp_store().await;
        let f = feed(&store, "https://f.example/rss").await;
        let now = Utc::now();
        let e = NewEntry {
            entry_key: "hash:1".into(),
            title: Some("No link".into()),
            ..Default::default()
        };
        let r = store
            .record_poll(f, std::slice::from_ref(&e), now, update(now))
            .await
            .unwrap();
        assert_eq!(r.new_articles, 1);
        let r = store.record_poll(f, &[e], now, update(now)).await.unwrap();
        assert_eq!(r.new_articles, 0);
    }

    async fn count(store: &Store, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(store.pool())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn only_articles_with_unspaced_scripts_enter_the_trigram_index_and_leave_it_when_edited()
    {
        let (store, _d) = temp_store().await;
        let f = feed(&store, "https://f.example/rss").await;
        let now = Utc::now();
        let mut cjk = entry("c", "https://n.example/cjk");
        cjk.title = Some("清华大学 announces a new campus".into());
        let mut thai = entry("t", "https://n.example/thai");
        thai.summary = Some("ข่าวภาษาไทย".into());
        let latin = entry("l", "https://n.example/latin");
        store
            .record_poll(f, &[cjk, thai, latin], now, update(now))
            .await
            .unwrap();
        assert_eq!(store.index_pending().await.unwrap(), 3);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM articles_fts").await, 3);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM trigram_rows").await, 2);
        let find = |text: &'static str| {
            let store = store.clone();
            async move {
                store
                    .search(&crate::store::SearchQuery {
                        text: text.into(),
                        limit: 10,
                        ..Default::default()
                    })
                    .await
                    .unwrap()
                    .len()
            }
        };
        assert_eq!(find("清华大学").await, 1);
        assert_eq!(find("ภาษาไทย").await, 1);
        // The Chinese title is replaced by a Latin one: the article leaves the
        // trigram index, stays findable by words, and both indexes stay exact.
        sqlx::query("UPDATE articles SET title = 'Plain campus news' WHERE url_key LIKE '%cjk'")
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(count(&store, "SELECT COUNT(*) FROM fts_pending").await, 1);
        store.index_pending().await.unwrap();
        assert_eq!(count(&store, "SELECT COUNT(*) FROM trigram_rows").await, 1);
        assert_eq!(find("清华大学").await, 0);
        assert_eq!(find("campus").await, 1);
        store.check_search_indexes().await.unwrap();
        sqlx::query("DELETE FROM articles")
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(count(&store, "SELECT COUNT(*) FROM trigram_rows").await, 0);
        store.check_search_indexes().await.unwrap();
    }

    #[tokio::test]
    async fn an_article_seen_again_gets_only_what_it_lacked_and_is_not_reindexed_otherwise() {
        let (store, _d) = temp_store().await;
        let f1 = feed(&store, "https://f1.example/rss").await;
        let f2 = feed(&store, "https://f2.example/rss").await;
        let f3 = feed(&store, "https://f3.example/rss").await;
        let now = Utc::now();
        let mut bare = entry("a", "https://n.example/story");
        bare.title = None;
        store
            .record_poll(f1, &[bare], now, update(now))
            .await
            .unwrap();
        store.index_pending().await.unwrap();
        let mut full = entry("b", "https://n.example/story");
        full.title = Some("The headline".into());
        full.publisher = Some("N".into());
        full.authors = vec!["Ann".into()];
        let r = store
            .record_poll(f2, &[full.clone()], now, update(now))
            .await
            .unwrap();
        assert_eq!((r.new_items, r.new_articles), (1, 0));
        let (title, publisher, authors): (String, String, String) =
            sqlx::query_as("SELECT title, publisher, authors FROM articles")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(
            (title.as_str(), publisher.as_str(), authors.as_str()),
            ("The headline", "N", "[\"Ann\"]")
        );
        store.index_pending().await.unwrap();
        // A third feed brings nothing new: no update, nothing to re-index.
        full.entry_key = "c".into();
        full.title = Some("Another headline".into());
        store
            .record_poll(f3, &[full], now, update(now))
            .await
            .unwrap();
        assert_eq!(count(&store, "SELECT COUNT(*) FROM fts_pending").await, 0);
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) FROM articles WHERE title = 'The headline'"
            )
            .await,
            1
        );
        assert_eq!(count(&store, "SELECT COUNT(*) FROM feed_items").await, 3);
    }

    #[tokio::test]
    async fn a_poll_larger_than_one_statement_chunk_stores_every_entry_once() {
        let (store, _d) = temp_store().await;
        let f = feed(&store, "https://f.example/rss").await;
        let now = Utc::now();
        let n = CHUNK_ROWS * 2 + 17;
        let mut es: Vec<NewEntry> = (0..n)
            .map(|i| entry(&format!("k{i}"), &format!("https://n.example/{i}")))
            .collect();
        // The same URL under two entry keys, across a chunk boundary.
        es.push(entry("dup", "https://n.example/3"));
        let r = store
            .record_poll(f, &es[..], now, update(now))
            .await
            .unwrap();
        assert_eq!((r.new_items, r.new_articles), (n + 1, n));
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM articles").await,
            n as i64
        );
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM feed_items").await,
            n as i64 + 1
        );
        let r = store
            .record_poll(f, &es[..], now, update(now))
            .await
            .unwrap();
        assert_eq!(r, PollStored::default());
    }

    #[tokio::test]
    async fn a_google_poll_larger_than_one_statement_chunk_links_each_item_to_its_own_article() {
        let (store, _d) = temp_store().await;
        let f = feed(&store, "https://f.example/rss").await;
        // An article first, so the new ones do not start at id 1.
        store
            .record_poll(
                f,
                vec![entry("p", "https://n.example/p")],
                Utc::now(),
                update(Utc::now()),
            )
            .await
            .unwrap();
        let now = Utc::now();
        let n = CHUNK_ROWS * 2 + 17;
        let es: Vec<NewEntry> = (0..n)
            .map(|i| google(&format!("k{i}"), &format!("G{i}"), Some(&format!("p|{i}"))))
            .collect();
        let r = store
            .record_poll(f, &es[..], now, update(now))
            .await
            .unwrap();
        assert_eq!((r.new_items, r.new_articles), (n, n));
        // Each item's article carries the item's own headline, and the link
        // of its id points there.
        let mismatched = count(
            &store,
            &format!(
                "SELECT COUNT(*) FROM feed_items fi JOIN articles a ON a.id = fi.article_id \
                 LEFT JOIN google_links g ON g.google_id = {id} \
                 WHERE fi.link LIKE 'https://news.google.com/%' AND (a.title != 'Headline of ' || {id} \
                   OR g.article_id IS NOT a.id OR a.url_key != 'gn:' || a.id)",
                id = google_id_of("fi")
            ),
        )
        .await;
        assert_eq!(mismatched, 0);
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM google_links").await,
            n as i64
        );
    }
}
