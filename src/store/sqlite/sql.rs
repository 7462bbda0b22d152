//! Generic statement helpers: multi-row statements of a few fixed sizes,
//! their placeholders, and `group_concat` lists.

/// The row counts multi-row statements are written for; the largest is
/// also the most rows a statement takes (at 10 parameters a row far below
/// SQLite's limit of 32,766).
const STATEMENT_ROWS: [usize; 3] = [8, 64, 512];
pub(super) const CHUNK_ROWS: usize = STATEMENT_ROWS[2];

/// A chunk's rows, then `None` up to the statement size that fits it (bound
/// as NULLs, which the statements skip). Statements of a few sizes stay
/// prepared in sqlx's statement cache; one per row count did not fit in it,
/// and every poll group paid for parsing statements thousands of
/// parameters long (~7 % of the writer thread).
pub(super) fn padded<T>(chunk: &[T]) -> (usize, impl Iterator<Item = Option<&T>>) {
    let rows = STATEMENT_ROWS
        .into_iter()
        .find(|&size| size >= chunk.len())
        .unwrap_or(chunk.len());
    let padding = std::iter::repeat_n(None, rows - chunk.len());
    (rows, chunk.iter().map(Some).chain(padding))
}

/// `(?, ?, …), (…)`: `rows` groups of `per_row` parameters. Anonymous on
/// purpose: sqlx looks up every parameter's name, which SQLite finds by a
/// linear search among the named ones, so numbered parameters (`?NNN`) make
/// binding quadratic in their number.
pub(super) fn placeholders(rows: usize, per_row: usize) -> String {
    let group = format!("({})", vec!["?"; per_row].join(", "));
    vec![group; rows].join(", ")
}

/// Splits a `group_concat` made with the unit separator.
pub(super) fn split_group(s: Option<String>) -> Vec<String> {
    s.map(|s| {
        s.split('\u{1f}')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

/// `sqlx::FromRow` for one of the store's plain types, column by field
/// name: the types stay free of any engine, and this engine reads them.
macro_rules! from_row {
    ($ty:ident { $($field:ident),+ $(,)? }) => {
        impl<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> for $ty {
            fn from_row(row: &'r sqlx::sqlite::SqliteRow) -> Result<Self, sqlx::Error> {
                use sqlx::Row as _;
                Ok($ty {
                    $($field: row.try_get(stringify!($field))?,)+
                })
            }
        }
    };
}
pub(super) use from_row;
