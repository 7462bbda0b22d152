//! newsd keeps a local, queryable archive of the news.
//!
//! Three loops and housekeeping, joined by durable queues in the database
//! (every queue is a table, so a restart or a crash loses no work):
//!
//! ```text
//!  polling ──► feeds due ─► fetch ─► feed ─► poll ─► store ─┬─► google_links (pending)
//!  (poll::Dispatcher::dispatch_due_once)     entries, one   │        │
//!                                            outcome each   │        ▼
//!                                                           │    resolution ──► identity merge / split
//!                                                           │    (App::resolve_once, resolver, google_news)
//!                                                           ▼        │
//!                                                  fulltext_jobs ◄───┘ (an article with a publisher URL)
//!                                                           │
//!                                                           ▼
//!                                                      full text ──► extract ──► store (text, canonical URL)
//!                                                      (App::fulltext_once, fulltext)
//!
//!  housekeeping (App::housekeeping_once): search indexing (fts_pending),
//!  story clustering (cluster), alert matching (alert_pending ─► alert_matches,
//!  held until clustered ─► alert_events + alert_deliveries, the outbox),
//!  upkeep, retention
//!
//!  delivery (App::deliver_once): the outbox ─► webhook / ntfy through fetch,
//!  email over SMTP to an address fetch's guard allowed
//! ```
//!
//! Each loop is a thin shell in [`app`] around a `*_once(now)` function that
//! the daemon and the tests call alike, stopped by a cancellation token.
//! Several instances may share one PostgreSQL archive: each registers
//! (`store::instances`) and heartbeats, claims due feeds, Google links and
//! deliveries with leases before working on them, and runs clustering,
//! alert matching, upkeep and retention only while it holds their singleton
//! lease; a killed instance's claims run out one `instance.lease` later.
//!
//! Modules:
//! - [`app`]: builds the parts from the settings and runs the loops.
//! - [`poll`]: the poll of one feed as one outcome recorded once, and the dispatch of due feeds under the concurrency limits.
//! - [`scheduler`]: pure rules for when a feed is polled next (adaptive interval, backoff, Retry-After).
//! - [`fetch`]: the one HTTP client: politeness per host (across instances through a `HostGate` the PostgreSQL store provides), redirects hop by hop, limits, conditional GET, SSRF guard, `http.local_address`.
//! - [`feed`]: feed bytes to plain entries (pure).
//! - [`google_news`]: Google News feeds, ids and the resolution protocol (pure, but for `resolve`'s requests through `fetch`).
//! - [`resolver`]: the resolution queue's worker: Google's budget per egress (tokens taken from the store before each GET), the breaker, lookups, merges.
//! - [`fulltext`]: the full-text queue's worker: robots.txt, fetch, extract, the one acceptance rule (`decide`, shared with `reextract`), store.
//! - [`extract`]: HTML to article text, metadata and page kind (pure; a cut of what is never content before parsing, stages over a leaf `dom` of DOM helpers, a live blog's or thread's entries from JSON-LD); [`extract_cmd`]: `newsd extract` over files.
//! - [`cluster`]: pure rules for which articles tell one story.
//! - [`rules`]: `[[rules]]` at ingest: which entries are blocked or kept and which tags articles get (pure); [`rules_cmd`]: `newsd rules apply`.
//! - [`alerts`]: saved searches that notify: matching, once per story, digests, retry backoff, payloads (pure), and sending through `fetch` (email: SMTP via lettre).
//! - [`domain`]: newtypes parsed at the edge (`FeedUrl`, `EntryKey`, `CanonicalUrl`).
//! - [`store`]: the archive behind one engine-neutral API; the identity (dedupe) model in `store::identity`, the instance registry and leases in `store::instances`, SQLite in `store::sqlite`, PostgreSQL in `store::postgres`.
//! - [`api`]: the HTTP API (JSON, Atom and JSON Feed out, probes, metrics), under `newsd run` and read-only `newsd serve`.
//! - [`cli`]: the commands behind `newsd`; [`opml`]: OPML import and export; [`progress`]: progress bars of long commands.
//! - [`config`]: the one typed `Settings`; [`telemetry`]: logging; [`lock`]: the single-writer lock of an SQLite file.
//! - [`metrics`]: in-memory poll counters and scheduling lateness for `/metrics`.

#![forbid(unsafe_code)]

pub mod alerts;
pub mod api;
pub mod app;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod domain;
pub mod extract;
pub mod extract_cmd;
pub mod feed;
pub mod fetch;
pub mod fulltext;
pub mod google_news;
pub mod lock;
pub mod metrics;
pub mod opml;
pub mod poll;
pub mod progress;
pub mod resolver;
pub mod rules;
pub mod rules_cmd;
pub mod scheduler;
pub mod store;
pub mod telemetry;
