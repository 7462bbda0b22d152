//! Google News link state: the resolution queue, provisional identity,
//! splitting provisional merges, story hints and the request budget.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::{SqliteConnection, SqlitePool};

use super::articles::{assign_identity_in, padded, placeholders, NewEntry, PollStored, CHUNK_ROWS};
use super::{parse_ts, ts, Result, Store, StoreError};
use crate::domain::CanonicalUrl;

/// Related coverage an item lists.
#[derive(Debug, Clone, Default)]
pub struct Hint {
    pub url: String,
    pub title: String,
    pub source: Option<String>,
    /// The Google article id of `url`: what a hint is matched by.
    pub google_id: Option<String>,
}

/// A Google item's extra state, attached to a [`NewEntry`].
#[derive(Debug, Clone, Default)]
pub struct GoogleEntry {
    pub google_id: String,
    /// The id carried the publisher URL (the entry's `url` is it).
    pub decoded: bool,
    /// The id can never be resolved (e.g. a video id).
    pub unresolvable: Option<String>,
    pub provisional_key: Option<String>,
    pub hl: String,
    pub gl: String,
    pub ceid: String,
    pub hints: Vec<Hint>,
}

/// What newsd finds a long, random key by (migrations 0012 and 0013: Google
/// ids in `google_links` and `story_hints`, provisional keys in `articles`):
/// the first eight bytes of its SHA-256, little-endian. The key itself is
/// compared on the row. Stored, so it must never change.
pub(crate) fn key_hash(key: &str) -> i64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_le_bytes(first)
}

/// Whether a feed item's `link`, as the feed gave it, is the link of Google
/// id `id`: the id is a segment of its path (`/rss/articles/{id}`), which is
/// where newsd read it from (`google_news::article_id_from_url`). Feed items
/// keep no id of their own (migration 0016).
pub(super) fn link_names_id(link: &str, id: &str) -> bool {
    url::Url::parse(link)
        .ok()
        .and_then(|u| u.path_segments().map(|mut segs| segs.any(|s| s == id)))
        .unwrap_or(false)
}

/// The condition that finds the link of a Google id (`?hash`: its
/// `key_hash`, `?id`: the id) through `google_link_keys` (migration 0014).
fn by_google_id(hash: u8, id: u8) -> String {
    format!(
        "article_id IN (SELECT article_id FROM google_link_keys \
           WHERE fresh IN (0, 1) AND id_hash = ?{hash}) AND google_id = ?{id}"
    )
}

/// Gives rows from before migrations 0012 and 0013 their key hashes; a
/// no-op once done (each column's index finds the rows still without one).
/// Runs when a writer opens the database, before anything looks keys up.
pub(super) async fn fill_key_hashes(pool: &sqlx::SqlitePool) -> Result<u64> {
    let mut filled = 0;
    for (table, key, hash) in [
        ("google_links", "google_id", "id_hash"),
        ("story_hints", "google_id", "google_hash"),
        ("articles", "provisional_key", "provisional_hash"),
    ] {
        let select = format!(
            "SELECT rowid, {key} FROM {table} WHERE {hash} IS NULL AND {key} IS NOT NULL LIMIT 5000"
        );
        let update = format!("UPDATE {table} SET {hash} = ?2 WHERE rowid = ?1");
        loop {
            let rows: Vec<(i64, String)> = sqlx::query_as(&select).fetch_all(pool).await?;
            if rows.is_empty() {
                break;
            }
            let mut tx = pool.begin().await?;
            for (rowid, key) in &rows {
                sqlx::query(&update)
                    .bind(rowid)
                    .bind(key_hash(key))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            filled += rows.len() as u64;
        }
    }
    Ok(filled)
}

/// Fresh keys (per table) past which `settle_keys` settles them: a fresh
/// tier of this size is ~400 pages, which every commit may touch; a merge
/// touches each settled page once, so this many keys share the cost.
pub(super) const FRESH_KEYS_LIMIT: i64 = 65_536;

/// Fresh keys moved per transaction of a merge. With ten million settled
/// keys in each table, merging both full tiers in one transaction held the
/// write lock for 2.2 s (`merge_on_ten_million_settled_keys`), and longer as
/// the archive grows: past `database.busy_timeout` (5 s) a `newsd feeds add`
/// meanwhile would fail. A slice covers an eighth of the hash space, so the
/// slices together touch the settled pages no more often than one merge.
pub(super) const MERGE_SLICE: i64 = 8_192;

/// A table of lookup keys (migration 0014), its hash column, and its place
/// in [`SettledKeys`].
#[derive(Debug, Clone, Copy)]
struct KeyTable {
    table: &'static str,
    hash: &'static str,
    slot: usize,
}

const KEY_TABLES: [KeyTable; 2] = [
    KeyTable {
        table: "google_link_keys",
        hash: "id_hash",
        slot: 0,
    },
    KeyTable {
        table: "provisional_keys",
        hash: "provisional_hash",
        slot: 1,
    },
];

/// Which hashes each key table's settled tier may hold: a Bloom filter per
/// table. Nearly every key an ingest looks up is new, and the settled tier
/// outgrows the writer's cache (a few MiB per million keys), so looking in
/// it read a page from disk for nothing (BENCHMARKS.md, session 10). A
/// lookup now reads the settled tier only for a hash the filter may hold,
/// and both tiers while a table has no filter.
///
/// Only `merge_fresh_slice` writes settled keys (besides migration 0014,
/// before any filter exists), and it adds them here before its commit; a
/// merge rolled back leaves bits for keys that are not there, which costs
/// only a lookup. The poll writer fills a missing filter (at first, and
/// after one grew past its capacity) before it begins a group's
/// transaction, so the scan holds no write lock (15 s for two tables of ten
/// million keys); the writer pool's one connection keeps any merge from
/// running meanwhile.
#[derive(Default)]
pub(super) struct SettledKeys {
    filters: std::sync::Mutex<[Option<Bloom>; 2]>,
}

impl std::fmt::Debug for SettledKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = self.lock().each_ref().map(|b| b.as_ref().map(|b| b.keys));
        f.debug_struct("SettledKeys").field("keys", &keys).finish()
    }
}

/// Settled-tier lookups for the hashes a filter may hold; the others look in
/// the fresh tier alone.
const BOTH_TIERS: &str = "0, 1";
const FRESH_TIER: &str = "1";

impl SettledKeys {
    /// Fills the filters that are missing from their tables, outside any
    /// transaction (see the type).
    pub(super) async fn fill(&self, writer: &SqlitePool) -> Result<()> {
        for t in KEY_TABLES {
            if self.lock()[t.slot].is_none() {
                let mut conn = writer.acquire().await?;
                let filter = Bloom::load(&mut conn, t).await?;
                self.lock()[t.slot] = Some(filter);
            }
        }
        Ok(())
    }

    /// `items` split by where their keys (`hash`) may be in `t`: those the
    /// settled tier may hold, to look up in both tiers, and the others, in
    /// the fresh tier alone; each with its tiers for `fresh IN (...)`.
    fn by_tier<T>(
        &self,
        t: KeyTable,
        items: impl IntoIterator<Item = T>,
        hash: impl Fn(&T) -> i64,
    ) -> [(Vec<T>, &'static str); 2] {
        let filters = self.lock();
        let (both, fresh) = items.into_iter().partition(|item| {
            filters[t.slot]
                .as_ref()
                .is_none_or(|filter| filter.may_contain(hash(item)))
        });
        [(both, BOTH_TIERS), (fresh, FRESH_TIER)]
    }

    /// Records keys about to be settled in `t`.
    fn settle(&self, t: KeyTable, hashes: &[i64]) {
        let mut filters = self.lock();
        let slot = &mut filters[t.slot];
        if let Some(filter) = slot {
            hashes.iter().for_each(|&h| filter.insert(h));
            if filter.over_capacity() {
                *slot = None;
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, [Option<Bloom>; 2]> {
        // A panic elsewhere while holding the lock left bits set, never
        // cleared: the filter is still sound.
        self.filters.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Bits per key a filter is sized for, and the hash functions: ~1 % false
/// positives when full.
const BLOOM_BITS_PER_KEY: u64 = 10;
const BLOOM_PROBES: usize = 3;

/// A Bloom filter over 64-bit key hashes, which are already uniform (the
/// first eight bytes of a SHA-256): the probes are derived from the hash
/// itself (double hashing).
pub(super) struct Bloom {
    words: Vec<u64>,
    keys: u64,
}

impl Bloom {
    /// Room for twice `keys` (and at least two full fresh tiers): 10 to 20
    /// bits a key, and a refill, which scans the settled tier, each time it
    /// doubles.
    fn with_room_for(keys: u64) -> Bloom {
        let keys = keys.max(FRESH_KEYS_LIMIT as u64).saturating_mul(2);
        let words = keys.saturating_mul(BLOOM_BITS_PER_KEY).div_ceil(64);
        Bloom {
            words: vec![0; words as usize],
            keys: 0,
        }
    }

    async fn load(conn: &mut SqliteConnection, t: KeyTable) -> Result<Bloom> {
        use futures::TryStreamExt;
        let KeyTable { table, hash, .. } = t;
        let settled: i64 =
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE fresh = 0"))
                .fetch_one(&mut *conn)
                .await?;
        let mut filter = Bloom::with_room_for(settled.max(0) as u64);
        let sql = format!("SELECT {hash} FROM {table} WHERE fresh = 0");
        let mut rows = sqlx::query_scalar::<_, i64>(&sql).fetch(&mut *conn);
        while let Some(h) = rows.try_next().await? {
            filter.insert(h);
        }
        Ok(filter)
    }

    fn probes(&self, hash: i64) -> [usize; BLOOM_PROBES] {
        let bits = self.words.len() as u64 * 64;
        let h = hash as u64;
        let (a, b) = (h & 0xffff_ffff, (h >> 32) | 1);
        std::array::from_fn(|i| (a.wrapping_add((i as u64).wrapping_mul(b)) % bits) as usize)
    }

    fn insert(&mut self, hash: i64) {
        for bit in self.probes(hash) {
            self.words[bit / 64] |= 1 << (bit % 64);
        }
        self.keys += 1;
    }

    fn may_contain(&self, hash: i64) -> bool {
        self.probes(hash)
            .iter()
            .all(|&bit| self.words[bit / 64] & (1 << (bit % 64)) != 0)
    }

    fn over_capacity(&self) -> bool {
        self.keys * BLOOM_BITS_PER_KEY > self.words.len() as u64 * 64
    }
}

/// Moves each key table's fresh tier into its settled tier, in hash order
/// (migration 0014 tells why), once it holds at least `limit` keys: `slice`
/// keys per transaction, so other writers get the lock in between. How many
/// keys moved.
pub(super) async fn settle_keys(
    writer: &SqlitePool,
    settled: &SettledKeys,
    limit: i64,
    slice: i64,
) -> Result<u64> {
    let mut merged = 0;
    for t in KEY_TABLES {
        let fresh: i64 =
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {} WHERE fresh = 1", t.table))
                .fetch_one(writer)
                .await?;
        if fresh == 0 || fresh < limit {
            continue;
        }
        loop {
            let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
            let moved = merge_fresh_slice(&mut tx, settled, t, slice).await?;
            tx.commit().await?;
            merged += moved;
            if moved < slice.max(1) as u64 {
                break;
            }
        }
    }
    if merged > 0 {
        tracing::debug!(keys = merged, "merged the fresh lookup keys");
    }
    Ok(merged)
}

/// Moves up to `slice` of `t`'s fresh keys, the lowest first, into its
/// settled tier; how many moved. Within the caller's transaction.
async fn merge_fresh_slice(
    conn: &mut SqliteConnection,
    settled: &SettledKeys,
    t: KeyTable,
    slice: i64,
) -> Result<u64> {
    let KeyTable { table, hash, .. } = t;
    let last: Option<(i64, i64)> = sqlx::query_as(&format!(
        "SELECT {hash}, article_id FROM {table} WHERE fresh = 1 \
         ORDER BY {hash}, article_id LIMIT 1 OFFSET ?"
    ))
    .bind(slice.max(1) - 1)
    .fetch_optional(&mut *conn)
    .await?;
    // Past the end of the tier: the slice is whatever is left.
    let (upto, max) = last.unwrap_or((i64::MAX, i64::MAX));
    let range = format!("fresh = 1 AND ({hash}, article_id) <= (?1, ?2)");
    // A key the settled tier held already (ignored, not returned) is in
    // the filter already.
    let settling: Vec<i64> = sqlx::query_scalar(&format!(
        "INSERT OR IGNORE INTO {table} (fresh, {hash}, article_id) \
         SELECT 0, {hash}, article_id FROM {table} WHERE {range} ORDER BY {hash}, article_id \
         RETURNING {hash}"
    ))
    .bind(upto)
    .bind(max)
    .fetch_all(&mut *conn)
    .await?;
    settled.settle(t, &settling);
    let moved = sqlx::query(&format!("DELETE FROM {table} WHERE {range}"))
        .bind(upto)
        .bind(max)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(moved)
}

/// How long a provisional identity (title + publisher host) matches.
const PROVISIONAL_WINDOW_HOURS: i64 = 36;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingLink {
    pub google_id: String,
    pub article_id: i64,
    pub hl: String,
    pub gl: String,
    pub ceid: String,
    pub signature: Option<String>,
    pub sig_timestamp: Option<i64>,
    pub attempts: i64,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct GoogleQueueStats {
    pub pending: i64,
    pub pending_signed: i64,
    pub resolved: i64,
    pub decoded: i64,
    pub joined: i64,
    pub failed: i64,
    pub breaker_open_until: Option<String>,
    pub breaker_trips: i64,
    pub last_get_at: Option<String>,
    pub gets_total: i64,
    pub posts_total: i64,
}

#[derive(Debug, Clone, Default)]
pub struct Budget {
    pub open_until: Option<DateTime<Utc>>,
    pub last_get_at: Option<DateTime<Utc>>,
}

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
    status: &'static str,
    publisher_url: Option<&'a str>,
}

/// The article an item goes to: one the archive holds, or the `k`-th new one.
#[derive(Clone, Copy)]
enum ArticleRef {
    Stored(i64),
    New(usize),
}

/// The Google part of storing a group's new items (whose ids carry no URL),
/// set-based: each item joins the article of the same Google id or of the
/// same provisional story (title + publisher host within
/// `PROVISIONAL_WINDOW_HOURS`), or creates an unresolved one. What one item
/// creates, a later item of the group sees, as if they were stored one after
/// another; an article the archive holds comes before one created here, as
/// the lowest id would. A few statements per up to `CHUNK_ROWS` items: one at
/// a time, the statements' round trips took most of the writer's time.
pub(super) async fn store_google(
    conn: &mut SqliteConnection,
    settled: &SettledKeys,
    rows: &[GoogleRow<'_>],
    stored: &mut [PollStored],
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut links = known_links(conn, settled, rows).await?;
    let windows: Vec<String> = rows
        .iter()
        .map(|r| ts(r.at - chrono::Duration::hours(PROVISIONAL_WINDOW_HOURS)))
        .collect();
    let stories = known_stories(conn, settled, rows, &links, &windows).await?;

    let mut new: Vec<&GoogleRow<'_>> = Vec::new();
    // Provisional key -> the first article created here with it.
    let mut new_stories: HashMap<&str, usize> = HashMap::new();
    let mut link_rows: Vec<(&GoogleRow<'_>, ArticleRef, &'static str)> = Vec::new();
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
            .filter(|&&n| new[n].now >= window.as_str());
        let (article, created, resolved) = match (found, earlier) {
            (Some((id, resolution)), _) => (
                ArticleRef::Stored(*id),
                false,
                resolution.as_deref() == Some("resolved"),
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
        let status = if g.unresolvable.is_some() {
            "failed"
        } else if resolved {
            // The story is known already: no lookup of its own.
            "joined"
        } else {
            "pending"
        };
        links.insert(&g.google_id, article);
        link_rows.push((r, article, status));
        items.push((r, article));
        stored[r.poll].new_items += 1;
        if created {
            stored[r.poll].new_articles += 1;
        }
    }

    let ids = insert_unresolved(conn, &new).await?;
    let id_of = |article: ArticleRef| -> Result<i64> {
        match article {
            ArticleRef::Stored(id) => Ok(id),
            ArticleRef::New(n) => ids.get(n).copied().ok_or_else(|| {
                StoreError::Inconsistent(format!("new article {n} of {} has no id", ids.len()))
            }),
        }
    };
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
    settled: &SettledKeys,
    rows: &'a [GoogleRow<'_>],
) -> Result<HashMap<&'a str, ArticleRef>> {
    let mut links = HashMap::new();
    for (part, tiers) in settled.by_tier(KEY_TABLES[0], rows, |r| r.id_hash) {
        for chunk in part.chunks(CHUNK_ROWS) {
            let (size, padded_rows) = padded(chunk);
            // Rows come back by their position in the chunk.
            let sql = format!(
                "SELECT v.column1, g.article_id FROM (VALUES {}) AS v \
                 CROSS JOIN google_link_keys AS k ON k.fresh IN ({tiers}) AND k.id_hash = v.column3 \
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
    }
    Ok(links)
}

/// For each (provisional key, window start) of the rows not joining by
/// Google id: the archive's first article of that story and its resolution.
async fn known_stories<'a>(
    conn: &mut SqliteConnection,
    settled: &SettledKeys,
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
    for (part, tiers) in settled.by_tier(KEY_TABLES[1], wanted, |w| w.2) {
        for chunk in part.chunks(CHUNK_ROWS) {
            let (size, padded_rows) = padded(chunk);
            // Rows come back by their position in the chunk.
            let sql = format!(
                "SELECT v.column1, a.id, a.resolution FROM (VALUES {}) AS v \
                 CROSS JOIN articles AS a ON a.id = (SELECT s.id FROM provisional_keys AS k \
                   CROSS JOIN articles AS s ON s.id = k.article_id \
                   WHERE k.fresh IN ({tiers}) AND k.provisional_hash = v.column4 \
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
    }
    Ok(stories)
}

/// Creates the unresolved articles of `new`; their ids in order. Their
/// identity until the link resolves is `gn:<article id>`: unique and short,
/// and new keys come last in the `url_key` index (the Google id, ~300 random
/// bytes, took each new article at a scattered leaf page of it). The ids are
/// the next free ones, as SQLite would choose them: this connection is the
/// only writer and holds the transaction.
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
             SELECT v.column1, v.column2, 'gn:' || v.column1, v.column3, v.column4, v.column5, v.column6, \
               v.column7, v.column8, v.column9, v.column9, 'unresolved', v.column10, v.column11 \
             FROM (VALUES {}) AS v WHERE v.column1 IS NOT NULL",
            placeholders(size, 11)
        );
        let mut q = sqlx::query(&sql);
        let mut ids_iter = ids.iter();
        for r in padded_rows {
            let e = r.map(|r| r.entry);
            q = q
                .bind(r.and_then(|_| ids_iter.next()))
                .bind(e.and_then(|e| e.link.as_deref()))
                .bind(e.and_then(|e| e.title.as_deref()))
                .bind(e.and_then(|e| e.summary.as_deref()))
                .bind(e.and_then(|e| e.publisher.as_deref()))
                .bind(e.and_then(|e| e.publisher_url.as_deref()))
                .bind(e.map(|e| serde_json::to_string(&e.authors).unwrap_or_else(|_| "[]".into())))
                .bind(e.and_then(|e| e.published_at.map(ts)))
                .bind(r.map(|r| r.now))
                .bind(r.and_then(|r| r.google.provisional_key.as_deref()))
                .bind(r.and_then(|r| r.provisional_hash));
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
                .bind(link.map(|l| l.status))
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
                .bind(r.map(|r| &r.entry.entry_key))
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
        status: "decoded",
        publisher_url: item.entry.url.as_deref(),
    };
    insert_links(conn, &[link], LinkIds::MaybeLinked).await
}

impl Store {
    /// Links due for a lookup, oldest first. `signed` selects those whose
    /// article-page signature is already held (ready to POST) or not. A link
    /// whose provisional sibling already holds a signature comes last: once
    /// the sibling resolves, it joins the story without a GET.
    pub async fn pending_google_links(
        &self,
        now: DateTime<Utc>,
        signed: bool,
        limit: i64,
    ) -> Result<Vec<PendingLink>> {
        Ok(sqlx::query_as(
            "SELECT g.google_id, g.article_id, g.hl, g.gl, g.ceid, g.signature, g.sig_timestamp, g.attempts \
             FROM google_links g \
             WHERE g.status = 'pending' AND g.next_try_at <= ?1 AND (g.signature IS NOT NULL) = ?2 \
             ORDER BY EXISTS (SELECT 1 FROM google_links s WHERE s.article_id = g.article_id \
                 AND s.google_id != g.google_id AND s.signature IS NOT NULL AND s.status = 'pending'), \
               g.first_seen_at, g.google_id LIMIT ?3",
        )
        .bind(ts(now))
        .bind(signed)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn google_link(&self, google_id: &str) -> Result<Option<(String, Option<String>)>> {
        Ok(sqlx::query_as(&format!(
            "SELECT status, publisher_url FROM google_links WHERE {}",
            by_google_id(1, 2)
        ))
        .bind(key_hash(google_id))
        .bind(google_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn save_signature(
        &self,
        google_id: &str,
        signature: &str,
        timestamp: i64,
    ) -> Result<()> {
        sqlx::query(&format!(
            "UPDATE google_links SET signature = ?2, sig_timestamp = ?3 WHERE {}",
            by_google_id(4, 1)
        ))
        .bind(google_id)
        .bind(signature)
        .bind(timestamp)
        .bind(key_hash(google_id))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// A failed lookup: retried later with exponential backoff, marked failed
    /// after `max_attempts`. The article keeps its Google link meanwhile.
    pub async fn fail_google_link(
        &self,
        google_id: &str,
        error: &str,
        now: DateTime<Utc>,
        retry_base: std::time::Duration,
        max_attempts: i64,
        drop_signature: bool,
    ) -> Result<()> {
        let id_hash = key_hash(google_id);
        let attempts: i64 = sqlx::query_scalar(&format!(
            "SELECT attempts FROM google_links WHERE {}",
            by_google_id(1, 2)
        ))
        .bind(id_hash)
        .bind(google_id)
        .fetch_optional(&self.pool)
        .await?
        .unwrap_or(0)
            + 1;
        let delay = retry_base.as_secs_f64() * 2f64.powi((attempts - 1).clamp(0, 20) as i32);
        let next = now + chrono::Duration::seconds(delay.min(7.0 * 86400.0) as i64);
        let status = if attempts >= max_attempts {
            "failed"
        } else {
            "pending"
        };
        sqlx::query(&format!(
            "UPDATE google_links SET attempts = ?2, last_error = ?3, next_try_at = ?4, status = ?5, \
             signature = CASE WHEN ?6 THEN NULL ELSE signature END, \
             sig_timestamp = CASE WHEN ?6 THEN NULL ELSE sig_timestamp END \
             WHERE {}",
            by_google_id(7, 1)
        ))
        .bind(google_id)
        .bind(attempts)
        .bind(error)
        .bind(ts(next))
        .bind(status)
        .bind(drop_signature)
        .bind(id_hash)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// A link resolved to its publisher URL: the one dedupe merge runs with
    /// the new identity. A provisional article takes it (merging into any
    /// article that already holds it); an article that already resolved to
    /// another URL gives this link's items up to their own article (a split).
    /// Returns the article id the link ends up on.
    pub async fn resolve_google_link(
        &self,
        google_id: &str,
        publisher_url: &str,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        let key = CanonicalUrl::parse(publisher_url).map_err(|e| {
            super::StoreError::Query(format!("publisher URL {publisher_url:?}: {e}"))
        })?;
        let fetch_url = url::Url::parse(publisher_url)
            .map(|u| crate::domain::strip_tracking(&u).to_string())
            .unwrap_or_else(|_| publisher_url.to_owned());
        let id_hash = key_hash(google_id);
        let mut tx = self.begin_write().await?;
        let Some(article_id) = sqlx::query_scalar::<_, i64>(&format!(
            "SELECT article_id FROM google_links WHERE {}",
            by_google_id(1, 2)
        ))
        .bind(id_hash)
        .bind(google_id)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Err(super::StoreError::Query(format!(
                "unknown Google id {google_id}"
            )));
        };
        sqlx::query(&format!(
            "UPDATE google_links SET status = 'resolved', publisher_url = ?2, resolved_at = ?3, \
             last_error = NULL WHERE {}",
            by_google_id(4, 1)
        ))
        .bind(google_id)
        .bind(publisher_url)
        .bind(ts(now))
        .bind(id_hash)
        .execute(&mut *tx)
        .await?;
        let (current_key, resolution): (String, Option<String>) =
            sqlx::query_as("SELECT url_key, resolution FROM articles WHERE id = ?")
                .bind(article_id)
                .fetch_one(&mut *tx)
                .await?;
        let survivor = if resolution.as_deref() == Some("unresolved") {
            let survivor =
                assign_identity_in(&mut tx, article_id, key.as_str(), &fetch_url).await?;
            sqlx::query("UPDATE articles SET resolution = 'resolved' WHERE id = ?")
                .bind(survivor)
                .execute(&mut *tx)
                .await?;
            // Provisional siblings that have not spent a GET yet now join a
            // resolved story, as later items of it do: no lookup of their own.
            // Siblings already holding a signature are still resolved (and
            // split off if they turn out to be another article).
            sqlx::query(
                "UPDATE google_links SET status = 'joined', last_error = NULL \
                 WHERE article_id = ? AND status = 'pending' AND signature IS NULL",
            )
            .bind(survivor)
            .execute(&mut *tx)
            .await?;
            survivor
        } else if current_key == key.as_str() {
            article_id
        } else {
            split_link(
                &mut tx,
                google_id,
                article_id,
                key.as_str(),
                &fetch_url,
                now,
            )
            .await?
        };
        super::fulltext::enqueue_in(&mut tx, survivor, &ts(now)).await?;
        tx.commit().await?;
        Ok(survivor)
    }

    pub async fn google_budget(&self) -> Result<Budget> {
        let (open_until, last_get_at): (Option<String>, Option<String>) =
            sqlx::query_as("SELECT open_until, last_get_at FROM google_budget WHERE id = 1")
                .fetch_one(&self.pool)
                .await?;
        Ok(Budget {
            open_until: open_until.as_deref().and_then(parse_ts),
            last_get_at: last_get_at.as_deref().and_then(parse_ts),
        })
    }

    /// Opens the breaker: no Google lookups until `until`.
    pub async fn trip_google_breaker(
        &self,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE google_budget SET open_until = ?1, trips = trips + 1, last_trip_at = ?2 WHERE id = 1",
        )
        .bind(ts(until))
        .bind(ts(now))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn count_google_request(&self, get: bool, now: DateTime<Utc>) -> Result<()> {
        let sql = if get {
            "UPDATE google_budget SET gets_total = gets_total + 1, last_get_at = ? WHERE id = 1"
        } else {
            "UPDATE google_budget SET posts_total = posts_total + 1 WHERE id = 1 AND ? IS NOT NULL"
        };
        sqlx::query(sql).bind(ts(now)).execute(&self.writer).await?;
        Ok(())
    }

    pub async fn google_queue_stats(&self) -> Result<GoogleQueueStats> {
        let counts: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT status, COUNT(*), COALESCE(SUM(signature IS NOT NULL), 0) FROM google_links GROUP BY status",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut s = GoogleQueueStats::default();
        for (status, n, signed) in counts {
            match status.as_str() {
                "pending" => {
                    s.pending = n;
                    s.pending_signed = signed;
                }
                "resolved" => s.resolved = n,
                "decoded" => s.decoded = n,
                "joined" => s.joined = n,
                _ => s.failed += n,
            }
        }
        let (open_until, trips, last_get_at, gets, posts): (
            Option<String>,
            i64,
            Option<String>,
            i64,
            i64,
        ) = sqlx::query_as(
            "SELECT open_until, trips, last_get_at, gets_total, posts_total FROM google_budget WHERE id = 1",
        )
        .fetch_one(&self.pool)
        .await?;
        s.breaker_open_until = open_until;
        s.breaker_trips = trips;
        s.last_get_at = last_get_at;
        s.gets_total = gets;
        s.posts_total = posts;
        Ok(s)
    }
}

/// Moves one Google link's items from `from` to the article holding `key`
/// (created as a copy of `from` when none does).
async fn split_link(
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

#[cfg(test)]
mod tests {
    use super::super::test_support::temp_store;
    use super::{
        key_hash, link_names_id, merge_fresh_slice, settle_keys, Bloom, KeyTable, FRESH_KEYS_LIMIT,
        KEY_TABLES, MERGE_SLICE,
    };
    use std::time::Instant;

    #[test]
    fn a_link_names_the_google_id_in_its_path_and_no_other() {
        let id = "CBMiK2h0dHBzOi8vbmV3cy5leGFtcGxlL2Evb25l0gEA";
        for link in [
            format!("https://news.google.com/rss/articles/{id}?oc=5"),
            format!("http://127.0.0.1:8080/articles/{id}"),
            format!("https://news.google.com/__i/rss/rd/articles/{id}?hl=en-US&gl=US"),
        ] {
            assert!(link_names_id(&link, id), "{link}");
        }
        for link in [
            format!("https://news.google.com/rss/articles/{id}x?oc=5"),
            format!("https://news.google.com/rss/articles/x{id}"),
            format!("https://news.google.com/rss/articles/other?id={id}"),
            format!("not a url {id}"),
        ] {
            assert!(!link_names_id(&link, id), "{link}");
        }
    }

    #[test]
    fn a_key_filter_holds_every_hash_it_was_given_and_few_others() {
        let mut filter = Bloom::with_room_for(100_000);
        let given: Vec<i64> = (0..100_000)
            .map(|i| key_hash(&format!("given {i}")))
            .collect();
        for &h in &given {
            filter.insert(h);
        }
        assert!(given.iter().all(|&h| filter.may_contain(h)));
        let others = (0..100_000)
            .filter(|i| filter.may_contain(key_hash(&format!("other {i}"))))
            .count();
        // Ten bits a key and three probes: ~1 %.
        assert!(others < 2_000, "{others} of 100,000 absent hashes passed");
        assert!(!filter.over_capacity());
        for i in 0..110_000 {
            filter.insert(key_hash(&format!("more {i}")));
        }
        assert!(filter.over_capacity());
    }

    async fn keys(store: &super::Store, fresh: i64) -> Vec<(i64, i64)> {
        sqlx::query_as(
            "SELECT id_hash, article_id FROM google_link_keys WHERE fresh = ? ORDER BY 1, 2",
        )
        .bind(fresh)
        .fetch_all(&store.pool)
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn a_full_fresh_tier_settles_in_slices_lowest_hashes_first_and_loses_no_key() {
        let (store, _d) = temp_store().await;
        let mut all: Vec<(i64, i64)> = vec![(i64::MIN, 1), (-5, 2), (-5, 3), (0, 4), (7, 5)];
        all.extend([(9, 6), (100, 7), (i64::MAX, 8), (i64::MAX, 9), (42, 10)]);
        for (hash, article) in &all {
            sqlx::query(
                "INSERT INTO google_link_keys (fresh, id_hash, article_id) VALUES (1, ?, ?)",
            )
            .bind(hash)
            .bind(article)
            .execute(&store.writer)
            .await
            .unwrap();
        }
        all.sort();
        assert_eq!(
            settle_keys(&store.writer, &store.settled, 11, 3)
                .await
                .unwrap(),
            0
        );
        assert_eq!(keys(&store, 1).await, all);

        let mut tx = store.writer.begin().await.unwrap();
        assert_eq!(
            merge_fresh_slice(&mut tx, &store.settled, KEY_TABLES[0], 3)
                .await
                .unwrap(),
            3
        );
        tx.commit().await.unwrap();
        assert_eq!(keys(&store, 0).await, all[..3]);

        assert_eq!(
            settle_keys(&store.writer, &store.settled, 7, 3)
                .await
                .unwrap(),
            7
        );
        assert_eq!(keys(&store, 0).await, all);
        assert!(keys(&store, 1).await.is_empty());
    }

    /// How long a merge holds the write lock on a large archive: ten
    /// million settled keys and a full fresh tier in each key table, merged
    /// in one transaction and in slices.
    /// `cargo test --release --lib merge_on_ten_million -- --ignored --nocapture`
    #[tokio::test(flavor = "multi_thread")]
    #[ignore = "builds a 400 MB database twice; run by hand (BENCHMARKS.md)"]
    async fn merge_on_ten_million_settled_keys() {
        let settled: i64 = std::env::var("MERGE_SETTLED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10_000_000);
        for slice in [FRESH_KEYS_LIMIT, MERGE_SLICE] {
            let (store, _d) = temp_store().await;
            for t in KEY_TABLES {
                let KeyTable { table, hash, .. } = t;
                // Settled keys evenly over the hash space, inserted in
                // order; fresh keys at random.
                sqlx::query(&format!(
                    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?1) \
                     INSERT INTO {table} (fresh, {hash}, article_id) \
                     SELECT 0, (x - ?1 / 2) * (9223372036854775807 / ?1) * 2, x FROM c"
                ))
                .bind(settled)
                .execute(&store.writer)
                .await
                .unwrap();
                sqlx::query(&format!(
                    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?1) \
                     INSERT INTO {table} (fresh, {hash}, article_id) SELECT 1, random(), ?2 + x FROM c"
                ))
                .bind(FRESH_KEYS_LIMIT)
                .bind(settled)
                .execute(&store.writer)
                .await
                .unwrap();
            }
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&store.writer)
                .await
                .unwrap();
            // How long the poll writer's first group after start waits
            // while the filters are filled from the settled tiers.
            let mut conn = store.writer.acquire().await.unwrap();
            let started = Instant::now();
            for t in KEY_TABLES {
                let filter = Bloom::load(&mut conn, t).await.unwrap();
                assert_eq!(filter.keys as i64, settled);
            }
            println!(
                "{settled} settled keys per table: both key filters filled in {:?}",
                started.elapsed()
            );
            drop(conn);
            let started = Instant::now();
            let merged = settle_keys(&store.writer, &store.settled, FRESH_KEYS_LIMIT, slice)
                .await
                .unwrap();
            let took = started.elapsed();
            // Slices that move keys; each table's last one finds none left.
            let slices = 2 * ((FRESH_KEYS_LIMIT + slice - 1) / slice);
            println!(
                "{settled} settled keys per table, {merged} merged in slices of {slice}: \
                 {took:?}, ~{:?} of write lock per slice",
                took / slices as u32
            );
            assert_eq!(merged as i64, 2 * FRESH_KEYS_LIMIT);
            let left: i64 = sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM google_link_keys WHERE fresh = 1) \
                      + (SELECT COUNT(*) FROM provisional_keys WHERE fresh = 1)",
            )
            .fetch_one(&store.pool)
            .await
            .unwrap();
            assert_eq!(left, 0);
        }
    }

    #[test]
    fn the_id_hash_is_the_first_eight_bytes_of_sha256_little_endian() {
        // SHA-256("abc") = ba7816bf 8f01cfea ...: databases hold these
        // hashes, so the function may never change.
        assert_eq!(key_hash("abc"), 0xeacf_018f_bf16_78ba_u64 as i64);
        assert_eq!(key_hash("abc"), -1527000031757436742);
    }
}
