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

/// Below this many articles a feed's (or a language's) listing reads its own
/// articles and sorts them by an index probe each; above it, the listing
/// walks the archive newest first with a probe per article passed over, 20 ×
/// archive / set size of them. Measured at 1M articles on the loaded 2-core
/// machine (`examples/api_bench.rs`): ~3 µs a sorted article, ~5 µs an
/// article passed over, so the two meet near 5,000.
const SMALL_LIST: i64 = 5_000;

/// Below this many articles a feed's (a language's, a publisher's) search
/// checks each match against the set of its articles (~0.3 µs a match,
/// after ~1 µs an article to collect the set); above it, by a probe of the
/// match's feed items or of the filter index (~1-5 µs a match). Either stops
/// at the newest `SEARCH_CANDIDATES` that pass, which a big feed reaches
/// after few matches, and a small one never: a broad word in a 1,700-item
/// feed walks all 460,000 matches at 1M.
const SMALL_SEARCH: i64 = 10_000;

/// `since` bounds the ids a search walks when at most this many articles
/// were first seen since then (counting them scans `articles_first_seen`,
/// ~0.5 µs each). With more, each match older than `since` costs a probe
/// (~3 µs) and the walk stops at `SEARCH_CANDIDATES` matches within.
const SINCE_SCAN: i64 = 20_000;

/// The sizes where query plans change; tests shrink them to reach every plan
/// with a few articles.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plans {
    /// Matches ranked at most ([`SEARCH_CANDIDATES`]).
    pub candidates: i64,
    /// See [`SMALL_LIST`].
    pub small_list: i64,
    /// See [`SMALL_SEARCH`].
    pub small_search: i64,
    /// See [`SINCE_SCAN`].
    pub since_scan: i64,
}

const PLANS: Plans = Plans {
    candidates: SEARCH_CANDIDATES,
    small_list: SMALL_LIST,
    small_search: SMALL_SEARCH,
    since_scan: SINCE_SCAN,
};

/// What a listed article carries of its full text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemText {
    /// Only whether it has one (`has_text`): the text is not read.
    Flag,
    /// The text itself too (feeds out).
    Full,
}

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
    /// What the articles found carry of their full text.
    pub item_text: ItemText,
}

/// An article as listed: everything but the feed items' details.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ArticleItem {
    pub id: i64,
    pub url: Option<String>,
    pub title: Option<String>,
    pub summary: Option<String>,
    /// The full text, read for feeds out only ([`ItemText::Full`]); lists
    /// report `has_text` instead.
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
    has_text: bool,
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
            has_text: r.has_text,
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
    /// The Google id of `link`, when the article has a Google link of it.
    #[sqlx(skip)]
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
        text: ItemText,
    ) -> Result<Vec<ArticleItem>> {
        self.list_articles_with(filter, after, limit, text, PLANS)
            .await
    }

    /// [`Store::list_articles`] with the sizes where plans change.
    pub(crate) async fn list_articles_with(
        &self,
        filter: &ArticleFilter,
        after: Option<&SeenKey>,
        limit: i64,
        text: ItemText,
        plans: Plans,
    ) -> Result<Vec<ArticleItem>> {
        let plan = self
            .filter_plan(filter, plans.small_list, Query::List)
            .await?;
        // The page's ids first, its columns after: ordering rows read from a
        // small set (a feed's, a language's) sorts them, and SQLite reads a
        // sorted row's every column before sorting.
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {}, NULL AS snippet, NULL AS rank FROM articles a WHERE a.id IN (",
            item_columns(text)
        ));
        // Two plans: walking all articles newest first and keeping the
        // filter's costs a probe per article passed over, which for a small
        // feed or a rare language means most of the archive; reading the small
        // set and sorting it by the index holding `first_seen_at` costs an
        // index probe per article in it. A bounded count picked one.
        match plan.driver {
            Some(_) => {
                qb.push(format!(
                    "SELECT a.id FROM articles a INDEXED BY {FILTER_INDEX} WHERE 1 = 1"
                ));
                push_driver(&mut qb, &plan, "a.id");
            }
            None => {
                qb.push("SELECT a.id FROM articles a WHERE 1 = 1");
            }
        }
        push_filters(&mut qb, &plan, "a.id", Seen::Column);
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
            .push_bind(limit)
            .push(") ORDER BY a.first_seen_at DESC, a.id DESC");
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
        self.search_articles_with(search, filter, after, max_id, limit, PLANS)
            .await
    }

    /// [`Store::search_articles`] with the sizes where plans change.
    pub(crate) async fn search_articles_with(
        &self,
        search: &ArticleSearch,
        filter: &ArticleFilter,
        after: Option<&RankKey>,
        max_id: i64,
        limit: i64,
        plans: Plans,
    ) -> Result<Vec<ArticleItem>> {
        let tokens: Vec<&str> = search.text.split_whitespace().collect();
        if tokens.is_empty() {
            return Err(StoreError::Query("empty query".into()));
        }
        let plan = self
            .filter_plan(filter, plans.small_search, Query::Search)
            .await?;
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
        // Ids follow first sighting closely but not exactly (a merged
        // article keeps the earlier sighting of the two), so `since` bounds
        // the ids searched only through the smallest id first seen since
        // then, and each candidate's `first_seen_at` is still checked.
        let since_id = match filter.since {
            Some(s) => self.first_id_since(&ts(s), plans.since_scan).await?,
            None => None,
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
        // A candidate's article row (columns stored past its full text) is
        // read only for filters on those columns.
        let row = !likes.is_empty() || plan.needs_row();
        let id = match table {
            Some(t) => {
                qb.push(format!(
                    "SELECT {t}.rowid AS id, bm25({t}, 10.0, 3.0, 1.0) AS rank FROM {t}"
                ));
                if row {
                    qb.push(format!(" JOIN articles a ON a.id = {t}.rowid"));
                }
                qb.push(format!(" WHERE {t} MATCH "));
                qb.push_bind(expr.clone());
                format!("{t}.rowid")
            }
            None => {
                // Without an index the words are looked for in the newest
                // `candidates` articles only (LIKE reads every text it tries).
                qb.push(
                    "SELECT a.id AS id, 0.0 AS rank FROM articles a \
                     WHERE a.id IN (SELECT id FROM articles ORDER BY id DESC LIMIT ",
                )
                .push_bind(plans.candidates)
                .push(")");
                "a.id".to_owned()
            }
        };
        qb.push(format!(" AND {id} <= "))
            .push_bind(after.map_or(max_id, |k| k.max_id));
        if let Some(lo) = since_id {
            qb.push(format!(" AND {id} >= ")).push_bind(lo);
        }
        // The small set is tested for membership (`+` keeps SQLite from
        // handing it to FTS5 as one rowid lookup per member: each walks the
        // word's doclist, ~12 ms for a common word at 1M articles).
        push_driver(&mut qb, &plan, &format!("+{id}"));
        push_filters(&mut qb, &plan, &id, Seen::Probe);
        for l in likes {
            qb.push(" AND (a.title LIKE ")
                .push_bind(l.clone())
                .push(" ESCAPE '\\' OR a.summary LIKE ")
                .push_bind(l.clone())
                .push(" ESCAPE '\\' OR a.text LIKE ")
                .push_bind(l)
                .push(" ESCAPE '\\')");
        }
        qb.push(format!(" ORDER BY {id} DESC LIMIT "))
            .push_bind(plans.candidates);
        // The page's ids, then its columns (SQLite would read every
        // candidate's columns before sorting them).
        qb.push("), page AS MATERIALIZED (");
        match search.order {
            SearchOrder::Rank => {
                qb.push("SELECT id, rank FROM hits");
                if let Some(k) = after {
                    // The last article's current rank; the cursor's copy if it
                    // no longer matches (merged away).
                    qb.push(" WHERE (rank, -id) > (COALESCE((SELECT rank FROM hits WHERE id = ")
                        .push_bind(k.id)
                        .push("), ")
                        .push_bind(k.rank)
                        .push("), -")
                        .push_bind(k.id)
                        .push(")");
                }
                qb.push(" ORDER BY rank, id DESC LIMIT ").push_bind(limit);
            }
            SearchOrder::Newest => {
                qb.push(format!(
                    "SELECT hits.id, hits.rank FROM hits \
                     CROSS JOIN articles s INDEXED BY {FILTER_INDEX} ON s.id = hits.id \
                     ORDER BY s.first_seen_at DESC, s.id DESC LIMIT "
                ))
                .push_bind(limit);
            }
        }
        let snippet = match table {
            Some(_) => "NULL",
            None => "substr(COALESCE(a.title, a.summary, ''), 1, 80)",
        };
        qb.push(format!(
            ") SELECT {}, {snippet} AS snippet, page.rank AS rank \
             FROM page JOIN articles a ON a.id = page.id",
            item_columns(search.item_text)
        ));
        qb.push(match search.order {
            SearchOrder::Rank => " ORDER BY page.rank, page.id DESC",
            SearchOrder::Newest => " ORDER BY a.first_seen_at DESC, a.id DESC",
        });
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
        let first = items.iter().map(|i| i.id).min();
        let last = items.iter().map(|i| i.id).max();
        if let (Some(t), Some(first), Some(last)) = (table, first, last) {
            // The page's ids bound the part of the word's doclist walked, and
            // are tested for membership: FTS5 looks up each of `rowid IN
            // (...)` by walking the doclist (~0.3 ms a page article for a rare
            // word, ~12 ms for a common one at 1M articles).
            let mut sq = QueryBuilder::<Sqlite>::new(format!(
                "SELECT rowid, snippet({t}, -1, '[', ']', '…', 12) FROM {t} WHERE {t} MATCH "
            ));
            sq.push_bind(expr)
                .push(" AND rowid >= ")
                .push_bind(first)
                .push(" AND rowid <= ")
                .push_bind(last)
                .push(" AND +rowid IN (");
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
        let mut feeds: Vec<ArticleFeedItem> = sqlx::query_as(
            "SELECT fi.feed_id, f.url AS feed_url, f.name AS feed_name, f.title AS feed_title, \
             fi.entry_key, fi.guid, fi.link, fi.first_seen_at, fi.last_seen_at \
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
        for item in &mut feeds {
            item.google_id = item.link.as_deref().and_then(|link| {
                google_links
                    .iter()
                    .find(|g| super::google::link_names_id(link, &g.google_id))
                    .map(|g| g.google_id.clone())
            });
        }
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

    /// How a request's filters are applied: the language filter only where
    /// the archive records languages, and the small set (a feed's articles,
    /// a language's, for a search a publisher's) that drives the query, if a
    /// filter has one. Listings by publisher walk their own index in order.
    async fn filter_plan<'f>(
        &self,
        filter: &'f ArticleFilter,
        small: i64,
        query: Query,
    ) -> Result<FilterPlan<'f>> {
        let lang = self.lang_filter(filter).await?;
        let publisher = filter
            .publisher
            .as_deref()
            .filter(|_| query == Query::Search);
        let feed_is_small = |f: i64| {
            self.fewer_than(small, move |qb| {
                qb.push("feed_items WHERE feed_id = ").push_bind(f);
            })
        };
        let lang_is_small = |l: &str| {
            let l = l.to_owned();
            self.fewer_than(small, move |qb| {
                qb.push("articles l WHERE ");
                push_lang(qb, &l);
            })
        };
        let publisher_is_small = |p: &str| {
            let p = p.to_owned();
            self.fewer_than(small, move |qb| {
                qb.push("articles WHERE publisher = ")
                    .push_bind(p)
                    .push(" COLLATE NOCASE");
            })
        };
        let driver = match filter.feed_id {
            Some(f) if feed_is_small(f).await? => Some(Driver::Feed(f)),
            _ => match (lang, publisher) {
                (Some(l), _) if lang_is_small(l).await? => Some(Driver::Lang),
                (_, Some(p)) if publisher_is_small(p).await? => Some(Driver::Publisher),
                _ => None,
            },
        };
        Ok(FilterPlan {
            filter,
            lang,
            driver,
        })
    }

    /// Whether fewer than `small` rows are in the set `from_where` names (a
    /// table and its condition): counted up to `small` only, on the index
    /// that serves the condition (`feed_items_feed_seen`,
    /// `articles_publisher_seen`, `articles_lang_seen`), so the check stays
    /// cheap however large the set.
    async fn fewer_than(
        &self,
        small: i64,
        from_where: impl FnOnce(&mut QueryBuilder<'_, Sqlite>),
    ) -> Result<bool> {
        let mut qb = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM (SELECT 1 FROM ");
        from_where(&mut qb);
        qb.push(" LIMIT ").push_bind(small).push(")");
        let n: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
        Ok(n < small)
    }

    /// The smallest id among the articles first seen at or after `since`, if
    /// at most `scan` of them were (counted on `articles_first_seen`);
    /// `i64::MAX` when none were.
    async fn first_id_since(&self, since: &str, scan: i64) -> Result<Option<i64>> {
        let (n, first): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(id) FROM \
             (SELECT id FROM articles WHERE first_seen_at >= ? LIMIT ?)",
        )
        .bind(since)
        .bind(scan.saturating_add(1))
        .fetch_one(&self.pool)
        .await?;
        Ok((n <= scan).then(|| first.unwrap_or(i64::MAX)))
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

/// The index of `(id, first_seen_at, lang, publisher)` (migration 0009):
/// those columns sit past the full text in an article's row.
const FILTER_INDEX: &str = "articles_filter_columns";

/// How a request's filters are applied (see [`Store::filter_plan`]).
struct FilterPlan<'f> {
    filter: &'f ArticleFilter,
    /// The language filter, when the archive records languages.
    lang: Option<&'f str>,
    driver: Option<Driver>,
}

impl FilterPlan<'_> {
    /// Whether a filter reads columns only the article's row holds.
    fn needs_row(&self) -> bool {
        self.filter.has_text.is_some() || self.filter.story_id.is_some()
    }
}

/// The small set of articles a query starts from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Driver {
    /// The feed's items.
    Feed(i64),
    /// The language's articles.
    Lang,
    /// The publisher's articles.
    Publisher,
}

/// Which query a plan is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Query {
    List,
    Search,
}

/// Where a query reads `first_seen_at` for `since`/`until`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// `a.first_seen_at`: the index the query walks holds it.
    Column,
    /// A probe of [`FILTER_INDEX`] by id (search candidates).
    Probe,
}

/// The article columns a listed article carries.
fn item_columns(text: ItemText) -> String {
    let text = match text {
        ItemText::Flag => "NULL",
        ItemText::Full => "a.text",
    };
    format!(
        "a.id, a.url, a.title, a.summary, a.text IS NOT NULL AS has_text, {text} AS text, \
         a.publisher, a.publisher_url, a.authors, a.published_at, a.first_seen_at, a.updated_at, \
         a.story_id, (SELECT group_concat(DISTINCT fi.feed_id) FROM feed_items fi \
         WHERE fi.article_id = a.id) AS feed_ids"
    )
}

/// `lang` matches a language tag or its prefix, so `en` finds `en-US` too
/// (case-insensitive): on alias `l`.
fn push_lang(qb: &mut QueryBuilder<'_, Sqlite>, lang: &str) {
    qb.push("(l.lang = ")
        .push_bind(lang.to_owned())
        .push(" COLLATE NOCASE OR l.lang LIKE ")
        .push_bind(format!("{}-%", lang.replace(['%', '_', '\\'], "")))
        .push(")");
}

/// Restricts `id` to the plan's small set, if it has one.
fn push_driver(qb: &mut QueryBuilder<'_, Sqlite>, plan: &FilterPlan<'_>, id: &str) {
    match (plan.driver, plan.lang) {
        (Some(Driver::Feed(feed)), _) => {
            qb.push(format!(
                " AND {id} IN (SELECT fi.article_id FROM feed_items fi WHERE fi.feed_id = "
            ))
            .push_bind(feed)
            .push(")");
        }
        (Some(Driver::Lang), Some(lang)) => {
            qb.push(format!(" AND {id} IN (SELECT l.id FROM articles l WHERE "));
            push_lang(qb, lang);
            qb.push(")");
        }
        (Some(Driver::Publisher), _) => {
            if let Some(p) = &plan.filter.publisher {
                qb.push(format!(
                    " AND {id} IN (SELECT p.id FROM articles p WHERE p.publisher = "
                ))
                .push_bind(p.clone())
                .push(" COLLATE NOCASE)");
            }
        }
        _ => {}
    }
}

/// The plan's filters on the article `id`, but the small set [`push_driver`]
/// applies. `first_seen_at`, `lang` and `publisher` are stored past the full
/// text in an article's row: a listing (`Seen::Column`) walks an index that
/// holds the first (or both first and last, for a publisher), a search
/// candidate is checked by one probe of [`FILTER_INDEX`] instead.
fn push_filters(qb: &mut QueryBuilder<'_, Sqlite>, plan: &FilterPlan<'_>, id: &str, seen: Seen) {
    let f = plan.filter;
    if let Some(story) = f.story_id {
        qb.push(" AND a.story_id = ").push_bind(story);
    }
    if let (Some(feed), false) = (f.feed_id, matches!(plan.driver, Some(Driver::Feed(_)))) {
        qb.push(format!(
            " AND EXISTS (SELECT 1 FROM feed_items fi WHERE fi.article_id = {id} AND fi.feed_id = "
        ))
        .push_bind(feed)
        .push(")");
    }
    let (times, publisher) = match seen {
        Seen::Column => {
            if let Some(p) = &f.publisher {
                qb.push(" AND a.publisher = ")
                    .push_bind(p.clone())
                    .push(" COLLATE NOCASE");
            }
            if let Some(s) = f.since {
                qb.push(" AND a.first_seen_at >= ").push_bind(ts(s));
            }
            if let Some(u) = f.until {
                qb.push(" AND a.first_seen_at < ").push_bind(ts(u));
            }
            (false, None)
        }
        Seen::Probe => (
            f.since.is_some() || f.until.is_some(),
            f.publisher
                .as_deref()
                .filter(|_| plan.driver != Some(Driver::Publisher)),
        ),
    };
    let lang = plan.lang.filter(|_| plan.driver != Some(Driver::Lang));
    if times || publisher.is_some() || lang.is_some() {
        qb.push(format!(
            " AND EXISTS (SELECT 1 FROM articles l INDEXED BY {FILTER_INDEX} WHERE l.id = {id}"
        ));
        if times {
            if let Some(s) = f.since {
                qb.push(" AND l.first_seen_at >= ").push_bind(ts(s));
            }
            if let Some(u) = f.until {
                qb.push(" AND l.first_seen_at < ").push_bind(ts(u));
            }
        }
        if let Some(p) = publisher {
            qb.push(" AND l.publisher = ")
                .push_bind(p.to_owned())
                .push(" COLLATE NOCASE");
        }
        if let Some(l) = lang {
            qb.push(" AND ");
            push_lang(qb, l);
        }
        qb.push(")");
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

    /// Adds the feed `url` and records one poll of it at `at` showing `entries`.
    async fn feed_with(store: &Store, url: &str, entries: Vec<NewEntry>, at: DateTime<Utc>) -> i64 {
        let (f, _) = store
            .add_feed(
                &NewFeed {
                    url: url.into(),
                    name: None,
                    interval_secs: None,
                },
                "cli",
                at,
            )
            .await
            .unwrap();
        let u = FeedUpdate {
            last_status: "ok".into(),
            next_poll_at: at,
            polled_at: at,
            fetch_url: url.into(),
            ..Default::default()
        };
        store
            .record_poll(f.id, entries, at, u.clone())
            .await
            .unwrap();
        f.id
    }

    async fn seed(store: &Store, n: usize, at: DateTime<Utc>) -> i64 {
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
        let f = feed_with(store, "https://f.example/rss", entries, at).await;
        store.index_pending().await.unwrap();
        f
    }

    #[tokio::test]
    async fn keyset_pages_cover_every_article_once_newest_first() {
        let (store, _d) = temp_store().await;
        seed(&store, 7, Utc::now()).await;
        let mut seen = Vec::new();
        let mut after: Option<SeenKey> = None;
        loop {
            let page = store
                .list_articles(&ArticleFilter::default(), after.as_ref(), 3, ItemText::Flag)
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
            item_text: ItemText::Flag,
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
        assert_eq!(
            store
                .list_articles(&f, None, 10, ItemText::Flag)
                .await
                .unwrap()
                .len(),
            3
        );
        let f = ArticleFilter {
            has_text: Some(true),
            ..Default::default()
        };
        assert!(store
            .list_articles(&f, None, 10, ItemText::Flag)
            .await
            .unwrap()
            .is_empty());
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
            let all = store
                .list_articles(&by_lang("en"), None, 10, ItemText::Flag)
                .await
                .unwrap();
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
            let found = store
                .list_articles(&by_lang(lang), None, 10, ItemText::Flag)
                .await
                .unwrap();
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
            item_text: ItemText::Flag,
        };
        let filter = ArticleFilter::default();
        let max_id = store.max_article_id().await.unwrap();
        let all = store
            .search_articles_with(
                &search,
                &filter,
                None,
                max_id,
                100,
                Plans {
                    candidates: 100,
                    ..PLANS
                },
            )
            .await
            .unwrap();
        assert_eq!(all.len(), 6, "under the cap every match is ranked");
        let mut seen = search_pages(
            &store,
            "chips",
            &filter,
            Plans {
                candidates: 3,
                ..PLANS
            },
        )
        .await;
        seen.sort_unstable();
        assert_eq!(seen, vec![4, 5, 6], "the three newest matches, once each");
        let newest = ArticleSearch {
            order: SearchOrder::Newest,
            ..search
        };
        let ids: Vec<i64> = store
            .search_articles_with(
                &newest,
                &filter,
                None,
                i64::MAX,
                10,
                Plans {
                    candidates: 3,
                    ..PLANS
                },
            )
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
        let second = feed_with(&store, "https://g.example/rss", entries, later).await;
        for feed in [first, second] {
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
                        .list_articles_with(
                            &filter,
                            after.as_ref(),
                            2,
                            ItemText::Flag,
                            Plans {
                                small_list: small_feed,
                                ..PLANS
                            },
                        )
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
                feed_id: Some(second),
                ..Default::default()
            };
            store
                .list_articles(&f, None, 10, ItemText::Flag)
                .await
                .unwrap()
        };
        let ids: Vec<i64> = second_ids.iter().map(|a| a.id).collect();
        assert_eq!(
            ids,
            vec![7, 6, 4, 2],
            "own items first (seen later), then the shared ones"
        );
    }

    /// Every page of a ranked search, in order.
    async fn search_pages(
        store: &Store,
        text: &str,
        filter: &ArticleFilter,
        plans: Plans,
    ) -> Vec<i64> {
        let search = ArticleSearch {
            text: text.into(),
            fts_syntax: false,
            order: SearchOrder::Rank,
            item_text: ItemText::Flag,
        };
        let max_id = store.max_article_id().await.unwrap();
        let mut ids = Vec::new();
        let mut after: Option<RankKey> = None;
        loop {
            let page = store
                .search_articles_with(&search, filter, after.as_ref(), max_id, 2, plans)
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            after = Some(RankKey {
                rank: last.rank.unwrap(),
                id: last.id,
                max_id,
            });
            ids.extend(page.iter().map(|a| a.id));
        }
        ids
    }

    /// Every page of a listing, in order.
    async fn list_pages(store: &Store, filter: &ArticleFilter, plans: Plans) -> Vec<i64> {
        let mut ids = Vec::new();
        let mut after: Option<SeenKey> = None;
        loop {
            let page = store
                .list_articles_with(filter, after.as_ref(), 2, ItemText::Flag, plans)
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            after = Some(SeenKey {
                first_seen_at: last.first_seen_at.clone(),
                id: last.id,
            });
            ids.extend(page.iter().map(|a| a.id));
        }
        ids
    }

    #[tokio::test]
    async fn a_search_in_a_small_feed_finds_what_walking_the_matches_finds() {
        let (store, _d) = temp_store().await;
        let at = Utc::now();
        seed(&store, 6, at).await;
        // Articles 2 and 4 of the first feed (one twice), and two of its own.
        let later = at + chrono::Duration::seconds(5);
        let entry = |key: &str, url_key: String, title: &str| NewEntry {
            entry_key: key.into(),
            url: Some(format!("https://{url_key}")),
            url_key: Some(url_key),
            title: Some(title.into()),
            ..Default::default()
        };
        let entries = [
            entry("g1", format!("n.example/{at}/1"), "Story 1 about chips"),
            entry(
                "g1-again",
                format!("n.example/{at}/1"),
                "Story 1 about chips",
            ),
            entry("g3", format!("n.example/{at}/3"), "Story 3 about chips"),
            entry("x", "n.example/x".into(), "Chips and more chips"),
            entry("y", "n.example/y".into(), "Nothing to see"),
        ];
        let second = feed_with(&store, "https://g.example/rss", entries.to_vec(), later).await;
        store.index_pending().await.unwrap();
        let filter = ArticleFilter {
            feed_id: Some(second),
            ..Default::default()
        };
        for candidates in [2, 100] {
            let walked = search_pages(
                &store,
                "chips",
                &filter,
                Plans {
                    candidates,
                    small_search: 1,
                    ..PLANS
                },
            )
            .await;
            let from_feed = search_pages(
                &store,
                "chips",
                &filter,
                Plans {
                    candidates,
                    small_search: 1_000,
                    ..PLANS
                },
            )
            .await;
            assert_eq!(walked, from_feed, "{candidates} candidates");
            let mut found = from_feed.clone();
            found.sort_unstable();
            let expected = if candidates == 2 {
                vec![4, 7]
            } else {
                vec![2, 4, 7]
            };
            assert_eq!(found, expected, "{candidates} candidates");
        }
    }

    #[tokio::test]
    async fn since_bounds_a_search_by_id_yet_articles_seen_out_of_id_order_are_judged_by_their_time(
    ) {
        let (store, _d) = temp_store().await;
        let at = Utc::now();
        seed(&store, 6, at).await;
        // Article 5 kept an earlier sighting (as a merge does); articles 2 and
        // 4 were stored while the clock was ahead, so the first article in
        // time order since `at` + 30 min is not the one with the smallest id.
        for (id, seen) in [
            (5, at - chrono::Duration::hours(2)),
            (2, at + chrono::Duration::hours(1)),
            (4, at + chrono::Duration::minutes(40)),
        ] {
            sqlx::query("UPDATE articles SET first_seen_at = ? WHERE id = ?")
                .bind(ts(seen))
                .bind(id)
                .execute(store.pool())
                .await
                .unwrap();
        }
        for (since, expected) in [
            (at + chrono::Duration::minutes(30), vec![2, 4]),
            (at - chrono::Duration::hours(1), vec![1, 2, 3, 4, 6]),
            (at - chrono::Duration::hours(3), vec![1, 2, 3, 4, 5, 6]),
            (at + chrono::Duration::hours(2), vec![]),
        ] {
            let filter = ArticleFilter {
                since: Some(since),
                ..Default::default()
            };
            let mut listed = list_pages(&store, &filter, PLANS).await;
            listed.sort_unstable();
            assert_eq!(listed, expected, "listing since {since}");
            for since_scan in [0, 1_000] {
                let plans = Plans {
                    since_scan,
                    ..PLANS
                };
                let mut found = search_pages(&store, "chips", &filter, plans).await;
                found.sort_unstable();
                assert_eq!(found, expected, "search since {since}, scan {since_scan}");
            }
        }
    }

    #[tokio::test]
    async fn both_language_plans_list_and_search_the_same_pages() {
        let (store, _d) = temp_store().await;
        seed(&store, 6, Utc::now()).await;
        for (id, lang) in [(1, "en"), (2, "en-GB"), (3, "ja"), (5, "EN-us"), (6, "de")] {
            sqlx::query("UPDATE articles SET lang = ? WHERE id = ?")
                .bind(lang)
                .bind(id)
                .execute(store.pool())
                .await
                .unwrap();
        }
        for (lang, expected) in [
            ("en", vec![5, 2, 1]),
            ("EN", vec![5, 2, 1]),
            ("ja", vec![3]),
            ("fr", vec![]),
        ] {
            let filter = ArticleFilter {
                lang: Some(lang.into()),
                ..Default::default()
            };
            for small_set in [1, 1_000] {
                let plans = Plans {
                    small_list: small_set,
                    small_search: small_set,
                    ..PLANS
                };
                assert_eq!(
                    list_pages(&store, &filter, plans).await,
                    expected,
                    "listing lang={lang}, small set {small_set}"
                );
                let mut found = search_pages(&store, "chips", &filter, plans).await;
                found.sort_unstable_by(|a, b| b.cmp(a));
                assert_eq!(found, expected, "search lang={lang}, small set {small_set}");
            }
        }
    }

    #[tokio::test]
    async fn pages_say_whether_an_article_has_text_and_only_feeds_out_read_it() {
        let (store, _d) = temp_store().await;
        seed(&store, 3, Utc::now()).await;
        sqlx::query("UPDATE articles SET text = 'The full story about chips.' WHERE id = 2")
            .execute(store.pool())
            .await
            .unwrap();
        store.index_pending().await.unwrap();
        let filter = ArticleFilter::default();
        for text in [ItemText::Flag, ItemText::Full] {
            let search = ArticleSearch {
                text: "chips".into(),
                fts_syntax: false,
                order: SearchOrder::Newest,
                item_text: text,
            };
            let listed = store.list_articles(&filter, None, 10, text).await.unwrap();
            let found = store
                .search_articles(&search, &filter, None, i64::MAX, 10)
                .await
                .unwrap();
            for items in [listed, found] {
                let ids: Vec<i64> = items.iter().map(|a| a.id).collect();
                assert_eq!(ids, vec![3, 2, 1], "{text:?}");
                let flags: Vec<bool> = items.iter().map(|a| a.has_text).collect();
                assert_eq!(flags, vec![false, true, false], "{text:?}");
                let full = items[1].text.as_deref();
                match text {
                    ItemText::Flag => assert_eq!(full, None),
                    ItemText::Full => assert_eq!(full, Some("The full story about chips.")),
                }
            }
        }
    }

    #[tokio::test]
    async fn a_search_by_publisher_finds_its_articles_whatever_the_case() {
        let (store, _d) = temp_store().await;
        seed(&store, 3, Utc::now()).await;
        sqlx::query("UPDATE articles SET publisher = 'Other Wire' WHERE id = 2")
            .execute(store.pool())
            .await
            .unwrap();
        for (publisher, expected) in [
            ("example news", vec![3, 1]),
            ("OTHER WIRE", vec![2]),
            ("nobody", vec![]),
        ] {
            let filter = ArticleFilter {
                publisher: Some(publisher.into()),
                ..Default::default()
            };
            for small_search in [1, 1_000] {
                let plans = Plans {
                    small_search,
                    ..PLANS
                };
                let mut found = search_pages(&store, "chips", &filter, plans).await;
                found.sort_unstable_by(|a, b| b.cmp(a));
                assert_eq!(
                    found, expected,
                    "search {publisher}, small set {small_search}"
                );
            }
            let listed = list_pages(&store, &filter, PLANS).await;
            assert_eq!(listed, expected, "listing {publisher}");
        }
    }
}
