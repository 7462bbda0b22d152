//! The poll write path: polls queue for the write thread ([`super::lane`]),
//! which commits the polls waiting together (group commit), each entry
//! stored as the identity model says: plain entries in [`plain`], Google
//! items in [`google`], their lookup keys kept in [`super::keys`].

mod google;
mod plain;
#[cfg(test)]
mod tests;

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::{SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use self::google::{insert_items, note_decoded, store_google, GoogleRow};
use self::plain::{entry_article, store_plain, PlainRow};
use super::feeds::apply_feed_updates;
use super::identity::merge_entries;
use super::keys::{key_hash, settle_keys, FRESH_KEYS_LIMIT, MERGE_SLICE};
use super::sql::{padded, placeholders, CHUNK_ROWS};
use super::SqliteStore;
use crate::store::error::{Result, StoreError};
use crate::store::feeds::{FeedUpdate, PollUpdate};
use crate::store::ingest::{NewEntry, PollStored};
use crate::store::time::ts;

impl SqliteStore {
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

    pub async fn record_poll_outcome(&self, feed_id: i64, update: &FeedUpdate) -> Result<()> {
        self.record_poll(feed_id, Vec::new(), Utc::now(), update.clone())
            .await
            .map(drop)
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
pub(super) async fn write_polls(writer: SqlitePool, mut jobs: mpsc::UnboundedReceiver<PollJob>) {
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
        write_and_reply(&writer, group).await;
        unchecked += size;
        if unchecked >= KEY_CHECK_ENTRIES {
            unchecked = 0;
            if let Err(e) = settle_keys(&writer, FRESH_KEYS_LIMIT, MERGE_SLICE).await {
                tracing::warn!(error = %e, "could not merge the fresh lookup keys; retried later");
            }
        }
    }
}

/// Entries the poll writer stores between looks at the fresh key tiers (a
/// look counts them).
const KEY_CHECK_ENTRIES: usize = 4_096;

async fn write_and_reply(writer: &SqlitePool, group: Vec<PollJob>) {
    if group.len() > 1 {
        if let Ok(results) = write_group(writer, &group).await {
            for (job, stored) in group.into_iter().zip(results) {
                let _ = job.reply.send(Ok(stored));
            }
            return;
        }
    }
    for job in group {
        let result = write_group(writer, std::slice::from_ref(&job)).await;
        // One job, one result.
        let _ = job.reply.send(result.map(|mut one| one.swap_remove(0)));
    }
}

/// Writes and commits every poll of `group`, or none of them; their results
/// in order.
async fn write_group(writer: &SqlitePool, group: &[PollJob]) -> Result<Vec<PollStored>> {
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    let results = record_group_in(&mut tx, group).await?;
    tx.commit().await?;
    Ok(results)
}

/// The polls of a group (distinct feeds) within the caller's transaction.
/// Each step is one statement for the whole group, not one per poll: every
/// statement is a round trip to sqlx's SQLite thread, and with a statement
/// per poll and step the round trips, not SQLite's work, took most of the
/// writer's time.
async fn record_group_in(tx: &mut SqliteConnection, group: &[PollJob]) -> Result<Vec<PollStored>> {
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
            if !seen.insert((feed_id, entry.entry_key.as_str().to_owned())) {
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
            store_google(&mut *tx, &google_rows, &mut stored).await?;
            google_rows.clear();
            let article = entry_article(feed_id, &nows[poll], entry);
            let created = merge_entries(&mut *tx, &[&article]).await? == [true];
            let article_id: i64 = sqlx::query_scalar("SELECT id FROM articles WHERE url_key = ?")
                .bind(&article.url_key)
                .fetch_one(&mut *tx)
                .await?;
            note_decoded(&mut *tx, &row, article_id).await?;
            insert_items(&mut *tx, &[(&row, article_id)]).await?;
            stored[poll].new_items += 1;
            if created {
                stored[poll].new_articles += 1;
            }
        }
        store_google(&mut *tx, &google_rows, &mut stored).await?;
        store_plain(&mut *tx, &plain, &mut stored).await?;
    }
    let updates: Vec<(i64, FeedUpdate)> = group
        .iter()
        .zip(&stored)
        .map(|(job, stored)| (job.feed_id, job.update.settle(stored.new_items, job.now)))
        .collect();
    apply_feed_updates(&mut *tx, &updates).await?;
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
                .bind(e.map(|e| e.entry.entry_key.as_str()))
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
                .bind(e.map(|e| e.entry.entry_key.as_str()))
                .bind(e.and_then(|e| e.entry.url_key.as_ref().map(|k| k.as_str())))
                .bind(e.and_then(|e| e.entry.google.as_ref().map(|g| g.google_id.as_str())));
        }
        pruned.extend(q.fetch_all(&mut *tx).await?.into_iter().map(|i| i as usize));
    }
    Ok(pruned)
}
