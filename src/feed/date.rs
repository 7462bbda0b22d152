//! Dates as feeds write them.

use chrono::{DateTime, Utc};

/// The instant a feed's date text names; `None` when it names none.
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_rfc2822(text))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
