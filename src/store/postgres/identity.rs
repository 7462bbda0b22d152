//! The identity model's statements on PostgreSQL (rules: `store::identity`): the merge of entries into articles, the merge of two articles when one takes the other's identity, the split of a wrongly joined Google link, and full-text queueing.

#![allow(
    unused_variables,
    unused_imports,
    dead_code,
    clippy::too_many_arguments
)] // SKELETON: remove when implemented

use chrono::{DateTime, Utc};

use super::PostgresStore;
use crate::store::*;

impl PostgresStore {
    pub async fn assign_identity(&self, article_id: i64, url_key: &str, url: &str) -> Result<i64> {
        todo!("postgres: assign_identity")
    }
}

/// Gives `article_id` the identity `url_key` (with `url` to fetch). If
/// another article holds it, the two merge into that one (the survivor),
/// whose id comes back. Used by resolution and full text, inside their
/// transactions.
pub(super) async fn assign_identity(
    conn: &mut sqlx::PgConnection,
    article_id: i64,
    url_key: &str,
    url: &str,
) -> Result<i64> {
    todo!("postgres: identity::assign_identity")
}

/// Queues articles for full text if they have a URL to fetch and no text
/// yet, due at `at` (a stored timestamp), or when first seen.
pub(super) async fn queue_fulltext(
    conn: &mut sqlx::PgConnection,
    article_ids: &[i64],
    at: Option<&str>,
) -> Result<()> {
    todo!("postgres: identity::queue_fulltext")
}
