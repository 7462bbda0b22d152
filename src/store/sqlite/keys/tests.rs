use std::time::Instant;

use super::{
    key_hash, merge_fresh_slice, settle_keys, KeyTable, FRESH_KEYS_LIMIT, KEY_TABLES, MERGE_SLICE,
};
use crate::store::testing::temp_sqlite;

async fn keys(store: &super::super::SqliteStore, fresh: i64) -> Vec<(i64, i64)> {
    sqlx::query_as("SELECT id_hash, article_id FROM google_link_keys WHERE fresh = ? ORDER BY 1, 2")
        .bind(fresh)
        .fetch_all(&store.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_full_fresh_tier_settles_in_slices_lowest_hashes_first_and_loses_no_key() {
    let (store, _d) = temp_sqlite().await;
    let mut all: Vec<(i64, i64)> = vec![(i64::MIN, 1), (-5, 2), (-5, 3), (0, 4), (7, 5)];
    all.extend([(9, 6), (100, 7), (i64::MAX, 8), (i64::MAX, 9), (42, 10)]);
    for (hash, article) in &all {
        sqlx::query("INSERT INTO google_link_keys (fresh, id_hash, article_id) VALUES (1, ?, ?)")
            .bind(hash)
            .bind(article)
            .execute(&store.writer)
            .await
            .unwrap();
    }
    all.sort();
    assert_eq!(settle_keys(&store.writer, 11, 3).await.unwrap(), 0);
    assert_eq!(keys(&store, 1).await, all);

    let mut tx = store.writer.begin().await.unwrap();
    assert_eq!(
        merge_fresh_slice(&mut tx, KEY_TABLES[0], 3).await.unwrap(),
        3
    );
    tx.commit().await.unwrap();
    assert_eq!(keys(&store, 0).await, all[..3]);

    assert_eq!(settle_keys(&store.writer, 7, 3).await.unwrap(), 7);
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
        let (store, _d) = temp_sqlite().await;
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
        let started = Instant::now();
        let merged = settle_keys(&store.writer, FRESH_KEYS_LIMIT, slice)
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
