//! Saved searches that notify: the rules, as pure functions. Which new
//! article a search matches ([`Matcher`], against the article's own words,
//! so the cost per article does not grow with the archive), what becomes of
//! a held match once its story is known ([`plan_promotion`]: once per story),
//! when a digest is due, how a failed delivery is retried ([`retry_at`]),
//! and the messages sent ([`payload`]). Sending is [`send`]; the loop around
//! it is `App::deliver_once`.

pub mod email;
pub mod payload;
pub mod send;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::store::{
    AlertArticle, AlertCandidate, AlertStory, HeldMatch, MatchState, NewEvent, Promotion,
    QueuedMatch, SearchRow,
};

/// What a receiver made of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// A 2xx answer.
    Accepted { status: u16 },
    /// Another answer: worth another try, not before `retry_after`.
    Refused {
        status: u16,
        retry_after: Option<DateTime<Utc>>,
    },
    /// No answer: a timeout, a refused connection.
    Unreachable { error: String },
    /// It can never be sent there (a blocked address, a bad URL, a payload
    /// the channel cannot read): not retried.
    Impossible { error: String },
}

/// The longest a retry waits, however many attempts failed.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(24 * 3600);

/// An article's words as the word index splits them: runs of letters and
/// digits, lowercased, without diacritics (FTS5's `unicode61
/// remove_diacritics 2`, PostgreSQL's `simple` configuration).
pub fn tokens(text: &str) -> Vec<String> {
    // Most news is ASCII, where folding is only lowercasing; decomposing
    // every character was most of the cost of matching an article.
    let folded: String = if text.is_ascii() {
        text.to_ascii_lowercase()
    } else {
        text.nfd()
            .filter(|c| !is_combining_mark(*c))
            .flat_map(char::to_lowercase)
            .collect()
    };
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// One article as every search looks at it, built once per article.
#[derive(Debug)]
pub struct Doc {
    sequence: Vec<String>,
    words: HashSet<String>,
    /// Lowercased text, for words of scripts written without spaces, which
    /// the index finds as substrings.
    lower: String,
}

impl Doc {
    pub fn new(c: &AlertCandidate) -> Self {
        let text = [&c.title, &c.summary, &c.text]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n");
        let sequence = tokens(&text);
        Doc {
            words: sequence.iter().cloned().collect(),
            sequence,
            lower: text.to_lowercase(),
        }
    }

    fn has_term(&self, t: &Term) -> bool {
        if t.prefix {
            self.words.iter().any(|w| w.starts_with(t.word.as_str()))
        } else {
            self.words.contains(&t.word)
        }
    }

    fn has_phrase(&self, phrase: &[String]) -> bool {
        match phrase {
            [] => true,
            [one] => self.words.contains(one),
            [first, ..] => {
                self.words.contains(first)
                    && self.sequence.windows(phrase.len()).any(|w| w == phrase)
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Text {
    /// Every word a phrase of its tokens (`e-mail` is `e mail`), all needed.
    Words(Vec<Vec<String>>),
    /// Words in a script without spaces: substrings, all needed.
    Substrings(Vec<String>),
    /// The engine's own syntax: only the index can answer, and only about
    /// an article holding one of its terms.
    Engine(String, Option<Vec<Term>>),
}

/// A word of a query in the engine's syntax, as the index folds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub word: String,
    /// `word*`: any word it begins.
    pub prefix: bool,
}

/// Every word a query in FTS5 (or tsquery) syntax names, its operators
/// aside. Whatever the query, an article it matches holds one of them (NOT
/// only takes away, NEAR and phrases need all their words), so an article
/// holding none is not worth asking the index about. `None` when the query
/// names no word this can read.
pub fn raw_terms(query: &str) -> Option<Vec<Term>> {
    const OPERATORS: [&str; 4] = ["AND", "OR", "NOT", "NEAR"];
    let chars: Vec<char> = query.chars().collect();
    let mut terms = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_alphanumeric() {
            i += 1;
        }
        let run: String = chars[start..i].iter().collect();
        if OPERATORS.contains(&run.as_str()) {
            continue;
        }
        // FTS5 writes a prefix `word*` or `"a phrase"*`, tsquery `word:*`; a
        // word before `:` may also be a column or carry weights. Taking all
        // of those as prefixes can only ask the index more often.
        let after = match chars.get(i) {
            Some('"' | '\'') => chars.get(i + 1),
            c => c,
        };
        let prefix = matches!(after, Some('*' | ':'));
        for word in tokens(&run) {
            terms.push(Term { word, prefix });
        }
    }
    (!terms.is_empty()).then_some(terms)
}

/// One saved search, ready to test articles against.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub search_id: i64,
    text: Text,
    feeds: Vec<i64>,
    publishers: Vec<String>,
    lang: Option<String>,
    since: Option<String>,
}

impl Matcher {
    pub fn new(s: &SearchRow) -> Self {
        let words: Vec<&str> = s.query.split_whitespace().collect();
        let text = if s.fts {
            Text::Engine(s.query.clone(), raw_terms(&s.query))
        } else if s.query.chars().any(crate::store::query::is_unspaced_script) {
            Text::Substrings(words.iter().map(|w| w.to_lowercase()).collect())
        } else {
            Text::Words(
                words
                    .iter()
                    .map(|w| tokens(w))
                    .filter(|t| !t.is_empty())
                    .collect(),
            )
        };
        Matcher {
            search_id: s.id,
            text,
            feeds: s.feeds.clone(),
            publishers: s.publishers.iter().map(|p| p.to_lowercase()).collect(),
            lang: s.lang.as_ref().map(|l| l.to_ascii_lowercase()),
            since: s.matches_since.clone(),
        }
    }

    /// The raw query when only the engine's index can tell a match.
    pub fn engine_query(&self) -> Option<&str> {
        match &self.text {
            Text::Engine(q, _) => Some(q),
            _ => None,
        }
    }

    /// The filters: age, feeds, publishers, language.
    pub fn admits(&self, c: &AlertCandidate) -> bool {
        if c.first_seen_at.is_empty() {
            return false;
        }
        if self
            .since
            .as_ref()
            .is_some_and(|since| c.first_seen_at.as_str() < since.as_str())
        {
            return false;
        }
        if !self.feeds.is_empty() && !c.feed_ids.iter().any(|f| self.feeds.contains(f)) {
            return false;
        }
        if !self.publishers.is_empty()
            && !c
                .publisher
                .as_ref()
                .is_some_and(|p| self.publishers.contains(&p.to_lowercase()))
        {
            return false;
        }
        match (&self.lang, &c.lang) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(want), Some(have)) => {
                let have = have.to_ascii_lowercase();
                have == *want || have.starts_with(&format!("{want}-"))
            }
        }
    }

    /// Whether the article's words match; `None` for a search in the
    /// engine's syntax (ask [`crate::store::Store::fts_matches`]).
    pub fn matches(&self, c: &AlertCandidate, doc: &Doc) -> Option<bool> {
        if !self.admits(c) {
            return Some(false);
        }
        match &self.text {
            Text::Engine(..) => None,
            _ => Some(self.words_match(doc)),
        }
    }

    /// Whether the article's words match, without the filters (`[[rules]]`
    /// use the plain-words language only); false for the engine's syntax.
    pub fn words_match(&self, doc: &Doc) -> bool {
        match &self.text {
            Text::Words(words) => !words.is_empty() && words.iter().all(|w| doc.has_phrase(w)),
            Text::Substrings(subs) => subs.iter().all(|s| doc.lower.contains(s.as_str())),
            Text::Engine(..) => false,
        }
    }
}

/// Every enabled search, each filed under one word it cannot match without,
/// so an article is tested only against the searches one of its own words
/// can satisfy: the cost per article follows its length and its matches,
/// not the number of searches (a percolator).
#[derive(Debug)]
pub struct Searches {
    matchers: Vec<Matcher>,
    by_word: HashMap<String, Vec<usize>>,
    /// Searches no single word stands for (substrings of unspaced scripts,
    /// no word at all): tested against every article.
    always: Vec<usize>,
    /// Searches in the engine's syntax: only the index can tell.
    engine: Vec<usize>,
}

/// What one article is to the searches.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Searches it matches.
    pub matched: Vec<i64>,
    /// Searches in the engine's syntax whose filters admit it: ask the index.
    pub ask_engine: Vec<i64>,
}

impl Searches {
    pub fn new(searches: &[SearchRow]) -> Self {
        let mut set = Searches {
            matchers: searches.iter().map(Matcher::new).collect(),
            by_word: HashMap::new(),
            always: Vec::new(),
            engine: Vec::new(),
        };
        for (i, m) in set.matchers.iter().enumerate() {
            match &m.text {
                Text::Engine(..) => set.engine.push(i),
                // Any word of the phrases will do; a long one is usually the
                // rarest, so the fewest articles wake the search.
                Text::Words(words) => match words.iter().flatten().max_by_key(|w| w.len()) {
                    Some(w) => set.by_word.entry(w.clone()).or_default().push(i),
                    None => set.always.push(i),
                },
                Text::Substrings(_) => set.always.push(i),
            }
        }
        set
    }

    pub fn is_empty(&self) -> bool {
        self.matchers.is_empty()
    }

    /// The search with this id, for its raw query.
    pub fn get(&self, search_id: i64) -> Option<&Matcher> {
        self.matchers.iter().find(|m| m.search_id == search_id)
    }

    pub fn check(&self, c: &AlertCandidate, doc: &Doc) -> Verdict {
        let mut v = Verdict::default();
        let woken = doc
            .words
            .iter()
            .filter_map(|w| self.by_word.get(w))
            .flatten()
            .chain(&self.always);
        for &i in woken {
            let m = &self.matchers[i];
            if m.matches(c, doc) == Some(true) {
                v.matched.push(m.search_id);
            }
        }
        for &i in &self.engine {
            let m = &self.matchers[i];
            let Text::Engine(_, terms) = &m.text else {
                continue;
            };
            let may_match = terms
                .as_ref()
                .is_none_or(|terms| terms.iter().any(|t| doc.has_term(t)));
            if may_match && m.admits(c) {
                v.ask_engine.push(m.search_id);
            }
        }
        v.matched.sort_unstable();
        v
    }
}

/// A saved search's matches already in the archive, newest first, one per
/// story (`newsd searches run`, `/searches/{id}.atom`): the archive is
/// searched here, once per call, never to notify.
pub async fn past_matches(
    store: &crate::store::Store,
    search: &SearchRow,
    since: Option<DateTime<Utc>>,
    limit: i64,
) -> crate::store::Result<Vec<crate::store::ArticleItem>> {
    use crate::store::{ArticleFilter, ArticleSearch, ItemText, SearchOrder, SearchText};
    let filter = ArticleFilter {
        feed_id: (search.feeds.len() == 1).then(|| search.feeds[0]),
        publisher: (search.publishers.len() == 1).then(|| search.publishers[0].clone()),
        lang: search.lang.clone(),
        since,
        ..Default::default()
    };
    let query = ArticleSearch {
        text: SearchText::new(search.query.clone(), search.fts),
        order: SearchOrder::Newest,
        item_text: ItemText::Full,
    };
    // Filters of several values are applied here, so ask for more.
    let found = store
        .search_articles(&query, &filter, None, i64::MAX, limit.saturating_mul(4))
        .await?;
    let publishers: Vec<String> = search.publishers.iter().map(|p| p.to_lowercase()).collect();
    let mut stories = HashSet::new();
    Ok(found
        .into_iter()
        .filter(|a| search.feeds.is_empty() || a.feed_ids.iter().any(|f| search.feeds.contains(f)))
        .filter(|a| {
            publishers.is_empty()
                || a.publisher
                    .as_ref()
                    .is_some_and(|p| publishers.contains(&p.to_lowercase()))
        })
        .filter(|a| a.story_id.is_none_or(|s| stories.insert(s)))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect())
}

/// How many of the archive's newest matching stories a new search with
/// `backfill` notifies about.
pub const BACKFILL_STORIES: i64 = 100;

/// A new search with `backfill` matches the archive's newest stories once,
/// when it is made (held like any match); later it matches new articles
/// only, like every search.
pub async fn backfill(
    store: &crate::store::Store,
    search: &SearchRow,
    now: DateTime<Utc>,
    hold: Duration,
) -> crate::store::Result<usize> {
    let found = past_matches(store, search, None, BACKFILL_STORIES).await?;
    let matches: Vec<crate::store::NewMatch> = found
        .iter()
        .map(|a| crate::store::NewMatch {
            search_id: search.id,
            article_id: a.id,
        })
        .collect();
    let due = now + chrono::Duration::from_std(hold).unwrap_or(chrono::Duration::MAX);
    store.record_matches(&[], &matches, now, due).await
}

/// Whether a digest search's next digest may go out at `now`.
pub fn digest_due(search: &SearchRow, now: DateTime<Utc>) -> bool {
    let Some(secs) = search.digest_secs else {
        return false;
    };
    match search.digest_at.as_deref().and_then(crate::store::parse_ts) {
        Some(at) => now >= at + chrono::Duration::seconds(secs),
        None => true,
    }
}

/// An instant event in the making: its search, story and matches.
type Group = (i64, AlertStory, Vec<(i64, AlertArticle)>);

/// What becomes of held matches whose hold is over: the first match of a
/// story in a search notifies (or waits in the digest), every later one of
/// the same story is a duplicate, listed with the first when they arrive in
/// the same batch. A match whose article has not been clustered yet stays
/// held.
pub fn plan_promotion(
    held: &[HeldMatch],
    searches: &HashMap<i64, SearchRow>,
    mut new_event_id: impl FnMut() -> String,
) -> Promotion {
    let mut promotion = Promotion::default();
    // (search, story) → index in `groups` (instant) or None (digest).
    let mut seen: HashMap<(i64, i64), Option<usize>> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    for m in held {
        let search = searches.get(&m.search_id).filter(|s| s.enabled);
        let (Some(search), Some(article)) = (search, &m.article) else {
            promotion
                .decisions
                .push((m.match_id, MatchState::Dropped, None));
            continue;
        };
        let Some(story) = &m.story else {
            continue;
        };
        let key = (search.id, story.id);
        if m.story_claimed {
            promotion
                .decisions
                .push((m.match_id, MatchState::Duplicate, Some(story.id)));
            continue;
        }
        match seen.get(&key) {
            Some(group) => {
                if let Some(g) = group {
                    groups[*g].2.push((m.match_id, article.clone()));
                }
                promotion
                    .decisions
                    .push((m.match_id, MatchState::Duplicate, Some(story.id)));
            }
            None if search.digest_secs.is_some() => {
                seen.insert(key, None);
                promotion
                    .decisions
                    .push((m.match_id, MatchState::Queued, Some(story.id)));
            }
            None => {
                seen.insert(key, Some(groups.len()));
                groups.push((
                    search.id,
                    story.clone(),
                    vec![(m.match_id, article.clone())],
                ));
                promotion
                    .decisions
                    .push((m.match_id, MatchState::Notified, Some(story.id)));
            }
        }
    }
    for (search_id, story, articles) in groups {
        let Some(search) = searches.get(&search_id) else {
            continue;
        };
        let event_id = new_event_id();
        let list: Vec<_> = articles.iter().map(|(_, a)| a.clone()).collect();
        promotion.events.push(NewEvent {
            payload: payload::story_payload(&event_id, search, &story, &list),
            event_id,
            search_id,
            channels: search.channels.clone(),
            match_ids: articles.iter().map(|(id, _)| *id).collect(),
        });
    }
    promotion
}

/// The digest of a search's queued matches, one entry per story.
pub fn plan_digest(search: &SearchRow, queued: &[QueuedMatch], event_id: String) -> Promotion {
    let mut stories: Vec<(AlertStory, Vec<AlertArticle>)> = Vec::new();
    for q in queued {
        match stories.iter_mut().find(|(s, _)| s.id == q.story.id) {
            Some((_, articles)) => articles.push(q.article.clone()),
            None => stories.push((q.story.clone(), vec![q.article.clone()])),
        }
    }
    Promotion {
        decisions: queued
            .iter()
            .map(|q| (q.match_id, MatchState::Notified, Some(q.story.id)))
            .collect(),
        events: vec![NewEvent {
            payload: payload::digest_payload(&event_id, search, &stories),
            event_id,
            search_id: search.id,
            channels: search.channels.clone(),
            match_ids: queued.iter().map(|q| q.match_id).collect(),
        }],
    }
}

/// When a delivery that failed its `attempts`-th try is tried again:
/// `base` doubled per earlier failure, spread by `jitter` (a fraction in
/// [0, 1) drawn by the caller: ±10 %), never before the receiver's
/// `Retry-After`.
pub fn retry_at(
    attempts: u32,
    base: Duration,
    jitter: f64,
    retry_after: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let doubled = base
        .saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1)))
        .min(MAX_RETRY_DELAY);
    let spread = doubled.mul_f64(0.9 + 0.2 * jitter.clamp(0.0, 1.0));
    let at = now + chrono::Duration::from_std(spread).unwrap_or(chrono::Duration::MAX);
    match retry_after {
        Some(r) if r > at => r,
        _ => at,
    }
}

/// A new event's id: random, so ids never repeat across archives either.
pub fn new_event_id() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
