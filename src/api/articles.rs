//! `GET /api/v1/articles` and `GET /api/v1/articles/{id}`.

use axum::extract::{Path, RawQuery, State};
use axum::Json;
use chrono::Utc;
use serde_json::{json, Value};

use super::params::{query_fingerprint, Cursor, Params};
use super::{ApiError, ApiState};
use crate::store::{
    ArticleFilter, ArticleItem, ArticleSearch, ItemText, RankKey, SearchOrder, SearchText, SeenKey,
};

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

const LIST_PARAMS: &[&str] = &[
    "q",
    "fts",
    "feed",
    "publisher",
    "lang",
    "since",
    "until",
    "has_text",
    "story",
    "tag",
    "limit",
    "cursor",
];

/// The filters every article route shares.
pub(crate) fn filter_from(p: &Params) -> Result<ArticleFilter, ApiError> {
    let now = Utc::now();
    Ok(ArticleFilter {
        feed_id: p.i64("feed")?,
        publisher: p.str("publisher").map(str::to_owned),
        lang: p.str("lang").map(str::to_owned),
        since: p.time("since", now)?,
        until: p.time("until", now)?,
        has_text: p.bool("has_text")?,
        story_id: p.i64("story")?,
        tag: p.str("tag").map(str::to_owned),
    })
}

/// Newest first, or bm25-ranked with `q`; keyset-paginated either way.
pub async fn list(
    State(state): State<ApiState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(raw.as_deref(), LIST_PARAMS)?;
    let filter = filter_from(&p)?;
    let limit = p.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
    let cursor = p.str("cursor").map(Cursor::decode).transpose()?;
    let store = state.store();
    let (page, next) = match p.str("q") {
        Some(q) => {
            let fts = p.bool("fts")?.unwrap_or(false);
            let fingerprint = query_fingerprint(q, fts);
            let after = match cursor {
                None => None,
                Some(Cursor::Rank { key, query }) if query == fingerprint => Some(key),
                Some(_) => {
                    return Err(ApiError::bad_param(
                        "cursor",
                        "belongs to another query; start again without a cursor",
                    ))
                }
            };
            let max_id = match &after {
                Some(k) => k.max_id,
                None => store.max_article_id().await?,
            };
            let search = ArticleSearch {
                text: SearchText::new(q, fts),
                order: SearchOrder::Rank,
                item_text: ItemText::Flag,
            };
            let mut rows = store
                .search_articles(&search, &filter, after.as_ref(), max_id, limit + 1)
                .await?;
            let next = more(&mut rows, limit).map(|last| Cursor::Rank {
                key: RankKey {
                    rank: last.rank.unwrap_or_default(),
                    id: last.id,
                    max_id,
                },
                query: fingerprint,
            });
            (rows, next)
        }
        None => {
            if p.str("fts").is_some() {
                return Err(ApiError::bad_param("fts", "only applies together with `q`"));
            }
            let after = match cursor {
                None => None,
                Some(Cursor::Seen(k)) => Some(k),
                Some(_) => {
                    return Err(ApiError::bad_param(
                        "cursor",
                        "belongs to a search; start again without a cursor",
                    ))
                }
            };
            let mut rows = store
                .list_articles(&filter, after.as_ref(), limit + 1, ItemText::Flag)
                .await?;
            let next = more(&mut rows, limit).map(|last| {
                Cursor::Seen(SeenKey {
                    first_seen_at: last.first_seen_at.clone(),
                    id: last.id,
                })
            });
            (rows, next)
        }
    };
    Ok(Json(json!({
        "articles": page,
        "next_cursor": next.map(|c| c.encode()),
    })))
}

/// Trims the one-past-the-page row; returns the page's last row when there is more.
fn more(rows: &mut Vec<ArticleItem>, limit: i64) -> Option<&ArticleItem> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() > limit {
        rows.truncate(limit);
        rows.last()
    } else {
        None
    }
}

/// Everything stored about one article.
pub async fn one(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let article = state
        .store()
        .article_detail(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no article with id {id}")))?;
    Ok(Json(json!({ "article": article })))
}

/// A path id: a positive integer.
pub(crate) fn parse_id(s: &str) -> Result<i64, ApiError> {
    s.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::bad_param("id", format!("{s:?} is not a positive integer id")))
}
