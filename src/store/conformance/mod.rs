//! The store conformance suite: every test here runs on every engine
//! (`store_test!`), through the engine-neutral `Store` API (and, for rows
//! the API does not show, portable SQL through `store::testing`). Tests of
//! one engine's own machinery stay beside that engine.

mod alerts;
mod export;
mod feeds;
mod fulltext_queue;
mod google_links;
pub(crate) mod ingest;
mod instances;
mod query;
mod retention;
mod rules;
mod stories;
