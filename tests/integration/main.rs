//! Integration tests: one binary, real sockets on 127.0.0.1, temp databases.

mod alerts;
mod api;
mod cli;
mod copy;
mod crash;
mod disk_full;
mod docs;
mod egress;
mod engines;
mod extract_golden;
mod feeds;
mod fetch;
mod fulltext;
mod fuzz_regressions;
mod google_news;
mod helpers;
mod layout;
mod migrations;
mod polling;
mod properties;
mod readers;
mod retention;
mod rules;
mod secrets;
mod smtp;
mod soak;
