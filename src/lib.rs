//! newsd keeps a local, queryable archive of the news.
//!
//! Data flows one way through the pipeline:
//!
//! ```text
//! scheduler ──► fetch ──► feed ──► (google_news) ──► (extract) ──► store
//!  when to       the one    parse     links to         full text     all SQL,
//!  poll next     HTTP       bytes     publisher URLs                 dedupe merge
//!                client     to entries
//! ```
//!
//! - [`scheduler`]: pure rules for when each feed is polled next (adaptive
//!   interval, backoff, Retry-After, permanent redirects).
//! - [`fetch`]: the only HTTP client: per-host politeness, redirects hop by
//!   hop, body and time limits, conditional GET, SSRF guard.
//! - [`feed`]: feed bytes to plain entries (pure).
//! - [`domain`]: newtypes parsed at the edge (`FeedUrl`, `EntryKey`, `CanonicalUrl`).
//! - [`store`]: the SQLite archive; every query lives there, including the one
//!   dedupe merge used whenever an article's identity becomes known, and the
//!   story clustering step (rules in [`cluster`], pure) run after each round.
//! - [`poll`]: the poll of one feed (fetch, parse, entries, its row update)
//!   as one outcome recorded once, and the dispatch of due feeds under the
//!   daemon's concurrency limits.
//! - [`app`]: wires the stages together and runs the background loops
//!   (`*_once(now)` functions inside thin loops, stopped by a token).
//! - [`api`]: the HTTP API over the store (JSON, Atom/JSON Feed out, probes,
//!   metrics), served by `newsd run` and read-only by `newsd serve`.
//! - [`cli`]: the commands behind `newsd`.
//! - [`config`], [`telemetry`], [`lock`]: settings, logging, the single-writer lock.
//! - [`metrics`]: in-memory poll counters and scheduling lateness for `/metrics`.

#![forbid(unsafe_code)]

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
pub mod resolver;
pub mod scheduler;
pub mod store;
pub mod telemetry;
