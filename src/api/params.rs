//! Query parameters and cursors, parsed at the edge: every failure names
//! the parameter.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::ApiError;
use crate::config::HumanDuration;
use crate::store::{parse_ts, RankKey, SeenKey};

/// The query string of one request, checked against the parameters the
/// route knows.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Unknown parameters are refused (a typo must not silently widen a
    /// query) unless `known` is empty; repeated ones too.
    pub fn parse(raw: Option<&str>, known: &[&str]) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
        for (i, (k, _)) in pairs.iter().enumerate() {
            if !known.is_empty() && !known.contains(&k.as_str()) {
                return Err(ApiError::bad_param(
                    k,
                    format!("unknown parameter; this route takes {}", known.join(", ")),
                ));
            }
            if pairs[..i].iter().any(|(p, _)| p == k) {
                return Err(ApiError::bad_param(k, "given more than once"));
            }
        }
        Ok(Params(pairs))
    }

    /// A parameter's value; an empty value counts as absent.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    pub fn i64(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.str(name)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| ApiError::bad_param(name, format!("{v:?} is not an integer")))
            })
            .transpose()
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        self.str(name)
            .map(|v| match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(true),
                "false" | "0" | "no" => Ok(false),
                _ => Err(ApiError::bad_param(
                    name,
                    format!("{v:?} is not a boolean (true or false)"),
                )),
            })
            .transpose()
    }

    /// An RFC 3339 time, or a window ending now such as `24h` or `7d`.
    pub fn time(&self, name: &str, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.str(name)
            .map(|v| parse_time(v, now).map_err(|reason| ApiError::bad_param(name, reason)))
            .transpose()
    }

    /// `limit`: `default` when absent, at most `max`, at least 1.
    pub fn limit(&self, default: i64, max: i64) -> Result<i64, ApiError> {
        match self.i64("limit")? {
            None => Ok(default),
            Some(n) if n < 1 => Err(ApiError::bad_param("limit", "must be at least 1")),
            Some(n) => Ok(n.min(max)),
        }
    }
}

fn parse_time(v: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Some(t) = parse_ts(v) {
        return Ok(t);
    }
    let d: HumanDuration = v.parse().map_err(|_| {
        format!("{v:?} is neither an RFC 3339 time (2026-11-28T01:00:00Z) nor a duration (24h, 7d)")
    })?;
    chrono::Duration::from_std(d.0)
        .ok()
        .and_then(|d| now.checked_sub_signed(d))
        .ok_or_else(|| format!("{v:?} reaches too far back"))
}

/// An opaque page cursor.
#[derive(Debug, Clone, PartialEq)]
pub enum Cursor {
    /// Newest-first listing.
    Seen(SeenKey),
    /// Ranked search for the query whose fingerprint is `query`.
    Rank { key: RankKey, query: String },
}

/// A short fingerprint of a search, so a cursor is not reused for another.
pub fn query_fingerprint(q: &str, fts: bool) -> String {
    let d = Sha256::digest(format!("{fts}\u{1f}{q}").as_bytes());
    d.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

impl Cursor {
    pub fn encode(&self) -> String {
        let raw = match self {
            Cursor::Seen(k) => format!("s\n{}\n{}", k.first_seen_at, k.id),
            Cursor::Rank { key, query } => format!(
                "r\n{:016x}\n{}\n{}\n{query}",
                key.rank.to_bits(),
                key.id,
                key.max_id
            ),
        };
        URL_SAFE_NO_PAD.encode(raw)
    }

    pub fn decode(s: &str) -> Result<Cursor, ApiError> {
        let bad = || ApiError::bad_param("cursor", "not a cursor this API returned");
        let bytes = URL_SAFE_NO_PAD.decode(s.trim()).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let parts: Vec<&str> = text.split('\n').collect();
        match parts.as_slice() {
            ["s", at, id] if parse_ts(at).is_some() => Ok(Cursor::Seen(SeenKey {
                first_seen_at: (*at).to_owned(),
                id: id.parse().map_err(|_| bad())?,
            })),
            ["r", bits, id, max_id, query] => {
                let rank = f64::from_bits(u64::from_str_radix(bits, 16).map_err(|_| bad())?);
                if !rank.is_finite() {
                    return Err(bad());
                }
                Ok(Cursor::Rank {
                    key: RankKey {
                        rank,
                        id: id.parse().map_err(|_| bad())?,
                        max_id: max_id.parse().map_err(|_| bad())?,
                    },
                    query: (*query).to_owned(),
                })
            }
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_names_the_cursor_parameter() {
        let c = Cursor::Seen(SeenKey {
            first_seen_at: "2026-11-28T01:00:00Z".into(),
            id: 42,
        });
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        let c = Cursor::Rank {
            key: RankKey {
                rank: -1.234_567_890_123,
                id: 7,
                max_id: 99,
            },
            query: query_fingerprint("chips", false),
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        let err = Cursor::decode("not-a-cursor").unwrap_err();
        assert!(err.to_string().contains("`cursor`"), "{err}");
    }

    #[test]
    fn unknown_repeated_and_malformed_parameters_are_named() {
        let err = Params::parse(Some("sinse=24h"), &["since"]).unwrap_err();
        assert!(err.to_string().contains("`sinse`"), "{err}");
        let err = Params::parse(Some("limit=1&limit=2"), &["limit"]).unwrap_err();
        assert!(err.to_string().contains("`limit`"), "{err}");
        let p = Params::parse(Some("limit=abc&has_text=maybe&since=soon"), &[]).unwrap();
        assert!(p
            .limit(20, 100)
            .unwrap_err()
            .to_string()
            .contains("`limit`"));
        assert!(p
            .bool("has_text")
            .unwrap_err()
            .to_string()
            .contains("`has_text`"));
        let now = Utc::now();
        assert!(p
            .time("since", now)
            .unwrap_err()
            .to_string()
            .contains("`since`"));
        let p = Params::parse(Some("limit=5000&since=24h"), &[]).unwrap();
        assert_eq!(p.limit(20, 100).unwrap(), 100);
        assert_eq!(
            p.time("since", now).unwrap(),
            Some(now - chrono::Duration::hours(24))
        );
    }
}
