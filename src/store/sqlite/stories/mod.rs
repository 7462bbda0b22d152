//! Story clustering over the stored articles (the rules are in
//! [`crate::cluster`]) and the story listings.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use futures::TryStreamExt;
use sqlx::SqliteConnection;

use super::sql::from_row;
use super::SqliteStore;
use crate::cluster;
use crate::store::error::Result;
use crate::store::query::SeenKey;
use crate::store::stories::{ClusterReport, StoryItem};
use crate::store::time::{parse_ts, ts};

from_row!(StoryItem {
    id,
    title,
    size,
    first_seen_at,
    updated_at
});

/// Articles clustered per write transaction: keeps the writer free for
/// polls between batches of an upgraded archive's backlog.
const BATCH: i64 = 500;

/// A clustered article within the comparison window, as the decision needs it.
#[derive(Debug, Clone)]
struct Candidate {
    id: i64,
    story_id: i64,
    first_seen: DateTime<Utc>,
    /// The headline's content words (`cluster::title_terms`), interned by
    /// the [`Window`], in the order of their text.
    terms: Box<[u32]>,
    text: Option<u64>,
    /// False once replaced, removed or evicted (the indexes still point here
    /// until the next compaction).
    live: bool,
}

/// The clustered articles of a comparison window, indexed so that a new
/// article meets only the ones that can match it: headlines by their words,
/// text SimHashes by their bands (`cluster::text_bands`). Read from the
/// database once per [`Store::cluster_pending`] call and kept up to date
/// with the articles the call clusters; between calls nothing is kept.
#[derive(Default)]
struct Window {
    /// How far apart (first seen) two articles may be and still be compared.
    span: Duration,
    /// The first-seen range read from the database, both ends included.
    range: Option<(DateTime<Utc>, DateTime<Utc>)>,
    items: Vec<Candidate>,
    /// Article id to its live item.
    slot: HashMap<i64, u32>,
    dead: usize,
    /// Interned words and their text.
    word_ids: HashMap<Box<str>, u32>,
    words: Vec<Box<str>>,
    /// Word to the items whose headline has it.
    postings: Vec<Vec<u32>>,
    /// Per band: band value to the items whose text hash has it.
    bands: [HashMap<u16, Vec<u32>>; cluster::TEXT_BANDS],
}

/// Word weights of one batch's window (`cluster::term_weight`), by word id.
struct Weights(Vec<f64>);

impl Window {
    fn intern(&mut self, terms: Vec<String>) -> Box<[u32]> {
        terms
            .into_iter()
            .map(|t| {
                if let Some(id) = self.word_ids.get(t.as_str()) {
                    return *id;
                }
                let id = self.words.len() as u32;
                let t: Box<str> = t.into_boxed_str();
                self.words.push(t.clone());
                self.word_ids.insert(t, id);
                self.postings.push(Vec::new());
                id
            })
            .collect()
    }

    /// Adds a clustered article, replacing what was known of it.
    fn insert(&mut self, c: Candidate) {
        self.remove(c.id);
        let at = self.items.len() as u32;
        for t in c.terms.iter() {
            self.postings[*t as usize].push(at);
        }
        if let Some(h) = c.text {
            for (band, v) in self.bands.iter_mut().zip(cluster::text_bands(h)) {
                band.entry(v).or_default().push(at);
            }
        }
        self.slot.insert(c.id, at);
        self.items.push(c);
    }

    fn remove(&mut self, id: i64) {
        if let Some(at) = self.slot.remove(&id) {
            self.items[at as usize].live = false;
            self.dead += 1;
        }
    }

    /// Makes the window hold exactly the clustered articles first seen in
    /// `[lo, hi]`, reading only the part of the range not read yet.
    async fn cover(
        &mut self,
        conn: &mut SqliteConnection,
        lo: DateTime<Utc>,
        hi: DateTime<Utc>,
    ) -> Result<()> {
        if let Some((l, h)) = self.range {
            if (l, h) == (lo, hi) {
                return Ok(());
            }
            let outside: Vec<i64> = self
                .items
                .iter()
                .filter(|c| c.live && (c.first_seen < lo || c.first_seen > hi))
                .map(|c| c.id)
                .collect();
            for id in outside {
                self.remove(id);
            }
            if lo > h || hi < l {
                self.load(conn, lo, hi).await?;
            } else {
                if lo < l {
                    self.load(conn, lo, l).await?;
                }
                if hi > h {
                    self.load(conn, h, hi).await?;
                }
            }
        } else {
            self.load(conn, lo, hi).await?;
        }
        self.range = Some((lo, hi));
        // A long backlog moves the range through time: drop what it left.
        if self.dead > 1024 && self.dead > self.slot.len() {
            self.compact();
        }
        Ok(())
    }

    /// Reads the clustered articles first seen in `[lo, hi]` that the window
    /// does not hold yet.
    async fn load(
        &mut self,
        conn: &mut SqliteConnection,
        lo: DateTime<Utc>,
        hi: DateTime<Utc>,
    ) -> Result<()> {
        let mut rows = sqlx::query_as::<_, CandidateRow>(
            "SELECT id, story_id, first_seen_at, title, text_simhash FROM articles \
             WHERE first_seen_at >= ? AND first_seen_at <= ? AND story_id IS NOT NULL \
             AND (title_simhash IS NOT NULL OR text_simhash IS NOT NULL)",
        )
        .bind(ts(lo))
        .bind(ts(hi))
        .fetch(&mut *conn);
        // Row by row: the rows and their words as strings would take
        // several times the window's own memory.
        while let Some(r) = rows.try_next().await? {
            if self.slot.contains_key(&r.id) {
                continue;
            }
            let Some(first_seen) = parse_ts(&r.first_seen_at) else {
                continue;
            };
            let terms = r
                .title
                .as_deref()
                .map(cluster::title_terms)
                .unwrap_or_default();
            let terms = self.intern(terms);
            self.insert(Candidate {
                id: r.id,
                story_id: r.story_id,
                first_seen,
                terms,
                text: r.text_simhash.map(cluster::from_db),
                live: true,
            });
        }
        Ok(())
    }

    /// Rebuilds the items and indexes from the live items alone.
    fn compact(&mut self) {
        let items = std::mem::take(&mut self.items);
        self.slot.clear();
        self.dead = 0;
        self.postings.iter_mut().for_each(Vec::clear);
        self.bands.iter_mut().for_each(HashMap::clear);
        for c in items.into_iter().filter(|c| c.live) {
            self.insert(c);
        }
    }

    /// The word weights for headlines of the window's range plus `extra`
    /// (new articles, not clustered yet), as `cluster::TitleIdf` counts them.
    fn weights<'a>(&'a self, extra: impl Iterator<Item = &'a [u32]>) -> Weights {
        let mut df = vec![0u32; self.words.len()];
        let mut n = 0u32;
        let live = self.items.iter().filter(|c| c.live).map(|c| &*c.terms);
        for terms in live.chain(extra) {
            n += 1;
            for t in terms {
                df[*t as usize] += 1;
            }
        }
        Weights(df.into_iter().map(|d| cluster::term_weight(n, d)).collect())
    }

    fn in_window(&self, at: u32, me: i64, first_seen: DateTime<Utc>) -> Option<&Candidate> {
        let c = &self.items[at as usize];
        (c.live && c.id != me && (c.first_seen - first_seen).abs() <= self.span).then_some(c)
    }

    /// The story of the nearest near-duplicate text within the window.
    fn nearest_text(&self, me: i64, first_seen: DateTime<Utc>, hash: Option<u64>) -> Option<i64> {
        let h = hash?;
        let probes = cluster::text_band_probes();
        let mut best: Option<(u32, i64, i64)> = None;
        for (band, v) in self.bands.iter().zip(cluster::text_bands(h)) {
            for p in probes {
                for at in band.get(&(v ^ p)).into_iter().flatten() {
                    let Some(c) = self.in_window(*at, me, first_seen) else {
                        continue;
                    };
                    let Some(o) = c.text.filter(|o| cluster::same_text(h, *o)) else {
                        continue;
                    };
                    let key = (cluster::distance(h, o), c.id, c.story_id);
                    if best.is_none_or(|b| (key.0, key.1) < (b.0, b.1)) {
                        best = Some(key);
                    }
                }
            }
        }
        best.map(|(_, _, story)| story)
    }

    /// The story of the most similar headline within the window that shares
    /// enough rare words (`cluster::title_similarity`). Only headlines that
    /// share one of its decisive words (`cluster::decisive_terms`) can match,
    /// so only those are weighed.
    fn nearest_title(
        &self,
        me: i64,
        first_seen: DateTime<Utc>,
        terms: &[u32],
        weights: &Weights,
    ) -> Option<i64> {
        if terms.len() < cluster::MIN_TITLE_TERMS {
            return None;
        }
        let own: Vec<f64> = terms.iter().map(|t| weights.0[*t as usize]).collect();
        let mut found: Vec<u32> = cluster::decisive_terms(&own)
            .into_iter()
            .flat_map(|i| self.postings[terms[i] as usize].iter().copied())
            .collect();
        found.sort_unstable();
        found.dedup();
        let cmp = |a: &u32, b: &u32| {
            if a == b {
                std::cmp::Ordering::Equal
            } else {
                self.words[*a as usize].cmp(&self.words[*b as usize])
            }
        };
        let weight = |t: &u32| weights.0[*t as usize];
        found
            .into_iter()
            .filter_map(|at| self.in_window(at, me, first_seen))
            .filter_map(|c| {
                cluster::title_similarity_by(terms, &c.terms, cmp, weight).map(|s| (s, c))
            })
            // Most similar first; the older article on a tie.
            .max_by(|(s1, c1), (s2, c2)| s1.total_cmp(s2).then(c2.id.cmp(&c1.id)))
            .map(|(_, c)| c.story_id)
    }
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

impl SqliteStore {
    pub async fn cluster_pending(
        &self,
        now: DateTime<Utc>,
        span: Duration,
    ) -> Result<ClusterReport> {
        let mut report = ClusterReport::default();
        // Read once and carried from batch to batch: re-reading the window's
        // headlines and splitting them into words was most of a batch's cost.
        // Only this call's own clustering changes which articles are
        // candidates; an edit other writers make meanwhile (a title filled in
        // later, a merged duplicate) is seen by the next call.
        let mut window = Window {
            span,
            ..Window::default()
        };
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
            let seen: Vec<DateTime<Utc>> = due
                .iter()
                .map(|d| parse_ts(&d.first_seen_at).unwrap_or(now))
                .collect();
            let lo = seen.iter().min().copied().unwrap_or(now) - span;
            let hi = seen.iter().max().copied().unwrap_or(now) + span;
            window.cover(&mut tx, lo, hi).await?;
            let due_terms: Vec<Box<[u32]>> = due
                .iter()
                .map(|d| {
                    let terms = d
                        .title
                        .as_deref()
                        .map(cluster::title_terms)
                        .unwrap_or_default();
                    window.intern(terms)
                })
                .collect();
            // Word weights from the window's headlines, the new ones included
            // (one already a candidate, its full text arrived later, counts once).
            let weights = window.weights(
                due.iter()
                    .zip(&due_terms)
                    .filter(|(d, _)| d.story_id.is_none())
                    .map(|(_, t)| &**t),
            );
            let mut touched = BTreeSet::new();
            for ((row, first_seen), terms) in due.iter().zip(seen).zip(due_terms) {
                let me = Due {
                    row,
                    first_seen,
                    terms,
                };
                let joined =
                    cluster_one(&mut tx, &me, &weights, &mut window, &mut touched, now).await?;
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

/// The story Google's related coverage puts this article in: one of the
/// articles its hints point to, or one whose hints point to it (hints and
/// items meet by Google id: related coverage lists Google links only).
async fn hinted_story(conn: &mut SqliteConnection, article_id: i64) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT MIN(story_id) FROM ( \
           SELECT a.story_id FROM story_hints h \
             CROSS JOIN google_link_keys k ON k.fresh IN (0, 1) AND k.id_hash = h.google_hash \
             CROSS JOIN google_links g ON g.article_id = k.article_id AND g.google_id = h.google_id \
             CROSS JOIN articles a ON a.id = g.article_id \
             WHERE h.article_id = ?1 AND a.id != ?1 AND a.story_id IS NOT NULL \
           UNION ALL \
           SELECT a.story_id FROM google_links g \
             JOIN story_hints h ON h.google_hash = g.id_hash AND h.google_id = g.google_id \
             JOIN articles a ON a.id = h.article_id \
             WHERE g.article_id = ?1 AND a.id != ?1 AND a.story_id IS NOT NULL)",
    )
    .bind(article_id)
    .fetch_one(&mut *conn)
    .await?)
}

/// An article due for clustering, with its headline's content words.
struct Due<'a> {
    row: &'a DueRow,
    first_seen: DateTime<Utc>,
    terms: Box<[u32]>,
}

/// Clusters one article; true when it joined an existing story.
async fn cluster_one(
    conn: &mut SqliteConnection,
    me: &Due<'_>,
    weights: &Weights,
    window: &mut Window,
    touched: &mut BTreeSet<i64>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let (row, first_seen) = (me.row, me.first_seen);
    // Still stored: an archive's hashes stay comparable if the rule changes back.
    let title = row.title.as_deref().and_then(cluster::title_simhash);
    let text = row.text.as_deref().and_then(cluster::text_simhash);
    let by_text = window.nearest_text(row.id, first_seen, text);
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
                .or_else(|| window.nearest_title(row.id, first_seen, &me.terms, weights))
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
    window.remove(row.id);
    if title.is_some() || text.is_some() {
        window.insert(Candidate {
            id: row.id,
            story_id: story,
            first_seen,
            terms: me.terms.clone(),
            text,
            live: true,
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
mod tests;
