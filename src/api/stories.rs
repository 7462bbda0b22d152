//! `GET /api/v1/stories` and `GET /api/v1/stories/{id}`.

use axum::extract::{Path, RawQuery, State};
use axum::Json;
use serde_json::{json, Value};

use super::articles::{parse_id, DEFAULT_LIMIT, MAX_LIMIT};
use super::params::{Cursor, Params};
use super::{ApiError, ApiState};
use crate::store::{ArticleFilter, ItemText, SeenKey};

/// Stories newest first (by first seen), keyset-paginated.
pub async fn list(
    State(state): State<ApiState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(raw.as_deref(), &["limit", "cursor"])?;
    let limit = p.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
    let after = match p.str("cursor").map(Cursor::decode).transpose()? {
        None => None,
        Some(Cursor::Seen(k)) => Some(k),
        Some(_) => {
            return Err(ApiError::bad_param(
                "cursor",
                "belongs to a search; start again without a cursor",
            ))
        }
    };
    let mut rows = state
        .store()
        .list_stories(after.as_ref(), limit + 1)
        .await?;
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let next = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|last| {
            Cursor::Seen(SeenKey {
                first_seen_at: last.first_seen_at.clone(),
                id: last.id,
            })
            .encode()
        })
    } else {
        None
    };
    Ok(Json(json!({ "stories": rows, "next_cursor": next })))
}

/// One story with its articles (newest first, at most [`MAX_LIMIT`]; the
/// rest through `/api/v1/articles?story={id}`).
pub async fn one(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let store = state.store();
    let story = store
        .story(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no story with id {id}")))?;
    let filter = ArticleFilter {
        story_id: Some(id),
        ..Default::default()
    };
    let articles = store
        .list_articles(&filter, None, MAX_LIMIT, ItemText::Flag)
        .await?;
    Ok(Json(json!({ "story": story, "articles": articles })))
}
