//! Feeds out, for feed readers: `/feeds/{feed_id}.atom`,
//! `/feeds/{feed_id}.json` (JSON Feed 1.1) and `/search.atom?q=`.
//!
//! Entries are the newest articles; each links to the publisher's URL and
//! carries the full text when newsd has it (else the summary), the publisher
//! and the authors.

use std::fmt::Write as _;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::articles::filter_from;
use super::params::Params;
use super::{ApiError, ApiState};
use crate::store::{
    ArticleFilter, ArticleItem, ArticleSearch, FeedRow, ItemText, SearchOrder, SearchText,
};

const DEFAULT_ENTRIES: i64 = 50;
const MAX_ENTRIES: i64 = 100;
const ATOM_TYPE: &str = "application/atom+xml; charset=utf-8";
const JSON_FEED_TYPE: &str = "application/feed+json; charset=utf-8";

/// `GET /feeds/{feed_id}.atom` and `GET /feeds/{feed_id}.json`.
pub async fn feed(
    State(state): State<ApiState>,
    Path(file): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (id, format) = match file.rsplit_once('.') {
        Some((id, "atom")) => (id, Format::Atom),
        Some((id, "json")) => (id, Format::JsonFeed),
        _ => {
            return Err(ApiError::NotFound(
                "feeds are served as /feeds/{feed_id}.atom and /feeds/{feed_id}.json".into(),
            ))
        }
    };
    let id: i64 = id.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
        ApiError::bad_param("feed_id", format!("{id:?} is not a positive integer id"))
    })?;
    // Feed readers add their own parameters; only `limit` means something here.
    let p = Params::parse(raw.as_deref(), &[])?;
    let limit = p.limit(DEFAULT_ENTRIES, MAX_ENTRIES)?;
    let store = state.store();
    let feed = store
        .feed_by_id(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no feed with id {id}")))?;
    let filter = ArticleFilter {
        feed_id: Some(id),
        ..Default::default()
    };
    let articles = store
        .list_articles(&filter, None, limit, ItemText::Full)
        .await?;
    let meta = FeedMeta::of_feed(&feed);
    Ok(match format {
        Format::Atom => conditional(&headers, ATOM_TYPE, atom(&meta, &articles)),
        Format::JsonFeed => conditional(
            &headers,
            JSON_FEED_TYPE,
            json_feed(&meta, &articles).to_string(),
        ),
    })
}

/// The document with an ETag; `304 Not Modified` when the reader already
/// has it (feed readers poll often).
fn conditional(headers: &HeaderMap, content_type: &'static str, body: String) -> Response {
    let digest = Sha256::digest(body.as_bytes());
    let tag: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let etag = format!("\"{tag}\"");
    let fresh = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*");
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type)], body).into_response()
    };
    if let Ok(v) = HeaderValue::from_str(&etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

/// `GET /search.atom?q=...`: the newest matching articles.
pub async fn search_atom(
    State(state): State<ApiState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let p = Params::parse(raw.as_deref(), &[])?;
    let q = p
        .str("q")
        .ok_or_else(|| ApiError::bad_param("q", "required: the words to search for"))?;
    let limit = p.limit(DEFAULT_ENTRIES, MAX_ENTRIES)?;
    let filter = filter_from(&p)?;
    let search = ArticleSearch {
        text: SearchText::new(q, p.bool("fts")?.unwrap_or(false)),
        order: SearchOrder::Newest,
        item_text: ItemText::Full,
    };
    let articles = state
        .store()
        .search_articles(&search, &filter, None, i64::MAX, limit)
        .await?;
    let meta = FeedMeta {
        id: format!("urn:newsd:search:{}", urlencode(q)),
        title: format!("newsd search: {q}"),
        home: None,
    };
    Ok(conditional(&headers, ATOM_TYPE, atom(&meta, &articles)))
}

/// `GET /searches/{search_id}.atom` and `.json`: the newest stories a saved
/// search matches, one article each.
pub async fn saved_search(
    State(state): State<ApiState>,
    Path(file): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (id, format) = match file.rsplit_once('.') {
        Some((id, "atom")) => (id, Format::Atom),
        Some((id, "json")) => (id, Format::JsonFeed),
        _ => {
            return Err(ApiError::NotFound(
                "saved searches are served as /searches/{search_id}.atom and .json".into(),
            ))
        }
    };
    let id: i64 = id.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
        ApiError::bad_param("search_id", format!("{id:?} is not a positive integer id"))
    })?;
    let p = Params::parse(raw.as_deref(), &[])?;
    let limit = p.limit(DEFAULT_ENTRIES, MAX_ENTRIES)?;
    let store = state.store();
    let search = store
        .list_searches()
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("no saved search with id {id}")))?;
    let articles = crate::alerts::past_matches(store, &search, None, limit).await?;
    let meta = FeedMeta {
        id: format!("urn:newsd:saved-search:{id}"),
        title: format!("newsd saved search: {}", search.name),
        home: None,
    };
    Ok(match format {
        Format::Atom => conditional(&headers, ATOM_TYPE, atom(&meta, &articles)),
        Format::JsonFeed => conditional(
            &headers,
            JSON_FEED_TYPE,
            json_feed(&meta, &articles).to_string(),
        ),
    })
}

enum Format {
    Atom,
    JsonFeed,
}

struct FeedMeta {
    id: String,
    title: String,
    home: Option<String>,
}

impl FeedMeta {
    fn of_feed(f: &FeedRow) -> Self {
        FeedMeta {
            id: format!("urn:newsd:feed:{}", f.id),
            title: f.display_name().to_owned(),
            home: f.site_url.clone(),
        }
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Text safe in XML 1.0 content and attribute values: markup escaped,
/// characters XML forbids dropped.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Authors as feed readers show them: the bylines, else the publisher.
fn authors_of(a: &ArticleItem) -> Vec<&str> {
    let names: Vec<&str> = a
        .authors
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if names.is_empty() {
        a.publisher.as_deref().into_iter().collect()
    } else {
        names
    }
}

fn entry_title(a: &ArticleItem) -> &str {
    a.title.as_deref().unwrap_or("(untitled)")
}

fn body_of(a: &ArticleItem) -> Option<&str> {
    a.text.as_deref().or(a.summary.as_deref())
}

fn atom(meta: &FeedMeta, articles: &[ArticleItem]) -> String {
    let updated = articles
        .iter()
        .map(|a| a.updated_at.as_str())
        .max()
        .map_or_else(|| crate::store::ts(chrono::Utc::now()), str::to_owned);
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    x.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    let _ = writeln!(x, "  <id>{}</id>", xml(&meta.id));
    let _ = writeln!(x, "  <title type=\"text\">{}</title>", xml(&meta.title));
    let _ = writeln!(x, "  <updated>{}</updated>", xml(&updated));
    if let Some(home) = &meta.home {
        let _ = writeln!(x, "  <link rel=\"alternate\" href=\"{}\"/>", xml(home));
    }
    let _ = writeln!(
        x,
        "  <generator version=\"{}\">newsd</generator>",
        env!("CARGO_PKG_VERSION")
    );
    x.push_str("  <author><name>newsd</name></author>\n");
    for a in articles {
        x.push_str("  <entry>\n");
        let _ = writeln!(x, "    <id>urn:newsd:article:{}</id>", a.id);
        let _ = writeln!(
            x,
            "    <title type=\"text\">{}</title>",
            xml(entry_title(a))
        );
        if let Some(url) = &a.url {
            let _ = writeln!(x, "    <link rel=\"alternate\" href=\"{}\"/>", xml(url));
        }
        let published = a.published_at.as_deref().unwrap_or(&a.first_seen_at);
        let _ = writeln!(x, "    <published>{}</published>", xml(published));
        let _ = writeln!(x, "    <updated>{}</updated>", xml(&a.updated_at));
        for name in authors_of(a) {
            let _ = writeln!(x, "    <author><name>{}</name></author>", xml(name));
        }
        if let Some(p) = &a.publisher {
            x.push_str("    <source>\n");
            if let Some(pu) = &a.publisher_url {
                let _ = writeln!(x, "      <id>{}</id>", xml(pu));
                let _ = writeln!(x, "      <link rel=\"alternate\" href=\"{}\"/>", xml(pu));
            }
            let _ = writeln!(x, "      <title type=\"text\">{}</title>", xml(p));
            x.push_str("    </source>\n");
        }
        if let Some(s) = &a.summary {
            let _ = writeln!(x, "    <summary type=\"text\">{}</summary>", xml(s));
        }
        // An entry needs content or an alternate link (RFC 4287 4.1.2).
        let body = body_of(a).or_else(|| a.url.is_none().then(|| entry_title(a)));
        if let Some(body) = body {
            let _ = writeln!(x, "    <content type=\"text\">{}</content>", xml(body));
        }
        x.push_str("  </entry>\n");
    }
    x.push_str("</feed>\n");
    x
}

fn json_feed(meta: &FeedMeta, articles: &[ArticleItem]) -> Value {
    let items: Vec<Value> = articles
        .iter()
        .map(|a| {
            let mut item = json!({
                "id": format!("urn:newsd:article:{}", a.id),
                "title": entry_title(a),
                "content_text": body_of(a).unwrap_or_default(),
                "date_published": a.published_at.as_deref().unwrap_or(&a.first_seen_at),
                "date_modified": a.updated_at,
                "authors": authors_of(a).iter().map(|n| json!({ "name": n })).collect::<Vec<_>>(),
                "_newsd": {
                    "article_id": a.id,
                    "publisher": a.publisher,
                    "publisher_url": a.publisher_url,
                    "first_seen_at": a.first_seen_at,
                    "has_text": a.has_text,
                    "feed_ids": a.feed_ids,
                },
            });
            if let Some(url) = &a.url {
                item["url"] = json!(url);
            }
            if let Some(s) = &a.summary {
                item["summary"] = json!(s);
            }
            item
        })
        .collect();
    let mut feed = json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": meta.title,
        "description": "Archived by newsd",
        "authors": [{ "name": "newsd" }],
        "items": items,
    });
    if let Some(home) = &meta.home {
        feed["home_page_url"] = json!(home);
    }
    feed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_is_escaped_and_forbidden_characters_are_dropped() {
        assert_eq!(xml("a<b>&\"c'\u{1}d"), "a&lt;b&gt;&amp;&quot;c&apos;d");
        assert_eq!(xml("東京\n"), "東京\n");
    }
}
