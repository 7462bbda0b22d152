//! Queries behind the HTTP API (`crate::api`): article pages with keyset
//! pagination, bm25-ranked search pages, one article with everything stored
//! about it, and the numbers `/metrics` reports.

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Column, QueryBuilder, Row, Sqlite, TypeInfo, ValueRef};

use super::search::{is_unspaced_script, like_pattern, quote};
use super::{ts, Result, Store, StoreError};

/// Filters shared by listings, searches and feeds out. `None` = no filter.
#[derive(Debug, Clone, Default)]
pub struct ArticleFilter {
    pub feed_id: Option<i64>,
    /// Exact publisher name, case-insensitive (ASCII).
    pub publisher: Option<String>,
    /// Ignored unless the archive has an `articles.lang` column.
    pub lang: Option<String>,
    /// First seen at or after.
    pub since: Option<DateTime<Utc>>,
    /// First seen before.
    pub until: Option<DateTime<Utc>>,
    pub has_text: Option<bool>,
    /// Members of one story (see [`Store::cluster_pending`]).
    pub story_id: Option<i64>,
}

/// How many matches a search ranks at most: the newest that pass the
/// filters. Ranking costs a bm25 score per candidate, so this bounds a
/// search for a common word; narrower searches (fewer matches, or `since`,
/// `feed`, `publisher` filters) are ranked in full.
pub const SEARCH_CANDIDATES: i64 = 2_000;

/// Below this many items a feed's listing reads the feed's own articles and
/// sorts them (~60 µs each: `first_seen_at` sits past the full text, in
/// overflow pages); above it, it walks the archive newest first (~2 µs per
/// article passed over, 20 × N / items of them). At 1M articles the two
/// meet near 800 items (`examples/api_bench.rs`).
const SMALL_FEED: i64 = 1_000;

/// Where a newest-first page ends: the last row's `(first_seen_at, id)`.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenKey {
    pub first_seen_at: String,
    pub id: i64,
}

/// Where a ranked search page ends: its last article (`id`, and its `rank`
/// then, used only if that article no longer matches). `max_id` is the
/// newest article when the first page was served: later pages never include
/// articles that arrived since, so they cannot push results across pages.
#[derive(Debug, Clone, PartialEq)]
pub struct RankKey {
    pub rank: f64,
    pub id: i64,
    pub max_id: i64,
}

/// How search results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchOrder {
    /// Best bm25 rank first (ties: newest id first), keyset-paginated.
    Rank,
    /// Newest first (feeds out); first page only.
    Newest,
}

#[derive(Debug, Clone)]
pub struct ArticleSearch {
    pub text: String,
    /// Pass `text` to FTS5 as query syntax instead of quoting it as plain words.
    pub fts_syntax: bool,
    pub order: SearchOrder,
}

/// An article as listed: everything but the feed items' details.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ArticleItem {
    pub id: i64,
    pub url: Option<String>,
    pub title: Option<String>,
    pub summary: Option<String>,
    /// The full text, kept for feeds out; lists report `has_text` instead.
    #[serde(skip_serializing)]
    pub text: Option<String>,
    pub has_text: bool,
    pub publisher: Option<String>,
    pub publisher_url: Option<String>,
    pub authors: Vec<String>,
    pub published_at: Option<String>,
    pub first_seen_at: String,
    pub updated_at: String,
    pub feed_ids: Vec<i64>,
    /// The story it belongs to (see [`Store::cluster_pending`]); null until clustered.
    pub story_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rank: Option<f64>,
}

#[derive(sqlx::FromRow)]
struct ArticleItemRow {
    id: i64,
    url: Option<String>,
    title: Option<String>,
    summary: Option<String>,
    text: Option<String>,
    publisher: Option<String>,
    publisher_url: Option<String>,
    authors: String,
    published_at: Option<String>,
    first_seen_at: String,
    updated_at: String,
    feed_ids: Option<String>,
    story_id: Option<i64>,
    snippet: Option<String>,
    rank: Option<f64>,
}

impl From<ArticleItemRow> for ArticleItem {
    fn from(r: ArticleItemRow) -> Self {
        let mut feed_ids: Vec<i64> = r
            .feed_ids
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        feed_ids.sort_unstable();
        ArticleItem {
            id: r.id,
            url: r.url,
            title: r.title,
            summary: r.summary,
            has_text: r.text.is_some(),
            text: r.text,
            publisher: r.publisher,
            publisher_url: r.publisher_url,
            authors: serde_json::from_str(&r.authors).unwrap_or_default(),
            published_at: r.published_at,
            first_seen_at: r.first_seen_at,
            updated_at: r.updated_at,
            feed_ids,
            story_id: r.story_id,
            snippet: r.snippet,
            rank: r.rank,
        }
    }
}

/// One article with everything stored about it: every column of its
/// `articles` row (whatever the schema version adds), then what hangs off it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ArticleDetail {
    /// Column name to value; `authors` as a JSON array.
    #[serde(flatten)]
    pub columns: serde_json::Map<String, serde_json::Value>,
    /// Every feed entry that pointed at this article.
    pub feeds: Vec<ArticleFeedItem>,
    /// The distinct links the feeds gave, as they gave them.
    pub links: Vec<String>,
    pub google_links: Vec<ArticleGoogleLink>,
    /// Other outlets' coverage of the same story (Google's cluster).
    pub story_hints: Vec<StoryHint>,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct ArticleFeedItem {
    pub feed_id: i64,
    pub feed_url: String,
    pub feed_name: Option<String>,
    pub feed_title: Option<String>,
    pub entry_key: String,
    pub guid: Option<String>,
    pub link: Option<String>,
    pub google_id: Option<String>,
    pub first_seen_at: String,
    pub last_seen_at: String,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct ArticleGoogleLink {
    pub google_id: String,
    pub status: String,
    pub publisher_url: Option<String>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub first_seen_at: String,
    pub resolved_at: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct StoryHint {
    pub url: String,
    pub title: Option<String>,
    pub source: Option<String>,
}

/// What `/metrics` reports, computed at scrape time.
#[derive(Debug, Clone, Default)]
pub struct ApiMetrics {
    pub articles: i64,
    pub articles_with_text: i64,
    pub feed_items: i64,
    /// `(status, count)`; disabled feeds count as `disabled`, unpolled ones as `new`.
    pub feeds_by_status: Vec<(String, i64)>,
    pub feeds_failing: i64,
    /// Consecutive errors summed over enabled feeds.
    pub feed_consecutive_errors: i64,
    pub google_links_by_status: Vec<(String, i64)>,
    pub google_gets_total: i64,
    pub google_posts_total: i64,
    pub google_breaker_trips_total: i64,
    pub google_breaker_open_until: Option<String>,
    pub database_bytes: u64,
    pub schema_version: i64,
}

const ITEM_COLUMNS: &str = "a.id, a.url, a.title, a.summary, a.text, a.publisher, a.publisher_url, \
    a.authors, a.published_at, a.first_seen_at, a.updated_at, a.story_id, \
    (SELECT group_concat(DISTINCT fi.feed_id) FROM feed_items fi WHERE fi.article_id = a.id) AS feed_ids";

impl Store {
    /// Whether the archive records article languages (`articles.lang`).
    pub async fn has_lang_column(&self) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pragma_table_info('articles') WHERE name = 'lang'",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// The applied schema (migration) version; 0 before any migration.
    pub async fn schema_version(&self) -> Result<i64> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = 1")
                .fetch_one(&self.pool)
                .await?;
        Ok(v.unwrap_or(0))
    }

    /// The newest article id (0 for an empty archive).
    pub async fn max_article_id(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM articles")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Newest first by `(first_seen_at, id)`, the page after `after`.
    pub async fn list_articles(
        &self,
        filter: &ArticleFilter,
        after: Option<&SeenKey>,
        limit: i64,
    ) -> Result<Vec<ArticleItem>> {
        self.list_articles_with(filter, after, limit, SMALL_FEED)
            .await
    }

    /// [`Store::list_articles`] with the feed size where the plan changes.
    pub(crate) async fn list_articles_with(
        &self,
        filter: &ArticleFilter,
        after: Option<&SeenKey>,
        limit: i64,
        small_feed: i64,
    ) -> Result<Vec<ArticleItem>> {
        let lang = self.lang_filter(filter).await?;
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {ITEM_COLUMNS}, NULL AS snippet, NULL AS rank FROM articles a WHERE 1 = 1"
        ));
        // Two plans for a feed: walking all articles newest first and
        // keeping the feed's costs a probe per article passed over, which
        // for a small or long-quiet feed means most of the archive; reading
        // the feed's own articles and sorting them costs one row each. A
        // bounded count picks the cheaper one.
        let feed = match filter.feed_id {
            Some(f) if self.feed_is_small(f, small_feed).await? => {
                qb.push(
                    " AND a.id IN (SELECT fi.article_id FROM feed_items fi WHERE fi.feed_id = ",
                )
                .push_bind(f)
                .push(")");
                FeedPlan::Done
            }
            _ => FeedPlan::Exists,
        };
        push_filters(&mut qb, filter, lang, feed);
        if let Some(k) = after {
            // The `<=` bound on its own lets SQLite start the index walk at
            // the cursor; with only the OR it walked from the newest row
            // (150-300 ms for a page months back at 1M articles).
            qb.push(" AND a.first_seen_at <= ")
                .push_bind(k.first_seen_at.clone())
                .push(" AND (a.first_seen_at < ")
                .push_bind(k.first_seen_at.clone())
                .push(" OR a.id < ")
                .push_bind(k.id)
                .push(")");
        }
        qb.push(" ORDER BY a.first_seen_at DESC, a.id DESC LIMIT ")
            .push_bind(limit);
        let rows: Vec<ArticleItemRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Full-text search with the same matching as [`Store::search`] (plain
    /// words, CJK through the trigram index or a scan, or raw FTS5 syntax),
    /// ranked by bm25 and paginated by `(rank, id)` within the `max_id`
    /// snapshot of `after` (or ordered newest first, first page only).
    pub async fn search_articles(
        &self,
        search: &ArticleSearch,
        filter: &ArticleFilter,
        after: Option<&RankKey>,
        max_id: i64,
        limit: i64,
    ) -> Result<Vec<ArticleItem>> {
        self.search_articles_within(search, filter, after, max_id, limit, SEARCH_CANDIDATES)
            .await
    }

    /// [`Store::search_articles`] ranking at most `candidates` matches.
    pub(crate) async fn search_articles_within(
        &self,
        search: &ArticleSearch,
        filter: &ArticleFilter,
        after: Option<&RankKey>,
        max_id: i64,
        limit: i64,
        candidates: i64,
    ) -> Result<Vec<ArticleItem>> {
        let tokens: Vec<&str> = search.text.split_whitespace().collect();
        if tokens.is_empty() {
            return Err(StoreError::Query("empty query".into()));
        }
        let lang = self.lang_filter(filter).await?;
        // Which index answers, with which expression, and the tokens left to LIKE.
        let (table, expr, likes): (Option<&str>, String, Vec<String>) = if search.fts_syntax {
            (Some("articles_fts"), search.text.clone(), Vec::new())
        } else if !search.text.chars().any(is_unspaced_script) {
            let expr = tokens
                .iter()
                .map(|t| quote(t))
                .collect::<Vec<_>>()
                .join(" ");
            (Some("articles_fts"), expr, Vec::new())
        } else {
            let (long, short): (Vec<&str>, Vec<&str>) =
                tokens.iter().partition(|t| t.chars().count() >= 3);
            let likes = short.iter().map(|t| like_pattern(t)).collect();
            if long.is_empty() {
                (None, String::new(), likes)
            } else {
                let expr = long.iter().map(|t| quote(t)).collect::<Vec<_>>().join(" ");
                (Some("articles_trigram"), expr, likes)
            }
        };
        // Matches are taken newest first (highest id, which follows first
        // sighting) and only the newest `candidates` of them that pass the
        // filters are ranked (materialized, ids and ranks only): a word in
        // every other article would otherwise cost a bm25 score per match
        // (seconds at a million articles). Searches matching fewer articles
        // are ranked in full. The page's columns and snippets are read for
        // the page alone. A later page starts after the previous page's last
        // article at that article's rank *now*, so a shift of bm25 weights as
        // the archive grows (which moves all ranks alike) carries no result
        // across a page boundary; the `max_id` snapshot keeps the candidate
        // set the same from page to page.
        let mut qb = QueryBuilder::<Sqlite>::new("WITH hits AS MATERIALIZED (");
        // Without filters on article columns the index alone answers: no
        // article row is read per candidate.
        let bare = likes.is_empty()
            && filter.feed_id.is_none()
            && filter.publisher.is_none()
            && lang.is_none()
            && filter.since.is_none()
            && filter.until.is_none()
            && filter.has_text.is_none()
            && filter.story_id.is_none();
        match table {
            Some(t) if bare => {
                qb.push(format!(
                    "SELECT {t}.rowid AS id, bm25({t}, 10.0, 3.0, 1.0) AS rank \
                     FROM {t} WHERE {t} MATCH "
                ));
                qb.push_bind(expr.clone());
                qb.push(format!(" AND {t}.rowid <= "))
                    .push_bind(after.map_or(max_id, |k| k.max_id));
                qb.push(format!(" ORDER BY {t}.rowid DESC LIMIT "))
                    .push_bind(candidates);
            }
            Some(t) => {
                qb.push(format!(
                    "SELECT a.id AS id, bm25({t}, 10.0, 3.0, 1.0) AS rank \
                     FROM {t} JOIN articles a ON a.id = {t}.rowid WHERE {t} MATCH "
                ));
                qb.push_bind(expr.clone());
            }
            None => {
                qb.push("SELECT a.id AS id, 0.0 AS rank FROM articles a WHERE 1 = 1");
            }
        }
        if !(bare && table.is_some()) {
            push_filters(&mut qb, filter, lang, FeedPlan::Exists);
            if table.is_none() {
                // Without an index the words are looked for in the newest
                // `candidates` articles only (LIKE reads every text it tries).
                qb.push(" AND a.id IN (SELECT id FROM articles ORDER BY id DESC LIMIT ")
                    .push_bind(candidates)
                    .push(")");
            }
            for l in likes {
                qb.push(" AND (a.title LIKE ")
                    .push_bind(l.clone())
                    .push(" ESCAPE '\\' OR a.summary LIKE ")
                    .push_bind(l.clone())
                    .push(" ESCAPE '\\' OR a.text LIKE ")
                    .push_bind(l)
                    .push(" ESCAPE '\\')");
            }
            qb.push(" AND a.id <= ")
                .push_bind(after.map_or(max_id, |k| k.max_id));
            match table {
                Some(t) => qb.push(format!(" ORDER BY {t}.rowid DESC LIMIT ")),
                None => qb.push(" ORDER BY a.id DESC LIMIT "),
            };
            qb.push_bind(candidates);
        }
        let snippet = match table {
            Some(_) => "NULL",
            None => "substr(COALESCE(a.title, a.summary, ''), 1, 80)",
        };
        qb.push(format!(
            ") SELECT {ITEM_COLUMNS}, {snippet} AS snippet, hits.rank AS rank \
             FROM hits JOIN articles a ON a.id = hits.id"
        ));
        match search.order {
            SearchOrder::Rank => {
                if let Some(k) = after {
                    // The last article's current rank; the cursor's copy if it
                    // no longer matches (merged away).
                    qb.push(" WHERE (hits.rank, -hits.id) > (COALESCE((SELECT rank FROM hits WHERE id = ")
                        .push_bind(k.id)
                        .push("), ")
                        .push_bind(k.rank)
                        .push("), -")
                        .push_bind(k.id)
                        .push(")");
                }
                qb.push(" ORDER BY hits.rank, hits.id DESC LIMIT ")
                    .push_bind(limit);
            }
            SearchOrder::Newest => {
                qb.push(" ORDER BY a.first_seen_at DESC, a.id DESC LIMIT ")
                    .push_bind(limit);
            }
        }
        let query_error = |e: sqlx::Error| match e {
            sqlx::Error::Database(db) if search.fts_syntax => StoreError::Query(format!(
                "{} (in FTS5 query {:?})",
                db.message(),
                search.text
            )),
            other => other.into(),
        };
        let rows: Vec<ArticleItemRow> = qb
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)?;
        let mut items: Vec<ArticleItem> = rows.into_iter().map(Into::into).collect();
        if let (Some(t), false) = (table, items.is_empty()) {
            let mut sq = QueryBuilder::<Sqlite>::new(format!(
                "SELECT rowid, snippet({t}, -1, '[', ']', '…', 12) FROM {t} WHERE {t} MATCH "
            ));
            sq.push_bind(expr).push(" AND rowid IN (");
            let mut ids = sq.separated(", ");
            for item in &items {
                ids.push_bind(item.id);
            }
            sq.push(")");
            let snippets: Vec<(i64, Option<String>)> = sq
                .build_query_as()
                .fetch_all(&self.pool)
                .await
                .map_err(query_error)?;
            for item in &mut items {
                item.snippet = snippets
                    .iter()
                    .find(|(id, _)| *id == item.id)
                    .and_then(|(_, s)| s.clone());
            }
        }
        Ok(items)
    }

    /// One article with its feed items, Google links and story hints.
    pub async fn article_detail(&self, id: i64) -> Result<Option<ArticleDetail>> {
        let row = sqlx::query("SELECT * FROM articles WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let mut columns = serde_json::Map::new();
        for (i, col) in row.columns().iter().enumerate() {
            columns.insert(col.name().to_owned(), column_json(&row, i)?);
        }
        if let Some(serde_json::Value::String(authors)) = columns.get("authors") {
            let parsed: Vec<String> = serde_json::from_str(authors).unwrap_or_default();
            columns.insert("authors".into(), parsed.into());
        }
        let feeds: Vec<ArticleFeedItem> = sqlx::query_as(
            "SELECT fi.feed_id, f.url AS feed_url, f.name AS feed_name, f.title AS feed_title, \
             fi.entry_key, fi.guid, fi.link, fi.google_id, fi.first_seen_at, fi.last_seen_at \
             FROM feed_items fi JOIN feeds f ON f.id = fi.feed_id \
             WHERE fi.article_id = ? ORDER BY fi.first_seen_at, fi.id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let google_links: Vec<ArticleGoogleLink> = sqlx::query_as(
            "SELECT google_id, status, publisher_url, attempts, last_error, first_seen_at, resolved_at \
             FROM google_links WHERE article_id = ? ORDER BY first_seen_at, google_id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let story_hints: Vec<StoryHint> = sqlx::query_as(
            "SELECT url, title, source FROM story_hints WHERE article_id = ? ORDER BY rowid",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let mut links: Vec<String> = feeds.iter().filter_map(|f| f.link.clone()).collect();
        links.sort();
        links.dedup();
        Ok(Some(ArticleDetail {
            columns,
            feeds,
            links,
            google_links,
            story_hints,
        }))
    }

    /// Everything `/metrics` reports, read in one pass at scrape time.
    pub async fn api_metrics(&self) -> Result<ApiMetrics> {
        let stats = self.stats().await?;
        let feeds_by_status: Vec<(String, i64)> = sqlx::query_as(
            "SELECT CASE WHEN enabled = 0 THEN 'disabled' ELSE COALESCE(last_status, 'new') END AS s, \
             COUNT(*) FROM feeds GROUP BY s ORDER BY s",
        )
        .fetch_all(&self.pool)
        .await?;
        let (feeds_failing, feed_consecutive_errors): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(SUM(error_count > 0), 0), COALESCE(SUM(error_count), 0) \
             FROM feeds WHERE enabled = 1",
        )
        .fetch_one(&self.pool)
        .await?;
        let google_links_by_status: Vec<(String, i64)> = sqlx::query_as(
            "SELECT status, COUNT(*) FROM google_links GROUP BY status ORDER BY status",
        )
        .fetch_all(&self.pool)
        .await?;
        let budget: Option<(i64, i64, i64, Option<String>)> = sqlx::query_as(
            "SELECT gets_total, posts_total, trips, open_until FROM google_budget WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        let (gets, posts, trips, open_until) = budget.unwrap_or_default();
        let schema_version = self.schema_version().await?;
        Ok(ApiMetrics {
            articles: stats.articles,
            articles_with_text: stats.articles_with_text,
            feed_items: stats.feed_items,
            feeds_by_status,
            feeds_failing,
            feed_consecutive_errors,
            google_links_by_status,
            google_gets_total: gets,
            google_posts_total: posts,
            google_breaker_trips_total: trips,
            google_breaker_open_until: open_until,
            database_bytes: stats.database_bytes,
            schema_version,
        })
    }

    /// Whether a feed has fewer than `small` items (counted up to that many
    /// on `feed_items_feed_seen`, so the check stays cheap).
    async fn feed_is_small(&self, feed_id: i64, small: i64) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM feed_items WHERE feed_id = ? LIMIT ?)",
        )
        .bind(feed_id)
        .bind(small)
        .fetch_one(&self.pool)
        .await?;
        Ok(n < small)
    }

    async fn lang_filter<'f>(&self, filter: &'f ArticleFilter) -> Result<Option<&'f str>> {
        match filter.lang.as_deref() {
            Some(l) if self.has_lang_column().await? => Ok(Some(l)),
            _ => Ok(None),
        }
    }
}

/// One column of a row as JSON, by its stored type (SQLite is dynamically
/// typed); blobs as base64.
fn column_json(row: &SqliteRow, i: usize) -> Result<serde_json::Value> {
    use base64::Engine;
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(serde_json::Value::Null);
    }
    Ok(match raw.type_info().name() {
        "INTEGER" => row.try_get::<i64, _>(i)?.into(),
        "REAL" => row.try_get::<f64, _>(i)?.into(),
        "BLOB" => base64::engine::general_purpose::STANDARD
            .encode(row.try_get::<Vec<u8>, _>(i)?)
            .into(),
        _ => row.try_get::<String, _>(i)?.into(),
    })
}

/// How [`push_filters`] applies the feed filter.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FeedPlan {
    /// A probe of the article's feed items (`feed_items_article`).
    Exists,
    /// Already applied by the caller.
    Done,
}

fn push_filters(
    qb: &mut QueryBuilder<'_, Sqlite>,
    f: &ArticleFilter,
    lang: Option<&str>,
    feed_plan: FeedPlan,
) {
    if let Some(story) = f.story_id {
        qb.push(" AND a.story_id = ").push_bind(story);
    }
    if let (Some(feed), FeedPlan::Exists) = (f.feed_id, feed_plan) {
        qb.push(
            " AND EXISTS (SELECT 1 FROM feed_items fi WHERE fi.article_id = a.id AND fi.feed_id = ",
        )
        .push_bind(feed)
        .push(")");
    }
    if let Some(p) = &f.publisher {
        qb.push(" AND a.publisher = ")
            .push_bind(p.clone())
            .push(" COLLATE NOCASE");
    }
    if let Some(l) = lang {
        // Prefix match, so `en` finds `en-US` too.
        qb.push(" AND (a.lang = ")
            .push_bind(l.to_owned())
            .push(" COLLATE NOCASE OR a.lang LIKE ")
            .push_bind(format!("{}-%", l.replace(['%', '_', '\\'], "")))
            .push(")");
    }
    if let Some(s) = f.since {
        qb.push(" AND a.first_seen_at >= ").push_bind(ts(s));
    }
    if let Some(u) = f.until {
        qb.push(" AND a.first_seen_at < ").push_bind(ts(u));
    }
    match f.has_text {
        Some(true) => {
            qb.push(" AND a.text IS NOT NULL");
        }
        Some(false) => {
            qb.push(" AND a.text IS NULL");
        }
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::temp_store;
    use super::super::{FeedUpdate, NewEntry, NewFeed};
    use super::*;

    async fn seed(store: &Store, n: usize, at: DateTime<Utc>) -> i64 {
        let (f, _) = store
            .add_feed(
                &NewFeed {
                    url: "https://f.example/rss".into(),
                    name: None,
                    interval_secs: None,
                },
                "cli",
                at,
            )
            .await
            .unwrap();
        let entries: Vec<NewEntry> = (0..n)
            .map(|i| NewEntry {
                entry_key: format!("{at}-{i}"),
                url: Some(format!("https://n.example/{at}/{i}")),
                url_key: Some(format!("n.example/{at}/{i}")),
                title: Some(format!("Story {i} about chips")),
                summary: Some(if i % 2 == 0 { "chips chips" } else { "chips" }.into()),
                publisher: Some("Example News".into()),
                ..Default::default()
            })
            .collect();
        let u = FeedUpdate {
            last_status: "ok".into(),
            next_poll_at: at,
            polled_at: at,
            fetch_url: "https://f.example/rss".into(),
            ..Default::default()
        };
        store
            .record_poll(f.id, &entries[..], at, move |_| u.clone())
            .await
            .unwrap();
        store.index_pending().await.unwrap();
        f.id
    }

    #[tokio::test]
    async fn keyset_pages_cover_every_article_once_newest_first() {
        let (store, _d) = temp_store().await;
        seed(&store, 7, Utc::now()).await;
        let mut seen = Vec::new();
        let mut after: Option<SeenKey> = None;
        loop {
            let page = store
                .list_articles(&ArticleFilter::default(), after.as_ref(), 3)
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            after = Some(SeenKey {
                first_seen_at: last.first_seen_at.clone(),
                id: last.id,
            });
            seen.extend(page.iter().map(|a| a.id));
        }
        assert_eq!(seen, vec![7, 6, 5, 4, 3, 2, 1]);
    }

    #[tokio::test]
    async fn ranked_search_pages_follow_rank_then_id_within_the_snapshot() {
        let (store, _d) = temp_store().await;
        seed(&store, 6, Utc::now()).await;
        let search = ArticleSearch {
            text: "chips".into(),
            fts_syntax: false,
            order: SearchOrder::Rank,
        };
        let filter = ArticleFilter::default();
        let max_id = store.max_article_id().await.unwrap();
        let all = store
            .search_articles(&search, &filter, None, max_id, 100)
            .await
            .unwrap();
        assert_eq!(all.len(), 6);
        let first = store
            .search_articles(&search, &filter, None, max_id, 4)
            .await
            .unwrap();
        let last = first.last().unwrap();
        let key = RankKey {
            rank: last.rank.unwrap(),
            id: last.id,
            max_id,
        };
        let second = store
            .search_articles(&search, &filter, Some(&key), max_id, 4)
            .await
            .unwrap();
        let ids: Vec<i64> = first.iter().chain(&second).map(|a| a.id).collect();
        assert_eq!(ids, all.iter().map(|a| a.id).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn filters_narrow_listings_and_metrics_count_what_is_stored() {
        let (store, _d) = temp_store().await;
        let feed = seed(&store, 3, Utc::now()).await;
        let f = ArticleFilter {
            feed_id: Some(feed),
            publisher: Some("example news".into()),
            has_text: Some(false),
            ..Default::default()
        };
        assert_eq!(store.list_articles(&f, None, 10).await.unwrap().len(), 3);
        let f = ArticleFilter {
            has_text: Some(true),
            ..Default::default()
        };
        assert!(store.list_articles(&f, None, 10).await.unwrap().is_empty());
        let m = store.api_metrics().await.unwrap();
        assert_eq!(m.articles, 3);
        assert_eq!(m.feeds_by_status, vec![("ok".to_owned(), 1)]);
        let d = store.article_detail(1).await.unwrap().unwrap();
        assert_eq!(d.feeds.len(), 1);
        assert!(store.article_detail(99).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn the_lang_filter_is_ignored_without_a_lang_column_and_matches_prefixes_with_one() {
        let (store, _d) = temp_store().await;
        seed(&store, 3, Utc::now()).await;
        let by_lang = |l: &str| ArticleFilter {
            lang: Some(l.into()),
            ..Default::default()
        };
        if !store.has_lang_column().await.unwrap() {
            let all = store.list_articles(&by_lang("en"), None, 10).await.unwrap();
            assert_eq!(
                all.len(),
                3,
                "ignored while the archive records no language"
            );
            sqlx::query("ALTER TABLE articles ADD COLUMN lang TEXT")
                .execute(store.pool())
                .await
                .unwrap();
        }
        for (id, lang) in [(1, "en-US"), (2, "de")] {
            sqlx::query("UPDATE articles SET lang = ? WHERE id = ?")
                .bind(lang)
                .bind(id)
                .execute(store.pool())
                .await
                .unwrap();
        }
        for (lang, expected) in [
            ("en", vec![1]),
            ("EN-us", vec![1]),
            ("de", vec![2]),
            ("fr", vec![]),
        ] {
            let found = store.list_articles(&by_lang(lang), None, 10).await.unwrap();
            let ids: Vec<i64> = found.iter().map(|a| a.id).collect();
            assert_eq!(ids, expected, "lang={lang}");
        }
    }
    #[tokio::test]
    async fn a_common_word_is_ranked_among_its_newest_matches_and_pages_stay_within_them() {
        let (store, _d) = temp_store().await;
        seed(&store, 6, Utc::now()).await;
        let search = ArticleSearch {
            text: "chips".into(),
            fts_syntax: false,
            order: SearchOrder::Rank,
        };
        let filter = ArticleFilter::default();
        let max_id = store.max_article_id().await.unwrap();
        let all = store
            .search_articles_within(&search, &filter, None, max_id, 100, 100)
            .await
            .unwrap();
        assert_eq!(all.len(), 6, "under the cap every match is ranked");
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .search_articles_within(&search, &filter, after.as_ref(), max_id, 2, 3)
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            after = Some(RankKey {
                rank: last.rank.unwrap(),
                id: last.id,
                max_id,
            });
            seen.extend(page.iter().map(|a| a.id));
        }
        seen.sort_unstable();
        assert_eq!(seen, vec![4, 5, 6], "the three newest matches, once each");
        let newest = ArticleSearch {
            order: SearchOrder::Newest,
            ..search
        };
        let ids: Vec<i64> = store
            .search_articles_within(&newest, &filter, None, i64::MAX, 10, 3)
            .await
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(ids, vec![6, 5, 4]);
    }

    #[tokio::test]
    async fn both_feed_plans_list_the_same_pages() {
        let (store, _d) = temp_store().await;
        let at = Utc::now();
        let first = seed(&store, 5, at).await;
        let (second, _) = store
            .add_feed(
                &NewFeed {
                    url: "https://g.example/rss".into(),
                    name: None,
                    interval_secs: None,
                },
                "cli",
                at,
            )
            .await
            .unwrap();
        // The second feed carries articles 2 and 4 of the first and two of its own.
        let later = at + chrono::Duration::seconds(5);
        let entries: Vec<NewEntry> = [format!("{at}-1"), format!("{at}-3"), "x".into(), "y".into()]
            .iter()
            .map(|k| NewEntry {
                entry_key: format!("g-{k}"),
                url: Some(format!("https://n.example/{k}")),
                url_key: Some(
                    format!("n.example/{k}").replace(&format!("{at}-"), &format!("{at}/")),
                ),
                title: Some(format!("Item {k}")),
                ..Default::default()
            })
            .collect();
        let u = FeedUpdate {
            last_status: "ok".into(),
            next_poll_at: later,
            polled_at: later,
            fetch_url: "https://g.example/rss".into(),
            ..Default::default()
        };
        store
            .record_poll(second.id, &entries[..], later, move |_| u.clone())
            .await
            .unwrap();
        for feed in [first, second.id] {
            let filter = ArticleFilter {
                feed_id: Some(feed),
                ..Default::default()
            };
            let mut pages = Vec::new();
            for small_feed in [1, 1_000] {
                let mut ids = Vec::new();
                let mut after: Option<SeenKey> = None;
                loop {
                    let page = store
                        .list_articles_with(&filter, after.as_ref(), 2, small_feed)
                        .await
                        .unwrap();
                    let Some(last) = page.last() else { break };
                    after = Some(SeenKey {
                        first_seen_at: last.first_seen_at.clone(),
                        id: last.id,
                    });
                    ids.extend(page.iter().map(|a| a.id));
                }
                pages.push(ids);
            }
            assert_eq!(pages[0], pages[1], "feed {feed}");
        }
        let second_ids = {
            let f = ArticleFilter {
                feed_id: Some(second.id),
                ..Default::default()
            };
            store.list_articles(&f, None, 10).await.unwrap()
        };
        let ids: Vec<i64> = second_ids.iter().map(|a| a.id).collect();
        assert_eq!(
            ids,
            vec![7, 6, 4, 2],
            "own items first (seen later), then the shared ones"
        );
    }
}
