//! The comparison window of story clustering, shared by the engines: the
//! clustered articles near a batch's, indexed so that a new article meets
//! only the ones that can match it. Each engine reads the rows
//! ([`CandidateRow`], [`DueRow`]) and writes the decisions; what is decided
//! is here, once.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use crate::cluster;
use crate::store::time::parse_ts;

/// Articles clustered per write transaction: keeps the writer free for
/// polls between batches of an upgraded archive's backlog.
pub(in crate::store) const BATCH: i64 = 500;

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
pub(in crate::store) struct Window {
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
pub(in crate::store) struct Weights(Vec<f64>);

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
    /// `[lo, hi]`: drops what lies outside and returns the ranges (both ends
    /// included) the engine must read and [`Window::add_row`] still.
    pub(in crate::store) fn retarget(
        &mut self,
        lo: DateTime<Utc>,
        hi: DateTime<Utc>,
    ) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let unread = match self.range {
            Some((l, h)) if (l, h) == (lo, hi) => return Vec::new(),
            Some((l, h)) => {
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
                    vec![(lo, hi)]
                } else {
                    let mut unread = Vec::new();
                    if lo < l {
                        unread.push((lo, l));
                    }
                    if hi > h {
                        unread.push((h, hi));
                    }
                    unread
                }
            }
            None => vec![(lo, hi)],
        };
        self.range = Some((lo, hi));
        // A long backlog moves the range through time: drop what it left.
        if self.dead > 1024 && self.dead > self.slot.len() {
            self.compact();
        }
        unread
    }

    /// Adds a clustered article read from the database, unless the window
    /// holds it already.
    pub(in crate::store) fn add_row(&mut self, r: CandidateRow) {
        if self.slot.contains_key(&r.id) {
            return;
        }
        let Some(first_seen) = parse_ts(&r.first_seen_at) else {
            return;
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
impl Window {
    pub(in crate::store) fn new(span: Duration) -> Window {
        Window {
            span,
            ..Window::default()
        }
    }

    /// The batch's articles with their headline's words, and the word
    /// weights from the window's headlines, the new ones included (one
    /// already a candidate, its full text arrived later, counts once). Call
    /// after the window covers the batch ([`batch_range`]).
    pub(in crate::store) fn prepare<'a>(
        &mut self,
        due: &'a [DueRow],
        seen: &[DateTime<Utc>],
    ) -> (Vec<Due<'a>>, Weights) {
        let due: Vec<Due<'a>> = due
            .iter()
            .zip(seen)
            .map(|(row, first_seen)| {
                let terms = row
                    .title
                    .as_deref()
                    .map(cluster::title_terms)
                    .unwrap_or_default();
                Due {
                    row,
                    first_seen: *first_seen,
                    terms: self.intern(terms),
                }
            })
            .collect();
        let weights = self.weights(
            due.iter()
                .filter(|d| d.row.story_id.is_none())
                .map(|d| &*d.terms),
        );
        (due, weights)
    }

    /// The story `me` goes to, if another: `hinted` is the story Google's
    /// related coverage puts it in; `alone` is the size of its current story
    /// (only asked for an article clustered before its text arrived).
    pub(in crate::store) fn target(
        &self,
        me: &Due<'_>,
        text: Option<u64>,
        weights: &Weights,
        hinted: Option<i64>,
        alone: i64,
    ) -> Option<i64> {
        let by_text = self.nearest_text(me.row.id, me.first_seen, text);
        match me.row.story_id {
            // Full text arrived after clustering: only a text match moves it,
            // and only out of a story of its own (a bigger story was joined
            // on evidence of its own that the text does not undo).
            Some(current) if me.row.cluster_due == 2 => {
                by_text.filter(|s| *s != current && alone <= 1)
            }
            _ => hinted
                .or(by_text)
                .or_else(|| self.nearest_title(me.row.id, me.first_seen, &me.terms, weights)),
        }
    }

    /// Records that `me` now belongs to `story` with these hashes.
    pub(in crate::store) fn clustered(
        &mut self,
        me: &Due<'_>,
        story: i64,
        title: Option<u64>,
        text: Option<u64>,
    ) {
        self.remove(me.row.id);
        if title.is_some() || text.is_some() {
            self.insert(Candidate {
                id: me.row.id,
                story_id: story,
                first_seen: me.first_seen,
                terms: me.terms.clone(),
                text,
                live: true,
            });
        }
    }
}

/// Each due article's first sighting (`now` when unreadable) and the
/// first-seen range the window must cover for the batch.
pub(in crate::store) fn batch_range(
    due: &[DueRow],
    now: DateTime<Utc>,
    span: Duration,
) -> (Vec<DateTime<Utc>>, DateTime<Utc>, DateTime<Utc>) {
    let seen: Vec<DateTime<Utc>> = due
        .iter()
        .map(|d| parse_ts(&d.first_seen_at).unwrap_or(now))
        .collect();
    let lo = seen.iter().min().copied().unwrap_or(now) - span;
    let hi = seen.iter().max().copied().unwrap_or(now) + span;
    (seen, lo, hi)
}

/// The title and text SimHashes stored for an article (still stored: an
/// archive's hashes stay comparable if the rule changes back).
pub(in crate::store) fn hashes(row: &DueRow) -> (Option<u64>, Option<u64>) {
    (
        row.title.as_deref().and_then(cluster::title_simhash),
        row.text.as_deref().and_then(cluster::text_simhash),
    )
}

/// An article due for clustering (`cluster_due` set), as read.
#[derive(sqlx::FromRow)]
pub(in crate::store) struct DueRow {
    pub id: i64,
    pub title: Option<String>,
    pub text: Option<String>,
    pub first_seen_at: String,
    pub story_id: Option<i64>,
    pub cluster_due: i64,
}

/// A clustered article with a hash, as read into the window.
#[derive(sqlx::FromRow)]
pub(in crate::store) struct CandidateRow {
    pub id: i64,
    pub story_id: i64,
    pub first_seen_at: String,
    pub title: Option<String>,
    pub text_simhash: Option<i64>,
}

/// An article due for clustering, with its headline's content words.
pub(in crate::store) struct Due<'a> {
    pub row: &'a DueRow,
    pub first_seen: DateTime<Utc>,
    pub terms: Box<[u32]>,
}
