//! Listing and search on PostgreSQL: keyset pages, `tsvector` search ranked
//! by `ts_rank_cd` with `ts_headline` snippets, `pg_trgm` for unspaced
//! scripts. Results, order and pagination are the SQLite engine's
//! (`sqlite/query`): ranks are stored negated, so lower is better on both
//! engines and a [`RankKey`] pages the same way.

use sqlx::postgres::PgRow;
use sqlx::{Column, Postgres, QueryBuilder, Row, TypeInfo, ValueRef};

use super::PostgresStore;
use crate::store::error::{Result, StoreError};
use crate::store::query::{
    like_pattern, unquote, ApiMetrics, ArticleDetail, ArticleFeedItem, ArticleFilter,
    ArticleGoogleLink, ArticleItem, ArticleSearch, ItemText, RankKey, SearchHit, SearchOrder,
    SearchQuery, SearchText, SeenKey, StoryHint, TextIndex, SEARCH_CANDIDATES,
};
use crate::store::time::ts;

/// The text the trigram index covers, spelled as in its definition
/// (`articles_trigram`), so the planner matches it to the index.
const TRIGRAM_DOC: &str = "(coalesce(a.title, '') || ' ' || coalesce(a.summary, '') || ' ' \
                           || left(coalesce(a.text, ''), 200000))";

/// `ts_rank_cd` weights of D, C (text), B (summary), A (title): the
/// proportions of SQLite's `bm25(articles_fts, 10.0, 3.0, 1.0)`.
const RANK_WEIGHTS: &str = "'{0.1, 0.1, 0.3, 1.0}'";

/// Characters of text around a trigram match in its snippet, each side.
const SNIPPET_CONTEXT: i64 = 30;

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
    feed_ids: Vec<i64>,
    story_id: Option<i64>,
    page_kind: Option<String>,
    tags: Vec<String>,
    snippet: Option<String>,
    rank: Option<f64>,
}

impl From<ArticleItemRow> for ArticleItem {
    fn from(r: ArticleItemRow) -> Self {
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
            feed_ids: r.feed_ids,
            story_id: r.story_id,
            tags: r.tags,
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

impl PostgresStore {
    /// The search document (`article_search`, kept by a trigger, and the
    /// trigram index over the article's own columns) is written with the
    /// row itself: nothing ever waits to be indexed.
    pub async fn index_pending(&self) -> Result<usize> {
        Ok(0)
    }

    pub async fn schema_version(&self) -> Result<i64> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await?;
        Ok(v.unwrap_or(0))
    }

    pub async fn max_article_id(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(MAX(id), 0)::bigint FROM articles")
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
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT {}, NULL::text AS snippet, NULL::float8 AS rank FROM articles a WHERE true",
            item_columns(text)
        ));
        push_filters(&mut qb, filter);
        if let Some(k) = after {
            qb.push(" AND (a.first_seen_at, a.id) < (")
                .push_bind(k.first_seen_at.clone())
                .push(", ")
                .push_bind(k.id)
                .push(")");
        }
        qb.push(" ORDER BY a.first_seen_at DESC, a.id DESC LIMIT ")
            .push_bind(limit);
        let rows: Vec<ArticleItemRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Full-text search (plain words, unspaced scripts through the trigram
    /// index or a scan, or `to_tsquery` syntax: see [`SearchText`]), ranked
    /// by `ts_rank_cd` (negated: lower is better, as bm25 on SQLite) and
    /// paginated by `(rank, id)` within the `max_id` snapshot of `after`
    /// (or ordered newest first, first page only).
    pub async fn search_articles(
        &self,
        search: &ArticleSearch,
        filter: &ArticleFilter,
        after: Option<&RankKey>,
        max_id: i64,
        limit: i64,
    ) -> Result<Vec<ArticleItem>> {
        let text = search.text.text_match()?;
        let long_words = match &text.index {
            Some((TextIndex::Trigram, expr)) => unquote(expr),
            _ => Vec::new(),
        };
        // The tsquery is written out wherever it is used rather than shared
        // through a CTE: as an expression of constants the planner sees it
        // and answers the match from the GIN index.
        let tsquery = |qb: &mut QueryBuilder<'_, Postgres>| match (&text.index, &search.text) {
            (Some((TextIndex::Words, _)), SearchText::Fts5(raw)) => {
                qb.push("to_tsquery('simple', ")
                    .push_bind(raw.clone())
                    .push(")");
            }
            (Some((TextIndex::Words, expr)), _) => {
                // Each word a phrase of its own lexemes (`e-mail` is `e <->
                // mail`), as FTS5 reads a quoted word; all of them AND-ed.
                qb.push("(");
                let mut words = qb.separated(" && ");
                for w in unquote(expr) {
                    words.push("phraseto_tsquery('simple', ");
                    words.push_bind_unseparated(w);
                    words.push_unseparated(")");
                }
                qb.push(")");
            }
            _ => {
                qb.push("NULL::tsquery");
            }
        };
        let max_id = after.map_or(max_id, |k| k.max_id);
        let push_likes = |qb: &mut QueryBuilder<'_, Postgres>| {
            for l in &text.likes {
                qb.push(" AND (a.title ILIKE ")
                    .push_bind(l.clone())
                    .push(" OR a.summary ILIKE ")
                    .push_bind(l.clone())
                    .push(" OR a.text ILIKE ")
                    .push_bind(l.clone())
                    .push(")");
            }
        };
        // As on SQLite, only the newest `SEARCH_CANDIDATES` matches that
        // pass the filters are ranked, so a common word costs a bounded
        // number of `ts_rank_cd` scores.
        let mut qb = QueryBuilder::<Postgres>::new("WITH ");
        match &text.index {
            Some((TextIndex::Words, _)) => {
                // The matches' ids (and first sightings) come from the
                // narrow `article_search` table, and the candidates are
                // ranked by their leads (title, summary, the text's first
                // 1,000 characters: see migrations/postgres/0001), which
                // live in the same rows.
                let row_filter = ArticleFilter {
                    since: None,
                    until: None,
                    ..filter.clone()
                };
                let needs_row = row_filter != ArticleFilter::default() || !text.likes.is_empty();
                qb.push("candidates AS MATERIALIZED (");
                if needs_row {
                    qb.push("SELECT m.id FROM (");
                }
                qb.push("SELECT s.article_id AS id FROM article_search s WHERE s.search @@ ");
                tsquery(&mut qb);
                qb.push(" AND s.article_id <= ").push_bind(max_id);
                if let Some(since) = filter.since {
                    qb.push(" AND s.first_seen_at >= ").push_bind(ts(since));
                }
                if let Some(until) = filter.until {
                    qb.push(" AND s.first_seen_at < ").push_bind(ts(until));
                }
                qb.push(" ORDER BY s.article_id DESC");
                if needs_row {
                    // The other filters read the article row: the matches
                    // are walked newest first (the fence keeps that order)
                    // and rows read only until enough pass, where a join
                    // would read every match's row before sorting.
                    qb.push(" OFFSET 0) m JOIN articles a ON a.id = m.id WHERE TRUE");
                    push_filters(&mut qb, &row_filter);
                    push_likes(&mut qb);
                    qb.push(" ORDER BY m.id DESC");
                }
                qb.push(" LIMIT ").push_bind(SEARCH_CANDIDATES);
                qb.push(format!(
                    "), hits AS MATERIALIZED (SELECT c.id, \
                     -ts_rank_cd({RANK_WEIGHTS}, coalesce(s.lead, s.search), "
                ));
                tsquery(&mut qb);
                qb.push(
                    ")::float8 AS rank FROM candidates c JOIN article_search s ON s.article_id = c.id",
                );
            }
            Some((TextIndex::Trigram, _)) => {
                // No score comes with a substring match: where the words
                // are found ranks it, with bm25's column weights.
                qb.push("hits AS MATERIALIZED (SELECT a.id, -(0.0");
                for w in &long_words {
                    for (column, weight) in [("title", "10.0"), ("summary", "3.0"), ("text", "1.0")]
                    {
                        qb.push(format!(" + CASE WHEN a.{column} ILIKE "))
                            .push_bind(like_pattern(w))
                            .push(format!(" THEN {weight} ELSE 0.0 END"));
                    }
                }
                qb.push(")::float8 AS rank FROM articles a WHERE a.unspaced");
                for w in &long_words {
                    qb.push(format!(" AND {TRIGRAM_DOC} ILIKE "))
                        .push_bind(like_pattern(w));
                }
                qb.push(" AND a.id <= ").push_bind(max_id);
                push_filters(&mut qb, filter);
                push_likes(&mut qb);
                qb.push(" ORDER BY a.id DESC LIMIT ")
                    .push_bind(SEARCH_CANDIDATES);
            }
            None => {
                // Without an index the words are looked for in the newest
                // candidates only (ILIKE reads every text it tries).
                qb.push(
                    "hits AS MATERIALIZED (SELECT a.id, 0.0::float8 AS rank FROM articles a \
                     WHERE a.id IN (SELECT id FROM articles ORDER BY id DESC LIMIT ",
                )
                .push_bind(SEARCH_CANDIDATES)
                .push(")");
                qb.push(" AND a.id <= ").push_bind(max_id);
                push_filters(&mut qb, filter);
                push_likes(&mut qb);
                qb.push(" ORDER BY a.id DESC LIMIT ")
                    .push_bind(SEARCH_CANDIDATES);
            }
        }
        qb.push("), page AS MATERIALIZED (");
        match search.order {
            SearchOrder::Rank => {
                qb.push("SELECT id, rank FROM hits");
                if let Some(k) = after {
                    // The last article's current rank; the cursor's copy if
                    // it no longer matches (merged away).
                    qb.push(" WHERE (rank, -id) > (COALESCE((SELECT rank FROM hits WHERE id = ")
                        .push_bind(k.id)
                        .push("), ")
                        .push_bind(k.rank)
                        .push("), -")
                        .push_bind(k.id)
                        .push("::bigint)");
                }
                qb.push(" ORDER BY rank, id DESC LIMIT ").push_bind(limit);
            }
            SearchOrder::Newest => {
                qb.push(
                    "SELECT hits.id, hits.rank FROM hits JOIN articles s ON s.id = hits.id \
                     ORDER BY s.first_seen_at DESC, s.id DESC LIMIT ",
                )
                .push_bind(limit);
            }
        }
        qb.push(format!(") SELECT {}, ", item_columns(search.item_text)));
        match &text.index {
            Some((TextIndex::Words, _)) => {
                qb.push(format!("ts_headline('simple', {TRIGRAM_DOC}, "));
                tsquery(&mut qb);
                qb.push(
                    ", 'StartSel=[, StopSel=], MaxWords=12, MinWords=4, ShortWord=0, \
                     MaxFragments=1, FragmentDelimiter=…')",
                );
            }
            Some((TextIndex::Trigram, _)) => {
                qb.push("NULL::text");
            }
            None => {
                qb.push("substr(COALESCE(a.title, a.summary, ''), 1, 80)");
            }
        }
        qb.push(" AS snippet, page.rank AS rank FROM page JOIN articles a ON a.id = page.id");
        qb.push(match search.order {
            SearchOrder::Rank => " ORDER BY page.rank, page.id DESC",
            SearchOrder::Newest => " ORDER BY a.first_seen_at DESC, a.id DESC",
        });
        // Planned for its own words every time: a cached generic plan cannot
        // know how common they are and walks the id index from the newest
        // article testing each document (a second for a 1 % word at 1M).
        let rows: Vec<ArticleItemRow> = qb
            .build_query_as()
            .persistent(false)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| match (e, &search.text) {
                (sqlx::Error::Database(db), SearchText::Fts5(query)) => StoreError::SearchSyntax {
                    query: query.clone(),
                    reason: db.message().to_owned(),
                },
                (other, _) => other.into(),
            })?;
        let mut items: Vec<ArticleItem> = rows.into_iter().map(Into::into).collect();
        if let Some(first) = long_words.first() {
            self.trigram_snippets(&mut items, first, &long_words)
                .await?;
        }
        Ok(items)
    }

    /// Snippets of trigram matches, which `ts_headline` cannot mark (its
    /// words are whole runs of unspaced text): the text around the first
    /// word's first occurrence, with every word marked `[…]` as SQLite's
    /// trigram snippet marks them.
    async fn trigram_snippets(
        &self,
        items: &mut [ArticleItem],
        first: &str,
        words: &[String],
    ) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
        let windows: Vec<(i64, Option<String>, bool, bool)> = sqlx::query_as(&format!(
            "SELECT id, substr(doc, s, n), s > 1, s + n <= length(doc) \
             FROM (SELECT a.id, {TRIGRAM_DOC} AS doc, $3::int * 2 + length($2) AS n, \
                   greatest(strpos(lower({TRIGRAM_DOC}), lower($2)) - $3::int, 1) AS s \
                   FROM articles a WHERE a.id = ANY($1)) d"
        ))
        .bind(&ids)
        .bind(first)
        .bind(SNIPPET_CONTEXT)
        .fetch_all(&self.pool)
        .await?;
        for item in items.iter_mut() {
            item.snippet = windows.iter().find(|(id, ..)| *id == item.id).and_then(
                |(_, window, cut_before, cut_after)| {
                    let marked = mark_words(window.as_deref()?.trim(), words);
                    Some(format!(
                        "{}{marked}{}",
                        if *cut_before { "…" } else { "" },
                        if *cut_after { "…" } else { "" }
                    ))
                },
            );
        }
        Ok(())
    }

    /// The best-ranked page of a search, for `newsd search`: the same query
    /// as the API's first page.
    pub async fn search(&self, q: &SearchQuery) -> Result<Vec<SearchHit>> {
        let (search, filter, limit) = q.as_article_search();
        let items = self
            .search_articles(&search, &filter, None, i64::MAX, limit)
            .await?;
        Ok(items.into_iter().map(Into::into).collect())
    }

    pub async fn article_detail(&self, id: i64) -> Result<Option<ArticleDetail>> {
        let row = sqlx::query("SELECT * FROM articles WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let mut columns = serde_json::Map::new();
        for (i, col) in row.columns().iter().enumerate() {
            // The script flag is derived from the columns shown; SQLite
            // keeps it outside the row.
            if col.name() == "unspaced" {
                continue;
            }
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
             WHERE fi.article_id = $1 ORDER BY fi.first_seen_at, fi.id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let google_links: Vec<GoogleLinkRow> = sqlx::query_as(
            "SELECT google_id, status, publisher_url, attempts, gets, last_error, first_seen_at, resolved_at \
             FROM google_links WHERE article_id = $1 ORDER BY first_seen_at, google_id COLLATE \"C\"",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        // Hints have no id; `ctid` follows insertion as SQLite's rowid does
        // for rows never updated (a hint is written once).
        let story_hints: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT url, title, source FROM story_hints WHERE article_id = $1 ORDER BY ctid",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let google_links: Vec<ArticleGoogleLink> = google_links
            .into_iter()
            .map(|r| ArticleGoogleLink {
                google_id: r.google_id,
                status: r.status,
                publisher_url: r.publisher_url,
                attempts: r.attempts,
                gets: r.gets,
                last_error: r.last_error,
                first_seen_at: r.first_seen_at,
                resolved_at: r.resolved_at,
            })
            .collect();
        let feeds: Vec<ArticleFeedItem> = feeds
            .into_iter()
            .map(|r| ArticleFeedItem {
                google_id: r.link.as_deref().and_then(|link| {
                    google_links
                        .iter()
                        .find(|g| crate::store::identity::link_names_id(link, &g.google_id))
                        .map(|g| g.google_id.clone())
                }),
                feed_id: r.feed_id,
                feed_url: r.feed_url,
                feed_name: r.feed_name,
                feed_title: r.feed_title,
                entry_key: r.entry_key,
                guid: r.guid,
                link: r.link,
                first_seen_at: r.first_seen_at,
                last_seen_at: r.last_seen_at,
            })
            .collect();
        let mut links: Vec<String> = feeds.iter().filter_map(|f| f.link.clone()).collect();
        links.sort();
        links.dedup();
        Ok(Some(ArticleDetail {
            columns,
            feeds,
            links,
            google_links,
            story_hints: story_hints
                .into_iter()
                .map(|(url, title, source)| StoryHint { url, title, source })
                .collect(),
        }))
    }

    pub async fn api_metrics(&self) -> Result<ApiMetrics> {
        let stats = self.stats().await?;
        // "C" collation: statuses sort bytewise, as SQLite sorts them.
        let feeds_by_status: Vec<(String, i64)> = sqlx::query_as(
            "SELECT s, COUNT(*) FROM (SELECT CASE WHEN NOT enabled THEN 'disabled' \
             ELSE COALESCE(last_status, 'new') END AS s FROM feeds) f \
             GROUP BY s ORDER BY s COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
        .await?;
        let failing: (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*) FILTER (WHERE error_count > 0), COALESCE(SUM(error_count), 0)::bigint \
             FROM feeds WHERE enabled",
        )
        .fetch_one(&self.pool)
        .await?;
        let google_links_by_status: Vec<(String, i64)> = sqlx::query_as(
            "SELECT status, COUNT(*) FROM google_links GROUP BY status ORDER BY status COLLATE \"C\"",
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
}

/// `text` with every occurrence of `words` (ASCII case aside) marked `[…]`.
fn mark_words(text: &str, words: &[String]) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text;
    'outer: while let Some(c) = rest.chars().next() {
        for w in words.iter().filter(|w| !w.is_empty()) {
            if let Some(head) = rest.get(..w.len()) {
                if head.eq_ignore_ascii_case(w) {
                    out.push('[');
                    out.push_str(head);
                    out.push(']');
                    rest = &rest[w.len()..];
                    continue 'outer;
                }
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// One column of a row as JSON, by its type; bytes as base64.
fn column_json(row: &PgRow, i: usize) -> Result<serde_json::Value> {
    use base64::Engine;
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(serde_json::Value::Null);
    }
    Ok(match raw.type_info().name() {
        "INT8" => row.try_get::<i64, _>(i)?.into(),
        "INT4" => row.try_get::<i32, _>(i)?.into(),
        "FLOAT8" => row.try_get::<f64, _>(i)?.into(),
        "BOOL" => i64::from(row.try_get::<bool, _>(i)?).into(),
        "BYTEA" => base64::engine::general_purpose::STANDARD
            .encode(row.try_get::<Vec<u8>, _>(i)?)
            .into(),
        _ => row.try_get::<String, _>(i)?.into(),
    })
}

/// The article columns a listed article carries.
fn item_columns(text: ItemText) -> String {
    let text = match text {
        ItemText::Flag => "NULL::text",
        ItemText::Full => "a.text",
    };
    format!(
        "a.id, a.url, a.title, a.summary, a.text IS NOT NULL AS has_text, {text} AS text, \
         a.publisher, a.publisher_url, a.authors, a.published_at, a.first_seen_at, a.updated_at, \
         a.story_id, a.page_kind, ARRAY(SELECT DISTINCT fi.feed_id FROM feed_items fi \
         WHERE fi.article_id = a.id ORDER BY fi.feed_id) AS feed_ids, \
         ARRAY(SELECT t.tag COLLATE \"C\" FROM article_tags t WHERE t.article_id = a.id \
         ORDER BY 1) AS tags"
    )
}

/// The filters on article `a`. Publisher and language compare lowercased
/// (the indexes `articles_publisher_seen`, `articles_lang_seen`); a
/// language also finds its subtags (`en` finds `en-US`).
fn push_filters(qb: &mut QueryBuilder<'_, Postgres>, f: &ArticleFilter) {
    if let Some(story) = f.story_id {
        qb.push(" AND a.story_id = ").push_bind(story);
    }
    if let Some(tag) = &f.tag {
        qb.push(" AND EXISTS (SELECT 1 FROM article_tags t WHERE t.article_id = a.id AND t.tag = ")
            .push_bind(tag.clone())
            .push(")");
    }
    if let Some(feed) = f.feed_id {
        qb.push(
            " AND EXISTS (SELECT 1 FROM feed_items fi WHERE fi.article_id = a.id AND fi.feed_id = ",
        )
        .push_bind(feed)
        .push(")");
    }
    if let Some(p) = &f.publisher {
        qb.push(" AND lower(a.publisher) = lower(")
            .push_bind(p.clone())
            .push(")");
    }
    if let Some(l) = &f.lang {
        qb.push(" AND (lower(a.lang) = lower(")
            .push_bind(l.clone())
            .push(") OR lower(a.lang) LIKE lower(")
            .push_bind(format!("{}-%", l.replace(['%', '_', '\\'], "")))
            .push("))");
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
    use super::mark_words;

    #[test]
    fn every_word_of_a_trigram_match_is_marked_in_its_snippet() {
        let words = vec!["清华大学".to_owned(), "tsmc".to_owned()];
        assert_eq!(
            mark_words("清华大学发布 TSMC 清华大学", &words),
            "[清华大学]发布 [TSMC] [清华大学]"
        );
        assert_eq!(mark_words("nothing", &words), "nothing");
    }
}
