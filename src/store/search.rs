use chrono::{DateTime, Utc};

use super::api::SEARCH_CANDIDATES;
use super::{ts, Result, Store, StoreError};

#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    pub text: String,
    /// Pass `text` to FTS5 as query syntax instead of quoting it as plain words.
    pub fts_syntax: bool,
    pub since: Option<DateTime<Utc>>,
    pub feed_id: Option<i64>,
    pub limit: i64,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct SearchHit {
    pub id: i64,
    pub url: Option<String>,
    pub title: Option<String>,
    pub publisher: Option<String>,
    pub published_at: Option<String>,
    pub first_seen_at: String,
    pub snippet: Option<String>,
    pub rank: f64,
}

/// Scripts written without spaces between words: the word index cannot split
/// them, so they go through the trigram index (or a scan when too short).
pub(super) fn is_unspaced_script(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0x0E00..=0x0E7F    // Thai
        | 0x20000..=0x2FA1F) // CJK extensions B+
}

/// A plain word as an FTS5 string literal: stray quotes and operators are inert.
pub(super) fn quote(token: &str) -> String {
    format!("\"{}\"", token.replace('"', "\"\""))
}

pub(super) fn like_pattern(token: &str) -> String {
    let escaped = token
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

const HIT_COLUMNS: &str = "a.id, a.url, a.title, a.publisher, a.published_at, a.first_seen_at";
const FILTERS: &str = "(?2 IS NULL OR a.first_seen_at >= ?2) \
    AND (?3 IS NULL OR EXISTS (SELECT 1 FROM feed_items fi WHERE fi.article_id = a.id AND fi.feed_id = ?3))";

impl Store {
    /// Full-text search ranked by bm25, with a highlighted snippet.
    pub async fn search(&self, q: &SearchQuery) -> Result<Vec<SearchHit>> {
        let tokens: Vec<&str> = q.text.split_whitespace().collect();
        if tokens.is_empty() {
            return Err(StoreError::Query("empty query".into()));
        }
        let limit = q.limit.clamp(1, 1000);
        if q.fts_syntax {
            return self
                .search_index("articles_fts", &q.text, &[], q, limit)
                .await;
        }
        if !q.text.chars().any(is_unspaced_script) {
            let expr = tokens
                .iter()
                .map(|t| quote(t))
                .collect::<Vec<_>>()
                .join(" ");
            return self
                .search_index("articles_fts", &expr, &[], q, limit)
                .await;
        }
        // The trigram index answers tokens of three characters or more; shorter
        // ones are matched by a scan over the rows it (or the filters) leave.
        let (long, short): (Vec<&str>, Vec<&str>) =
            tokens.iter().partition(|t| t.chars().count() >= 3);
        let likes: Vec<String> = short.iter().map(|t| like_pattern(t)).collect();
        if long.is_empty() {
            return self.search_scan(&likes, q, limit).await;
        }
        let expr = long.iter().map(|t| quote(t)).collect::<Vec<_>>().join(" ");
        self.search_index("articles_trigram", &expr, &likes, q, limit)
            .await
    }

    async fn search_index(
        &self,
        table: &str,
        expr: &str,
        likes: &[String],
        q: &SearchQuery,
        limit: i64,
    ) -> Result<Vec<SearchHit>> {
        // Only the newest SEARCH_CANDIDATES matches are ranked (see
        // `Store::search_articles`): bm25 over every match of a common word
        // costs seconds at a million articles. Snippets are made for the
        // returned hits alone.
        let like_sql = like_clauses(likes, 6);
        let sql = format!(
            "WITH hits AS MATERIALIZED (SELECT a.id AS id, bm25({table}, 10.0, 3.0, 1.0) AS rank \
             FROM {table} JOIN articles a ON a.id = {table}.rowid \
             WHERE {table} MATCH ?1 AND {FILTERS} {like_sql} \
             ORDER BY {table}.rowid DESC LIMIT ?5) \
             SELECT {HIT_COLUMNS}, NULL AS snippet, hits.rank AS rank \
             FROM hits JOIN articles a ON a.id = hits.id ORDER BY hits.rank, hits.id DESC LIMIT ?4"
        );
        let mut query = sqlx::query_as::<_, SearchHit>(&sql)
            .bind(expr)
            .bind(q.since.map(ts))
            .bind(q.feed_id)
            .bind(limit)
            .bind(SEARCH_CANDIDATES);
        for l in likes {
            query = query.bind(l);
        }
        let query_error = |e: sqlx::Error| match e {
            sqlx::Error::Database(db) if q.fts_syntax => {
                StoreError::Query(format!("{} (in FTS5 query {:?})", db.message(), q.text))
            }
            other => other.into(),
        };
        let mut hits = query.fetch_all(&self.pool).await.map_err(query_error)?;
        if hits.is_empty() {
            return Ok(hits);
        }
        let ids = hits
            .iter()
            .map(|h| h.id.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let snippets: Vec<(i64, Option<String>)> = sqlx::query_as(&format!(
            "SELECT rowid, snippet({table}, -1, '[', ']', '…', 12) FROM {table} \
             WHERE {table} MATCH ?1 AND rowid IN ({ids})"
        ))
        .bind(expr)
        .fetch_all(&self.pool)
        .await
        .map_err(query_error)?;
        for h in &mut hits {
            h.snippet = snippets
                .iter()
                .find(|(id, _)| *id == h.id)
                .and_then(|(_, s)| s.clone());
        }
        Ok(hits)
    }

    async fn search_scan(
        &self,
        likes: &[String],
        q: &SearchQuery,
        limit: i64,
    ) -> Result<Vec<SearchHit>> {
        // ?1 is unused here; it keeps the filter placeholders numbered as in
        // search_index. LIKE reads every text it tries, so only the newest
        // SEARCH_CANDIDATES articles are tried.
        let like_sql = like_clauses(likes, 6);
        let sql = format!(
            "SELECT {HIT_COLUMNS}, substr(COALESCE(a.title, a.summary, ''), 1, 80) AS snippet, 0.0 AS rank \
             FROM articles a WHERE ?1 IS NULL AND {FILTERS} {like_sql} \
             AND a.id IN (SELECT id FROM articles ORDER BY id DESC LIMIT ?5) \
             ORDER BY a.first_seen_at DESC LIMIT ?4"
        );
        let mut query = sqlx::query_as::<_, SearchHit>(&sql)
            .bind(None::<String>)
            .bind(q.since.map(ts))
            .bind(q.feed_id)
            .bind(limit)
            .bind(SEARCH_CANDIDATES);
        for l in likes {
            query = query.bind(l);
        }
        Ok(query.fetch_all(&self.pool).await?)
    }
}

fn like_clauses(likes: &[String], first_param: usize) -> String {
    likes
        .iter()
        .enumerate()
        .map(|(i, _)| {
            let p = first_param + i;
            format!(
                "AND (a.title LIKE ?{p} ESCAPE '\\' OR a.summary LIKE ?{p} ESCAPE '\\' OR a.text LIKE ?{p} ESCAPE '\\')"
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::super::test_support::temp_store;
    use super::super::{FeedUpdate, NewEntry, NewFeed};
    use super::*;

    async fn seed(store: &Store) -> i64 {
        let (f, _) = store
            .add_feed(
                &NewFeed {
                    url: "https://f.example/rss".into(),
                    name: None,
                    interval_secs: None,
                },
                "cli",
                Utc::now(),
            )
            .await
            .unwrap();
        let now = Utc::now();
        let mk = |k: &str, title: &str, summary: &str| NewEntry {
            entry_key: k.into(),
            url: Some(format!("https://n.example/{k}")),
            url_key: Some(format!("n.example/{k}")),
            title: Some(title.into()),
            summary: Some(summary.into()),
            ..Default::default()
        };
        let entries = [
            mk("1", "清华大学发布新的研究成果", "中国的大学"),
            mk(
                "2",
                "Semiconductor output rises",
                "TSMC reports record quarter",
            ),
            mk("3", "Weather today", "Rain in \"Paris\" (and more)"),
            mk("4", "東京の天気", "雨"),
        ];
        let u = FeedUpdate {
            last_status: "ok".into(),
            next_poll_at: now,
            polled_at: now,
            fetch_url: "https://f.example/rss".into(),
            ..Default::default()
        };
        store
            .record_poll(f.id, &entries[..], now, u.clone())
            .await
            .unwrap();
        store.index_pending().await.unwrap();
        f.id
    }

    fn q(text: &str) -> SearchQuery {
        SearchQuery {
            text: text.into(),
            limit: 10,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_cjk_word_inside_a_title_is_found() {
        let (store, _d) = temp_store().await;
        seed(&store).await;
        let hits = store.search(&q("清华大学")).await.unwrap();
        assert_eq!(hits.len(), 1);
        assert!(hits[0].title.as_deref().unwrap().contains("清华大学"));
        assert!(hits[0].snippet.as_deref().unwrap().contains('['));
    }

    #[tokio::test]
    async fn two_character_cjk_queries_fall_back_to_a_scan() {
        let (store, _d) = temp_store().await;
        seed(&store).await;
        let hits = store.search(&q("天気")).await.unwrap();
        assert_eq!(hits.len(), 1);
        let hits = store.search(&q("大学 研究成果")).await.unwrap();
        assert_eq!(hits.len(), 1);
    }

    #[tokio::test]
    async fn plain_words_rank_and_stray_quotes_never_error() {
        let (store, _d) = temp_store().await;
        let feed = seed(&store).await;
        let hits = store.search(&q("tsmc")).await.unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].id, 2);
        assert_eq!(store.search(&q("\"Paris")).await.unwrap().len(), 1);
        assert_eq!(store.search(&q("AND OR NOT (")).await.unwrap().len(), 0);
        let mut fq = q("tsmc");
        fq.feed_id = Some(feed + 1);
        assert!(store.search(&fq).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn fts_syntax_passes_through_and_bad_syntax_is_a_clear_error() {
        let (store, _d) = temp_store().await;
        seed(&store).await;
        let mut fq = q("semicond* OR weather");
        fq.fts_syntax = true;
        assert_eq!(store.search(&fq).await.unwrap().len(), 2);
        fq.text = "\"unbalanced".into();
        let err = store.search(&fq).await.unwrap_err();
        assert!(matches!(err, StoreError::Query(_)), "{err}");
    }
}
