//! Saved searches and their alerts, whatever the engine: the searches, the
//! articles waiting to be matched, matches held until their story is known,
//! and the outbox of deliveries. The rules (what matches, when a held match
//! is sent, how a delivery is retried) are in [`crate::alerts`]; the SQL is
//! in each engine's `alerts.rs`.

use serde::{Deserialize, Serialize};

use crate::store::error::{Result, StoreError};

/// Who manages a saved search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchOrigin {
    /// A `[[searches]]` entry: synced at start, disabled when it leaves.
    Config,
    Cli,
    Api,
}

impl SearchOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            SearchOrigin::Config => "config",
            SearchOrigin::Cli => "cli",
            SearchOrigin::Api => "api",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "config" => Ok(SearchOrigin::Config),
            "cli" => Ok(SearchOrigin::Cli),
            "api" => Ok(SearchOrigin::Api),
            other => Err(StoreError::Inconsistent(format!(
                "unknown search origin {other:?}"
            ))),
        }
    }
}

/// A saved search as it is written: the config's, the CLI's or the API's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewSearch {
    pub name: String,
    pub query: String,
    pub fts: bool,
    /// Feed ids (URLs are resolved to ids before they get here).
    pub feeds: Vec<i64>,
    pub publishers: Vec<String>,
    pub lang: Option<String>,
    pub channels: Vec<String>,
    pub digest_secs: Option<i64>,
    pub backfill: bool,
}

/// A stored saved search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchRow {
    pub id: i64,
    pub name: String,
    pub query: String,
    pub fts: bool,
    pub feeds: Vec<i64>,
    pub publishers: Vec<String>,
    pub lang: Option<String>,
    pub channels: Vec<String>,
    pub digest_secs: Option<i64>,
    pub backfill: bool,
    pub origin: SearchOrigin,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// Articles first seen before this do not match; `None` with backfill.
    pub matches_since: Option<String>,
    pub digest_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl SearchRow {
    /// The fields a writer gives, to tell an edit from a no-op.
    pub fn as_new(&self) -> NewSearch {
        NewSearch {
            name: self.name.clone(),
            query: self.query.clone(),
            fts: self.fts,
            feeds: self.feeds.clone(),
            publishers: self.publishers.clone(),
            lang: self.lang.clone(),
            channels: self.channels.clone(),
            digest_secs: self.digest_secs,
            backfill: self.backfill,
        }
    }
}

/// The JSON arrays of a search row, decoded (a corrupt one is an error, not
/// an empty filter that would match everything).
pub(super) fn json_list<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> Result<T> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Inconsistent(format!("searches.{column} is not a JSON list: {e}")))
}

pub(super) fn json_text<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}

/// The columns of a `searches` row as both engines read them.
#[derive(sqlx::FromRow)]
pub(super) struct SearchColumns {
    id: i64,
    name: String,
    query: String,
    fts: i64,
    feeds: String,
    publishers: String,
    lang: Option<String>,
    channels: String,
    digest_secs: Option<i64>,
    backfill: i64,
    origin: String,
    enabled: i64,
    disabled_reason: Option<String>,
    matches_since: Option<String>,
    digest_at: Option<String>,
    created_at: String,
    updated_at: String,
}

pub(super) const SEARCH_COLUMNS: &str = "id, name, query, fts, feeds, publishers, lang, channels, \
     digest_secs, backfill, origin, enabled, disabled_reason, matches_since, digest_at, \
     created_at, updated_at";

pub(super) fn search_row(c: SearchColumns) -> Result<SearchRow> {
    Ok(SearchRow {
        id: c.id,
        name: c.name,
        query: c.query,
        fts: c.fts != 0,
        feeds: json_list("feeds", &c.feeds)?,
        publishers: json_list("publishers", &c.publishers)?,
        lang: c.lang,
        channels: json_list("channels", &c.channels)?,
        digest_secs: c.digest_secs,
        backfill: c.backfill != 0,
        origin: SearchOrigin::parse(&c.origin)?,
        enabled: c.enabled != 0,
        disabled_reason: c.disabled_reason,
        matches_since: c.matches_since,
        digest_at: c.digest_at,
        created_at: c.created_at,
        updated_at: c.updated_at,
    })
}

/// What removing a search did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchRemoval {
    Removed(Box<SearchRow>),
    NotFound,
}

/// An `alert_pending` row with its article's columns (NULL: gone).
pub(super) type CandidateColumns = (
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

pub(super) fn candidate_of(r: CandidateColumns) -> AlertCandidate {
    AlertCandidate {
        article_id: r.0,
        title: r.2,
        summary: r.3,
        text: r.4,
        publisher: r.5,
        lang: r.6,
        // An article gone since it was queued matches nothing.
        first_seen_at: if r.1.is_some() {
            r.7.unwrap_or_default()
        } else {
            String::new()
        },
        feed_ids: r
            .8
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default(),
    }
}

/// An article waiting to be matched, with what the searches look at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertCandidate {
    pub article_id: i64,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub text: Option<String>,
    pub publisher: Option<String>,
    pub lang: Option<String>,
    pub first_seen_at: String,
    pub feed_ids: Vec<i64>,
}

/// One search's match of one article.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewMatch {
    pub search_id: i64,
    pub article_id: i64,
}

/// Where a match is on its way to a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchState {
    /// Waits out `alerts.hold` and the article's first clustering.
    Held,
    /// The story's first match in a digest search, waiting for the digest.
    Queued,
    /// In an event (sent or on its way).
    Notified,
    /// Its story was already notified by this search.
    Duplicate,
    /// Dropped while held: the article is gone or the search disabled.
    Dropped,
}

impl MatchState {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchState::Held => "held",
            MatchState::Queued => "queued",
            MatchState::Notified => "notified",
            MatchState::Duplicate => "duplicate",
            MatchState::Dropped => "dropped",
        }
    }
}

/// An article as an alert shows it (the webhook's `articles` entries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertArticle {
    pub id: i64,
    pub url: Option<String>,
    pub title: Option<String>,
    pub publisher: Option<String>,
    pub first_seen_at: String,
    pub snippet: Option<String>,
}

/// A story as an alert shows it (the webhook's `story`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertStory {
    pub id: i64,
    pub title: Option<String>,
    pub first_seen_at: String,
}

/// A held match whose hold is over, with what deciding its fate needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldMatch {
    pub match_id: i64,
    pub search_id: i64,
    /// `None`: the article was merged away or pruned.
    pub article: Option<AlertArticle>,
    /// The article's story; `None` until it has been through clustering.
    pub story: Option<AlertStory>,
    /// This search already notified (or queued) the story.
    pub story_claimed: bool,
}

/// A match waiting in a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMatch {
    pub match_id: i64,
    pub story: AlertStory,
    pub article: AlertArticle,
}

/// A message to send: its payload, fixed now, to every channel named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub event_id: String,
    pub search_id: i64,
    pub payload: String,
    pub channels: Vec<String>,
    /// The matches it tells of.
    pub match_ids: Vec<i64>,
}

/// What becomes of held matches, written in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Promotion {
    /// `(match, state, story)`; `Notified` matches get their event from
    /// `events`.
    pub decisions: Vec<(i64, MatchState, Option<i64>)>,
    pub events: Vec<NewEvent>,
}

/// A delivery due to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    pub event_id: String,
    pub search_id: i64,
    pub channel: String,
    /// Attempts made before this one.
    pub attempts: u32,
    pub payload: String,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Sent {
        status: u16,
    },
    Retry {
        at: chrono::DateTime<chrono::Utc>,
        error: String,
        status: Option<u16>,
    },
    Failed {
        error: String,
        status: Option<u16>,
    },
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Sent,
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Sent => "sent",
            DeliveryState::Failed => "failed",
        }
    }
}

/// Counts for `newsd stats` and `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AlertStats {
    pub searches: i64,
    pub matches_held: i64,
    pub matches_queued: i64,
    pub events: i64,
    pub deliveries_pending: i64,
    pub deliveries_sent: i64,
    pub deliveries_failed: i64,
}

/// The columns of a matched article and its story, as alerts show them.
pub(super) const ALERT_ARTICLE: &str = "a.id, a.url, a.title, a.publisher, a.first_seen_at, \
     substr(coalesce(a.summary, a.text), 1, 300), s.id, s.title, s.first_seen_at";

pub(super) type ArticleColumns = (
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

pub(super) type QueuedColumns = (
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

pub(super) fn queued_of(r: QueuedColumns) -> Option<QueuedMatch> {
    let cols: ArticleColumns = (r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9);
    Some(QueuedMatch {
        match_id: r.0,
        story: story_of(&cols)?,
        article: article_of(&cols)?,
    })
}

pub(super) fn article_of(c: &ArticleColumns) -> Option<AlertArticle> {
    Some(AlertArticle {
        id: c.0?,
        url: c.1.clone(),
        title: c.2.clone(),
        publisher: c.3.clone(),
        first_seen_at: c.4.clone()?,
        snippet: c.5.clone(),
    })
}

pub(super) fn story_of(c: &ArticleColumns) -> Option<AlertStory> {
    Some(AlertStory {
        id: c.6?,
        title: c.7.clone(),
        first_seen_at: c.8.clone()?,
    })
}

/// A held match with its article, story and claim, as both engines read it.
pub(super) type HeldColumns = (
    i64,
    i64,
    Option<i64>,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

/// The columns of a held match before [`ALERT_ARTICLE`]'s: the match, its
/// article's clustering state, and whether its story is already claimed.
pub(super) const HELD_MATCH: &str = "m.id, m.search_id, a.cluster_due, \
     CASE WHEN EXISTS (SELECT 1 FROM alert_matches c WHERE c.search_id = m.search_id \
     AND c.story_id = a.story_id AND c.state IN ('queued', 'notified')) \
     THEN CAST(1 AS BIGINT) ELSE CAST(0 AS BIGINT) END";

pub(super) fn held_of(r: HeldColumns) -> HeldMatch {
    let cols: ArticleColumns = (r.4, r.5, r.6, r.7, r.8, r.9, r.10, r.11, r.12);
    // Story ids are given by clustering; an article waiting for its first
    // round (cluster_due 1) has none worth trusting yet.
    let clustered = r.2 != Some(1);
    HeldMatch {
        match_id: r.0,
        search_id: r.1,
        article: article_of(&cols),
        story: story_of(&cols).filter(|_| clustered),
        story_claimed: r.3 != 0,
    }
}

/// The alert counts of `newsd stats` and `/metrics`, in portable SQL.
pub(super) const ALERT_STATS: &str = "SELECT (SELECT count(*) FROM searches WHERE enabled = 1), \
     (SELECT count(*) FROM alert_matches WHERE state = 'held'), \
     (SELECT count(*) FROM alert_matches WHERE state = 'queued'), \
     (SELECT count(*) FROM alert_events), \
     (SELECT count(*) FROM alert_deliveries WHERE state = 'pending'), \
     (SELECT count(*) FROM alert_deliveries WHERE state = 'sent'), \
     (SELECT count(*) FROM alert_deliveries WHERE state = 'failed')";

/// [`ALERT_STATS`]' row.
pub(super) type StatsColumns = (i64, i64, i64, i64, i64, i64, i64);

pub(super) fn stats_of(c: StatsColumns) -> AlertStats {
    let (searches, held, queued, events, pending, sent, failed) = c;
    AlertStats {
        searches,
        matches_held: held,
        matches_queued: queued,
        events,
        deliveries_pending: pending,
        deliveries_sent: sent,
        deliveries_failed: failed,
    }
}
