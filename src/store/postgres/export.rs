//! Export pages on PostgreSQL.

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
    pub async fn export_page(
        &self,
        since: Option<DateTime<Utc>>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<ExportArticle>> {
        todo!("postgres: export_page")
    }
}
