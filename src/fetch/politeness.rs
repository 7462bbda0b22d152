//! Per-host politeness: concurrency cap, minimum spacing between request starts, and backoff
//! after the host tells us to slow down (429/503).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use url::{Host, Url};

/// First backoff when the host gave no usable Retry-After; doubles per consecutive refusal.
pub const BACKOFF_BASE: Duration = Duration::from_secs(30);
/// Upper bound for computed backoff.
pub const BACKOFF_MAX: Duration = Duration::from_secs(3600);
/// A hostile or buggy Retry-After must not silence a host for months.
pub const RETRY_AFTER_MAX: Duration = Duration::from_secs(24 * 3600);

/// Politeness key of a URL: the registrable domain (`m.example.co.uk` → `example.co.uk`) so all
/// subdomains of one site share one budget; IP literals key by the bare IP; names without a
/// registrable part (`localhost`, a bare public suffix) key by the whole host. Ports are ignored:
/// two ports on one host are still one machine to be polite to.
pub fn host_key(url: &Url) -> String {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.to_string(),
        Some(Host::Ipv6(ip)) => ip.to_string(),
        Some(Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            match psl::domain_str(&d) {
                Some(reg) => reg.to_owned(),
                None => d,
            }
        }
        None => String::new(),
    }
}

/// `Retry-After` is either delta-seconds or an HTTP date; anything else is ignored.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        let secs = secs.min(RETRY_AFTER_MAX.as_secs());
        return now.checked_add_signed(chrono::Duration::seconds(i64::try_from(secs).ok()?));
    }
    let at = DateTime::<Utc>::from(httpdate::parse_http_date(value).ok()?);
    let cap = chrono::Duration::from_std(RETRY_AFTER_MAX).ok()?;
    Some(at.min(now + cap))
}

struct HostSlot {
    permits: Arc<Semaphore>,
    /// Earliest instant the next request to this host may start; reserving a slot pushes it
    /// forward so concurrent waiters queue up instead of all starting after one delay.
    next_start: Mutex<Instant>,
    /// When the last request to this host actually started: a waiter woken early by its
    /// reservation (the one before it woke late) waits out the rest.
    last_start: Mutex<Option<Instant>>,
}

/// What is added to the per-host delay: a server measures the gap from one request's
/// arrival to the next, and a late wake-up, a connect or a write in between may bring
/// two arrivals closer than two starts (94 ms seen under a 100 ms delay). A tenth of the
/// delay, at least 5 ms and at most 250 ms; none when there is no delay.
pub fn start_margin(delay: Duration) -> Duration {
    if delay.is_zero() {
        Duration::ZERO
    } else {
        (delay / 10).clamp(Duration::from_millis(5), Duration::from_millis(250))
    }
}

#[derive(Clone, Copy)]
struct Backoff {
    until: DateTime<Utc>,
    /// Consecutive refusals; kept after `until` passes so repeat offenders back off longer.
    strikes: u32,
}

pub(super) struct Politeness {
    concurrency: usize,
    delay: Duration,
    slots: Mutex<HashMap<String, Arc<HostSlot>>>,
    backoffs: Mutex<HashMap<String, Backoff>>,
}

/// Held for the whole hop; dropping it frees the host's concurrency slot.
pub(super) struct HostPermit {
    _permit: OwnedSemaphorePermit,
}

const PRUNE_THRESHOLD: usize = 4096;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave the maps inconsistent, so keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Politeness {
    pub(super) fn new(concurrency: usize, delay: Duration) -> Self {
        Self {
            concurrency: concurrency.max(1),
            delay,
            slots: Mutex::new(HashMap::new()),
            backoffs: Mutex::new(HashMap::new()),
        }
    }

    fn slot(&self, key: &str) -> Arc<HostSlot> {
        let mut slots = lock(&self.slots);
        if slots.len() >= PRUNE_THRESHOLD {
            // The daemon sees an open-ended set of hosts; forget idle ones whose delay has passed.
            let now = Instant::now();
            slots.retain(|_, s| Arc::strong_count(s) > 1 || *lock(&s.next_start) > now);
        }
        Arc::clone(slots.entry(key.to_owned()).or_insert_with(|| {
            Arc::new(HostSlot {
                permits: Arc::new(Semaphore::new(self.concurrency)),
                next_start: Mutex::new(Instant::now()),
                last_start: Mutex::new(None),
            })
        }))
    }

    /// Waits (only on this host) for a concurrency slot and then for the spacing delay.
    pub(super) async fn acquire(&self, key: &str) -> HostPermit {
        let slot = self.slot(key);
        let permit = match Arc::clone(&slot.permits).acquire_owned().await {
            Ok(p) => p,
            Err(_) => unreachable!("host semaphores are never closed"),
        };
        let spacing = self.delay + start_margin(self.delay);
        let start_at = {
            let mut next = lock(&slot.next_start);
            let start_at = (*next).max(Instant::now());
            *next = start_at + spacing;
            start_at
        };
        tokio::time::sleep_until(start_at).await;
        if !spacing.is_zero() {
            loop {
                let earliest = {
                    let mut last = lock(&slot.last_start);
                    let now = Instant::now();
                    match *last {
                        Some(prev) if prev + spacing > now => prev + spacing,
                        _ => {
                            *last = Some(now);
                            let mut next = lock(&slot.next_start);
                            *next = (*next).max(now + spacing);
                            break;
                        }
                    }
                };
                tokio::time::sleep_until(earliest).await;
            }
        }
        HostPermit { _permit: permit }
    }

    /// When the next request to this host may start, if that is still ahead
    /// (the spacing after requests already started or queued).
    pub(super) fn next_start(&self, key: &str) -> Option<Instant> {
        let slot = lock(&self.slots).get(key).cloned()?;
        let next = *lock(&slot.next_start);
        (next > Instant::now()).then_some(next)
    }

    pub(super) fn backed_off_until(&self, key: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        lock(&self.backoffs)
            .get(key)
            .map(|b| b.until)
            .filter(|until| *until > now)
    }

    /// Records a refusal; returns the instant the host is backed off until.
    pub(super) fn record_refusal(
        &self,
        key: &str,
        retry_after: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let mut backoffs = lock(&self.backoffs);
        let strikes = backoffs.get(key).map_or(0, |b| b.strikes).saturating_add(1);
        let computed = BACKOFF_BASE
            .saturating_mul(2u32.saturating_pow(strikes.saturating_sub(1).min(16)))
            .min(BACKOFF_MAX);
        let until = retry_after
            .filter(|t| *t > now)
            .unwrap_or_else(|| now + chrono::Duration::from_std(computed).unwrap_or_default());
        backoffs.insert(key.to_owned(), Backoff { until, strikes });
        until
    }

    pub(super) fn record_success(&self, key: &str) {
        lock(&self.backoffs).remove(key);
    }

    pub(super) fn active_backoffs(&self, now: DateTime<Utc>) -> Vec<(String, DateTime<Utc>)> {
        let mut v: Vec<_> = lock(&self.backoffs)
            .iter()
            .filter(|(_, b)| b.until > now)
            .map(|(k, b)| (k.clone(), b.until))
            .collect();
        v.sort();
        v
    }

    pub(super) fn restore(&self, key: &str, until: DateTime<Utc>) {
        let mut backoffs = lock(&self.backoffs);
        let entry = backoffs
            .entry(key.to_owned())
            .or_insert(Backoff { until, strikes: 1 });
        entry.until = entry.until.max(until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn key(s: &str) -> String {
        host_key(&Url::parse(s).unwrap())
    }

    #[test]
    fn subdomains_share_the_registrable_domain_key() {
        assert_eq!(key("https://m.example.com/a"), "example.com");
        assert_eq!(key("https://www.example.com:8443/"), "example.com");
        assert_eq!(key("https://news.bbc.co.uk/"), "bbc.co.uk");
        assert_eq!(key("https://WWW.Example.COM./"), "example.com");
        assert_eq!(key("https://foo.github.io/"), "foo.github.io");
    }

    #[test]
    fn ip_literals_and_single_label_hosts_key_by_host_without_port() {
        assert_eq!(key("http://127.0.0.1:8080/"), "127.0.0.1");
        assert_eq!(key("http://127.0.0.1:9090/"), "127.0.0.1");
        assert_eq!(key("http://[::1]:80/"), "::1");
        assert_eq!(key("http://localhost:1234/"), "localhost");
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(now + chrono::Duration::seconds(120))
        );
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 2026 00:05:00 GMT", now),
            Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 5, 0).unwrap())
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(
            parse_retry_after("999999999999", now),
            Some(now + chrono::Duration::hours(24))
        );
    }

    #[test]
    fn the_start_margin_is_a_tenth_of_the_delay_within_bounds() {
        let ms = Duration::from_millis;
        assert_eq!(start_margin(Duration::ZERO), Duration::ZERO);
        assert_eq!(start_margin(ms(20)), ms(5));
        assert_eq!(start_margin(ms(100)), ms(10));
        assert_eq!(start_margin(Duration::from_secs(1)), ms(100));
        assert_eq!(start_margin(Duration::from_secs(30)), ms(250));
    }

    #[tokio::test]
    async fn a_waiter_whose_predecessor_started_late_still_keeps_the_spacing() {
        let p = Politeness::new(4, Duration::from_millis(30));
        let mut starts = Vec::new();
        for _ in 0..5 {
            let _permit = p.acquire("h").await;
            starts.push(Instant::now());
            // Hold the task up past the next reservation, as a busy runtime would.
            std::thread::sleep(Duration::from_millis(10));
        }
        for pair in starts.windows(2) {
            assert!(
                pair[1] - pair[0] >= Duration::from_millis(33),
                "{:?}",
                pair[1] - pair[0]
            );
        }
    }

    #[test]
    fn computed_backoff_doubles_caps_and_resets_on_success() {
        let p = Politeness::new(1, Duration::ZERO);
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let secs = |t: DateTime<Utc>| (t - now).num_seconds();
        assert_eq!(secs(p.record_refusal("h", None, now)), 30);
        assert_eq!(secs(p.record_refusal("h", None, now)), 60);
        assert_eq!(secs(p.record_refusal("h", None, now)), 120);
        for _ in 0..20 {
            p.record_refusal("h", None, now);
        }
        assert_eq!(secs(p.record_refusal("h", None, now)), 3600);
        p.record_success("h");
        assert_eq!(p.backed_off_until("h", now), None);
        assert_eq!(secs(p.record_refusal("h", None, now)), 30);
    }
}
