//! Backfills a writer runs at open, after the migrations: work a
//! migration could not do in SQL, each a no-op once done.

use sqlx::SqlitePool;

use super::keys::key_hash;
use crate::domain::EntryKey;
use crate::store::error::Result;

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

pub(super) fn long_items_sql() -> String {
    format!(
        "SELECT id, entry_key FROM feed_items WHERE {} AND id > ? ORDER BY id LIMIT 5000",
        long_key("entry_key")
    )
}

pub(super) fn long_tombstones_sql() -> String {
    format!(
        "SELECT feed_id, key FROM tombstones INDEXED BY tombstones_long_keys \
         WHERE kind = 'entry' AND {} \
         AND (feed_id, key) > (?, ?) ORDER BY feed_id, key LIMIT 5000",
        long_key("key")
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
