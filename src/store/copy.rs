//! `newsd copy`: the archive moved to another database, table by table in
//! id order, in batches that each commit with their high-water mark, so an
//! interrupted copy resumes where it stopped. This file is engine-neutral
//! (which tables and columns, in which order, the bookkeeping, the check);
//! each engine reads and writes rows in its own `copy.rs`.
//!
//! The source is read from one snapshot (on SQLite, one read transaction for
//! the whole copy: WAL keeps it consistent while a daemon writes, and unlike
//! `VACUUM INTO` it needs no second copy of the archive on disk; the price is
//! a WAL that cannot be checkpointed past the snapshot until the copy ends).
//! A resumed copy reads a newer snapshot from its high-water marks on; rows
//! the daemon changed below a mark meanwhile are not copied again, which the
//! final check reports when counts differ.

use super::{Engine, Result, Store, StoreError};

/// The kind of a copied column, as both engines store it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Int,
    Real,
    Text,
    Blob,
    /// 0/1 on SQLite, BOOLEAN on PostgreSQL.
    Bool,
}

/// One column value in transit.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    Bool(bool),
}

impl Value {
    fn size(&self) -> usize {
        match self {
            Value::Text(s) => s.len(),
            Value::Blob(b) => b.len(),
            _ => 8,
        }
    }
}

/// How a table's rows are ordered for batches and resumption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// By this integer column (the id, or `article_id`).
    IntColumn(&'static str),
    /// By this text primary key.
    TextColumn(&'static str),
    /// By these primary-key columns (an integer, then texts); the mark is
    /// their values as a JSON array.
    Composite(&'static [&'static str]),
}

/// A copied table: its columns (those both engines have) and order.
#[derive(Debug)]
pub(crate) struct Table {
    pub name: &'static str,
    pub order: Order,
    pub columns: &'static [(&'static str, Kind)],
    /// Whether the column `id` is an identity whose sequence must move past
    /// the copied ids.
    pub identity: bool,
}

use Kind::{Blob, Bool, Int, Real, Text};

/// The data tables in foreign-key order. SQLite's derived tables (key tiers,
/// FTS5 and its bookkeeping) and hash columns are not copied: PostgreSQL
/// derives its search column and md5 indexes itself.
pub(crate) const TABLES: &[Table] = &[
    Table {
        name: "feeds",
        order: Order::IntColumn("id"),
        identity: true,
        columns: &[
            ("id", Int),
            ("url", Text),
            ("fetch_url", Text),
            ("name", Text),
            ("origin", Text),
            ("config_sig", Text),
            ("enabled", Bool),
            ("disabled_reason", Text),
            ("interval_secs", Int),
            ("last_status", Text),
            ("last_error", Text),
            ("error_count", Int),
            ("etag", Text),
            ("last_modified", Text),
            ("next_poll_at", Text),
            ("next_poll_reason", Text),
            ("retry_after_until", Text),
            ("last_polled_at", Text),
            ("last_success_at", Text),
            ("redirect_target", Text),
            ("redirect_streak", Int),
            ("ttl_secs", Int),
            ("current_interval_secs", Int),
            ("new_per_poll", Real),
            ("title", Text),
            ("site_url", Text),
            ("created_at", Text),
            ("updated_at", Text),
        ],
    },
    Table {
        name: "stories",
        order: Order::IntColumn("id"),
        identity: true,
        columns: &[
            ("id", Int),
            ("first_seen_at", Text),
            ("size", Int),
            ("title", Text),
            ("updated_at", Text),
        ],
    },
    ARTICLES,
    Table {
        name: "feed_items",
        order: Order::IntColumn("id"),
        identity: true,
        columns: &[
            ("id", Int),
            ("feed_id", Int),
            ("entry_key", Text),
            ("article_id", Int),
            ("guid", Text),
            ("link", Text),
            ("first_seen_at", Text),
            ("last_seen_at", Text),
        ],
    },
    Table {
        name: "story_hints",
        order: Order::Composite(&["article_id", "url"]),
        identity: false,
        columns: &[
            ("article_id", Int),
            ("url", Text),
            ("title", Text),
            ("source", Text),
            ("google_id", Text),
        ],
    },
    Table {
        name: "google_links",
        order: Order::TextColumn("google_id"),
        identity: false,
        columns: &[
            ("google_id", Text),
            ("article_id", Int),
            ("hl", Text),
            ("gl", Text),
            ("ceid", Text),
            ("status", Text),
            ("publisher_url", Text),
            ("attempts", Int),
            ("last_error", Text),
            ("next_try_at", Text),
            ("signature", Text),
            ("sig_timestamp", Int),
            ("first_seen_at", Text),
            ("resolved_at", Text),
            ("gets", Int),
        ],
    },
    Table {
        name: "google_budget",
        order: Order::TextColumn("egress"),
        identity: false,
        columns: &[
            ("egress", Text),
            ("open_until", Text),
            ("trips", Int),
            ("last_trip_at", Text),
            ("last_get_at", Text),
            ("gets_total", Int),
            ("posts_total", Int),
            ("pace_interval_ms", Int),
            ("pace_tokens", Real),
            ("pace_at", Text),
            ("pace_successes", Int),
            ("rate_limited_total", Int),
        ],
    },
    Table {
        name: "fulltext_jobs",
        order: Order::IntColumn("article_id"),
        identity: false,
        columns: &[
            ("article_id", Int),
            ("status", Text),
            ("attempts", Int),
            ("next_try_at", Text),
            ("lease_until", Text),
            ("last_error", Text),
            ("http_status", Int),
            ("final_url", Text),
            ("created_at", Text),
            ("updated_at", Text),
        ],
    },
    Table {
        name: "host_backoff",
        order: Order::TextColumn("host"),
        identity: false,
        columns: &[("host", Text), ("until", Text)],
    },
    Table {
        name: "robots_cache",
        order: Order::TextColumn("host"),
        identity: false,
        columns: &[("host", Text), ("body", Text), ("fetched_at", Text)],
    },
    Table {
        name: "raw_pages",
        order: Order::IntColumn("article_id"),
        identity: false,
        columns: &[
            ("article_id", Int),
            ("url", Text),
            ("content_type", Text),
            ("fetched_at", Text),
            ("body_gz", Blob),
        ],
    },
    Table {
        name: "tombstones",
        order: Order::Composite(&["kind", "feed_id", "key"]),
        identity: false,
        columns: &[
            ("kind", Text),
            ("feed_id", Int),
            ("key", Text),
            ("pruned_at", Text),
        ],
    },
];

pub(crate) const ARTICLES: Table = Table {
    name: "articles",
    order: Order::IntColumn("id"),
    identity: true,
    columns: ARTICLE_COLUMNS,
};

const ARTICLE_COLUMNS: &[(&str, Kind)] = &[
    ("id", Int),
    ("url", Text),
    ("url_key", Text),
    ("title", Text),
    ("summary", Text),
    ("text", Text),
    ("html", Text),
    ("publisher", Text),
    ("publisher_url", Text),
    ("authors", Text),
    ("published_at", Text),
    ("modified_at", Text),
    ("first_seen_at", Text),
    ("updated_at", Text),
    ("resolution", Text),
    ("provisional_key", Text),
    ("lang", Text),
    ("lead_image", Text),
    ("canonical_url", Text),
    ("site_name", Text),
    ("word_count", Int),
    ("extracted_at", Text),
    ("page_kind", Text),
    ("story_id", Int),
    ("title_simhash", Int),
    ("text_simhash", Int),
    ("cluster_due", Int),
];

/// Where a table's copy stands: the key of the last copied row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Mark {
    Start,
    Int(i64),
    Text(String),
}

/// One batch read from the source: its rows, and the mark after them.
#[derive(Debug)]
pub(crate) struct Batch {
    pub rows: Vec<Vec<Value>>,
    pub mark: Mark,
    /// Whether the table has no rows after these.
    pub end: bool,
}

/// A batch stops at this many bytes of values even when short of its row
/// count: raw pages and long articles would otherwise make batches of
/// hundreds of megabytes.
pub(crate) const BATCH_BYTES: usize = 32 << 20;

pub(crate) fn rows_size(row: &[Value]) -> usize {
    row.iter().map(Value::size).sum()
}

/// How the copy goes.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// Rows per batch (per INSERT and commit).
    pub batch: usize,
    /// Stop after this many batches, as an interruption would (tests, and
    /// copying a huge archive in sittings).
    pub max_batches: Option<u64>,
    /// Rows sampled from `articles` and compared field by field at the end.
    pub sample: usize,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            batch: 2000,
            max_batches: None,
            sample: 200,
        }
    }
}

/// Progress after each batch.
#[derive(Debug, Clone)]
pub struct CopyProgress<'a> {
    pub table: &'a str,
    /// Rows of this table in the target.
    pub done: u64,
    /// Rows of this table in the source snapshot.
    pub total: u64,
}

/// One table's part of the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableReport {
    pub table: &'static str,
    pub source_rows: u64,
    pub target_rows: u64,
    /// Rows this run copied (a resumed copy copied the rest before).
    pub copied: u64,
}

/// What a copy did and found.
#[derive(Debug, Clone)]
pub struct CopyReport {
    pub tables: Vec<TableReport>,
    /// Whether this run resumed an earlier, interrupted copy.
    pub resumed: bool,
    /// False when `max_batches` stopped the copy before the end.
    pub complete: bool,
    /// Articles compared field by field.
    pub sampled: usize,
    /// What the check found wrong; empty when the copy is faithful.
    pub mismatches: Vec<String>,
    pub elapsed: std::time::Duration,
}

impl CopyReport {
    pub fn ok(&self) -> bool {
        self.complete && self.mismatches.is_empty()
    }
}

/// The reading side of a copy: one snapshot of the source.
pub(crate) trait Reader {
    async fn count(&mut self, table: &Table) -> Result<u64>;
    async fn batch(&mut self, table: &Table, after: &Mark, limit: usize) -> Result<Batch>;
    /// Evenly spread article ids, at most `n`.
    async fn sample_ids(&mut self, n: usize) -> Result<Vec<i64>>;
    async fn articles(&mut self, ids: &[i64]) -> Result<Vec<Vec<Value>>>;
}

/// The writing side: the target, with its bookkeeping table.
pub(crate) trait Writer {
    /// The source recorded by a copy into this target, if one started; or
    /// an error naming why the target is not one this copy may fill.
    async fn begin(&self, source: &str) -> Result<bool>;
    async fn mark(&self, table: &Table) -> Result<(Mark, bool)>;
    async fn write(&self, table: &Table, batch: &Batch, last: bool) -> Result<()>;
    async fn count(&self, table: &Table) -> Result<u64>;
    async fn finish(&self) -> Result<()>;
    async fn articles(&self, ids: &[i64]) -> Result<Vec<Vec<Value>>>;
}

/// Copies `source` into `target` (opened and migrated), resuming a copy
/// from the same source, refusing any other non-empty target, and checks
/// the result.
pub async fn copy_archive(
    source: &Store,
    target: &Store,
    options: &CopyOptions,
    progress: &mut dyn FnMut(CopyProgress<'_>),
) -> Result<CopyReport> {
    match (&source.engine, &target.engine) {
        (Engine::Sqlite(s), Engine::Postgres(t)) => {
            let mut reader = s.copy_reader().await?;
            let result = run(
                &mut reader,
                t,
                &s.path().display().to_string(),
                options,
                progress,
            )
            .await;
            reader.close().await?;
            result
        }
        _ => Err(StoreError::Unsupported(format!(
            "copying from {:?} to {:?} (only SQLite to PostgreSQL is)",
            source.engine(),
            target.engine()
        ))),
    }
}

async fn run(
    reader: &mut impl Reader,
    writer: &impl Writer,
    source: &str,
    options: &CopyOptions,
    progress: &mut dyn FnMut(CopyProgress<'_>),
) -> Result<CopyReport> {
    let started = std::time::Instant::now();
    let resumed = writer.begin(source).await?;
    let mut batches = 0u64;
    let mut tables = Vec::new();
    let mut complete = true;
    for table in TABLES {
        let total = reader.count(table).await?;
        let (mut mark, mut done_table) = writer.mark(table).await?;
        let mut copied = 0u64;
        let mut done = writer.count(table).await?;
        progress(CopyProgress {
            table: table.name,
            done,
            total,
        });
        while !done_table {
            if options.max_batches.is_some_and(|max| batches >= max) {
                complete = false;
                break;
            }
            let batch = reader.batch(table, &mark, options.batch.max(1)).await?;
            let last = batch.end;
            writer.write(table, &batch, last).await?;
            batches += 1;
            copied += batch.rows.len() as u64;
            done += batch.rows.len() as u64;
            mark = batch.mark;
            done_table = last;
            progress(CopyProgress {
                table: table.name,
                done,
                total,
            });
        }
        tables.push(TableReport {
            table: table.name,
            source_rows: total,
            target_rows: if complete {
                writer.count(table).await?
            } else {
                done
            },
            copied,
        });
        if !complete {
            break;
        }
    }
    let mut mismatches = Vec::new();
    let mut sampled = 0;
    if complete {
        writer.finish().await?;
        for t in &tables {
            if t.source_rows != t.target_rows {
                mismatches.push(format!(
                    "{}: {} rows in the source, {} in the target",
                    t.table, t.source_rows, t.target_rows
                ));
            }
        }
        let ids = reader.sample_ids(options.sample).await?;
        sampled = ids.len();
        let theirs = reader.articles(&ids).await?;
        let ours = writer.articles(&ids).await?;
        compare(&theirs, &ours, &mut mismatches);
    }
    Ok(CopyReport {
        tables,
        resumed,
        complete,
        sampled,
        mismatches,
        elapsed: started.elapsed(),
    })
}

/// Compares sampled article rows (both in id order) field by field.
fn compare(source: &[Vec<Value>], target: &[Vec<Value>], mismatches: &mut Vec<String>) {
    let id = |row: &Vec<Value>| match row.first() {
        Some(Value::Int(i)) => *i,
        _ => 0,
    };
    let mut t = target.iter().peekable();
    for s in source {
        match t.peek() {
            Some(row) if id(row) == id(s) => {
                for (((name, _), a), b) in ARTICLE_COLUMNS.iter().zip(s).zip(row.iter()) {
                    if a != b {
                        mismatches.push(format!("article {}: {name} differs", id(s)));
                    }
                }
                t.next();
            }
            _ => mismatches.push(format!("article {} is missing from the target", id(s))),
        }
    }
}
