//! The identity (dedupe) model: when two things newsd saw are one. Every
//! engine applies these rules through its own statements (for SQLite,
//! `sqlite/identity.rs` and the ingest path that calls it); the decisions
//! themselves are the plain functions below, tested without a database.
//!
//! **Entry identity, within a feed.** A feed entry is known by its
//! [`EntryKey`](crate::domain::EntryKey): its guid, else its link, else a
//! hash of title and date (long guids and links by their hash). The same
//! key in the same feed is the same entry: seen again, it is only marked
//! seen (`feed_items.last_seen_at`), never stored twice, and an entry whose
//! key, URL or Google id carries a tombstone (retention pruned it) stays
//! gone.
//!
//! **Article identity, across feeds.** An article is known by its
//! normalized URL ([`CanonicalUrl`](crate::domain::CanonicalUrl):
//! lowercase host without `www.`, no fragment, default port or tracking
//! parameters, sorted query), stored as `articles.url_key`. Entries of any
//! feed with the same key are one article with one feed item per entry. An
//! entry seen again through another feed changes nothing the article has
//! and fills what it lacks ([`FILLED_FROM_ENTRIES`]). An entry without a
//! link is an article of its own within its feed ([`article_key`]).
//!
//! **Provisional identity, for Google items.** A new-format Google id
//! carries no URL, so until its link resolves the article is known by its
//! Google id and by a provisional key (normalized headline + publisher
//! host, `google_news::provisional_key`). An item joins the article of its
//! Google id if the archive holds it, else the first article with its
//! provisional key first seen within [`PROVISIONAL_WINDOW`] before it, else
//! it creates an unresolved article (url_key [`unresolved_key`]). Whether
//! its link needs a lookup of its own is [`link_status`].
//!
//! **Articles placed without Google.** An article known through a publisher
//! URL carries the same provisional key ([`entry_provisional_key`]): an
//! entry of a plain feed (the host of its link; articles stored since
//! migration 0018), an old-format id decoded offline, a resolved link, a
//! fetched page's canonical URL (the latter two keep the key they had). A
//! Google item matching one joins it as above, its link `joined` with no
//! lookup. One that arrived first waits `google_news.settle` before its
//! lookup; just before the lookup, its unresolved article is matched again
//! and, when a placed article ([`is_placed`]) holds its key, first seen
//! within the window before it or any time after ([`placed_within_window`]),
//! merges into it, its unsigned links `joined`. A join is never verified by a lookup,
//! so the rule is the conservative one: the exact normalized headline, the
//! same publisher host, within the window, generic headlines never keyed;
//! the Google link is kept, so `newsd resolve` can check one.
//!
//! **What a resolved link or a canonical URL changes.** When a link
//! resolves, or a fetched page names its canonical URL, the article takes
//! that normalized URL as its identity. If another article already holds
//! it, the two merge: feed items, Google links and story hints move to the
//! survivor, its empty fields are filled from the merged one
//! ([`FILLED_FROM_MERGED`]), it keeps the earlier first-seen time, and the
//! merged article disappears. A link whose article had already resolved to
//! another URL was a wrong provisional merge: its items split off to the
//! article of its own URL (created as a copy when none holds it), found by
//! [`link_names_id`].
//!
//! **Full text.** An article is queued for its full text when it first has
//! a URL of the publisher's article to fetch (`articles.url`, not the
//! `publisher_url` of its site): stored with one, or resolved to one.

use chrono::{DateTime, Duration, Utc};

use crate::store::error::StoreError;
use crate::store::google_links::LinkStatus;
use crate::store::ingest::NewEntry;
use crate::store::time::parse_ts;

/// Article fields an entry seen again fills when the article lacks them
/// (authors too, when the article has none).
pub const FILLED_FROM_ENTRIES: [&str; 5] = [
    "title",
    "summary",
    "publisher",
    "publisher_url",
    "published_at",
];

/// Article fields a merged article fills in its survivor.
pub const FILLED_FROM_MERGED: [&str; 6] = [
    "title",
    "summary",
    "text",
    "publisher",
    "publisher_url",
    "published_at",
];

/// How long a provisional identity (headline + publisher host) matches.
pub const PROVISIONAL_WINDOW: Duration = Duration::hours(36);

/// The earliest first-seen time of an article an item seen at `at` may
/// join by its provisional key.
pub fn provisional_window_start(at: DateTime<Utc>) -> DateTime<Utc> {
    at - PROVISIONAL_WINDOW
}

/// Whether an item seen at `at` with an article's provisional key joins
/// that article, first seen at `first_seen`: the key matches within the
/// window before the item (engines ask the same of their stored articles).
pub fn joins_provisionally(first_seen: DateTime<Utc>, at: DateTime<Utc>) -> bool {
    first_seen >= provisional_window_start(at)
}

/// The provisional key an entry's new article is stored with
/// (`NewEntry::provisional_key`): a Google item's (its `<source url>` host),
/// else, for an entry with a URL of its own, that URL's host with the
/// entry's title.
pub fn entry_provisional_key(e: &NewEntry) -> Option<String> {
    match &e.google {
        Some(g) => g.provisional_key.clone(),
        None => {
            let url = url::Url::parse(e.url.as_deref()?).ok()?;
            crate::google_news::provisional_key(e.title.as_deref()?, &url)
        }
    }
}

/// Whether a placed article first seen at `placed_seen` may take in an
/// unresolved one first seen at `unresolved_seen` (stored times; one that
/// does not parse never matches): within the window before it, or after.
pub fn placed_within_window(placed_seen: &str, unresolved_seen: &str) -> bool {
    match (parse_ts(placed_seen), parse_ts(unresolved_seen)) {
        (Some(placed), Some(unresolved)) => joins_provisionally(placed, unresolved),
        _ => false,
    }
}

/// An unresolved article and a placed one with its provisional key, as
/// the engines read them: `(unresolved id, its first_seen_at, the placed
/// one's first_seen_at, resolution, url_key, url)`, ordered by both ids.
pub type PlacedCandidate = (i64, String, String, Option<String>, String, String);

/// The placed article each unresolved one joins: the first candidate (by
/// id) that is placed and within the window, as `(unresolved id, url_key,
/// url)`.
pub fn placed_joins(candidates: Vec<PlacedCandidate>) -> Vec<(i64, String, String)> {
    let mut joins: Vec<(i64, String, String)> = Vec::new();
    for (unresolved, seen, placed_seen, resolution, url_key, url) in candidates {
        if joins.last().is_some_and(|(id, ..)| *id == unresolved)
            || !is_placed(resolution.as_deref())
            || !placed_within_window(&placed_seen, &seen)
        {
            continue;
        }
        joins.push((unresolved, url_key, url));
    }
    joins
}

/// Whether an article's stored resolution says it is known through a
/// publisher URL (a plain entry's, or a Google link's that resolved).
pub fn is_placed(resolution: Option<&str>) -> bool {
    resolution != Some("unresolved")
}

/// An entry's article identity: its normalized URL, or for an entry
/// without a link one of its own within its feed.
pub fn article_key(feed_id: i64, url_key: Option<&str>, entry_key: &str) -> String {
    url_key
        .map(str::to_owned)
        .unwrap_or_else(|| format!("feed:{feed_id}/{entry_key}"))
}

/// The identity of an unresolved Google article until its link resolves:
/// unique and short, and new keys come last in the `url_key` index (the
/// Google id, ~300 random bytes, took each new article at a scattered leaf
/// page of it).
pub fn unresolved_key(article_id: i64) -> String {
    format!("gn:{article_id}")
}

/// The article a Google item of a poll goes to: one the archive holds, or
/// the `k`-th that the poll creates (its id known once they are inserted).
#[derive(Clone, Copy)]
pub(crate) enum ArticleRef {
    Stored(i64),
    New(usize),
}

impl ArticleRef {
    /// The article's id, given the ids of the poll's new articles in order.
    pub(crate) fn id(self, new_ids: &[i64]) -> Result<i64, StoreError> {
        match self {
            ArticleRef::Stored(id) => Ok(id),
            ArticleRef::New(n) => new_ids.get(n).copied().ok_or_else(|| {
                StoreError::Inconsistent(format!("new article {n} of {} has no id", new_ids.len()))
            }),
        }
    }
}

/// Whether a new Google link is looked up: never for an id that cannot be
/// resolved, and not when the article it joins is placed already (by a
/// publisher URL, or a resolved story).
pub fn link_status(unresolvable: bool, joins_placed_article: bool) -> LinkStatus {
    if unresolvable {
        LinkStatus::Failed
    } else if joins_placed_article {
        LinkStatus::Joined
    } else {
        LinkStatus::Pending
    }
}

/// Whether a feed item's `link`, as the feed gave it, is the link of Google
/// id `id`: the id is a segment of its path (`/rss/articles/{id}`), which is
/// where newsd read it from (`google_news::article_id_from_url`). Feed items
/// keep no id of their own (migration 0016).
pub fn link_names_id(link: &str, id: &str) -> bool {
    url::Url::parse(link)
        .ok()
        .and_then(|u| u.path_segments().map(|mut segs| segs.any(|s| s == id)))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_unresolved_article_joins_its_first_placed_candidate_within_the_window() {
        let c = |id: i64, placed_seen: &str, resolution: Option<&str>, url: &str| {
            (
                id,
                "2026-12-07T12:00:00Z".to_owned(),
                placed_seen.to_owned(),
                resolution.map(str::to_owned),
                url.to_owned(),
                format!("https://{url}"),
            )
        };
        let joins = placed_joins(vec![
            c(
                1,
                "2026-12-07T11:00:00Z",
                Some("unresolved"),
                "a.example/no",
            ),
            c(1, "2026-12-07T11:00:00Z", None, "a.example/first"),
            c(1, "2026-12-07T11:30:00Z", None, "a.example/second"),
            c(2, "2020-01-01T00:00:00Z", None, "b.example/too-old"),
            c(
                3,
                "2026-12-07T13:00:00Z",
                Some("resolved"),
                "c.example/later",
            ),
        ]);
        let ids: Vec<(i64, &str)> = joins
            .iter()
            .map(|(id, key, _)| (*id, key.as_str()))
            .collect();
        assert_eq!(ids, vec![(1, "a.example/first"), (3, "c.example/later")]);
    }

    #[test]
    fn a_link_names_the_google_id_in_its_path_and_no_other() {
        let id = "CBMiK2h0dHBzOi8vbmV3cy5leGFtcGxlL2Evb25l0gEA";
        for link in [
            format!("https://news.google.com/rss/articles/{id}?oc=5"),
            format!("http://127.0.0.1:8080/articles/{id}"),
            format!("https://news.google.com/__i/rss/rd/articles/{id}?hl=en-US&gl=US"),
        ] {
            assert!(link_names_id(&link, id), "{link}");
        }
        for link in [
            format!("https://news.google.com/rss/articles/{id}x?oc=5"),
            format!("https://news.google.com/rss/articles/x{id}"),
            format!("https://news.google.com/rss/articles/other?id={id}"),
            format!("not a url {id}"),
        ] {
            assert!(!link_names_id(&link, id), "{link}");
        }
    }

    #[test]
    fn an_entry_with_a_link_is_its_url_and_one_without_is_its_own_within_its_feed() {
        assert_eq!(
            article_key(3, Some("news.example/a"), "id:1"),
            "news.example/a"
        );
        assert_eq!(article_key(3, None, "id:1"), "feed:3/id:1");
        assert_ne!(article_key(3, None, "id:1"), article_key(4, None, "id:1"));
    }

    #[test]
    fn a_new_link_is_looked_up_unless_its_story_resolved_or_it_never_can_be() {
        assert_eq!(link_status(false, false), LinkStatus::Pending);
        assert_eq!(link_status(false, true), LinkStatus::Joined);
        assert_eq!(link_status(true, true), LinkStatus::Failed);
        assert_eq!(link_status(true, false), LinkStatus::Failed);
    }

    #[test]
    fn a_provisional_key_matches_for_thirty_six_hours_back() {
        let at = DateTime::parse_from_rfc3339("2026-03-02T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            provisional_window_start(at).to_rfc3339(),
            "2026-03-01T00:00:00+00:00"
        );
    }

    #[test]
    fn an_item_joins_a_provisional_story_first_seen_within_the_window_before_it() {
        let at = DateTime::parse_from_rfc3339("2026-03-02T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(joins_provisionally(at, at));
        assert!(joins_provisionally(at - Duration::hours(36), at));
        assert!(!joins_provisionally(
            at - Duration::hours(36) - Duration::seconds(1),
            at
        ));
    }

    #[test]
    fn a_plain_entry_is_keyed_by_its_links_host_and_a_google_item_by_its_source() {
        let plain = NewEntry {
            entry_key: crate::domain::EntryKey::derive(Some("g"), None, None, None).unwrap(),
            url: Some("https://www.city.example/news/bridge".into()),
            title: Some("Harbour bridge reopens after two years of repairs".into()),
            ..Default::default()
        };
        assert_eq!(
            entry_provisional_key(&plain).as_deref(),
            Some("city.example|harbour bridge reopens after two years of repairs")
        );
        let generic = NewEntry {
            title: Some("Live updates".into()),
            ..plain.clone()
        };
        assert_eq!(entry_provisional_key(&generic), None);
        let no_url = NewEntry {
            url: None,
            ..plain.clone()
        };
        assert_eq!(entry_provisional_key(&no_url), None);
        let google = NewEntry {
            google: Some(crate::store::GoogleEntry {
                provisional_key: Some("paper.example|x y z w".into()),
                ..Default::default()
            }),
            ..plain
        };
        assert_eq!(
            entry_provisional_key(&google).as_deref(),
            Some("paper.example|x y z w")
        );
    }

    #[test]
    fn a_placed_article_seen_after_the_google_item_or_within_the_window_before_it_joins() {
        assert!(placed_within_window(
            "2026-03-02T12:02:00Z",
            "2026-03-02T12:00:00Z"
        ));
        assert!(placed_within_window(
            "2026-03-01T00:00:00Z",
            "2026-03-02T12:00:00Z"
        ));
        assert!(!placed_within_window(
            "2026-02-28T23:59:59Z",
            "2026-03-02T12:00:00Z"
        ));
        assert!(!placed_within_window("yesterday", "2026-03-02T12:00:00Z"));
    }

    #[test]
    fn only_an_unresolved_article_is_unplaced() {
        assert!(is_placed(None));
        assert!(is_placed(Some("resolved")));
        assert!(!is_placed(Some("unresolved")));
    }

    #[test]
    fn an_unresolved_article_is_keyed_by_its_own_id() {
        assert_eq!(unresolved_key(42), "gn:42");
    }
}
