//! Story clustering over the stored articles (the rules are in
//! [`crate::cluster`]) and the story listings.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use sqlx::SqliteConnection;

use super::{parse_ts, ts, Result, SeenKey, Store};
use crate::cluster;

/// Articles clustered per write transaction: keeps the writer free for
/// polls between batches of an upgraded archive's backlog.
const BATCH: i64 = 500;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct StoryItem {
    pub id: i64,
    pub title: Option<String>,
    pub size: i64,
    pub first_seen_at: String,
    pub updated_at: String,
}

/// What one [`Store::cluster_pending`] call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClusterReport {
    /// Articles given a story (or re-examined once their text arrived).
    pub examined: usize,
    /// Of those, the ones that joined an existing story.
    pub joined: usize,
}

/// A clustered article within the comparison window, as the decision needs it.
#[derive(Debug, Clone)]
struct Candidate {
    id: i64,
    story_id: i64,
    first_seen: DateTime<Utc>,
    /// The headline's content words (`cluster::title_terms`).
    terms: Vec<String>,
    text: Option<u64>,
}

#[derive(sqlx::FromRow)]
struct DueRow {
    id: i64,
    title: Option<String>,
    text: Option<String>,
    first_seen_at: String,
    story_id: Option<i64>,
    cluster_due: i64,
}

#[derive(sqlx::FromRow)]
struct CandidateRow {
    id: i64,
    story_id: i64,
    first_seen_at: String,
    title: Option<String>,
    text_simhash: Option<i64>,
}

impl Store {
    /// Gives every article without a story one, and compares articles whose
    /// full text arrived after they were clustered once more by text.
    ///
    /// Each article is compared only with articles first seen within
    /// [`cluster::WINDOW_HOURS`] of it, so the cost per new article depends on
    /// the news volume of a few days, not on the archive's size.
    pub async fn cluster_pending(&self, now: DateTime<Utc>) -> Result<ClusterReport> {
        let mut report = ClusterReport::default();
        loop {
            let mut tx = self.begin_write().await?;
            let due: Vec<DueRow> = sqlx::query_as(
                "SELECT id, title, text, first_seen_at, story_id, cluster_due FROM articles \
                 WHERE cluster_due IS NOT NULL ORDER BY id LIMIT ?",
            )
            .bind(BATCH)
            .fetch_all(&mut *tx)
            .await?;
            if due.is_empty() {
                break;
            }
            let window = Duration::hours(cluster::WINDOW_HOURS);
            let seen: Vec<DateTime<Utc>> = due
                .iter()
                .map(|d| parse_ts(&d.first_seen_at).unwrap_or(now))
                .collect();
            let lo = seen.iter().min().copied().unwrap_or(now) - window;
            let hi = seen.iter().max().copied().unwrap_or(now) + window;
            let mut candidates = load_candidates(&mut tx, lo, hi).await?;
            // Word weights from the window's headlines, the new ones included.
            let mut idf = cluster::TitleIdf::default();
            for c in &candidates {
                idf.add(&c.terms);
            }
            let due_terms: Vec<Vec<String>> = due
                .iter()
                .map(|d| {
                    d.title
                        .as_deref()
                        .map(cluster::title_terms)
                        .unwrap_or_default()
                })
                .collect();
            for (d, t) in due.iter().zip(&due_terms) {
                // Already a candidate (full text arrived later): counted once.
                if d.story_id.is_none() {
                    idf.add(t);
                }
            }
            let mut touched = BTreeSet::new();
            for ((row, first_seen), terms) in due.iter().zip(seen).zip(due_terms) {
                let me = Due {
                    row,
                    first_seen,
                    terms,
                };
                let joined =
                    cluster_one(&mut tx, &me, &idf, &mut candidates, &mut touched, now).await?;
                report.examined += 1;
                report.joined += usize::from(joined);
            }
            for story in touched {
                refresh_story(&mut tx, story, now).await?;
            }
            tx.commit().await?;
        }
        Ok(report)
    }

    /// Stories newest first (by first seen), keyset-paginated like articles.
    pub async fn list_stories(
        &self,
        after: Option<&SeenKey>,
        limit: i64,
    ) -> Result<Vec<StoryItem>> {
        let (at, id) = match after {
            Some(k) => (Some(k.first_seen_at.clone()), k.id),
            None => (None, 0),
        };
        Ok(sqlx::query_as(
            "SELECT id, title, size, first_seen_at, updated_at FROM stories \
             WHERE size > 0 AND (?1 IS NULL OR first_seen_at < ?1 OR (first_seen_at = ?1 AND id < ?2)) \
             ORDER BY first_seen_at DESC, id DESC LIMIT ?3",
        )
        .bind(at)
        .bind(id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn story(&self, id: i64) -> Result<Option<StoryItem>> {
        Ok(sqlx::query_as(
            "SELECT id, title, size, first_seen_at, updated_at FROM stories WHERE id = ? AND size > 0",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }
}

async fn load_candidates(
    conn: &mut SqliteConnection,
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
) -> Result<Vec<Candidate>> {
    let rows: Vec<CandidateRow> = sqlx::query_as(
        "SELECT id, story_id, first_seen_at, title, text_simhash FROM articles \
         WHERE first_seen_at >= ? AND first_seen_at <= ? AND story_id IS NOT NULL \
         AND (title_simhash IS NOT NULL OR text_simhash IS NOT NULL)",
    )
    .bind(ts(lo))
    .bind(ts(hi))
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(Candidate {
                id: r.id,
                story_id: r.story_id,
                first_seen: parse_ts(&r.first_seen_at)?,
                terms: r
                    .title
                    .as_deref()
                    .map(cluster::title_terms)
                    .unwrap_or_default(),
                text: r.text_simhash.map(cluster::from_db),
            })
        })
        .collect())
}

/// The story Google's related coverage puts this article in: one of the
/// articles its hints point to, or one whose hints point to it.
async fn hinted_story(conn: &mut SqliteConnection, article_id: i64) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT MIN(story_id) FROM ( \
           SELECT a.story_id FROM story_hints h JOIN feed_items f ON f.link = h.url \
             JOIN articles a ON a.id = f.article_id \
             WHERE h.article_id = ?1 AND a.id != ?1 AND a.story_id IS NOT NULL \
           UNION ALL \
           SELECT a.story_id FROM feed_items f JOIN story_hints h ON h.url = f.link \
             JOIN articles a ON a.id = h.article_id \
             WHERE f.article_id = ?1 AND a.id != ?1 AND a.story_id IS NOT NULL)",
    )
    .bind(article_id)
    .fetch_one(&mut *conn)
    .await?)
}

/// An article due for clustering, with its headline's content words.
struct Due<'a> {
    row: &'a DueRow,
    first_seen: DateTime<Utc>,
    terms: Vec<String>,
}

fn in_window(c: &Candidate, me: i64, first_seen: DateTime<Utc>) -> bool {
    c.id != me && (c.first_seen - first_seen).abs() <= Duration::hours(cluster::WINDOW_HOURS)
}

/// The story of the nearest near-duplicate text within the window.
fn nearest_text(
    candidates: &[Candidate],
    me: i64,
    first_seen: DateTime<Utc>,
    hash: Option<u64>,
) -> Option<i64> {
    let h = hash?;
    candidates
        .iter()
        .filter(|c| in_window(c, me, first_seen))
        .filter_map(|c| {
            c.text
                .filter(|o| cluster::same_text(h, *o))
                .map(|o| (cluster::distance(h, o), c))
        })
        .min_by_key(|(d, c)| (*d, c.id))
        .map(|(_, c)| c.story_id)
}

/// The story of the most similar headline within the window that shares
/// enough rare words (`cluster::title_similarity`).
fn nearest_title(
    candidates: &[Candidate],
    me: i64,
    first_seen: DateTime<Utc>,
    terms: &[String],
    idf: &cluster::TitleIdf,
) -> Option<i64> {
    if terms.len() < cluster::MIN_TITLE_TERMS {
        return None;
    }
    candidates
        .iter()
        .filter(|c| in_window(c, me, first_seen))
        .filter_map(|c| cluster::title_similarity(terms, &c.terms, idf).map(|s| (s, c)))
        // Most similar first; the older article on a tie.
        .max_by(|(s1, c1), (s2, c2)| s1.total_cmp(s2).then(c2.id.cmp(&c1.id)))
        .map(|(_, c)| c.story_id)
}

/// Clusters one article; true when it joined an existing story.
async fn cluster_one(
    conn: &mut SqliteConnection,
    me: &Due<'_>,
    idf: &cluster::TitleIdf,
    candidates: &mut Vec<Candidate>,
    touched: &mut BTreeSet<i64>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let (row, first_seen) = (me.row, me.first_seen);
    // Still stored: an archive's hashes stay comparable if the rule changes back.
    let title = row.title.as_deref().and_then(cluster::title_simhash);
    let text = row.text.as_deref().and_then(cluster::text_simhash);
    let by_text = nearest_text(candidates, row.id, first_seen, text);
    let target = match row.story_id {
        // Full text arrived after clustering: only a text match moves it, and
        // only out of a story of its own (a bigger story was joined on
        // evidence of its own that the text does not undo).
        Some(current) if row.cluster_due == 2 => {
            let alone: i64 = sqlx::query_scalar("SELECT size FROM stories WHERE id = ?")
                .bind(current)
                .fetch_optional(&mut *conn)
                .await?
                .unwrap_or(0);
            match by_text {
                Some(s) if s != current && alone <= 1 => Some(s),
                _ => None,
            }
        }
        _ => {
            let hinted = hinted_story(conn, row.id).await?;
            hinted
                .or(by_text)
                .or_else(|| nearest_title(candidates, row.id, first_seen, &me.terms, idf))
        }
    };
    let story = match (target, row.story_id) {
        (Some(s), _) => s,
        (None, Some(current)) => current,
        (None, None) => sqlx::query_scalar(
            "INSERT INTO stories (first_seen_at, size, title, updated_at) VALUES (?, 0, ?, ?) RETURNING id",
        )
        .bind(&row.first_seen_at)
        .bind(&row.title)
        .bind(ts(now))
        .fetch_one(&mut *conn)
        .await?,
    };
    if let Some(old) = row.story_id {
        touched.insert(old);
    }
    touched.insert(story);
    sqlx::query(
        "UPDATE articles SET story_id = ?2, title_simhash = ?3, text_simhash = ?4, cluster_due = NULL \
         WHERE id = ?1",
    )
    .bind(row.id)
    .bind(story)
    .bind(title.map(cluster::to_db))
    .bind(text.map(cluster::to_db))
    .execute(&mut *conn)
    .await?;
    candidates.retain(|c| c.id != row.id);
    if title.is_some() || text.is_some() {
        candidates.push(Candidate {
            id: row.id,
            story_id: story,
            first_seen,
            terms: me.terms.clone(),
            text,
        });
    }
    Ok(target.is_some() && target != row.story_id)
}

/// Size, first sighting and representative title (the earliest titled
/// member's) from the story's members.
async fn refresh_story(conn: &mut SqliteConnection, story: i64, now: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "UPDATE stories SET \
           size = (SELECT COUNT(*) FROM articles WHERE story_id = ?1), \
           first_seen_at = COALESCE((SELECT MIN(first_seen_at) FROM articles WHERE story_id = ?1), first_seen_at), \
           title = COALESCE((SELECT title FROM articles WHERE story_id = ?1 AND title IS NOT NULL \
                             ORDER BY first_seen_at, id LIMIT 1), title), \
           updated_at = ?2 \
         WHERE id = ?1",
    )
    .bind(story)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::temp_store;
    use crate::store::NewFeed;

    async fn feed(store: &Store) -> i64 {
        store
            .add_feed(
                &NewFeed {
                    url: "https://news.example/rss".into(),
                    name: None,
                    interval_secs: None,
                },
                "cli",
                Utc::now(),
            )
            .await
            .unwrap()
            .0
            .id
    }

    /// An article as a feed entry whose `<link>` is `link`.
    async fn article(
        store: &Store,
        feed: i64,
        key: &str,
        title: &str,
        link: &str,
        at: DateTime<Utc>,
    ) -> i64 {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO articles (url_key, title, first_seen_at, updated_at) VALUES (?1, ?2, ?3, ?3) RETURNING id",
        )
        .bind(key)
        .bind(title)
        .bind(ts(at))
        .fetch_one(&store.writer)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO feed_items (feed_id, entry_key, article_id, link, first_seen_at, last_seen_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        )
        .bind(feed)
        .bind(key)
        .bind(id)
        .bind(link)
        .bind(ts(at))
        .execute(&store.writer)
        .await
        .unwrap();
        id
    }

    async fn story_of(store: &Store, id: i64) -> i64 {
        sqlx::query_scalar("SELECT story_id FROM articles WHERE id = ?")
            .bind(id)
            .fetch_one(store.pool())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn google_related_coverage_joins_articles_with_unlike_titles_in_both_directions() {
        let (store, _d) = temp_store().await;
        let f = feed(&store).await;
        let now = Utc::now();
        let a = article(
            &store,
            f,
            "a",
            "Rates held steady as inflation cools",
            "https://news.google.com/rss/articles/A",
            now,
        )
        .await;
        let b = article(
            &store,
            f,
            "b",
            "Central bank pauses again, citing softer prices",
            "https://news.google.com/rss/articles/B",
            now,
        )
        .await;
        let c = article(
            &store,
            f,
            "c",
            "Why the pause matters for your mortgage payments",
            "https://news.google.com/rss/articles/C",
            now,
        )
        .await;
        let other = article(
            &store,
            f,
            "d",
            "Storm closes schools across the northern coast",
            "https://news.google.com/rss/articles/D",
            now,
        )
        .await;
        // a lists b; c is listed by b (the hint points backwards).
        for (holder, url) in [
            (a, "https://news.google.com/rss/articles/B"),
            (b, "https://news.google.com/rss/articles/C"),
        ] {
            sqlx::query("INSERT INTO story_hints (article_id, url) VALUES (?, ?)")
                .bind(holder)
                .bind(url)
                .execute(&store.writer)
                .await
                .unwrap();
        }
        let report = store.cluster_pending(now).await.unwrap();
        assert_eq!(report.examined, 4);
        let s = story_of(&store, a).await;
        assert_eq!(story_of(&store, b).await, s);
        assert_eq!(story_of(&store, c).await, s);
        assert_ne!(story_of(&store, other).await, s);
        let story = store.story(s).await.unwrap().unwrap();
        assert_eq!(story.size, 3);
        assert_eq!(
            story.title.as_deref(),
            Some("Rates held steady as inflation cools")
        );
        let listed = store.list_stories(None, 10).await.unwrap();
        assert_eq!(listed.len(), 2);
        // Nothing is left to do on the next round.
        assert_eq!(store.cluster_pending(now).await.unwrap().examined, 0);
    }

    #[tokio::test]
    async fn the_same_headline_outside_the_window_starts_a_new_story() {
        let (store, _d) = temp_store().await;
        let f = feed(&store).await;
        let now = Utc::now();
        let title = "Council approves new transport budget for next year";
        let a = article(
            &store,
            f,
            "a",
            title,
            "https://x.example/a",
            now - Duration::days(10),
        )
        .await;
        let b = article(&store, f, "b", title, "https://y.example/b", now).await;
        let c = article(
            &store,
            f,
            "c",
            &format!("{title} - Metro News"),
            "https://z.example/c",
            now,
        )
        .await;
        store.cluster_pending(now).await.unwrap();
        assert_ne!(story_of(&store, a).await, story_of(&store, b).await);
        assert_eq!(story_of(&store, b).await, story_of(&store, c).await);
    }

    #[tokio::test]
    async fn a_deleted_article_leaves_its_story_and_an_empty_story_is_not_listed() {
        let (store, _d) = temp_store().await;
        let f = feed(&store).await;
        let a = article(
            &store,
            f,
            "a",
            "Lonely headline with enough words",
            "https://x.example/a",
            Utc::now(),
        )
        .await;
        store.cluster_pending(Utc::now()).await.unwrap();
        let s = story_of(&store, a).await;
        sqlx::query("DELETE FROM articles WHERE id = ?")
            .bind(a)
            .execute(&store.writer)
            .await
            .unwrap();
        assert!(store.story(s).await.unwrap().is_none());
        assert!(store.list_stories(None, 10).await.unwrap().is_empty());
    }
    #[tokio::test]
    async fn an_article_bridging_two_stories_joins_one_and_never_merges_them() {
        let (store, _d) = temp_store().await;
        let f = feed(&store).await;
        let now = Utc::now();
        let a = article(
            &store,
            f,
            "a",
            "Pneumonic plague cases confirmed at Inner Mongolia hospital",
            "https://a.example/1",
            now,
        )
        .await;
        let b = article(
            &store,
            f,
            "b",
            "Coastal provinces report record turnout in regional elections",
            "https://b.example/1",
            now,
        )
        .await;
        store.cluster_pending(now).await.unwrap();
        let (sa, sb) = (story_of(&store, a).await, story_of(&store, b).await);
        assert_ne!(sa, sb);
        let c = article(
            &store,
            f,
            "c",
            "Inner Mongolia plague hospital; coastal provinces record turnout",
            "https://c.example/1",
            now,
        )
        .await;
        store.cluster_pending(now).await.unwrap();
        let sc = story_of(&store, c).await;
        assert!(sc == sa || sc == sb, "joins one of them");
        // Stories are never merged: a wrong bridge would fuse two whole
        // stories and retire a story id clients may hold (see docs/schema.md).
        assert_eq!(story_of(&store, a).await, sa);
        assert_eq!(story_of(&store, b).await, sb);
    }
}
