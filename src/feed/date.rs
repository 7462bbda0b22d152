//! Dates as feeds write them: RFC 3339 and RFC 822 as the specifications
//! say, and the common ways feeds stray from both (as feedparser's date
//! handlers accept). A date without a zone is read as UTC, the zone most such
//! feeds mean; text that names no date unambiguously gives none.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};

/// The instant a feed's date text names; `None` when it names none.
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    standard(text).or_else(|| lenient(text))
}

/// A date as RFC 3339 or RFC 822 write it, which feed-rs reads itself.
pub fn standard(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_rfc2822(text))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A date as neither RFC writes it.
pub fn lenient(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let b = text.as_bytes();
    if b.len() >= 4 && b[..4].iter().all(u8::is_ascii_digit) {
        iso(text)
    } else {
        rfc822(text)
    }
}

/// ISO 8601 / W3C-DTF: `2004`, `2004-07`, `2004-07-08`, then an optional
/// time after `T` or a space, seconds optional, then an optional zone.
fn iso(text: &str) -> Option<DateTime<Utc>> {
    let split = text[4..].find(['T', 't', ' ']).map(|i| i + 4);
    let (day, rest) = split.map_or((text, ""), |i| (&text[..i], text[i + 1..].trim()));
    let mut parts = day.split('-');
    let year = number(parts.next()?, 4, 4)?;
    let month = parts.next().map(|m| number(m, 2, 2)).unwrap_or(Some(1))?;
    let date_given = parts.clone().next().is_some();
    let mday = parts.next().map(|d| number(d, 2, 2)).unwrap_or(Some(1))?;
    if parts.next().is_some() {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, mday)?;
    if rest.is_empty() {
        return Some(date.and_time(NaiveTime::MIN).and_utc());
    }
    // A time of day on a month or a year names no instant.
    if !date_given {
        return None;
    }
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == ':' || c == '.' || c == ','))
        .unwrap_or(rest.len());
    let time = clock(&rest[..end])?;
    at(date, time, zone(rest[end..].trim())?)
}

/// RFC 822 as feeds write it: any weekday, a day of one or two digits, a
/// month name of any length, a year of two or four digits, a time with or
/// without seconds, and a zone that is missing, named or written `GMT+2`.
/// `Jul 8 2004` and asctime's `Jul 8 23:56:58 2004` too.
fn rfc822(text: &str) -> Option<DateTime<Utc>> {
    let mut tokens: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .collect();
    if tokens
        .first()
        .is_some_and(|t| t.chars().all(char::is_alphabetic) && month(t).is_none())
    {
        tokens.remove(0);
    }
    let (mday, mon, mut rest) = match tokens.as_slice() {
        [d, m, rest @ ..] if month(m).is_some() => (number(d, 1, 2)?, month(m)?, rest),
        [m, d, rest @ ..] if month(m).is_some() => (number(d, 1, 2)?, month(m)?, rest),
        _ => return None,
    };
    let mut year = None;
    let mut time = None;
    while let Some((first, tail)) = rest.split_first() {
        if year.is_none() && first.bytes().all(|c| c.is_ascii_digit()) {
            year = Some(full_year(number(first, 2, 4)?)?);
        } else if time.is_none() && first.contains(':') {
            time = Some(clock(first)?);
        } else {
            break;
        }
        rest = tail;
    }
    let date = NaiveDate::from_ymd_opt(year?, mon, mday)?;
    let offset = zone(&rest.concat())?;
    at(date, time.unwrap_or(NaiveTime::MIN), offset)
}

fn at(date: NaiveDate, time: NaiveTime, offset: FixedOffset) -> Option<DateTime<Utc>> {
    offset
        .from_local_datetime(&date.and_time(time))
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// `23:56`, `23:56:58`, `9:05:00.25`.
fn clock(text: &str) -> Option<NaiveTime> {
    let mut parts = text.split(':');
    let hour = number(parts.next()?, 1, 2)?;
    let minute = number(parts.next()?, 2, 2)?;
    let (second, nanos) = match parts.next() {
        Some(s) => {
            let (whole, frac) = s.split_once(['.', ',']).unwrap_or((s, ""));
            let nanos = if frac.is_empty() {
                0
            } else if !frac.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            } else {
                let digits = &frac[..frac.len().min(9)];
                number(digits, 1, 9)? * 10u32.pow(9 - u32::try_from(digits.len()).ok()?)
            };
            (number(whole, 2, 2)?, nanos)
        }
        None => (0, 0),
    };
    if parts.next().is_some() {
        return None;
    }
    NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
}

/// A zone: none (UTC), `Z`, `GMT`, a name only one zone goes by, `+0200`,
/// `+02:00`, `+2`, or `GMT+2`. Names several zones share (`IST` is India's,
/// Ireland's and Israel's; `BST` Britain's and Bangladesh's) give no date.
fn zone(text: &str) -> Option<FixedOffset> {
    let upper = text.to_ascii_uppercase();
    let hours = match upper.as_str() {
        "" | "Z" | "UT" | "UTC" | "GMT" => Some(0),
        "EDT" => Some(-4),
        "EST" | "CDT" => Some(-5),
        "CST" | "MDT" => Some(-6),
        "MST" | "PDT" => Some(-7),
        "PST" | "AKDT" => Some(-8),
        "AKST" => Some(-9),
        "HST" => Some(-10),
        "WET" => Some(0),
        "CET" | "WEST" | "WAT" => Some(1),
        "CEST" | "EET" | "CAT" | "SAST" => Some(2),
        "EEST" | "EAT" => Some(3),
        "HKT" | "SGT" | "AWST" => Some(8),
        "JST" | "KST" => Some(9),
        "AEST" => Some(10),
        "AEDT" => Some(11),
        "NZST" => Some(12),
        "NZDT" => Some(13),
        _ => None,
    };
    if let Some(h) = hours {
        return FixedOffset::east_opt(h * 3600);
    }
    let numeric = ["GMT", "UTC", "UT"]
        .iter()
        .find_map(|p| upper.strip_prefix(p))
        .unwrap_or(&upper);
    let sign = match numeric.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits = &numeric[1..];
    let (h, m) = match digits.split_once(':') {
        Some((h, m)) => (number(h, 1, 2)?, number(m, 2, 2)?),
        None if digits.len() == 4 && digits.bytes().all(|c| c.is_ascii_digit()) => {
            (number(&digits[..2], 2, 2)?, number(&digits[2..], 2, 2)?)
        }
        None => (number(digits, 1, 2)?, 0),
    };
    if h > 14 || m > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * i32::try_from(h * 3600 + m * 60).ok()?)
}

/// RFC 2822's reading of a two-digit year: 00–49 this century, 50–99 the last.
fn full_year(year: u32) -> Option<i32> {
    let year = match year {
        0..=49 => year + 2000,
        50..=99 => year + 1900,
        _ => year,
    };
    i32::try_from(year).ok()
}

/// January is 1; a name is its English abbreviation or longer (`Sept`, `July`).
fn month(word: &str) -> Option<u32> {
    const NAMES: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let lower = word.trim_end_matches('.').to_ascii_lowercase();
    if lower.len() < 3 {
        return None;
    }
    NAMES
        .iter()
        .position(|n| n.starts_with(&lower))
        .and_then(|i| u32::try_from(i + 1).ok())
}

/// A number of `min..=max` ASCII digits.
fn number(text: &str, min: usize, max: usize) -> Option<u32> {
    if text.len() < min || text.len() > max || !text.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_date_forms_are_read_and_ambiguous_ones_give_no_date() {
        let table: &[(&str, Option<&str>)] = &[
            ("2004-07-08T23:56:58Z", Some("2004-07-08T23:56:58Z")),
            (
                "Thu, 08 Jul 2004 23:56:58 GMT",
                Some("2004-07-08T23:56:58Z"),
            ),
            ("2004-07-08 23:56:58", Some("2004-07-08T23:56:58Z")),
            ("2004-07-08T23:56:58", Some("2004-07-08T23:56:58Z")),
            ("2004-07-08T23:56", Some("2004-07-08T23:56:00Z")),
            ("2004-07-08T23:56Z", Some("2004-07-08T23:56:00Z")),
            ("2004-07-08T23:56-04:00", Some("2004-07-09T03:56:00Z")),
            ("2004-07-08 23:56:58 +0200", Some("2004-07-08T21:56:58Z")),
            ("2004-07-08T23:56:58.25Z", Some("2004-07-08T23:56:58.250Z")),
            ("2004-07-08", Some("2004-07-08T00:00:00Z")),
            ("2004-07", Some("2004-07-01T00:00:00Z")),
            ("2004", Some("2004-01-01T00:00:00Z")),
            ("Thu, 08 Jul 2004 23:56:58", Some("2004-07-08T23:56:58Z")),
            (
                "Thu, 08 Jul 2004 23:56:58 EST",
                Some("2004-07-09T04:56:58Z"),
            ),
            (
                "Thu, 08 Jul 2004 23:56:58 PDT",
                Some("2004-07-09T06:56:58Z"),
            ),
            (
                "Thu, 08 Jul 2004 23:56:58 GMT+2",
                Some("2004-07-08T21:56:58Z"),
            ),
            (
                "Thu, 08 Jul 2004 23:56:58 UTC",
                Some("2004-07-08T23:56:58Z"),
            ),
            (
                "Thu, 8 Jul 2004 23:56:58 +0000",
                Some("2004-07-08T23:56:58Z"),
            ),
            ("Thu, 08 Jul 04 23:56:58 GMT", Some("2004-07-08T23:56:58Z")),
            ("Thu, 08 Jul 99 23:56:58 GMT", Some("1999-07-08T23:56:58Z")),
            (
                "Thursday, 08 July 2004 23:56 GMT",
                Some("2004-07-08T23:56:00Z"),
            ),
            ("Thu, 8 Jul 2004 9:05:00 GMT", Some("2004-07-08T09:05:00Z")),
            ("08 Jul 2004", Some("2004-07-08T00:00:00Z")),
            ("July 8, 2004", Some("2004-07-08T00:00:00Z")),
            ("Thu Jul  8 23:56:58 2004", Some("2004-07-08T23:56:58Z")),
            ("", None),
            ("yesterday", None),
            ("07/08/2004", None),
            ("2004-13-01", None),
            ("2004-02-30", None),
            ("2004-07T23:56", None),
            (
                "Thu, 08 Jul 2004 23:56:58 CEST",
                Some("2004-07-08T21:56:58Z"),
            ),
            ("2004-07-08 23:56:58 JST", Some("2004-07-08T14:56:58Z")),
            (
                "Thu, 08 Jul 2004 23:56:58 AEDT",
                Some("2004-07-08T12:56:58Z"),
            ),
            ("Thu, 08 Jul 2004 23:56:58 IST", None),
            ("Thu, 08 Jul 2004 23:56:58 BST", None),
            ("Thu, 32 Jul 2004 23:56:58 GMT", None),
            ("Thu, 08 Jul 2004 25:00:00 GMT", None),
            ("Jul 2004", None),
            ("2004-07-08T23:56:58.2é", None),
            ("Thu, 08 Jul 2004 23:56 +aé1", None),
        ];
        for (text, want) in table {
            let got = parse(text).map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
            assert_eq!(got.as_deref(), *want, "{text:?}");
        }
    }
}
