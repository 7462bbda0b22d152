//! `/api/v1/feeds`: subscriptions with their health; add and remove.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde_json::json;

use super::articles::parse_id;
use super::{ApiError, ApiState};
use crate::config::FeedSettings;
use crate::store::{FeedRow, FeedStatus, NewFeed, RemoveOutcome};

/// A feed as the API shows it: identity, then health.
#[derive(Debug, serde::Serialize)]
pub struct FeedView<'a> {
    pub id: i64,
    pub url: &'a str,
    pub fetch_url: &'a str,
    pub name: Option<&'a str>,
    pub title: Option<&'a str>,
    pub site_url: Option<&'a str>,
    pub origin: &'a str,
    pub enabled: bool,
    pub disabled_reason: Option<&'a str>,
    pub interval_secs: Option<i64>,
    pub current_interval_secs: Option<i64>,
    pub health: Health<'a>,
}

#[derive(Debug, serde::Serialize)]
pub struct Health<'a> {
    /// ok | not_modified | error | gone | blocked | deferred; null before the first poll.
    pub last_status: Option<&'a str>,
    pub error_count: i64,
    pub last_error: Option<&'a str>,
    pub next_poll_at: &'a str,
    pub next_poll_reason: Option<&'a str>,
    pub retry_after_until: Option<&'a str>,
    pub last_polled_at: Option<&'a str>,
    pub last_success_at: Option<&'a str>,
}

impl<'a> From<&'a FeedRow> for FeedView<'a> {
    fn from(f: &'a FeedRow) -> Self {
        FeedView {
            id: f.id,
            url: &f.url,
            fetch_url: &f.fetch_url,
            name: f.name.as_deref(),
            title: f.title.as_deref(),
            site_url: f.site_url.as_deref(),
            origin: &f.origin,
            enabled: f.enabled,
            disabled_reason: f.disabled_reason.as_deref(),
            interval_secs: f.interval_secs,
            current_interval_secs: f.current_interval_secs,
            health: Health {
                last_status: f.last_status.map(FeedStatus::as_str),
                error_count: f.error_count,
                last_error: f.last_error.as_deref(),
                next_poll_at: &f.next_poll_at,
                next_poll_reason: f.next_poll_reason.as_deref(),
                retry_after_until: f.retry_after_until.as_deref(),
                last_polled_at: f.last_polled_at.as_deref(),
                last_success_at: f.last_success_at.as_deref(),
            },
        }
    }
}

pub async fn list(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let feeds = state.store().list_feeds().await?;
    let views: Vec<FeedView<'_>> = feeds.iter().map(FeedView::from).collect();
    Ok(Json(json!({ "feeds": views })).into_response())
}

pub async fn one(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let feed = state
        .store()
        .feed_by_id(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no feed with id {id}")))?;
    Ok(Json(json!({ "feed": FeedView::from(&feed) })).into_response())
}

/// `{ "url": "..." }` or `{ "google_news": { "search": "...", "edition": "en-US" } }`,
/// with optional `name` and `interval`: the spelling of a config `[[feeds]]` entry.
pub async fn add(State(state): State<ApiState>, body: Bytes) -> Result<Response, ApiError> {
    state.require_writable()?;
    let mut de = serde_json::Deserializer::from_slice(&body);
    let spec: FeedSettings = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path.is_empty() {
            ApiError::BadBody(format!(
                "{inner}; expected {{\"url\": \"...\"}} or {{\"google_news\": {{\"search\": \"...\"}}}}"
            ))
        } else {
            ApiError::BadBody(format!("`{path}`: {inner}"))
        }
    })?;
    let url = state
        .settings()
        .feed_url(&spec)
        .map_err(|(key, value, reason)| {
            ApiError::BadBody(format!("`{key}` = {value}: {reason}"))
        })?;
    if spec.interval.is_some_and(|d| d.0.is_zero()) {
        return Err(ApiError::BadBody(
            "`interval` must be greater than zero".into(),
        ));
    }
    let feed = NewFeed {
        url: url.to_string(),
        name: spec.name.clone(),
        interval_secs: spec.interval.map(|d| d.0.as_secs().max(1) as i64),
    };
    let (row, created) = state.store().add_feed(&feed, "api", Utc::now()).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut resp = (
        status,
        Json(json!({ "feed": FeedView::from(&row), "created": created })),
    )
        .into_response();
    if let Ok(loc) = HeaderValue::from_str(&format!("/api/v1/feeds/{}", row.id)) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

/// Unsubscribes (articles stay); config feeds are refused with 409.
pub async fn remove(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    state.require_writable()?;
    let id = parse_id(&id)?;
    let RemoveOutcome::Removed { id, url } = state.store().remove_feed(&id.to_string()).await?;
    Ok(Json(json!({ "removed": { "id": id, "url": url } })).into_response())
}
