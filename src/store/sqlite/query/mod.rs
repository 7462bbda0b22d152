//! The SQL behind listing and search (`query.rs`): article pages with keyset
//! pagination, bm25-ranked search pages (for the HTTP API and `newsd
//! search` alike), one article with everything stored about it, and the
//! numbers `/metrics` reports.

use sqlx::sqlite::SqliteRow;
use sqlx::{Column, QueryBuilder, Row, Sqlite, TypeInfo, ValueRef};

use super::SqliteStore;
use crate::store::error::{Result, StoreError};
use crate::store::query::{
    ApiMetrics, ArticleDetail, ArticleFeedItem, ArticleFilter, ArticleGoogleLink, ArticleItem,
    ArticleSearch, ItemText, RankKey, SearchHit, SearchOrder, SearchQuery, SearchText, SeenKey,
    StoryHint, TextIndex, SEARCH_CANDIDATES,
};
use crate::store::time::ts;

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
    page_kind: Option<String>,
    tags: Option<String>,
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
        let mut tags = super::sql::split_group(r.tags);
        tags.sort_unstable();
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
            tags,
            page_kind: r.page_kind,
            snippet: r.snippet,
            rank: r.rank,
        }
    }
}

#[derive(sqlx::FromRow)]
struct FeedItemRow {
    feed_id: i64,
    feed_url: String,
    feed_name: Option<String>,
    feed_title: Option<String>,
    entry_key: String,
    guid: Option<String>,
    link: Option<String>,
    first_seen_at: String,
    last_seen_at: String,
}

impl From<FeedItemRow> for ArticleFeedItem {
    fn from(r: FeedItemRow) -> Self {
        ArticleFeedItem {
            feed_id: r.feed_id,
            feed_url: r.feed_url,
            feed_name: r.feed_name,
            feed_title: r.feed_title,
            entry_key: r.entry_key,
            guid: r.guid,
            link: r.link,
            google_id: None,
            first_seen_at: r.first_seen_at,
            last_seen_at: r.last_seen_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct GoogleLinkRow {
    google_id: String,
    status: String,
    publisher_url: Option<String>,
    attempts: i64,
    gets: i64,
    last_error: Option<String>,
    first_seen_at: String,
    resolved_at: Option<String>,
}

impl From<GoogleLinkRow> for ArticleGoogleLink {
    fn from(r: GoogleLinkRow) -> Self {
        ArticleGoogleLink {
            google_id: r.google_id,
            status: r.status,
            publisher_url: r.publisher_url,
            attempts: r.attempts,
            gets: r.gets,
            last_error: r.last_error,
            first_seen_at: r.first_seen_at,
            resolved_at: r.resolved_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct StoryHintRow {
    url: String,
    title: Option<String>,
    source: Option<String>,
}

impl From<StoryHintRow> for StoryHint {
    fn from(r: StoryHintRow) -> Self {
        StoryHint {
            url: r.url,
            title: r.title,
            source: r.source,
        }
    }
}
impl SqliteStore {
    pub async fn schema_version(&self) -> Result<i64> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = 1")
                .fetch_one(&self.pool)
                .await?;
        Ok(v.unwrap_or(0))
    }

    pub async fn max_article_id(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM articles")
                .fetch_one(&self.pool)
                .await?,
        )
    }

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

    /// The best-ranked page of a search, for `newsd search`: the same plans
    /// as the API's first page.
    pub async fn search(&self, q: &SearchQuery) -> Result<Vec<SearchHit>> {
        let (search, filter, limit) = q.as_article_search();
        let items = self
            .search_articles(&search, &filter, None, i64::MAX, limit)
            .await?;
        Ok(items.into_iter().map(Into::into).collect())
    }

    /// Full-text search (plain words, unspaced scripts through the trigram
    /// index or a scan, or FTS5 syntax: see [`SearchText`]), ranked by bm25
    /// and paginated by `(rank, id)` within the `max_id` snapshot of `after`
    /// (or ordered newest first, first page only).
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
        let text = search.text.text_match()?;
        let plan = self
            .filter_plan(filter, plans.small_search, Query::Search)
            .await?;
        let (table, expr) = match &text.index {
            Some((TextIndex::Words, expr)) => (Some("articles_fts"), expr.as_str()),
            Some((TextIndex::Trigram, expr)) => (Some("articles_trigram"), expr.as_str()),
            None => (None, ""),
        };
        let likes = text.likes;
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
                qb.push_bind(expr.to_owned());
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
        let query_error = |e: sqlx::Error| match (e, &search.text) {
            (sqlx::Error::Database(db), SearchText::Fts5(query)) => StoreError::SearchSyntax {
                query: query.clone(),
                reason: db.message().to_owned(),
            },
            (other, _) => other.into(),
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
            sq.push_bind(expr.to_owned())
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
        let feeds: Vec<FeedItemRow> = sqlx::query_as(
            "SELECT fi.feed_id, f.url AS feed_url, f.name AS feed_name, f.title AS feed_title, \
             fi.entry_key, fi.guid, fi.link, fi.first_seen_at, fi.last_seen_at \
             FROM feed_items fi JOIN feeds f ON f.id = fi.feed_id \
             WHERE fi.article_id = ? ORDER BY fi.first_seen_at, fi.id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let google_links: Vec<GoogleLinkRow> = sqlx::query_as(
            "SELECT google_id, status, publisher_url, attempts, gets, last_error, first_seen_at, resolved_at \
             FROM google_links WHERE article_id = ? ORDER BY first_seen_at, google_id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let story_hints: Vec<StoryHintRow> = sqlx::query_as(
            "SELECT url, title, source FROM story_hints WHERE article_id = ? ORDER BY rowid",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let google_links: Vec<ArticleGoogleLink> =
            google_links.into_iter().map(Into::into).collect();
        let mut feeds: Vec<ArticleFeedItem> = feeds.into_iter().map(Into::into).collect();
        for item in &mut feeds {
            item.google_id = item.link.as_deref().and_then(|link| {
                google_links
                    .iter()
                    .find(|g| crate::store::identity::link_names_id(link, &g.google_id))
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
            story_hints: story_hints.into_iter().map(Into::into).collect(),
        }))
    }

    pub async fn api_metrics(&self) -> Result<ApiMetrics> {
        let stats = self.stats().await?;
        let feeds_by_status: Vec<(String, i64)> = sqlx::query_as(
            "SELECT CASE WHEN enabled = 0 THEN 'disabled' ELSE COALESCE(last_status, 'new') END AS s, \
             COUNT(*) FROM feeds GROUP BY s ORDER BY s",
        )
        .fetch_all(&self.pool)
        .await?;
        let failing: (i64, i64) = sqlx::query_as(
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
        let schema_version = self.schema_version().await?;
        Ok(ApiMetrics::assemble(
            stats,
            feeds_by_status,
            failing,
            google_links_by_status,
            schema_version,
        ))
    }

    /// How a request's filters are applied: the small set (a feed's
    /// articles, a language's, for a search a publisher's) that drives the
    /// query, if a filter has one. Listings by publisher walk their own index in order.
    async fn filter_plan<'f>(
        &self,
        filter: &'f ArticleFilter,
        small: i64,
        query: Query,
    ) -> Result<FilterPlan<'f>> {
        let lang = filter.lang.as_deref();
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
        Ok(FilterPlan { filter, driver })
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
         a.story_id, a.page_kind, (SELECT group_concat(DISTINCT fi.feed_id) FROM feed_items fi \
         WHERE fi.article_id = a.id) AS feed_ids, \
         (SELECT group_concat(t.tag, char(31)) FROM article_tags t WHERE t.article_id = a.id) AS tags"
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
    match (plan.driver, plan.filter.lang.as_deref()) {
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
    if let Some(tag) = &f.tag {
        qb.push(format!(
            " AND EXISTS (SELECT 1 FROM article_tags t WHERE t.article_id = {id} AND t.tag = "
        ))
        .push_bind(tag.clone())
        .push(")");
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
    let lang = f
        .lang
        .as_deref()
        .filter(|_| plan.driver != Some(Driver::Lang));
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
mod tests;
