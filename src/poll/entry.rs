//! A parsed feed entry as the store takes it.

use url::Url;

use crate::domain::{strip_tracking, CanonicalUrl, EntryKey};
use crate::feed::ParsedEntry;
use crate::google_news::{self, Edition};
use crate::store::{GoogleEntry, Hint, NewEntry};

/// A parsed entry as the store wants it; `None` when it has no identity at
/// all. Google News items (links on `google_base`) get their Google state.
pub fn to_new_entry(
    e: &ParsedEntry,
    feed_url: &Url,
    google_base: &Url,
    default_edition: &Edition,
) -> Option<NewEntry> {
    let published = e.published_at.map(crate::store::ts);
    let key = EntryKey::derive(
        e.guid.as_deref(),
        e.link.as_deref(),
        e.title.as_deref(),
        published.as_deref(),
    )?;
    let google = google_news::classify(
        google_base,
        feed_url,
        default_edition,
        google_news::EntryFields {
            link: e.link.as_deref(),
            title: e.title.as_deref(),
            source_name: e.source_name.as_deref(),
            source_url: e.source_url.as_deref(),
            description_html: e.summary_html.as_deref(),
        },
    );
    let identity_url = match &google {
        Some(g) => g.decoded_url.as_deref(),
        None => e.link.as_deref(),
    };
    let parsed = identity_url.and_then(|l| Url::parse(l).ok());
    let mut entry = NewEntry {
        entry_key: key,
        guid: e.guid.clone(),
        link: e.link.clone(),
        url: parsed.as_ref().map(|u| strip_tracking(u).to_string()),
        url_key: parsed.as_ref().map(CanonicalUrl::from_url),
        title: e.title.clone(),
        summary: e.summary.clone(),
        publisher: e.source_name.clone(),
        publisher_url: e.source_url.clone(),
        authors: e.authors.clone(),
        published_at: e.published_at,
        google: None,
        provisional_key: None,
    };
    if let Some(g) = google {
        entry.title = g.title.or(entry.title);
        // A Google description lists other outlets' headlines: not this article's summary.
        entry.summary = None;
        entry.google = Some(GoogleEntry {
            google_id: g.google_id,
            decoded: g.decoded_url.is_some() && parsed.is_some(),
            unresolvable: g.unresolvable,
            provisional_key: g.provisional_key,
            hl: g.edition.hl,
            gl: g.edition.gl,
            ceid: g.edition.ceid,
            hints: g
                .hints
                .into_iter()
                .map(|h| Hint {
                    url: h.url,
                    title: h.title,
                    source: h.source,
                    google_id: h.google_id,
                })
                .collect(),
        });
    }
    entry.provisional_key = crate::store::identity::entry_provisional_key(&entry);
    Some(entry)
}
