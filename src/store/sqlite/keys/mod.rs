//! Lookup keys: Google ids and provisional keys are long and random, so
//! the archive finds them by a 64-bit hash kept in two tiers (migration
//! 0014): new keys go to a small fresh tier that every commit may touch,
//! and are moved into the large settled tier in hash order once enough
//! have gathered, so that a commit never scatters writes over the settled
//! tier's pages.

use sqlx::{SqliteConnection, SqlitePool};

use crate::store::error::Result;

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

/// The condition that finds the link of a Google id (`?hash`: its
/// `key_hash`, `?id`: the id) through `google_link_keys` (migration 0014).
pub(super) fn by_google_id(hash: u8, id: u8) -> String {
    format!(
        "article_id IN (SELECT article_id FROM google_link_keys \
           WHERE fresh IN (0, 1) AND id_hash = ?{hash}) AND google_id = ?{id}"
    )
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

/// A table of lookup keys (migration 0014) and its hash column.
#[derive(Debug, Clone, Copy)]
pub(super) struct KeyTable {
    pub table: &'static str,
    pub hash: &'static str,
}

pub(super) const KEY_TABLES: [KeyTable; 2] = [
    KeyTable {
        table: "google_link_keys",
        hash: "id_hash",
    },
    KeyTable {
        table: "provisional_keys",
        hash: "provisional_hash",
    },
];

/// Moves each key table's fresh tier into its settled tier, in hash order
/// (migration 0014 tells why), once it holds at least `limit` keys: `slice`
/// keys per transaction, so other writers get the lock in between. How many
/// keys moved.
pub(super) async fn settle_keys(writer: &SqlitePool, limit: i64, slice: i64) -> Result<u64> {
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
            let moved = merge_fresh_slice(&mut tx, t, slice).await?;
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
pub(super) async fn merge_fresh_slice(
    conn: &mut SqliteConnection,
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
    sqlx::query(&format!(
        "INSERT OR IGNORE INTO {table} (fresh, {hash}, article_id) \
         SELECT 0, {hash}, article_id FROM {table} WHERE {range} ORDER BY {hash}, article_id"
    ))
    .bind(upto)
    .bind(max)
    .execute(&mut *conn)
    .await?;
    let moved = sqlx::query(&format!("DELETE FROM {table} WHERE {range}"))
        .bind(upto)
        .bind(max)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(moved)
}

#[cfg(test)]
mod tests;
