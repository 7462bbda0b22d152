//! The hand-written OpenAPI 3.1 description of the routes in [`super::routes`]
//! (a test checks the two agree).

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

pub async fn serve() -> Response {
    Json(openapi()).into_response()
}

fn param(name: &str, location: &str, schema: Value, description: &str) -> Value {
    json!({
        "name": name,
        "in": location,
        "required": location == "path",
        "schema": schema,
        "description": description,
    })
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
    })
}

fn json_response(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema } } })
}

fn filters() -> Vec<Value> {
    vec![
        param(
            "feed",
            "query",
            json!({ "type": "integer" }),
            "Only articles from this feed id.",
        ),
        param(
            "publisher",
            "query",
            json!({ "type": "string" }),
            "Only articles from this publisher (exact name, case-insensitive).",
        ),
        param(
            "lang",
            "query",
            json!({ "type": "string" }),
            "Only articles in this language (a tag such as `en`; its subtags, such as `en-GB`, match too).",
        ),
        param(
            "since",
            "query",
            json!({ "type": "string" }),
            "First seen at or after: RFC 3339 time or a window ending now (`24h`, `7d`).",
        ),
        param(
            "until",
            "query",
            json!({ "type": "string" }),
            "First seen before: RFC 3339 time or a duration ago (`1h`).",
        ),
        param(
            "has_text",
            "query",
            json!({ "type": "boolean" }),
            "Only articles with (true) or without (false) full text.",
        ),
    ]
}

/// The OpenAPI document.
pub fn openapi() -> Value {
    let id_path = param(
        "id",
        "path",
        json!({ "type": "integer", "minimum": 1 }),
        "Integer id.",
    );
    let feed_id_path = param(
        "feed_id",
        "path",
        json!({ "type": "integer", "minimum": 1 }),
        "Feed id.",
    );
    let search_id_path = param(
        "search_id",
        "path",
        json!({ "type": "integer", "minimum": 1 }),
        "Saved search id.",
    );
    let limit = |default: i64| {
        param(
            "limit",
            "query",
            json!({ "type": "integer", "minimum": 1, "maximum": 100, "default": default }),
            "Page size; larger values are capped at 100.",
        )
    };
    let q = param(
        "q",
        "query",
        json!({ "type": "string" }),
        "Full-text search: plain words, all must match (Chinese and Japanese work too). Ranked by bm25 among the newest 2,000 matches that pass the other filters.",
    );
    let fts = param(
        "fts",
        "query",
        json!({ "type": "boolean", "default": false }),
        "Pass `q` to the archive's own full-text syntax as written: SQLite FTS5 (phrases, OR, NEAR, prefix*) or PostgreSQL to_tsquery (&, |, !, <->, prefix:*).",
    );
    let mut list_params = vec![q.clone(), fts.clone()];
    list_params.extend(filters());
    list_params.push(param(
        "story",
        "query",
        json!({ "type": "integer", "minimum": 1 }),
        "Only the articles of this story (see /api/v1/stories).",
    ));
    list_params.push(param(
        "tag",
        "query",
        json!({ "type": "string" }),
        "Only the articles a `[[rules]]` tag rule gave this tag (exact).",
    ));
    list_params.push(limit(20));
    list_params.push(param(
        "cursor",
        "query",
        json!({ "type": "string" }),
        "Opaque cursor from `next_cursor` of the previous page.",
    ));
    let mut search_params = vec![q.clone(), fts];
    search_params[0]["required"] = json!(true);
    search_params.extend(filters());
    search_params.push(limit(50));
    let unauthorized = error_response("Missing or wrong bearer token (when `api.token` is set).");
    let bad = error_response("A parameter cannot be used; the message names it.");
    let not_found = error_response("No such resource.");
    let read_only = error_response("`newsd serve` is read-only.");
    let atom = json!({ "application/atom+xml": { "schema": { "type": "string" } } });
    // Separate values: one `json!` of the whole document exceeds the macro's
    // recursion limit.
    let saved_search_paths = json!({
            "/api/v1/searches": {
                "get": {
                    "summary": "Saved searches.",
                    "responses": {
                        "200": json_response("Saved searches.", json!({ "type": "object", "properties": { "searches": { "type": "array", "items": { "$ref": "#/components/schemas/SavedSearch" } } } })),
                        "401": unauthorized,
                    }
                },
                "post": {
                    "summary": "Save a search; it notifies its channels once per story about articles first seen from now on (or any age with `backfill`).",
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/NewSearch" } } } },
                    "responses": {
                        "201": json_response("Saved.", json!({ "type": "object", "properties": { "search": { "$ref": "#/components/schemas/SavedSearch" }, "created": { "type": "boolean" } } })),
                        "200": json_response("A search of that name exists already.", json!({ "type": "object", "properties": { "search": { "$ref": "#/components/schemas/SavedSearch" }, "created": { "type": "boolean" } } })),
                        "400": error_response("The body names no valid search."),
                        "401": unauthorized, "405": read_only,
                    }
                }
            },
            "/api/v1/searches/{id}": {
                "get": {
                    "summary": "One saved search.",
                    "parameters": [id_path.clone()],
                    "responses": {
                        "200": json_response("The search.", json!({ "type": "object", "properties": { "search": { "$ref": "#/components/schemas/SavedSearch" } } })),
                        "400": bad, "401": unauthorized, "404": not_found,
                    }
                },
                "delete": {
                    "summary": "Delete a saved search with its matches. Config searches are refused: remove them from the config.",
                    "parameters": [id_path.clone()],
                    "responses": {
                        "200": json_response("Removed.", json!({ "type": "object" })),
                        "400": bad, "401": unauthorized, "404": not_found, "405": read_only,
                        "409": error_response("The search is managed by the config file."),
                    }
                }
            },
            "/searches/{search_id}.atom": { "get": {
                "summary": "The newest stories a saved search matches (one article each), as Atom.",
                "parameters": [search_id_path.clone(), limit(50)],
                "responses": { "200": { "description": "Atom 1.0, with an ETag.", "content": atom.clone() }, "304": { "description": "Not modified (If-None-Match)." }, "400": bad, "401": unauthorized, "404": not_found }
            }},
            "/searches/{search_id}.json": { "get": {
                "summary": "The newest stories a saved search matches, as JSON Feed 1.1.",
                "parameters": [search_id_path, limit(50)],
                "responses": {
                    "200": { "description": "JSON Feed 1.1, with an ETag.", "content": { "application/feed+json": { "schema": { "type": "object" } } } },
                    "304": { "description": "Not modified (If-None-Match)." },
                    "400": bad, "401": unauthorized, "404": not_found,
                }
            }}
    });
    let saved_search_schemas = json!({
                "NewSearch": {
                    "type": "object",
                    "required": ["name", "query"],
                    "properties": {
                        "name": { "type": "string", "description": "Unique." },
                        "query": { "type": "string", "description": "Plain words (all must occur), or the engine's syntax with `fts`." },
                        "fts": { "type": "boolean" },
                        "feeds": { "type": "array", "items": { "type": "string" }, "description": "Feed ids or URLs." },
                        "publishers": { "type": "array", "items": { "type": "string" } },
                        "lang": { "type": "string" },
                        "channels": { "type": "array", "items": { "type": "string" }, "description": "Names of the config's [[channels]]." },
                        "digest": { "type": "string", "description": "One message per interval, e.g. \"1h\"; unset: one per story." },
                        "backfill": { "type": "boolean" }
                    }
                },
                "SavedSearch": {
                    "type": "object",
                    "properties": {
                        "id": { "type": "integer" },
                        "name": { "type": "string" },
                        "query": { "type": "string" },
                        "fts": { "type": "boolean" },
                        "feeds": { "type": "array", "items": { "type": "integer" } },
                        "publishers": { "type": "array", "items": { "type": "string" } },
                        "lang": { "type": ["string", "null"] },
                        "channels": { "type": "array", "items": { "type": "string" } },
                        "digest_secs": { "type": ["integer", "null"] },
                        "backfill": { "type": "boolean" },
                        "origin": { "type": "string", "enum": ["config", "cli", "api"] },
                        "enabled": { "type": "boolean" },
                        "disabled_reason": { "type": ["string", "null"] },
                        "matches_since": { "type": ["string", "null"], "description": "Articles first seen before this do not notify." },
                        "digest_at": { "type": ["string", "null"] },
                        "created_at": { "type": "string" },
                        "updated_at": { "type": "string" }
                    }
                }
    });
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "newsd",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The archive of a newsd daemon: articles, feeds, feeds out for feed readers, health and metrics. When `api.token` is set every route but /healthz and /readyz needs `Authorization: Bearer <token>`.",
        },
        "security": [ { "bearer": [] } ],
        "paths": {
            "/healthz": { "get": {
                "summary": "Liveness: the process answers.",
                "security": [],
                "responses": { "200": json_response("Alive.", json!({ "type": "object" })) }
            }},
            "/readyz": { "get": {
                "summary": "Readiness: the database answers with the expected schema version.",
                "security": [],
                "responses": {
                    "200": json_response("Ready.", json!({ "type": "object", "properties": { "status": { "type": "string" }, "schema_version": { "type": "integer" } } })),
                    "503": error_response("Database unreachable or at another schema version."),
                }
            }},
            "/metrics": { "get": {
                "summary": "Prometheus metrics (text format), computed from the database at scrape time.",
                "responses": {
                    "200": { "description": "Metrics, every name prefixed `newsd_`.", "content": { "text/plain": { "schema": { "type": "string" } } } },
                    "401": unauthorized,
                }
            }},
            "/api/v1/openapi.json": { "get": {
                "summary": "This document.",
                "responses": { "200": json_response("OpenAPI 3.1.", json!({ "type": "object" })), "401": unauthorized }
            }},
            "/api/v1/articles": { "get": {
                "summary": "Articles, newest first (keyset pagination by first_seen_at, id), or bm25-ranked with `q`.",
                "parameters": list_params,
                "responses": {
                    "200": json_response("A page.", json!({
                        "type": "object",
                        "properties": {
                            "articles": { "type": "array", "items": { "$ref": "#/components/schemas/ArticleItem" } },
                            "next_cursor": { "type": ["string", "null"], "description": "Pass as `cursor` for the next page; null on the last page." }
                        }
                    })),
                    "400": bad, "401": unauthorized,
                }
            }},
            "/api/v1/articles/{id}": { "get": {
                "summary": "Everything stored about one article: text, feed entries, links, Google links, story hints.",
                "parameters": [id_path.clone()],
                "responses": {
                    "200": json_response("The article.", json!({ "type": "object", "properties": { "article": { "$ref": "#/components/schemas/ArticleDetail" } } })),
                    "400": bad, "401": unauthorized, "404": not_found,
                }
            }},
            "/api/v1/stories": { "get": {
                "summary": "Stories (articles about one event: syndicated copies, Google's related coverage, near-identical headlines), newest first by first_seen_at, keyset-paginated.",
                "parameters": [limit(20), param("cursor", "query", json!({ "type": "string" }), "Opaque cursor from `next_cursor` of the previous page.")],
                "responses": {
                    "200": json_response("A page.", json!({
                        "type": "object",
                        "properties": {
                            "stories": { "type": "array", "items": { "$ref": "#/components/schemas/Story" } },
                            "next_cursor": { "type": ["string", "null"], "description": "Pass as `cursor` for the next page; null on the last page." }
                        }
                    })),
                    "400": bad, "401": unauthorized,
                }
            }},
            "/api/v1/stories/{id}": { "get": {
                "summary": "One story with its articles (newest first, up to 100; page through the rest with /api/v1/articles?story={id}).",
                "parameters": [id_path.clone()],
                "responses": {
                    "200": json_response("The story.", json!({ "type": "object", "properties": {
                        "story": { "$ref": "#/components/schemas/Story" },
                        "articles": { "type": "array", "items": { "$ref": "#/components/schemas/ArticleItem" } }
                    } })),
                    "400": bad, "401": unauthorized, "404": not_found,
                }
            }},
            "/api/v1/feeds": {
                "get": {
                    "summary": "Subscriptions with their health.",
                    "responses": {
                        "200": json_response("Feeds.", json!({ "type": "object", "properties": { "feeds": { "type": "array", "items": { "$ref": "#/components/schemas/Feed" } } } })),
                        "401": unauthorized,
                    }
                },
                "post": {
                    "summary": "Subscribe to a feed URL or a Google News feed by intent.",
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/NewFeed" } } } },
                    "responses": {
                        "201": json_response("Subscribed.", json!({ "type": "object", "properties": { "feed": { "$ref": "#/components/schemas/Feed" }, "created": { "type": "boolean" } } })),
                        "200": json_response("Already subscribed.", json!({ "type": "object", "properties": { "feed": { "$ref": "#/components/schemas/Feed" }, "created": { "type": "boolean" } } })),
                        "400": error_response("The body names no valid feed."),
                        "401": unauthorized, "405": read_only,
                    }
                }
            },
            "/api/v1/feeds/{id}": {
                "get": {
                    "summary": "One feed with its health.",
                    "parameters": [id_path.clone()],
                    "responses": {
                        "200": json_response("The feed.", json!({ "type": "object", "properties": { "feed": { "$ref": "#/components/schemas/Feed" } } })),
                        "400": bad, "401": unauthorized, "404": not_found,
                    }
                },
                "delete": {
                    "summary": "Unsubscribe (articles stay in the archive). Config feeds are refused: remove them from the config.",
                    "parameters": [id_path],
                    "responses": {
                        "200": json_response("Removed.", json!({ "type": "object" })),
                        "400": bad, "401": unauthorized, "404": not_found, "405": read_only,
                        "409": error_response("The feed is managed by the config file."),
                    }
                }
            },
            "/feeds/{feed_id}.atom": { "get": {
                "summary": "A feed's newest articles as Atom, for feed readers: link = publisher URL, content = full text or summary.",
                "parameters": [feed_id_path.clone(), limit(50)],
                "responses": { "200": { "description": "Atom 1.0, with an ETag.", "content": atom.clone() }, "304": { "description": "Not modified (If-None-Match)." }, "400": bad, "401": unauthorized, "404": not_found }
            }},
            "/feeds/{feed_id}.json": { "get": {
                "summary": "A feed's newest articles as JSON Feed 1.1.",
                "parameters": [feed_id_path, limit(50)],
                "responses": {
                    "200": { "description": "JSON Feed 1.1, with an ETag.", "content": { "application/feed+json": { "schema": { "type": "object" } } } },
                    "304": { "description": "Not modified (If-None-Match)." },
                    "400": bad, "401": unauthorized, "404": not_found,
                }
            }},
            "/search.atom": { "get": {
                "summary": "The newest articles matching `q`, as Atom.",
                "parameters": search_params,
                "responses": { "200": { "description": "Atom 1.0, with an ETag.", "content": atom }, "304": { "description": "Not modified (If-None-Match)." }, "400": bad, "401": unauthorized }
            }},
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": { "error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {
                            "code": { "type": "string", "examples": ["bad_parameter", "not_found", "unauthorized", "read_only", "config_feed"] },
                            "message": { "type": "string" }
                        }
                    }}
                },
                "Story": {
                    "type": "object",
                    "properties": {
                        "id": { "type": "integer" },
                        "title": { "type": ["string", "null"], "description": "The title of its earliest titled article." },
                        "size": { "type": "integer", "description": "Number of articles." },
                        "first_seen_at": { "type": "string", "format": "date-time" },
                        "updated_at": { "type": "string", "format": "date-time" }
                    }
                },
                "ArticleItem": {
                    "type": "object",
                    "properties": {
                        "id": { "type": "integer" },
                        "url": { "type": ["string", "null"], "description": "The publisher's URL (tracking parameters removed)." },
                        "title": { "type": ["string", "null"] },
                        "summary": { "type": ["string", "null"] },
                        "has_text": { "type": "boolean" },
                        "publisher": { "type": ["string", "null"] },
                        "publisher_url": { "type": ["string", "null"] },
                        "authors": { "type": "array", "items": { "type": "string" } },
                        "published_at": { "type": ["string", "null"], "format": "date-time" },
                        "first_seen_at": { "type": "string", "format": "date-time" },
                        "updated_at": { "type": "string", "format": "date-time" },
                        "feed_ids": { "type": "array", "items": { "type": "integer" } },
                        "story_id": { "type": ["integer", "null"], "description": "The story (GET /api/v1/stories/{id}) it belongs to; null until clustered." },
                        "tags": { "type": "array", "items": { "type": "string" }, "description": "Tags `[[rules]]` gave it, sorted." },
                        "page_kind": { "type": ["string", "null"], "enum": ["article", "live_blog", "listing", "collection", "video", "gallery", "product", "forum", "service", "documentation", "consent_wall", "bot_check", "login_wall", "empty_shell", null], "description": "What its fetched page was; null until a page was extracted." },
                        "snippet": { "type": "string", "description": "With `q`: matched words in [brackets]." },
                        "rank": { "type": "number", "description": "With `q`: bm25 rank, lower is better." }
                    }
                },
                "ArticleDetail": {
                    "type": "object",
                    "description": "Every column of the article's row (newer schemas add more, e.g. lang), then its feed entries, links, Google links and story hints.",
                    "properties": {
                        "id": { "type": "integer" },
                        "url": { "type": ["string", "null"] },
                        "url_key": { "type": "string" },
                        "title": { "type": ["string", "null"] },
                        "summary": { "type": ["string", "null"] },
                        "text": { "type": ["string", "null"] },
                        "publisher": { "type": ["string", "null"] },
                        "publisher_url": { "type": ["string", "null"] },
                        "authors": { "type": "array", "items": { "type": "string" } },
                        "published_at": { "type": ["string", "null"] },
                        "first_seen_at": { "type": "string" },
                        "updated_at": { "type": "string" },
                        "resolution": { "type": ["string", "null"] },
                        "provisional_key": { "type": ["string", "null"] },
                        "story_id": { "type": ["integer", "null"], "description": "The story it belongs to; null until clustered." },
                        "page_kind": { "type": ["string", "null"], "enum": ["article", "live_blog", "listing", "collection", "video", "gallery", "product", "forum", "service", "documentation", "consent_wall", "bot_check", "login_wall", "empty_shell", null], "description": "What its fetched page was; null until a page was extracted. Listing, collection, product, service and documentation pages keep no text, only the summary." },
                        "feeds": { "type": "array", "items": { "type": "object" } },
                        "links": { "type": "array", "items": { "type": "string" } },
                        "google_links": { "type": "array", "items": { "type": "object" }, "description": "Its Google links and how each was placed: status decoded (offline), joined (an article known through a publisher URL, no lookup), resolved (gets: the article-page GETs it cost), failed (last_error), pending." },
                        "story_hints": { "type": "array", "items": { "type": "object" } }
                    }
                },
                "Feed": {
                    "type": "object",
                    "properties": {
                        "id": { "type": "integer" },
                        "url": { "type": "string" },
                        "fetch_url": { "type": "string" },
                        "name": { "type": ["string", "null"] },
                        "title": { "type": ["string", "null"] },
                        "site_url": { "type": ["string", "null"] },
                        "origin": { "type": "string", "enum": ["config", "cli", "opml", "api"] },
                        "enabled": { "type": "boolean" },
                        "disabled_reason": { "type": ["string", "null"] },
                        "interval_secs": { "type": ["integer", "null"] },
                        "current_interval_secs": { "type": ["integer", "null"] },
                        "health": {
                            "type": "object",
                            "properties": {
                                "last_status": { "type": ["string", "null"] },
                                "error_count": { "type": "integer" },
                                "last_error": { "type": ["string", "null"] },
                                "next_poll_at": { "type": "string" },
                                "next_poll_reason": { "type": ["string", "null"] },
                                "retry_after_until": { "type": ["string", "null"] },
                                "last_polled_at": { "type": ["string", "null"] },
                                "last_success_at": { "type": ["string", "null"] }
                            }
                        }
                    }
                },
                "NewFeed": {
                    "type": "object",
                    "description": "The spelling of a config [[feeds]] entry: `url` or `google_news`.",
                    "properties": {
                        "url": { "type": "string" },
                        "google_news": {
                            "type": "object",
                            "description": "One of top, topic, topic_id, geo, search; optional edition (\"en-US\" or { hl, gl, ceid }).",
                            "properties": {
                                "top": { "type": "boolean" },
                                "topic": { "type": "string" },
                                "topic_id": { "type": "string" },
                                "geo": { "type": "string" },
                                "search": { "type": "string" },
                                "edition": {}
                            }
                        },
                        "name": { "type": "string" },
                        "interval": { "type": "string", "description": "Fixed poll interval such as \"30m\"; adaptive when omitted." }
                    }
                }
            }
        }
    });
    if let (Some(paths), Value::Object(more)) = (doc["paths"].as_object_mut(), saved_search_paths) {
        paths.extend(more);
    }
    if let (Some(schemas), Value::Object(more)) = (
        doc["components"]["schemas"].as_object_mut(),
        saved_search_schemas,
    ) {
        schemas.extend(more);
    }
    doc
}
