//! Probes and Prometheus metrics.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::{ApiError, ApiState};
use crate::metrics::{PollMetricsSnapshot, LATENESS_BUCKETS};
use crate::store::ApiMetrics;

/// Liveness: the process answers.
pub async fn healthz() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// Readiness: the database answers and has the schema this newsd expects.
pub async fn readyz(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let store = state.store();
    store
        .check_schema_version()
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let version: i64 = store
        .schema_version()
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(Json(json!({ "status": "ready", "schema_version": version })).into_response())
}

/// Prometheus text format, computed from the database at scrape time.
pub async fn metrics(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let m = state.store().api_metrics().await?;
    let g = state.store().google_queue_stats().await?;
    let mut body = render(&m);
    render_alerts(&mut body, &state.store().alert_stats().await?);
    let google = &state.settings().google_news;
    render_google_budgets(
        &mut body,
        &g,
        &google.egress,
        &google.pace_rule(),
        chrono::Utc::now(),
    );
    render_instances(
        &mut body,
        &state.store().live_instances(chrono::Utc::now()).await?,
    );
    if let Some(polls) = state.poll_metrics() {
        render_polls(&mut body, &polls.snapshot());
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response())
}

/// Feed statuses always reported, so dashboards see zeros rather than gaps.
const FEED_STATUSES: &[&str] = &[
    "new",
    "ok",
    "not_modified",
    "error",
    "gone",
    "blocked",
    "deferred",
    "disabled",
];
const LINK_STATUSES: &[&str] = &["pending", "resolved", "decoded", "joined", "failed"];

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &str, value: impl std::fmt::Display) {
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {value}");
    } else {
        let _ = writeln!(out, "{name}{{{labels}}} {value}");
    }
}

/// A gauge family with its one unlabelled sample.
fn gauge(out: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    family(out, name, "gauge", help);
    sample(out, name, "", value);
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn by_status(out: &mut String, name: &str, known: &[&str], counts: &[(String, i64)]) {
    let mut all: Vec<(String, i64)> = known
        .iter()
        .map(|s| {
            let n = counts.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
            ((*s).to_owned(), n)
        })
        .collect();
    all.extend(
        counts
            .iter()
            .filter(|(k, _)| !known.contains(&k.as_str()))
            .cloned(),
    );
    for (status, n) in all {
        sample(
            out,
            name,
            &format!("status=\"{}\"", escape_label(&status)),
            n,
        );
    }
}

/// Saved searches and the outbox: failed deliveries are the ones to alert on.
pub fn render_alerts(out: &mut String, a: &crate::store::AlertStats) {
    gauge(
        out,
        "newsd_saved_searches",
        "Enabled saved searches.",
        a.searches,
    );
    gauge(
        out,
        "newsd_alert_matches_held",
        "Matches waiting for alerts.hold and clustering.",
        a.matches_held,
    );
    family(
        out,
        "newsd_alert_deliveries",
        "gauge",
        "Alert deliveries by state (failed: gave up after alerts.max_attempts).",
    );
    for (state, n) in [
        ("pending", a.deliveries_pending),
        ("sent", a.deliveries_sent),
        ("failed", a.deliveries_failed),
    ] {
        sample(
            out,
            "newsd_alert_deliveries",
            &format!("state=\"{state}\""),
            n,
        );
    }
}

pub fn render(m: &ApiMetrics) -> String {
    let mut out = String::new();
    let o = &mut out;
    gauge(o, "newsd_articles", "Articles in the archive.", m.articles);
    gauge(
        o,
        "newsd_articles_with_text",
        "Articles whose full text is stored.",
        m.articles_with_text,
    );
    gauge(
        o,
        "newsd_feed_items",
        "Feed entries stored (one article can be an entry of several feeds).",
        m.feed_items,
    );
    family(
        o,
        "newsd_feeds",
        "gauge",
        "Feeds by last poll status (disabled feeds as status=\"disabled\", unpolled as \"new\").",
    );
    by_status(o, "newsd_feeds", FEED_STATUSES, &m.feeds_by_status);
    gauge(
        o,
        "newsd_feeds_failing",
        "Enabled feeds whose last poll failed.",
        m.feeds_failing,
    );
    gauge(
        o,
        "newsd_feed_errors",
        "Consecutive poll errors summed over enabled feeds (resets when a feed recovers).",
        m.feed_consecutive_errors,
    );
    family(
        o,
        "newsd_google_links",
        "gauge",
        "Google News links by resolution status.",
    );
    by_status(
        o,
        "newsd_google_links",
        LINK_STATUSES,
        &m.google_links_by_status,
    );
    gauge(
        o,
        "newsd_database_size_bytes",
        "Size of the SQLite database file and its WAL.",
        m.database_bytes,
    );
    gauge(
        o,
        "newsd_schema_version",
        "Database schema (migration) version.",
        m.schema_version,
    );
    family(o, "newsd_build_info", "gauge", "The running newsd version.");
    sample(
        o,
        "newsd_build_info",
        &format!("version=\"{}\"", env!("CARGO_PKG_VERSION")),
        1,
    );
    out
}

/// Google's side of the budget: 429s, the last lockout, and the learned
/// pace (refilled to `now`; the configured fastest pace and a full bucket
/// before the first GET).
pub fn render_google_budgets(
    out: &mut String,
    g: &crate::store::GoogleQueueStats,
    egress: &str,
    rule: &crate::google_news::PaceRule,
    now: chrono::DateTime<chrono::Utc>,
) {
    // This instance's egress is shown before its first GET too, fresh.
    let mut budgets = g.egresses.clone();
    if g.egress(egress).is_none() {
        budgets.push(crate::store::EgressBudget {
            egress: egress.to_owned(),
            ..Default::default()
        });
    }
    let label = |b: &crate::store::EgressBudget| format!("egress=\"{}\"", escape_label(&b.egress));
    let pace = |b: &crate::store::EgressBudget| {
        b.pace()
            .map_or_else(|| rule.fresh(now), |p| rule.refilled(p, now))
    };
    let at = |t: &Option<String>| t.as_deref().and_then(crate::store::parse_ts);
    let name = "newsd_google_requests_total";
    family(
        out,
        name,
        "counter",
        "Requests spent on Google link resolution, per egress.",
    );
    for b in &budgets {
        let l = label(b);
        sample(
            out,
            name,
            &format!("{l},kind=\"article_page\""),
            b.gets_total,
        );
        sample(
            out,
            name,
            &format!("{l},kind=\"batchexecute\""),
            b.posts_total,
        );
    }
    let per_egress = |out: &mut String,
                      name: &str,
                      kind: &str,
                      help: &str,
                      value: &dyn Fn(&crate::store::EgressBudget) -> String| {
        family(out, name, kind, help);
        for b in &budgets {
            sample(out, name, &label(b), value(b));
        }
    };
    per_egress(
        out,
        "newsd_google_breaker_trips_total",
        "counter",
        "Lockouts: times Google answered 429 or redirected to its /sorry/ page and lookups \
         from the egress paused.",
        &|b| b.breaker_trips.to_string(),
    );
    per_egress(
        out,
        "newsd_google_breaker_open",
        "gauge",
        "1 while Google lookups from the egress are paused after a lockout.",
        &|b| u8::from(at(&b.breaker_open_until).is_some_and(|t| t > now)).to_string(),
    );
    per_egress(
        out,
        "newsd_google_rate_limited_total",
        "counter",
        "HTTP 429 answers from Google (each also a lockout), per egress.",
        &|b| b.rate_limited_total.to_string(),
    );
    per_egress(
        out,
        "newsd_google_last_lockout_timestamp_seconds",
        "gauge",
        "When Google last locked the egress out (Unix time; 0: never).",
        &|b| {
            at(&b.last_lockout_at)
                .map_or(0, |t| t.timestamp())
                .to_string()
        },
    );
    per_egress(
        out,
        "newsd_google_pace_interval_seconds",
        "gauge",
        "The egress's learned pace: one article-page GET token per this many seconds.",
        &|b| pace(b).interval.as_secs_f64().to_string(),
    );
    per_egress(
        out,
        "newsd_google_pace_tokens",
        "gauge",
        "Article-page GETs the egress's learned pace allows right now (below zero: owed).",
        &|b| pace(b).tokens.to_string(),
    );
}

/// The live instances on the archive and what each holds.
pub fn render_instances(out: &mut String, instances: &[crate::store::InstanceRow]) {
    let name = "newsd_instance_heartbeat_timestamp_seconds";
    family(
        out,
        name,
        "gauge",
        "Live instances on the archive: the time of each one's last heartbeat.",
    );
    for i in instances {
        let at = crate::store::parse_ts(&i.heartbeat_at).map_or(0, |t| t.timestamp());
        sample(
            out,
            name,
            &format!(
                "instance=\"{}\",host=\"{}\",version=\"{}\"",
                escape_label(&i.name),
                escape_label(&i.host),
                escape_label(&i.version)
            ),
            at,
        );
    }
    let name = "newsd_instance_holds";
    family(
        out,
        name,
        "gauge",
        "Work each live instance holds a lease on, by kind.",
    );
    for i in instances {
        let label = escape_label(&i.name);
        for (kind, n) in [
            ("feeds", i.feeds),
            ("google_links", i.google_links),
            ("fulltext_jobs", i.fulltext_jobs),
            ("deliveries", i.deliveries),
            ("singletons", i.singletons.len() as i64),
        ] {
            sample(
                out,
                name,
                &format!("instance=\"{label}\",kind=\"{kind}\""),
                n,
            );
        }
    }
}

/// The scheduler's in-memory counters (only `newsd run` has them).
pub fn render_polls(out: &mut String, p: &PollMetricsSnapshot) {
    family(
        out,
        "newsd_polls_total",
        "counter",
        "Feed polls finished since this process started, by outcome.",
    );
    for (outcome, n) in &p.polls {
        sample(
            out,
            "newsd_polls_total",
            &format!("outcome=\"{outcome}\""),
            n,
        );
    }
    let name = "newsd_poll_lateness_seconds";
    family(
        out,
        name,
        "histogram",
        "How long after its scheduled time each scheduled poll started.",
    );
    for (bound, n) in LATENESS_BUCKETS.iter().zip(&p.lateness_cumulative) {
        sample(
            out,
            &format!("{name}_bucket"),
            &format!("le=\"{bound}\""),
            n,
        );
    }
    let total = p.lateness_cumulative.last().copied().unwrap_or(0);
    sample(out, &format!("{name}_bucket"), "le=\"+Inf\"", total);
    sample(out, &format!("{name}_sum"), "", p.lateness_sum_secs);
    sample(out, &format!("{name}_count"), "", p.lateness_count);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_instances_render_with_their_heartbeat_and_what_each_holds() {
        let row = crate::store::InstanceRow {
            name: "a\"b".into(),
            host: "h".into(),
            pid: 7,
            version: "1.2.3".into(),
            started_at: "2026-12-07T10:00:00Z".into(),
            heartbeat_at: "2026-12-07T10:00:10Z".into(),
            lease_until: "2026-12-07T10:00:40Z".into(),
            feeds: 3,
            google_links: 1,
            fulltext_jobs: 4,
            deliveries: 0,
            singletons: vec!["cluster".into()],
        };
        let mut out = String::new();
        render_instances(&mut out, &[row]);
        assert!(out.contains(
            "newsd_instance_heartbeat_timestamp_seconds{instance=\"a\\\"b\",host=\"h\",version=\"1.2.3\"} 1796637610\n"
        ), "{out}");
        assert!(
            out.contains("newsd_instance_holds{instance=\"a\\\"b\",kind=\"feeds\"} 3\n"),
            "{out}"
        );
        assert!(
            out.contains("newsd_instance_holds{instance=\"a\\\"b\",kind=\"singletons\"} 1\n"),
            "{out}"
        );
    }

    #[test]
    fn poll_counters_render_as_a_counter_and_a_cumulative_histogram() {
        let m = crate::metrics::PollMetrics::default();
        m.record_poll(&crate::app::PollStatus::NotModified);
        m.observe_lateness(std::time::Duration::from_millis(70));
        m.observe_lateness(std::time::Duration::from_secs(2000));
        let mut text = String::new();
        render_polls(&mut text, &m.snapshot());
        assert!(text.contains("# TYPE newsd_polls_total counter"), "{text}");
        assert!(
            text.contains("newsd_polls_total{outcome=\"not_modified\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("newsd_polls_total{outcome=\"ok\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE newsd_poll_lateness_seconds histogram"),
            "{text}"
        );
        assert!(
            text.contains("newsd_poll_lateness_seconds_bucket{le=\"0.05\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("newsd_poll_lateness_seconds_bucket{le=\"0.1\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("newsd_poll_lateness_seconds_bucket{le=\"900\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("newsd_poll_lateness_seconds_bucket{le=\"+Inf\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("newsd_poll_lateness_seconds_count 2\n"),
            "{text}"
        );
    }

    #[test]
    fn every_metric_is_prefixed_typed_and_reports_zero_statuses() {
        let m = ApiMetrics {
            articles: 3,
            feeds_by_status: vec![("ok".into(), 2), ("weird\"one".into(), 1)],
            ..Default::default()
        };
        let text = render(&m);
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.starts_with("newsd_"), "{line}");
        }
        assert!(text.contains("newsd_articles 3\n"), "{text}");
        assert!(text.contains("newsd_feeds{status=\"ok\"} 2\n"), "{text}");
        assert!(text.contains("newsd_feeds{status=\"error\"} 0\n"), "{text}");
        assert!(text.contains("status=\"weird\\\"one\""), "{text}");
    }

    #[test]
    fn each_egresss_budget_is_shown_with_its_pace_refilled_and_a_fresh_one_at_the_fastest_pace() {
        use chrono::TimeZone;
        let rule = crate::google_news::PaceRule {
            min_interval: std::time::Duration::from_secs(30),
            max_interval: std::time::Duration::from_secs(600),
            burst: 3,
            speedup_after: 20,
        };
        let now = chrono::Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        let mut text = String::new();
        render_google_budgets(&mut text, &Default::default(), "default", &rule, now);
        for line in [
            "newsd_google_pace_interval_seconds{egress=\"default\"} 30\n",
            "newsd_google_pace_tokens{egress=\"default\"} 3\n",
            "newsd_google_last_lockout_timestamp_seconds{egress=\"default\"} 0\n",
            "newsd_google_requests_total{egress=\"default\",kind=\"article_page\"} 0\n",
            "newsd_google_breaker_open{egress=\"default\"} 0\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        let g = crate::store::GoogleQueueStats {
            egresses: vec![crate::store::EgressBudget {
                egress: "eu-1".into(),
                gets_total: 7,
                rate_limited_total: 2,
                breaker_open_until: Some("2026-12-01T00:10:00Z".into()),
                last_lockout_at: Some("2026-11-30T23:00:00Z".into()),
                pace_interval_ms: Some(120_000),
                pace_tokens: Some(0.0),
                pace_at: Some("2026-11-30T23:59:00Z".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut text = String::new();
        render_google_budgets(&mut text, &g, "default", &rule, now);
        for line in [
            "newsd_google_rate_limited_total{egress=\"eu-1\"} 2\n",
            "newsd_google_requests_total{egress=\"eu-1\",kind=\"article_page\"} 7\n",
            "newsd_google_breaker_open{egress=\"eu-1\"} 1\n",
            "newsd_google_pace_interval_seconds{egress=\"eu-1\"} 120\n",
            "newsd_google_pace_tokens{egress=\"eu-1\"} 0.5\n",
            "newsd_google_last_lockout_timestamp_seconds{egress=\"eu-1\"} 1796079600\n",
            "newsd_google_pace_tokens{egress=\"default\"} 3\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        assert_eq!(
            text.matches("# TYPE newsd_google_pace_tokens gauge")
                .count(),
            1,
            "one family, a sample per egress: {text}"
        );
    }
}
