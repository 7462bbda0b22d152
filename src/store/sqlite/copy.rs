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
        let (key, after_mark, order) = match table.order {
            Order::IntColumn(c) | Order::TextColumn(c) => {
                (c.to_owned(), format!("{c} > ?1"), c.to_owned())
            }
            Order::Composite(cols) => {
                let list = cols.join(", ");
                let marks = (0..cols.len())
                    .map(|i| format!("json_extract(?1, '$[{i}]')"))
                    .collect::<Vec<_>>()
                    .join(", ");
                (
                    format!("json_array({list})"),
                    format!("({list}) > ({marks})"),
                    list,
                )
            }
        };
        let sql = format!(
            "SELECT {}, {key} FROM {} WHERE ?1 IS NULL OR {after_mark} ORDER BY {order} LIMIT ?2",
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
        let mut cut = false;
        let n = table.columns.len();
        while let Some(row) = stream.try_next().await? {
            let values = decode(&row, table)?;
            mark = match table.order {
                Order::IntColumn(_) => Mark::Int(row.try_get(n)?),
                Order::TextColumn(_) | Order::Composite(_) => Mark::Text(row.try_get(n)?),
            };
            bytes += rows_size(&values);
            rows.push(values);
            if bytes >= BATCH_BYTES {
                cut = rows.len() < limit;
                break;
            }
        }
        let end = !cut && rows.len() < limit;
        Ok(Batch { rows, mark, end })
    }

    async fn sample_ids(&mut self, n: usize) -> Result<Vec<i64>> {
        let (lo, hi): (Option<i64>, Option<i64>) =
            sqlx::query_as("SELECT min(id), max(id) FROM articles")
                .fetch_one(&mut *self.conn)
                .await?;
        let (Some(lo), Some(hi)) = (lo, hi) else {
            return Ok(Vec::new());
        };
        // Spread over the id range: one index lookup per sampled article.
        let n = n.max(1) as i64;
        let mut ids: Vec<i64> = Vec::new();
        for k in 0..n {
            let from = lo + ((hi - lo) as i128 * k as i128 / n as i128) as i64;
            let id: Option<i64> =
                sqlx::query_scalar("SELECT id FROM articles WHERE id >= ?1 ORDER BY id LIMIT 1")
                    .bind(from)
                    .fetch_optional(&mut *self.conn)
                    .await?;
            if let Some(id) = id.filter(|id| ids.last() != Some(id)) {
                ids.push(id);
            }
        }
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
