//! Timestamps as the archive stores them and the API shows them.

use chrono::{DateTime, SecondsFormat, Utc};

/// A UTC timestamp as stored: RFC 3339, second precision, `Z` suffix.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}
