//! The PostgreSQL side of `newsd copy`: batches written with one multi-row
//! `INSERT … SELECT FROM UNNEST` each, committed with the table's
//! high-water mark in `newsd_copy`, the copy's own bookkeeping table.

use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{Postgres, Row};

use super::PostgresStore;
use crate::store::copy::{Batch, Kind, Mark, Table, Value, Writer, ARTICLES, TABLES};
use crate::store::{Result, StoreError};

fn pg_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Int => "bigint",
        Kind::Real => "double precision",
        Kind::Text => "text",
        Kind::Blob => "bytea",
        Kind::Bool => "boolean",
    }
}

fn column_list(table: &Table) -> String {
    table
        .columns
        .iter()
        .map(|(c, _)| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Binds column `i` of every row as one array.
fn bind_column<'q>(
    query: Query<'q, Postgres, PgArguments>,
    rows: &[Vec<Value>],
    i: usize,
    kind: Kind,
) -> Query<'q, Postgres, PgArguments> {
    let cell = |r: &Vec<Value>| r.get(i).cloned().unwrap_or(Value::Null);
    match kind {
        Kind::Int => query.bind(
            rows.iter()
                .map(|r| match cell(r) {
                    Value::Int(v) => Some(v),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        ),
        Kind::Real => query.bind(
            rows.iter()
                .map(|r| match cell(r) {
                    Value::Real(v) => Some(v),
                    Value::Int(v) => Some(v as f64),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        ),
        Kind::Text => query.bind(
            rows.iter()
                .map(|r| match cell(r) {
                    Value::Text(v) => Some(v),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        ),
        Kind::Blob => query.bind(
            rows.iter()
                .map(|r| match cell(r) {
                    Value::Blob(v) => Some(v),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        ),
        Kind::Bool => query.bind(
            rows.iter()
                .map(|r| match cell(r) {
                    Value::Bool(v) => Some(v),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        ),
    }
}

fn decode(row: &sqlx::postgres::PgRow, table: &Table) -> Result<Vec<Value>> {
    let mut values = Vec::with_capacity(table.columns.len());
    for (i, (_, kind)) in table.columns.iter().enumerate() {
        let v = match kind {
            Kind::Int => row.try_get::<Option<i64>, _>(i)?.map(Value::Int),
            Kind::Bool => row.try_get::<Option<bool>, _>(i)?.map(Value::Bool),
            Kind::Real => row.try_get::<Option<f64>, _>(i)?.map(Value::Real),
            Kind::Text => row.try_get::<Option<String>, _>(i)?.map(Value::Text),
            Kind::Blob => row.try_get::<Option<Vec<u8>>, _>(i)?.map(Value::Blob),
        };
        values.push(v.unwrap_or(Value::Null));
    }
    Ok(values)
}

impl Writer for PostgresStore {
    async fn begin(&self, source: &str) -> Result<bool> {
        self.writable("copying an archive into it")?;
        let mut tx = self.pool.begin().await?;
        // Two copies started at once into one target would both find it
        // empty: the first to take this lock creates the bookkeeping.
        sqlx::query("LOCK TABLE feeds IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        let started: bool = sqlx::query_scalar("SELECT to_regclass('newsd_copy') IS NOT NULL")
            .fetch_one(&mut *tx)
            .await?;
        if started {
            let theirs: Option<String> =
                sqlx::query_scalar("SELECT source FROM newsd_copy LIMIT 1")
                    .fetch_optional(&mut *tx)
                    .await?;
            return match theirs {
                Some(s) if s == source => Ok(true),
                other => Err(StoreError::InvalidInput(format!(
                    "{} holds a copy of {}, not of {source}; copy into an empty database",
                    self.location,
                    other.as_deref().unwrap_or("another archive")
                ))),
            };
        }
        for table in TABLES {
            if table.name == "google_budget" {
                // The `default` egress's row comes with the schema.
                continue;
            }
            let any: bool =
                sqlx::query_scalar(&format!("SELECT EXISTS (SELECT 1 FROM {})", table.name))
                    .fetch_one(&mut *tx)
                    .await?;
            if any {
                return Err(StoreError::InvalidInput(format!(
                    "{} is not empty ({} has rows) and no copy from {source} started it; \
                     copy into an empty database",
                    self.location, table.name
                )));
            }
        }
        sqlx::query(
            "CREATE TABLE newsd_copy (
                 table_name  TEXT PRIMARY KEY,
                 source      TEXT NOT NULL,
                 mark_int    BIGINT,
                 mark_text   TEXT,
                 done        BOOLEAN NOT NULL DEFAULT FALSE,
                 finished_at TEXT
             )",
        )
        .execute(&mut *tx)
        .await?;
        let names: Vec<String> = TABLES.iter().map(|t| t.name.to_owned()).collect();
        sqlx::query(
            "INSERT INTO newsd_copy (table_name, source) SELECT t, $2 FROM UNNEST($1::text[]) t",
        )
        .bind(names)
        .bind(source)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(false)
    }

    async fn mark(&self, table: &Table) -> Result<(Mark, bool)> {
        let row =
            sqlx::query("SELECT mark_int, mark_text, done FROM newsd_copy WHERE table_name = $1")
                .bind(table.name)
                .fetch_one(&self.pool)
                .await?;
        let mark = match (
            row.try_get::<Option<i64>, _>(0)?,
            row.try_get::<Option<String>, _>(1)?,
        ) {
            (Some(i), _) => Mark::Int(i),
            (None, Some(s)) => Mark::Text(s),
            (None, None) => Mark::Start,
        };
        Ok((mark, row.try_get(2)?))
    }

    async fn write(&self, table: &Table, batch: &Batch, last: bool) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        if !batch.rows.is_empty() {
            let columns = column_list(table);
            let arrays = table
                .columns
                .iter()
                .enumerate()
                .map(|(i, (_, k))| format!("${}::{}[]", i + 1, pg_type(*k)))
                .collect::<Vec<_>>()
                .join(", ");
            // The `default` egress's budget row comes with the schema.
            let conflict = match table.name {
                "google_budget" => format!(
                    "ON CONFLICT (egress) DO UPDATE SET ({columns}) = ROW({})",
                    table
                        .columns
                        .iter()
                        .map(|(c, _)| format!("EXCLUDED.\"{c}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                _ => String::new(),
            };
            let sql = format!(
                "INSERT INTO {} ({columns}) SELECT * FROM UNNEST({arrays}) {conflict}",
                table.name
            );
            let mut query = sqlx::query(&sql);
            for (i, (_, kind)) in table.columns.iter().enumerate() {
                query = bind_column(query, &batch.rows, i, *kind);
            }
            query.execute(&mut *tx).await?;
        }
        let (int, text) = match &batch.mark {
            Mark::Start => (None, None),
            Mark::Int(i) => (Some(*i), None),
            Mark::Text(s) => (None, Some(s.as_str())),
        };
        sqlx::query(
            "UPDATE newsd_copy SET mark_int = $2, mark_text = $3, done = $4 WHERE table_name = $1",
        )
        .bind(table.name)
        .bind(int)
        .bind(text)
        .bind(last)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn count(&self, table: &Table) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {}", table.name))
            .fetch_one(&self.pool)
            .await?;
        Ok(n.max(0) as u64)
    }

    async fn finish(&self) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for table in TABLES.iter().filter(|t| t.identity) {
            // The next id the engine hands out follows the copied ones.
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{0}', 'id'),
                               COALESCE((SELECT max(id) FROM {0}), 0) + 1, false)",
                table.name
            ))
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE newsd_copy SET finished_at = $1 WHERE finished_at IS NULL")
            .bind(crate::store::ts(chrono::Utc::now()))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn articles(&self, ids: &[i64]) -> Result<Vec<Vec<Value>>> {
        let sql = format!(
            "SELECT {} FROM articles WHERE id = ANY($1) ORDER BY id",
            column_list(&ARTICLES)
        );
        let rows = sqlx::query(&sql).bind(ids).fetch_all(&self.pool).await?;
        rows.iter().map(|r| decode(r, &ARTICLES)).collect()
    }
}
