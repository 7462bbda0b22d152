//! `/api/v1/searches`: saved searches; add and remove. Their feeds out are
//! in `syndication` (`/searches/{id}.atom`, `.json`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde_json::json;

use super::articles::parse_id;
use super::{ApiError, ApiState};
use crate::config::SearchSettings;
use crate::store::{NewSearch, SearchOrigin, SearchRemoval};

pub async fn list(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let searches = state.store().list_searches().await?;
    Ok(Json(json!({ "searches": searches })).into_response())
}

pub async fn one(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let search = state
        .store()
        .list_searches()
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("no saved search with id {id}")))?;
    Ok(Json(json!({ "search": search })).into_response())
}

/// The spelling of a config `[[searches]]` entry: `name`, `query`, and
/// optional `fts`, `feeds`, `publishers`, `lang`, `channels`, `digest`,
/// `backfill`.
pub async fn add(State(state): State<ApiState>, body: Bytes) -> Result<Response, ApiError> {
    state.require_writable()?;
    let mut de = serde_json::Deserializer::from_slice(&body);
    let spec: SearchSettings = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path.is_empty() {
            ApiError::BadBody(format!(
                "{inner}; expected {{\"name\": \"...\", \"query\": \"...\"}}"
            ))
        } else {
            ApiError::BadBody(format!("`{path}`: {inner}"))
        }
    })?;
    if spec.name.trim().is_empty() || spec.query.split_whitespace().next().is_none() {
        return Err(ApiError::BadBody(
            "`name` and `query` must not be empty".into(),
        ));
    }
    let settings = state.settings();
    if let Some(c) = spec
        .channels
        .iter()
        .find(|c| !settings.channels.iter().any(|k| &k.name == *c))
    {
        return Err(ApiError::BadBody(format!(
            "`channels`: no [[channels]] entry named {c:?} in the config"
        )));
    }
    let store = state.store();
    let mut feeds = Vec::new();
    for f in &spec.feeds {
        let row = store
            .find_feed(f)
            .await?
            .ok_or_else(|| ApiError::BadBody(format!("`feeds`: no feed matches {f:?}")))?;
        feeds.push(row.id);
    }
    let search = NewSearch {
        name: spec.name,
        query: spec.query,
        fts: spec.fts,
        feeds,
        publishers: spec.publishers,
        lang: spec.lang,
        channels: spec.channels,
        digest_secs: spec.digest.map(|d| d.0.as_secs().max(1) as i64),
        backfill: spec.backfill,
    };
    let (row, created) = store
        .add_search(&search, SearchOrigin::Api, Utc::now())
        .await?;
    if created && row.backfill {
        crate::alerts::backfill(store, &row, Utc::now(), settings.alerts.hold.0).await?;
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut resp = (status, Json(json!({ "search": row, "created": created }))).into_response();
    if let Ok(loc) = HeaderValue::from_str(&format!("/api/v1/searches/{}", row.id)) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

/// Deletes a CLI or API search; config searches are refused with 409.
pub async fn remove(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    state.require_writable()?;
    let id = parse_id(&id)?;
    match state.store().remove_search(&id.to_string()).await {
        Ok(SearchRemoval::Removed(row)) => {
            Ok(Json(json!({ "removed": { "id": row.id, "name": row.name } })).into_response())
        }
        Ok(SearchRemoval::NotFound) => {
            Err(ApiError::NotFound(format!("no saved search with id {id}")))
        }
        Err(crate::store::StoreError::InvalidInput(reason)) => Err(ApiError::Conflict(reason)),
        Err(e) => Err(e.into()),
    }
}
