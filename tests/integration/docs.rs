//! The SQL the documentation tells people to run against their archive
//! (`docs/schema.md`'s examples, the README's `sqlite3` lines) runs against
//! the schema the migrations build: a column a migration drops must not
//! live on in an example. The examples of schema.md's PostgreSQL section
//! run on PostgreSQL, the others on SQLite.

use std::time::Duration;

use newsd::store::testing::TestArchive;
use newsd::store::{EngineKind, Store};

const SCHEMA_DOC: &str = include_str!("../../docs/schema.md");
const README: &str = include_str!("../../README.md");

/// The statements of the fenced `sql` blocks of a Markdown text (indented
/// ones too), comments dropped.
fn sql_blocks(doc: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut block: Option<String> = None;
    for line in doc.lines().map(str::trim) {
        match (&mut block, line) {
            (None, "```sql") => block = Some(String::new()),
            (Some(sql), "```") => {
                statements.extend(
                    sql.split(';')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from),
                );
                block = None;
            }
            (Some(sql), l) if !l.starts_with("--") => {
                sql.push_str(l);
                sql.push('\n');
            }
            _ => {}
        }
    }
    statements
}

/// The SQL of the README's `sqlite3 data/newsd.db "…"` commands, which may
/// continue over several lines.
fn sqlite3_commands(doc: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut open: Option<String> = None;
    for line in doc.lines() {
        if let Some(sql) = &mut open {
            sql.push('\n');
            sql.push_str(line);
        } else if let Some(rest) = line.trim().strip_prefix("sqlite3 data/newsd.db \"") {
            open = Some(rest.to_owned());
        }
        if let Some(sql) = &open {
            if let Some(end) = sql.rfind('"') {
                statements.push(sql[..end].trim().trim_end_matches(';').to_owned());
                open = None;
            }
        }
    }
    statements
}

/// Named parameters (`:id`) become NULL: the statement is checked, not its
/// answer. PostgreSQL casts (`::timestamptz`) stay.
fn without_parameters(sql: &str) -> String {
    regex::Regex::new(r"(^|[^:]):[a-z_]+")
        .expect("a valid pattern")
        .replace_all(sql, "${1}NULL")
        .into_owned()
}

#[tokio::test]
async fn every_query_the_docs_show_runs_against_the_migrated_schema() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("docs.db").display());
    let store = Store::open(&url, Duration::from_secs(5))
        .await
        .expect("open a fresh archive");
    let (sqlite_doc, _) = split_by_engine(SCHEMA_DOC);
    let schema = sql_blocks(sqlite_doc);
    let readme = sqlite3_commands(README);
    assert!(schema.len() >= 10, "docs/schema.md examples: {schema:#?}");
    assert!(readme.len() >= 3, "README sqlite3 lines: {readme:#?}");
    for sql in schema.iter().chain(&readme) {
        let runnable = without_parameters(sql);
        if let Err(e) = sqlx::query(&runnable).fetch_all(store.pool()).await {
            panic!("the documented query\n{sql}\nfails on the current schema: {e}");
        }
    }
}

/// schema.md's SQLite part and its PostgreSQL section.
fn split_by_engine(doc: &str) -> (&str, &str) {
    doc.split_once("\n## PostgreSQL\n")
        .expect("docs/schema.md has a PostgreSQL section")
}

#[tokio::test]
async fn every_query_the_postgres_section_shows_runs_against_the_postgres_schema() {
    let Some(archive) = TestArchive::new(EngineKind::Postgres).await else {
        eprintln!(
            "skipped the PostgreSQL examples of docs/schema.md: NEWSD_TEST_POSTGRES_URL is not set"
        );
        return;
    };
    let store = archive.open().await;
    let pool = store.pg_pool().expect("a PostgreSQL store");
    let (_, postgres_doc) = split_by_engine(SCHEMA_DOC);
    let examples = sql_blocks(postgres_doc);
    assert!(examples.len() >= 4, "PostgreSQL examples: {examples:#?}");
    for sql in &examples {
        if let Err(e) = sqlx::query(&without_parameters(sql)).fetch_all(pool).await {
            panic!("the documented query\n{sql}\nfails on the PostgreSQL schema: {e}");
        }
    }
}
