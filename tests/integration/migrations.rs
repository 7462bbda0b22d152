//! Schema migrations: from an empty database, and from the schema after each
//! earlier migration holding data, the remaining migrations apply at start
//! (`Store::open`) and the data survives, searchable.

use std::borrow::Cow;
use std::time::Duration;

use newsd::domain::EntryKey;
use newsd::store::{
    ArticleFilter, ArticleSearch, ItemText, LinkStatus, SearchOrder, Store, MIGRATOR,
};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::SqlitePool;

/// A migrator holding only the first `n` migrations. sqlx has no "migrate to
/// version N", and `Migrator`'s fields are public (though semver-exempt):
/// this is the one place that builds one by hand.
fn first_migrations(n: usize) -> Migrator {
    Migrator {
        migrations: Cow::Owned(MIGRATOR.iter().take(n).cloned().collect()),
        ignore_missing: false,
        locking: true,
        no_tx: false,
    }
}

async fn pool(path: &std::path::Path) -> SqlitePool {
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .foreign_keys(true);
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await
        .expect("open scratch database")
}

/// Rows a database at `version` may hold: core rows from 0001 on, Google
/// rows from 0002 on. Versions added later get their own arm.
async fn seed(pool: &SqlitePool, version: i64) {
    if version >= 1 {
        for sql in [
            "INSERT INTO feeds (id, url, fetch_url, name, origin, next_poll_at, created_at, updated_at, etag) \
             VALUES (7, 'https://old.example/rss', 'https://old.example/rss', 'Old feed', 'cli', \
                     '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', '\"v1\"')",
            "INSERT INTO articles (id, url, url_key, title, summary, publisher, authors, published_at, first_seen_at, updated_at) \
             VALUES (11, 'https://old.example/a/1', 'old.example/a/1', 'Migrated headline 移行', 'Summary kept', \
                     'Old Publisher', '[\"Ann\"]', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
            "INSERT INTO feed_items (feed_id, entry_key, article_id, guid, link, first_seen_at, last_seen_at) \
             VALUES (7, 'id:g1', 11, 'g1', 'https://old.example/a/1?utm_source=rss', \
                     '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
            "INSERT INTO articles (id, url, url_key, title, summary, authors, first_seen_at, updated_at) \
             VALUES (13, 'https://old.example/a/2', 'old.example/a/2', 'Latin only headline', 'Nothing else', \
                     '[]', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
        ] {
            sqlx::query(sql).execute(pool).await.expect("seed 0001 rows");
        }
        sqlx::query(
            "INSERT INTO feed_items (feed_id, entry_key, article_id, guid, link, first_seen_at, last_seen_at) \
             VALUES (7, ?1, 13, ?2, 'https://old.example/a/2', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
        )
        .bind(format!("id:{}", long_guid()))
        .bind(long_guid())
        .execute(pool)
        .await
        .expect("seed a feed item keyed by a long guid");
    }
    if version >= 6 {
        sqlx::query(
            "INSERT INTO tombstones (kind, feed_id, key, pruned_at) \
             VALUES ('entry', 7, ?1, '2026-01-06T00:00:00Z')",
        )
        .bind(format!("id:{}", long_guid().to_lowercase()))
        .execute(pool)
        .await
        .expect("seed an entry tombstone keyed by a long guid");
    }
    if version >= 2 {
        for sql in [
            "INSERT INTO articles (id, url, url_key, title, first_seen_at, updated_at, resolution, provisional_key) \
             VALUES (12, NULL, 'google:CBMiX', 'Pending Google story', '2026-01-02T00:00:00Z', \
                     '2026-01-02T00:00:00Z', 'unresolved', 'pending google story|pub.example')",
            "INSERT INTO feed_items (feed_id, entry_key, article_id, guid, link, first_seen_at, last_seen_at) \
             VALUES (7, 'id:CBMiX', 12, 'CBMiX', 'https://news.google.com/rss/articles/CBMiX', \
                     '2026-01-02T00:00:00Z', '2026-01-02T00:00:00Z')",
            "INSERT INTO google_links (google_id, article_id, hl, gl, ceid, status, next_try_at, first_seen_at) \
             VALUES ('CBMiX', 12, 'en-US', 'US', 'US:en', 'pending', '2026-01-02T00:00:00Z', '2026-01-02T00:00:00Z')",
            "INSERT INTO story_hints (article_id, url, title, source) \
             VALUES (12, 'https://news.google.com/rss/articles/CBMiY', 'Related', 'Other')",
        ] {
            sqlx::query(sql).execute(pool).await.expect("seed 0002 rows");
        }
    }
    if version >= 2 {
        // One budget row until 0022, then one per egress.
        let row = if version >= 22 {
            "egress = 'default'"
        } else {
            "id = 1"
        };
        sqlx::query(&format!(
            "UPDATE google_budget SET gets_total = 42, open_until = '2026-01-02T01:00:00Z' WHERE {row}"
        ))
        .execute(pool)
        .await
        .expect("seed the Google budget");
    }
    if (2..16).contains(&version) {
        // Items kept a copy of their Google id until 0016.
        sqlx::query("UPDATE feed_items SET google_id = 'CBMiX' WHERE entry_key = 'id:CBMiX'")
            .execute(pool)
            .await
            .expect("seed the item's Google id");
    }
    if version >= 3 {
        sqlx::query(
            "INSERT INTO articles (id, url, url_key, title, summary, authors, first_seen_at, updated_at, lang) \
             VALUES (14, 'https://old.example/a/3', 'old.example/a/3', 'Tagged headline', 'In British English', \
                     '[]', '2026-01-03T00:00:00Z', '2026-01-03T00:00:00Z', 'en-GB')",
        )
        .execute(pool)
        .await
        .expect("seed 0003 rows");
    }
}

/// A guid too long to be an entry key as it is (migration 0015).
fn long_guid() -> String {
    format!("CBMi{}", "Q".repeat(90))
}

/// The seeded rows of `version` are all there and the article is searchable.
async fn check_survived(store: &Store, seeded_version: i64) {
    // Rows written since 0004 reach the search indexes in batches, as the
    // daemon does after each round.
    store.index_pending().await.expect("index");
    let p = store.pool();
    let count = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(p)
            .await
            .expect("count query")
    };
    if seeded_version >= 1 {
        let (name, etag): (String, String) =
            sqlx::query_as("SELECT name, etag FROM feeds WHERE id = 7")
                .fetch_one(p)
                .await
                .expect("feed survived");
        assert_eq!((name.as_str(), etag.as_str()), ("Old feed", "\"v1\""));
        let (title, authors): (String, String) =
            sqlx::query_as("SELECT title, authors FROM articles WHERE url_key = 'old.example/a/1'")
                .fetch_one(p)
                .await
                .expect("article survived");
        assert_eq!(title, "Migrated headline 移行");
        assert_eq!(authors, "[\"Ann\"]");
        assert_eq!(
            count("SELECT COUNT(*) FROM feed_items WHERE feed_id = 7 AND entry_key = 'id:g1' AND article_id = 11").await,
            1
        );
        // 0015 keys long guids by hash; the store rewrites the old keys.
        let long_key = EntryKey::derive(Some(&long_guid()), None, None, None).expect("key");
        let (key, guid): (String, String) =
            sqlx::query_as("SELECT entry_key, guid FROM feed_items WHERE article_id = 13")
                .fetch_one(p)
                .await
                .expect("the long-guid feed item survived");
        assert_eq!((key.as_str(), guid), (long_key.as_str(), long_guid()));
        assert_eq!(
            count("SELECT COUNT(*) FROM articles_fts WHERE articles_fts MATCH 'migrated'").await,
            1,
            "the word index still finds the old article"
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM articles_fts WHERE articles_fts MATCH 'headline'").await,
            if seeded_version >= 3 { 3 } else { 2 }
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM articles_trigram WHERE articles_trigram MATCH 'headline'")
                .await,
            1,
            "the trigram index keeps only the article with Japanese in it (migration 0007)"
        );
    }
    if seeded_version >= 1 {
        // Listings and searches filter by language and time through the
        // indexes of migration 0009.
        let by_lang = ArticleFilter {
            lang: Some("en".into()),
            ..Default::default()
        };
        let tagged: Vec<i64> = store
            .list_articles(&by_lang, None, 10, ItemText::Flag)
            .await
            .expect("list by language")
            .iter()
            .map(|a| a.id)
            .collect();
        let expected: Vec<i64> = if seeded_version >= 3 {
            vec![14]
        } else {
            vec![]
        };
        assert_eq!(tagged, expected);
        let since = ArticleFilter {
            since: chrono::DateTime::parse_from_rfc3339("2025-12-31T00:00:00Z")
                .ok()
                .map(|t| t.to_utc()),
            ..Default::default()
        };
        let search = ArticleSearch {
            text: "headline".into(),
            order: SearchOrder::Newest,
            item_text: ItemText::Flag,
        };
        let found: Vec<i64> = store
            .search_articles(&search, &since, None, i64::MAX, 10)
            .await
            .expect("search since")
            .iter()
            .map(|a| a.id)
            .collect();
        let expected: Vec<i64> = if seeded_version >= 3 {
            vec![14, 13, 11]
        } else {
            vec![13, 11]
        };
        assert_eq!(found, expected);
    }
    store
        .check_search_indexes()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    if seeded_version >= 6 {
        let pruned =
            EntryKey::derive(Some(&long_guid().to_lowercase()), None, None, None).expect("key");
        let keys: Vec<String> =
            sqlx::query_scalar("SELECT key FROM tombstones WHERE kind = 'entry' AND feed_id = 7")
                .fetch_all(p)
                .await
                .expect("entry tombstones");
        assert_eq!(keys, vec![pruned.as_str()]);
    }
    if seeded_version >= 2 {
        assert_eq!(
            count("SELECT COUNT(*) FROM google_links WHERE google_id = 'CBMiX' AND status = 'pending' AND article_id = 12").await,
            1
        );
        assert_eq!(count("SELECT COUNT(*) FROM story_hints").await, 1);
        // 0016 drops the item's copy of the id; its link still names it, and
        // the article's detail still shows it.
        assert_eq!(
            count("SELECT COUNT(*) FROM feed_items WHERE article_id = 12 AND link = 'https://news.google.com/rss/articles/CBMiX'").await,
            1
        );
        let detail = store
            .article_detail(12)
            .await
            .expect("article detail")
            .expect("the Google article");
        assert_eq!(
            detail
                .feeds
                .iter()
                .map(|f| f.google_id.as_deref())
                .collect::<Vec<_>>(),
            [Some("CBMiX")]
        );
        if seeded_version < 11 {
            // 0011 gives hints the Google id of their link, and opening the
            // store after 0012 its hash.
            assert_eq!(
                count("SELECT COUNT(*) FROM story_hints WHERE google_id = 'CBMiY' AND google_hash IS NOT NULL").await,
                1
            );
        }
        // 0012 finds links by a hash of their id, which the store fills in
        // for the rows it copied.
        assert_eq!(
            store
                .google_link("CBMiX")
                .await
                .expect("google link lookup"),
            Some((LinkStatus::Pending, None)),
            "the link of an older schema is found by its id"
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM google_links WHERE id_hash IS NULL").await,
            0
        );
        // 0013 looks provisional keys up by their hash too.
        assert_eq!(
            count("SELECT COUNT(*) FROM articles WHERE provisional_key IS NOT NULL AND provisional_hash IS NOT NULL").await,
            1
        );
        // 0014 finds both hashes through key tables, whether the rows were
        // hashed before it or by the store after it.
        assert_eq!(
            count("SELECT COUNT(*) FROM google_link_keys k JOIN google_links g ON g.article_id = k.article_id AND g.id_hash = k.id_hash").await,
            1
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM provisional_keys k JOIN articles a ON a.id = k.article_id AND a.provisional_hash = k.provisional_hash").await,
            1
        );
        assert_eq!(count("SELECT COUNT(*) FROM google_budget").await, 1);
        // 0022: the one budget of before is the `default` egress's.
        assert_eq!(
            count("SELECT gets_total FROM google_budget WHERE egress = 'default' AND open_until = '2026-01-02T01:00:00Z'").await,
            42
        );
    }
    assert_eq!(store.integrity_check().await.expect("integrity"), "ok");
    let fk: Vec<(String,)> = sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
        .fetch_all(p)
        .await
        .expect("foreign key check");
    assert!(fk.is_empty(), "foreign key violations: {fk:?}");
}

#[tokio::test]
async fn every_earlier_schema_with_data_migrates_to_the_latest_and_keeps_its_data() {
    let total = MIGRATOR.iter().count();
    assert!(total >= 2);
    let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or_default();
    for applied in 0..=total {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("old.db");
        let version = MIGRATOR
            .iter()
            .take(applied)
            .map(|m| m.version)
            .max()
            .unwrap_or(0);
        {
            let old = pool(&path).await;
            // One migration at a time, as successive releases applied them.
            for n in 1..=applied {
                first_migrations(n)
                    .run(&old)
                    .await
                    .unwrap_or_else(|e| panic!("migration {n} on its own: {e}"));
            }
            seed(&old, version).await;
            old.close().await;
        }
        let url = format!("sqlite://{}", path.display());
        let store = Store::open(&url, Duration::from_secs(5))
            .await
            .unwrap_or_else(|e| panic!("migrating from version {version}: {e}"));
        store
            .check_schema_version()
            .await
            .unwrap_or_else(|e| panic!("from version {version}: {e}"));
        let versions: Vec<i64> = sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success = 1 ORDER BY version",
        )
        .fetch_all(store.pool())
        .await
        .expect("applied versions");
        assert_eq!(versions.last().copied(), Some(latest));
        assert_eq!(versions.len(), total);
        check_survived(&store, version).await;
        // New data goes in through the migrated schema too.
        seed_latest_write(&store).await;
        store.close().await;
        // And opening again is a no-op.
        let again = Store::open(&url, Duration::from_secs(5))
            .await
            .expect("reopen");
        check_survived(&again, version).await;
        again.close().await;
    }
}

async fn seed_latest_write(store: &Store) {
    sqlx::query(
        "INSERT INTO articles (url, url_key, title, first_seen_at, updated_at) \
         VALUES ('https://new.example/1', 'new.example/1', 'Fresh after migration', '2026-02-01T00:00:00Z', '2026-02-01T00:00:00Z')",
    )
    .execute(store.pool())
    .await
    .expect("write to the migrated schema");
    store.index_pending().await.expect("index");
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM articles_fts WHERE articles_fts MATCH 'fresh'")
            .fetch_one(store.pool())
            .await
            .expect("search");
    assert_eq!(n, 1);
}

/// sqlx refuses to open an archive whose applied migrations changed since
/// ("migration 1 was previously applied but has been modified"), so a
/// migration, once committed, is never edited: a change is a new file. The
/// checksums of every migration of both engines are pinned here.
#[test]
fn no_committed_migration_of_either_engine_is_ever_edited() {
    use sha2::{Digest, Sha256};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let pinned_file = root.join("tests/fixtures/migration-checksums.txt");
    let pinned: std::collections::BTreeMap<String, String> = std::fs::read_to_string(&pinned_file)
        .expect("read the pinned checksums")
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(sum, path)| (path.to_owned(), sum.to_owned()))
        .collect();
    let mut seen = 0;
    for engine in ["sqlite", "postgres"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join("migrations").join(engine))
            .expect("read the migrations")
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        for file in files {
            let path = format!(
                "migrations/{engine}/{}",
                file.file_name().unwrap().to_string_lossy()
            );
            let sum: String = Sha256::digest(std::fs::read(&file).unwrap())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            match pinned.get(&path) {
                Some(p) => assert_eq!(p, &sum, "{path} was edited: archives that applied it can no longer open; put the change in a new migration"),
                None => panic!("{path} is new: add `{sum} {path}` to {}", pinned_file.display()),
            }
            seen += 1;
        }
    }
    assert_eq!(seen, pinned.len(), "a pinned migration is gone: {pinned:?}");
}
