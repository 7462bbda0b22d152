//! The SQLite side of `newsd copy`: rows read from one snapshot.

use futures::TryStreamExt;
use sqlx::pool::PoolConnection;
use sqlx::{Row, Sqlite};

use super::SqliteStore;
use crate::store::copy::{
    rows_size, Batch, Kind, Mark, Order, Reader, Table, Value, ARTICLES, BATCH_BYTES,
};
use crate::store::Result;

/// One read transaction on a reader connection, held for the whole copy:
/// every batch sees the archive as it was when the copy started.
pub(crate) struct SqliteReader {
    conn: PoolConnection<Sqlite>,
}

impl SqliteStore {
    pub(crate) async fn copy_reader(&self) -> Result<SqliteReader> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query("BEGIN").execute(&mut *conn).await?;
        // A deferred transaction takes its snapshot at its first read.
        sqlx::query("SELECT count(*) FROM sqlite_schema")
            .fetch_one(&mut *conn)
            .await?;
        Ok(SqliteReader { conn })
    }
}

impl SqliteReader {
    pub(crate) async fn close(mut self) -> Result<()> {
        sqlx::query("ROLLBACK").execute(&mut *self.conn).await?;
        Ok(())
    }
}

fn select_list(table: &Table) -> String {
    table
        .columns
        .iter()
        .map(|(c, _)| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn decode(row: &sqlx::sqlite::SqliteRow, table: &Table) -> Result<Vec<Value>> {
    let mut values = Vec::with_capacity(table.columns.len());
    for (i, (_, kind)) in table.columns.iter().enumerate() {
        let v = match kind {
            Kind::Int => row.try_get::<Option<i64>, _>(i)?.map(Value::Int),
            Kind::Bool => row
                .try_get::<Option<i64>, _>(i)?
                .map(|b| Value::Bool(b != 0)),
            Kind::Real => row.try_get::<Option<f64>, _>(i)?.map(Value::Real),
            Kind::Text => row.try_get::<Option<String>, _>(i)?.map(Value::Text),
            Kind::Blob => row.try_get::<Option<Vec<u8>>, _>(i)?.map(Value::Blob),
        };
        values.push(v.unwrap_or(Value::Null));
    }
    Ok(values)
}

impl Reader for SqliteReader {
    async fn count(&mut self, table: &Table) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {}", table.name))
            .fetch_one(&mut *self.conn)
            .await?;
        Ok(n.max(0) as u64)
    }

    async fn batch(&mut self, table: &Table, after: &Mark, limit: usize) -> Result<Batch> {
        let key = match table.order {
            Order::IntColumn(c) | Order::TextColumn(c) => c,
            Order::RowId => "rowid",
        };
        let sql = format!(
            "SELECT {}, {key} FROM {} WHERE ?1 IS NULL OR {key} > ?1 ORDER BY {key} LIMIT ?2",
            select_list(table),
            table.name
        );
        let query = sqlx::query(&sql);
        let query = match after {
            Mark::Start => query.bind(None::<i64>),
            Mark::Int(i) => query.bind(*i),
            Mark::Text(s) => query.bind(s.clone()),
        };
        let mut stream = query.bind(limit as i64).fetch(&mut *self.conn);
        let mut rows = Vec::new();
        let mut bytes = 0;
        let mut mark = after.clone();
        let n = table.columns.len();
        while let Some(row) = stream.try_next().await? {
            let values = decode(&row, table)?;
            mark = match table.order {
                Order::TextColumn(_) => Mark::Text(row.try_get(n)?),
                _ => Mark::Int(row.try_get(n)?),
            };
            bytes += rows_size(&values);
            rows.push(values);
            if bytes >= BATCH_BYTES {
                break;
            }
        }
        Ok(Batch { rows, mark })
    }

    async fn sample_ids(&mut self, n: usize) -> Result<Vec<i64>> {
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM articles")
            .fetch_one(&mut *self.conn)
            .await?;
        let step = (total / (n.max(1) as i64)).max(1);
        let ids = sqlx::query_scalar(
            "SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM articles)
             WHERE (n - 1) % ?1 = 0 ORDER BY id LIMIT ?2",
        )
        .bind(step)
        .bind(n as i64)
        .fetch_all(&mut *self.conn)
        .await?;
        Ok(ids)
    }

    async fn articles(&mut self, ids: &[i64]) -> Result<Vec<Vec<Value>>> {
        let table = &ARTICLES;
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let list = chunk
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let sql = format!(
                "SELECT {} FROM articles WHERE id IN ({list}) ORDER BY id",
                select_list(table)
            );
            for row in sqlx::query(&sql).fetch_all(&mut *self.conn).await? {
                out.push(decode(&row, table)?);
            }
        }
        Ok(out)
    }
}
